#include <doctest/doctest.h>

#include "audit/k8s/workload_index.hpp"
#include "k8s_test_helpers.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using namespace meshproof::audit::k8s;
using namespace meshproof::audit::k8s::testing;
using Kind = ResolvedEndpoint::Kind;

TEST_CASE("workloads: addresses to pods, services and nodes") {
    const WorkloadIndex index(homelab_snapshot());

    SUBCASE("pod IP, with the service that selects it on that port") {
        const auto e = index.resolve(ip("10.42.2.30"), 8080);
        REQUIRE(e.kind == Kind::Pod);
        CHECK(e.pod->name == "ledger-66f8c9d5b7-m4q8r");
        REQUIRE(e.service != nullptr);
        CHECK(e.service->name == "ledger");
        const auto w = index.describe(e);
        REQUIRE(w.has_value());
        CHECK(w->kind == "pod");
        CHECK(w->namespace_name == "payments");
        CHECK(w->workload == "ledger");
        CHECK(w->service_account == "ledger");
        CHECK(w->node == "k3s-agent-2");
        CHECK(w->sidecar_injected);
        CHECK(w->meshed());
    }
    SUBCASE("a pod port no service exposes has no service") {
        const auto e = index.resolve(ip("10.42.1.10"), 8081);
        REQUIRE(e.kind == Kind::Pod);
        CHECK(e.service == nullptr);
    }
    SUBCASE("the IPv6 address of a dual-stack pod") {
        const auto e = index.resolve(ip("fd00:10:42:1::c"), 40000);
        REQUIRE(e.kind == Kind::Pod);
        CHECK(e.pod->name == "sleep-7656cf8794-vq6lz");
    }
    SUBCASE("a finished Job pod does not steal the running pod's address") {
        const auto e = index.resolve(ip("10.42.1.21"), 6379);
        REQUIRE(e.kind == Kind::Pod);
        CHECK(e.pod->name == "redis-0");
    }
    SUBCASE("service ClusterIP: backends and the named targetPort") {
        const auto e = index.resolve(ip("10.43.100.10"), 8000);
        REQUIRE(e.kind == Kind::Service);
        CHECK(e.service->name == "httpbin");
        CHECK(e.backends.size() == 2);
        CHECK(e.pod_port == 8080);  // targetPort "http"
        const auto w = index.describe(e);
        REQUIRE(w.has_value());
        CHECK(w->kind == "service");
        CHECK(w->service == "httpbin");
        CHECK(w->workload == "httpbin");       // both replicas agree
        CHECK(w->service_account == "httpbin");
        CHECK(w->pod.empty());
        CHECK(w->sidecar_injected);
    }
    SUBCASE("LoadBalancer ingress IP") {
        const auto e = index.resolve(ip("192.168.1.240"), 443);
        REQUIRE(e.kind == Kind::Service);
        CHECK(e.service->name == "istio-ingressgateway");
        CHECK(e.pod_port == 8443);
    }
    SUBCASE("service without a selector") {
        const auto e = index.resolve(ip("10.43.0.1"), 443);
        REQUIRE(e.kind == Kind::Service);
        CHECK(e.backends.empty());
        CHECK(e.pod_port == 6443);
        const auto w = index.describe(e);
        REQUIRE(w.has_value());
        CHECK_FALSE(w->sidecar_injected);
    }
    SUBCASE("node address: a hostNetwork pod when its port matches, else the node") {
        const auto exporter = index.resolve(ip("192.168.1.11"), 9100);
        REQUIRE(exporter.kind == Kind::Pod);
        CHECK(exporter.pod->namespace_name == "monitoring");
        CHECK(exporter.pod->host_network);
        const auto speaker = index.resolve(ip("192.168.1.11"), 7472);
        REQUIRE(speaker.kind == Kind::Pod);
        CHECK(speaker.pod->name == "speaker-9xk2d");
        const auto kubelet = index.resolve(ip("192.168.1.11"), 10250);
        REQUIRE(kubelet.kind == Kind::Node);
        CHECK(kubelet.node == "k3s-agent-1");
        const auto w = index.describe(kubelet);
        REQUIRE(w.has_value());
        CHECK(w->kind == "node");
        CHECK(w->host_network);
        CHECK(index.is_node_address(ip("192.168.1.10")));  // from the Node object
        CHECK_FALSE(index.is_node_address(ip("10.42.0.3")));
    }
    SUBCASE("unknown address") {
        const auto e = index.resolve(ip("203.0.113.7"), 443);
        CHECK(e.kind == Kind::Unknown);
        CHECK_FALSE(index.describe(e).has_value());
    }
    SUBCASE("ambient by namespace label, opted-out pod") {
        const auto reviews = index.describe(index.resolve(ip("10.42.1.40"), 9080));
        REQUIRE(reviews.has_value());
        CHECK(reviews->ambient);
        CHECK_FALSE(reviews->sidecar_injected);
        CHECK(reviews->meshed());
        const auto ratings = index.describe(index.resolve(ip("10.42.2.41"), 9080));
        REQUIRE(ratings.has_value());
        CHECK_FALSE(ratings->meshed());
    }
    SUBCASE("a flow, both sides") {
        const auto fw = index.enrich(flow("10.42.2.20", 51234, "10.42.1.21", 6379, Verdict::PlaintextServed, "redis"));
        REQUIRE(fw.client.has_value());
        REQUIRE(fw.server.has_value());
        CHECK(fw.client->workload == "legacy-client");
        CHECK(fw.server->pod == "redis-0");
        CHECK(fw.server->service == "redis");
    }
}

