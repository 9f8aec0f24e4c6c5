// Commands on the in-memory RecordingRunner (no processes): version parsing, plan's "what would
// change", status parsing of cluster JSON.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include "provision/engine.hpp"
#include "provision/provision_cli.hpp"

using namespace meshproof::provision;
using namespace std::chrono_literals;

namespace {

CommandResult ok(std::string out) {
    CommandResult r;
    r.exit_code = 0;
    r.out = std::move(out);
    return r;
}

CommandResult exit_with(int code, std::string err = {}) {
    CommandResult r;
    r.exit_code = code;
    r.err = std::move(err);
    return r;
}

struct AlwaysAnswers final : Prober {
    ProbeResult http_get(const std::string&, int, const std::string&, const std::string&, std::chrono::milliseconds) override {
        return {true, 200, ""};
    }
};

struct Run {
    int code;
    std::string out;
    std::string err;
};

Run run(RecordingRunner& runner, std::vector<std::string> args) {
    AlwaysAnswers prober;
    std::istringstream no_input;
    ProvisionEnvironment env;
    env.runner = &runner;
    env.prober = &prober;
    env.in = &no_input;
    env.retry = RetryPolicy{2, 1ms, 1ms};
    env.sleep = [](std::chrono::milliseconds) {};
    std::ostringstream out, err;
    const int code = run_provision_command(args, out, err, env);
    return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("tool versions") {
    auto v = parse_version("v1.31.2");
    REQUIRE(v);
    CHECK(*v == std::array<int, 3>{1, 31, 2});
    v = parse_version("v3.15.4+gfa9efb0");
    REQUIRE(v);
    CHECK(*v == std::array<int, 3>{3, 15, 4});
    v = parse_version("v1.30.5-gke.1014001");
    REQUIRE(v);
    CHECK(*v == std::array<int, 3>{1, 30, 5});
    v = parse_version("1.29");
    REQUIRE(v);
    CHECK((*v)[1] == 29);
    CHECK_FALSE(parse_version(""));
    CHECK_FALSE(parse_version("unknown"));
}

TEST_CASE("plan against a cluster: install, upgrade, diff") {
    RecordingRunner runner;
    runner.on_prefix({"kubectl", "version", "-o", "json"},
                     ok(R"({"clientVersion":{"gitVersion":"v1.31.2"},"serverVersion":{"gitVersion":"v1.30.4"}})"));
    runner.on_prefix({"helm", "list"},
                     ok(R"([{"name":"istiod","namespace":"istio-system","status":"deployed","chart":"istiod-1.26.2","app_version":"1.26.2"},
                            {"name":"istio-base","namespace":"istio-system","status":"deployed","chart":"base-1.30.3","app_version":"1.30.3"}])"));
    runner.on([](const Command& c) { return c.argv.size() > 1 && c.argv[1] == "diff"; },
              [](const Command& c) {
                  // PeerAuthentication differs, the pool is the same, everything else cannot be compared.
                  const std::string& in = *c.stdin_text;
                  if (in.find("PeerAuthentication") != std::string::npos) return exit_with(1);
                  if (in.find("IPAddressPool") != std::string::npos) return exit_with(0);
                  return exit_with(2, "error: something\nmore");
              });
    const Run r = run(runner, {"plan", "--state-dir", "/nonexistent/meshproof-test"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.out.find("Against the cluster (Kubernetes v1.30.4):") != std::string::npos);
    CHECK(r.out.find("  istiod: upgrade istiod-1.26.2 -> istiod-1.30.3\n") != std::string::npos);
    CHECK(r.out.find("  istio-base: same chart base-1.30.3 (deployed; values re-applied)\n") != std::string::npos);
    CHECK(r.out.find("  kiali: install kiali-server-2.26.0\n") != std::string::npos);
    CHECK(r.out.find("  peer-authentication: would change\n") != std::string::npos);
    CHECK(r.out.find("  metallb-pool: no change\n") != std::string::npos);
    CHECK(r.out.find("  routes: unknown (error: something)\n") != std::string::npos);
    for (const auto& c : runner.calls()) {
        CAPTURE(format_argv(c.argv));
        CHECK((c.argv[1] == "version" || c.argv[1] == "list" || c.argv[1] == "diff"));
    }
}

TEST_CASE("plan without a cluster makes one quick attempt") {
    RecordingRunner runner;
    runner.on_prefix({"kubectl", "version"},
                     exit_with(1, "The connection to the server localhost:8080 was refused - did you specify the right host or port?"));
    const Run r = run(runner, {"plan", "--state-dir", "/nonexistent/meshproof-test"});
    CHECK(r.code == 0);
    CHECK(r.out.find("No cluster reachable (The connection to the server localhost:8080 was refused") != std::string::npos);
    CHECK(runner.calls().size() == 1);  // no retries for this probe: plan stays quick
}

TEST_CASE("status reads health from the cluster's JSON") {
    RecordingRunner runner;
    runner.on_prefix({"kubectl", "config", "current-context"}, ok("kind-lab\n"));
    runner.on_prefix({"helm", "list"},
                     ok(R"([{"name":"istiod","namespace":"istio-system","status":"deployed","chart":"istiod-1.30.3"},
                            {"name":"metallb","namespace":"metallb-system","status":"failed","chart":"metallb-0.15.2"}])"));
    runner.on_prefix({"kubectl", "get", "deployments,daemonsets"}, ok(R"({"items":[
        {"kind":"Deployment","metadata":{"name":"istiod","namespace":"istio-system",
          "annotations":{"meta.helm.sh/release-name":"istiod"}},"spec":{"replicas":2},"status":{"readyReplicas":1}},
        {"kind":"DaemonSet","metadata":{"name":"metallb-speaker","namespace":"metallb-system",
          "annotations":{"meta.helm.sh/release-name":"metallb"}},"status":{"desiredNumberScheduled":3,"numberReady":3}}]})"));
    runner.on_prefix({"kubectl", "get", "service"},
                     ok(R"({"status":{"loadBalancer":{"ingress":[{"ip":"192.168.1.241"}]}}})"));
    runner.on_prefix({"kubectl", "get", "peerauthentications.security.istio.io"}, ok(R"({"items":[
        {"metadata":{"name":"default","namespace":"istio-system"},"spec":{"mtls":{"mode":"STRICT"}}},
        {"metadata":{"name":"legacy","namespace":"shop"},"spec":{"mtls":{"mode":"DISABLE"}}}]})"));
    runner.on_prefix({"kubectl", "get", "ipaddresspools.metallb.io,l2advertisements.metallb.io,bgpadvertisements.metallb.io"},
                     ok(R"({"items":[{"kind":"IPAddressPool","metadata":{"name":"a"}},
                                     {"kind":"IPAddressPool","metadata":{"name":"b"}},
                                     {"kind":"L2Advertisement","metadata":{"name":"x"},"spec":{"ipAddressPools":["a"]}}]})"));
    runner.on_prefix({"kubectl", "get", "configmap", "kiali"},
                     ok(R"({"data":{"config.yaml":"auth:\n  strategy: anonymous\nserver:\n  port: 20001\n"}})"));
    runner.on_prefix({"kubectl", "get", "virtualservices.networking.istio.io"},
                     ok(R"({"items":[{"spec":{"http":[{"route":[{"destination":{"host":"kiali.istio-system.svc.cluster.local"}}]}]}}]})"));
    const Run r = run(runner, {"status", "--state-dir", "/nonexistent/meshproof-test"});
    INFO(r.out << r.err);
    CHECK(r.code == 1);  // istiod 1/2 ready, metallb failed, releases missing
    CHECK(r.out.find("lab homelab, context kind-lab\n") == 0);
    CHECK(r.out.find("istiod         deployed  istiod-1.30.3         istiod 1/2") != std::string::npos);
    CHECK(r.out.find("metallb        failed    metallb-0.15.2        metallb-speaker 3/3") != std::string::npos);
    CHECK(r.out.find("kiali          not installed") != std::string::npos);
    CHECK(r.out.find("gateway: 192.168.1.241 (answers on 15021)") != std::string::npos);
    CHECK(r.out.find("mTLS: STRICT (mesh-wide PeerAuthentication in istio-system)") != std::string::npos);
    CHECK(r.out.find("PeerAuthentication shop/legacy DISABLE weakens the mesh-wide mode") != std::string::npos);
    CHECK(r.out.find("MetalLB pool b has no L2Advertisement") != std::string::npos);
    CHECK(r.out.find("MetalLB pool a has") == std::string::npos);
    CHECK(r.out.find("kiali: auth strategy anonymous, exposed through the gateway") != std::string::npos);
    CHECK(r.out.find("Kiali uses anonymous auth and is exposed through the gateway") != std::string::npos);
    for (const auto& c : runner.calls()) CHECK((c.argv[1] == "config" || c.argv[1] == "list" || c.argv[1] == "get"));
}

