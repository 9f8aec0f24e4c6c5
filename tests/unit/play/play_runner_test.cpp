// Running playbooks: homelab.yaml and mtls-demo.yaml against the fake helm/kubectl (tests/fakes: real
// processes through the provisioner's process runner, state in a temp directory), --dry-run (no
// command at all), asserts, reports and teardown; and audits of the repository's own captures with a
// cluster snapshot and a policy, diffs, HTML/JSON reports and a metrics textfile.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "play/play_runner.hpp"
#include "play/playbook.hpp"
#include "provision/yaml_util.hpp"
#include "tests/unit/fake_cluster.hpp"

using namespace meshproof;
using namespace meshproof::play;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kSource = MESHPROOF_SOURCE_DIR;
const std::string kFakes = kSource + "/tests/fakes";
const std::string kPcaps = kSource + "/tests/captures/pcaps";

using test_support::read_file;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class FakeProber final : public provision::Prober {
public:
    provision::ProbeResult http_get(const std::string&, int, const std::string&, const std::string&,
                                    std::chrono::milliseconds) override {
        return {true, 200, ""};
    }
};

using Call = test_support::FakeCall;

// The fake kubectl has no `rollout restart` and no pods; this shim (first on PATH) answers those two,
// logging them like the fake does, and hands everything else to tests/fakes/kubectl.
const char* kKubectlShim = R"(#!/usr/bin/python3
import os, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.environ["PLAY_TEST_FAKES"])
import fakek8s as fk
argv = sys.argv[1:]
pos = [a for a in argv if not a.startswith("-")]
if pos[:2] == ["rollout", "restart"]:
    fk.record_call("kubectl", argv, None)
    for r in pos[2:]:
        print(r.replace("deployment/", "deployment.apps/") + " restarted")
    sys.exit(0)
if pos[:1] == ["get"] and len(pos) > 1 and pos[1].startswith("pods,"):
    fk.record_call("kubectl", argv, None)
    sys.stdout.write(open(os.environ["PLAY_TEST_SNAPSHOT"]).read())
    sys.exit(0)
os.execv(os.path.join(os.environ["PLAY_TEST_FAKES"], "kubectl"), ["kubectl"] + argv)
)";

// The shared fake cluster with the shim first on PATH, and the environment a playbook runs in.
class FakeCluster : public test_support::FakeClusterBase {
public:
    FakeCluster() : FakeClusterBase("meshproof-play-fakes") {
        out = root + "/out";
        fs::create_directories(root + "/shim");
        std::ofstream(root + "/shim/kubectl") << kKubectlShim;
        ::chmod((root + "/shim/kubectl").c_str(), 0755);
        put_first_on_path(root + "/shim");
        set_env("PLAY_TEST_FAKES", kFakes);
        set_env("PLAY_TEST_SNAPSHOT", kSource + "/tests/data/k8s/homelab-snapshot.json");
    }

    PlayEnvironment env() {
        PlayEnvironment e;
        e.provision.prober = &prober;
        e.provision.retry = provision::RetryPolicy{3, 1ms, 2ms};
        e.provision.poll_interval = 5ms;
        e.provision.in = &no_input_;
        e.provision.interactive = false;
        e.provision.sleep = [this](std::chrono::milliseconds d) { slept += d; };
        e.skip_preflight = true;  // no root needed: the captures are faked below
        return e;
    }

    std::string out;
    FakeProber prober;
    std::chrono::milliseconds slept{0};

private:
    std::istringstream no_input_;
};

struct RunResult {
    int code = -1;
    std::string out, err;
    PlayReport report;
};

RunResult run(const Playbook& pb, PlayEnvironment env, bool dry_run = false) {
    PlayOptions opt;
    opt.dry_run = dry_run;
    std::ostringstream out, err;
    RunResult r;
    r.report = run_playbook(pb, opt, out, err, std::move(env));
    r.code = r.report.exit_code;
    r.out = out.str();
    r.err = err.str();
    return r;
}

Playbook load(const std::string& name, const VarOverrides& vars) {
    auto pb = load_playbook(kSource + "/playbooks/" + name, vars);
    if (!pb) {
        for (const auto& e : pb.error()) MESSAGE(e.to_string());
    }
    REQUIRE(pb);
    return std::move(*pb);
}

audit::IpAddress ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    audit::IpAddress ip;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
}

