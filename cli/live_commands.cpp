// `meshproof audit capture` and `meshproof audit serve`: a live source feeding the engine, with the
// same reports as `audit read` (capture) or a Prometheus endpoint (serve).
#include "cli/live_commands.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>

#include <prometheus/exposer.h>

#include "audit/capture/live_source.hpp"
#include "audit/engine/engine.hpp"
#include "audit/metrics/audit_metrics.hpp"
#include "audit/report/report.hpp"
#include "cli/commands.hpp"
#include "cli/compliance_commands.hpp"
#include "cli/report_flags.hpp"

namespace meshproof::cli {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

// SIGINT/SIGTERM set g_stop for the lifetime of this object. No SA_RESTART: a pending poll() returns
// at once instead of waiting out its timeout.
class StopSignals {
public:
    StopSignals() {
        g_stop.store(false);
        struct sigaction sa {};
        sa.sa_handler = on_stop_signal;
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

// "30s", "5m", "1h", "250ms", "1.5" (seconds).
double parse_duration(const std::string& flag, const std::string& text) {
    std::size_t used = 0;
    double value = -1;
    try {
        value = std::stod(text, &used);
    } catch (...) {
        used = 0;
    }
    const std::string unit = used ? text.substr(used) : "";
    double scale = 0;
    if (unit.empty() || unit == "s") scale = 1;
    else if (unit == "ms") scale = 1e-3;
    else if (unit == "m") scale = 60;
    else if (unit == "h") scale = 3600;
    if (!used || scale == 0 || !std::isfinite(value) || value <= 0)
        throw UsageError(flag + ": expected a duration like 30s, 5m, 1h or 500ms, got '" + text + "'");
    return value * scale;
}

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Evidence selection: exactly the packets each flow's inspection saw, plus plaintext packets after
// the verdict within the per-flow budget (so the file stays small and still shows what leaked).
void keep_evidence(const audit::Engine& engine, audit::PcapWriter& writer, const audit::RawPacket& p) {
    using Use = audit::Engine::PacketUse;
    const Use use = engine.last_packet_use();
    if (use == Use::Inspected) writer.write(p);
    else if (use == Use::AfterVerdictPlaintext) writer.offer(p);
}

// Flags both live commands take.
struct LiveFlags {
    audit::LiveOptions live;
    std::string user = "nobody";
    std::optional<double> duration;
    std::size_t stream_bytes = 16 * 1024, max_flows = 262144;
    std::optional<double> idle_timeout;
    bool verbose = false;

    bool parse(ArgParser& p) {
        std::string v;
        std::size_t n = 0;
        if (p.option("-i", live.interface) || p.option("--interface", live.interface)) return true;
        if (p.option("-f", live.bpf_filter) || p.option("--filter", live.bpf_filter)) return true;
        if (p.option("--user", user)) return true;
        if (p.option("--duration", v)) {
            duration = parse_duration("--duration", v);
            return true;
        }
        if (p.option("--idle-timeout", v)) {
            idle_timeout = parse_duration("--idle-timeout", v);
            return true;
        }
        if (p.size_option("--stream-bytes", stream_bytes)) return true;
        if (p.size_option("--max-flows", max_flows)) return true;
        if (p.size_option("--snaplen", n)) {
            if (n < 64 || n > 262144) throw UsageError("--snaplen: expected 64..262144");
            live.snaplen = static_cast<int>(n);
            return true;
        }
        if (p.size_option("--buffer-size", n)) {
            if (n < 1 || n > 2048) throw UsageError("--buffer-size: expected 1..2048 MiB");
            live.buffer_bytes = static_cast<int>(n * 1024 * 1024);
            return true;
        }
        if (p.flag("-v") || p.flag("--verbose")) {
            verbose = true;
            return true;
        }
        return false;
    }

    void finish(const char* usage) {
        if (live.interface.empty()) throw UsageError(std::string("no interface given (-i IFACE)\n") + usage);
        if (!user.empty()) live.drop_to_user = user;
        if (max_flows == 0) throw UsageError("--max-flows: must be at least 1");
    }
};

std::unique_ptr<audit::LiveSource> open_live(const LiveFlags& f) {
    audit::SourceError err;
    auto src = audit::LiveSource::open(f.live, err);
    if (!src) {
        std::cerr << "meshproof: " << err.message << "\n";
        return nullptr;
    }
    if (f.verbose) {
        for (const auto& w : src->warnings()) std::cerr << "meshproof: warning: " << w << "\n";
        if (!src->privilege_note().empty()) std::cerr << "meshproof: " << src->privilege_note() << "\n";
    }
    return src;
}

struct LoopLimits {
    std::optional<double> duration;
    std::optional<std::uint64_t> packets;
};

// Feeds the engine until the limits, a signal or an error. `tick` runs about once a second (expiry,
// stats, metrics). Returns the packets delivered; `interrupted` says whether a signal ended it.
template <class PerPacket, class Tick>
std::uint64_t run_capture(audit::LiveSource& src, audit::Engine& engine, const LoopLimits& limits, bool& interrupted,
                          PerPacket&& per_packet, Tick&& tick) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    auto next_tick = start + std::chrono::seconds(1);
    std::optional<Clock::time_point> deadline;
    if (limits.duration) deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*limits.duration));
    bool stopping = false;
    std::uint64_t n = 0;
    interrupted = false;
    // Packets go to the engine in place, straight from the capture ring (no copy); each batch is at
    // most 64 packets so the clock is looked at as often as before.
    auto on_packet = [&](const audit::RawPacket& pkt) {
        engine.on_packet(pkt);
        per_packet(pkt);
        ++n;
        return !(limits.packets && n >= *limits.packets);
    };
    audit::FunctionSink sink(on_packet);
    for (;;) {
        const audit::SourceStatus st = src.dispatch(64, sink);
        if (st == audit::SourceStatus::Packet) {
            if (limits.packets && n >= *limits.packets) break;
        } else if (st == audit::SourceStatus::Interrupted) {
            interrupted = true;
            break;
        } else if (st != audit::SourceStatus::Timeout) {
            break;  // End (after stop()) or Error
        }
        const auto now = Clock::now();
        if (deadline && !stopping && now >= *deadline) {
            src.stop();
            stopping = true;
        }
        if (now >= next_tick) {
            tick();
            next_tick = now + std::chrono::seconds(1);
        }
    }
    return n;
}

