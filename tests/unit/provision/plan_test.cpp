// The plan: golden JSON (checked in, reviewed), dependency layers, exact argv, redaction, templates.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "provision/manifests.hpp"
#include "provision/plan.hpp"
#include "provision/spec.hpp"
#include "provision/yaml_util.hpp"

using namespace meshproof::provision;

namespace {

const std::string kGolden = MESHPROOF_SOURCE_DIR "/tests/unit/provision/golden/";

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Plan plan_of(const std::string& spec_path) {
    auto spec = load_spec(spec_path);
    if (!spec) {
        for (const auto& e : spec.error()) INFO(e.to_string());
    }
    REQUIRE(spec);
    auto plan = build_plan(spec->spec);
    REQUIRE(plan);
    return *plan;
}

// The checked-in expectation; MESHPROOF_UPDATE_GOLDEN=1 rewrites it (then review the diff line by line).
void check_golden(const std::string& actual, const std::string& name) {
    const std::string path = kGolden + name;
    if (const char* update = std::getenv("MESHPROOF_UPDATE_GOLDEN"); update != nullptr && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << actual;
    }
    const std::string expected = read_file(path);
    REQUIRE_MESSAGE(!expected.empty(), "missing golden file " << path);
    if (actual != expected) {
        // Point at the first differing line: easier to read than two 20 KiB strings.
        std::istringstream a(actual), e(expected);
        std::string la, le;
        int line = 0;
        while (true) {
            ++line;
            const bool ga = static_cast<bool>(std::getline(a, la));
            const bool ge = static_cast<bool>(std::getline(e, le));
            if (!ga && !ge) break;
            if (la != le || ga != ge) {
                FAIL_CHECK(name << ":" << line << ": plan changed\n  expected: " << le << "\n  actual:   " << la);
                return;
            }
        }
    }
    CHECK(actual == expected);
}

std::vector<std::string> ids(const Plan& p) {
    std::vector<std::string> out;
    for (const auto& s : p.steps) out.push_back(s.id);
    return out;
}

std::size_t index_of(const Plan& p, const std::string& id) {
    const auto v = ids(p);
    const auto it = std::find(v.begin(), v.end(), id);
    REQUIRE_MESSAGE(it != v.end(), "no step " << id);
    return static_cast<std::size_t>(it - v.begin());
}

bool contains(const std::vector<std::string>& argv, const std::string& a) {
    return std::find(argv.begin(), argv.end(), a) != argv.end();
}

}  // namespace

TEST_CASE("golden plan: the built-in default") {
    const Plan plan = plan_of("");
    check_golden(plan_to_json(plan), "plan_default.json");
}

TEST_CASE("golden plan: ambient, TLS, Grafana, 8080/8443, kube context") {
    const Plan plan = plan_of(kGolden + "ambient_tls.lab.yaml");
    check_golden(plan_to_json(plan), "plan_ambient_tls.json");
}

TEST_CASE("plan JSON has exactly the documented shape") {
    const Plan plan = plan_of("");
    auto node = meshproof::provision::detail::parse_json(plan_to_json(plan));
    REQUIRE(node);
    REQUIRE(node->IsMap());
    CHECK(node->size() == 1);
    const YAML::Node steps = (*node)["steps"];
    REQUIRE(steps.IsSequence());
    REQUIRE(steps.size() == plan.steps.size());
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const YAML::Node s = steps[i];
        CHECK(s.size() == 4);
        CHECK(s["id"].Scalar() == plan.steps[i].id);
        CHECK(s["needs"].IsSequence());
        CHECK(s["argv"].IsSequence());
        CHECK(s["argv"].size() == plan.steps[i].argv.size());
        if (plan.steps[i].stdin_text) CHECK(s["stdin"].Scalar() == *plan.steps[i].stdin_text);
        else CHECK(s["stdin"].IsNull());
    }
}

