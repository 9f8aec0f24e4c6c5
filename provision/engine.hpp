// Internal: what the provision commands share (options, the outside world, cluster queries).
// provision_cli.cpp parses argv into CommandOptions and calls cmd_*; tests go through the CLI entry.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <istream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "provision/plan.hpp"
#include "provision/probe.hpp"
#include "provision/runner.hpp"
#include "provision/spec.hpp"

namespace meshproof::provision {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitLocalState = 3;  // the state directory or journal cannot be read or written
inline constexpr int kExitInterrupted = 130;

struct CommandOptions {
    std::string verb;
    std::string file;  // -f; empty = built-in default
    bool json = false;
    bool yes = false;
    bool purge = false;
    bool offline = false;       // plan: do not look at a cluster
    std::string output_format;  // plan --output helmfile DIR
    std::string output_dir;
    std::string state_dir;  // --state-dir: the lab's own directory
    std::string kube_context;
    bool force = false;  // init: overwrite
};

struct Session {
    Runner& runner;
    Prober& prober;
    std::ostream& out;
    std::ostream& err;
    RetryPolicy retry;
    SleepFn sleep;
    std::chrono::milliseconds poll_interval{2000};
    const std::atomic<bool>* interrupt = nullptr;
    std::istream* in = nullptr;
    bool interactive = false;  // stdin is a terminal: we may ask for confirmation
    std::chrono::milliseconds timeout_cap{0};  // > 0: no step or command waits longer (tests)

    [[nodiscard]] std::chrono::milliseconds capped(std::chrono::milliseconds t) const {
        return timeout_cap.count() > 0 ? std::min(t, timeout_cap) : t;
    }

    [[nodiscard]] bool interrupted() const { return interrupt != nullptr && interrupt->load(); }
};

int cmd_init(const CommandOptions& opts, Session& s);
int cmd_plan(const CommandOptions& opts, Session& s);
int cmd_up(const CommandOptions& opts, Session& s);
int cmd_down(const CommandOptions& opts, Session& s);
int cmd_status(const CommandOptions& opts, Session& s);

// ---- shared helpers (lab.cpp)

struct Lab {
    LabSpec spec;
    Plan plan;
    std::string state_dir;
};

// Loads/validates the spec (errors and warnings printed), applies --kube-context, builds the plan.
// Returns the exit code on failure.
tl::expected<Lab, int> load_lab(const CommandOptions& opts, Session& s, bool print_warnings = true);

// Runs a read-only or mutating command with the retry policy; `step` goes to MESHPROOF_STEP in the
// child's environment (the fakes use it to fail on demand; it also marks log entries).
RetryOutcome run_command(Session& s, const std::vector<std::string>& argv, const std::optional<std::string>& stdin_text,
                         std::chrono::milliseconds timeout, const std::string& step = {},
                         const std::function<void(int, std::chrono::milliseconds, const CommandResult&)>& on_retry = {});

struct ReleaseInfo {
    std::string name;
    std::string namespace_name;
    std::string chart;  // "istiod-1.27.3"
    std::string status;
    std::string app_version;
};
// helm list -A -o json (empty on error; `ok` false then).
std::vector<ReleaseInfo> list_releases(Session& s, const Plan& plan, bool* ok = nullptr);
// "istio/istiod" + "1.27.3" -> "istiod-1.27.3"
std::string chart_label(const HelmRelease& r);

// The gateway Service's LoadBalancer address (ip or hostname), empty if none yet.
std::string gateway_address(Session& s, const Plan& plan, std::string* error = nullptr);

struct PreflightResult {
    int exit_code = kExitOk;
    std::string context;
    std::string server_version;
    std::vector<std::string> pod_cidrs;
    std::vector<std::string> service_cidrs;
    std::vector<ReleaseInfo> releases;
    std::vector<std::string> existing;  // ids of helm steps whose release is already deployed (adopted)
    std::map<std::string, std::string> stuck;  // helm step id -> pending-install/-upgrade/-rollback, uninstalling
};

// pending-install/-upgrade/-rollback or uninstalling: a helm operation that never finished.
bool is_stuck_status(std::string_view helm_status);
// kubectl/helm on PATH with minimum versions, context, cluster reachable, nodes Ready, pool vs
// cluster ranges, existing installs adopted or reported as conflicts. `for_down` skips the last two.
PreflightResult preflight(Session& s, const Lab& lab, bool for_down);

// argv plus the plan's context flag (--kube-context for helm, --context for kubectl), if any.
std::vector<std::string> with_context(std::vector<std::string> argv, const Plan& plan);

// The first non-empty line of a command's output, for one-line reasons.
std::string first_line(std::string_view text);

// "v1.30.2" / "3.15.4+g..." -> {1,30,2}; nullopt if unreadable.
std::optional<std::array<int, 3>> parse_version(std::string_view text);

// Asks "<question> [y/N]" when interactive; --yes answers for the user.
bool confirm(Session& s, bool yes, const std::string& question);

// Appends to <state_dir>/meshproof.log (mode 0600): every command, its output, exit status.
class CommandLog {
public:
    explicit CommandLog(std::string path) : path_(std::move(path)) {}
    void write(std::string_view text) const;
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Wraps a runner so that every call lands in the log, with secrets stripped.
class LoggingRunner final : public Runner {
public:
    LoggingRunner(Runner& inner, const CommandLog& log) : inner_(inner), log_(log) {}
    CommandResult run(const Command& cmd) override;

private:
    Runner& inner_;
    const CommandLog& log_;
};

// Status summary lines shared by `up` (at the end) and `status`.
struct Endpoint {
    std::string addon;
    std::string url;
};
std::vector<Endpoint> exposed_urls(const LabSpec& spec);
// Gateway IP, URLs, an /etc/hosts hint (up.cpp).
void print_lab_summary(Session& s, const Lab& lab, const std::string& gateway_ip);

}  // namespace meshproof::provision
