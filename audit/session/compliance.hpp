// Kubernetes enrichment, policy checks and signed evidence bundles for an audit session:
//   k8s_snapshot FILE | k8s_live [kube_context]   workloads for each flow address
//   policy FILE                                   findings (violations make the run fail)
//   bundle OUT.tar.gz + key FILE                  signed evidence bundle
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "audit/report/audit_summary.hpp"
#include "audit/report/report.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit {

class AuditMetrics;

struct ComplianceOptions {
    std::string k8s_snapshot;  // --k8s-snapshot FILE (kubectl get ... -o json|yaml)
    bool k8s_live = false;     // --k8s: kubectl now, through the provisioner's runner
    std::string kube_context;  // --kube-context NAME
    std::string policy;        // --policy FILE
    std::string bundle;        // --bundle OUT.tar.gz (OUT.tar: uncompressed)
    std::string key;           // --key FILE (default: $MESHPROOF_SIGNING_KEY)
    double k8s_refresh = 300;  // audit serve --k8s: seconds between snapshot refreshes (0: never)
    [[nodiscard]] bool any() const {
        return !k8s_snapshot.empty() || k8s_live || !kube_context.empty() || !policy.empty() || !bundle.empty() ||
               !key.empty();
    }
};

struct ComplianceResult {
    bool bundle_failed = false;     // the bundle could not be written (reason on err)
    bool policy_violations = false; // a finding of severity violation
};

// Everything the flags need, loaded before the capture is read so configuration errors come first
// (UsageError for bad combinations, std::runtime_error naming the file, line and column otherwise).
class ComplianceRun {
public:
    ComplianceRun(ComplianceOptions opt, std::ostream& err);
    ~ComplianceRun();
    ComplianceRun(const ComplianceRun&) = delete;
    ComplianceRun& operator=(const ComplianceRun&) = delete;

    // True when flows get src_workload/dst_workload (a snapshot is loaded).
    [[nodiscard]] bool enriches() const;
    // True when flows are checked against a policy (--policy).
    [[nodiscard]] bool checks_policy() const;
    // True when finish() writes a bundle.
    [[nodiscard]] bool writes_bundle() const;

    // Streaming use, one finished flow at a time in report order (a loop over Engine::records(),
    // or an Engine sink when no report is printed): counts the flow in the attached metrics with its
    // namespaces, evaluates the policy for it at once and counts its findings. Returns how many
    // findings it raised. When observe() saw exactly the flows later given to finish(), finish()
    // reports those findings instead of evaluating again.
    std::size_t observe(const FlowRecord& f);
    // Metrics observe() feeds (flows_total, with namespaces when enriching; policy findings);
    // nullptr to stop. Build them with AuditMetricsOptions{enriches(), checks_policy()}.
    void attach_metrics(AuditMetrics* metrics);
    // false: observe() counts findings (metrics, violations()) but keeps none, so memory stays
    // flat in a never-ending run.
    void keep_findings(bool keep);
    // Violation-severity findings observe() has seen.
    [[nodiscard]] std::uint64_t violations() const;

    // --k8s with a refresh period: starts a kubectl fetch in the background when one is due, and
    // swaps the new snapshot in when it is ready (the capture loop never waits for kubectl). Call it
    // about once a second; problems go to `err` and the previous snapshot stays. No-op otherwise.
    void refresh_if_due(double now_monotonic_seconds, std::ostream& err);

    // Checks, after privileges were dropped, that the bundle's directory is still writable.
    [[nodiscard]] bool bundle_writable(std::string& err) const;
    // The flow JSON line with src_workload/dst_workload when enriching, else flow_to_json.
    [[nodiscard]] std::string flow_json(const FlowRecord& f, const ReportOptions& opt) const;
    // write_json_lines, with workloads.
    void write_json_lines(std::ostream& out, const std::vector<FlowRecord>& flows, const AuditSummary& s,
                          const ReportOptions& opt) const;

    // After the report: findings (text after a table, JSON lines after the summary line) and the
    // bundle. `evidence_files` are the captures read (or the evidence pcap written), `command_line`
    // goes into version.json. Says whether a finding was a violation, and whether the bundle could
    // not be written (reason on `err`). `flows` empty after observe() saw flows: they were streamed
    // (printed as they ended, not kept) and observe()'s findings are reported; not with a bundle.
    ComplianceResult finish(const std::vector<FlowRecord>& flows, const AuditSummary& s, const ReportOptions& opt,
                            bool json, const std::vector<std::string>& evidence_files, const std::vector<std::string>& command_line,
               std::ostream& out, std::ostream& err);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace meshproof::audit
