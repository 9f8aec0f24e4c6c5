#include "audit/metrics/audit_metrics.hpp"

#include <chrono>
#include <cmath>
#include <limits>

namespace meshproof::audit {

namespace {

// Secret kinds our classifiers emit (audit/classify): created up front so a first leak is an increase
// from 0, which rate()/increase() can see (a series that appears at 1 looks like no change).
constexpr std::string_view kKnownSecretKinds[] = {
    "authorization", "proxy-authorization", "cookie",        "set-cookie",          "api-key",
    "token",         "password",            "secret",        "basic-auth",          "ftp-password",
    "imap-password", "mqtt-password",       "mysql-auth",    "pop3-apop",           "pop3-password",
    "postgresql-md5", "postgresql-password", "postgresql-scram-proof", "redis-auth", "socks-password"};

// New kinds beyond the known ones are rare; past this many they share "other".
constexpr std::size_t kMaxSecretKinds = 64;

constexpr std::string_view kOther = "other";

void advance(prometheus::Counter& c, std::uint64_t& seen, std::uint64_t total) {
    if (total > seen) {
        c.Increment(static_cast<double>(total - seen));
        seen = total;
    }
}

std::size_t protocol_index(std::string_view protocol) {
    for (std::size_t i = 0; i < kMetricProtocols.size(); ++i) {
        if (kMetricProtocols[i] == protocol) return i;
    }
    return kMetricProtocols.size();  // "other"
}

std::string_view protocol_at(std::size_t i) { return i < kMetricProtocols.size() ? kMetricProtocols[i] : kOther; }

}  // namespace

std::string_view protocol_label(std::string_view protocol) { return protocol_at(protocol_index(protocol)); }

std::string_view safe_label_value(std::string_view name) {
    if (name.empty() || name.size() > 40) return kOther;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return kOther;
    }
    return name;
}

AuditMetrics::AuditMetrics(std::shared_ptr<prometheus::Registry> registry) : registry_(std::move(registry)) {
    using prometheus::BuildCounter;
    using prometheus::BuildGauge;
    auto& reg = *registry_;

    auto& flows = BuildCounter()
                      .Name("meshproof_flows_total")
                      .Help("Finished TCP flows by verdict and application protocol")
                      .Register(reg);
    auto& bytes = BuildCounter()
                      .Name("meshproof_bytes_total")
                      .Help("TCP payload bytes of finished flows, both directions, by verdict")
                      .Register(reg);
    for (const Verdict v : kAllVerdicts) {
        const auto vi = static_cast<std::size_t>(v);
        const std::string verdict(to_string(v));
        for (std::size_t p = 0; p < kProtocolLabelCount; ++p)
            flows_[vi][p] = &flows.Add({{"verdict", verdict}, {"protocol", std::string(protocol_at(p))}});
        bytes_[vi] = &bytes.Add({{"verdict", verdict}});
    }

    secrets_family_ = &BuildCounter()
                           .Name("meshproof_plaintext_secrets_total")
                           .Help("Secrets (credentials, tokens, cookies) seen in plaintext flows, by kind")
                           .Register(reg);
    for (const auto kind : kKnownSecretKinds) secret_counter(kind);

    packets_ = &BuildCounter()
                    .Name("meshproof_capture_packets_total")
                    .Help("Packets read from the capture (interface or files)")
                    .Register(reg)
                    .Add({});
    auto& dropped = BuildCounter()
                        .Name("meshproof_capture_dropped_packets_total")
                        .Help("Packets lost before meshproof saw them: where=kernel (capture buffer full) or interface")
                        .Register(reg);
    kernel_dropped_ = &dropped.Add({{"where", "kernel"}});
    interface_dropped_ = &dropped.Add({{"where", "interface"}});
    flows_active_ = &BuildGauge()
                         .Name("meshproof_flows_active")
                         .Help("TCP flows currently tracked (not finished yet)")
                         .Register(reg)
                         .Add({});
    flows_evicted_ = &BuildCounter()
                          .Name("meshproof_flows_evicted_total")
                          .Help("Flows evicted because the flow table was full (reported early)")
                          .Register(reg)
                          .Add({});
    outcomes_family_ = &BuildCounter()
                            .Name("meshproof_parse_outcomes_total")
                            .Help("Parser runs by parser and outcome (ok, need_more, not_this_protocol, malformed, too_large)")
                            .Register(reg);
    last_run_ = &BuildGauge()
                     .Name("meshproof_audit_last_run_timestamp_seconds")
                     .Help("Unix time of the last audit update (end of a one-shot run, or last refresh when serving)")
                     .Register(reg)
                     .Add({});
    encrypted_ratio_ = &BuildGauge()
                            .Name("meshproof_encrypted_flow_ratio")
                            .Help("Encrypted flows / (encrypted + plaintext flows); NaN before any such flow")
                            .Register(reg)
                            .Add({});
    encrypted_ratio_->Set(std::numeric_limits<double>::quiet_NaN());
    BuildGauge()
        .Name("meshproof_build_info")
        .Help("Always 1; the label carries the meshproof version")
        .Register(reg)
        .Add({{"version", MESHPROOF_VERSION}})
        .Set(1);
}

