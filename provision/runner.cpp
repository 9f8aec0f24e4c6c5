#include "provision/runner.hpp"

#include <algorithm>
#include <csignal>
#include <cctype>
#include <string_view>

#include "provision/plan.hpp"

namespace meshproof::provision {

void RecordingRunner::on_prefix(std::vector<std::string> prefix, CommandResult result) {
    on(
        [prefix = std::move(prefix)](const Command& c) {
            return c.argv.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), c.argv.begin());
        },
        [result = std::move(result)](const Command&) { return result; });
}

CommandResult RecordingRunner::run(const Command& cmd) {
    calls_.push_back(cmd);
    for (const auto& [when, respond] : handlers_) {
        if (when(cmd)) return respond(cmd);
    }
    return unexpected(cmd);
}

CommandResult RecordingRunner::unexpected(const Command& cmd) {
    CommandResult r;
    r.exit_code = 127;
    r.err = "RecordingRunner: unexpected command: " + format_argv(cmd.argv);
    return r;
}

std::string signal_name(int sig) {
    switch (sig) {
        case SIGKILL: return "SIGKILL";
        case SIGTERM: return "SIGTERM";
        case SIGINT: return "SIGINT";
        case SIGHUP: return "SIGHUP";
        case SIGSEGV: return "SIGSEGV";
        case SIGABRT: return "SIGABRT";
        case SIGPIPE: return "SIGPIPE";
        case SIGBUS: return "SIGBUS";
        default: return "signal " + std::to_string(sig);
    }
}

std::string api_error_reason(const CommandResult& result) {
    // kubectl: "Error from server (Forbidden): ..."; helm wraps the same text after "Error: ...".
    static constexpr std::string_view kPrefix = "Error from server (";
    for (const std::string* text : {&result.err, &result.out}) {
        const auto at = text->find(kPrefix);
        if (at == std::string::npos) continue;
        const auto start = at + kPrefix.size();
        const auto end = text->find(')', start);
        if (end != std::string::npos && end - start < 64) return text->substr(start, end - start);
    }
    return {};
}

std::string describe_failure(const Command& cmd, const CommandResult& result, std::size_t stderr_tail_lines) {
    std::string s = "command: " + format_argv(redact_argv(cmd.argv)) + "\n";
    if (result.spawn_failed) {
        s += "could not start: " + result.err + "\n";
        return s;
    }
    if (result.interrupted) {
        s += "interrupted (Ctrl-C) after " + std::to_string(result.elapsed.count() / 1000) + "s; its process group was ended\n";
    } else if (result.timed_out) {
        s += "timed out after " + std::to_string(cmd.timeout.count() / 1000) + "s; its process group was killed\n";
    } else if (result.term_signal != 0) {
        // Not our timeout or Ctrl-C: something else (the OOM killer, a user's kill -9) ended it.
        s += "killed by signal " + std::to_string(result.term_signal) + " (" + signal_name(result.term_signal) +
             ") before it finished\n";
    } else {
        s += "exit status " + std::to_string(result.exit_code) + "\n";
    }
    // The tail of stderr (stdout when stderr is empty): that is where helm/kubectl say why.
    std::string_view text = result.err.empty() ? std::string_view(result.out) : std::string_view(result.err);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    if (!text.empty()) {
        std::size_t pos = text.size();
        std::size_t lines = 0;
        while (pos > 0 && lines < stderr_tail_lines) {
            const auto nl = text.rfind('\n', pos - 1);
            ++lines;
            if (nl == std::string_view::npos) {
                pos = 0;
                break;
            }
            pos = nl;
        }
        std::string_view tail = text.substr(pos == 0 ? 0 : pos + 1);
        s += result.err.empty() ? "output (last lines):\n" : "stderr (last lines):\n";
        std::size_t start = 0;
        while (start <= tail.size()) {
            const auto nl = tail.find('\n', start);
            s += "  " + std::string(tail.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start)) + "\n";
            if (nl == std::string_view::npos) break;
            start = nl + 1;
        }
    }
    return s;
}

bool is_transient_failure(const CommandResult& result) {
    if (result.ok() || result.timed_out || result.interrupted || result.spawn_failed) return false;
    std::string text = result.err + "\n" + result.out;
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // Messages of an API server (or webhook) that is starting, overloaded or briefly unreachable.
    static constexpr std::string_view kTransient[] = {
        "connection refused",
        "was refused - did you specify the right host or port",  // kubectl: API server down/restarting
        "i/o timeout",
        "tls handshake timeout",
        "the server is currently unable to handle the request",
        "connection reset by peer",
        "http2: client connection lost",
        "etcdserver: request timed out",
        "etcdserver: leader changed",
        "no endpoints available for service",
        "the object has been modified; please apply your changes to the latest version",
        "net/http: request canceled while waiting for connection",
        "unexpected eof",
        "unable to connect to the server",  // kubectl: dial/TLS errors against the API server
        "error from server (internalerror)",
        "error from server (serviceunavailable)",
        "error from server (timeout)",
        "error from server (toomanyrequests)",
        "the server was unable to return a response in the time allotted",
        "etcdserver: too many requests",
    };
    return std::any_of(std::begin(kTransient), std::end(kTransient),
                       [&](std::string_view needle) { return text.find(needle) != std::string::npos; });
}

RetryOutcome run_with_retry(Runner& runner, const Command& cmd, const RetryPolicy& policy, const SleepFn& sleep,
                            const std::function<void(int, std::chrono::milliseconds, const CommandResult&)>& on_retry) {
    RetryOutcome outcome;
    auto delay = policy.initial_backoff;
    for (int attempt = 1;; ++attempt) {
        outcome.result = runner.run(cmd);
        outcome.attempts = attempt;
        if (outcome.result.ok() || !is_transient_failure(outcome.result) || attempt >= policy.max_attempts)
            return outcome;
        if (on_retry) on_retry(attempt, delay, outcome.result);
        if (sleep) sleep(delay);
        delay = std::min(policy.max_backoff, delay * 2);
    }
}

}  // namespace meshproof::provision