TEST_CASE("steps come in dependency layers, in the issue's order") {
    for (const std::string& spec : {std::string(), kGolden + "ambient_tls.lab.yaml"}) {
        CAPTURE(spec);
        const Plan plan = plan_of(spec);
        std::map<std::string, int> layer;
        int last_layer = 0;
        for (const auto& s : plan.steps) {
            CHECK(s.layer >= last_layer);  // execution order never goes back a layer
            last_layer = s.layer;
            int want = 1;
            for (const auto& n : s.needs) {
                REQUIRE_MESSAGE(layer.count(n) == 1, s.id << " needs " << n << " which does not come before it");
                want = std::max(want, layer[n] + 1);
            }
            CHECK(s.layer == want);
            layer[s.id] = s.layer;
        }
        CHECK(plan.layers == last_layer);
        // MetalLB must announce before the gateway's LoadBalancer can get an IP (helm --wait waits for it).
        CHECK(index_of(plan, "metallb") < index_of(plan, "metallb-ready"));
        CHECK(index_of(plan, "metallb-ready") < index_of(plan, "metallb-pool"));
        CHECK(index_of(plan, "metallb-pool") < index_of(plan, "istio-ingress"));
        CHECK(index_of(plan, "istio-base") < index_of(plan, "istiod"));
        CHECK(index_of(plan, "istiod") < index_of(plan, "istio-ingress"));
        CHECK(index_of(plan, "istio-ingress") < index_of(plan, "gateway-ip"));
        CHECK(index_of(plan, "gateway-ip") < index_of(plan, "gateway-answers"));
        CHECK(index_of(plan, "kiali") < index_of(plan, "routes"));
        CHECK(index_of(plan, "namespaces") < index_of(plan, "demo-apps"));
        CHECK(index_of(plan, "namespaces") < index_of(plan, "peer-authentication"));
        CHECK(plan.find("routes-answer")->layer == plan.layers);  // the last check runs in the last layer
    }
}

TEST_CASE("every command is an exact argv, idempotent by construction") {
    const Plan plan = plan_of(kGolden + "ambient_tls.lab.yaml");
    for (const auto& s : plan.steps) {
        CAPTURE(s.id);
        REQUIRE_FALSE(s.argv.empty());
        for (const auto& a : s.argv) CHECK(a.find('\n') == std::string::npos);
        if (s.release) {
            REQUIRE(s.argv.size() > 4);
            CHECK(s.argv[0] == "helm");
            CHECK(s.argv[1] == "upgrade");
            CHECK(s.argv[2] == "--install");
            CHECK(contains(s.argv, "--wait"));
            CHECK(contains(s.argv, "--timeout"));
            CHECK(contains(s.argv, "600s"));
            CHECK(contains(s.argv, s.release->version));
            CHECK(contains(s.argv, "--kube-context"));
            CHECK(contains(s.argv, "-f") == s.stdin_text.has_value());
        } else if (s.check == CheckKind::ObjectsExist) {
            CHECK(s.argv[0] == "kubectl");
            CHECK(s.argv[1] == "apply");
            CHECK(s.argv[2] == "--server-side");
            CHECK(contains(s.argv, "--field-manager=meshproof-" + s.id));
            CHECK(contains(s.argv, "-"));
            CHECK(contains(s.argv, "--context"));
            REQUIRE(s.stdin_text);
            // every placeholder rendered, except secrets (filled only when the step runs)
            if (!has_secret_placeholders(*s.stdin_text)) CHECK(s.stdin_text->find("{{") == std::string::npos);
        } else if (s.kind == StepKind::Probe) {
            CHECK(s.argv[0] == "meshproof");
            CHECK(s.argv[1] == "probe");
        }
    }
    // Charts through their repos, as the seed does.
    std::vector<std::string> charts;
    for (const auto& s : plan.steps) {
        if (s.release) charts.push_back(s.release->chart);
    }
    CHECK(charts == std::vector<std::string>{"metallb/metallb", "istio/base", "istio/istiod", "istio/cni",
                                             "prometheus-community/prometheus", "kiali/kiali-server", "grafana/grafana",
                                             "istio/ztunnel", "istio/gateway"});
}

