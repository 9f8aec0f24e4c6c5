#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>

#include "audit/k8s/cluster_snapshot.hpp"
#include "k8s_test_helpers.hpp"

using namespace meshproof::audit;
using namespace meshproof::audit::k8s;
using namespace meshproof::audit::k8s::testing;

TEST_CASE("snapshot: the homelab kubectl List") {
    const ClusterSnapshot s = homelab_snapshot();

    SUBCASE("every kind is read") {
        CHECK(s.pods.size() == 19);
        CHECK(s.services.size() == 13);
        CHECK(s.namespaces.size() == 9);
        CHECK(s.nodes.size() == 3);
        CHECK(s.peer_authentications.size() == 8);
    }
    SUBCASE("mesh config from the istio ConfigMap") {
        CHECK(s.trust_domain == "homelab.local");
        CHECK(s.root_namespace == "istio-system");
    }
    SUBCASE("pod fields") {
        const Pod& ledger = pod_named(s, "payments", "ledger-");
        CHECK(ledger.service_account == "ledger");
        CHECK(ledger.node_name == "k3s-agent-2");
        CHECK(ledger.workload == "ledger");  // ReplicaSet name minus pod-template-hash
        CHECK(ledger.owner_kind == "ReplicaSet");
        REQUIRE(ledger.pod_ips.size() == 1);
        CHECK(to_string(ledger.pod_ips[0]) == "10.42.2.30");
        REQUIRE(ledger.host_ip.has_value());
        CHECK(to_string(*ledger.host_ip) == "192.168.1.12");
        CHECK(ledger.has_sidecar);
        CHECK(std::count_if(ledger.ports.begin(), ledger.ports.end(), [](const ContainerPort& p) { return p.port == 9102; }) == 1);
        CHECK(pod_named(s, "legacy", "redis-0").workload == "redis");  // StatefulSet owner
    }
    SUBCASE("dual-stack pod keeps both addresses") {
        const Pod& sleep = pod_named(s, "demo", "sleep-");
        REQUIRE(sleep.pod_ips.size() == 2);
        CHECK(to_string(sleep.pod_ips[1]) == "fd00:10:42:1::c");
        CHECK(sleep.pod_ips[1].v6);
    }
    SUBCASE("sidecar detection") {
        CHECK(pod_named(s, "demo", "httpbin-").has_sidecar);                 // annotation + container
        CHECK(pod_named(s, "demo", "echo-server-").has_sidecar);             // native sidecar (init container)
        CHECK(pod_named(s, "istio-system", "istio-ingressgateway").has_sidecar);  // gateway Envoy named istio-proxy
        CHECK_FALSE(pod_named(s, "legacy", "legacy-client").has_sidecar);
        CHECK_FALSE(pod_named(s, "ambient-apps", "reviews").has_sidecar);
    }
    SUBCASE("ambient: namespace label, pod opt-out") {
        const Namespace* amb = s.find_namespace("ambient-apps");
        REQUIRE(amb != nullptr);
        CHECK(is_ambient(pod_named(s, "ambient-apps", "reviews"), amb));
        CHECK_FALSE(is_ambient(pod_named(s, "ambient-apps", "ratings"), amb));
        CHECK_FALSE(is_ambient(pod_named(s, "demo", "httpbin-"), s.find_namespace("demo")));
    }
    SUBCASE("hostNetwork pods") {
        const Pod& speaker = pod_named(s, "metallb-system", "speaker-");
        CHECK(speaker.host_network);
        REQUIRE(speaker.pod_ips.size() == 1);
        CHECK(to_string(speaker.pod_ips[0]) == "192.168.1.11");
    }
    SUBCASE("services: cluster IPs, LB ingress, named target ports, headless") {
        const auto svc = [&](std::string_view ns, std::string_view name) -> const Service& {
            for (const auto& x : s.services)
                if (x.namespace_name == ns && x.name == name) return x;
            FAIL("no service " << name);
            throw std::logic_error("unreachable");
        };
        const Service& gw = svc("istio-system", "istio-ingressgateway");
        REQUIRE(gw.external_ips.size() == 1);
        CHECK(to_string(gw.external_ips[0]) == "192.168.1.240");
        const Service& httpbin = svc("demo", "httpbin");
        REQUIRE(httpbin.ports.size() == 2);
        CHECK(httpbin.ports[0].target_port_name == "http");
        CHECK(httpbin.ports[0].target_port == 0);
        CHECK(svc("monitoring", "node-exporter").cluster_ips.empty());
        CHECK_FALSE(svc("default", "kubernetes").selector.has_value());
        CHECK(svc("default", "kubernetes").ports[0].target_port == 6443);
    }
    SUBCASE("PeerAuthentications: modes, selectors, port levels") {
        const auto pa = [&](std::string_view ns, std::string_view name) -> const PeerAuthentication& {
            for (const auto& x : s.peer_authentications)
                if (x.namespace_name == ns && x.name == name) return x;
            FAIL("no PeerAuthentication " << name);
            throw std::logic_error("unreachable");
        };
        CHECK(pa("istio-system", "default").mode == MtlsMode::Strict);
        CHECK(pa("payments", "default").mode == MtlsMode::Unset);  // mtls: {}
        const auto& httpbin = pa("demo", "httpbin");               // security.istio.io/v1beta1
        REQUIRE(httpbin.selector.has_value());
        CHECK(httpbin.selector->at("app") == "httpbin");
        CHECK(httpbin.mode == MtlsMode::Permissive);
        REQUIRE(httpbin.port_modes.size() == 2);
        CHECK(httpbin.port_modes.at(8080) == MtlsMode::Strict);
        CHECK(httpbin.port_modes.at(9000) == MtlsMode::Unset);
        // Istio ignores portLevelMtls without a selector; we drop it and say so.
        CHECK(pa("ambient-apps", "ports-without-selector").port_modes.empty());
        CHECK(std::any_of(s.warnings.begin(), s.warnings.end(), [](const std::string& w) {
            return w.find("ports-without-selector") != std::string::npos && w.find("ignored by Istio") != std::string::npos;
        }));
    }
}

