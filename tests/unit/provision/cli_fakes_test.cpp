// `meshproof init/plan/up/status/down` end to end through run_provision_command, with the fake helm
// and kubectl (tests/fakes) first on PATH and their state in a temp directory. Real processes, real
// journal files; only the HTTP probe of the gateway IP is faked (no LAN here).
#include <doctest/doctest.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "provision/journal.hpp"
#include "provision/provision_cli.hpp"
#include "provision/spec.hpp"
#include "provision/yaml_util.hpp"
#include "tests/unit/provision/provision_fakes.hpp"

using namespace meshproof::provision;
using namespace meshproof::provision_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;


TEST_CASE("up end to end on the fakes, then status") {
    FakeCluster fc;
    const Result r = fc.run({"up", "--yes"});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("preflight: context fake-lab") != std::string::npos);
    CHECK(r.out.find("preflight: 1/1 nodes Ready") != std::string::npos);
    // One progress line per step, "[3/21] istio-base ... 0s".
    const std::regex progress(R"(^\[(\d+)/21\] ([a-z-]+) \.\.\. \d+s$)");
    std::istringstream lines(r.out);
    std::string line;
    int progress_lines = 0;
    while (std::getline(lines, line)) {
        if (std::regex_match(line, progress)) ++progress_lines;
    }
    CHECK(progress_lines == 21);
    CHECK(r.out.find("done: 21 of 21 steps run") != std::string::npos);
    CHECK(r.out.find("gateway: 192.168.1.240") != std::string::npos);
    CHECK(r.out.find("kiali: http://kiali.home.arpa/kiali/") != std::string::npos);

    // Every step's commands carry its id (MESHPROOF_STEP), in plan order.
    const auto ids = plan_step_ids(fc);
    std::vector<std::string> steps_seen;
    for (const auto& c : fc.calls()) {
        if (c.mutating() && (steps_seen.empty() || steps_seen.back() != c.step)) steps_seen.push_back(c.step);
    }
    std::vector<std::string> command_steps;
    for (const auto& id : ids) {
        if (id != "gateway-ip" && id != "gateway-answers" && id != "routes-answer" && id != "metallb-ready")
            command_steps.push_back(id);
    }
    CHECK(steps_seen == command_steps);

    // The cluster looks like the plan says.
    const YAML::Node st = fc.fake_state();
    CHECK(st["releases"].size() == 6);
    CHECK(st["releases"]["istio-system/istiod"]["chart"].Scalar() == "istiod-1.30.3");
    CHECK(st["releases"]["istio-ingress/istio-ingress"]["chart"].Scalar() == "gateway-1.30.3");
    CHECK(st["objects"]["PeerAuthentication/istio-system/default"]["spec"]["mtls"]["mode"].Scalar() == "STRICT");
    CHECK(st["objects"]["Service/istio-ingress/istio-ingress"]["status"]["loadBalancer"]["ingress"][0]["ip"].Scalar() ==
          "192.168.1.240");
    CHECK(st["namespaces"]["meshproof-demo"]["istio-injection"].Scalar() == "enabled");
    CHECK(st["objects"]["Deployment/meshproof-demo/echo-server"]);
    // The probes went to the assigned IP.
    REQUIRE(fc.prober.calls.size() >= 2);
    CHECK(fc.prober.calls[0] == "192.168.1.240:15021/healthz/ready");
    CHECK(fc.prober.calls.back() == "192.168.1.240:80kiali.home.arpa/");

    // Journal and log: complete, private.
    const Journal j = fc.journal();
    CHECK(j.state == "complete");
    CHECK(j.kube_context == "fake-lab");
    CHECK(j.steps.size() == 21);
    for (const auto& [id, rec] : j.steps) CHECK(rec.status == StepStatus::Done);
    struct stat sb {};
    REQUIRE(::stat((fc.state + "/meshproof.log").c_str(), &sb) == 0);
    CHECK((sb.st_mode & 0777) == 0600);
    const std::string log = read_file(fc.state + "/meshproof.log");
    CHECK(log.find("$ helm upgrade --install istiod istio/istiod --namespace istio-system --version 1.30.3") != std::string::npos);
    CHECK(log.find("step=istiod") != std::string::npos);
    CHECK(log.find("Release \"istiod\" does not exist. Installing it now.") != std::string::npos);

    const Result s = fc.run({"status"});
    INFO(s.out << s.err);
    CHECK(s.code == 0);
    CHECK(s.out.find("istiod         deployed  istiod-1.30.3         istiod 1/1") != std::string::npos);
    CHECK(s.out.find("gateway: 192.168.1.240 (answers on 15021)") != std::string::npos);
    CHECK(s.out.find("mTLS: STRICT") != std::string::npos);
    CHECK(s.out.find("prometheus: http://prometheus.home.arpa/") != std::string::npos);
    CHECK(s.out.find("warnings:") == std::string::npos);
    CHECK(s.out.find("healthy\n") != std::string::npos);
}

