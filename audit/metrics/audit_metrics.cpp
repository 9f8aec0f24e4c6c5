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

std::string_view namespace_label_value(std::string_view ns) {
    if (ns == kNamespaceNode || ns == kNamespaceExternal || ns == kNamespaceOther) return ns;
    if (ns.empty() || ns.size() > 63 || ns.front() == '-' || ns.back() == '-') return kNamespaceOther;
    for (const char c : ns) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) return kNamespaceOther;
    }
    return ns;
}

AuditMetrics::AuditMetrics(std::shared_ptr<prometheus::Registry> registry, AuditMetricsOptions options)
    : registry_(std::move(registry)), options_(options) {
    using prometheus::BuildCounter;
    using prometheus::BuildGauge;
    auto& reg = *registry_;

    auto& flows = BuildCounter()
                      .Name("meshproof_flows_total")
                      .Help(options_.namespace_labels
                                ? "Finished TCP flows by verdict, application protocol and client/server namespace"
                                : "Finished TCP flows by verdict and application protocol")
                      .Register(reg);
    flows_family_ = &flows;
    auto& bytes = BuildCounter()
                      .Name("meshproof_bytes_total")
                      .Help("TCP payload bytes of finished flows, both directions, by verdict")
                      .Register(reg);
    for (const Verdict v : kAllVerdicts) {
        const auto vi = static_cast<std::size_t>(v);
        const std::string verdict(to_string(v));
        if (!options_.namespace_labels) {
            for (std::size_t p = 0; p < kProtocolLabelCount; ++p)
                flows_[vi][p] = &flows.Add({{"verdict", verdict}, {"protocol", std::string(protocol_at(p))}});
        }
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
    if (options_.policy_findings) {
        findings_family_ = &BuildCounter()
                                .Name("meshproof_policy_findings_total")
                                .Help("Policy findings (audit --policy) by rule, severity and client/server namespace")
                                .Register(reg);
    }
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

std::string_view AuditMetrics::bounded_namespace(std::string_view ns) {
    const std::string_view label = namespace_label_value(ns);
    if (label.front() == '_') return label;
    if (auto it = namespaces_seen_.find(label); it != namespaces_seen_.end()) return *it;
    if (namespaces_seen_.size() >= kMaxNamespaceLabels) return kNamespaceOther;
    return *namespaces_seen_.emplace(label).first;
}

prometheus::Counter& AuditMetrics::flow_counter(std::size_t verdict, std::size_t protocol,
                                                std::string_view src_namespace, std::string_view dst_namespace) {
    const std::string_view src = bounded_namespace(src_namespace);
    const std::string_view dst = bounded_namespace(dst_namespace);
    key_.assign(src).push_back('\0');
    key_.append(dst);
    auto it = flows_by_namespaces_.find(key_);
    if (it == flows_by_namespaces_.end()) it = flows_by_namespaces_.emplace(key_, FlowSeries{}).first;
    prometheus::Counter*& c = it->second[verdict][protocol];
    if (!c) {
        c = &flows_family_->Add({{"verdict", std::string(to_string(kAllVerdicts[verdict]))},
                                 {"protocol", std::string(protocol_at(protocol))},
                                 {"src_namespace", std::string(src)},
                                 {"dst_namespace", std::string(dst)}});
    }
    return *c;
}

void AuditMetrics::on_flow(const FlowRecord& flow) { on_flow(flow, kNamespaceExternal, kNamespaceExternal); }

void AuditMetrics::on_flow(const FlowRecord& flow, std::string_view src_namespace, std::string_view dst_namespace) {
    const auto vi = static_cast<std::size_t>(flow.verdict);
    if (vi >= kVerdictCount) return;
    const std::size_t pi = protocol_index(flow.protocol);
    count_flow(flow, options_.namespace_labels ? flow_counter(vi, pi, src_namespace, dst_namespace) : *flows_[vi][pi]);
}

void AuditMetrics::on_finding(std::string_view rule, std::string_view severity, std::string_view src_namespace,
                              std::string_view dst_namespace) {
    if (!findings_family_) return;
    const std::string_view r = safe_label_value(rule);
    const std::string_view sev = safe_label_value(severity);
    const std::string_view src = bounded_namespace(src_namespace);
    const std::string_view dst = bounded_namespace(dst_namespace);
    key_.assign(r).push_back('\0');
    key_.append(sev).push_back('\0');
    key_.append(src).push_back('\0');
    key_.append(dst);
    auto it = findings_.find(key_);
    if (it == findings_.end()) {
        prometheus::Counter& c = findings_family_->Add({{"rule", std::string(r)},
                                                        {"severity", std::string(sev)},
                                                        {"src_namespace", std::string(src)},
                                                        {"dst_namespace", std::string(dst)}});
        it = findings_.emplace(key_, &c).first;
    }
    it->second->Increment();
    ++findings_counted_;
}

void AuditMetrics::count_flow(const FlowRecord& flow, prometheus::Counter& flows) {
    const auto vi = static_cast<std::size_t>(flow.verdict);
    flows.Increment();
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
