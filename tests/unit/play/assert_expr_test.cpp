// Assert expressions: parsing (metrics, operators, numbers, typos) and evaluation over audits and diffs.
#include <doctest/doctest.h>

#include "audit/report/diff.hpp"
#include "play/assert_expr.hpp"
#include "play/play_results.hpp"

using namespace meshproof;
using namespace meshproof::play;

namespace {

audit::IpAddress ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    audit::IpAddress ip;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
}

audit::FlowRecord flow(audit::Verdict v, std::uint8_t client, std::uint8_t server, std::uint16_t port, int secrets = 0) {
    audit::FlowRecord f;
    f.client_ip = ip4(10, 244, 1, client);
    f.server_ip = ip4(10, 244, 2, server);
    f.client_port = 40000;
    f.server_port = port;
    f.verdict = v;
    for (int i = 0; i < secrets; ++i) f.secrets.push_back({"bearer-token", "http.authorization", {}, "tok"});
    return f;
}

AssertExpr expr(std::string_view text, AssertTarget target = AssertTarget::Audit) {
    auto e = parse_assert_expr(text, target);
    REQUIRE_MESSAGE(e, (e ? "" : e.error()));
    return *e;
}

}  // namespace

TEST_CASE("parsing assert expressions") {
    SUBCASE("every operator") {
        CHECK(expr("flows == 2").op == CompareOp::Eq);
        CHECK(expr("flows != 2").op == CompareOp::Ne);
        CHECK(expr("flows < 2").op == CompareOp::Lt);
        CHECK(expr("flows <= 2").op == CompareOp::Le);
        CHECK(expr("flows > 2").op == CompareOp::Gt);
        CHECK(expr("flows>=2").op == CompareOp::Ge);
        CHECK(expr("  flows   >=   17 ").value == 17);
    }
    SUBCASE("verdicts, groups and policy metrics; spaces, dashes and case do not matter") {
        const auto v = expr("plaintext-served == 0");
        CHECK(v.metric == Metric::Verdict);
        CHECK(v.index == static_cast<std::uint8_t>(audit::Verdict::PlaintextServed));
        CHECK(expr("istio-mtls >= 1").index == static_cast<std::uint8_t>(audit::Verdict::IstioMtls));
        CHECK(expr("plaintext == 0").metric == Metric::Plaintext);
        CHECK(expr("policy violations == 0").metric == Metric::PolicyViolations);
        CHECK(expr("Policy-Violations == 0").metric == Metric::PolicyViolations);
        CHECK(expr("policy   warnings <= 3").metric == Metric::PolicyWarnings);
        CHECK(expr("policy_findings == 0").metric == Metric::PolicyFindings);
        CHECK(expr("still-plaintext == 0", AssertTarget::Diff).metric == Metric::Change);
        CHECK(expr("still-plaintext == 0", AssertTarget::Diff).index == static_cast<std::uint8_t>(audit::FlowChange::StillPlaintext));
        CHECK(expr("secrets-gone >= 1", AssertTarget::Diff).metric == Metric::SecretsGone);
    }
    SUBCASE("errors") {
        auto e = parse_assert_expr("plaintext-servd == 0", AssertTarget::Audit);
        REQUIRE_FALSE(e);
        CHECK(e.error() == "unknown metric 'plaintext-servd' for an audit (did you mean 'plaintext-served'?)");
        e = parse_assert_expr("secured >= 1", AssertTarget::Audit);
        REQUIRE_FALSE(e);
        CHECK(e.error().find("unknown metric 'secured' for an audit (expected one of: istio-mtls, ") == 0);
        e = parse_assert_expr("istio-mtls >= 1", AssertTarget::Diff);
        REQUIRE_FALSE(e);
        CHECK(e.error().find("unknown metric 'istio-mtls' for a diff") == 0);
        e = parse_assert_expr("flows", AssertTarget::Audit);
        REQUIRE_FALSE(e);
        CHECK(e.error().find("expected METRIC OP NUMBER") == 0);
        e = parse_assert_expr(">= 1", AssertTarget::Audit);
        REQUIRE_FALSE(e);
        CHECK(e.error() == "no metric before '>='");
        e = parse_assert_expr("flows >= -1", AssertTarget::Audit);
        REQUIRE_FALSE(e);
        CHECK(e.error() == "expected a whole number after '>=', got '-1'");
        e = parse_assert_expr("flows >= 1 2", AssertTarget::Audit);
        REQUIRE_FALSE(e);
        CHECK(e.error() == "expected a whole number after '>=', got '1 2'");
        e = parse_assert_expr("flows ! 1", AssertTarget::Audit);
        REQUIRE_FALSE(e);
        CHECK(e.error() == "'!' is not a comparison (use == != < <= > >=)");
    }
    SUBCASE("the metric lists") {
        const auto audit_names = metric_names(AssertTarget::Audit);
        CHECK(audit_names.front() == "istio-mtls");
        CHECK(std::find(audit_names.begin(), audit_names.end(), "policy violations") != audit_names.end());
        const auto diff_names = metric_names(AssertTarget::Diff);
        CHECK(std::find(diff_names.begin(), diff_names.end(), "still-plaintext") != diff_names.end());
        CHECK(std::find(diff_names.begin(), diff_names.end(), "istio-mtls") == diff_names.end());
    }
}