void record_drops(audit::LiveSource& src, audit::Engine& engine) {
    const audit::LiveStats st = src.stats();
    engine.summary().kernel_dropped = st.kernel_dropped;
    engine.summary().interface_dropped = st.interface_dropped;
}

double monotonic_now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// `audit capture --bundle` without --write: the evidence pcap goes to DIR/.meshproof-evidence.XXXXXX/
// evidence.pcap next to the bundle (same filesystem, already checked writable) and is removed with
// its directory once the bundle holds it. When root drops to another user, the directory is handed
// to that user first, so the unprivileged process can read the file and remove both.
class TempEvidence {
public:
    TempEvidence(const std::string& bundle_path, const std::optional<std::string>& drop_to_user) {
        std::error_code ec;
        const auto parent = std::filesystem::absolute(bundle_path, ec).parent_path();
        std::string tmpl = (parent / ".meshproof-evidence.XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error(tmpl + ": cannot create the evidence directory");
        dir_ = tmpl;
        if (::geteuid() == 0 && drop_to_user && !drop_to_user->empty() && *drop_to_user != "root") {
            if (const passwd* pw = ::getpwnam(drop_to_user->c_str())) {
                if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
                    throw std::runtime_error(dir_.string() + ": cannot hand the evidence directory to " + *drop_to_user);
            }
        }
    }
    ~TempEvidence() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    TempEvidence(const TempEvidence&) = delete;
    TempEvidence& operator=(const TempEvidence&) = delete;
    [[nodiscard]] std::string file() const { return (dir_ / "evidence.pcap").string(); }

private:
    std::filesystem::path dir_;
};

}  // namespace

