#include <doctest/doctest.h>

#include <algorithm>

#include "audit/k8s/audit_policy.hpp"
#include "k8s_test_helpers.hpp"

using namespace meshproof::audit;
using namespace meshproof::audit::k8s;
using namespace meshproof::audit::k8s::testing;

namespace {

AuditPolicy parse_ok(std::string_view yaml) {
    auto p = parse_audit_policy(yaml, "policy.yaml");
    if (!p) {
        for (const auto& e : p.error()) MESSAGE(e);
    }
    REQUIRE(p.has_value());
    return std::move(*p);
}

PolicyErrors parse_errors(std::string_view yaml) {
    auto p = parse_audit_policy(yaml, "policy.yaml");
    REQUIRE_FALSE(p.has_value());
    return p.error();
}

bool has_error(const PolicyErrors& errors, std::string_view prefix, std::string_view text) {
    return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
        return e.rfind(prefix, 0) == 0 && e.find(text) != std::string::npos;
    });
}

}  // namespace

TEST_CASE("policy file: a complete policy") {
    const AuditPolicy p = parse_ok(R"(# payments must be in the mesh
version: 1
trustDomain: homelab.local
requirements:
  - name: payments-mesh
    namespaces: [payments]
    exceptPorts: [9102]
    require: istio-mtls
  - namespaces: ["*"]
    ports: [443, 8443]
    require: tls
    severity: warning
exceptions:
  - name: dns
    ports: [53]
  - name: kubelet-probes
    fromNodes: true
    ports: [8080, 15021]
  - name: legacy-batch
    fromNamespaces: [legacy]
    toCidrs: [10.42.0.0/16, "fd00::/8"]
    rules: [permissive-plaintext]
severities:
  permissive-plaintext: violation
  legacy-client-refused: off
)");
    CHECK(p.trust_domain == "homelab.local");
    REQUIRE(p.requirements.size() == 2);
    CHECK(p.requirements[0].name == "payments-mesh");
    CHECK(p.requirements[0].require == Protection::IstioMtls);
    CHECK(p.requirements[0].except_ports == std::vector<std::uint16_t>{9102});
    CHECK_FALSE(p.requirements[0].severity.has_value());
    CHECK(p.requirements[0].line == 5);
    CHECK(p.requirements[1].name == "requirement 2");
    CHECK(p.requirements[1].namespaces == std::vector<std::string>{"*"});
    REQUIRE(p.requirements[1].severity.has_value());
    CHECK(*p.requirements[1].severity == Severity::Warning);
    REQUIRE(p.exceptions.size() == 3);
    CHECK(p.exceptions[1].from_nodes);
    CHECK(p.exceptions[2].to_cidrs.size() == 2);
    CHECK(p.exceptions[2].rules == std::vector<std::string>{"permissive-plaintext"});
    REQUIRE(p.severity_of(rule::kPermissivePlaintext).has_value());
    CHECK(*p.severity_of(rule::kPermissivePlaintext) == Severity::Violation);
    CHECK_FALSE(p.severity_of(rule::kLegacyClientRefused).has_value());  // off
    CHECK(*p.severity_of(rule::kMeshedNotIstioMtls) == Severity::Violation);  // default
}

TEST_CASE("policy file: the smallest policy runs only the built-in rules") {
    const AuditPolicy p = parse_ok("version: 1\n");
    CHECK(p.requirements.empty());
    CHECK(p.exceptions.empty());
    CHECK_FALSE(p.trust_domain.has_value());
    CHECK(*p.severity_of(rule::kStrictPlaintextServed) == Severity::Violation);
    CHECK(*p.severity_of(rule::kPermissivePlaintext) == Severity::Warning);
    CHECK(*p.severity_of(rule::kLegacyClientRefused) == Severity::Info);
}

