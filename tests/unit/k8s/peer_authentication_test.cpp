#include <doctest/doctest.h>

#include "audit/k8s/peer_authentication.hpp"
#include "k8s_test_helpers.hpp"

using namespace meshproof::audit;
using namespace meshproof::audit::k8s;
using namespace meshproof::audit::k8s::testing;

TEST_CASE("peer authentication: effective mode in the homelab snapshot") {
    const ClusterSnapshot s = homelab_snapshot();
    const auto mode = [&](std::string_view ns, std::string_view pod, std::uint16_t port) {
        return effective_mtls(s, pod_named(s, ns, pod), port);
    };

    SUBCASE("mesh-wide STRICT applies where nothing else does") {
        const auto m = mode("kube-system", "coredns-", 53);
        CHECK(m.mode == MtlsMode::Strict);
        CHECK(m.level == PolicyLevel::Mesh);
        CHECK(m.policy == "istio-system/default");
    }
    SUBCASE("namespace PERMISSIVE beats mesh STRICT; the oldest namespace policy wins") {
        const auto m = mode("legacy", "redis-0", 6379);
        CHECK(m.mode == MtlsMode::Permissive);
        CHECK(m.level == PolicyLevel::Namespace);
        CHECK(m.policy == "legacy/default");  // not the newer legacy/zz-later-strict
    }
    SUBCASE("namespace policy with mtls: {} inherits the mesh") {
        const auto m = mode("payments", "card-api-", 8080);
        CHECK(m.mode == MtlsMode::Strict);
        CHECK(m.level == PolicyLevel::Mesh);
    }
    SUBCASE("workload policy with only a port level: other ports inherit") {
        const auto metrics = mode("payments", "ledger-", 9102);
        CHECK(metrics.mode == MtlsMode::Permissive);
        CHECK(metrics.level == PolicyLevel::WorkloadPort);
        CHECK(metrics.policy == "payments/ledger-metrics port 9102");
        const auto http = mode("payments", "ledger-", 8080);
        CHECK(http.mode == MtlsMode::Strict);
        CHECK(http.level == PolicyLevel::Mesh);
    }
    SUBCASE("workload PERMISSIVE with a STRICT port, and an UNSET port that inherits the workload") {
        CHECK(mode("demo", "httpbin-", 8080).mode == MtlsMode::Strict);
        CHECK(mode("demo", "httpbin-", 8080).level == PolicyLevel::WorkloadPort);
        const auto admin = mode("demo", "httpbin-", 9000);
        CHECK(admin.mode == MtlsMode::Permissive);
        CHECK(admin.level == PolicyLevel::Workload);
        CHECK(mode("demo", "httpbin-", 8081).mode == MtlsMode::Permissive);
    }
    SUBCASE("a workload policy does not leak to other workloads of the namespace") {
        const auto m = mode("demo", "sleep-", 8080);
        CHECK(m.mode == MtlsMode::Strict);
        CHECK(m.level == PolicyLevel::Mesh);
    }
    SUBCASE("namespace DISABLE") {
        const auto m = mode("monitoring", "prometheus-", 9090);
        CHECK(m.mode == MtlsMode::Disable);
        CHECK(m.describe() == "DISABLE from monitoring/default (namespace)");
    }
    SUBCASE("portLevelMtls without a selector is ignored, as Istio does") {
        const auto m = mode("ambient-apps", "reviews-", 9080);
        CHECK(m.mode == MtlsMode::Strict);
        CHECK(m.level == PolicyLevel::Mesh);
    }
    SUBCASE("the root namespace's own workloads") {
        const auto m = mode("istio-system", "kiali-", 20001);
        CHECK(m.mode == MtlsMode::Strict);
        CHECK(m.policy == "istio-system/default");
    }
}