TEST_CASE("idempotency: a second up makes only read-only calls and says up to date") {
    FakeCluster fc;
    REQUIRE(fc.run({"up", "--yes"}).code == 0);
    const std::string state_before = read_file(fc.k8s + "/state.json");
    fc.clear_calls();
    const Result r = fc.run({"up", "--yes"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.out.find("up to date") != std::string::npos);
    CHECK(r.out.find("[1/21]") == std::string::npos);
    const auto calls = fc.calls();
    CHECK(calls.size() > 5);
    for (const auto& c : calls) {
        CAPTURE(c.line());
        CHECK_FALSE(c.mutating());
    }
    // Gets of the gateway Service count polls in the fake; everything else is unchanged.
    CHECK(fc.fake_state()["releases"].size() == 6);
    CHECK(read_file(fc.k8s + "/state.json").size() == state_before.size());

    SUBCASE("drift is repaired: a release removed behind our back is reinstalled, nothing else") {
        ::system(("helm uninstall kiali --namespace istio-system > /dev/null 2>&1"));
        fc.clear_calls();
        const Result d = fc.run({"up", "--yes"});
        INFO(d.out << d.err);
        CHECK(d.code == 0);
        CHECK(d.out.find("drift: kiali: release kiali is not installed") != std::string::npos);
        const auto steps = mutating_steps(fc.calls());
        CHECK(steps == std::vector<std::string>{"kiali"});
    }
    SUBCASE("a changed spec re-runs only the changed steps (and the checks after them)") {
        const std::string lab = fc.root + "/lab.yaml";
        std::ofstream(lab) << "istio:\n  mtls: PERMISSIVE\n";
        fc.clear_calls();
        const Result c = fc.run({"up", "--yes", "-f", lab});
        INFO(c.out << c.err);
        CHECK(c.code == 0);
        CHECK(c.out.find("resuming: 18 of 21 steps done earlier; starting at peer-authentication") != std::string::npos);
        CHECK(mutating_steps(fc.calls()) == std::vector<std::string>{"peer-authentication"});
        CHECK(fc.fake_state()["objects"]["PeerAuthentication/istio-system/default"]["spec"]["mtls"]["mode"].Scalar() ==
              "PERMISSIVE");
    }
}

// Fails step i on the first `up`, then checks that the second `up` resumes exactly there.
void check_resume_at_steps(std::size_t from, std::size_t to) {
    std::vector<std::string> ids;
    {
        FakeCluster fc;
        ids = plan_step_ids(fc);
    }
    REQUIRE(ids.size() == 21);
    for (std::size_t i = from; i < to && i < ids.size(); ++i) {
        const std::string& id = ids[i];
        CAPTURE(id);
        FakeCluster fc;
        const bool probe = id == "gateway-answers" || id == "routes-answer";
        if (probe) {
            fc.prober.fail_port = id == "gateway-answers" ? 15021 : 80;
            // The probe waits this long for an answer; the cap applies to every command, so it must
            // stay well above a fake's run time (slow under sanitizers).
            fc.timeout_cap = 2000ms;
        } else {
            fc.set_env("FAKE_FAIL_STEP", id);
        }
        const Result failed = fc.run({"up", "--yes"});
        INFO(failed.out << failed.err);
        REQUIRE(failed.code == 1);
        CHECK(failed.out.find("[" + std::to_string(i + 1) + "/21] " + id + " ... FAILED") != std::string::npos);
        CHECK(failed.err.find("run `meshproof up` again to resume at " + id) != std::string::npos);
        Journal j = fc.journal();
        CHECK(j.state == "failed");
        CHECK(j.steps.size() == i + 1);
        REQUIRE(j.steps.count(id) == 1);
        CHECK(j.steps[id].status == StepStatus::Failed);
        for (std::size_t k = 0; k < i; ++k) CHECK(j.steps[ids[k]].status == StepStatus::Done);

        // Fixed: the next up resumes at the failed step and redoes nothing before it.
        ::unsetenv("FAKE_FAIL_STEP");
        fc.prober.fail_port = 0;
        fc.timeout_cap = 0ms;
        fc.clear_calls();
        const Result resumed = fc.run({"up", "--yes"});
        INFO(resumed.out << resumed.err);
        REQUIRE(resumed.code == 0);
        if (i > 0)
            CHECK(resumed.out.find("starting at " + id) != std::string::npos);
        for (const auto& step : mutating_steps(fc.calls())) {
            const auto pos = static_cast<std::size_t>(std::find(ids.begin(), ids.end(), step) - ids.begin());
            CAPTURE(step);
            CHECK(pos >= i);
        }
        j = fc.journal();
        CHECK(j.state == "complete");
        CHECK(j.steps.size() == 21);
    }
}

// Three cases so that ctest -j can run them side by side (each `up` is ~50 fake invocations).
TEST_CASE("resume after an injected failure at every step (steps 1-7)") { check_resume_at_steps(0, 7); }
TEST_CASE("resume after an injected failure at every step (steps 8-14)") { check_resume_at_steps(7, 14); }
TEST_CASE("resume after an injected failure at every step (steps 15-21)") { check_resume_at_steps(14, 21); }

TEST_CASE("down: reverse order, CRDs kept unless --purge") {
    FakeCluster fc;
    REQUIRE(fc.run({"up", "--yes"}).code == 0);
    SUBCASE("without --yes and without a terminal it refuses") {
        fc.clear_calls();
        const Result r = fc.run({"down"});
        CHECK(r.code == 2);
        CHECK(r.err.find("refusing without --yes") != std::string::npos);
        CHECK(mutating_steps(fc.calls()).empty());
    }
    SUBCASE("down, then down --purge, then up again") {
        fc.clear_calls();
        const Result r = fc.run({"down", "--yes"});
        INFO(r.out << r.err);
        REQUIRE(r.code == 0);
        std::vector<std::string> order;
        for (const auto& c : fc.calls()) {
            if (c.mutating()) order.push_back(c.line().substr(0, c.line().find(" --")));
        }
        CHECK(order == std::vector<std::string>{
                           "kubectl delete",                      // peer-authentication
                           "kubectl delete",                      // routes
                           "kubectl delete",                      // demo-apps
                           "helm uninstall istio-ingress",        //
                           "kubectl delete namespace meshproof-demo",
                           "helm uninstall kiali",
                           "helm uninstall prometheus",
                           "kubectl delete",                      // metallb-pool
                           "helm uninstall istiod",
                       });
        std::vector<std::string> step_order;
        for (const auto& c : fc.calls()) {
            if (c.mutating()) step_order.push_back(c.step);
        }
        CHECK(step_order == std::vector<std::string>{"peer-authentication", "routes", "demo-apps", "istio-ingress",
                                                     "namespaces", "kiali", "prometheus", "metallb-pool", "istiod"});
        CHECK(r.out.find("kept: istio-base release kept: it owns the Istio CRDs (use --purge)") != std::string::npos);
        YAML::Node st = fc.fake_state();
        CHECK(st["crds"].size() == 22);  // 14 Istio + 8 MetalLB
        CHECK(st["releases"].size() == 2);
        CHECK(fc.journal().state == "down");
        CHECK(fc.journal().steps.empty());

        const Result p = fc.run({"down", "--yes", "--purge"});
        INFO(p.out << p.err);
        REQUIRE(p.code == 0);
        CHECK(p.out.find("already gone") != std::string::npos);
        st = fc.fake_state();
        CHECK(st["crds"].size() == 0);
        CHECK(st["releases"].size() == 0);
        CHECK_FALSE(st["namespaces"]["istio-system"]);
        CHECK_FALSE(st["namespaces"]["metallb-system"]);

        fc.clear_calls();
        const Result again = fc.run({"up", "--yes"});
        INFO(again.out << again.err);
        CHECK(again.code == 0);
        CHECK(again.out.find("done: 21 of 21 steps run") != std::string::npos);
    }
}

TEST_CASE("a step that hangs is killed by its timeout, with its process group") {
    FakeCluster fc;
    fc.set_env("FAKE_HANG_STEP", "istiod");
    fc.timeout_cap = 3000ms;
    const Result r = fc.run({"up", "--yes"});
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    CHECK(r.out.find("istiod ... FAILED") != std::string::npos);
    CHECK(r.err.find("command: helm upgrade --install istiod istio/istiod") != std::string::npos);
    CHECK(r.err.find("timed out after 3s; its process group was killed") != std::string::npos);
    std::this_thread::sleep_for(200ms);
    CHECK(pid_dead(fc.k8s + "/hang.pid"));
    CHECK(pid_dead(fc.k8s + "/hang-child.pid"));  // the fake's own child, same group
    Journal j = fc.journal();
    CHECK(j.steps["istiod"].status == StepStatus::Failed);
    ::unsetenv("FAKE_HANG_STEP");
    fc.timeout_cap = 0ms;
    CHECK(fc.run({"up", "--yes"}).code == 0);
}

TEST_CASE("Ctrl-C during a step ends it, records the interruption, and up resumes there") {
    FakeCluster fc;
    fc.set_env("FAKE_HANG_STEP", "kiali");
    std::thread ctrl_c([&] {
        wait_for_file(fc.k8s + "/hang-child.pid");
        fc.interrupt.store(true);
    });
    const Result r = fc.run({"up", "--yes"});
    ctrl_c.join();
    INFO(r.out << r.err);
    CHECK(r.code == 130);
    CHECK(r.out.find("kiali ... interrupted") != std::string::npos);
    CHECK(r.err.find("interrupted (Ctrl-C)") != std::string::npos);
    std::this_thread::sleep_for(200ms);
    CHECK(pid_dead(fc.k8s + "/hang.pid"));
    CHECK(pid_dead(fc.k8s + "/hang-child.pid"));
    Journal j = fc.journal();
    CHECK(j.state == "interrupted");
    CHECK(j.steps["kiali"].status == StepStatus::Interrupted);
    CHECK(j.steps["istiod"].status == StepStatus::Done);

    ::unsetenv("FAKE_HANG_STEP");
    fc.interrupt.store(false);
    fc.clear_calls();
    const Result resumed = fc.run({"up", "--yes"});
    INFO(resumed.out << resumed.err);
    CHECK(resumed.code == 0);
    CHECK(resumed.out.find("starting at kiali") != std::string::npos);
    CHECK(mutating_steps(fc.calls()).front() == "kiali");
}

TEST_CASE("transient failures are retried, real errors are not") {
    FakeCluster fc;
    SUBCASE("the MetalLB webhook refuses connections right after install") {
        fc.set_env("FAKE_WEBHOOK_WARMUP", "2");
        const Result r = fc.run({"up", "--yes"});
        INFO(r.out << r.err);
        CHECK(r.code == 0);
        CHECK(r.out.find("metallb-pool ... transient error (Error from server (InternalError)") != std::string::npos);
        int applies = 0;
        for (const auto& c : fc.calls()) applies += c.step == "metallb-pool" && c.mutating() ? 1 : 0;
        CHECK(applies == 3);
    }
    SUBCASE("flaky API server on a helm install") {
        fc.fail_rules(R"([{"step": "istio-base", "times": 3, "stderr": "Error: Kubernetes cluster unreachable: Get \"https://127.0.0.1:6443/version\": net/http: TLS handshake timeout"}])");
        const Result r = fc.run({"up", "--yes"});
        INFO(r.out << r.err);
        CHECK(r.code == 0);
        int installs = 0;
        for (const auto& c : fc.calls()) installs += c.step == "istio-base" ? 1 : 0;
        CHECK(installs == 4);
    }
    SUBCASE("a real error fails at once, with command, status and stderr tail") {
        fc.fail_rules(R"([{"step": "istiod", "times": -1, "exit": 1, "stderr": "Error: INSTALLATION FAILED: execution error at (istiod/templates/deployment.yaml:3:4): bad value\n"}])");
        const Result r = fc.run({"up", "--yes"});
        INFO(r.out << r.err);
        CHECK(r.code == 1);
        int installs = 0;
        for (const auto& c : fc.calls()) installs += c.step == "istiod" ? 1 : 0;
        CHECK(installs == 1);
        CHECK(r.err.find("step istiod (Istio control plane) failed:\ncommand: helm upgrade --install istiod istio/istiod "
                         "--namespace istio-system --version 1.30.3 --wait --timeout 300s\nexit status 1\n") !=
              std::string::npos);
        CHECK(r.err.find("  Error: INSTALLATION FAILED: execution error at (istiod/templates/deployment.yaml:3:4): bad value") !=
              std::string::npos);
        CHECK(r.err.find("full output: " + fc.state + "/meshproof.log") != std::string::npos);
        CHECK(fc.journal().steps["istiod"].message ==
              "exit status 1; Error: INSTALLATION FAILED: execution error at (istiod/templates/deployment.yaml:3:4): bad value");
    }
    SUBCASE("too many transient failures: gives up and says so") {
        fc.fail_rules(R"([{"step": "istiod", "times": -1, "stderr": "dial tcp 10.0.0.1:6443: i/o timeout"}])");
        const Result r = fc.run({"up", "--yes"});
        CHECK(r.code == 1);
        CHECK(r.err.find("gave up after 5 attempts with transient errors") != std::string::npos);
    }
}

