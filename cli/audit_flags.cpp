#include "cli/audit_flags.hpp"

#include <cmath>

#include "cli/commands.hpp"
#include "cli/compliance_commands.hpp"
#include "cli/report_flags.hpp"

namespace meshproof::cli {

namespace {

using Report = audit::SessionConfig::Report;

std::vector<std::string> command_line(const char* verb, const std::vector<std::string>& args) {
    std::vector<std::string> out = {"meshproof", "audit", verb};
    out.insert(out.end(), args.begin(), args.end());
    return out;
}

// Flags every audit command takes for its report.
struct ReportFlags {
    bool json = false, show_secrets = false, verbose = false;
    std::string fail_on, color = "auto";

    bool parse(ArgParser& p) {
        if (p.flag("--json")) json = true;
        else if (p.flag("--show-secrets")) show_secrets = true;
        else if (p.flag("-v") || p.flag("--verbose")) verbose = true;
        else if (p.option("--fail-on", fail_on)) {}
        else if (p.option("--color", color)) {}
        else return false;
        return true;
    }
    void apply(audit::SessionConfig& c) const {
        c.report = json ? Report::Json : Report::Table;
        c.fail_on = parse_fail_on(fail_on);
        c.report_options = audit::ReportOptions{show_secrets, !json && want_color(color), verbose};
        c.verbose = verbose;
    }
};

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

    void apply(audit::SessionConfig& c, double default_idle_timeout, const char* usage) {
        if (live.interface.empty()) throw UsageError(std::string("no interface given (-i IFACE)\n") + usage);
        if (!user.empty()) live.drop_to_user = user;
        if (max_flows == 0) throw UsageError("--max-flows: must be at least 1");
        c.live = live;
        c.duration = duration;
        c.engine.stream.max_bytes = stream_bytes;
        c.engine.max_flows = max_flows;
        c.engine.idle_timeout = idle_timeout.value_or(default_idle_timeout);
        c.verbose = c.verbose || verbose;
        c.report_options.verbose = c.report_options.verbose || verbose;
    }
};

}  // namespace

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

AuditInvocation read_flags(const std::vector<std::string>& args) {
    AuditInvocation inv;
    audit::SessionConfig& c = inv.config;
    ArgParser p(args);
    ReportFlags report;
    std::size_t stream_bytes = 16 * 1024, max_flows = 262144;
    std::vector<std::string> files;
    while (p.more()) {
        if (report.parse(p)) {}
        else if (p.size_option("--stream-bytes", stream_bytes)) {}
        else if (p.size_option("--max-flows", max_flows)) {}
        else if (parse_metrics_flag(p, c.metrics)) {}
        else if (parse_compliance_flag(p, c.compliance)) {}
        else if (p.flag("-h") || p.flag("--help")) {
            inv.help = true;
            return inv;
        } else files.push_back(p.positional());
    }
    if (files.empty()) throw UsageError(std::string("audit read: no capture file given\n") + read_usage());
    report.apply(c);
    c.engine.stream.max_bytes = stream_bytes;
    c.engine.max_flows = max_flows;
    c.files = audit::expand_capture_inputs(files);
    c.command_line = command_line("read", args);
    return inv;
}

AuditInvocation capture_flags(const std::vector<std::string>& args) {
    AuditInvocation inv;
    audit::SessionConfig& c = inv.config;
    ArgParser p(args);
    LiveFlags live;
    ReportFlags report;
    std::string label, write_path;
    std::size_t max_packets = 0;
    while (p.more()) {
        if (live.parse(p)) {}
        else if (parse_metrics_flag(p, c.metrics)) {}
        else if (parse_compliance_flag(p, c.compliance)) {}
        else if (report.parse(p)) {}
        else if (p.option("--label", label)) {}
        else if (p.option("--write", write_path)) {}
        else if (p.size_option("--packets", max_packets)) {
            if (max_packets == 0) throw UsageError("--packets: must be at least 1");
        } else if (p.flag("-h") || p.flag("--help")) {
            inv.help = true;
            return inv;
        } else {
            throw UsageError("audit capture: unexpected argument '" + p.positional() + "'");
        }
    }
    report.apply(c);
    live.apply(c, audit::EngineConfig{}.idle_timeout, capture_usage());
    c.label = label;
    if (!write_path.empty()) c.evidence_path = write_path;
    if (max_packets) c.max_packets = max_packets;
    c.command_line = command_line("capture", args);
    return inv;
}

AuditInvocation serve_flags(const std::vector<std::string>& args) {
    AuditInvocation inv;
    audit::SessionConfig& c = inv.config;
    ArgParser p(args);
    LiveFlags live;
    while (p.more()) {
        if (live.parse(p)) {}
        else if (p.option("--listen", c.listen)) {}
        else if (parse_compliance_flag(p, c.compliance, true)) {}
        else if (p.flag("-h") || p.flag("--help")) {
            inv.help = true;
            return inv;
        } else {
            throw UsageError("audit serve: unexpected argument '" + p.positional() + "'");
        }
    }
    live.apply(c, 60, serve_usage());
    const std::string& listen = c.listen;
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == listen.size() ||
        listen.find_first_not_of("0123456789", colon + 1) != std::string::npos)
        throw UsageError("--listen: expected ADDRESS:PORT, e.g. 127.0.0.1:9464, got '" + listen + "'");
    if (!c.compliance.bundle.empty() || !c.compliance.key.empty())
        throw UsageError("audit serve: --bundle/--key sign the evidence of a finished run, and serve runs until stopped; "
                         "use `audit capture --duration D --bundle OUT --key KEY` (e.g. the CronJob) instead");
    c.report = Report::Serve;
    c.command_line = command_line("serve", args);
    return inv;
}

int exit_status(const audit::SessionOutcome& o) {
    if (o.not_started) return kExitFailure;
    if (o.fail_on_matched) return kExitFailOn;
    if (o.output_failed || o.unreadable_input) return kExitFailure;
    if (o.policy_violations) return kExitPolicyViolations;
    if (o.damaged_input) return kExitDamagedInput;
    return kExitOk;
}

}  // namespace meshproof::cli
