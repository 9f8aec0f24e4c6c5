// `meshproof demo`: the local before/after mutual-TLS demo (needs root), and `--cleanup`.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "cli/arg_parser.hpp"
#include "cli/commands.hpp"
#include "demo/demo_runner.hpp"
#include "demo/netns_lab.hpp"

namespace meshproof::cli {

namespace {

std::atomic<bool> g_demo_stop{false};
extern "C" void on_demo_signal(int) { g_demo_stop.store(true); }

const char* kDemoUsage = R"(usage: meshproof demo [options]
       meshproof demo --cleanup [--prefix PREFIX]

Builds a miniature cluster on this machine and proves, on real traffic, what a mesh changes:
a bridge (the node) and three pods (network namespaces frontend, backend, db on 10.244.0.0/16);
frontend logs in to backend over HTTP with a password form and a Bearer token, backend queries db
with Redis AUTH. "before": the apps talk directly and meshproof captures br0; "after": stunnel
sidecars with a mesh CA and SPIFFE workload certificates carry the same calls over mutual TLS 1.3
with Istio's SNI; then the two audits are compared. Needs root, iproute2, stunnel4 and python3.
Everything it creates is removed at the end, on failure and on Ctrl-C.

options:
  --output DIR         write before.jsonl, after.jsonl (the `audit read --json` schema),
                       diff.json and report.html (self-contained; open it in a browser)
  --show-secrets       print the secrets seen in plaintext (default: redacted everywhere)
  -v, --verbose        every evidence line of every flow
  --color WHEN         auto (default), always, never
  --rounds N           client rounds (one TCP connection each) per phase (default 2)
  --prefix NAME        name prefix of the namespaces (default mpdemo-PID)
  --without-sidecar db leave the db pod out of the mesh (no sidecar, as a pod without injection):
                       backend -> db stays in clear and the proof fails, as it should
  --cleanup            remove what an interrupted or killed demo left behind (namespaces named
                       PREFIX*, default "mpdemo", their processes, work directories), then exit
exit status: 0 the proof holds, 1 the lab or an app failed, 2 usage error,
             3 the proof failed (plaintext after, or no istio-mtls flow), 130 interrupted
)";

bool color_wanted(const std::string& when) {
    if (when == "always") return true;
    if (when == "never") return false;
    if (when != "auto") throw UsageError("--color: expected auto, always or never");
    return isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
}

int cleanup(const std::string& prefix) {
    if (geteuid() != 0) {
        std::cerr << "meshproof demo --cleanup: needs root (it deletes network namespaces)\n";
        return kExitFailure;
    }
    const auto r = demo::cleanup_leftovers(prefix);
    for (const auto& ns : r.removed) std::cout << "removed namespace " << ns << "\n";
    for (const auto& ns : r.skipped) std::cout << "left " << ns << ": its demo is still running\n";
    for (const auto& e : r.errors) std::cerr << "meshproof demo --cleanup: " << e << "\n";
    std::cout << "cleanup: " << r.removed.size() << " namespaces removed, " << r.processes_killed << " processes killed"
              << (r.removed.empty() && r.skipped.empty() ? " (nothing was left)" : "") << "\n";
    return r.errors.empty() ? kExitOk : kExitFailure;
}

}  // namespace

int demo_main(const std::vector<std::string>& args) {
    ArgParser p(args);
    demo::DemoOptions opt;
    bool do_cleanup = false;
    std::string color = "auto", output, prefix, without_sidecar;
    std::size_t rounds = 2;
    while (p.more()) {
        if (p.flag("--show-secrets")) opt.show_secrets = true;
        else if (p.flag("-v") || p.flag("--verbose")) opt.verbose = true;
        else if (p.flag("--cleanup")) do_cleanup = true;
        else if (p.option("--output", output)) {}
        else if (p.option("--color", color)) {}
        else if (p.option("--prefix", prefix)) {}
        else if (p.option("--without-sidecar", without_sidecar)) {}
        else if (p.size_option("--rounds", rounds)) {}
        else if (p.flag("-h") || p.flag("--help")) {
            std::cout << kDemoUsage;
            return kExitOk;
        } else {
            throw UsageError("demo: unexpected argument '" + p.positional() + "'\n" + kDemoUsage);
        }
    }
    if (!prefix.empty() && !demo::valid_lab_prefix(prefix))
        throw UsageError("--prefix: lowercase letters, digits, '.' and '-', at most 31 characters");
    if (do_cleanup) return cleanup(prefix.empty() ? demo::kDemoPrefixBase : prefix);
    if (rounds < 1 || rounds > 100) throw UsageError("--rounds: expected 1 to 100");
    if (!without_sidecar.empty() && without_sidecar != "db")
        throw UsageError("--without-sidecar: only 'db' can be left out of the mesh (frontend and backend carry the "
                         "calls that are being proven)");
    opt.without_db_sidecar = without_sidecar == "db";
    if (!output.empty()) opt.output_dir = output;
    opt.prefix = prefix;
    opt.rounds = static_cast<int>(rounds);
    opt.color = color_wanted(color);

    const auto missing = demo::demo_preflight();
    if (!missing.empty()) {
        for (const auto& m : missing) std::cerr << "meshproof demo: " << m << "\n";
        return kExitFailure;
    }

    // Ctrl-C, kill and a closed terminal all end in the teardown. Children run in their own
    // process groups, so the terminal's SIGINT reaches only us.
    struct sigaction sa {};
    sa.sa_handler = on_demo_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    const auto outcome = demo::run_demo(opt, std::cout, std::cerr, g_demo_stop);
    switch (outcome) {
        case demo::DemoOutcome::Passed: return kExitOk;
        case demo::DemoOutcome::Failed: return kExitFailOn;
        case demo::DemoOutcome::Interrupted: return 130;
        case demo::DemoOutcome::Error: break;
    }
    return kExitFailure;
}

}  // namespace meshproof::cli