// What the node's capture "sees": demo/sleep (10.42.1.12) calling demo/echo-server (10.42.2.14) in
// homelab-snapshot.json, in clear with a bearer token, or through the sidecars.
CapturedFlows demo_traffic(audit::Verdict v, int connections) {
    CapturedFlows c;
    for (int i = 0; i < connections; ++i) {
        audit::FlowRecord f;
        f.client_ip = ip4(10, 42, 1, 12);
        f.server_ip = ip4(10, 42, 2, 14);
        f.client_port = static_cast<std::uint16_t>(40000 + i);
        f.server_port = 8080;
        f.verdict = v;
        f.protocol = v == audit::Verdict::IstioMtls ? "tls" : "http";
        if (v == audit::Verdict::PlaintextServed) f.secrets.push_back({"bearer-token", "http.authorization", {}, "meshproof-demo-token"});
        c.records.push_back(f);
        c.summary.packets += 10;
    }
    c.summary.flows = c.records.size();
    return c;
}

std::vector<std::string> calls_of_step(const std::vector<Call>& calls, const std::string& step) {
    std::vector<std::string> out;
    for (const auto& c : calls) {
        if (c.step == step) out.push_back(c.line());
    }
    return out;
}

}  // namespace

TEST_CASE("homelab.yaml on the fake cluster") {
    FakeCluster fc;
    Playbook pb = load("homelab.yaml", {{"stateDir", fc.state}});

    SUBCASE("--dry-run shows the plan and runs nothing") {
        const auto r = run(pb, fc.env(), true);
        CHECK(r.code == kPlayOk);
        CHECK(contains(r.out, "[1/2] up: meshproof up with the built-in lab spec"));
        CHECK(contains(r.out, "would run: meshproof up --yes --state-dir " + fc.state));
        CHECK(contains(r.out, "$ helm upgrade --install istiod istio/istiod --namespace istio-system --version 1.30.3"));
        CHECK(contains(r.out, "would run: meshproof status --state-dir " + fc.state));
        CHECK(contains(r.out, "dry run of 2 steps and 0 asserts; nothing was run"));
        CHECK(fc.calls().empty());
        CHECK_FALSE(fs::exists(fc.state + "/journal.json"));
    }

    SUBCASE("for real: up installs in plan order, then status only reads") {
        const auto r = run(pb, fc.env());
        INFO(r.out);
        INFO(r.err);
        REQUIRE(r.code == kPlayOk);
        CHECK(r.report.steps_run == 2);
        CHECK(contains(r.out, "[1/2] up: meshproof up with the built-in lab spec"));
        CHECK(contains(r.out, "$ meshproof up --yes --state-dir " + fc.state));
        CHECK(contains(r.out, "[2/2] status: meshproof status"));
        CHECK(contains(r.out, "PASSED"));
        const auto calls = fc.calls();
        // The mutating commands, in order, carry the provisioner's step ids: the default plan.
        std::vector<std::string> steps;
        for (const auto& c : calls) {
            const bool mutating = (c.tool == "helm" && (c.argv[0] == "upgrade" || c.argv[0] == "repo")) ||
                                  (c.tool == "kubectl" && c.argv[0] == "apply");
            if (mutating && (steps.empty() || steps.back() != c.step)) steps.push_back(c.step);
        }
        const std::vector<std::string> expected = {
            "repo-metallb", "repo-istio",    "repo-kiali",  "repo-prometheus-community", "metallb-namespace", "repo-update",
            "metallb",      "istio-base",    "istiod",      "metallb-pool",              "prometheus",        "kiali",
            "namespaces",   "istio-ingress", "demo-apps",   "routes",                    "peer-authentication"};
        CHECK(steps == expected);
        // status (the second step) reads the cluster and changes nothing.
        std::size_t last_mutation = 0, first_status_read = calls.size();
        for (std::size_t i = 0; i < calls.size(); ++i) {
            if (calls[i].tool == "kubectl" && calls[i].argv[0] == "apply") last_mutation = i;
        }
        for (std::size_t i = last_mutation + 1; i < calls.size(); ++i) {
            CHECK((calls[i].argv[0] == "get" || calls[i].argv[0] == "version" || calls[i].argv[0] == "list" ||
                   calls[i].argv[0] == "config" || calls[i].argv[0] == "rollout"));
            first_status_read = std::min(first_status_read, i);
        }
        CHECK(first_status_read < calls.size());
        CHECK(fs::exists(fc.state + "/journal.json"));

        // Idempotent: the same playbook again changes nothing (the provisioner's journal).
        const auto again = run(pb, fc.env());
        INFO(again.out);
        CHECK(again.code == kPlayOk);
        CHECK(contains(again.out, "up to date"));
        const auto all = fc.calls();
        REQUIRE(all.size() > calls.size());
        for (std::size_t i = calls.size(); i < all.size(); ++i) {
            CHECK_FALSE((all[i].tool == "helm" && all[i].argv[0] == "upgrade"));
            CHECK_FALSE((all[i].tool == "kubectl" && all[i].argv[0] == "apply"));
        }
    }

    SUBCASE("a failing provision step fails the run and skips the rest") {
        fc.set_env("FAKE_FAIL_STEP", "istiod");
        const auto r = run(pb, fc.env());
        CHECK(r.code == kPlayFailure);
        REQUIRE(r.report.failed_step);
        CHECK(*r.report.failed_step == 1);
        CHECK(contains(r.out, "failed; skipping steps 2-2"));
        CHECK(contains(r.out, "FAILED: step 1 'up' (provision): meshproof up exited with 1"));
        CHECK(contains(r.err, "meshproof play: step 1 'up' (provision) failed:"));
        CHECK(r.report.steps_run == 0);
    }
}

