// Loading and validating playbooks: the shipped ones load, and every kind of mistake is reported
// with file:line:column, the step it belongs to and (for typos) the nearest known word.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "play/playbook.hpp"

using namespace meshproof::play;
namespace fs = std::filesystem;

namespace {

const std::string kSource = MESHPROOF_SOURCE_DIR;
const std::string kPcaps = kSource + "/tests/captures/pcaps";

// A scratch directory for files the playbooks name (specs, manifests, policies).
struct TempDir {
    TempDir() {
        char tmpl[] = "/tmp/meshproof-play-test-XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        REQUIRE(d != nullptr);
        path = d;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string write(const std::string& name, const std::string& text) const {
        const std::string p = path + "/" + name;
        std::ofstream(p) << text;
        return p;
    }
    std::string path;
};

tl::expected<Playbook, PlayErrors> parse(const std::string& yaml, const VarOverrides& vars = {},
                                         const std::string& base = kSource) {
    return parse_playbook(yaml, "pb.yaml", base, vars);
}

std::vector<std::string> errors_of(const std::string& yaml, const VarOverrides& vars = {},
                                   const std::string& base = kSource) {
    auto r = parse(yaml, vars, base);
    std::vector<std::string> out;
    if (!r) {
        for (const auto& e : r.error()) out.push_back(e.to_string());
    }
    return out;
}

// The one error of a playbook, or a message that makes the failure readable.
std::string only_error(const std::string& yaml, const VarOverrides& vars = {}, const std::string& base = kSource) {
    const auto errs = errors_of(yaml, vars, base);
    if (errs.size() == 1) return errs[0];
    std::string all = std::to_string(errs.size()) + " errors:";
    for (const auto& e : errs) all += "\n  " + e;
    return all;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const std::string kHeader = "apiVersion: meshproof.dev/v1alpha1\nkind: Playbook\n";

}  // namespace

TEST_CASE("the shipped playbooks load and validate") {
    for (const char* name : {"homelab", "mtls-demo", "compliance", "local-demo"}) {
        CAPTURE(name);
        auto pb = load_playbook(kSource + "/playbooks/" + std::string(name) + ".yaml", {});
        if (!pb) {
            for (const auto& e : pb.error()) MESSAGE(e.to_string());
        }
        REQUIRE(pb);
        CHECK(pb->name == name);
        CHECK(!pb->steps.empty());
    }

    SUBCASE("homelab: provision up then status, the built-in spec by default") {
        auto pb = load_playbook(kSource + "/playbooks/homelab.yaml", {});
        REQUIRE(pb);
        REQUIRE(pb->steps.size() == 2);
        CHECK(pb->steps[0].as<ProvisionStep>().action == ProvisionAction::Up);
        CHECK(pb->steps[0].as<ProvisionStep>().spec_file.empty());
        CHECK(pb->steps[1].as<ProvisionStep>().action == ProvisionAction::Status);
        CHECK(pb->uses_kubectl() == false);
    }
    SUBCASE("mtls-demo: the inline spec carries the variables") {
        auto pb = load_playbook(kSource + "/playbooks/mtls-demo.yaml", {{"pool", "10.0.0.240-10.0.0.250"}, {"ns", "shop"}});
        REQUIRE(pb);
        const auto& up = pb->steps[0].as<ProvisionStep>();
        CHECK(contains(up.inline_spec, "10.0.0.240-10.0.0.250"));
        CHECK(contains(up.inline_spec, "namespace: shop"));
        CHECK(contains(up.inline_spec, "inject: false"));
        const auto& mesh = std::find_if(pb->steps.begin(), pb->steps.end(), [](const Step& s) { return s.name == "mesh"; });
        REQUIRE(mesh != pb->steps.end());
        CHECK(mesh->as<ApplyStep>().objects == std::vector<std::string>{"Namespace/shop", "PeerAuthentication/shop/default"});
        CHECK(pb->uses_kubectl());
        CHECK(pb->uses_live_capture());
        CHECK_FALSE(pb->uses_lab());
    }
    SUBCASE("compliance: the policy path is relative to the playbook") {
        auto pb = load_playbook(kSource + "/playbooks/compliance.yaml", {});
        REQUIRE(pb);
        const auto& a = pb->steps[0].as<AuditStep>();
        CHECK(a.source == AuditStep::Source::Interface);
        CHECK(a.duration == std::chrono::seconds(60));
        CHECK(a.snapshot_from_cluster);
        CHECK(fs::equivalent(a.policy, kSource + "/manifests/audit/audit-policy.yaml"));
    }
    SUBCASE("local-demo: --var reaches the lab and the reports") {
        auto pb = load_playbook(kSource + "/playbooks/local-demo.yaml", {{"rounds", "3"}, {"out", "/tmp/x"}, {"prefix", "mpplay-t"}});
        REQUIRE(pb);
        CHECK(pb->uses_lab());
        CHECK(pb->steps[0].as<LabStep>().prefix == "mpplay-t");
        CHECK(pb->steps[2].as<AuditStep>().rounds == 3);
        const auto& report = std::find_if(pb->steps.begin(), pb->steps.end(), [](const Step& s) { return s.name == "reports"; });
        REQUIRE(report != pb->steps.end());
        CHECK(report->as<ReportStep>().html == "/tmp/x/report.html");
    }
}

TEST_CASE("a small playbook: defaults, names, durations and paths") {
    TempDir dir;
    dir.write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n");
    const std::string yaml = kHeader + R"(
vars:
  wait: 2m
steps:
  - apply:
      file: ns.yaml
  - wait: 5s
  - wait:
      rollout: deployment/web
      namespace: shop
      timeout: ${wait}
  - name: cap
    audit:
      read: )" + kPcaps + R"(/stunnel-mtls.pcap
  - assert:
      audit: cap
      that: mtls >= 1
)";
    auto pb = parse(yaml, {}, dir.path);
    REQUIRE(pb);
    REQUIRE(pb->steps.size() == 5);
    CHECK(pb->name == "pb");  // the file's stem when no name is given
    CHECK(pb->steps[0].name == "apply-1");
    CHECK(pb->steps[0].as<ApplyStep>().files == std::vector<std::string>{dir.path + "/ns.yaml"});
    CHECK(pb->steps[0].as<ApplyStep>().objects == std::vector<std::string>{"Namespace/shop"});
    CHECK(pb->steps[1].as<WaitStep>().delay == std::chrono::seconds(5));
    CHECK(pb->steps[2].as<WaitStep>().timeout == std::chrono::minutes(2));
    CHECK(pb->steps[3].as<AuditStep>().files.size() == 1);
    const auto& check = pb->steps[4].as<AssertStep>().checks.at(0);
    CHECK(check.text == "mtls >= 1");
    CHECK(check.where.line == 19);
    CHECK(check.where.column == 13);
    CHECK(pb->steps[4].label() == "step 5 'assert-5' (assert)");
}

TEST_CASE("durations") {
    CHECK(parse_duration("500ms") == std::chrono::milliseconds(500));
    CHECK(parse_duration("30s") == std::chrono::seconds(30));
    CHECK(parse_duration("30") == std::chrono::seconds(30));
    CHECK(parse_duration("2m") == std::chrono::minutes(2));
    CHECK(parse_duration("1h") == std::chrono::hours(1));
    CHECK_FALSE(parse_duration("25h"));
    CHECK_FALSE(parse_duration("5 minutes"));
    CHECK_FALSE(parse_duration("-1s"));
    CHECK_FALSE(parse_duration(""));
    CHECK_FALSE(parse_duration("99999999999999999999s"));
    CHECK(format_duration(std::chrono::seconds(90)) == "90s");
    CHECK(format_duration(std::chrono::minutes(3)) == "3m");
    CHECK(format_duration(std::chrono::milliseconds(1500)) == "1500ms");
}

TEST_CASE("--var assignments") {
    auto kv = parse_var_assignment("out=/tmp/a=b");
    REQUIRE(kv);
    CHECK(kv->first == "out");
    CHECK(kv->second == "/tmp/a=b");
    CHECK_FALSE(parse_var_assignment("out"));
    CHECK_FALSE(parse_var_assignment("=x"));
}

TEST_CASE("errors name the file, line, column and step") {
    SUBCASE("not YAML") {
        const auto e = only_error("steps:\n  - wait: [1s\n");
        CHECK(starts_with(e, "pb.yaml:3:1: not valid YAML"));
    }
    SUBCASE("a typo in a top-level key") {
        const auto errs = errors_of(kHeader + "step:\n  - wait: 1s\n");
        REQUIRE(errs.size() == 2);
        CHECK(errs[0] == "pb.yaml:3:1: playbook: unknown key 'step' (did you mean 'steps'?)");
        CHECK(errs[1] == "pb.yaml:1:1: steps: expected a non-empty list of steps");
    }
    SUBCASE("apiVersion and kind") {
        const auto errs = errors_of("apiVersion: v1\nkind: Pod\nsteps:\n  - wait: 1s\n");
        REQUIRE(errs.size() == 2);
        CHECK(errs[0] == "pb.yaml:1:13: apiVersion: expected meshproof.dev/v1alpha1, got 'v1'");
        CHECK(errs[1] == "pb.yaml:2:7: kind: expected Playbook, got 'Pod'");
    }
    SUBCASE("a step without an action, with two, with a misspelt one") {
        CHECK(only_error("steps:\n  - name: x\n") ==
              "pb.yaml:2:5: step 1: the step has no action (expected one of: provision, apply, wait, restart, lab, "
              "audit, assert, diff, report, push)");
        CHECK(only_error("steps:\n  - wait: 1s\n    lab: create\n") ==
              "pb.yaml:2:5: step 1: the step has 2 actions (wait, lab); give each its own step");
        CHECK(only_error("steps:\n  - name: b\n    audti:\n      read: x.pcap\n") ==
              "pb.yaml:3:5: step 1: step: unknown key 'audti' (did you mean 'audit'?)");
    }
    SUBCASE("a misspelt key inside a step names the step") {
        CHECK(only_error("steps:\n  - name: before\n    audit:\n      captur: lab\n") ==
              "pb.yaml:4:7: step 1 'before' (audit): audit: unknown key 'captur' (did you mean 'capture'?)");
    }
    SUBCASE("duplicate keys") {
        CHECK(only_error("steps:\n  - wait:\n      delay: 1s\n      delay: 2s\n") ==
              "pb.yaml:4:7: step 1 'wait-1' (wait): wait: duplicate key 'delay'");
    }
    SUBCASE("variables: undefined, misspelt, unterminated, and --var for an undeclared one") {
        CHECK(only_error("vars:\n  out: x\nsteps:\n  - wait: ${outt}\n") ==
              "pb.yaml:4:11: step 1 'wait-1' (wait): wait: undefined variable 'outt' (did you mean 'out'?)");
        CHECK(only_error("steps:\n  - wait: ${nothing}\n") ==
              "pb.yaml:2:11: step 1 'wait-1' (wait): wait: undefined variable 'nothing' (declare it under vars:)");
        CHECK(contains(only_error("vars:\n  a: 1\nsteps:\n  - wait: ${a\n"), "pb.yaml:4:11: step 1 'wait-1' (wait): wait: unterminated '${'"));
        CHECK(only_error("vars:\n  rounds: 2\nsteps:\n  - wait: 1s\n", {{"round", "3"}}) ==
              "pb.yaml:2:3: --var round: not declared under vars: (did you mean 'rounds'?)");
        // $$ is a literal dollar; --var replaces the default.
        auto pb = parse("vars:\n  d: 1s\nsteps:\n  - wait: ${d}\n  - name: x\n    description: costs $$5\n    wait: 1s\n", {{"d", "3s"}});
        REQUIRE(pb);
        CHECK(pb->steps[0].as<WaitStep>().delay == std::chrono::seconds(3));
        CHECK(pb->steps[1].description == "costs $5");
    }
    SUBCASE("values: durations, numbers, booleans, choices") {
        CHECK(only_error("steps:\n  - wait: 5 minutes\n") ==
              "pb.yaml:2:11: step 1 'wait-1' (wait): wait: expected a duration such as 500ms, 30s, 2m or 1h (at most "
              "24h), got '5 minutes'");
        CHECK(only_error("steps:\n  - lab: create\n  - lab:\n      apps: start\n  - lab:\n      traffic:\n        rounds: 500\n") ==
              "pb.yaml:7:17: step 3 'lab-3' (lab): lab.traffic.rounds: 500 is out of range (1..100)");
        CHECK(only_error("steps:\n  - lab: create\n  - lab:\n      sidecars: maybe\n") ==
              "pb.yaml:4:17: step 2 'lab-2' (lab): lab.sidecars: expected true or false, got 'maybe'");
        CHECK(only_error("steps:\n  - provision: upp\n") ==
              "pb.yaml:2:16: step 1 'provision-1' (provision): provision: unknown value 'upp' (expected up | down | "
              "status | plan); did you mean 'up'?");
    }
}

TEST_CASE("references between steps") {
    const std::string audit = "  - name: before\n    audit:\n      read: " + kPcaps + "/redis-auth.pcap\n";
    SUBCASE("a misspelt audit name") {
        CHECK(only_error("steps:\n" + audit + "  - assert:\n      audit: befor\n      that: flows >= 1\n") ==
              "pb.yaml:6:14: step 2 'assert-2' (assert): assert.audit: no earlier audit step is named 'befor' (did you "
              "mean 'before'?)");
    }
    SUBCASE("an audit used before it is made") {
        CHECK(only_error("steps:\n  - assert:\n      audit: before\n      that: flows >= 1\n" + audit) ==
              "pb.yaml:3:14: step 1 'assert-1' (assert): assert.audit: audit 'before' is only made later, by step 2");
    }
    SUBCASE("an audit where a diff is expected") {
        CHECK(only_error("steps:\n" + audit + "  - assert:\n      diff: before\n      that: secured >= 1\n") ==
              "pb.yaml:6:13: step 2 'assert-2' (assert): assert.diff: 'before' is an audit (step 1), not a diff");
    }
    SUBCASE("two audits with one name; an audit without a name") {
        const auto errs = errors_of("steps:\n" + audit + audit + "  - audit:\n      read: " + kPcaps + "/redis-auth.pcap\n");
        REQUIRE(errs.size() == 2);
        CHECK(errs[0] == "pb.yaml:5:11: step 2 'before' (audit): name: 'before' is already the name of step 1");
        CHECK(errs[1] == "pb.yaml:8:5: step 3 'audit-3' (audit): an audit step needs a name: (asserts, diffs and reports use it)");
    }
    SUBCASE("a report of a diff without the diff") {
        CHECK(only_error("steps:\n" + audit + "  - report:\n      audit: before\n      html: out.html\n") ==
              "pb.yaml:7:13: step 2 'report-2' (report): report.html: needs diff: NAME (the report compares two audits)");
    }
}

TEST_CASE("assert expressions are checked at load time") {
    const std::string audit = "steps:\n  - name: a\n    audit:\n      read: " + kPcaps + "/redis-auth.pcap\n";
    CHECK(only_error(audit + "  - assert:\n      audit: a\n      that:\n        - flows >= 1\n        - istio-mtsl >= 1\n") ==
          "pb.yaml:9:11: step 2 'assert-2' (assert): assert.that: unknown metric 'istio-mtsl' for an audit (did you "
          "mean 'istio-mtls'?)");
    CHECK(only_error(audit + "  - assert:\n      audit: a\n      that: flows = 1\n") ==
          "pb.yaml:7:13: step 2 'assert-2' (assert): assert.that: '=' is not a comparison (use == != < <= > >=)");
    CHECK(only_error(audit + "  - assert:\n      audit: a\n      that: flows >= lots\n") ==
          "pb.yaml:7:13: step 2 'assert-2' (assert): assert.that: expected a whole number after '>=', got 'lots'");
    CHECK(only_error(audit + "  - assert:\n      audit: a\n      that: policy violations == 0\n") ==
          "pb.yaml:7:13: step 2 'assert-2' (assert): assert.that: 'policy violations == 0' needs an audit with a "
          "policy (audit 'a', step 1, has no policy:)");
}

TEST_CASE("the lab's steps must come in a possible order") {
    CHECK(only_error("steps:\n  - lab:\n      apps: start\n") ==
          "pb.yaml:3:13: step 1 'lab-1' (lab): there is no lab at this point (add a step `lab: create` before it)");
    CHECK(only_error("steps:\n  - lab: create\n  - lab: traffic\n") ==
          "pb.yaml:3:10: step 2 'lab-2' (lab): the lab's apps are not running at this point (add a step `lab: {apps: "
          "start}` before it)");
    CHECK(only_error("steps:\n  - lab: create\n  - name: x\n    audit:\n      capture: lab\n") ==
          "pb.yaml:5:16: step 2 'x' (audit): the lab's apps are not running at this point (add a step `lab: {apps: "
          "start}` before it)");
    CHECK(only_error("steps:\n  - lab: create\n  - lab: create\n") ==
          "pb.yaml:3:10: step 2 'lab-2' (lab): the lab already exists (made by step 1); add `lab: destroy` first to "
          "make a new one");
    CHECK(contains(only_error("steps:\n  - lab: create\n  - lab:\n      sidecars: on\n      without: [frontend]\n"),
                   "pb.yaml:5:16: step 2 'lab-2' (lab): lab.without: 'frontend' cannot be left out of the mesh"));
    CHECK(contains(only_error("steps:\n  - lab:\n      create:\n        prefix: Bad_Prefix\n"),
                   "pb.yaml:4:17: step 1 'lab-1' (lab): lab.create.prefix: 'Bad_Prefix' is not a lab prefix"));
    // After destroy, the lab can be made again; without: db is fine.
    auto pb = parse("steps:\n  - lab: create\n  - lab:\n      sidecars: on\n      without: db\n  - lab: destroy\n  - lab: create\n");
    REQUIRE(pb);
    CHECK(pb->steps[1].as<LabStep>().action == LabAction::SidecarsOn);
    CHECK(pb->steps[1].as<LabStep>().without == std::vector<std::string>{"db"});
}

TEST_CASE("audit steps") {
    TempDir dir;
    SUBCASE("capture and read together, or neither") {
        CHECK(only_error("steps:\n  - name: a\n    audit:\n      capture: eth0\n      read: x.pcap\n") ==
              "pb.yaml:4:7: step 1 'a' (audit): audit: needs exactly one of capture (lab or an interface) and read "
              "(capture files)");
    }
    SUBCASE("an interface needs a duration; rounds are for the lab") {
        const auto errs = errors_of("steps:\n  - name: a\n    audit:\n      capture: eth0\n      rounds: 2\n");
        REQUIRE(errs.size() == 2);
        CHECK(errs[0] == "pb.yaml:5:15: step 1 'a' (audit): audit.rounds: only for capture: lab (the lab's client runs "
                         "that many rounds)");
        CHECK(errs[1] == "pb.yaml:4:7: step 1 'a' (audit): audit: capture on an interface needs duration: (e.g. 30s)");
    }
    SUBCASE("a capture file that does not exist (relative to the playbook)") {
        CHECK(only_error("steps:\n  - name: a\n    audit:\n      read: missing.pcap\n", {}, dir.path) ==
              "pb.yaml:4:13: step 1 'a' (audit): audit.read: " + dir.path + "/missing.pcap does not exist");
    }
    SUBCASE("a policy needs a snapshot; a broken policy file reports its own line") {
        dir.write("policy.yaml", "version: 1\nrequirements:\n  - name: x\n    requier: tls\n");
        const auto errs = errors_of("steps:\n  - name: a\n    audit:\n      read: " + kPcaps + "\n      policy: policy.yaml\n", {},
                                    dir.path);
        REQUIRE(errs.size() >= 2);
        CHECK(starts_with(errs[0], "pb.yaml:5:15: step 1 'a' (audit): audit.policy: " + dir.path + "/policy.yaml:4:5:"));
        CHECK(contains(errs[0], "requier"));
        CHECK(errs.back() == "pb.yaml:5:15: step 1 'a' (audit): audit.policy: needs snapshot: (a file, or cluster) to "
                             "know the workloads and their PeerAuthentications");
    }
    SUBCASE("a directory of captures is read in name order") {
        auto pb = parse("steps:\n  - name: a\n    audit:\n      read: tests/captures/pcaps\n");
        REQUIRE(pb);
        const auto& files = pb->steps[0].as<AuditStep>().files;
        CHECK(files.size() >= 10);
        CHECK(std::is_sorted(files.begin(), files.end()));
    }
}

TEST_CASE("provision, apply, wait, restart, report and push steps") {
    TempDir dir;
    SUBCASE("an inline lab spec's errors point into the playbook") {
        const auto errs = errors_of(kHeader + "steps:\n  - provision:\n      spec:\n        metallb:\n          pool:\n"
                                              "            adresses: [10.0.0.1-10.0.0.9]\n        istio:\n          mode: ambiant\n");
        REQUIRE(errs.size() == 2);
        CHECK(starts_with(errs[0], "pb.yaml:8:13: step 1 'provision-1' (provision): provision.spec.metallb.pool.adresses: "
                                   "unknown key 'adresses'"));
        CHECK(contains(errs[0], "did you mean 'addresses'?"));
        CHECK(starts_with(errs[1], "pb.yaml:10:17: step 1 'provision-1' (provision): provision.spec.istio.mode: "));
        CHECK(contains(errs[1], "ambient"));
    }
    SUBCASE("a lab spec file is validated too") {
        dir.write("lab.yaml", "name: Not_A_Label\n");
        const auto e = only_error("steps:\n  - provision:\n      spec: lab.yaml\n", {}, dir.path);
        CHECK(starts_with(e, "pb.yaml:3:13: step 1 'provision-1' (provision): lab spec " + dir.path + "/lab.yaml:1:7: name:"));
    }
    SUBCASE("purge is for down") {
        CHECK(only_error("steps:\n  - provision:\n      action: up\n      purge: true\n") ==
              "pb.yaml:4:14: step 1 'provision-1' (provision): provision.purge: only applies to action: down");
    }
    SUBCASE("an inline manifest: errors on the playbook's line") {
        CHECK(only_error("steps:\n  - apply:\n      manifest: |\n        apiVersion: v1\n        metadata:\n          name: x\n") ==
              "pb.yaml:4:1: step 1 'apply-1' (apply): apply.manifest: object without a kind");
        CHECK(starts_with(only_error("steps:\n  - apply:\n      manifest: |\n        kind: [a\n"),
                          "pb.yaml:5:1: step 1 'apply-1' (apply): apply.manifest: "));
    }
    SUBCASE("a manifest file: errors name the file's own line") {
        dir.write("bad.yaml", "apiVersion: v1\nkind: Namespace\n---\napiVersion: v1\nkind: ConfigMap\n");
        const auto errs = errors_of("steps:\n  - apply:\n      files: [bad.yaml]\n", {}, dir.path);
        REQUIRE(errs.size() == 2);
        CHECK(errs[0] == "pb.yaml:3:14: step 1 'apply-1' (apply): apply: " + dir.path + "/bad.yaml:1:1: Namespace without metadata.name");
        CHECK(errs[1] == "pb.yaml:3:14: step 1 'apply-1' (apply): apply: " + dir.path + "/bad.yaml:4:1: ConfigMap without metadata.name");
    }
    SUBCASE("wait") {
        CHECK(only_error("steps:\n  - wait:\n      rollout: web\n") ==
              "pb.yaml:3:16: step 1 'wait-1' (wait): wait.rollout: expected deployment/NAME, statefulset/NAME or "
              "daemonset/NAME, got 'web'");
        CHECK(only_error("steps:\n  - wait:\n      condition: Ready\n") ==
              "pb.yaml:3:7: step 1 'wait-1' (wait): wait: a condition needs resource: (e.g. pods, deployment/NAME)");
        CHECK(only_error("steps:\n  - wait:\n      delay: 1s\n      timeout: 2s\n") ==
              "pb.yaml:4:16: step 1 'wait-1' (wait): wait.timeout: does not apply to a delay");
        CHECK(only_error("steps:\n  - wait:\n      rollout: deployment/web\n      namespace: Shop\n") ==
              "pb.yaml:4:18: step 1 'wait-1' (wait): namespace: 'Shop' is not a Kubernetes namespace name (lowercase "
              "letters, digits, '-')");
    }
    SUBCASE("restart") {
        CHECK(only_error("steps:\n  - restart:\n      resources: [pod/x]\n") ==
              "pb.yaml:3:18: step 1 'restart-1' (restart): restart.resources: expected deployment/NAME, statefulset/NAME "
              "or daemonset/NAME, got 'pod/x'");
    }
    SUBCASE("report and push") {
        const std::string audit = "steps:\n  - name: a\n    audit:\n      read: " + kPcaps + "/redis-auth.pcap\n";
        CHECK(only_error(audit + "  - report:\n      audit: a\n") ==
              "pb.yaml:6:7: step 2 'report-2' (report): report: nothing to write (give jsonl:, table: true with audit:, "
              "or html:/json: with diff:)");
        CHECK(starts_with(only_error(audit + "  - push:\n      audit: a\n      url: ftp://gw:9091\n"),
                          "pb.yaml:7:12: step 2 'push-2' (push): push.url: "));
        CHECK(only_error(audit + "  - push:\n      audit: a\n") ==
              "pb.yaml:6:7: step 2 'push-2' (push): push: needs url: (a Pushgateway) or textfile: (node_exporter's "
              "textfile collector)");
    }
}

TEST_CASE("every error comes back at once, in file order") {
    const auto errs = errors_of("steps:\n  - wait: soon\n  - lab: creat\n  - name: x\n    audit:\n      capture: lab\n");
    REQUIRE(errs.size() == 3);
    CHECK(starts_with(errs[0], "pb.yaml:2:11: step 1"));
    CHECK(starts_with(errs[1], "pb.yaml:3:10: step 2"));
    CHECK(contains(errs[1], "did you mean 'create'?"));
    CHECK(starts_with(errs[2], "pb.yaml:6:16: step 3 'x' (audit): there is no lab"));
}

TEST_CASE("a playbook file that cannot be read") {
    auto pb = load_playbook("/nonexistent/pb.yaml", {});
    REQUIRE_FALSE(pb);
    CHECK(pb.error().at(0).to_string() == "/nonexistent/pb.yaml: cannot read the playbook");
}
