// The real runner, on Boost.Process. Kept in its own translation unit: Boost.Process and Asio are
// heavy to compile and nothing else needs them.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

// Boost 1.74's Asio uses std::exchange without including <utility> in C++20 mode.
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>

#include <future>
#include <thread>

#include "provision/runner.hpp"

namespace meshproof::provision {
namespace {

namespace bp = boost::process;
using Clock = std::chrono::steady_clock;

class ProcessRunner final : public Runner {
public:
    ProcessRunner(const std::atomic<bool>* interrupt, std::chrono::milliseconds grace)
        : interrupt_(interrupt), grace_(grace) {}

    CommandResult run(const Command& cmd) override;

private:
    const std::atomic<bool>* interrupt_;
    std::chrono::milliseconds grace_;
};

// The child becomes the leader of a new process group, so ending the group also ends whatever
// helm/kubectl started; SIGPIPE/SIGINT go back to their defaults (we may ignore them here).
struct ChildSetup {
    template <typename Executor>
    void operator()(Executor&) const {
        ::setpgid(0, 0);
        ::signal(SIGPIPE, SIG_DFL);
        ::signal(SIGINT, SIG_DFL);
    }
};

void signal_group(pid_t pid, int sig) {
    if (pid <= 0) return;
    if (::kill(-pid, sig) != 0) ::kill(pid, sig);  // group not formed yet: at least the child
}

CommandResult ProcessRunner::run(const Command& cmd) {
    CommandResult r;
    const auto start = Clock::now();
    auto finish = [&]() -> CommandResult {
        r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        return r;
    };
    if (cmd.argv.empty()) {
        r.spawn_failed = true;
        r.err = "empty command";
        return finish();
    }
    boost::filesystem::path exe = cmd.argv[0];
    if (cmd.argv[0].find('/') == std::string::npos) exe = bp::search_path(cmd.argv[0]);
    if (exe.empty() || !boost::filesystem::exists(exe)) {
        r.spawn_failed = true;
        r.err = cmd.argv[0] + ": not found on PATH";
        return finish();
    }
    const std::vector<std::string> args(cmd.argv.begin() + 1, cmd.argv.end());

    bp::environment env = boost::this_process::environment();
    for (const auto& [k, v] : cmd.env) env[k] = v;

    // Writing stdin to a child that exits early must not kill us with SIGPIPE.
    struct sigaction ignore_pipe {};
    struct sigaction old_pipe {};
    ignore_pipe.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore_pipe, &old_pipe);

    boost::asio::io_context ios;
    std::future<std::string> out_future;
    std::future<std::string> err_future;
    std::error_code ec;
    bp::child child;
    const std::string input = cmd.stdin_text.value_or(std::string());
    try {
        if (cmd.stdin_text) {
            child = bp::child(exe, bp::args(args), env, bp::std_in < boost::asio::buffer(input),
                              bp::std_out > out_future, bp::std_err > err_future, ios,
                              bp::extend::on_exec_setup(ChildSetup{}), ec);
        } else {
            child = bp::child(exe, bp::args(args), env, bp::std_in < bp::null, bp::std_out > out_future,
                              bp::std_err > err_future, ios, bp::extend::on_exec_setup(ChildSetup{}), ec);
        }
    } catch (const std::exception& e) {
        ec = std::make_error_code(std::errc::io_error);
        r.err = e.what();
    }
    if (ec || !child.valid()) {
        ::sigaction(SIGPIPE, &old_pipe, nullptr);
        r.spawn_failed = true;
        if (r.err.empty()) r.err = cmd.argv[0] + ": " + ec.message();
        return finish();
    }
    const pid_t pid = child.id();

    const auto deadline = start + cmd.timeout;
    Clock::time_point killed_at{};
    bool sent_kill = false;
    while (!ios.stopped()) {
        ios.run_for(std::chrono::milliseconds(50));
        if (ios.stopped()) break;
        const auto now = Clock::now();
        const bool stop_requested = interrupt_ != nullptr && interrupt_->load();
        if (killed_at == Clock::time_point{} && (stop_requested || now >= deadline)) {
            if (stop_requested) r.interrupted = true;
            else r.timed_out = true;
            signal_group(pid, SIGTERM);
            killed_at = now;
        }
        if (killed_at != Clock::time_point{} && !sent_kill && now - killed_at >= grace_) {
            signal_group(pid, SIGKILL);
            sent_kill = true;
        }
        // Something outside the group keeps our pipes open: give up on the rest of its output.
        if (sent_kill && now - killed_at >= grace_ + std::chrono::seconds(2)) {
            ios.stop();
            break;
        }
    }
    std::error_code wait_ec;
    child.wait(wait_ec);
    if (killed_at != Clock::time_point{}) signal_group(pid, SIGKILL);  // leftovers in the group

    const int status = child.native_exit_code();
    if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.term_signal = WTERMSIG(status);
    }
    if (r.timed_out || r.interrupted) r.exit_code = -1;
    auto take = [](std::future<std::string>& f) -> std::string {
        if (f.valid() && f.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
            try {
                return f.get();
            } catch (const std::exception&) {
                return {};
            }
        }
        return {};
    };
    r.out = take(out_future);
    r.err = take(err_future);
    ::sigaction(SIGPIPE, &old_pipe, nullptr);
    return finish();
}

}  // namespace

std::unique_ptr<Runner> make_process_runner(const std::atomic<bool>* interrupt, std::chrono::milliseconds grace) {
    return std::make_unique<ProcessRunner>(interrupt, grace);
}

}  // namespace meshproof::provision