TEST_CASE("validation errors stop everything before any command runs") {
    FakeCluster fc;
    const std::string lab = fc.root + "/lab.yaml";
    std::ofstream(lab) << "name: lab\nmetallb:\n  pool:\n    adresses: [10.0.0.1-10.0.0.9]\ningress:\n  ports:\n    https:\n"
                          "      port: 99999\nistio:\n  mode: ambiant\n";
    for (const char* verb : {"plan", "up", "down", "status"}) {
        CAPTURE(verb);
        fc.clear_calls();
        const Result r = fc.run({verb, "-f", lab, "--yes"});
        if (std::string(verb) == "plan" || std::string(verb) == "status") {
            // --yes does not apply to plan/status: usage error first
            CHECK(r.code == 2);
            continue;
        }
        CHECK(r.code == 2);
        CHECK(r.err.find(lab + ":4:5: metallb.pool.adresses: unknown key 'adresses' (did you mean 'addresses'?)") !=
              std::string::npos);
        CHECK(r.err.find(lab + ":8:13: ingress.ports.https.port: 99999 is out of range (1..65535)") != std::string::npos);
        CHECK(r.err.find(lab + ":10:9: istio.mode: unknown value 'ambiant' (expected sidecar | ambient); did you mean 'ambient'?") !=
              std::string::npos);
        CHECK(r.err.find("3 errors in the lab spec") != std::string::npos);
        CHECK(fc.calls().empty());
    }
    const Result p = fc.run({"plan", "-f", lab});
    CHECK(p.code == 2);
    CHECK(p.err.find(":4:5:") != std::string::npos);
}