TEST_CASE("values and manifests carry the spec") {
    const Plan plan = plan_of(kGolden + "ambient_tls.lab.yaml");
    const Step* gw = plan.find("istio-ingress");
    REQUIRE(gw);
    REQUIRE(gw->stdin_text);
    CHECK(gw->stdin_text->find("targetPort: 8080") != std::string::npos);
    CHECK(gw->stdin_text->find("targetPort: 8443") != std::string::npos);
    CHECK(contains(gw->argv, "edge"));
    const Step* istiod = plan.find("istiod");
    REQUIRE(istiod);
    REQUIRE(istiod->stdin_text);
    CHECK(istiod->stdin_text->find("profile: ambient") != std::string::npos);
    CHECK(istiod->stdin_text->find("cpu: 100m") != std::string::npos);  // user override merged
    const Step* pool = plan.find("metallb-pool");
    REQUIRE(pool);
    CHECK(pool->stdin_text->find("- \"172.18.254.0/28\"") != std::string::npos);
    CHECK(pool->stdin_text->find("interfaces:\n    - \"eth0\"") != std::string::npos);
    const Step* ns = plan.find("namespaces");
    REQUIRE(ns);
    CHECK(ns->stdin_text->find("\"istio.io/dataplane-mode\": \"ambient\"") != std::string::npos);
    const Step* kiali = plan.find("kiali");
    REQUIRE(kiali);
    CHECK(kiali->stdin_text->find("strategy: anonymous") != std::string::npos);
    const Step* routes = plan.find("routes");
    REQUIRE(routes);
    CHECK(routes->stdin_text->find("credentialName: \"meshproof-ingress-tls\"") != std::string::npos);
    CHECK(routes->stdin_text->find("number: 443") != std::string::npos);
    CHECK(routes->stdin_text->find("grafana.lab2.example") != std::string::npos);
    const Step* pa = plan.find("peer-authentication");
    REQUIRE(pa);
    CHECK(pa->stdin_text->find("mode: \"PERMISSIVE\"") != std::string::npos);
    // the demo namespace is also an injection namespace: listed once
    CHECK(ns->stdin_text->find("name: \"meshproof-demo\"") == ns->stdin_text->rfind("name: \"meshproof-demo\""));
}

TEST_CASE("secrets never reach plan output") {
    const Plan plan = plan_of(kGolden + "ambient_tls.lab.yaml");
    const Step* tls = plan.find("ingress-tls");
    REQUIRE(tls);
    REQUIRE(tls->stdin_text);
    CHECK(has_secret_placeholders(*tls->stdin_text));
    const std::string json = plan_to_json(plan);
    CHECK(json.find("\"tls.crt: \\\"<redacted>\\\"") == std::string::npos);
    CHECK(json.find("tls.key: \\\"<redacted>\\\"") != std::string::npos);
    CHECK(json.find("SECRET:") == std::string::npos);
    CHECK(plan_to_text(plan).find("SECRET:") == std::string::npos);
    // The undo (kubectl delete) stdin is stored redacted.
    REQUIRE_FALSE(tls->undo.empty());
    CHECK(tls->undo.front().stdin_text->find("<redacted>") != std::string::npos);
}

TEST_CASE("argv redaction") {
    CHECK(redact_argv({"helm", "install", "--set", "adminPassword=hunter2", "--set", "replicas=2"}) ==
          std::vector<std::string>{"helm", "install", "--set", "adminPassword=<redacted>", "--set", "replicas=2"});
    CHECK(redact_argv({"kubectl", "--token", "abc.def", "get", "pods"}) ==
          std::vector<std::string>{"kubectl", "--token", "<redacted>", "get", "pods"});
    CHECK(redact_argv({"kubectl", "--token=abc.def"}) == std::vector<std::string>{"kubectl", "--token=<redacted>"});
    CHECK(redact_argv({"helm", "--set=grafana.admin.password=x"}) ==
          std::vector<std::string>{"helm", "--set=grafana.admin.password=<redacted>"});
    CHECK(redact_argv({"kubectl", "apply", "--field-manager=meshproof-routes", "-f", "-"}) ==
          std::vector<std::string>{"kubectl", "apply", "--field-manager=meshproof-routes", "-f", "-"});
}

