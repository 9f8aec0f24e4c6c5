#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>

#include "audit/k8s/policy_check.hpp"
#include "k8s_test_helpers.hpp"

using namespace meshproof::audit;
using namespace meshproof::audit::k8s;
using namespace meshproof::audit::k8s::testing;

namespace {

// Pod and service addresses of tests/data/k8s/homelab-snapshot.json.
constexpr const char* kLegacyClient = "10.42.2.20";  // legacy, no sidecar
constexpr const char* kSleep = "10.42.1.12";         // demo, sidecar
constexpr const char* kHttpbin = "10.42.1.10";       // demo, sidecar; 8080 STRICT (port), 9000 PERMISSIVE
constexpr const char* kHttpbinSvc = "10.43.100.10";  // :8000 -> targetPort http (8080)
constexpr const char* kLedger = "10.42.2.30";        // payments, sidecar; 8080 STRICT (mesh), 9102 PERMISSIVE
constexpr const char* kCardApi = "10.42.1.31";       // payments, sidecar; 9090 excluded from the sidecar
constexpr const char* kEcho = "10.42.2.14";          // demo, native sidecar
constexpr const char* kRedis = "10.42.1.21";         // legacy (PERMISSIVE), no sidecar
constexpr const char* kReviews = "10.42.1.40";       // ambient
constexpr const char* kPrometheus = "10.42.0.50";    // monitoring (DISABLE), no sidecar
constexpr const char* kKubeDns = "10.43.0.10";       // coredns behind it: mesh STRICT, no sidecar
constexpr const char* kNode2 = "192.168.1.12";

AuditPolicy policy(std::string_view yaml = "version: 1\n") {
    auto p = parse_audit_policy(yaml, "test-policy.yaml");
    REQUIRE(p.has_value());
    return std::move(*p);
}

std::vector<std::string> rules_of(const PolicyReport& r) {
    std::vector<std::string> out;
    for (const auto& f : r.findings) out.push_back(f.rule);
    return out;
}

const Finding& only(const PolicyReport& r, std::string_view rule_id) {
    const auto n = std::count_if(r.findings.begin(), r.findings.end(), [&](const Finding& f) { return f.rule == rule_id; });
    REQUIRE_MESSAGE(n == 1, "findings with rule " << rule_id << ": " << n);
    return *std::find_if(r.findings.begin(), r.findings.end(), [&](const Finding& f) { return f.rule == rule_id; });
}

CertSummary cert_with_uri(std::string uri) {
    CertSummary c;
    c.subject = "";
    c.uri_sans = {std::move(uri)};
    return c;
}

FlowRecord tls12_mtls(const char* client, const char* server, std::uint16_t port, std::string client_id,
                      std::string server_id) {
    FlowRecord f = flow(client, 40100, server, port, Verdict::IstioMtls, "tls");
    TlsSummary t;
    t.version = "1.2";
    t.cert_request = true;
    t.client_cert = true;
    t.client_certs = {cert_with_uri(std::move(client_id))};
    t.server_certs = {cert_with_uri(std::move(server_id))};
    f.tls = t;
    return f;
}

}  // namespace