TEST_CASE("preflight") {
    FakeCluster fc;
    SUBCASE("cluster unreachable (connection refused is retried, then reported)") {
        fc.set_env("FAKE_NO_CLUSTER", "1");
        const Result r = fc.run({"up", "--yes"});
        CHECK(r.code == 1);
        CHECK(r.err.find("preflight: the cluster of context fake-lab is not reachable: The connection to the server "
                         "127.0.0.1:6443 was refused") != std::string::npos);
        int versions = 0;
        for (const auto& c : fc.calls()) versions += c.line().find("kubectl version -o json") == 0 ? 1 : 0;
        CHECK(versions == 5);
    }
    SUBCASE("helm too old") {
        fc.set_env("FAKE_HELM_VERSION", "v3.6.3");
        const Result r = fc.run({"up", "--yes"});
        CHECK(r.code == 1);
        CHECK(r.err.find("preflight: helm 3.6.3 is too old (need >= 3.8.0)") != std::string::npos);
    }
    SUBCASE("kubectl too old") {
        fc.set_env("FAKE_KUBECTL_VERSION", "v1.25.0");
        CHECK(fc.run({"up", "--yes"}).err.find("kubectl 1.25.0 is too old (need >= 1.28.0)") != std::string::npos);
    }
    SUBCASE("helm not on PATH") {
        const std::string only_kubectl = fc.root + "/bin";
        fs::create_directories(only_kubectl);
        fs::create_symlink(kFakes + "/kubectl", only_kubectl + "/kubectl");
        fc.set_env("PATH", only_kubectl);
        const Result r = fc.run({"up", "--yes"});
        CHECK(r.code == 1);
        CHECK(r.err.find("preflight: helm is not on PATH") != std::string::npos);
    }
    SUBCASE("no node Ready") {
        fc.set_env("FAKE_NODES_NOT_READY", "1");
        const Result r = fc.run({"up", "--yes"});
        CHECK(r.code == 1);
        CHECK(r.err.find("preflight: no node is Ready (1 nodes)") != std::string::npos);
    }
    SUBCASE("unknown kube context") {
        const Result r = fc.run({"up", "--yes", "--kube-context", "nope"});
        CHECK(r.code == 1);
        CHECK(r.err.find("kube context 'nope' not found") != std::string::npos);
    }
    SUBCASE("the pool overlaps the cluster's service range (found on the cluster)") {
        fc.set_env("FAKE_SERVICE_CIDR", "192.168.0.0/16");
        const Result r = fc.run({"up", "--yes"});
        CHECK(r.code == 2);
        CHECK(r.err.find("metallb.pool.addresses[0]: '192.168.1.240-192.168.1.250' overlaps the cluster's service range "
                         "192.168.0.0/16") != std::string::npos);
        CHECK(mutating_steps(fc.calls()).empty());
    }
    SUBCASE("a pool far from the nodes' LAN is a warning") {
        fc.set_env("FAKE_NODE_IP", "10.1.2.3");
        const Result r = fc.run({"up", "--yes"});
        CHECK(r.code == 0);
        CHECK(r.err.find("warning: the MetalLB pool is not in the subnet of any node (10.1.2.3)") != std::string::npos);
    }
    SUBCASE("istioctl-installed istiod is a conflict; an existing helm release is adopted") {
        // istiod installed outside helm
        std::ofstream(fc.k8s + "/state.json")
            << R"({"namespaces": {"default": {}, "istio-system": {}},
                  "objects": {"Deployment/istio-system/istiod": {"kind": "Deployment",
                     "metadata": {"name": "istiod", "namespace": "istio-system", "labels": {"app": "istiod"}},
                     "status": {"readyReplicas": 1}}}})";
        const Result r = fc.run({"up", "--yes"});
        CHECK(r.code == 1);
        CHECK(r.err.find("preflight: conflict: deployment istio-system/istiod was not installed by helm (istioctl install?)") !=
              std::string::npos);
        CHECK(mutating_steps(fc.calls()).empty());

        fs::remove(fc.k8s + "/state.json");
        ::system("helm repo add istio https://istio-release.storage.googleapis.com/charts > /dev/null && "
                 "helm upgrade --install istio-base istio/base --namespace istio-system --create-namespace "
                 "--version 1.26.2 > /dev/null");
        const Result a = fc.run({"up", "--yes"});
        INFO(a.out << a.err);
        CHECK(a.code == 0);
        CHECK(a.out.find("preflight: adopting the existing release istio-base in istio-system") != std::string::npos);
        CHECK(fc.fake_state()["releases"]["istio-system/istio-base"]["chart"].Scalar() == "base-1.30.3");
    }
}

