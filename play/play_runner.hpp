// Runs a validated playbook: one progress line per step, asserts counted, a summary at the end, and a
// teardown (the local lab and its processes, temporary files) that always runs: on success, on a
// failed step, on an exception and on Ctrl-C. A failed assert does not stop the run (the reports
// after it are still written); a failed step does (the steps after it are skipped).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "play/captures.hpp"
#include "play/playbook.hpp"
#include "provision/provision_cli.hpp"

namespace meshproof::play {

// Exit codes of `meshproof play` (docs/playbooks.md).
inline constexpr int kPlayOk = 0;
inline constexpr int kPlayFailure = 1;       // a step failed, or preflight (root, tools)
inline constexpr int kPlayInvalid = 2;       // usage or validation error: nothing ran
inline constexpr int kPlayAssertFailed = 3;  // every step ran, at least one assert failed
inline constexpr int kPlayInterrupted = 130;

struct PlayOptions {
    bool dry_run = false;       // validate, then print what each step would do (no command runs)
    bool show_secrets = false;  // terminal only; reports follow their own showSecrets
    bool verbose = false;       // every flow of every audit
    bool color = false;
};

// The outside world, replaceable for tests. Null/empty members get the real thing.
struct PlayEnvironment {
    // Runner, prober, retry policy, sleep and poll interval of provision steps; the same runner and
    // retry policy run kubectl for apply/wait/restart and snapshots; `sleep` also serves wait delays.
    provision::ProvisionEnvironment provision;
    InterfaceCaptureFn capture_interface;  // null: libpcap on the host interface
    const std::atomic<bool>* stop = nullptr;  // Ctrl-C; polled between and inside steps
    bool skip_preflight = false;              // tests on fakes run without root
};

struct AssertOutcome {
    std::size_t step = 0;
    std::string step_label;
    Location where;
    std::string text;
    std::optional<std::uint64_t> actual;
    bool passed = false;
};

struct PlayReport {
    int exit_code = kPlayOk;
    std::size_t steps_run = 0;                // completed steps
    std::optional<std::size_t> failed_step;   // 1-based
    std::string failure;                      // why it failed
    bool interrupted = false;
    std::vector<AssertOutcome> asserts;
    [[nodiscard]] std::size_t failed_asserts() const;
};

// What this machine lacks to run the playbook (root for the lab and live captures, ip/ss/stunnel4/
// python3 for the lab, kubectl for cluster steps), one line each with the fix; empty when ready.
std::vector<std::string> preflight(const Playbook& pb);

PlayReport run_playbook(const Playbook& pb, const PlayOptions& opt, std::ostream& out, std::ostream& err,
                        PlayEnvironment env);

}  // namespace meshproof::play