TEST_CASE("peer authentication: composition rules on a small cluster") {
    ClusterSnapshot s;
    Pod p;
    p.name = "web-1";
    p.namespace_name = "shop";
    p.labels = {{"app", "web"}, {"tier", "front"}};
    s.pods.push_back(p);
    const auto pa = [](std::string ns, std::string name, std::string ts, MtlsMode mode) {
        PeerAuthentication x;
        x.namespace_name = std::move(ns);
        x.name = std::move(name);
        x.creation_timestamp = std::move(ts);
        x.mode = mode;
        return x;
    };

    SUBCASE("nothing declared: PERMISSIVE by default") {
        const auto m = effective_mtls(s, p, 80);
        CHECK(m.mode == MtlsMode::Permissive);
        CHECK(m.level == PolicyLevel::Default);
        CHECK(m.describe().find("Istio default") != std::string::npos);
    }
    SUBCASE("mesh UNSET is PERMISSIVE") {
        s.peer_authentications.push_back(pa("istio-system", "default", "2026-01-01T00:00:00Z", MtlsMode::Unset));
        CHECK(effective_mtls(s, p, 80).mode == MtlsMode::Permissive);
        CHECK(effective_mtls(s, p, 80).level == PolicyLevel::Default);
    }
    SUBCASE("a custom root namespace") {
        s.root_namespace = "mesh-root";
        s.peer_authentications.push_back(pa("istio-system", "default", "2026-01-01T00:00:00Z", MtlsMode::Strict));
        s.peer_authentications.push_back(pa("mesh-root", "default", "2026-01-01T00:00:00Z", MtlsMode::Disable));
        CHECK(effective_mtls(s, p, 80).mode == MtlsMode::Disable);
    }
    SUBCASE("oldest workload policy wins; equal timestamps: name order") {
        auto a = pa("shop", "b-policy", "2026-01-02T00:00:00Z", MtlsMode::Strict);
        a.selector = Labels{{"app", "web"}};
        auto b = pa("shop", "a-policy", "2026-01-02T00:00:00Z", MtlsMode::Disable);
        b.selector = Labels{{"tier", "front"}};
        auto c = pa("shop", "0-newer", "2026-01-03T00:00:00Z", MtlsMode::Permissive);
        c.selector = Labels{{"app", "web"}};
        s.peer_authentications = {a, b, c};
        const auto m = effective_mtls(s, p, 80);
        CHECK(m.mode == MtlsMode::Disable);
        CHECK(m.policy == "shop/a-policy");
    }
    SUBCASE("a selector that does not match is ignored") {
        auto a = pa("shop", "other", "2026-01-02T00:00:00Z", MtlsMode::Disable);
        a.selector = Labels{{"app", "api"}};
        s.peer_authentications = {pa("shop", "default", "2026-01-01T00:00:00Z", MtlsMode::Strict), a};
        CHECK(effective_mtls(s, p, 80).mode == MtlsMode::Strict);
        CHECK(effective_mtls(s, p, 80).level == PolicyLevel::Namespace);
    }
    SUBCASE("workload UNSET with a port UNSET inherits the namespace") {
        auto w = pa("shop", "web", "2026-01-02T00:00:00Z", MtlsMode::Unset);
        w.selector = Labels{{"app", "web"}};
        w.port_modes = {{8080, MtlsMode::Unset}, {9090, MtlsMode::Disable}};
        s.peer_authentications = {pa("shop", "default", "2026-01-01T00:00:00Z", MtlsMode::Strict), w};
        CHECK(effective_mtls(s, p, 8080).mode == MtlsMode::Strict);
        CHECK(effective_mtls(s, p, 8080).level == PolicyLevel::Namespace);
        CHECK(effective_mtls(s, p, 9090).mode == MtlsMode::Disable);
        CHECK(effective_mtls(s, p, 9090).level == PolicyLevel::WorkloadPort);
    }
    SUBCASE("another namespace's policies do not apply") {
        s.peer_authentications = {pa("other", "default", "2026-01-01T00:00:00Z", MtlsMode::Strict)};
        CHECK(effective_mtls(s, p, 80).mode == MtlsMode::Permissive);
    }
}