TEST_CASE("status warns about what a homelab owner must know") {
    FakeCluster fc;
    const std::string lab = fc.root + "/lab.yaml";
    std::ofstream(lab) << "istio:\n  mtls: PERMISSIVE\naddons:\n  kiali:\n    auth: anonymous\nmetallb:\n  l2Advertisement:\n"
                          "    enabled: false\n";
    const Result up = fc.run({"up", "--yes", "-f", lab});
    INFO(up.out << up.err);
    REQUIRE(up.code == 0);
    CHECK(up.err.find("warning: addons.kiali.auth: Kiali is exposed through the gateway with anonymous auth") !=
          std::string::npos);
    fc.prober.answer = false;
    const Result s = fc.run({"status", "-f", lab});
    INFO(s.out << s.err);
    CHECK(s.code == 1);
    CHECK(s.out.find("mTLS: PERMISSIVE (mesh-wide PeerAuthentication in istio-system)") != std::string::npos);
    CHECK(s.out.find("Kiali uses anonymous auth and is exposed through the gateway") != std::string::npos);
    CHECK(s.out.find("MetalLB pool meshproof-pool has no L2Advertisement") != std::string::npos);
    CHECK(s.out.find("mTLS is PERMISSIVE") != std::string::npos);
    CHECK(s.out.find("the gateway IP 192.168.1.240 does not answer from here") != std::string::npos);
    CHECK(s.out.find("not healthy") != std::string::npos);
}