TEST_CASE("policy check: PeerAuthentication versus the wire") {
    const WorkloadIndex index(homelab_snapshot());
    const AuditPolicy p = policy();

    SUBCASE("STRICT declared, plaintext served: violation naming the deciding policy") {
        auto f = flow(kLegacyClient, 50000, kLedger, 8080, Verdict::PlaintextServed);
        f.secrets.push_back({"authorization-bearer", "header", {}, "x"});
        const auto r = evaluate({f}, index, p);
        CHECK(rules_of(r) == std::vector<std::string>{"strict-plaintext-served"});
        const Finding& x = only(r, rule::kStrictPlaintextServed);
        CHECK(x.severity == Severity::Violation);
        REQUIRE(x.declared.has_value());
        CHECK(x.declared->policy == "istio-system/default");
        CHECK(x.message.find("STRICT from istio-system/default (mesh)") != std::string::npos);
        CHECK(x.message.find("plaintext http was served") != std::string::npos);
        CHECK(x.message.find("1 secret seen in clear") != std::string::npos);
        REQUIRE(x.workloads.client.has_value());
        CHECK(x.workloads.client->workload == "legacy-client");
        CHECK(r.has_violations());
        CHECK(r.flows_checked == 1);
        CHECK(r.flows_with_workload == 1);
    }
    SUBCASE("STRICT and plaintext rejected: a legacy client refused, info only") {
        const auto r = evaluate({flow(kLegacyClient, 50001, kLedger, 8080, Verdict::PlaintextRejected)}, index, p);
        const Finding& x = only(r, rule::kLegacyClientRefused);
        CHECK(x.severity == Severity::Info);
        CHECK(x.message.find("first bytes still crossed the wire") != std::string::npos);
        CHECK_FALSE(r.has_violations());
    }
    SUBCASE("PERMISSIVE with plaintext: warning (namespace and port level)") {
        const auto r = evaluate({flow(kLegacyClient, 50002, kRedis, 6379, Verdict::PlaintextServed, "redis"),
                                 flow(kPrometheus, 50003, kLedger, 9102, Verdict::PlaintextServed)},
                                index, p);
        REQUIRE(r.findings.size() == 2);
        CHECK(r.findings[0].rule == rule::kPermissivePlaintext);
        CHECK(r.findings[0].declared->policy == "legacy/default");
        CHECK(r.findings[1].rule == rule::kPermissivePlaintext);
        CHECK(r.findings[1].declared->level == PolicyLevel::WorkloadPort);
        CHECK(r.findings[1].severity == Severity::Warning);
        CHECK(r.by_severity[static_cast<std::size_t>(Severity::Warning)] == 2);
    }
    SUBCASE("DISABLE with plaintext: warning") {
        const auto r = evaluate({flow(kSleep, 50004, kPrometheus, 9090, Verdict::PlaintextServed)}, index, p);
        CHECK(only(r, rule::kDisabledPlaintext).severity == Severity::Warning);
    }
    SUBCASE("STRICT on a pod without sidecar: the message says nothing enforces it") {
        const auto r = evaluate({flow(kSleep, 50005, kKubeDns, 53, Verdict::PlaintextServed, "dns")}, index, p);
        const Finding& x = only(r, rule::kStrictPlaintextServed);
        CHECK(x.message.find("coredns-ccb96694c-8qzpl has no sidecar") != std::string::npos);
    }
    SUBCASE("STRICT on a port excluded from the sidecar") {
        const auto r = evaluate({flow(kLegacyClient, 50006, kCardApi, 9090, Verdict::PlaintextServed, "grpc")}, index, p);
        const Finding& x = only(r, rule::kStrictPlaintextServed);
        CHECK(x.message.find("excludeInboundPorts") != std::string::npos);
    }
    SUBCASE("via a ClusterIP: the service port maps to the pod port the policy names") {
        const auto r = evaluate({flow(kLegacyClient, 50007, kHttpbinSvc, 8000, Verdict::PlaintextServed)}, index, p);
        const Finding& x = only(r, rule::kStrictPlaintextServed);
        REQUIRE(x.declared.has_value());
        CHECK(x.declared->policy == "demo/httpbin port 8080");
        REQUIRE(x.workloads.server.has_value());
        CHECK(x.workloads.server->kind == "service");
    }
    SUBCASE("plaintext to a hostNetwork pod or a node: no PeerAuthentication applies") {
        const auto r = evaluate({flow(kPrometheus, 50008, "192.168.1.11", 9100, Verdict::PlaintextServed),
                                 flow(kPrometheus, 50009, kNode2, 10250, Verdict::PlaintextServed)},
                                index, p);
        CHECK(r.findings.empty());
        CHECK(r.flows_with_workload == 2);
    }
    SUBCASE("Istio's own plaintext ports are not findings") {
        const auto r = evaluate({flow(kSleep, 50010, kHttpbin, 15020, Verdict::PlaintextServed),
                                 flow(kNode2, 50011, kLedger, 15021, Verdict::PlaintextServed)},
                                index, p);
        CHECK(r.findings.empty());
    }
    SUBCASE("encrypted flows raise nothing here") {
        const auto r = evaluate({flow(kSleep, 50012, kHttpbin, 8080, Verdict::IstioMtls, "tls"),
                                 flow(kLegacyClient, 50013, kLedger, 8080, Verdict::Tls, "tls")},
                                index, p);
        CHECK(r.findings.empty());
    }
    SUBCASE("addresses outside the cluster") {
        const auto r = evaluate({flow("203.0.113.1", 50014, "203.0.113.2", 80, Verdict::PlaintextServed)}, index, p);
        CHECK(r.findings.empty());
        CHECK(r.flows_with_workload == 0);
    }
}

