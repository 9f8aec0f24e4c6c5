// The lab spec's `auditor` switch: validation, the plan steps it adds (after Prometheus), what they
// apply and how `down` undoes them, and the template "set" directive that fills in image/schedule.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include <yaml-cpp/yaml.h>

#include "provision/manifests.hpp"
#include "provision/plan.hpp"
#include "provision/spec.hpp"

using namespace meshproof::provision;

namespace {

std::string errors_text(const std::string& yaml) {
    auto r = parse_spec(yaml, "lab.yaml");
    if (r) return {};
    std::string s;
    for (const auto& e : r.error()) s += e.to_string() + "\n";
    return s;
}

Plan plan_for(const std::string& yaml) {
    auto spec = parse_spec(yaml, "lab.yaml");
    REQUIRE(spec);
    auto plan = build_plan(spec->spec);
    REQUIRE(plan);
    return *plan;
}

std::size_t position(const Plan& p, const std::string& id) {
    for (std::size_t i = 0; i < p.steps.size(); ++i) {
        if (p.steps[i].id == id) return i;
    }
    FAIL("no step " << id);
    return 0;
}

// The documents of a multi-document manifest, by kind.
std::vector<YAML::Node> docs_of_kind(const std::string& text, const std::string& kind) {
    std::vector<YAML::Node> out;
    for (const auto& d : YAML::LoadAll(text)) {
        if (d["kind"] && d["kind"].Scalar() == kind) out.push_back(d);
    }
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("auditor: off by default, nothing added to the plan") {
    auto r = parse_spec(default_spec_yaml(), "<built-in>");
    REQUIRE(r);
    CHECK_FALSE(r->spec.auditor.enabled);
    CHECK(r->spec.auditor.image == "ghcr.io/meshproof/meshproof:0.1.0");
    CHECK(r->spec.auditor.schedule == "17 * * * *");
    CHECK(r->spec.auditor.pushgateway.empty());
    // The commented default documents the switch.
    CHECK(default_spec_yaml().find("auditor:\n  enabled: false\n") != std::string_view::npos);
    auto plan = build_plan(r->spec);
    REQUIRE(plan);
    for (const auto& s : plan->steps) CHECK(s.id.rfind("auditor", 0) != 0);
}

TEST_CASE("auditor: validation") {
    SUBCASE("unknown key with a suggestion, at its line and column") {
        const std::string e = errors_text("auditor:\n  enabled: true\n  shedule: \"0 * * * *\"\n");
        CHECK(e.find("lab.yaml:3:3: auditor.shedule: unknown key 'shedule' (did you mean 'schedule'?)") !=
              std::string::npos);
    }
    SUBCASE("bad schedules") {
        for (const char* bad : {"every hour", "0 * * *", "0 * * * * *", "@often", "0 * * * \\\"x"}) {
            CAPTURE(bad);
            const std::string e = errors_text(std::string("auditor:\n  schedule: \"") + bad + "\"\n");
            CHECK(e.find("lab.yaml:2:13: auditor.schedule: '") != std::string::npos);
            CHECK(e.find("is not a cron schedule") != std::string::npos);
        }
    }
    SUBCASE("good schedules, and none") {
        for (const char* good : {"0 * * * *", "*/15 2-5 1,15 JAN MON-FRI", "@hourly", ""}) {
            CAPTURE(good);
            CHECK(errors_text(std::string("auditor:\n  schedule: \"") + good + "\"\n").empty());
        }
    }
    SUBCASE("image and pushgateway") {
        std::string e = errors_text("auditor:\n  image: \"bad image\"\n");
        CHECK(e.find("lab.yaml:2:10: auditor.image: 'bad image' is not an image reference") != std::string::npos);
        CHECK(errors_text("auditor:\n  image: 'x\"y'\n").find("auditor.image") != std::string::npos);
        CHECK(errors_text("auditor:\n  image: \"\"\n").find("auditor.image") != std::string::npos);
        e = errors_text("auditor:\n  pushgateway: pushgateway:9091\n");
        CHECK(e.find("lab.yaml:2:16: auditor.pushgateway: 'pushgateway:9091' is not an http:// or https:// URL") !=
              std::string::npos);
        CHECK(errors_text("auditor:\n  image: registry.lan:5000/mp/meshproof@sha256:0123abcd\n"
                          "  pushgateway: http://pushgateway.monitoring.svc:9091\n")
                  .empty());
    }
    SUBCASE("wrong types") {
        CHECK(errors_text("auditor: true\n").find("lab.yaml:1:10: auditor: expected a mapping") != std::string::npos);
        CHECK(errors_text("auditor:\n  enabled: maybe\n").find("auditor.enabled: expected true or false") !=
              std::string::npos);
        CHECK(errors_text("auditor:\n  image: [a]\n").find("auditor.image: expected a string") != std::string::npos);
    }
    SUBCASE("the top-level key is suggested too") {
        CHECK(errors_text("auditer:\n  enabled: true\n").find("unknown key 'auditer' (did you mean 'auditor'?)") !=
              std::string::npos);
    }
    SUBCASE("enabled with a schedule warns about the signing key") {
        auto r = parse_spec("auditor:\n  enabled: true\n", "lab.yaml");
        REQUIRE(r);
        CHECK(std::any_of(r->warnings.begin(), r->warnings.end(),
                          [](const SpecWarning& w) { return w.field == "auditor.schedule"; }));
    }
}

TEST_CASE("auditor: enabled adds two apply steps after Prometheus") {
    const Plan p = plan_for(
        "auditor:\n  enabled: true\n  image: registry.lan:5000/meshproof:dev\n  schedule: \"0 */2 * * *\"\n"
        "  pushgateway: http://pushgateway.monitoring.svc:9091\n");
    const std::size_t ns = position(p, "auditor-namespace");
    const std::size_t wl = position(p, "auditor");
    CHECK(position(p, "prometheus") < ns);
    CHECK(ns < wl);
    const Step& nss = p.steps[ns];
    const Step& w = p.steps[wl];
    CHECK(nss.needs == std::vector<std::string>{"prometheus"});
    CHECK(w.needs == std::vector<std::string>{"auditor-namespace"});

    SUBCASE("argv: server-side apply from stdin, its own field manager") {
        CHECK(w.argv == std::vector<std::string>{"kubectl", "apply", "--server-side", "--field-manager=meshproof-auditor",
                                                 "--force-conflicts", "-f", "-"});
        CHECK(nss.argv[3] == "--field-manager=meshproof-auditor-namespace");
        CHECK(w.check == CheckKind::ObjectsExist);
        CHECK(nss.check == CheckKind::ObjectsExist);
    }
    SUBCASE("namespace step: Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding") {
        REQUIRE(nss.stdin_text);
        CHECK(docs_of_kind(*nss.stdin_text, "Namespace").size() == 1);
        CHECK(docs_of_kind(*nss.stdin_text, "ServiceAccount").size() == 1);
        CHECK(docs_of_kind(*nss.stdin_text, "ClusterRole").size() == 1);
        CHECK(docs_of_kind(*nss.stdin_text, "ClusterRoleBinding").size() == 1);
    }
    SUBCASE("workload step: the DaemonSet and CronJob carry the chosen image, schedule and pushgateway") {
        REQUIRE(w.stdin_text);
        const auto ds = docs_of_kind(*w.stdin_text, "DaemonSet");
        REQUIRE(ds.size() == 1);
        CHECK(ds[0]["metadata"]["name"].Scalar() == "meshproof-auditor");
        CHECK(ds[0]["spec"]["template"]["spec"]["containers"][0]["image"].Scalar() == "registry.lan:5000/meshproof:dev");
        const auto cj = docs_of_kind(*w.stdin_text, "CronJob");
        REQUIRE(cj.size() == 1);
        CHECK(cj[0]["spec"]["schedule"].Scalar() == "0 */2 * * *");
        const YAML::Node container = cj[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        CHECK(container["image"].Scalar() == "registry.lan:5000/meshproof:dev");
        CHECK(container["env"][1]["name"].Scalar() == "PUSHGATEWAY");
        CHECK(container["env"][1]["value"].Scalar() == "http://pushgateway.monitoring.svc:9091");
        CHECK(docs_of_kind(*w.stdin_text, "PersistentVolumeClaim").size() == 1);
        // The policy the CronJob mounts, as kustomization.yaml's configMapGenerator makes it.
        const auto cm = docs_of_kind(*w.stdin_text, "ConfigMap");
        REQUIRE(cm.size() == 1);
        CHECK(cm[0]["metadata"]["name"].Scalar() == "meshproof-policy");
        auto policy = manifest_template("audit/audit-policy.yaml");
        REQUIRE(policy);
        CHECK(cm[0]["data"]["policy.yaml"].Scalar() == *policy);
        CHECK(w.stdin_text->find("# meshproof:") == std::string::npos);  // directives are gone
    }
    SUBCASE("down deletes the same objects, workloads before the namespace") {
        REQUIRE(w.undo.size() == 1);
        CHECK(w.undo[0].argv == std::vector<std::string>{"kubectl", "delete", "--ignore-not-found", "--wait=false", "-f", "-"});
        CHECK(w.undo[0].stdin_text == w.stdin_text);
        CHECK_FALSE(w.undo[0].purge_only);
        REQUIRE(nss.undo.size() == 1);
        CHECK(nss.undo[0].stdin_text == nss.stdin_text);
        CHECK_FALSE(nss.undo[0].purge_only);
    }
    SUBCASE("plan JSON shows the new steps") {
        const std::string json = plan_to_json(p);
        CHECK(json.find("{\"id\":\"auditor-namespace\",\"needs\":[\"prometheus\"]") != std::string::npos);
        CHECK(json.find("{\"id\":\"auditor\",\"needs\":[\"auditor-namespace\"]") != std::string::npos);
    }
}

TEST_CASE("auditor: variants") {
    SUBCASE("no schedule: DaemonSet only, no policy, no volume") {
        const Plan p = plan_for("auditor:\n  enabled: true\n  schedule: \"\"\n");
        const Step& w = p.steps[position(p, "auditor")];
        REQUIRE(w.stdin_text);
        CHECK(docs_of_kind(*w.stdin_text, "DaemonSet").size() == 1);
        CHECK(docs_of_kind(*w.stdin_text, "CronJob").empty());
        CHECK(docs_of_kind(*w.stdin_text, "ConfigMap").empty());
        CHECK(docs_of_kind(*w.stdin_text, "PersistentVolumeClaim").empty());
    }
    SUBCASE("default pushgateway is empty: the Job pushes nothing") {
        const Plan p = plan_for("auditor:\n  enabled: true\n");
        const Step& w = p.steps[position(p, "auditor")];
        REQUIRE(w.stdin_text);
        const auto cj = docs_of_kind(*w.stdin_text, "CronJob");
        REQUIRE(cj.size() == 1);
        const YAML::Node container = cj[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        CHECK(container["env"][1]["value"].Scalar().empty());
        CHECK(container["args"][0].Scalar().find("if [ -n \"$PUSHGATEWAY\" ]") != std::string::npos);
        CHECK(cj[0]["spec"]["schedule"].Scalar() == "17 * * * *");
    }
    SUBCASE("without Prometheus the auditor follows istiod") {
        const Plan p = plan_for("addons:\n  prometheus:\n    enabled: false\nauditor:\n  enabled: true\n");
        CHECK(p.steps[position(p, "auditor-namespace")].needs == std::vector<std::string>{"istiod"});
    }
    SUBCASE("kube context reaches the auditor's kubectl") {
        const Plan p = plan_for("kubeContext: lab2\nauditor:\n  enabled: true\n");
        const Step& w = p.steps[position(p, "auditor")];
        CHECK(contains(w.argv, "--context"));
        CHECK(contains(w.argv, "lab2"));
        CHECK(contains(w.undo[0].argv, "lab2"));
    }
}

TEST_CASE("templates: set replaces the value after 'key: '") {
    TemplateValues v;
    v.scalars["IMAGE"] = "\"r/x:1\"";
    SUBCASE("value replaced, directive removed") {
        auto r = render_template("t", "  image: default/img:0  # meshproof:set IMAGE\nother: 1\n", v);
        REQUIRE(r);
        CHECK(*r == "  image: \"r/x:1\"\nother: 1\n");
    }
    SUBCASE("combined with if") {
        v.flags.insert("ON");
        auto r = render_template("t", "a: 1  # meshproof:if ON set IMAGE\nb: 2  # meshproof:if OFF set IMAGE\n", v);
        REQUIRE(r);
        CHECK(*r == "a: \"r/x:1\"\n");
    }
    SUBCASE("errors: no value, no key") {
        auto r = render_template("x.yaml", "a: 1  # meshproof:set NOPE\n", v);
        REQUIRE_FALSE(r);
        CHECK(r.error() == "x.yaml: no value for {{NOPE}}");
        auto k = render_template("x.yaml", "- item  # meshproof:set IMAGE\n", v);
        REQUIRE_FALSE(k);
        CHECK(k.error().find("'set' needs a 'key: value' line") != std::string::npos);
        CHECK_FALSE(render_template("t", "a: 1  # meshproof:set\n", v));
    }
    SUBCASE("the files stay valid YAML with their defaults (kubectl apply -k manifests/audit)") {
        for (const char* path : {"audit/daemonset.yaml", "audit/cronjob.yaml"}) {
            CAPTURE(path);
            auto text = manifest_template(path);
            REQUIRE(text);
            CHECK(text->find("# meshproof:set AUDITOR_IMAGE") != std::string::npos);
            const auto docs = YAML::LoadAll(*text);
            REQUIRE_FALSE(docs.empty());
            CHECK(docs[0]["metadata"]["namespace"].Scalar() == "meshproof-system");
        }
    }
}
