#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "audit/k8s/snapshot_fetch.hpp"
#include "k8s_test_helpers.hpp"

using namespace meshproof;
using namespace meshproof::audit::k8s;
using namespace meshproof::audit::k8s::testing;

namespace {

// A Runner answering from a function, recording every argv (meshproof_k8s does not link the
// provisioner's RecordingRunner).
class ScriptedRunner : public provision::Runner {
public:
    explicit ScriptedRunner(std::function<provision::CommandResult(const provision::Command&)> answer)
        : answer_(std::move(answer)) {}
    provision::CommandResult run(const provision::Command& cmd) override {
        calls.push_back(cmd.argv);
        return answer_(cmd);
    }
    std::vector<std::vector<std::string>> calls;

private:
    std::function<provision::CommandResult(const provision::Command&)> answer_;
};

provision::CommandResult ok(std::string out) {
    provision::CommandResult r;
    r.exit_code = 0;
    r.out = std::move(out);
    return r;
}

provision::CommandResult failed(int code, std::string err) {
    provision::CommandResult r;
    r.exit_code = code;
    r.err = std::move(err);
    return r;
}

std::string homelab_json() {
    std::ifstream in(homelab_snapshot_path());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("snapshot fetch: kubectl through the runner") {
    FetchOptions opt;

    SUBCASE("one kubectl call, output kept as read") {
        const std::string json = homelab_json();
        ScriptedRunner runner([&](const provision::Command&) { return ok(json); });
        opt.context = "homelab";
        auto s = fetch_cluster_snapshot(runner, opt);
        REQUIRE(s.has_value());
        CHECK(s->json == json);
        CHECK(s->snapshot.pods.size() == 19);
        REQUIRE(runner.calls.size() == 1);
        CHECK(runner.calls[0] == std::vector<std::string>{"kubectl", "--context", "homelab", "get",
                                                          "pods,services,namespaces,nodes,peerauthentications.security.istio.io",
                                                          "--all-namespaces", "-o", "json"});
    }
    SUBCASE("no Istio CRD: retried without PeerAuthentications, with a warning") {
        ScriptedRunner runner([](const provision::Command& c) {
            if (c.argv[2].find("peerauthentications") != std::string::npos)
                return failed(1, "error: the server doesn't have a resource type \"peerauthentications\"\n");
            return ok(R"({"kind":"List","items":[{"kind":"Namespace","metadata":{"name":"default"}}]})");
        });
        auto s = fetch_cluster_snapshot(runner, opt);
        REQUIRE(s.has_value());
        CHECK(runner.calls.size() == 2);
        CHECK(runner.calls[1][2] == "pods,services,namespaces,nodes");
        REQUIRE(s->snapshot.warnings.size() == 1);
        CHECK(s->snapshot.warnings[0].find("no PeerAuthentication CRD") != std::string::npos);
    }
    SUBCASE("other failures are errors naming the command") {
        ScriptedRunner runner([](const provision::Command&) {
            return failed(1, "error: You must be logged in to the server (Unauthorized)\n");
        });
        auto s = fetch_cluster_snapshot(runner, opt);
        REQUIRE_FALSE(s.has_value());
        CHECK(runner.calls.size() == 1);
        CHECK(s.error().find("kubectl get pods,services") == 0);
        CHECK(s.error().find("exit status 1: error: You must be logged in") != std::string::npos);
    }
    SUBCASE("kubectl missing") {
        ScriptedRunner runner([](const provision::Command&) {
            provision::CommandResult r;
            r.spawn_failed = true;
            return r;
        });
        auto s = fetch_cluster_snapshot(runner, opt);
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error().find("is kubectl installed") != std::string::npos);
    }
    SUBCASE("unreadable output") {
        ScriptedRunner runner([](const provision::Command&) { return ok("{ not json"); });
        auto s = fetch_cluster_snapshot(runner, opt);
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error().rfind("kubectl output:", 0) == 0);
    }
}
