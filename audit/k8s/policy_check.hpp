// Policy versus wire: what PeerAuthentications and the audit policy declare, checked against each
// flow's verdict. Pure: flows + snapshot + policy in, findings out.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "audit/k8s/audit_policy.hpp"
#include "audit/k8s/peer_authentication.hpp"
#include "audit/k8s/workload_index.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit::k8s {

// Which flow a finding is about: its position in the audited flow list and how reports print it.
struct FlowRef {
    std::size_t index = 0;
    std::string client, server;   // "IP:PORT"
    double first_seen = 0;
    Verdict verdict = Verdict::Unknown;
    std::string protocol;
};

struct Finding {
    Severity severity = Severity::Info;
    std::string rule;                      // one of kAllRules
    std::string message;
    FlowRef flow;
    FlowWorkloads workloads;
    std::optional<EffectiveMtls> declared; // the server's effective mTLS mode, when the rule used it
    std::string requirement;               // requirement-* rules: the requirement's name
};

struct PolicyReport {
    std::vector<Finding> findings;
    std::map<std::string, std::size_t> waived;  // per exception name: findings it waived
    std::size_t flows_checked = 0;
    std::size_t flows_with_workload = 0;        // at least one side found in the snapshot
    std::array<std::size_t, 3> by_severity{};   // indexed by Severity

    [[nodiscard]] bool has_violations() const { return by_severity[static_cast<std::size_t>(Severity::Violation)] > 0; }
};

// Server ports Istio leaves in plaintext by design (merged metrics, health, Envoy stats): meshed
// pods talking to them are not a meshed-not-istio-mtls finding.
inline constexpr std::array<std::uint16_t, 3> kIstioPlaintextPorts = {15020, 15021, 15090};

// The effective mode for the pods behind a resolved server: the weakest among a service's backends,
// nullopt when no pod (unknown address, node, hostNetwork pod) stands behind it.
std::optional<EffectiveMtls> declared_mtls(const WorkloadIndex& index, const ResolvedEndpoint& server);

// SPIFFE IDs are checked against policy.trust_domain, else the snapshot's (the istio ConfigMap, else
// cluster.local).
PolicyReport evaluate(const std::vector<FlowRecord>& flows, const WorkloadIndex& index, const AuditPolicy& policy);

// The same checks one flow at a time, as flows finish (an Engine sink), for runs that keep no flow
// list (`audit serve`). Feeding evaluate()'s flows in order gives exactly evaluate()'s report.
// `index` and `policy` must outlive the evaluator.
class PolicyEvaluator {
public:
    PolicyEvaluator(const WorkloadIndex& index, const AuditPolicy& policy);
    ~PolicyEvaluator();
    PolicyEvaluator(const PolicyEvaluator&) = delete;
    PolicyEvaluator& operator=(const PolicyEvaluator&) = delete;

    // Checks one flow; its FlowRef.index is the number of flows observed before it. The findings are
    // appended to report().findings; returns how many were added (they are the last ones).
    std::size_t observe(const FlowRecord& flow);

    [[nodiscard]] const PolicyReport& report() const { return report_; }
    // Forgets the findings kept so far (counters, waivers and flow indexes go on): a long run that
    // only counts findings keeps its memory flat.
    void clear_findings() { report_.findings.clear(); }
    // The report so far; the evaluator starts over (flow index 0).
    PolicyReport take_report();

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
    PolicyReport report_;
    std::size_t next_index_ = 0;
};

// {"type":"finding",...} and {"type":"policy_summary",...}: one JSON object each, no newline.
std::string finding_to_json(const Finding& f);
std::string policy_summary_to_json(const PolicyReport& report);
void write_findings_json(std::ostream& out, const PolicyReport& report);
// Findings grouped by (rule, client workload, server workload, port, verdict), worst first.
void write_findings_text(std::ostream& out, const PolicyReport& report, bool color);

}  // namespace meshproof::audit::k8s
