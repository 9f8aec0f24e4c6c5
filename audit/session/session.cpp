#include "audit/session/session.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <ostream>

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "audit/metrics/audit_metrics.hpp"

namespace meshproof::audit {

namespace {

using Report = SessionConfig::Report;

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double monotonic_now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A bundle of a live run without --write: the evidence pcap goes to DIR/.meshproof-evidence.XXXXXX/
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

// Evidence selection: exactly the packets each flow's inspection saw, plus plaintext packets after
// the verdict within the per-flow budget (so the file stays small and still shows what leaked).
void keep_evidence(Engine::PacketUse use, PcapWriter& writer, const RawPacket& p) {
    if (use == Engine::PacketUse::Inspected) writer.write(p);
    else if (use == Engine::PacketUse::AfterVerdictPlaintext) writer.offer(p);
}

}  // namespace

struct Session::Impl {
    SessionConfig cfg;
    std::ostream& out;
    std::ostream& err;
    std::unique_ptr<ComplianceRun> compliance;
    std::unique_ptr<TempEvidence> temp_evidence;
    std::unique_ptr<LiveSource> src;
    std::unique_ptr<Engine> engine;
    std::string start_error;
    std::optional<std::string> source_error;
    bool opened = false;

    // Report::Serve, or audit read --json streaming with metrics outputs.
    std::shared_ptr<prometheus::Registry> registry;
    std::unique_ptr<AuditMetrics> metrics;
    std::unique_ptr<prometheus::Exposer> exposer;
    bool fail_matched = false;

    Impl(SessionConfig c, std::ostream& o, std::ostream& e) : cfg(std::move(c)), out(o), err(e) {}

    [[nodiscard]] bool prints() const { return cfg.report != Report::Records; }
    [[nodiscard]] bool json() const { return cfg.report == Report::Json; }
    // JSON lines as flows end (completion order, like Zeek's conn.log; with a snapshot enriched, with
    // a policy checked as it goes, findings after the summary) and nothing kept, so memory is bounded
    // by the flow table whatever the capture's flow count. The table (for people) and the bundle (its
    // verdicts.jsonl) keep every record and print them sorted by first packet. Live captures keep
    // and sort too.
    [[nodiscard]] bool streams_json() const {
        return json() && !cfg.live && !(compliance && compliance->writes_bundle());
    }
    [[nodiscard]] AuditMetricsOptions metrics_options() const {
        return compliance ? AuditMetricsOptions{compliance->enriches(), compliance->checks_policy()} : AuditMetricsOptions{};
    }

    void fail(std::string why) {
        start_error = std::move(why);
        if (prints()) err << "meshproof: " << start_error << "\n";
    }

