// PolicyEvaluator (one flow at a time, as `audit serve` and `audit capture` use it) must give exactly
// what evaluate() gives for the same flows in the same order.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "audit/k8s/policy_check.hpp"
#include "k8s_test_helpers.hpp"

using namespace meshproof::audit;
using namespace meshproof::audit::k8s;
using namespace meshproof::audit::k8s::testing;

namespace {

AuditPolicy parse_policy(std::string_view yaml) {
    auto p = parse_audit_policy(yaml, "test-policy.yaml");
    REQUIRE(p.has_value());
    return std::move(*p);
}

// Requirements, exceptions and severity overrides, so every code path that adds or waives runs.
constexpr std::string_view kPolicy = R"(version: 1
requirements:
  - name: payments-mesh
    namespaces: [payments]
    exceptPorts: [9102]
    require: istio-mtls
  - name: everything-encrypted
    namespaces: ["*"]
    require: encrypted
    severity: warning
exceptions:
  - name: dns
    ports: [53]
  - name: kubelet-probes
    fromNodes: true
    ports: [8080]
  - name: legacy-redis
    fromNamespaces: [legacy]
    rules: [permissive-plaintext]
severities:
  mtls-disabled-plaintext: violation
)";

// Every client x server x port x verdict combination over the snapshot's addresses (pods, services,
// nodes, hostNetwork pods, outside addresses), with a TLS 1.2 client certificate on some flows.
std::vector<FlowRecord> all_combinations(const std::vector<const char*>& clients, const std::vector<const char*>& servers,
                                         const std::vector<std::uint16_t>& ports) {
    std::vector<FlowRecord> flows;
    std::uint16_t client_port = 40000;
    for (const char* c : clients) {
        for (const char* s : servers) {
            for (const std::uint16_t port : ports) {
                for (const Verdict v : kAllVerdicts) {
                    FlowRecord f = flow(c, client_port++, s, port, v, is_plaintext(v) ? "http" : "tls");
                    if (v == Verdict::IstioMtls && port % 2 == 0) {
                        TlsSummary t;
                        t.version = "1.2";
                        t.client_cert = true;
                        CertSummary cert;
                        cert.uri_sans = {"spiffe://cluster.local/ns/demo/sa/sleep"};
                        t.client_certs = {cert};
                        t.server_certs = {cert};
                        f.tls = t;
                    }
                    if (v == Verdict::PlaintextServed && port == 8080) f.secrets.push_back({"authorization", "header", meshproof::Direction::ClientToServer, "Bearer x"});
                    flows.push_back(std::move(f));
                }
            }
        }
    }
    return flows;
}

void check_streaming_matches_batch(const WorkloadIndex& index, const AuditPolicy& policy,
                                   const std::vector<FlowRecord>& flows) {
    const PolicyReport batch = evaluate(flows, index, policy);
    PolicyEvaluator ev(index, policy);
    std::size_t added_total = 0;
    for (const auto& f : flows) {
        const std::size_t before = ev.report().findings.size();
        const std::size_t added = ev.observe(f);
        CHECK(ev.report().findings.size() == before + added);
        added_total += added;
    }
    const PolicyReport& streamed = ev.report();
    REQUIRE(streamed.findings.size() == batch.findings.size());
    CHECK(added_total == batch.findings.size());
    for (std::size_t i = 0; i < batch.findings.size(); ++i) {
        CHECK(finding_to_json(streamed.findings[i]) == finding_to_json(batch.findings[i]));
    }
    CHECK(policy_summary_to_json(streamed) == policy_summary_to_json(batch));
    CHECK(streamed.waived == batch.waived);
    CHECK(streamed.by_severity == batch.by_severity);
    // The combinations must exercise the rules, or the comparison proves little.
    CHECK(batch.findings.size() > 50);
    CHECK(batch.has_violations());
}

}  // namespace

TEST_CASE("policy evaluator: streaming equals evaluate()") {
    SUBCASE("homelab snapshot, built-in rules and a full policy") {
        const WorkloadIndex index(homelab_snapshot());
        const auto flows = all_combinations(
            {"10.42.2.20", "10.42.1.12", "10.42.1.40", "192.168.1.12", "203.0.113.7"},
            {"10.42.1.10", "10.43.100.10", "10.42.2.30", "10.42.1.31", "10.42.2.14", "10.42.1.21", "10.42.1.40",
             "10.42.0.50", "10.43.0.10", "192.168.1.11", "192.168.1.240", "203.0.113.8"},
            {8080, 8000, 9090, 9102, 6379, 53, 15020, 15008, 443, 5678, 9080, 9100});
        check_streaming_matches_batch(index, parse_policy("version: 1\n"), flows);
        check_streaming_matches_batch(index, parse_policy(kPolicy), flows);
        const PolicyReport waived = evaluate(flows, index, parse_policy(kPolicy));
        CHECK(waived.waived.count("dns") == 1);
        CHECK(waived.waived.count("kubelet-probes") == 1);
    }
    SUBCASE("netns lab snapshot (the system tests' cluster)") {
        auto s = load_cluster_snapshot(std::string(MESHPROOF_SOURCE_DIR) + "/tests/data/k8s/netns-lab-snapshot.json");
        REQUIRE(s.has_value());
        const WorkloadIndex index(std::move(*s));
        const auto flows = all_combinations({"10.244.1.20", "10.244.1.21", "10.244.2.30", "127.0.0.1"},
                                            {"10.244.2.30", "10.96.40.12", "10.244.1.20", "127.0.0.2"},
                                            {8080, 6379, 15021, 443});
        check_streaming_matches_batch(index, parse_policy("version: 1\n"), flows);
        check_streaming_matches_batch(index, parse_policy(kPolicy), flows);
    }
}

TEST_CASE("policy evaluator: flow indexes, clear_findings and take_report") {
    const WorkloadIndex index(homelab_snapshot());
    const AuditPolicy policy = parse_policy("version: 1\n");
    PolicyEvaluator ev(index, policy);
    const FlowRecord strict_plaintext = flow("10.42.2.20", 50001, "10.42.2.30", 8080, Verdict::PlaintextServed);
    const FlowRecord fine = flow("10.42.1.12", 50002, "10.42.1.10", 8080, Verdict::IstioMtls, "tls");

    CHECK(ev.observe(fine) == 0);
    REQUIRE(ev.observe(strict_plaintext) == 1);
    CHECK(ev.report().findings.back().rule == "strict-plaintext-served");
    CHECK(ev.report().findings.back().flow.index == 1);

    SUBCASE("clear_findings forgets findings, not counters or positions") {
        ev.clear_findings();
        CHECK(ev.report().findings.empty());
        REQUIRE(ev.observe(strict_plaintext) == 1);
        CHECK(ev.report().findings.size() == 1);
        CHECK(ev.report().findings[0].flow.index == 2);
        CHECK(ev.report().flows_checked == 3);
        CHECK(ev.report().by_severity[static_cast<std::size_t>(Severity::Violation)] == 2);
    }
    SUBCASE("take_report hands the report over and starts again") {
        const PolicyReport r = ev.take_report();
        CHECK(r.flows_checked == 2);
        CHECK(r.has_violations());
        CHECK(ev.report().flows_checked == 0);
        CHECK(ev.report().findings.empty());
        REQUIRE(ev.observe(strict_plaintext) == 1);
        CHECK(ev.report().findings[0].flow.index == 0);
    }
}
