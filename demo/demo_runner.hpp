// `meshproof demo`: builds a miniature cluster on this machine (a bridge as the node, three pods as
// network namespaces), captures the apps' traffic on the bridge without and then with mutual-TLS
// sidecars, and proves the difference with a before/after diff. Everything it creates is removed
// on success, failure and interruption.
#pragma once

#include <atomic>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "audit/report/diff.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::demo {

struct DemoOptions {
    std::optional<std::string> output_dir;  // before.jsonl, after.jsonl, diff.json, report.html
    std::string prefix;                     // namespaces PREFIX-node, PREFIX-frontend, ...; default mpdemo-PID
    int rounds = 2;                         // client rounds (one TCP connection each) per phase
    bool show_secrets = false;
    bool color = false;
    bool verbose = false;                   // every flow with its evidence on the terminal
    bool without_db_sidecar = false;        // leave db out of the mesh: shows what a failed proof looks like
};

enum class DemoOutcome {
    Passed,       // plaintext before, no plaintext and >= 1 istio-mtls flow after
    Failed,       // the proof did not hold (something still in clear, or no istio-mtls flow)
    Error,        // the lab, an app or a capture did not work
    Interrupted,  // *stop was set (Ctrl-C / SIGTERM)
};

// What is missing to run the demo here (not root, no `ip`, no stunnel4, no python3), one line
// each with the fix; empty when ready.
std::vector<std::string> demo_preflight();

// Runs the six phases, writing progress and the diff to `out` and problems to `err`. `stop` is
// polled throughout; teardown always runs.
DemoOutcome run_demo(const DemoOptions& opt, std::ostream& out, std::ostream& err, const std::atomic<bool>& stop);

// The default prefix, and the one `--cleanup` sweeps.
inline constexpr const char* kDemoPrefixBase = "mpdemo";

// Pure part of the proof, for tests: passed when the diff passed, before had a plaintext flow and
// after has at least one istio-mtls flow; otherwise the reasons.
std::vector<std::string> proof_failures(const audit::FlowDiff& diff);

}  // namespace meshproof::demo