    bool open_live();
    void make_engine();
    std::uint64_t capture(const std::atomic<bool>* stop, bool& interrupted);
    void write_report();
    bool export_metrics_after_run();
    SessionOutcome run_files(const std::atomic<bool>* stop);
    SessionOutcome run_live(const std::atomic<bool>* stop);
    SessionOutcome run_serve(const std::atomic<bool>* stop);
    void check_fail_on(const FlowRecord& f) {
        if (cfg.fail_on.count(f.verdict)) fail_matched = true;
    }
};

Session::Session(SessionConfig cfg, std::ostream& out, std::ostream& err)
    : impl_(std::make_unique<Impl>(std::move(cfg), out, err)) {
    Impl& s = *impl_;
    // Snapshot, policy and signing key before any capture: configuration errors come first, and the
    // key (often readable by root only) is read before privileges are dropped.
    if (s.cfg.compliance.any()) s.compliance = std::make_unique<ComplianceRun>(s.cfg.compliance, err);
    if (s.compliance && s.cfg.report == Report::Serve) s.compliance->keep_findings(false);  // counted, not kept
    if (s.cfg.live) {
        if (s.cfg.label.empty()) s.cfg.label = s.cfg.live->interface;
        if (s.cfg.evidence_path) {
            s.cfg.live->write_path = s.cfg.evidence_path;
        } else if (s.compliance && s.compliance->writes_bundle()) {
            s.temp_evidence = std::make_unique<TempEvidence>(s.cfg.compliance.bundle, s.cfg.live->drop_to_user);
            s.cfg.live->write_path = s.temp_evidence->file();
        }
    }
    // What is kept is the session's choice: a sorted report keeps every record; streamed JSON and
    // a never-ending serve keep none.
    s.cfg.engine.keep_records = !(s.streams_json() || s.cfg.report == Report::Serve);
}

Session::~Session() = default;

bool Session::Impl::open_live() {
    SourceError e;
    src = LiveSource::open(*cfg.live, e);
    if (!src) {
        fail(e.message);
        return false;
    }
    if (cfg.verbose) {
        for (const auto& w : src->warnings()) err << "meshproof: warning: " << w << "\n";
        if (!src->privilege_note().empty()) err << "meshproof: " << src->privilege_note() << "\n";
    }
    std::string why;
    if (cfg.metrics.textfile && !textfile_writable(*cfg.metrics.textfile, why)) {
        fail(why + " (after dropping privileges; pick another --user or directory)");
        return false;
    }
    if (compliance && !compliance->bundle_writable(why)) {
        fail(why + " (after dropping privileges; pick another --user or directory)");
        return false;
    }
    if (cfg.report == Report::Serve) {
        registry = std::make_shared<prometheus::Registry>();
        metrics = std::make_unique<AuditMetrics>(registry, metrics_options());
        try {
            exposer = std::make_unique<prometheus::Exposer>(cfg.listen, 2);
        } catch (const std::exception& ex) {
            fail("cannot listen on " + cfg.listen + ": " + ex.what());
            return false;
        }
        exposer->RegisterCollectable(registry);
    }
    return true;
}

bool Session::open() {
    Impl& s = *impl_;
    if (s.opened) return s.start_error.empty();
    s.opened = true;
    if (s.cfg.live) return s.open_live();
    return true;
}

void Session::Impl::make_engine() {
    engine = std::make_unique<Engine>(cfg.engine);
    if (cfg.report == Report::Serve) {
        if (compliance) {
            // Each flow is enriched and checked against the policy as it finishes.
            compliance->attach_metrics(metrics.get());
            engine->set_sink([run = compliance.get()](const FlowRecord& f) { run->observe(f); });
        } else {
            engine->set_sink([m = metrics.get()](const FlowRecord& f) { m->on_flow(f); });
        }
        return;
    }
    if (!streams_json()) return;
    if (cfg.metrics.any()) {
        registry = std::make_shared<prometheus::Registry>();
        metrics = std::make_unique<AuditMetrics>(registry, metrics_options());
    }
    if (compliance) compliance->attach_metrics(metrics.get());  // it feeds them, namespaces included
    engine->set_sink([this](const FlowRecord& f) {
        if (compliance) {
            out << compliance->flow_json(f, cfg.report_options) << '\n';
            compliance->observe(f);
        } else {
            out << flow_to_json(f, cfg.report_options) << '\n';
            if (metrics) metrics->on_flow(f);
        }
        check_fail_on(f);
    });
}

// Feeds the engine until the limits, *stop or an error; about once a second flows idle for the
// engine's idle timeout are expired (and, serving, drops, metrics and the snapshot refreshed).
// Returns the packets delivered; `interrupted` says whether *stop ended it.
std::uint64_t Session::Impl::capture(const std::atomic<bool>* stop, bool& interrupted) {
    using Clock = std::chrono::steady_clock;
    src->set_stop_flag(stop);
    const auto start = Clock::now();
    auto next_tick = start + std::chrono::seconds(1);
    std::optional<Clock::time_point> deadline;
    if (cfg.duration)
        deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*cfg.duration));
    PcapWriter* evidence = src->evidence();
    bool evidence_failure_said = false;
    bool stopping = false;
    std::uint64_t n = 0;
    interrupted = false;
    // Packets go to the engine in place, straight from the capture ring (no copy); each batch is at
    // most 64 packets so the clock is looked at often.
    auto on_packet = [&](const RawPacket& pkt) {
        const Engine::PacketUse use = engine->on_packet(pkt);
        if (evidence) {
            keep_evidence(use, *evidence, pkt);
            // Said when it happens (a long capture should not hide it until the end); counts come at the end.
            if (!evidence_failure_said && evidence->failed()) {
                err << "meshproof: warning: " << *evidence->write_error() << " (counts at the end)\n";
                evidence_failure_said = true;
            }
        }
        ++n;
        return !(cfg.max_packets && n >= *cfg.max_packets);
    };
    FunctionSink sink(on_packet);
    for (;;) {
        const SourceStatus st = src->dispatch(64, sink);
        if (st == SourceStatus::Packet) {
            if (cfg.max_packets && n >= *cfg.max_packets) break;
        } else if (st == SourceStatus::Interrupted) {
            interrupted = true;
            break;
        } else if (st != SourceStatus::Timeout) {
            break;  // End (after stop()) or Error
        }
        const auto now = Clock::now();
        if (deadline && !stopping && now >= *deadline) {
            // stop() drains what the kernel already captured, then dispatch() returns End.
            src->stop();
            stopping = true;
        }
        if (now >= next_tick) {
            engine->expire(unix_now());
            if (cfg.report == Report::Serve) {
                const LiveStats ls = src->stats();
                engine->note_drops(ls.kernel_dropped, ls.interface_dropped);
                metrics->update_from_summary(engine->summary());
                if (compliance) compliance->refresh_if_due(monotonic_now(), err);
            }
            next_tick = now + std::chrono::seconds(1);
        }
    }
    const LiveStats ls = src->stats();
    engine->note_drops(ls.kernel_dropped, ls.interface_dropped);
    engine->end_input(n, src->error());
    engine->finish();
    if (src->error()) source_error = src->error()->message;
    return n;
}