TEST_CASE("workloads: JSON") {
    const WorkloadIndex index(homelab_snapshot());
    const auto fw = index.enrich(flow("10.42.1.12", 40000, "203.0.113.9", 443, Verdict::Tls, "tls"));

    SUBCASE("add_workload_json writes both keys, null when unknown") {
        JsonWriter w;
        w.begin_object();
        w.field("type", "flow");
        add_workload_json(w, fw);
        w.end_object();
        CHECK(w.str() ==
              R"({"type":"flow","src_workload":{"kind":"pod","namespace":"demo","pod":"sleep-7656cf8794-vq6lz",)"
              R"("workload":"sleep","service_account":"sleep","node":"k3s-agent-1","service":null,)"
              R"("sidecar_injected":true,"ambient":false,"host_network":false},"dst_workload":null})");
    }
    SUBCASE("with_workloads splices into a finished flow line") {
        const std::string line = with_workloads(R"({"type":"flow","verdict":"tls"})", fw);
        CHECK(line.rfind(R"({"type":"flow","verdict":"tls","src_workload":{"kind":"pod")", 0) == 0);
        CHECK(line.size() > 20);
        CHECK(line.substr(line.size() - 20) == R"("dst_workload":null})");
        CHECK(with_workloads("{}", {}) == R"({"src_workload":null,"dst_workload":null})");
    }
    SUBCASE("metric namespace labels") {
        CHECK(namespace_label(fw.client) == "demo");
        CHECK(namespace_label(fw.server) == "_external");
        CHECK(namespace_label(index.describe(index.resolve(ip("192.168.1.12"), 10250))) == "_node");
        CHECK(namespace_label(index.describe(index.resolve(ip("10.43.0.10"), 53))) == "kube-system");
    }
    SUBCASE("labels for text reports") {
        CHECK(workload_label(fw.client) == "demo/sleep (sidecar)");
        CHECK(workload_label(fw.server) == "?");
        CHECK(workload_label(index.describe(index.resolve(ip("192.168.1.12"), 10250))) == "node/k3s-agent-2");
        CHECK(workload_label(index.describe(index.resolve(ip("10.43.160.4"), 9080))) == "ambient-apps/svc/reviews (ambient)");
    }
}
