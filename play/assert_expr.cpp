#include "play/assert_expr.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "audit/report/diff.hpp"
#include "audit/verdict/flow_record.hpp"
#include "provision/spec.hpp"

namespace meshproof::play {

namespace {

struct MetricName {
    std::string_view name;
    Metric metric;
    std::uint8_t index;
};

constexpr MetricName kAuditExtras[] = {
    {"plaintext", Metric::Plaintext, 0},
    {"encrypted", Metric::Encrypted, 0},
    {"flows", Metric::Flows, 0},
    {"secrets", Metric::Secrets, 0},
    {"packets", Metric::Packets, 0},
    {"policy violations", Metric::PolicyViolations, 0},
    {"policy warnings", Metric::PolicyWarnings, 0},
    {"policy info", Metric::PolicyInfo, 0},
    {"policy findings", Metric::PolicyFindings, 0},
};

constexpr MetricName kDiffExtras[] = {
    {"secrets-gone", Metric::SecretsGone, 0},
    {"groups", Metric::Groups, 0},
};

std::vector<MetricName> table(AssertTarget target) {
    std::vector<MetricName> out;
    if (target == AssertTarget::Audit) {
        for (audit::Verdict v : audit::kAllVerdicts)
            out.push_back({audit::to_string(v), Metric::Verdict, static_cast<std::uint8_t>(v)});
        out.insert(out.end(), std::begin(kAuditExtras), std::end(kAuditExtras));
    } else {
        for (std::size_t i = 0; i < audit::kFlowChangeCount; ++i) {
            const auto c = static_cast<audit::FlowChange>(i);
            out.push_back({audit::to_string(c), Metric::Change, static_cast<std::uint8_t>(i)});
        }
        out.insert(out.end(), std::begin(kDiffExtras), std::end(kDiffExtras));
    }
    return out;
}

// "Policy  Violations" and "policy-violations" both become "policy-violations".
std::string normalize(std::string_view text) {
    std::string out;
    bool space = false;
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c)) || c == '_') {
            space = !out.empty();
            continue;
        }
        if (space) out += '-';
        space = false;
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

}  // namespace

std::vector<std::string> metric_names(AssertTarget target) {
    std::vector<std::string> out;
    for (const auto& m : table(target)) out.emplace_back(m.name);
    return out;
}

bool is_policy_metric(Metric m) {
    return m == Metric::PolicyViolations || m == Metric::PolicyWarnings || m == Metric::PolicyInfo ||
           m == Metric::PolicyFindings;
}

tl::expected<AssertExpr, std::string> parse_assert_expr(std::string_view text, AssertTarget target) {
    const std::string_view body = trim(text);
    const auto op_at = body.find_first_of("=!<>");
    if (op_at == std::string_view::npos)
        return tl::unexpected(std::string("expected METRIC OP NUMBER (OP: == != < <= > >=), e.g. 'plaintext-served == 0'"));
    AssertExpr e;
    e.text = std::string(body);
    const std::string_view rest = body.substr(op_at);
    std::size_t op_len = 1;
    if (rest.size() >= 2 && rest[1] == '=') {
        op_len = 2;
        switch (rest[0]) {
            case '=': e.op = CompareOp::Eq; break;
            case '!': e.op = CompareOp::Ne; break;
            case '<': e.op = CompareOp::Le; break;
            default: e.op = CompareOp::Ge; break;
        }
    } else if (rest[0] == '<') {
        e.op = CompareOp::Lt;
    } else if (rest[0] == '>') {
        e.op = CompareOp::Gt;
    } else {
        return tl::unexpected("'" + std::string(rest.substr(0, 1)) + "' is not a comparison (use == != < <= > >=)");
    }

    const std::string metric_text = std::string(trim(body.substr(0, op_at)));
    if (metric_text.empty()) return tl::unexpected("no metric before '" + std::string(to_string(e.op)) + "'");
    const auto names = table(target);
    const std::string wanted = normalize(metric_text);
    bool found = false;
    for (const auto& m : names) {
        if (normalize(m.name) == wanted) {
            e.metric = m.metric;
            e.index = m.index;
            found = true;
            break;
        }
    }
    if (!found) {
        std::vector<std::string> storage;
        for (const auto& m : names) storage.push_back(normalize(m.name));
        std::vector<std::string_view> candidates(storage.begin(), storage.end());
        std::string msg = "unknown metric '" + metric_text + "' for " +
                          (target == AssertTarget::Audit ? "an audit" : "a diff");
        const std::string near = provision::nearest_key(wanted, candidates);
        if (!near.empty()) {
            const auto i = static_cast<std::size_t>(std::find(storage.begin(), storage.end(), near) - storage.begin());
            msg += " (did you mean '" + std::string(names[i].name) + "'?)";
        } else {
            std::string all;
            for (const auto& m : names) all += (all.empty() ? "" : ", ") + std::string(m.name);
            msg += " (expected one of: " + all + ")";
        }
        return tl::unexpected(msg);
    }

    const std::string_view number = trim(rest.substr(op_len));
    std::uint64_t v = 0;
    const auto* end = number.data() + number.size();
    const auto [ptr, ec] = std::from_chars(number.data(), end, v);
    if (number.empty() || ec != std::errc() || ptr != end)
        return tl::unexpected("expected a whole number after '" + std::string(to_string(e.op)) + "', got '" +
                              std::string(number) + "'");
    e.value = v;
    return e;
}

bool compare(std::uint64_t actual, CompareOp op, std::uint64_t expected) {
    switch (op) {
        case CompareOp::Eq: return actual == expected;
        case CompareOp::Ne: return actual != expected;
        case CompareOp::Lt: return actual < expected;
        case CompareOp::Le: return actual <= expected;
        case CompareOp::Gt: return actual > expected;
        case CompareOp::Ge: return actual >= expected;
    }
    return false;
}

}  // namespace meshproof::play
