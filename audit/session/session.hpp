// One audit from source to sinks: capture files or a live interface feed the engine; its flows go to
// the evidence pcap, Kubernetes enrichment, the policy evaluator, Prometheus metrics (pulled, pushed
// or written as a textfile) and a JSON, table or bundle report. `audit read|capture|serve`, `play`
// and `demo` only fill a SessionConfig; an option every mode should take is added here, once.
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "audit/capture/live_source.hpp"
#include "audit/engine/engine.hpp"
#include "audit/metrics/metrics_export.hpp"
#include "audit/report/audit_summary.hpp"
#include "audit/report/report.hpp"
#include "audit/session/compliance.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit {

struct SessionConfig {
    // The source: capture files (and directories: their *.pcap, *.pcapng, *.cap, sorted), or one live
    // interface when `live` is set.
    std::vector<std::string> files;
    std::optional<LiveOptions> live;
    std::string label;                         // live: the input's name in reports (default: the interface)
    std::optional<double> duration;            // live: seconds, then the capture stops (drained)
    std::optional<std::uint64_t> max_packets;  // live: stop after this many packets

    EngineConfig engine;

    // Where the flows go.
    enum class Report : std::uint8_t {
        Records,  // kept for the caller (records(), summary()); nothing printed (play, demo)
        Table,    // sorted table on `out` (audit read, audit capture)
        Json,     // JSON lines on `out`; audit read streams them as flows end
        Serve,    // Prometheus /metrics on `listen` while the capture runs (audit serve)
    };
    Report report = Report::Records;
    ReportOptions report_options;
    std::set<Verdict> fail_on;                 // any flow with one of these verdicts fails the run
    MetricsOutputs metrics;                    // after the run: textfile, Pushgateway
    std::string listen = "127.0.0.1:9464";     // Report::Serve
    ComplianceOptions compliance;              // snapshot, policy, bundle
    std::optional<std::string> evidence_path;  // live: --write; a bundle without it gets a temporary one
    bool verbose = false;                      // live: source warnings, privilege note, evidence totals
    std::vector<std::string> command_line;     // into the bundle's version.json
};

// How a run ended; the cli turns it into an exit status (cli/exit_status.hpp).
struct SessionOutcome {
    bool not_started = false;        // the source or an output could not be opened (reason on err)
    bool fail_on_matched = false;
    bool unreadable_input = false;   // a capture file could not be read at all
    bool damaged_input = false;      // a file was damaged part-way, or the live capture failed part-way
    bool output_failed = false;      // metrics export, the evidence pcap or the bundle failed
    bool policy_violations = false;  // not in Report::Serve: findings are metrics there
    bool interrupted = false;
};

class Session {
public:
    // Loads the snapshot, policy and signing key (configuration errors come before any capture:
    // UsageError, or std::runtime_error naming the file). Messages go to `err`, reports to `out`.
    Session(SessionConfig cfg, std::ostream& out, std::ostream& err);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Live: opens the capture (and, started as root, drops privileges), then checks the outputs are
    // still writable. false: start_error() says why (also on err unless Report::Records). Files: true.
    bool open();
    // Feeds the engine until the source ends, a limit is reached or *stop is set; then reports.
    // open() first if it was not called.
    SessionOutcome run(const std::atomic<bool>* stop);

    [[nodiscard]] const std::string& start_error() const;
    // The live source's error after run() (the flows before it were judged).
    [[nodiscard]] const std::optional<std::string>& source_error() const;
    [[nodiscard]] const AuditSummary& summary() const;
    // Report::Records, after run(): every flow in order of first packet.
    std::vector<FlowRecord> take_records();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Files and directories as `audit read` takes them: a directory stands for its captures, sorted.
std::vector<std::string> expand_capture_inputs(const std::vector<std::string>& args);

}  // namespace meshproof::audit
