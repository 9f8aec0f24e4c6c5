// Audit findings as Prometheus metrics (prometheus-cpp). Every family and child a flow can touch is
// created up front, so counting a finished flow is two array lookups and two atomic adds. Labels are
// low-cardinality by construction: verdicts, a closed list of protocols, secret kinds and parser names
// from our own code, never addresses, SNI or fingerprints. docs/metrics.md documents each family.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
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

// The label value for a FlowRecord.protocol.
std::string_view protocol_label(std::string_view protocol);
// Label value for names that come from our parsers (secret kinds, parser names): kept when short and
// made of [a-z0-9_-], else "other" (a guard, not an expected path).
std::string_view safe_label_value(std::string_view name);

class AuditMetrics {
public:
    // Registers the meshproof_* families in `registry` (which may hold other families too).
    explicit AuditMetrics(std::shared_ptr<prometheus::Registry> registry);
    AuditMetrics(const AuditMetrics&) = delete;
    AuditMetrics& operator=(const AuditMetrics&) = delete;

    // One finished flow: flows_total, bytes_total, plaintext_secrets_total, encrypted_flow_ratio.
    // Call it exactly once per flow (an Engine sink, or a loop over Engine::records()).
    void on_flow(const FlowRecord& flow);

    // The run's counters (packets, drops, evictions, parse outcomes, active flows). The summary's totals
    // are cumulative for one engine, so counters advance by what changed since the previous call;
    // use one AuditMetrics per engine. Also stamps audit_last_run_timestamp_seconds with now_unix.
    void update_from_summary(const AuditSummary& summary, double now_unix);
    void update_from_summary(const AuditSummary& summary);  // now = the system clock

    [[nodiscard]] std::uint64_t flows_counted() const { return flows_counted_; }
    [[nodiscard]] const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

private:
    prometheus::Counter& secret_counter(std::string_view kind);
    void update_ratio();

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>* secrets_family_ = nullptr;
    prometheus::Family<prometheus::Counter>* outcomes_family_ = nullptr;

    std::array<std::array<prometheus::Counter*, kProtocolLabelCount>, kVerdictCount> flows_{};
    std::array<prometheus::Counter*, kVerdictCount> bytes_{};
    std::map<std::string, prometheus::Counter*, std::less<>> secrets_;
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

    std::uint64_t flows_counted_ = 0, encrypted_flows_ = 0, plaintext_flows_ = 0;
    // Summary totals already turned into counter increments.
    std::uint64_t seen_packets_ = 0, seen_kernel_dropped_ = 0, seen_interface_dropped_ = 0, seen_evicted_ = 0;
};

}  // namespace meshproof::audit