TEST_CASE("policy check: meshed to meshed must be Istio mTLS") {
    const WorkloadIndex index(homelab_snapshot());
    const AuditPolicy p = policy();

    SUBCASE("sidecar to sidecar in plain TLS") {
        const auto r = evaluate({flow(kSleep, 50100, kEcho, 5678, Verdict::Tls, "tls")}, index, p);
        const Finding& x = only(r, rule::kMeshedNotIstioMtls);
        CHECK(x.severity == Severity::Violation);
        CHECK(x.message.find("the flow is tls") != std::string::npos);
    }
    SUBCASE("sidecar to ambient in plaintext: both rules") {
        const auto r = evaluate({flow(kSleep, 50101, kReviews, 9080, Verdict::PlaintextServed)}, index, p);
        CHECK(rules_of(r) == std::vector<std::string>{"strict-plaintext-served", "meshed-not-istio-mtls"});
    }
    SUBCASE("HBONE and Istio mTLS are fine; unknown proves nothing") {
        const auto r = evaluate({flow(kReviews, 50102, kHttpbin, 15008, Verdict::Hbone, "tls"),
                                 flow(kSleep, 50103, kHttpbin, 8080, Verdict::IstioMtls, "tls"),
                                 flow(kSleep, 50104, kHttpbin, 8080, Verdict::Unknown, "unknown")},
                                index, p);
        CHECK(r.findings.empty());
    }
    SUBCASE("a client without sidecar is not this rule") {
        const auto r = evaluate({flow(kLegacyClient, 50105, kEcho, 5678, Verdict::Tls, "tls")}, index, p);
        CHECK(r.findings.empty());
    }
}

TEST_CASE("policy check: SPIFFE identities seen in clear") {
    const WorkloadIndex index(homelab_snapshot());

    SUBCASE("matching identities (snapshot trust domain homelab.local)") {
        const auto r = evaluate({tls12_mtls(kSleep, kHttpbin, 8080, "spiffe://homelab.local/ns/demo/sa/sleep",
                                            "spiffe://homelab.local/ns/demo/sa/httpbin")},
                                index, policy());
        CHECK(r.findings.empty());
    }
    SUBCASE("the client presents another service account's certificate") {
        const auto r = evaluate({tls12_mtls(kSleep, kHttpbin, 8080, "spiffe://homelab.local/ns/demo/sa/httpbin",
                                            "spiffe://homelab.local/ns/demo/sa/httpbin")},
                                index, policy());
        const Finding& x = only(r, rule::kSpiffeMismatch);
        CHECK(x.severity == Severity::Violation);
        CHECK(x.message == "client certificate says spiffe://homelab.local/ns/demo/sa/httpbin, but the client pod "
                           "demo/sleep-7656cf8794-vq6lz runs as spiffe://homelab.local/ns/demo/sa/sleep");
    }
    SUBCASE("the server's certificate does not belong to any backend of the service") {
        const auto r = evaluate({tls12_mtls(kSleep, kHttpbinSvc, 8000, "spiffe://homelab.local/ns/demo/sa/sleep",
                                            "spiffe://homelab.local/ns/payments/sa/ledger")},
                                index, policy());
        const Finding& x = only(r, rule::kSpiffeMismatch);
        CHECK(x.message.find("server certificate says spiffe://homelab.local/ns/payments/sa/ledger") == 0);
    }
    SUBCASE("another trust domain is a mismatch, unless the policy sets it") {
        const auto f = tls12_mtls(kSleep, kHttpbin, 8080, "spiffe://cluster.local/ns/demo/sa/sleep",
                                  "spiffe://cluster.local/ns/demo/sa/httpbin");
        CHECK(evaluate({f}, index, policy()).findings.size() == 2);
        CHECK(evaluate({f}, index, policy("version: 1\ntrustDomain: cluster.local\n")).findings.empty());
    }
}