TEST_CASE("status of a cluster with nothing installed") {
    FakeCluster fc;
    const Result s = fc.run({"status"});
    CHECK(s.code == 1);
    CHECK(s.out.find("istiod         not installed") != std::string::npos);
    CHECK(s.out.find("mTLS: unknown (Istio CRDs not installed?)") != std::string::npos);
}

TEST_CASE("plan: JSON is the golden plan, text shows layers and with a cluster what would change") {
    FakeCluster fc;
    const Result j = fc.run({"plan", "--json"});
    REQUIRE(j.code == 0);
    CHECK(j.out == read_file(MESHPROOF_SOURCE_DIR "/tests/unit/provision/golden/plan_default.json"));
    CHECK(fc.calls().empty());  // --json renders only

    fc.set_env("FAKE_NO_CLUSTER", "1");
    const Result offline = fc.run({"plan"});
    CHECK(offline.code == 0);
    CHECK(offline.out.find("Plan for lab \"homelab\": 21 steps in 9 dependency layers.") == 0);
    CHECK(offline.out.find("\nlayer 9\n") != std::string::npos);
    CHECK(offline.out.find("$ helm upgrade --install istiod istio/istiod --namespace istio-system") != std::string::npos);
    CHECK(offline.out.find("No cluster reachable (The connection to the server 127.0.0.1:6443 was refused") !=
          std::string::npos);
    ::unsetenv("FAKE_NO_CLUSTER");

    const Result fresh = fc.run({"plan"});
    CHECK(fresh.out.find("  istiod: install istiod-1.30.3") != std::string::npos);
    CHECK(fresh.out.find("  metallb-pool: unknown (error: resource mapping not found") != std::string::npos);
    REQUIRE(fc.run({"up", "--yes"}).code == 0);
    const std::string lab = fc.root + "/lab.yaml";
    std::ofstream(lab) << "charts:\n  kiali: 2.27.0\nistio:\n  mtls: PERMISSIVE\n";
    fc.clear_calls();
    const Result changed = fc.run({"plan", "-f", lab});
    CHECK(changed.out.find("  kiali: upgrade kiali-server-2.26.0 -> kiali-server-2.27.0") != std::string::npos);
    CHECK(changed.out.find("  istiod: same chart istiod-1.30.3") != std::string::npos);
    CHECK(changed.out.find("  peer-authentication: would change") != std::string::npos);
    CHECK(changed.out.find("  routes: no change") != std::string::npos);
    CHECK(mutating_steps(fc.calls()).empty());
}

