// What a playbook run keeps between steps: named audits (flows, totals, workload names, policy
// findings) and named diffs, and how assert expressions read them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/k8s/policy_check.hpp"
#include "audit/k8s/workload_index.hpp"
#include "audit/report/audit_summary.hpp"
#include "audit/report/diff.hpp"
#include "audit/verdict/flow_record.hpp"
#include "play/playbook.hpp"

namespace meshproof::play {

struct AuditResult {
    std::string name;
    std::string source;                       // "lab bridge br0", "interface cni0", "2 capture files"
    std::vector<audit::FlowRecord> records;
    audit::AuditSummary summary;
    audit::EndpointNames names;               // workload names for diffs and reports
    std::shared_ptr<const audit::k8s::WorkloadIndex> index;  // set with a snapshot: workloads in reports
    std::optional<audit::k8s::PolicyReport> policy;
};

struct DiffResult {
    std::string name;
    std::string before, after;  // audit names
    audit::FlowDiff diff;
    audit::EndpointNames names;
};

// The value an expression reads; nullopt when the audit has no policy report (validation prevents it).
std::optional<std::uint64_t> metric_value(const AssertExpr& e, const AuditResult& a);
std::uint64_t metric_value(const AssertExpr& e, const DiffResult& d);

// Secrets counted as the summary does (every finding, both directions).
std::uint64_t secret_count(const std::vector<audit::FlowRecord>& records);

}  // namespace meshproof::play