TEST_CASE("policy check: requirements, exceptions and severities") {
    const WorkloadIndex index(homelab_snapshot());
    const AuditPolicy p = policy(R"(version: 1
requirements:
  - name: payments-mesh
    namespaces: [payments]
    exceptPorts: [9102]
    require: istio-mtls
  - name: gateway-tls
    namespaces: [istio-system]
    ports: [443]
    require: tls
    severity: warning
exceptions:
  - name: dns
    ports: [53]
  - name: kubelet-probes
    fromNodes: true
    ports: [8080]
  - name: redis-is-legacy
    fromNamespaces: [legacy]
    toNamespaces: [legacy]
    rules: [permissive-plaintext]
severities:
  legacy-client-refused: off
  mtls-disabled-plaintext: violation
)");

    SUBCASE("a requirement not met adds its own finding") {
        const auto r = evaluate({flow(kSleep, 50200, kLedger, 8080, Verdict::Tls, "tls")}, index, p);
        CHECK(rules_of(r) == std::vector<std::string>{"meshed-not-istio-mtls", "requirement-not-met"});
        const Finding& x = only(r, rule::kRequirementNotMet);
        CHECK(x.requirement == "payments-mesh");
        CHECK(x.severity == Severity::Violation);
        CHECK(x.message == "'payments-mesh' requires istio-mtls in namespace payments, the flow is tls");
    }
    SUBCASE("exceptPorts, and a met requirement") {
        const auto r = evaluate({flow(kLegacyClient, 50201, kLedger, 9102, Verdict::Tls, "tls"),
                                 flow(kSleep, 50202, kLedger, 8080, Verdict::IstioMtls, "tls")},
                                index, p);
        CHECK(r.findings.empty());
    }
    SUBCASE("a requirement's own severity; service ports count") {
        const auto r = evaluate({flow(kLegacyClient, 50203, "192.168.1.240", 443, Verdict::PlaintextServed)}, index, p);
        const Finding& x = only(r, rule::kRequirementNotMet);
        CHECK(x.severity == Severity::Warning);
        CHECK(x.requirement == "gateway-tls");
    }
    SUBCASE("unknown verdicts are unverified, rejected plaintext was not served") {
        const auto r = evaluate({flow(kSleep, 50204, kLedger, 8080, Verdict::Unknown, "unknown"),
                                 flow(kLegacyClient, 50205, kLedger, 8080, Verdict::PlaintextRejected)},
                                index, p);
        CHECK(rules_of(r) == std::vector<std::string>{"requirement-unverified"});  // legacy-client-refused is off
        CHECK(r.findings[0].severity == Severity::Info);
    }
    SUBCASE("exceptions waive and count") {
        const auto r = evaluate({flow(kSleep, 50206, kKubeDns, 53, Verdict::PlaintextServed, "dns"),
                                 flow(kNode2, 50207, kLedger, 8080, Verdict::PlaintextServed),
                                 flow(kNode2, 50208, kLedger, 8080, Verdict::PlaintextServed),
                                 flow(kLegacyClient, 50209, kRedis, 6379, Verdict::PlaintextServed, "redis")},
                                index, p);
        CHECK(r.findings.empty());
        CHECK(r.waived.at("dns") == 1);
        CHECK(r.waived.at("kubelet-probes") == 4);  // strict-plaintext-served + requirement-not-met, twice
        CHECK(r.waived.at("redis-is-legacy") == 1);
    }
    SUBCASE("an exception limited to some rules leaves the others") {
        const auto r = evaluate({flow(kLegacyClient, 50210, kRedis, 6379, Verdict::Tls, "tls"),
                                 flow(kNode2, 50211, kLedger, 9090, Verdict::PlaintextServed)},
                                index, p);
        CHECK(rules_of(r) == std::vector<std::string>{"strict-plaintext-served", "requirement-not-met"});
    }
    SUBCASE("severity overrides") {
        const auto r = evaluate({flow(kSleep, 50212, kPrometheus, 9090, Verdict::PlaintextServed)}, index, p);
        CHECK(only(r, rule::kDisabledPlaintext).severity == Severity::Violation);
    }
}