TEST_CASE("policy file: validation errors carry file:line:col") {
    SUBCASE("unknown keys, with the expected ones listed") {
        const auto e = parse_errors("version: 1\nrequirements:\n  - namespaces: [a]\n    requre: tls\n");
        CHECK(has_error(e, "policy.yaml:4:5:", "unknown key 'requre'"));
        CHECK(has_error(e, "policy.yaml:3:5:", "'require' is required"));
    }
    SUBCASE("bad values") {
        const auto e = parse_errors(R"(version: 1
requirements:
  - namespaces: payments
    ports: [80, 70000, http]
    require: ssl
    severity: critical
exceptions:
  - name: x
    fromCidrs: [10.0.0.0/33]
    fromNodes: yes please
    rules: [no-such-rule]
severities:
  made-up: info
  meshed-not-istio-mtls: loud
)");
        CHECK(has_error(e, "policy.yaml:3:17:", "expected a list"));
        CHECK(has_error(e, "policy.yaml:4:17:", "'70000' is not a port"));
        CHECK(has_error(e, "policy.yaml:4:24:", "'http' is not a port"));
        CHECK(has_error(e, "policy.yaml:5:14:", "'ssl' is not one of istio-mtls, mtls, tls, encrypted"));
        CHECK(has_error(e, "policy.yaml:6:15:", "'critical' is not a severity"));
        CHECK(has_error(e, "policy.yaml:9:17:", "'10.0.0.0/33' is not an address or CIDR"));
        CHECK(has_error(e, "policy.yaml:10:16:", "expected true or false"));
        CHECK(has_error(e, "policy.yaml:11:13:", "unknown rule 'no-such-rule'"));
        CHECK(has_error(e, "policy.yaml:13:3:", "unknown rule 'made-up'"));
        CHECK(has_error(e, "policy.yaml:14:26:", "'loud' is not a severity"));
        CHECK(e.size() == 10);
    }
    SUBCASE("version is required and must be 1") {
        CHECK(has_error(parse_errors("requirements: []\n"), "policy.yaml:1:1:", "'version: 1' is required"));
        CHECK(has_error(parse_errors("version: 2\n"), "policy.yaml:1:10:", "only version 1"));
    }
    SUBCASE("an exception without a condition would waive everything") {
        const auto e = parse_errors("version: 1\nexceptions:\n  - name: all\n");
        CHECK(has_error(e, "policy.yaml:3:5:", "no condition"));
    }
    SUBCASE("an exception needs a unique name") {
        const auto e = parse_errors("version: 1\nexceptions:\n  - ports: [53]\n  - name: a\n    ports: [1]\n  - name: a\n    ports: [2]\n");
        CHECK(has_error(e, "policy.yaml:3:5:", "'name' is required"));
        CHECK(has_error(e, "policy.yaml:6:5:", "name 'a' is used twice"));
    }
    SUBCASE("repeated keys") {
        const auto e = parse_errors("version: 1\nversion: 1\n");
        CHECK(has_error(e, "policy.yaml:2:1:", "'version' appears twice"));
    }
    SUBCASE("trust domain is a bare domain") {
        CHECK(has_error(parse_errors("version: 1\ntrustDomain: spiffe://x\n"), "policy.yaml:2:14:", "bare domain"));
    }
    SUBCASE("not YAML, empty, not a mapping") {
        CHECK(has_error(parse_errors("version: [1\n"), "policy.yaml:", "not valid YAML"));
        CHECK(has_error(parse_errors(""), "policy.yaml:1:1:", "empty policy"));
        CHECK(has_error(parse_errors("- 1\n"), "policy.yaml:1:1:", "expected a mapping"));
    }
    SUBCASE("missing file") {
        auto p = load_audit_policy("/nonexistent/policy.yaml");
        REQUIRE_FALSE(p.has_value());
        REQUIRE(p.error().size() == 1);
        CHECK(p.error()[0] == "/nonexistent/policy.yaml: cannot open the policy file");
    }
}

TEST_CASE("policy file: protection levels and CIDRs") {
    SUBCASE("each level accepts the stronger verdicts") {
        CHECK(satisfies(Verdict::IstioMtls, Protection::IstioMtls));
        CHECK(satisfies(Verdict::Hbone, Protection::IstioMtls));
        CHECK_FALSE(satisfies(Verdict::Mtls, Protection::IstioMtls));
        CHECK(satisfies(Verdict::Mtls, Protection::Mtls));
        CHECK_FALSE(satisfies(Verdict::Tls, Protection::Mtls));
        CHECK(satisfies(Verdict::Tls, Protection::Tls));
        CHECK_FALSE(satisfies(Verdict::EncryptedUnknown, Protection::Tls));
        CHECK(satisfies(Verdict::EncryptedUnknown, Protection::Encrypted));
        for (auto v : {Verdict::PlaintextServed, Verdict::PlaintextRejected, Verdict::Unknown})
            CHECK_FALSE(satisfies(v, Protection::Encrypted));
    }
    SUBCASE("CIDR matching") {
        const auto c = parse_cidr("10.42.0.0/15");
        REQUIRE(c.has_value());
        CHECK(c->contains(ip("10.43.255.1")));
        CHECK_FALSE(c->contains(ip("10.44.0.1")));
        CHECK_FALSE(c->contains(ip("fd00::1")));
        const auto host = parse_cidr("192.168.1.11");
        REQUIRE(host.has_value());
        CHECK(host->prefix == 32);
        CHECK(host->contains(ip("192.168.1.11")));
        CHECK_FALSE(host->contains(ip("192.168.1.12")));
        const auto v6 = parse_cidr("fd00:10:42::/48");
        REQUIRE(v6.has_value());
        CHECK(v6->contains(ip("fd00:10:42:1::c")));
        CHECK(parse_cidr("0.0.0.0/0")->contains(ip("8.8.8.8")));
        CHECK_FALSE(parse_cidr("10.0.0.0/").has_value());
        CHECK_FALSE(parse_cidr("10.0.0.0/-1").has_value());
        CHECK_FALSE(parse_cidr("fd00::/129").has_value());
    }
}