TEST_CASE("mtls-demo.yaml on the fake cluster") {
    FakeCluster fc;
    Playbook pb = load("mtls-demo.yaml", {{"stateDir", fc.state}, {"out", fc.out}, {"duration", "5s"}});
    int captures = 0;
    bool meshed_after = true;
    auto env = [&] {
        PlayEnvironment e = fc.env();
        e.capture_interface = [&](const InterfaceCapture& req, const std::atomic<bool>*) -> tl::expected<CapturedFlows, std::string> {
            CHECK(req.interface == "cni0");
            CHECK(req.filter == "tcp");
            CHECK(req.duration == 5s);
            ++captures;
            if (captures == 1) return demo_traffic(audit::Verdict::PlaintextServed, 3);
            return demo_traffic(meshed_after ? audit::Verdict::IstioMtls : audit::Verdict::PlaintextServed, 3);
        };
        return e;
    };

    SUBCASE("--dry-run: every command shown, none run, nothing captured") {
        const auto r = run(pb, env(), true);
        CHECK(r.code == kPlayOk);
        CHECK(captures == 0);
        CHECK(fc.calls().empty());
        CHECK(contains(r.out, "would run: meshproof up -f "));
        CHECK(contains(r.out, "would run: kubectl apply --server-side --field-manager=meshproof-play --force-conflicts -f -  "
                              "(2 objects on stdin)"));
        CHECK(contains(r.out, "would run: kubectl rollout restart deployment/echo-server deployment/demo-client --namespace "
                              "meshproof-demo"));
        CHECK(contains(r.out, "would run: kubectl rollout status deployment/echo-server --namespace meshproof-demo --timeout=180s"));
        CHECK(contains(r.out, "would run: kubectl get pods,services,namespaces,nodes,peerauthentications.security.istio.io "
                              "--all-namespaces -o json"));
        CHECK(contains(r.out, "would check: istio-mtls >= 1"));
        CHECK_FALSE(fs::exists(fc.out));
    }

    SUBCASE("for real: the recorded command sequence, the cluster state, the asserts and the reports") {
        const auto r = run(pb, env());
        INFO(r.out);
        INFO(r.err);
        REQUIRE(r.code == kPlayOk);
        CHECK(captures == 2);
        CHECK(r.report.steps_run == pb.steps.size());
        CHECK(r.report.asserts.size() == 6);
        CHECK(r.report.failed_asserts() == 0);

        const auto calls = fc.calls();
        // After `up` (its calls carry the provisioner's step ids), the playbook's own commands in order.
        std::vector<std::string> own;
        bool after_up = false;
        for (const auto& c : calls) {
            if (c.step == "no-mesh") after_up = true;
            if (after_up) own.push_back((c.step.empty() ? std::string("-") : c.step) + ": " + c.line());
        }
        const std::string snapshot = "-: kubectl get pods,services,namespaces,nodes,peerauthentications.security.istio.io "
                                     "--all-namespaces -o json";
        const std::vector<std::string> expected = {
            "no-mesh: kubectl apply --server-side --field-manager=meshproof-play --force-conflicts -f -",
            "restart-without-sidecars: kubectl rollout restart deployment/echo-server deployment/demo-client --namespace meshproof-demo",
            "server-ready: kubectl rollout status deployment/echo-server --namespace meshproof-demo --timeout=180s",
            "client-ready: kubectl rollout status deployment/demo-client --namespace meshproof-demo --timeout=180s",
            snapshot,
            "mesh: kubectl apply --server-side --field-manager=meshproof-play --force-conflicts -f -",
            "restart-with-sidecars: kubectl rollout restart deployment/echo-server deployment/demo-client --namespace meshproof-demo",
            "server-meshed: kubectl rollout status deployment/echo-server --namespace meshproof-demo --timeout=180s",
            "client-meshed: kubectl rollout status deployment/demo-client --namespace meshproof-demo --timeout=180s",
            snapshot,
        };
        CHECK(own == expected);
        // up ran with the inline spec: the demo namespace without injection, PERMISSIVE mesh-wide.
        const auto up_apply = calls_of_step(calls, "demo-apps");
        REQUIRE(up_apply.size() == 1);
        CHECK(contains(up_apply[0], "--namespace meshproof-demo"));
        // The fake cluster now has injection and STRICT for the demo namespace.
        const auto st = fc.fake_state();
        CHECK(st["namespaces"]["meshproof-demo"]["istio-injection"].Scalar() == "enabled");
        const auto pa = st["objects"]["PeerAuthentication/meshproof-demo/default"];
        REQUIRE(pa.IsMap());
        CHECK(pa["spec"]["mtls"]["mode"].Scalar() == "STRICT");
        CHECK(st["objects"]["PeerAuthentication/istio-system/default"]["spec"]["mtls"]["mode"].Scalar() == "PERMISSIVE");

        // Progress, asserts and summary.
        CHECK(contains(r.out, "[6/17] before: capture on cni0 for 5s (filter 'tcp'), workloads from the cluster"));
        CHECK(contains(r.out, "PASS plaintext-served >= 1  (3)"));
        CHECK(contains(r.out, "PASS istio-mtls >= 1  (3)"));
        CHECK(contains(r.out, "demo/sleep -> demo/echo-server:8080"));
        CHECK(contains(r.out, "summary: 17/17 steps run, 6 asserts: 6 passed, 0 failed"));
        // Reports: workload names from the snapshot, secrets redacted.
        const std::string html = read_file(fc.out + "/report.html");
        CHECK(contains(html, "<html"));
        CHECK(contains(html, "demo/echo-server"));
        const std::string diff = read_file(fc.out + "/diff.json");
        CHECK(contains(diff, "\"passed\":true"));
        const std::string jsonl = read_file(fc.out + "/after.jsonl");
        CHECK(contains(jsonl, "\"src_workload\":{"));
        CHECK(contains(jsonl, "\"type\":\"summary\""));
        for (const auto* text : {&html, &diff, &jsonl}) CHECK_FALSE(contains(*text, "meshproof-demo-token"));
    }

    SUBCASE("plaintext after the mesh: the asserts fail (exit 3), the reports are still written") {
        meshed_after = false;
        const auto r = run(pb, env());
        INFO(r.out);
        CHECK(r.code == kPlayAssertFailed);
        CHECK(r.report.steps_run == pb.steps.size());
        CHECK(r.report.failed_asserts() == 4);  // plaintext-served, istio-mtls, still-plaintext, secured
        CHECK(contains(r.out, "FAIL plaintext-served == 0  (3)"));
        CHECK(contains(r.out, "  FAIL " + pb.file + ":130:11: step 13 'after-is-mtls' (assert): plaintext-served == 0 (got 3)"));
        CHECK(contains(r.out, "  FAIL " + pb.file + ":140:11: step 15 'nothing-left-in-clear' (assert): still-plaintext == 0 (got 1)"));
        CHECK(contains(r.out, "FAILED: 4 asserts failed"));
        CHECK(fs::exists(fc.out + "/report.html"));
        CHECK(contains(read_file(fc.out + "/diff.json"), "\"passed\":false"));
    }

    SUBCASE("a failing kubectl step stops the run: nothing after it runs") {
        fc.set_env("FAKE_FAIL_STEP", "mesh");
        const auto r = run(pb, env());
        CHECK(r.code == kPlayFailure);
        REQUIRE(r.report.failed_step);
        CHECK(*r.report.failed_step == 8);
        CHECK(captures == 1);
        CHECK(calls_of_step(fc.calls(), "restart-with-sidecars").empty());
        CHECK(contains(r.err, "injected failure for step mesh"));
        CHECK(contains(r.out, "skipping steps 9-17"));
        CHECK_FALSE(fs::exists(fc.out + "/report.html"));
    }

    SUBCASE("Ctrl-C before a step: exit 130, nothing more runs") {
        std::atomic<bool> stop{true};
        PlayEnvironment e = env();
        e.stop = &stop;
        const auto r = run(pb, std::move(e));
        CHECK(r.code == kPlayInterrupted);
        CHECK(r.report.interrupted);
        CHECK(fc.calls().empty());
        CHECK(contains(r.out, "INTERRUPTED"));
    }
}

