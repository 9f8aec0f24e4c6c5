// What the plan hands helm and kubectl, checked against the upstream charts, CRDs and Kubernetes API
// models in ../shared/testdata/upstream by upstream_check.py (python3-yaml + python3-jsonschema):
// the default spec and every variant must pass, deliberately wrong manifests and values must not.
#include <doctest/doctest.h>

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "provision/plan.hpp"
#include "provision/spec.hpp"
#include "provision/yaml_util.hpp"

namespace {

using namespace meshproof::provision;

const std::string kUpstream = MESHPROOF_SHARED_TESTDATA "/upstream";
const std::string kChecker = MESHPROOF_SOURCE_DIR "/tests/unit/provision/upstream_check.py";

struct CheckResult {
    int code = -1;
    std::string out;
};

// A scratch directory for the plans, removed at the end.
struct TempDir {
    TempDir() {
        char tmpl[] = "/tmp/meshproof-upstream-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string path;
};

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

CheckResult run_checker(const std::vector<std::string>& plan_files) {
    std::string cmd = "python3 " + shell_quote(kChecker) + " --upstream " + shell_quote(kUpstream);
    for (const auto& f : plan_files) cmd += " " + shell_quote(f);
    cmd += " 2>&1";
    CheckResult r;
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

Plan plan_of(const std::string& yaml) {
    auto parsed = parse_spec(yaml, "variant.yaml");
    if (!parsed) {
        for (const auto& e : parsed.error()) MESSAGE(e.to_string());
    }
    REQUIRE(parsed);
    auto plan = build_plan(parsed->spec);
    REQUIRE(plan);
    return *plan;
}

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
    const std::string path = dir.path + "/" + name + ".json";
    std::ofstream(path) << text;
    return path;
}

bool upstream_data_present() {
    return std::filesystem::exists(kUpstream + "/kubernetes-1.36/api-models.json") &&
           std::filesystem::exists(kUpstream + "/istio-1.30.3/manifests/charts/base/files/crd-all.gen.yaml");
}

// Replaces the first `from` in the stdin of step `id` (the test fails when it is not there).
void mutate(Plan& plan, const std::string& id, const std::string& from, const std::string& to) {
    for (auto& s : plan.steps) {
        if (s.id != id) continue;
        REQUIRE_MESSAGE(s.stdin_text, id);
        const auto pos = s.stdin_text->find(from);
        REQUIRE_MESSAGE(pos != std::string::npos, id << ": " << from);
        s.stdin_text->replace(pos, from.size(), to);
        return;
    }
    FAIL("no step " << id);
}

}  // namespace

TEST_CASE("every variant's plan validates against the upstream charts, CRDs and API models") {
    REQUIRE_MESSAGE(upstream_data_present(), "upstream test data missing under " << kUpstream
                                                                                 << " (MESHPROOF_SHARED_TESTDATA)");
    const std::map<std::string, std::string> variants = {
        {"default", ""},
        {"tls", "exposure: {tls: {enabled: true}}\n"},
        {"grafana", "addons: {grafana: {enabled: true}}\n"},
        {"grafana-tls", "addons: {grafana: {enabled: true}}\nexposure: {tls: {enabled: true}}\n"},
        {"auditor", "auditor: {enabled: true, pushgateway: \"http://pushgateway.monitoring.svc:9091\"}\n"},
        {"auditor-daemonset-only", "auditor: {enabled: true, schedule: \"\"}\n"},
        {"injection", "injection: {namespaces: [apps, web]}\n"},
        {"target-ports-8080",
         "ingress: {ports: {http: {port: 80, targetPort: 8080}, https: {port: 443, targetPort: 8443}}}\n"},
        {"nodeport", "ingress: {serviceType: NodePort}\n"},
        {"clusterip", "ingress: {serviceType: ClusterIP}\n"},
        {"ambient", "istio: {mode: ambient, values: {cni: {global: {platform: k3s}}}}\n"
                    "injection: {namespaces: [apps]}\n"},
        {"permissive", "istio: {mtls: PERMISSIVE}\n"},
        {"l2-interfaces", "metallb: {l2Advertisement: {interfaces: [eth0]}}\n"},
        {"no-l2", "metallb: {l2Advertisement: {enabled: false}}\n"},
        {"no-prometheus", "addons: {prometheus: {enabled: false}}\n"},
        {"no-kiali", "addons: {kiali: {enabled: false}}\n"},
        {"no-metallb", "metallb: {enabled: false}\n"},
        {"no-exposure", "exposure: {enabled: false}\n"},
        {"no-demo", "demo: {enabled: false}\n"},
        {"demo-not-injected", "demo: {inject: false}\n"},
        {"everything", "addons: {grafana: {enabled: true}}\nexposure: {tls: {enabled: true}}\n"
                       "auditor: {enabled: true}\ninjection: {namespaces: [apps]}\n"},
        {"istio-1.27", "charts: {istio: 1.27.3}\n"},
        {"istio-1.27-ambient", "charts: {istio: 1.27.3}\nistio: {mode: ambient}\n"},
        {"istio-1.30", "charts: {istio: 1.30.3}\n"},
        {"istio-1.30-ambient", "charts: {istio: 1.30.3}\nistio: {mode: ambient, values: {cni: {global: {platform: k3s}}}}\n"},
    };
    TempDir dir;
    std::vector<std::string> files;
    for (const auto& [name, yaml] : variants) files.push_back(write(dir, name, plan_to_json(plan_of(yaml))));
    const CheckResult r = run_checker(files);
    INFO(r.out);
    CHECK(r.code == 0);
    CHECK(r.out.find("; 0 problems") != std::string::npos);
    CHECK(r.out.find("checked " + std::to_string(variants.size()) + " plans") != std::string::npos);
}

TEST_CASE("the upstream check fails on wrong manifests and values") {
    REQUIRE(upstream_data_present());
    TempDir dir;
    Plan plan = plan_of("charts: {istio: 1.30.3}\naddons: {grafana: {enabled: true}}\nauditor: {enabled: true}\nexposure: {tls: {enabled: true}}\n");

    // Expected problem text (a substring of its line) for each mutation.
    std::vector<std::string> expected;
    // CRDs: an unknown field, a wrong enum value, a version that does not exist, a wrong type.
    mutate(plan, "peer-authentication", "mode: \"STRICT\"", "mode: STRICTER");
    expected.push_back("step peer-authentication: document 1 (PeerAuthentication/default): spec.mtls.mode: 'STRICTER' is not one of");
    mutate(plan, "routes", "  http:\n", "  htttp:\n");
    expected.push_back("(VirtualService/meshproof-kiali): spec: Additional properties are not allowed ('htttp' was unexpected)");
    mutate(plan, "metallb-pool", "apiVersion: metallb.io/v1beta1", "apiVersion: metallb.io/v1alpha1");
    expected.push_back("step metallb-pool: document 1 (IPAddressPool/meshproof-pool): apiVersion metallb.io/v1alpha1 does not exist");
    mutate(plan, "routes", "number: 80", "number: \"80\"");
    expected.push_back("(Gateway/meshproof-gateway): spec.servers.0.port.number: '80' is not of type 'integer'");
    // Built-in objects: an unknown field, a label that is not a string, a missing required field.
    mutate(plan, "auditor", "hostNetwork: true", "hostNetwork: true\n      hostNetwrok: true");
    expected.push_back("(DaemonSet/meshproof-auditor): .spec.template.spec.hostNetwrok: unknown field (V1PodSpec has no hostNetwrok)");
    mutate(plan, "auditor-namespace", "istio-injection: disabled", "istio-injection: false");
    expected.push_back("(Namespace/meshproof-system): .metadata.labels.istio-injection: expected str, got bool False");
    mutate(plan, "demo-apps", "- name: echo", "- nam: echo");
    expected.push_back("(Deployment/echo-server): .spec.template.spec.containers[0]: required field name missing (V1Container)");
    // Helm values: a key no chart version has, an Istio key set under _internal_defaults_do_not_set,
    // and a coalesced value the chart's values.schema.json rejects.
    for (auto& s : plan.steps) {
        if (s.id == "istiod") s.stdin_text = std::string("pilot:\n  autoscaleEnabledd: false\n");
        if (s.id == "istio-base") s.stdin_text = std::string("_internal_defaults_do_not_set:\n  defaultRevision: x\n");
        if (s.id == "istio-ingress") *s.stdin_text += "replicaCount: two\n";
        if (s.id == "prometheus") *s.stdin_text += "server:\n  retentionn: 15d\n";
        if (s.id == "kiali") *s.stdin_text += "external_services:\n  prometheus:\n    urll: http://x\n";
    }
    expected.push_back("step istiod: value pilot.autoscaleEnabledd does not exist in istio-1.30.3/manifests/charts/istio-control/istio-discovery/values.yaml");
    expected.push_back("step istio-base: _internal_defaults_do_not_set.defaultRevision: set the key itself");
    expected.push_back("step istio-ingress: replicaCount: 'two' is not of type 'integer', 'null' (istio-1.30.3/manifests/charts/gateway/values.schema.json)");
    expected.push_back("step prometheus: value server.retentionn does not exist");
    expected.push_back("step kiali: value external_services.prometheus.urll does not exist");

    const CheckResult r = run_checker({write(dir, "wrong", plan_to_json(plan))});
    INFO(r.out);
    CHECK(r.code == 1);
    for (const auto& e : expected) CHECK_MESSAGE(r.out.find(e) != std::string::npos, e);
}

TEST_CASE("the upstream check refuses a plan with nothing to check") {
    REQUIRE(upstream_data_present());
    TempDir dir;
    const CheckResult r = run_checker({write(dir, "empty", "{\"steps\":[]}\n")});
    CHECK(r.code == 1);
    CHECK(r.out.find("nothing was checked") != std::string::npos);
}