TEST_CASE("preflight output names each tool, the context and the nodes") {
    RecordingRunner runner;
    runner.on_prefix({"helm", "version"}, ok("v3.15.4"));
    runner.on_prefix({"kubectl", "version", "--client"}, ok(R"({"clientVersion":{"gitVersion":"v1.31.2"}})"));
    runner.on_prefix({"kubectl", "config", "current-context"}, ok("kind-lab\n"));
    runner.on_prefix({"kubectl", "version", "-o", "json"},
                     ok(R"({"clientVersion":{"gitVersion":"v1.31.2"},"serverVersion":{"gitVersion":"v1.31.0"}})"));
    runner.on_prefix({"kubectl", "get", "nodes"}, ok(R"({"items":[
        {"metadata":{"name":"n1"},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
        {"metadata":{"name":"n2"},"status":{"conditions":[{"type":"Ready","status":"False"}]}}]})"));
    runner.on_prefix({"kubectl", "get", "servicecidrs.networking.k8s.io"}, exit_with(1, "no such resource"));
    runner.on_prefix({"helm", "list"}, ok("[]"));
    runner.on_prefix({"kubectl", "get", "deployments"}, ok(R"({"items":[]})"));
    // Stop right after preflight: nothing is confirmed without --yes and without a terminal.
    const Run r = run(runner, {"up", "--state-dir", "/tmp/meshproof-engine-test-state"});
    INFO(r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.find("preflight: helm 3.15.4\npreflight: kubectl 1.31.2\npreflight: context kind-lab\n"
                     "preflight: cluster reachable, Kubernetes v1.31.0\npreflight: 1/2 nodes Ready\n") != std::string::npos);
    CHECK(r.err.find("warning: node n2 is not Ready") != std::string::npos);
    CHECK(r.err.find("warning: Istio 1.30 supports Kubernetes 1.32 to 1.36; this cluster runs v1.31.0") != std::string::npos);
    CHECK(r.err.find("refusing without --yes") != std::string::npos);
    std::error_code ec;
    std::filesystem::remove_all("/tmp/meshproof-engine-test-state", ec);  // up made it for its log
}