TEST_CASE("audits of capture files: policy, diff, reports and metrics") {
    char tmpl[] = "/tmp/meshproof-play-files-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    REQUIRE(d != nullptr);
    const std::string dir = d;
    std::ofstream(dir + "/minimal-policy.yaml") << "version: 1\n";
    const std::string yaml = R"(apiVersion: meshproof.dev/v1alpha1
kind: Playbook
name: files
vars:
  out: )" + dir + R"(/out
steps:
  - name: lab-captures
    audit:
      read: )" + kPcaps + R"(
      snapshot: )" + kSource + R"(/tests/data/k8s/netns-lab-snapshot.json
      policy: minimal-policy.yaml
  - assert:
      audit: lab-captures
      that:
        - flows == 17
        - policy violations == 9
        - policy warnings == 1
        - policy info == 1
  - name: before
    audit:
      read: )" + kPcaps + R"(/http-plaintext-secrets.pcap
  - name: after
    audit:
      read: )" + kPcaps + R"(/istio-mtls-tls13.pcap
  - name: change
    diff:
      before: before
      after: after
  - assert:
      diff: change
      that:
        - still-plaintext == 0
        - vanished >= 1
  - report:
      diff: change
      html: ${out}/report.html
      json: ${out}/diff.json
  - report:
      audit: lab-captures
      jsonl: ${out}/flows.jsonl
  - push:
      audit: lab-captures
      textfile: ${out}/meshproof.prom
  - assert:
      audit: before
      that: secrets == 0
)";
    auto pb = parse_playbook(yaml, dir + "/files.yaml", dir, {});
    if (!pb) {
        for (const auto& e : pb.error()) MESSAGE(e.to_string());
    }
    REQUIRE(pb);
    PlayEnvironment env;
    env.skip_preflight = true;
    const auto r = run(*pb, env);
    INFO(r.out);
    INFO(r.err);
    // Every step ran; only the last assert fails (the plaintext capture does carry secrets).
    CHECK(r.code == kPlayAssertFailed);
    CHECK(r.report.steps_run == pb->steps.size());
    REQUIRE(r.report.asserts.size() == 7);
    CHECK(r.report.failed_asserts() == 1);
    CHECK_FALSE(r.report.asserts.back().passed);
    CHECK(r.report.asserts.back().text == "secrets == 0");
    CHECK(contains(r.out, "policy: 9 violations, 1 warning, 1 info"));
    CHECK(contains(r.out, "strict-plaintext-served"));

    const std::string flows = read_file(dir + "/out/flows.jsonl");
    CHECK(contains(flows, "\"src_workload\""));
    CHECK(contains(flows, "\"type\":\"finding\""));
    CHECK(contains(flows, "\"type\":\"policy_summary\""));
    CHECK(contains(read_file(dir + "/out/report.html"), "<svg"));
    CHECK(contains(read_file(dir + "/out/diff.json"), "\"passed\":true"));
    const std::string prom = read_file(dir + "/out/meshproof.prom");
    CHECK(contains(prom, "meshproof_flows_total{"));
    CHECK(contains(prom, "verdict=\"plaintext-served\""));
    std::error_code ec;
    fs::remove_all(dir, ec);
}

