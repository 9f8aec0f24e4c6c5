#include "play/play_results.hpp"

namespace meshproof::play {

std::uint64_t secret_count(const std::vector<audit::FlowRecord>& records) {
    std::uint64_t n = 0;
    for (const auto& f : records) n += f.secrets.size();
    return n;
}

std::optional<std::uint64_t> metric_value(const AssertExpr& e, const AuditResult& a) {
    auto count_if = [&](auto pred) {
        std::uint64_t n = 0;
        for (const auto& f : a.records) n += pred(f.verdict) ? 1 : 0;
        return n;
    };
    auto severity = [&](audit::k8s::Severity s) -> std::optional<std::uint64_t> {
        if (!a.policy) return std::nullopt;
        return a.policy->by_severity[static_cast<std::size_t>(s)];
    };
    switch (e.metric) {
        case Metric::Verdict:
            return count_if([&](audit::Verdict v) { return static_cast<std::uint8_t>(v) == e.index; });
        case Metric::Plaintext: return count_if(audit::is_plaintext);
        case Metric::Encrypted: return count_if(audit::is_encrypted);
        case Metric::Flows: return a.records.size();
        case Metric::Secrets: return secret_count(a.records);
        case Metric::Packets: return a.summary.packets;
        case Metric::PolicyViolations: return severity(audit::k8s::Severity::Violation);
        case Metric::PolicyWarnings: return severity(audit::k8s::Severity::Warning);
        case Metric::PolicyInfo: return severity(audit::k8s::Severity::Info);
        case Metric::PolicyFindings:
            if (!a.policy) return std::nullopt;
            return a.policy->findings.size();
        case Metric::Change:
        case Metric::SecretsGone:
        case Metric::Groups: return std::nullopt;
    }
    return std::nullopt;
}

std::uint64_t metric_value(const AssertExpr& e, const DiffResult& d) {
    switch (e.metric) {
        case Metric::Change: return d.diff.changes[e.index];
        case Metric::SecretsGone: return d.diff.secrets_gone.size();
        case Metric::Groups: return d.diff.groups.size();
        default: return 0;
    }
}

}  // namespace meshproof::play