prometheus::Counter& AuditMetrics::secret_counter(std::string_view kind) {
    std::string_view label = safe_label_value(kind);
    if (auto it = secrets_.find(label); it != secrets_.end()) return *it->second;
    if (secrets_.size() >= kMaxSecretKinds) label = kOther;
    if (auto it = secrets_.find(label); it != secrets_.end()) return *it->second;
    prometheus::Counter& c = secrets_family_->Add({{"kind", std::string(label)}});
    secrets_.emplace(std::string(label), &c);
    return c;
}

void AuditMetrics::on_flow(const FlowRecord& flow) {
    const auto vi = static_cast<std::size_t>(flow.verdict);
    if (vi >= kVerdictCount) return;
    flows_[vi][protocol_index(flow.protocol)]->Increment();
    const std::uint64_t bytes = flow.bytes[0] + flow.bytes[1];
    if (bytes) bytes_[vi]->Increment(static_cast<double>(bytes));
    for (const auto& s : flow.secrets) secret_counter(s.kind).Increment();
    ++flows_counted_;
    if (is_encrypted(flow.verdict)) ++encrypted_flows_;
    else if (is_plaintext(flow.verdict)) ++plaintext_flows_;
    update_ratio();
}

void AuditMetrics::update_ratio() {
    const std::uint64_t judged = encrypted_flows_ + plaintext_flows_;
    encrypted_ratio_->Set(judged ? static_cast<double>(encrypted_flows_) / static_cast<double>(judged)
                                 : std::numeric_limits<double>::quiet_NaN());
}

void AuditMetrics::update_from_summary(const AuditSummary& s, double now_unix) {
    advance(*packets_, seen_packets_, s.packets);
    advance(*kernel_dropped_, seen_kernel_dropped_, s.kernel_dropped);
    advance(*interface_dropped_, seen_interface_dropped_, s.interface_dropped);
    advance(*flows_evicted_, seen_evicted_, s.flows_evicted);
    flows_active_->Set(static_cast<double>(s.flows_active));
    for (const auto& [parser, counts] : s.parse_outcomes) {
        auto it = outcomes_.find(parser);
        if (it == outcomes_.end()) {
            OutcomeSeries series;
            const std::string label(safe_label_value(parser));
            for (std::size_t o = 0; o < kParseOutcomeCount; ++o) {
                series.counters[o] = &outcomes_family_->Add(
                    {{"parser", label}, {"outcome", std::string(to_string(static_cast<ParseOutcome>(o)))}});
            }
            it = outcomes_.emplace(parser, series).first;
        }
        for (std::size_t o = 0; o < kParseOutcomeCount; ++o) advance(*it->second.counters[o], it->second.seen.n[o], counts.n[o]);
    }
    last_run_->Set(now_unix);
}

void AuditMetrics::update_from_summary(const AuditSummary& s) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    update_from_summary(s, std::chrono::duration<double>(now).count());
}

}  // namespace meshproof::audit