TEST_CASE("preflight says what this machine lacks") {
    auto pb = parse_playbook("steps:\n  - lab: create\n", "pb.yaml", kSource, {});
    REQUIRE(pb);
    const auto missing = preflight(*pb);
    if (::geteuid() != 0) {
        REQUIRE_FALSE(missing.empty());
        CHECK(contains(missing[0], "the playbook's lab needs root"));
        PlayEnvironment env;
        std::ostringstream out, err;
        const auto rep = run_playbook(*pb, {}, out, err, env);
        CHECK(rep.exit_code == kPlayFailure);
        CHECK(contains(err.str(), "meshproof play: the playbook's lab needs root"));
        CHECK(out.str().empty());
    } else {
        for (const auto& m : missing) CHECK_FALSE(contains(m, "root"));
    }
    // kubectl: with an empty PATH it is not found.
    auto cluster = parse_playbook("steps:\n  - restart:\n      resources: deployment/x\n", "pb.yaml", kSource, {});
    REQUIRE(cluster);
    const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
    ::setenv("PATH", "/nonexistent", 1);
    const auto lacks = preflight(*cluster);
    ::setenv("PATH", saved.c_str(), 1);
    bool kubectl_missing = false;
    for (const auto& m : lacks) kubectl_missing = kubectl_missing || contains(m, "kubectl is not on PATH");
    CHECK(kubectl_missing);
}
