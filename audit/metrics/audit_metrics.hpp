// Audit findings as Prometheus metrics (prometheus-cpp). Every family and child a flow can touch is
// created up front, so counting a finished flow is two array lookups and two atomic adds (with
// namespace labels: one map search by a reused key, children cached). Labels are low-cardinality by
// construction: verdicts, a closed list of protocols, secret kinds and parser names from our own
// code, policy rule ids, Kubernetes namespaces (capped); never workloads, addresses, SNI or
// fingerprints. docs/metrics.md documents each family.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "audit/report/audit_summary.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit {

// FlowRecord.protocol values that are label values as they are; anything else becomes "other".
inline constexpr std::array<std::string_view, 17> kMetricProtocols = {
    "tls",  "http", "h2c",  "grpc", "redis", "postgresql", "mysql", "dns", "mqtt",
    "smtp", "imap", "pop3", "ftp",  "ssh",   "socks",      "text",  "unknown"};
inline constexpr std::size_t kProtocolLabelCount = kMetricProtocols.size() + 1;  // + "other"

// src_namespace/dst_namespace values that are not namespaces (audit/k8s namespace_label): a node
// address, an address the snapshot does not know, and namespaces past the cardinality cap or not
// shaped like one. Namespace names cannot start with '_', so these never collide with a real one.
inline constexpr std::string_view kNamespaceNode = "_node";
inline constexpr std::string_view kNamespaceExternal = "_external";
inline constexpr std::string_view kNamespaceOther = "_other";
// Distinct namespace label values kept before new ones become "_other" (a guard: a cluster has tens).
inline constexpr std::size_t kMaxNamespaceLabels = 256;

// The label value for a FlowRecord.protocol.
std::string_view protocol_label(std::string_view protocol);
// Label value for names that come from our parsers (secret kinds, parser names): kept when short and
// made of [a-z0-9_-], else "other" (a guard, not an expected path).
std::string_view safe_label_value(std::string_view name);
// A src_namespace/dst_namespace value: a DNS-1123 label ([a-z0-9-], at most 63) or one of the '_'
// values above is kept, anything else is "_other".
std::string_view namespace_label_value(std::string_view ns);

struct AuditMetricsOptions {
    // meshproof_flows_total gets src_namespace and dst_namespace (flows then go through the on_flow
    // overload that takes them): set when flows are enriched with a cluster snapshot.
    bool namespace_labels = false;
    // Registers meshproof_policy_findings_total{rule,severity,src_namespace,dst_namespace} (--policy).
    bool policy_findings = false;
};

class AuditMetrics {
public:
    // Registers the meshproof_* families in `registry` (which may hold other families too).
    explicit AuditMetrics(std::shared_ptr<prometheus::Registry> registry, AuditMetricsOptions options = {});
    AuditMetrics(const AuditMetrics&) = delete;
    AuditMetrics& operator=(const AuditMetrics&) = delete;

    // One finished flow: flows_total, bytes_total, plaintext_secrets_total, encrypted_flow_ratio.
    // Call it exactly once per flow (an Engine sink, or a loop over Engine::records()).
    // With namespace_labels, the flow counts under src_namespace = dst_namespace = "_external".
    void on_flow(const FlowRecord& flow);
    // The same with the flow's namespaces (audit/k8s namespace_label of each side); without
    // namespace_labels they are ignored.
    void on_flow(const FlowRecord& flow, std::string_view src_namespace, std::string_view dst_namespace);

    // One policy finding (audit/k8s): rule id, severity ("info", "warning", "violation") and the
    // namespaces of the finding's flow. Ignored without policy_findings. A label tuple's first
    // finding creates its series.
    void on_finding(std::string_view rule, std::string_view severity, std::string_view src_namespace,
                    std::string_view dst_namespace);

    // The run's counters (packets, drops, evictions, parse outcomes, active flows). The summary's totals
    // are cumulative for one engine, so counters advance by what changed since the previous call;
    // use one AuditMetrics per engine. Also stamps audit_last_run_timestamp_seconds with now_unix.
    void update_from_summary(const AuditSummary& summary, double now_unix);
    void update_from_summary(const AuditSummary& summary);  // now = the system clock

    [[nodiscard]] std::uint64_t flows_counted() const { return flows_counted_; }
    [[nodiscard]] std::uint64_t findings_counted() const { return findings_counted_; }
    [[nodiscard]] const AuditMetricsOptions& options() const { return options_; }
    [[nodiscard]] const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

private:
    prometheus::Counter& secret_counter(std::string_view kind);
    prometheus::Counter& flow_counter(std::size_t verdict, std::size_t protocol, std::string_view src_namespace,
                                      std::string_view dst_namespace);
    std::string_view bounded_namespace(std::string_view ns);
    void count_flow(const FlowRecord& flow, prometheus::Counter& flows);
    void update_ratio();

    std::shared_ptr<prometheus::Registry> registry_;
    AuditMetricsOptions options_;
    prometheus::Family<prometheus::Counter>* flows_family_ = nullptr;
    prometheus::Family<prometheus::Counter>* findings_family_ = nullptr;
    prometheus::Family<prometheus::Counter>* secrets_family_ = nullptr;
    prometheus::Family<prometheus::Counter>* outcomes_family_ = nullptr;

    std::array<std::array<prometheus::Counter*, kProtocolLabelCount>, kVerdictCount> flows_{};
    std::array<prometheus::Counter*, kVerdictCount> bytes_{};
    std::map<std::string, prometheus::Counter*, std::less<>> secrets_;
    // namespace_labels: per "SRC\0DST", the verdict x protocol children created so far (lazily:
    // pre-creating every pair would be namespaces^2 x 144 series).
    using FlowSeries = std::array<std::array<prometheus::Counter*, kProtocolLabelCount>, kVerdictCount>;
    std::map<std::string, FlowSeries, std::less<>> flows_by_namespaces_;
    std::map<std::string, prometheus::Counter*, std::less<>> findings_;  // "RULE\0SEVERITY\0SRC\0DST"
    std::set<std::string, std::less<>> namespaces_seen_;                 // at most kMaxNamespaceLabels
    std::string key_;  // reused lookup key: no allocation per flow once the series exist
    prometheus::Counter* packets_ = nullptr;
    prometheus::Counter* kernel_dropped_ = nullptr;
    prometheus::Counter* interface_dropped_ = nullptr;
    prometheus::Gauge* flows_active_ = nullptr;
    prometheus::Counter* flows_evicted_ = nullptr;
    prometheus::Gauge* last_run_ = nullptr;
    prometheus::Gauge* encrypted_ratio_ = nullptr;

    struct OutcomeSeries {
        std::array<prometheus::Counter*, kParseOutcomeCount> counters{};
        OutcomeCounts seen{};
    };
    std::map<std::string, OutcomeSeries, std::less<>> outcomes_;

    std::uint64_t flows_counted_ = 0, encrypted_flows_ = 0, plaintext_flows_ = 0, findings_counted_ = 0;
    // Summary totals already turned into counter increments.
    std::uint64_t seen_packets_ = 0, seen_kernel_dropped_ = 0, seen_interface_dropped_ = 0, seen_evicted_ = 0;
};

}  // namespace meshproof::audit