bool parse_metrics_flag(ArgParser& p, audit::MetricsOutputs& out) {
    std::string v;
    if (p.option("--push", v)) {
        std::string err;
        if (!audit::parse_push_url(v, err)) throw UsageError(err);
        out.push_url = v;
        return true;
    }
    if (p.option("--metrics-file", v)) {
        if (v.empty()) throw UsageError("--metrics-file needs a path");
        out.textfile = v;
        return true;
    }
    if (p.option("--push-job", v)) {
        if (v.empty() || v.find('/') != std::string::npos) throw UsageError("--push-job: non-empty, no '/'");
        out.job = v;
        return true;
    }
    if (p.option("--push-instance", v)) {
        if (v.empty() || v.find('/') != std::string::npos) throw UsageError("--push-instance: non-empty, no '/'");
        out.instance = v;
        return true;
    }
    return false;
}

const char* metrics_flags_usage() { return kMetricsFlags; }

int export_run_metrics(const audit::Engine& engine, const audit::MetricsOutputs& out) {
    std::string err;
    if (audit::export_metrics(engine, out, err)) return kExitOk;
    std::cerr << "meshproof: " << err << "\n";
    return kExitFailure;
}

int audit_capture(const std::vector<std::string>& args) {
    ArgParser p(args);
    LiveFlags lf;
    audit::MetricsOutputs metrics;
    bool json = false, show_secrets = false;
    std::string fail_on, color = "auto", label, write_path;
    std::size_t max_packets = 0;
    ComplianceOptions compliance;
    while (p.more()) {
        if (lf.parse(p)) {}
        else if (parse_metrics_flag(p, metrics)) {}
        else if (parse_compliance_flag(p, compliance)) {}
        else if (p.flag("--json")) json = true;
        else if (p.flag("--show-secrets")) show_secrets = true;
        else if (p.option("--fail-on", fail_on)) {}
        else if (p.option("--color", color)) {}
        else if (p.option("--label", label)) {}
        else if (p.option("--write", write_path)) {}
        else if (p.size_option("--packets", max_packets)) {
            if (max_packets == 0) throw UsageError("--packets: must be at least 1");
        } else if (p.flag("-h") || p.flag("--help")) {
            std::cout << kCaptureUsage << kMetricsFlags << compliance_flags_usage() << kCaptureBundleNote << kCaptureExit;
            return kExitOk;
        } else {
            throw UsageError("audit capture: unexpected argument '" + p.positional() + "'");
        }
    }
    lf.finish(kCaptureUsage);
    const auto fail_set = parse_fail_on(fail_on);
    audit::ReportOptions ropt{show_secrets, !json && want_color(color), lf.verbose};
    // Snapshot, policy and signing key before the capture opens: configuration errors come first, and
    // the key (often readable by root only) is read before privileges are dropped.
    std::unique_ptr<ComplianceRun> compliance_run;
    if (compliance.any()) compliance_run = std::make_unique<ComplianceRun>(compliance, std::cerr);
    std::unique_ptr<TempEvidence> temp_evidence;
    if (!write_path.empty()) lf.live.write_path = write_path;
    else if (compliance_run && compliance_run->writes_bundle()) {
        temp_evidence = std::make_unique<TempEvidence>(compliance.bundle, lf.live.drop_to_user);
        lf.live.write_path = temp_evidence->file();
    }

    StopSignals signals;
    auto src = open_live(lf);
    if (!src) return kExitFailure;
    std::string err;
    if (metrics.textfile && !audit::textfile_writable(*metrics.textfile, err)) {
        std::cerr << "meshproof: " << err << " (after dropping privileges; pick another --user or directory)\n";
        return kExitFailure;
    }
    if (compliance_run && !compliance_run->bundle_writable(err)) {
        std::cerr << "meshproof: " << err << " (after dropping privileges; pick another --user or directory)\n";
        return kExitFailure;
    }
    src->set_stop_flag(&g_stop);

    audit::EngineConfig cfg;
    cfg.stream.max_bytes = lf.stream_bytes;
    cfg.max_flows = lf.max_flows;
    if (lf.idle_timeout) cfg.idle_timeout = *lf.idle_timeout;
    audit::Engine engine(cfg);
    engine.begin_input(label.empty() ? lf.live.interface : label, src->describe());
    std::cerr << "meshproof: capturing on " << src->describe();
    if (lf.duration) std::cerr << " for " << *lf.duration << "s";
    if (max_packets) std::cerr << " (at most " << max_packets << " packets)";
    std::cerr << ", Ctrl-C to stop\n";

    LoopLimits limits{lf.duration, max_packets ? std::optional<std::uint64_t>(max_packets) : std::nullopt};
    audit::PcapWriter* evidence = src->evidence();
    bool interrupted = false;
    bool evidence_failure_said = false;
    const std::uint64_t n = run_capture(
        *src, engine, limits, interrupted,
        [&](const audit::RawPacket& pkt) {
            if (!evidence) return;
            keep_evidence(engine, *evidence, pkt);
            // Said when it happens (a long capture should not hide it until the end); counts come at the end.
            if (!evidence_failure_said && evidence->failed()) {
                std::cerr << "meshproof: warning: " << *evidence->write_error() << " (counts at the end)\n";
                evidence_failure_said = true;
            }
        },
        [&] { engine.expire(unix_now()); });

    record_drops(*src, engine);
    engine.end_input(n, src->error());
    engine.finish();
    engine.summary().interrupted = interrupted;
    if (interrupted) std::cerr << "meshproof: interrupted, reporting the flows seen so far\n";

    int rc = kExitOk;
    std::vector<std::string> evidence_files;
    if (evidence) {
        std::string werr;
        const bool closed = evidence->close(werr);
        const auto& es = evidence->stats();
        engine.summary().evidence = audit::EvidenceSummary{evidence->path(), es.written_packets, es.written_bytes,
                                                           es.over_budget, es.over_cap, es.write_failed,
                                                           evidence->write_error()};
        if (!closed) {
            if (!engine.summary().evidence->error) engine.summary().evidence->error = werr;
            std::cerr << "meshproof: " << werr << "\n";
            rc = kExitFailure;
        } else if (lf.verbose) {
            std::cerr << "meshproof: evidence " << evidence->path() << ": " << es.written_packets << " packets, "
                      << es.written_bytes << " bytes" << (es.over_cap ? " (size cap reached)" : "") << "\n";
        }
    }

    // A bundle gets the evidence pcap only when it was written completely.
    if (evidence && rc == kExitOk) evidence_files.push_back(evidence->path());

    const auto& s = engine.summary();
    if (json && compliance_run) compliance_run->write_json_lines(std::cout, engine.records(), s, ropt);
    else if (json) audit::write_json_lines(std::cout, engine.records(), s, ropt);
    else audit::write_table(std::cout, engine.records(), s, ropt);
    std::cout.flush();

    int compliance_rc = kExitOk;
    if (compliance_run) {
        // One pass in report order: flows (with namespaces) and findings into the metrics, findings
        // kept for the report and the bundle (finish() reuses them).
        auto registry = std::make_shared<prometheus::Registry>();
        audit::AuditMetrics run_metrics(registry,
                                        audit::AuditMetricsOptions{compliance_run->enriches(), compliance_run->checks_policy()});
        compliance_run->attach_metrics(&run_metrics);
        for (const auto& f : engine.records()) compliance_run->observe(f);
        compliance_run->attach_metrics(nullptr);
        run_metrics.update_from_summary(s);
        if (!audit::export_registry(registry, metrics, err)) {
            std::cerr << "meshproof: " << err << "\n";
            rc = kExitFailure;
        }
        std::vector<std::string> command_line = {"meshproof", "audit", "capture"};
        command_line.insert(command_line.end(), args.begin(), args.end());
        compliance_rc = compliance_run->finish(engine.records(), s, ropt, json, evidence_files, command_line, std::cout,
                                               std::cerr);
    } else if (const int mrc = export_run_metrics(engine, metrics); mrc != kExitOk) {
        rc = mrc;
    }
    if (src->error()) std::cerr << "meshproof: " << src->error()->message << "\n";
    for (const auto& f : engine.records()) {
        if (fail_set.count(f.verdict)) return kExitFailOn;
    }
    if (rc != kExitOk || compliance_rc == kExitFailure) return kExitFailure;
    if (compliance_rc == kExitPolicyViolations) return kExitPolicyViolations;
    if (src->error()) return kExitDamagedInput;
    return kExitOk;
}