TEST_CASE("plan --output helmfile DIR") {
    FakeCluster fc;
    const std::string lab = fc.root + "/lab.yaml";
    std::ofstream(lab) << "exposure:\n  tls:\n    enabled: true\n";
    const std::string dir = fc.root + "/gitops";
    const Result r = fc.run({"plan", "-f", lab, "--output", "helmfile", dir});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    const std::string hf = read_file(dir + "/helmfile.yaml");
    CHECK(hf.find("repositories:\n  - name: metallb\n    url: https://metallb.github.io/metallb\n") != std::string::npos);
    CHECK(hf.find("  - name: istiod\n    namespace: istio-system\n    chart: istio/istiod\n    version: \"1.30.3\"\n") !=
          std::string::npos);
    CHECK(hf.find("    needs:\n      - istio-system/istio-base\n") != std::string::npos);
    CHECK(hf.find("  - name: meshproof-metallb-pool\n    namespace: metallb-system\n    chart: ./manifests/metallb-pool\n") !=
          std::string::npos);
    CHECK(hf.find("kubectl -n istio-ingress create secret tls meshproof-ingress-tls") != std::string::npos);
    CHECK(read_file(dir + "/values/kiali.yaml").find("strategy: token") != std::string::npos);
    CHECK(read_file(dir + "/manifests/routes/routes.yaml").find("kind: VirtualService") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/manifests/ingress-tls"));  // no key material in a GitOps tree
    auto parsed = meshproof::provision::detail::parse_json(hf);  // valid YAML
    REQUIRE(parsed);
    CHECK((*parsed)["releases"].size() == 12);
    CHECK(fc.run({"plan", "--output", "kustomize", dir}).code == 2);
}

TEST_CASE("init writes the commented default, and does not overwrite") {
    FakeCluster fc;
    const std::string lab = fc.root + "/lab.yaml";
    const Result r = fc.run({"init", "-f", lab});
    CHECK(r.code == 0);
    CHECK(read_file(lab) == std::string(default_spec_yaml()));
    CHECK(read_file(lab).find("# meshproof lab spec") == 0);
    CHECK(fc.run({"init", "-f", lab}).code == 1);
    CHECK(fc.run({"init", "-f", lab, "--force"}).code == 0);
    CHECK(fc.run({"plan", "--json", "-f", lab}).out ==
          read_file(MESHPROOF_SOURCE_DIR "/tests/unit/provision/golden/plan_default.json"));
}

TEST_CASE("usage errors") {
    FakeCluster fc;
    Result r = fc.run({"upp"});
    CHECK(r.code == 2);
    CHECK(r.err.find("unknown command 'upp' (did you mean 'up'?)") != std::string::npos);
    r = fc.run({"up", "--yess"});
    CHECK(r.code == 2);
    CHECK(r.err.find("up: unknown flag '--yess' (did you mean '--yes'?)") != std::string::npos);
    r = fc.run({"up", "--purge"});
    CHECK(r.code == 2);
    CHECK(r.err.find("--purge does not apply") != std::string::npos);
    r = fc.run({"plan", "--output", "helmfile"});
    CHECK(r.code == 2);
    r = fc.run({"init", "-f"});
    CHECK(r.code == 2);
    CHECK(r.err.find("-f needs a value") != std::string::npos);
    r = fc.run({"plan", "--json=yes"});
    CHECK(r.code == 2);
    r = fc.run({"plan", "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("meshproof up [-f lab.yaml] [--yes]") != std::string::npos);
    CHECK(fc.calls().empty());
}

TEST_CASE("auditor: up applies it after Prometheus, down removes it first") {
    FakeCluster fc;
    const std::string lab = fc.root + "/lab.yaml";
    std::ofstream(lab) << "auditor:\n  enabled: true\n  image: registry.lan/meshproof:test\n  schedule: \"5 * * * *\"\n";
    const Result r = fc.run({"up", "--yes", "-f", lab});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("done: 23 of 23 steps run") != std::string::npos);

    std::vector<std::string> order;
    for (const auto& c : fc.calls()) {
        if (c.mutating() && (order.empty() || order.back() != c.step)) order.push_back(c.step);
    }
    const auto at = [&](const std::string& id) {
        return static_cast<std::size_t>(std::find(order.begin(), order.end(), id) - order.begin());
    };
    REQUIRE(at("auditor") < order.size());
    CHECK(at("prometheus") < at("auditor-namespace"));
    CHECK(at("auditor-namespace") < at("auditor"));

    YAML::Node st = fc.fake_state();
    CHECK(st["namespaces"]["meshproof-system"]["istio-injection"].Scalar() == "disabled");
    const YAML::Node ds = st["objects"]["DaemonSet/meshproof-system/meshproof-auditor"];
    REQUIRE(ds);
    CHECK(ds["spec"]["template"]["spec"]["containers"][0]["image"].Scalar() == "registry.lan/meshproof:test");
    CHECK(st["objects"]["CronJob/meshproof-system/meshproof-audit"]["spec"]["schedule"].Scalar() == "5 * * * *");
    CHECK(st["objects"]["ConfigMap/meshproof-system/meshproof-policy"]);
    CHECK(st["objects"]["ClusterRole//meshproof-audit-reader"]);

    // A second up checks the auditor's objects and changes nothing.
    fc.clear_calls();
    const Result again = fc.run({"up", "--yes", "-f", lab});
    INFO(again.out << again.err);
    CHECK(again.code == 0);
    CHECK(mutating_steps(fc.calls()).empty());

    fc.clear_calls();
    const Result d = fc.run({"down", "--yes", "-f", lab});
    INFO(d.out << d.err);
    REQUIRE(d.code == 0);
    const auto steps = mutating_steps(fc.calls());
    REQUIRE(steps.size() >= 3);
    CHECK(steps[0] == "peer-authentication");
    CHECK(steps[1] == "routes");
    const auto pos = [&](const std::string& id) {
        return static_cast<std::size_t>(std::find(steps.begin(), steps.end(), id) - steps.begin());
    };
    REQUIRE(pos("auditor-namespace") < steps.size());
    CHECK(pos("auditor") < pos("auditor-namespace"));
    CHECK(pos("auditor-namespace") < pos("prometheus"));
    st = fc.fake_state();
    CHECK_FALSE(st["objects"]["DaemonSet/meshproof-system/meshproof-auditor"]);
    CHECK_FALSE(st["objects"]["ClusterRole//meshproof-audit-reader"]);
    CHECK_FALSE(st["namespaces"]["meshproof-system"]);
}
