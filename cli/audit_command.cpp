// `meshproof audit read FILE...`: offline audits of capture files.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "audit/engine/engine.hpp"
#include "audit/metrics/audit_metrics.hpp"
#include "audit/report/report.hpp"
#include "cli/arg_parser.hpp"
#include "cli/commands.hpp"
#include "cli/compliance_commands.hpp"
#include "cli/live_commands.hpp"
#include "cli/report_flags.hpp"

namespace meshproof::cli {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

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

std::vector<std::string> expand_inputs(const std::vector<std::string>& args) {
    std::vector<std::string> out;
    for (const auto& a : args) {
        std::error_code ec;
        if (std::filesystem::is_directory(a, ec)) {
            std::vector<std::string> files;
            for (const auto& e : std::filesystem::directory_iterator(a, ec)) {
                const auto ext = e.path().extension().string();
                if (e.is_regular_file() && (ext == ".pcap" || ext == ".pcapng" || ext == ".cap"))
                    files.push_back(e.path().string());
            }
            std::sort(files.begin(), files.end());
            out.insert(out.end(), files.begin(), files.end());
        } else {
            out.push_back(a);
        }
    }
    return out;
}

int audit_read(const std::vector<std::string>& args) {
    ArgParser p(args);
    bool json = false, show_secrets = false, verbose = false;
    std::string fail_on, color = "auto";
    std::size_t stream_bytes = 16 * 1024, max_flows = 262144;
    std::vector<std::string> files;
    audit::MetricsOutputs metrics;
    ComplianceOptions compliance;
    while (p.more()) {
        if (p.flag("--json")) json = true;
        else if (p.flag("--show-secrets")) show_secrets = true;
        else if (p.flag("-v") || p.flag("--verbose")) verbose = true;
        else if (p.option("--fail-on", fail_on)) {}
        else if (p.option("--color", color)) {}
        else if (p.size_option("--stream-bytes", stream_bytes)) {}
        else if (p.size_option("--max-flows", max_flows)) {}
        else if (parse_metrics_flag(p, metrics)) {}
        else if (parse_compliance_flag(p, compliance)) {}
        else if (p.flag("-h") || p.flag("--help")) {
            std::cout << kAuditUsage << metrics_flags_usage() << compliance_flags_usage();
            return kExitOk;
        } else files.push_back(p.positional());
    }
    if (files.empty()) throw UsageError("audit read: no capture file given\n" + std::string(kAuditUsage));
    const auto fail_set = parse_fail_on(fail_on);
    audit::ReportOptions ropt{show_secrets, !json && want_color(color), verbose};

    audit::EngineConfig cfg;
    cfg.stream.max_bytes = stream_bytes;
    cfg.max_flows = max_flows;
    // Snapshot, policy and signing key are loaded before the captures are read: errors come first.
    std::unique_ptr<ComplianceRun> compliance_run;
    if (compliance.any()) compliance_run = std::make_unique<ComplianceRun>(compliance, std::cerr);
    // --json streams: each flow's line is written when the flow finishes (completion order, like
    // Zeek's conn.log; with a snapshot enriched, with a policy checked as it goes, findings after the
    // summary) and nothing is kept, so memory is bounded by the flow table whatever the capture's
    // flow count. The table (for people) and --bundle (its verdicts.jsonl) keep every record and
    // print them sorted by first packet.
    const bool streaming = json && !(compliance_run && compliance_run->writes_bundle());
    cfg.keep_records = !streaming;
    audit::Engine engine(cfg);
    bool fail_matched = false;
    std::shared_ptr<prometheus::Registry> registry;
    std::unique_ptr<audit::AuditMetrics> stream_metrics;
    if (streaming) {
        if (metrics.any()) {
            registry = std::make_shared<prometheus::Registry>();
            stream_metrics = compliance_run ? std::make_unique<audit::AuditMetrics>(
                                                  registry, audit::AuditMetricsOptions{compliance_run->enriches(),
                                                                                       compliance_run->checks_policy()})
                                            : std::make_unique<audit::AuditMetrics>(registry);
        }
        if (compliance_run) compliance_run->attach_metrics(stream_metrics.get());  // it feeds them, namespaces included
        engine.set_sink([&](const audit::FlowRecord& f) {
            if (compliance_run) {
                std::cout << compliance_run->flow_json(f, ropt) << '\n';
                compliance_run->observe(f);
            } else {
                std::cout << audit::flow_to_json(f, ropt) << '\n';
                if (stream_metrics) stream_metrics->on_flow(f);
            }
            if (fail_set.count(f.verdict)) fail_matched = true;
        });
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    const auto inputs = expand_inputs(files);
    audit::read_capture_files(inputs, engine, &g_stop);
    engine.finish();

    const auto& s = engine.summary();
    if (streaming) std::cout << audit::summary_to_json(s) << '\n';
    else if (json && compliance_run) compliance_run->write_json_lines(std::cout, engine.records(), s, ropt);
    else if (json) audit::write_json_lines(std::cout, engine.records(), s, ropt);
    else audit::write_table(std::cout, engine.records(), s, ropt);
    std::cout.flush();
    int metrics_rc = kExitOk;
    if (compliance_run) compliance_run->attach_metrics(nullptr);
    if (stream_metrics) {
        stream_metrics->update_from_summary(s);
        std::string err;
        if (!audit::export_registry(registry, metrics, err)) {
            std::cerr << "meshproof: " << err << "\n";
            metrics_rc = kExitFailure;
        }
    } else {
        metrics_rc = export_run_metrics(engine, metrics);  // nothing to do when streaming without outputs
    }
    std::vector<std::string> command_line = {"meshproof", "audit", "read"};
    command_line.insert(command_line.end(), args.begin(), args.end());
    const int compliance_rc = compliance_run ? compliance_run->finish(engine.records(), s, ropt, json, inputs,
                                                                      command_line, std::cout, std::cerr)
                                             : kExitOk;

    bool unreadable = false, damaged = false;
    for (const auto& in : s.inputs) {
        if (!in.error) continue;
        std::cerr << "meshproof: " << *in.error << "\n";
        if (in.error_kind == "truncated" || in.error_kind == "corrupt") damaged = true;
        else unreadable = true;
    }
    for (const auto& f : engine.records()) {
        if (fail_set.count(f.verdict)) fail_matched = true;
    }
    if (fail_matched) return kExitFailOn;
    if (metrics_rc != kExitOk) return metrics_rc;
    if (unreadable || compliance_rc == kExitFailure) return kExitFailure;
    if (compliance_rc == kExitPolicyViolations) return kExitPolicyViolations;
    if (damaged) return kExitDamagedInput;
    return kExitOk;
}

}  // namespace

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
