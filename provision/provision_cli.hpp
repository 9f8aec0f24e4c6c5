// Entry point of the provision commands for the `meshproof` CLI:
//   init, plan, up, down, status  (docs/lab-spec.md documents flags and exit codes)
// args[0] is the command, the rest its flags. Output goes to `out`, diagnostics to `err`.
// Exit codes: 0 ok, 1 failure, 2 usage or validation error, 3 the state directory or journal cannot be
// used (read-only, unreadable, cut short), 130 interrupted (Ctrl-C).
#pragma once

#include <atomic>
#include <chrono>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "provision/probe.hpp"
#include "provision/runner.hpp"

namespace meshproof::provision {

int run_provision_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The outside world, replaceable for tests. Null members get the real thing.
struct ProvisionEnvironment {
    Runner* runner = nullptr;  // null: Boost.Process runner (honours `interrupt`)
    Prober* prober = nullptr;  // null: real HTTP probe
    RetryPolicy retry{};
    SleepFn sleep;             // null: std::this_thread::sleep_for
    std::chrono::milliseconds poll_interval{2000};
    // null: `up`/`down` install a SIGINT handler that sets an internal flag (a second Ctrl-C exits).
    const std::atomic<bool>* interrupt = nullptr;
    std::istream* in = nullptr;  // confirmation prompts; null: std::cin when it is a terminal
    bool interactive = false;    // only used when `in` is set
    // > 0: caps every step's timeout (tests of the timeout path; 0 = the plan's own timeouts).
    std::chrono::milliseconds step_timeout_cap{0};
};

int run_provision_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                          const ProvisionEnvironment& env);

// One-line usage of each command (for the CLI's own help).
std::string provision_usage();

}  // namespace meshproof::provision