TEST_CASE("comparisons") {
    CHECK(compare(0, CompareOp::Eq, 0));
    CHECK_FALSE(compare(1, CompareOp::Eq, 0));
    CHECK(compare(1, CompareOp::Ne, 0));
    CHECK(compare(1, CompareOp::Lt, 2));
    CHECK_FALSE(compare(2, CompareOp::Lt, 2));
    CHECK(compare(2, CompareOp::Le, 2));
    CHECK(compare(3, CompareOp::Gt, 2));
    CHECK_FALSE(compare(2, CompareOp::Gt, 2));
    CHECK(compare(2, CompareOp::Ge, 2));
}

TEST_CASE("metric values over an audit and a diff") {
    AuditResult before;
    before.records = {flow(audit::Verdict::PlaintextServed, 10, 20, 8080, 2), flow(audit::Verdict::PlaintextServed, 20, 30, 6379, 1),
                      flow(audit::Verdict::PlaintextRejected, 11, 20, 8080)};
    before.summary.packets = 42;
    AuditResult after;
    after.records = {flow(audit::Verdict::IstioMtls, 10, 20, 8080), flow(audit::Verdict::IstioMtls, 20, 30, 6379),
                     flow(audit::Verdict::Tls, 12, 20, 443), flow(audit::Verdict::Unknown, 13, 20, 80)};

    CHECK(metric_value(expr("plaintext-served == 0"), before) == 2u);
    CHECK(metric_value(expr("plaintext-rejected == 0"), before) == 1u);
    CHECK(metric_value(expr("plaintext == 0"), before) == 3u);
    CHECK(metric_value(expr("secrets == 0"), before) == 3u);
    CHECK(metric_value(expr("packets == 0"), before) == 42u);
    CHECK(metric_value(expr("flows == 0"), after) == 4u);
    CHECK(metric_value(expr("istio-mtls == 0"), after) == 2u);
    CHECK(metric_value(expr("encrypted == 0"), after) == 3u);
    CHECK(metric_value(expr("plaintext == 0"), after) == 0u);
    // No policy report: no value (validation keeps such asserts out of playbooks).
    CHECK_FALSE(metric_value(expr("policy violations == 0"), after).has_value());
    after.policy.emplace();
    after.policy->by_severity = {1, 2, 3};
    after.policy->findings.resize(6);
    CHECK(metric_value(expr("policy violations == 0"), after) == 3u);
    CHECK(metric_value(expr("policy warnings == 0"), after) == 2u);
    CHECK(metric_value(expr("policy info == 0"), after) == 1u);
    CHECK(metric_value(expr("policy findings == 0"), after) == 6u);

    DiffResult d;
    d.diff = audit::diff_audits(before.records, after.records);
    CHECK(metric_value(expr("secured == 0", AssertTarget::Diff), d) == 2u);
    CHECK(metric_value(expr("still-plaintext == 0", AssertTarget::Diff), d) == 0u);
    CHECK(metric_value(expr("secrets-gone == 0", AssertTarget::Diff), d) >= 2u);
    CHECK(metric_value(expr("groups == 0", AssertTarget::Diff), d) == d.diff.groups.size());
    CHECK(metric_value(expr("new == 0", AssertTarget::Diff), d) == 1u);
}