TEST_CASE("policy check: output") {
    const WorkloadIndex index(homelab_snapshot());
    const auto r = evaluate({flow(kLegacyClient, 50300, kLedger, 8080, Verdict::PlaintextServed),
                             flow(kLegacyClient, 50301, kLedger, 8080, Verdict::PlaintextServed),
                             flow(kLegacyClient, 50302, kRedis, 6379, Verdict::PlaintextServed, "redis")},
                            index, policy());

    SUBCASE("JSON lines") {
        const std::string j = finding_to_json(r.findings[0]);
        CHECK(j.rfind(R"({"type":"finding","severity":"violation","rule":"strict-plaintext-served",)", 0) == 0);
        CHECK(j.find(R"("flow":{"index":0,"client":"10.42.2.20:50300","server":"10.42.2.30:8080",)"
                     R"("first_seen":"2026-01-01T00:00:00.250000Z","verdict":"plaintext-served","protocol":"http"})") !=
              std::string::npos);
        CHECK(j.find(R"("declared_mtls":{"mode":"STRICT","level":"mesh","policy":"istio-system/default"})") !=
              std::string::npos);
        CHECK(j.find(R"("dst_workload":{"kind":"pod","namespace":"payments","pod":"ledger-66f8c9d5b7-m4q8r")") !=
              std::string::npos);
        CHECK(policy_summary_to_json(r) ==
              R"({"type":"policy_summary","flows_checked":3,"flows_with_workload":3,)"
              R"("findings":{"violation":2,"warning":1,"info":0},"waived":{},"violations":true})");
        std::ostringstream out;
        write_findings_json(out, r);
        const std::string lines = out.str();
        CHECK(std::count(lines.begin(), lines.end(), '\n') == 4);
    }
    SUBCASE("text groups identical findings, worst first") {
        std::ostringstream out;
        write_findings_text(out, r, false);
        const std::string t = out.str();
        CHECK(t.rfind("policy: 2 violations, 1 warning, 0 info (3 flows checked, 3 matched to workloads)\n", 0) == 0);
        const auto v = t.find("VIOLATION strict-plaintext-served  legacy/legacy-client -> payments/ledger (sidecar) port 8080  plaintext-served  x2");
        const auto w = t.find("WARNING permissive-plaintext  legacy/legacy-client -> legacy/redis port 6379");
        CHECK(v != std::string::npos);
        CHECK(w != std::string::npos);
        CHECK(v < w);
        CHECK(t.find("e.g. flow #1 10.42.2.20:50300 -> 10.42.2.30:8080") != std::string::npos);
        CHECK(t.find("\033[") == std::string::npos);
        std::ostringstream colored;
        write_findings_text(colored, r, true);
        CHECK(colored.str().find("\033[1;31mVIOLATION\033[0m") != std::string::npos);
    }
}