int audit_serve(const std::vector<std::string>& args) {
    ArgParser p(args);
    LiveFlags lf;
    std::string listen = "127.0.0.1:9464";
    ComplianceOptions compliance;
    while (p.more()) {
        if (lf.parse(p)) {}
        else if (p.option("--listen", listen)) {}
        else if (parse_compliance_flag(p, compliance, true)) {}
        else if (p.flag("-h") || p.flag("--help")) {
            std::cout << kServeUsage << serve_compliance_flags_usage();
            return kExitOk;
        } else {
            throw UsageError("audit serve: unexpected argument '" + p.positional() + "'");
        }
    }
    lf.finish(kServeUsage);
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == listen.size() ||
        listen.find_first_not_of("0123456789", colon + 1) != std::string::npos)
        throw UsageError("--listen: expected ADDRESS:PORT, e.g. 127.0.0.1:9464, got '" + listen + "'");
    if (!compliance.bundle.empty() || !compliance.key.empty())
        throw UsageError("audit serve: --bundle/--key sign the evidence of a finished run, and serve runs until stopped; "
                         "use `audit capture --duration D --bundle OUT --key KEY` (e.g. the CronJob) instead");
    // Snapshot and policy first: configuration errors come before the capture opens.
    std::unique_ptr<ComplianceRun> compliance_run;
    if (compliance.any()) {
        compliance_run = std::make_unique<ComplianceRun>(compliance, std::cerr);
        compliance_run->keep_findings(false);  // findings are counted, not kept: memory stays flat
    }

    StopSignals signals;
    auto src = open_live(lf);
    if (!src) return kExitFailure;
    src->set_stop_flag(&g_stop);

    auto registry = std::make_shared<prometheus::Registry>();
    audit::AuditMetrics metrics(registry, compliance_run ? audit::AuditMetricsOptions{compliance_run->enriches(),
                                                                                      compliance_run->checks_policy()}
                                                         : audit::AuditMetricsOptions{});
    std::unique_ptr<prometheus::Exposer> exposer;
    try {
        exposer = std::make_unique<prometheus::Exposer>(listen, 2);
    } catch (const std::exception& e) {
        std::cerr << "meshproof: cannot listen on " << listen << ": " << e.what() << "\n";
        return kExitFailure;
    }
    exposer->RegisterCollectable(registry);

    audit::EngineConfig cfg;
    cfg.stream.max_bytes = lf.stream_bytes;
    cfg.max_flows = lf.max_flows;
    cfg.idle_timeout = lf.idle_timeout.value_or(60);
    cfg.keep_records = false;  // counted by the sink, then forgotten: memory stays flat
    audit::Engine engine(cfg);
    if (compliance_run) {
        // Each flow is enriched and checked against the policy as it finishes.
        compliance_run->attach_metrics(&metrics);
        engine.set_sink([run = compliance_run.get()](const audit::FlowRecord& f) { run->observe(f); });
    } else {
        engine.set_sink([&metrics](const audit::FlowRecord& f) { metrics.on_flow(f); });
    }
    engine.begin_input(lf.live.interface, src->describe());
    metrics.update_from_summary(engine.summary());
    std::cerr << "meshproof: auditing " << src->describe() << ", metrics on http://" << listen << "/metrics\n";

    bool interrupted = false;
    const std::uint64_t n = run_capture(
        *src, engine, LoopLimits{lf.duration, std::nullopt}, interrupted, [](const audit::RawPacket&) {},
        [&] {
            engine.expire(unix_now());
            record_drops(*src, engine);
            metrics.update_from_summary(engine.summary());
            if (compliance_run) compliance_run->refresh_if_due(monotonic_now(), std::cerr);
        });
    record_drops(*src, engine);
    engine.end_input(n, src->error());
    engine.finish();
    metrics.update_from_summary(engine.summary());
    const auto& s = engine.summary();
    std::cerr << "meshproof: " << (interrupted ? "stopped" : "done") << ": " << s.packets << " packets, " << s.flows
              << " flows, " << s.kernel_dropped << " dropped by the kernel";
    if (compliance_run && compliance_run->checks_policy())
        std::cerr << ", " << metrics.findings_counted() << " policy findings (" << compliance_run->violations()
                  << " violations)";
    std::cerr << "\n";
    if (src->error()) {
        std::cerr << "meshproof: " << src->error()->message << "\n";
        return kExitDamagedInput;
    }
    return kExitOk;
}

}  // namespace meshproof::cli