void Session::Impl::write_report() {
    const AuditSummary& s = engine->summary();
    const ReportOptions& ropt = cfg.report_options;
    if (streams_json()) out << summary_to_json(s) << '\n';
    else if (json() && compliance) compliance->write_json_lines(out, engine->records(), s, ropt);
    else if (json()) write_json_lines(out, engine->records(), s, ropt);
    else write_table(out, engine->records(), s, ropt);
    out.flush();
}

// The one-shot outputs (textfile, Pushgateway) after the report. A kept run is counted here, in
// report order: with a snapshot or policy through the compliance run, so flows carry their namespaces
// and findings are counted (finish() reuses those findings); a streamed run was counted as it went.
bool Session::Impl::export_metrics_after_run() {
    if (!cfg.metrics.any()) return true;
    if (!metrics) {
        registry = std::make_shared<prometheus::Registry>();
        metrics = std::make_unique<AuditMetrics>(registry, metrics_options());
        if (compliance) {
            compliance->attach_metrics(metrics.get());
            for (const auto& f : engine->records()) compliance->observe(f);
        } else {
            for (const auto& f : engine->records()) metrics->on_flow(f);
        }
    }
    if (compliance) compliance->attach_metrics(nullptr);
    metrics->update_from_summary(engine->summary());
    std::string why;
    if (export_registry(registry, cfg.metrics, why)) return true;
    err << "meshproof: " << why << "\n";
    return false;
}

SessionOutcome Session::Impl::run_files(const std::atomic<bool>* stop) {
    SessionOutcome o;
    make_engine();
    read_capture_files(cfg.files, *engine, stop);
    engine->finish();
    const AuditSummary& s = engine->summary();
    o.interrupted = s.interrupted;
    for (const auto& in : s.inputs) {
        if (!in.error) continue;
        if (in.error_kind == "truncated" || in.error_kind == "corrupt") o.damaged_input = true;
        else o.unreadable_input = true;
    }
    if (!prints()) return o;

    write_report();
    if (!export_metrics_after_run()) o.output_failed = true;
    if (compliance) {
        const auto r = compliance->finish(engine->records(), s, cfg.report_options, json(), cfg.files,
                                          cfg.command_line, out, err);
        o.output_failed = o.output_failed || r.bundle_failed;
        o.policy_violations = r.policy_violations;
    }
    for (const auto& in : s.inputs) {
        if (in.error) err << "meshproof: " << *in.error << "\n";
    }
    for (const auto& f : engine->records()) check_fail_on(f);
    o.fail_on_matched = fail_matched;
    return o;
}

