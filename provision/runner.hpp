// Runs helm/kubectl: argv only (never a shell), stdin text, a timeout, stdout/stderr captured.
// ProcessRunner is the real one (Boost.Process, child in its own process group so a timeout or
// Ctrl-C ends the whole group); RecordingRunner answers from scripted handlers for unit tests.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace meshproof::provision {

struct Command {
    std::vector<std::string> argv;
    std::optional<std::string> stdin_text;
    std::chrono::milliseconds timeout{60'000};
    std::vector<std::pair<std::string, std::string>> env;  // added to the inherited environment
};

struct CommandResult {
    int exit_code = -1;    // -1 when the child did not exit normally (signal, timeout, not started)
    int term_signal = 0;   // signal that ended it, if any
    bool timed_out = false;
    bool interrupted = false;   // Ctrl-C: we ended it
    bool spawn_failed = false;  // e.g. the program is not on PATH
    std::string out;
    std::string err;
    std::chrono::milliseconds elapsed{0};

    [[nodiscard]] bool ok() const { return exit_code == 0 && !timed_out && !interrupted && !spawn_failed; }
};

class Runner {
public:
    virtual ~Runner() = default;
    virtual CommandResult run(const Command& cmd) = 0;
};

// `interrupt` (may be null) is polled while a child runs; when it turns true the child's process
// group gets SIGTERM, then SIGKILL after `grace`.
std::unique_ptr<Runner> make_process_runner(const std::atomic<bool>* interrupt,
                                            std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

// Unit-test runner: every call is recorded; the first handler whose predicate matches answers.
class RecordingRunner : public Runner {
public:
    using Predicate = std::function<bool(const Command&)>;
    using Responder = std::function<CommandResult(const Command&)>;

    void on(Predicate when, Responder respond) { handlers_.emplace_back(std::move(when), std::move(respond)); }
    // Matches when argv starts with `prefix` (after argv[0] comparison).
    void on_prefix(std::vector<std::string> prefix, CommandResult result);

    CommandResult run(const Command& cmd) override;

    [[nodiscard]] const std::vector<Command>& calls() const { return calls_; }

    // Result used when no handler matches (exit 127, "unexpected command").
    static CommandResult unexpected(const Command& cmd);

private:
    std::vector<std::pair<Predicate, Responder>> handlers_;
    std::vector<Command> calls_;
};

// Human-readable failure: command (secrets stripped), exit status, the last lines of stderr.
std::string describe_failure(const Command& cmd, const CommandResult& result, std::size_t stderr_tail_lines = 8);

// "SIGKILL", "SIGTERM", ... ("signal N" for the rest).
std::string signal_name(int sig);

// The reason of a Kubernetes API error in the output ("Forbidden" from "Error from server
// (Forbidden): ..."), empty when there is none.
std::string api_error_reason(const CommandResult& result);

// Retries only for transient API-server/network failures: connection refused, i/o timeout,
// TLS handshake timeout, "Unable to connect to the server", "the server is currently unable to handle
// the request", API errors InternalError/ServiceUnavailable/Timeout/TooManyRequests, webhook without
// endpoints... never for real errors (exit with an ordinary message), timeouts of the step itself,
// or interruptions.
bool is_transient_failure(const CommandResult& result);

struct RetryPolicy {
    int max_attempts = 5;
    std::chrono::milliseconds initial_backoff{2000};
    std::chrono::milliseconds max_backoff{30'000};
};

using SleepFn = std::function<void(std::chrono::milliseconds)>;

struct RetryOutcome {
    CommandResult result;
    int attempts = 0;
};

// `on_retry` (optional) hears about each retry (attempt number, delay, the failed result).
RetryOutcome run_with_retry(Runner& runner, const Command& cmd, const RetryPolicy& policy, const SleepFn& sleep,
                            const std::function<void(int, std::chrono::milliseconds, const CommandResult&)>& on_retry = {});

}  // namespace meshproof::provision
