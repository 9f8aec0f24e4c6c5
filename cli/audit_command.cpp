// `meshproof audit read|capture|serve`: flags into an audit session (cli/audit_flags.cpp), the
// session runs, its outcome is the exit status.
#include <signal.h>

#include <atomic>
#include <iostream>

#include "audit/session/session.hpp"
#include "cli/audit_flags.hpp"
#include "cli/commands.hpp"
#include "cli/compliance_commands.hpp"

namespace meshproof::cli {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

// SIGINT/SIGTERM set g_stop for the lifetime of this object. Live captures install them without
// SA_RESTART, so a pending poll() returns at once instead of waiting out its timeout; file reads with
// it (writes to stdout are not cut short).
class StopSignals {
public:
    explicit StopSignals(bool restart) {
        g_stop.store(false);
        struct sigaction sa {};
        sa.sa_handler = on_stop_signal;
        sa.sa_flags = restart ? SA_RESTART : 0;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~StopSignals() {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

private:
    struct sigaction old_int_ {}, old_term_ {};
};

const char* kAuditUsage = R"(usage: meshproof audit read [options] FILE|DIR...

Reads pcap/pcapng captures and classifies every TCP flow:
  istio-mtls hbone mtls tls plaintext-served plaintext-rejected encrypted-unknown unknown

options:
  --json                 JSON lines: one object per flow as it finishes, then one summary object
                         (then findings with --policy; sorted by first packet instead with --bundle)
  --show-secrets         print secrets seen in plaintext (default: redacted)
  --fail-on V[,V...]     exit 3 when any flow has one of these verdicts
  --color WHEN           auto (default), always, never
  -v, --verbose          every evidence line and certificate in the table
  --stream-bytes N       bytes kept per direction for classification (default 16384)
  --max-flows N          flow table bound (default 262144); older flows are evicted and reported
exit status: 0 ok, 1 an input could not be read at all, 2 usage error, 3 --fail-on matched,
             4 an input was damaged part-way (flows before the damage are reported),
             5 --policy found a violation
)";

const char* kMetricsFlags = R"(metrics:
  --push URL             push the run's metrics to a Prometheus Pushgateway (http://HOST:PORT[/PATH])
  --push-job NAME        Pushgateway job (default meshproof)
  --push-instance NAME   Pushgateway instance (default: this host's name)
  --metrics-file PATH    write the text exposition atomically (node_exporter textfile collector)
)";

const char* kCaptureUsage = R"(usage: meshproof audit capture -i IFACE [options]

Captures live traffic and classifies every TCP flow, like `audit read` (same reports and exit codes).
Ends after --duration or --packets, or on Ctrl-C/SIGTERM (the report is written and says interrupted).
When started as root, privileges are dropped to --user right after the capture is opened.

options:
  -i, --interface IFACE  interface to capture on (e.g. eth0, br0, cni0, any)
  -f, --filter BPF       capture filter (tcpdump syntax), e.g. 'tcp and net 10.244.0.0/16'
  --duration D           stop after D (30s, 5m, 1h, 500ms; a bare number is seconds)
  --packets N            stop after N packets
  --label NAME           name of this capture in reports (default: the interface)
  --write FILE           evidence pcap: each flow's packets up to its verdict (capped), for Wireshark
  --user USER            user to run as after opening the capture (default nobody; root keeps root)
  --json                 JSON lines: one object per flow, then one summary object
  --show-secrets         print secrets seen in plaintext (default: redacted)
  --fail-on V[,V...]     exit 3 when any flow has one of these verdicts
  --color WHEN           auto (default), always, never
  -v, --verbose          every evidence line; privilege drop and capture details on stderr
  --stream-bytes N       bytes kept per direction for classification (default 16384)
  --max-flows N          flow table bound (default 262144)
  --idle-timeout S       report a flow after S seconds without packets (default 300)
  --snaplen N            bytes captured per packet (default 262144)
  --buffer-size MIB      kernel capture buffer in MiB (default 64)
)";

const char* kCaptureBundleNote = R"(  With --bundle, the evidence pcap (--write FILE, or a temporary one next to the bundle that is
  removed afterwards) is in the bundle as captures/NAME.
)";

const char* kCaptureExit = R"(exit status: 0 ok, 1 the capture could not start (or the bundle could not be written),
             2 usage error, 3 --fail-on matched,
             4 the capture failed part-way (the interface went away; flows before are reported),
             5 --policy found a violation
)";

const char* kServeUsage = R"(usage: meshproof audit serve -i IFACE [options]

Audits live traffic continuously and exposes the findings as Prometheus metrics on /metrics.
Each flow is counted once, when it ends (idle for --idle-timeout seconds, or evicted).

options:
  -i, --interface IFACE  interface to capture on
  --listen ADDR:PORT     where to serve /metrics (default 127.0.0.1:9464; 0.0.0.0:9464 for all)
  -f, --filter BPF       capture filter (tcpdump syntax)
  --idle-timeout S       seconds without packets before a flow is counted (default 60)
  --duration D           stop after D (default: run until SIGINT/SIGTERM)
  --user USER            user to run as after opening the capture (default nobody)
  --stream-bytes N       bytes kept per direction for classification (default 16384)
  --max-flows N          flow table bound (default 262144)
  --snaplen N            bytes captured per packet (default 262144)
  --buffer-size MIB      kernel capture buffer in MiB (default 64)
  -v, --verbose          privilege drop and capture details on stderr
exit status: 0 stopped, 1 could not start, 2 usage error, 4 the capture failed part-way
             (policy findings are metrics here, not an exit status)
)";

int run_session(audit::SessionConfig cfg) {
    const bool live = cfg.live.has_value();
    audit::Session session(std::move(cfg), std::cout, std::cerr);
    StopSignals signals(!live);
    return exit_status(session.run(&g_stop));
}

int audit_read(const std::vector<std::string>& args) {
    auto inv = read_flags(args);
    if (inv.help) {
        std::cout << kAuditUsage << kMetricsFlags << compliance_flags_usage();
        return kExitOk;
    }
    return run_session(std::move(inv.config));
}

int audit_capture(const std::vector<std::string>& args) {
    auto inv = capture_flags(args);
    if (inv.help) {
        std::cout << kCaptureUsage << kMetricsFlags << compliance_flags_usage() << kCaptureBundleNote << kCaptureExit;
        return kExitOk;
    }
    return run_session(std::move(inv.config));
}

int audit_serve(const std::vector<std::string>& args) {
    auto inv = serve_flags(args);
    if (inv.help) {
        std::cout << kServeUsage << serve_compliance_flags_usage();
        return kExitOk;
    }
    return run_session(std::move(inv.config));
}

}  // namespace

const char* read_usage() { return kAuditUsage; }
const char* capture_usage() { return kCaptureUsage; }
const char* serve_usage() { return kServeUsage; }

int audit_main(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "-h" || args[0] == "--help") {
        std::cout << kAuditUsage;
        return args.empty() ? kExitUsage : kExitOk;
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "read") return audit_read(rest);
    if (args[0] == "capture") return audit_capture(rest);
    if (args[0] == "serve") return audit_serve(rest);
    throw UsageError("audit: unknown subcommand '" + args[0] + "' (expected: read, capture, serve)");
}

}  // namespace meshproof::cli