SessionOutcome Session::Impl::run_live(const std::atomic<bool>* stop) {
    SessionOutcome o;
    make_engine();
    engine->begin_input(cfg.label, src->describe());
    if (prints()) {
        err << "meshproof: capturing on " << src->describe();
        if (cfg.duration) err << " for " << *cfg.duration << "s";
        if (cfg.max_packets) err << " (at most " << *cfg.max_packets << " packets)";
        err << ", Ctrl-C to stop\n";
    }
    bool interrupted = false;
    capture(stop, interrupted);
    o.damaged_input = source_error.has_value();
    // In Records mode the caller set *stop and knows why it ended; a report says so.
    if (!prints()) return o;
    o.interrupted = interrupted;
    if (interrupted) {
        engine->note_interrupted();
        err << "meshproof: interrupted, reporting the flows seen so far\n";
    }

    std::vector<std::string> evidence_files;
    if (PcapWriter* evidence = src->evidence()) {
        std::string werr;
        const bool closed = evidence->close(werr);
        const auto& es = evidence->stats();
        EvidenceSummary summary{evidence->path(), es.written_packets, es.written_bytes, es.over_budget,
                                es.over_cap,      es.write_failed,    evidence->write_error()};
        if (!closed) {
            if (!summary.error) summary.error = werr;
            err << "meshproof: " << werr << "\n";
            o.output_failed = true;
        } else {
            // A bundle gets the evidence pcap only when it was written completely.
            evidence_files.push_back(evidence->path());
            if (cfg.verbose)
                err << "meshproof: evidence " << evidence->path() << ": " << es.written_packets << " packets, "
                    << es.written_bytes << " bytes" << (es.over_cap ? " (size cap reached)" : "") << "\n";
        }
        engine->note_evidence(std::move(summary));
    }

    write_report();
    if (!export_metrics_after_run()) o.output_failed = true;
    if (compliance) {
        const auto r = compliance->finish(engine->records(), engine->summary(), cfg.report_options, json(),
                                          evidence_files, cfg.command_line, out, err);
        o.output_failed = o.output_failed || r.bundle_failed;
        o.policy_violations = r.policy_violations;
    }
    if (source_error) err << "meshproof: " << *source_error << "\n";
    for (const auto& f : engine->records()) check_fail_on(f);
    o.fail_on_matched = fail_matched;
    return o;
}

SessionOutcome Session::Impl::run_serve(const std::atomic<bool>* stop) {
    SessionOutcome o;
    make_engine();
    engine->begin_input(cfg.label, src->describe());
    metrics->update_from_summary(engine->summary());
    err << "meshproof: auditing " << src->describe() << ", metrics on http://" << cfg.listen << "/metrics\n";
    bool interrupted = false;
    capture(stop, interrupted);
    metrics->update_from_summary(engine->summary());
    o.interrupted = interrupted;
    o.damaged_input = source_error.has_value();
    const AuditSummary& s = engine->summary();
    err << "meshproof: " << (interrupted ? "stopped" : "done") << ": " << s.packets << " packets, " << s.flows
        << " flows, " << s.kernel_dropped << " dropped by the kernel";
    if (compliance && compliance->checks_policy())
        err << ", " << metrics->findings_counted() << " policy findings (" << compliance->violations() << " violations)";
    err << "\n";
    if (source_error) err << "meshproof: " << *source_error << "\n";
    return o;
}

SessionOutcome Session::run(const std::atomic<bool>* stop) {
    Impl& s = *impl_;
    if (!open()) {
        SessionOutcome o;
        o.not_started = true;
        return o;
    }
    if (!s.cfg.live) return s.run_files(stop);
    if (s.cfg.report == Report::Serve) return s.run_serve(stop);
    return s.run_live(stop);
}

const std::string& Session::start_error() const { return impl_->start_error; }
const std::optional<std::string>& Session::source_error() const { return impl_->source_error; }
const AuditSummary& Session::summary() const {
    static const AuditSummary empty;
    return impl_->engine ? impl_->engine->summary() : empty;
}
std::vector<FlowRecord> Session::take_records() {
    return impl_->engine ? impl_->engine->take_records() : std::vector<FlowRecord>{};
}

std::vector<std::string> expand_capture_inputs(const std::vector<std::string>& args) {
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

}  // namespace meshproof::audit