TEST_CASE("argv formatting quotes only what needs it") {
    CHECK(format_argv({"helm", "version", "--template", "{{.Version}}"}) == "helm version --template {{.Version}}");
    CHECK(format_argv({"sh", "-c", "echo it's"}) == "sh -c 'echo it'\\''s'");
    CHECK(format_argv({"a", ""}) == "a ''");
}

TEST_CASE("fingerprints follow what a step runs") {
    Plan a = plan_of("");
    Plan b = a;
    Step* pool = nullptr;
    for (auto& s : b.steps) {
        if (s.id == "metallb-pool") pool = &s;
    }
    REQUIRE(pool);
    *pool->stdin_text += "# changed\n";
    CHECK(step_fingerprint(*a.find("metallb-pool")) != step_fingerprint(*pool));
    CHECK(step_fingerprint(*a.find("istiod")) == step_fingerprint(*b.find("istiod")));
    CHECK(plan_hash(a) != plan_hash(b));
    CHECK(plan_hash(a) == plan_hash(plan_of("")));
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("templates: scalars, if, each, errors") {
    TemplateValues v;
    v.scalars["NAME"] = "pool";
    v.lists["ADDR"] = {"10.0.0.1-10.0.0.2", "10.0.1.0/24"};
    v.flags.insert("ON");
    SUBCASE("substitution and directives") {
        auto r = render_template("t", "name: \"{{NAME}}\"\nlist:\n  - \"{{ADDR}}\"  # meshproof:each ADDR\non: 1  # meshproof:if ON\noff: 1  # meshproof:if OFF\n", v);
        REQUIRE(r);
        CHECK(*r == "name: \"pool\"\nlist:\n  - \"10.0.0.1-10.0.0.2\"\n  - \"10.0.1.0/24\"\non: 1\n");
    }
    SUBCASE("if and each on one line") {
        auto r = render_template("t", "- {{ADDR}}  # meshproof:if ON each ADDR\n- {{ADDR}}  # meshproof:if OFF each ADDR\n", v);
        REQUIRE(r);
        CHECK(*r == "- 10.0.0.1-10.0.0.2\n- 10.0.1.0/24\n");
    }
    SUBCASE("missing value names the placeholder") {
        auto r = render_template("x.yaml", "a: {{MISSING}}\n", v);
        REQUIRE_FALSE(r);
        CHECK(r.error() == "x.yaml: no value for {{MISSING}}");
    }
    SUBCASE("bad directive") {
        CHECK_FALSE(render_template("t", "a: 1  # meshproof:unless X\n", v));
        CHECK_FALSE(render_template("t", "a: {{NAME\n", v));
    }
    SUBCASE("secrets stay until filled") {
        auto r = render_template("t", "k: {{SECRET:KEY}}\n", v);
        REQUIRE(r);
        CHECK(*r == "k: {{SECRET:KEY}}\n");
        CHECK(redact_secrets(*r) == "k: <redacted>\n");
        CHECK(fill_secrets(*r, {{"KEY", "c2VjcmV0"}}) == "k: c2VjcmV0\n");
    }
}

TEST_CASE("the embedded manifests are the files under manifests/") {
    // Fails after editing manifests/*.yaml until `python3 manifests/tools/embed_manifests.py` is re-run.
    const auto& embedded = embedded_manifests();
    CHECK(embedded.size() >= 10);
    for (const auto& m : embedded) {
        CAPTURE(m.path);
        CHECK(read_file(MESHPROOF_SOURCE_DIR "/manifests/" + std::string(m.path)) == std::string(m.text));
    }
    for (const char* path : {"metallb/ip-address-pool.yaml", "exposure/gateway.yaml", "demo/echo-server.yaml",
                             "istio/peer-authentication.yaml"}) {
        CHECK(manifest_template(path).has_value());
    }
    CHECK_FALSE(manifest_template("nope.yaml").has_value());
}
