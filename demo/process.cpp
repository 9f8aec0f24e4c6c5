#include "demo/process.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

extern char** environ;

namespace meshproof::demo {
namespace {

constexpr std::size_t kMaxOutput = 64 * 1024;

// argv/envp as the char* arrays execve wants, built before fork: the child may only call
// async-signal-safe functions (another thread may hold the allocator's lock).
struct ExecImage {
    std::vector<std::string> args, env;
    std::vector<char*> argv, envp;
    std::string path;
};

ExecImage make_image(const std::vector<std::string>& argv, const Environment& extra_env) {
    ExecImage img;
    img.args = argv;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const auto eq = entry.find('=');
        const std::string_view key = entry.substr(0, eq);
        bool overridden = false;
        for (const auto& [k, v] : extra_env) overridden = overridden || k == key;
        if (!overridden) img.env.emplace_back(entry);
    }
    for (const auto& [k, v] : extra_env) img.env.push_back(k + "=" + v);
    for (auto& a : img.args) img.argv.push_back(a.data());
    img.argv.push_back(nullptr);
    for (auto& e : img.env) img.envp.push_back(e.data());
    img.envp.push_back(nullptr);
    if (!argv.empty()) {
        if (argv[0].find('/') != std::string::npos) img.path = argv[0];
        else img.path = find_program(argv[0]).value_or(argv[0]);
    }
    return img;
}

// In the child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(const ExecImage& img, int out_fd, pid_t parent) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    // Default dispositions for every signal, then an empty mask (fork_blocked blocked them all).
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(out_fd, STDERR_FILENO) < 0)
        _exit(127);
    // No descriptor of ours (pcap sockets, pipes, files) leaks into the child.
    if (close_range(3, ~0U, 0) != 0) {
        for (int fd = 3; fd < 4096; ++fd) close(fd);
    }
    execve(img.path.c_str(), img.argv.data(), img.envp.data());
    _exit(127);
}

// fork() with every signal blocked: until exec_child has reset the dispositions, a signal must not
// run one of meshproof's handlers in the child (a Ctrl-C or a stop() right after spawning).
pid_t fork_blocked() {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    const pid_t pid = fork();
    if (pid != 0) pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return pid;
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 127;
}

}  // namespace

bool sleep_for(std::chrono::milliseconds d, const std::atomic<bool>* cancel) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
        if (cancel != nullptr && cancel->load()) return false;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(20)));
    }
    return cancel == nullptr || !cancel->load();
}

std::optional<std::string> find_program(const std::string& name) {
    if (name.empty()) return std::nullopt;
    auto executable = [](const std::string& p) {
        struct stat st {};
        return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
    };
    if (name.find('/') != std::string::npos) return executable(name) ? std::optional(name) : std::nullopt;
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    std::size_t start = 0;
    while (start <= path.size()) {
        const auto colon = path.find(':', start);
        const std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        if (!dir.empty() && executable(dir + "/" + name)) return dir + "/" + name;
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return std::nullopt;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const Environment& extra_env) {
    CommandResult result;
    if (argv.empty()) return result;
    const ExecImage img = make_image(argv, extra_env);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        result.output = std::string("pipe: ") + std::strerror(errno);
        return result;
    }
    const pid_t parent = getpid();
    const pid_t pid = fork_blocked();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        result.output = std::string("fork: ") + std::strerror(errno);
        return result;
    }
    if (pid == 0) exec_child(img, fds[1], parent);
    setpgid(pid, pid);  // also from the parent, so the group exists before we might signal it
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool exited = false, eof = false, timed_out = false;
    int status = 0;
    char buf[4096];
    while (!exited || !eof) {
        if (!eof) {
            pollfd p{fds[0], POLLIN, 0};
            poll(&p, 1, 20);
            for (;;) {
                const ssize_t n = read(fds[0], buf, sizeof buf);
                if (n > 0) {
                    if (result.output.size() < kMaxOutput)
                        result.output.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), kMaxOutput - result.output.size()));
                    continue;
                }
                if (n == 0) eof = true;
                break;  // EAGAIN or error: poll again
            }
        }
        if (!exited) {
            const pid_t r = waitpid(pid, &status, WNOHANG);
            if (r == pid) exited = true;
            else if (r < 0 && errno != EINTR) exited = true;
        }
        // A daemonised grandchild may keep the pipe open: stop reading shortly after the exit.
        if (exited && !eof) {
            pollfd p{fds[0], POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) eof = true;
        }
        if (!exited && std::chrono::steady_clock::now() > deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            exited = eof = timed_out = true;
        } else if (eof && !exited) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    close(fds[0]);
    result.exit_code = timed_out ? 124 : decode_status(status);
    if (result.exit_code == 127 && result.output.empty()) result.output = "cannot run " + argv[0];
    return result;
}

tl::expected<Child, std::string> Child::spawn(const std::vector<std::string>& argv, const std::string& log_path,
                                              const Environment& extra_env) {
    if (argv.empty()) return tl::unexpected(std::string("empty command"));
    const ExecImage img = make_image(argv, extra_env);
    const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0) return tl::unexpected("cannot create " + log_path + ": " + std::strerror(errno));
    const pid_t parent = getpid();
    const pid_t pid = fork_blocked();
    if (pid < 0) {
        close(log_fd);
        return tl::unexpected(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) exec_child(img, log_fd, parent);
    setpgid(pid, pid);
    close(log_fd);
    Child c;
    c.pid_ = pid;
    c.log_path_ = log_path;
    for (const auto& a : argv) {
        if (!c.name_.empty()) c.name_ += ' ';
        c.name_ += a;
    }
    return c;
}

Child::~Child() { stop(std::chrono::milliseconds(500)); }

Child::Child(Child&& other) noexcept
    : pid_(other.pid_), name_(std::move(other.name_)), log_path_(std::move(other.log_path_)), exit_code_(other.exit_code_) {
    other.pid_ = -1;
}

Child& Child::operator=(Child&& other) noexcept {
    if (this != &other) {
        stop(std::chrono::milliseconds(500));
        pid_ = other.pid_;
        name_ = std::move(other.name_);
        log_path_ = std::move(other.log_path_);
        exit_code_ = other.exit_code_;
        other.pid_ = -1;
    }
    return *this;
}

bool Child::running() {
    if (pid_ <= 0 || exit_code_) return false;
    // WNOWAIT: notice the exit but leave the zombie, which keeps the pid (and so the process group
    // id) from being reused until stop() has killed any straggler of the group and reaped it.
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == ECHILD) exit_code_ = 127;
        return errno == EINTR;
    }
    if (info.si_pid != pid_) return true;
    exit_code_ = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
    return false;
}

bool Child::wait(std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        if (cancel != nullptr && cancel->load()) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

void Child::stop(std::chrono::milliseconds grace, int sig) {
    if (pid_ <= 0) return;
    if (running()) {
        kill(-pid_, sig);
        kill(pid_, sig);  // in case it left its group
        if (!wait(grace)) {
            kill(-pid_, SIGKILL);
            kill(pid_, SIGKILL);
        }
    }
    // Helpers it started in its group go too; the unreaped leader still pins the group id.
    kill(-pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    if (!exit_code_) exit_code_ = decode_status(status);
    pid_ = -1;
}

std::string tail_file(const std::string& path, std::size_t max_lines) {
    std::ifstream in(path);
    if (!in) return {};
    std::deque<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
        if (lines.size() > max_lines) lines.pop_front();
    }
    std::string out;
    for (const auto& l : lines) out += "    " + l + "\n";
    return out;
}

}  // namespace meshproof::demo