TEST_CASE("snapshot: input shapes and errors") {
    SUBCASE("a single object") {
        auto s = parse_cluster_snapshot(R"({"kind":"Namespace","metadata":{"name":"x","labels":{"a":"b"}}})", "one.json");
        REQUIRE(s.has_value());
        REQUIRE(s->namespaces.size() == 1);
        CHECK(s->namespaces[0].labels.at("a") == "b");
    }
    SUBCASE("kubectl -o yaml, several documents") {
        const char* yaml = R"(apiVersion: v1
kind: Pod
metadata: {name: a, namespace: ns1}
spec: {serviceAccountName: sa1, nodeName: n1}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: PodList
items:
- kind: Pod
  metadata: {name: b, namespace: ns1}
  status: {podIP: "10.1.0.2"}
)";
        auto s = parse_cluster_snapshot(yaml, "pods.yaml");
        REQUIRE(s.has_value());
        REQUIRE(s->pods.size() == 2);
        CHECK(s->pods[0].service_account == "sa1");
        CHECK(s->pods[1].service_account == "default");  // Kubernetes' default
        CHECK(s->trust_domain == "cluster.local");
    }
    SUBCASE("unreadable JSON names file, line and column") {
        auto s = parse_cluster_snapshot("{\"kind\": \"List\",\n \"items\": [1, 2}\n", "broken.json");
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error().rfind("broken.json:2:", 0) == 0);
    }
    SUBCASE("not an object") {
        auto s = parse_cluster_snapshot("[1, 2, 3]", "array.json");
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error().find("expected a Kubernetes object") != std::string::npos);
    }
    SUBCASE("empty input") {
        auto s = parse_cluster_snapshot("", "empty.json");
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error() == "empty.json: empty snapshot");
    }
    SUBCASE("a bad address is a warning, the pod stays") {
        auto s = parse_cluster_snapshot(
            R"({"kind":"Pod","metadata":{"name":"p","namespace":"n"},"status":{"podIP":"10.0.0.300"}})", "x.json");
        REQUIRE(s.has_value());
        REQUIRE(s->pods.size() == 1);
        CHECK(s->pods[0].pod_ips.empty());
        REQUIRE(s->warnings.size() == 1);
        CHECK(s->warnings[0].find("10.0.0.300") != std::string::npos);
    }
    SUBCASE("unknown mtls mode is a warning and counts as UNSET") {
        auto s = parse_cluster_snapshot(
            R"({"kind":"PeerAuthentication","metadata":{"name":"p","namespace":"n"},"spec":{"mtls":{"mode":"STRIKT"}}})",
            "x.json");
        REQUIRE(s.has_value());
        REQUIRE(s->peer_authentications.size() == 1);
        CHECK(s->peer_authentications[0].mode == MtlsMode::Unset);
        REQUIRE_FALSE(s->warnings.empty());
        CHECK(s->warnings[0].find("STRIKT") != std::string::npos);
    }
    SUBCASE("missing file") {
        auto s = load_cluster_snapshot("/nonexistent/snapshot.json");
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error().find("/nonexistent/snapshot.json") != std::string::npos);
    }
}

TEST_CASE("snapshot: address parsing") {
    REQUIRE(parse_ip("10.42.0.1").has_value());
    CHECK_FALSE(parse_ip("10.42.0.1")->v6);
    REQUIRE(parse_ip("fd00::1").has_value());
    CHECK(parse_ip("fd00::1")->v6);
    CHECK_FALSE(parse_ip("").has_value());
    CHECK_FALSE(parse_ip("None").has_value());
    CHECK_FALSE(parse_ip("10.42.0").has_value());
    CHECK_FALSE(parse_ip(std::string(60, '1')).has_value());
}
