// Lab spec: the built-in default, validation errors (file:line:column, field, suggestion), and the
// impossible values that must be rejected before anything runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "provision/net.hpp"
#include "provision/spec.hpp"

using namespace meshproof::provision;

namespace {

std::vector<SpecError> errors_of(const std::string& yaml) {
    auto r = parse_spec(yaml, "lab.yaml");
    if (r) return {};
    return r.error();
}

bool has_error(const std::vector<SpecError>& errors, const std::string& text) {
    return std::any_of(errors.begin(), errors.end(), [&](const SpecError& e) {
        return e.to_string().find(text) != std::string::npos;
    });
}

std::string all(const std::vector<SpecError>& errors) {
    std::string s;
    for (const auto& e : errors) s += e.to_string() + "\n";
    return s;
}

}  // namespace

TEST_CASE("the built-in default parses and has the documented values") {
    auto r = parse_spec(default_spec_yaml(), "<built-in>");
    REQUIRE(r);
    const LabSpec& s = r->spec;
    CHECK(s.name == "homelab");
    CHECK(s.kube_context.empty());
    CHECK(s.charts.istio == "1.30.3");
    CHECK(s.charts.metallb == "0.15.2");
    CHECK(s.charts.kiali == "2.26.0");       // istio-1.30.3/samples/addons/kiali.yaml
    CHECK(s.charts.prometheus == "28.13.0");  // istio-1.30.3/samples/addons/prometheus.yaml
    CHECK(r->warnings.empty());
    REQUIRE(s.metallb.addresses.size() == 1);
    CHECK(s.metallb.addresses[0] == "192.168.1.240-192.168.1.250");
    CHECK(s.metallb.l2_advertisement);
    CHECK(s.istio.mode == MeshMode::Sidecar);
    CHECK(s.istio.mtls == MtlsMode::Strict);
    CHECK(s.ingress.service_type == ServiceType::LoadBalancer);
    CHECK(s.ingress.http.port == 80);
    CHECK(s.ingress.http.target_port == 80);
    CHECK(s.ingress.https.port == 443);
    CHECK(s.addons.kiali.enabled);
    CHECK(s.addons.kiali_auth == KialiAuth::Token);
    CHECK(s.addons.prometheus.enabled);
    CHECK_FALSE(s.addons.grafana.enabled);
    CHECK(s.addons.kiali.host == "kiali.home.arpa");
    CHECK(s.demo.enabled);
    CHECK(s.helm_timeout_seconds == 300);
    // The default is safe: no warnings (STRICT, token auth, an L2Advertisement).
    CHECK(r->warnings.empty());
}

TEST_CASE("an empty file and the default give the same model") {
    auto empty = parse_spec("", "lab.yaml");
    auto def = parse_spec(default_spec_yaml(), "<built-in>");
    REQUIRE(empty);
    REQUIRE(def);
    CHECK(empty->spec.metallb.addresses == def->spec.metallb.addresses);
    CHECK(empty->spec.charts.kiali == def->spec.charts.kiali);
    CHECK(empty->spec.addons.kiali.host == def->spec.addons.kiali.host);
    CHECK(empty->spec.ingress.https.target_port == def->spec.ingress.https.target_port);
}

TEST_CASE("validation errors name file, line, column and field, and suggest the nearest key") {
    SUBCASE("top-level typo") {
        const auto errors = errors_of("name: lab1\nmetalb:\n  enabled: true\n");
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].file == "lab.yaml");
        CHECK(errors[0].line == 2);
        CHECK(errors[0].column == 1);
        CHECK(errors[0].field == "metalb");
        CHECK(errors[0].to_string() == "lab.yaml:2:1: metalb: unknown key 'metalb' (did you mean 'metallb'?)");
    }
    SUBCASE("nested typo") {
        const auto errors = errors_of("metallb:\n  pool:\n    adresses: [10.0.0.1-10.0.0.5]\n");
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].line == 3);
        CHECK(errors[0].column == 5);
        CHECK(errors[0].field == "metallb.pool.adresses");
        CHECK(errors[0].message.find("did you mean 'addresses'?") != std::string::npos);
    }
    SUBCASE("no suggestion for a word far from every key: the known keys are listed") {
        const auto errors = errors_of("ingress:\n  xyzzyplugh: 1\n");
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].message.find("known keys: namespace serviceType ports values") != std::string::npos);
    }
    SUBCASE("unknown mode with suggestion") {
        const auto errors = errors_of("istio:\n  mode: sidecr\n  mtls: STRICT\n");
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].line == 2);
        CHECK(errors[0].column == 9);
        CHECK(errors[0].field == "istio.mode");
        CHECK(errors[0].message.find("unknown value 'sidecr' (expected sidecar | ambient); did you mean 'sidecar'?") !=
              std::string::npos);
    }
    SUBCASE("unknown mTLS mode") {
        const auto errors = errors_of("istio:\n  mtls: DISABLE\n");
        REQUIRE(errors.size() == 1);
        CHECK(has_error(errors, "lab.yaml:2:9: istio.mtls: unknown value 'DISABLE' (expected STRICT | PERMISSIVE)"));
    }
    SUBCASE("unknown Kiali auth strategy") {
        const auto errors = errors_of("addons:\n  kiali:\n    auth: anonymus\n");
        REQUIRE(errors.size() == 1);
        CHECK(has_error(errors, "addons.kiali.auth"));
        CHECK(has_error(errors, "did you mean 'anonymous'?"));
    }
    SUBCASE("YAML syntax error has a position") {
        const auto errors = errors_of("name: lab\nmetallb: [unclosed\n");
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].line >= 2);
        CHECK(errors[0].message.find("YAML syntax") == 0);
    }
    SUBCASE("wrong types") {
        const auto errors = errors_of("metallb: true\ndemo:\n  enabled: maybe\ntimeouts:\n  helm: soon\n");
        INFO(all(errors));
        REQUIRE(errors.size() == 3);
        CHECK(has_error(errors, "lab.yaml:1:10: metallb: expected a mapping"));
        CHECK(has_error(errors, "lab.yaml:3:12: demo.enabled: expected true or false, got 'maybe'"));
        CHECK(has_error(errors, "lab.yaml:5:9: timeouts.helm: expected a whole number, got 'soon'"));
    }
    SUBCASE("several errors are all reported") {
        const auto errors = errors_of("nmae: x\nistio:\n  mod: ambient\ningress:\n  ports:\n    http:\n      port: 0\n");
        INFO(all(errors));
        CHECK(errors.size() == 3);
        CHECK(has_error(errors, "did you mean 'name'?"));
        CHECK(has_error(errors, "did you mean 'mode'?"));
        CHECK(has_error(errors, "ingress.ports.http.port: 0 is out of range (1..65535)"));
    }
}

TEST_CASE("impossible values are rejected") {
    SUBCASE("pool entry that is not an address range") {
        const auto errors = errors_of("metallb:\n  pool:\n    addresses:\n      - 192.168.1.300-192.168.1.310\n");
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].to_string() ==
              "lab.yaml:4:9: metallb.pool.addresses[0]: '192.168.1.300' is not an IPv4 address");
    }
    SUBCASE("a single address needs a /32") {
        const auto errors = errors_of("metallb:\n  pool:\n    addresses: [10.0.0.7]\n");
        REQUIRE(errors.size() == 1);
        CHECK(has_error(errors, "write it as 10.0.0.7/32"));
    }
    SUBCASE("backwards range") {
        CHECK(has_error(errors_of("metallb:\n  pool:\n    addresses: [10.0.0.9-10.0.0.1]\n"), "ends before it"));
    }
    SUBCASE("mixed families") {
        CHECK(has_error(errors_of("metallb:\n  pool:\n    addresses: [10.0.0.1-fd00::1]\n"), "mixes IPv4 and IPv6"));
    }
    SUBCASE("bad prefix length") {
        CHECK(has_error(errors_of("metallb:\n  pool:\n    addresses: [10.0.0.0/33]\n"), "longer than 32 bits"));
        CHECK(has_error(errors_of("metallb:\n  pool:\n    addresses: [10.0.0.0/x]\n"), "not a prefix length"));
    }
    SUBCASE("loopback and multicast cannot be LoadBalancer IPs") {
        CHECK(has_error(errors_of("metallb:\n  pool:\n    addresses: [127.0.0.0/24]\n"), "loopback"));
        CHECK(has_error(errors_of("metallb:\n  pool:\n    addresses: [224.0.0.1-224.0.0.9]\n"), "multicast"));
    }
    SUBCASE("pool entries overlapping each other") {
        const auto errors = errors_of("metallb:\n  pool:\n    addresses:\n      - 10.0.0.0/28\n      - 10.0.0.8-10.0.0.20\n");
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].line == 5);
        CHECK(has_error(errors, "overlaps metallb.pool.addresses[0]"));
    }
    SUBCASE("pool overlapping the declared pod or service range") {
        const auto errors = errors_of(
            "cluster:\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/12]\n"
            "metallb:\n  pool:\n    addresses: [10.244.3.10-10.244.3.20, 10.100.0.0/24, 10.200.0.0/24]\n");
        REQUIRE(errors.size() == 2);
        CHECK(has_error(errors, "'10.244.3.10-10.244.3.20' overlaps the cluster range 10.244.0.0/16 (cluster.podCIDRs)"));
        CHECK(has_error(errors, "'10.100.0.0/24' overlaps the cluster range 10.96.0.0/12 (cluster.serviceCIDRs)"));
    }
    SUBCASE("the default pool is checked against declared cluster ranges too") {
        const auto errors = errors_of("cluster:\n  podCIDRs: [192.168.0.0/16]\n");
        REQUIRE(errors.size() == 1);
        CHECK(has_error(errors, "'192.168.1.240-192.168.1.250' overlaps the cluster range 192.168.0.0/16"));
    }
    SUBCASE("ports out of range, colliding, or the status port") {
        CHECK(has_error(errors_of("ingress:\n  ports:\n    https:\n      port: 70000\n"),
                        "ingress.ports.https.port: 70000 is out of range (1..65535)"));
        CHECK(has_error(errors_of("ingress:\n  ports:\n    http:\n      targetPort: -1\n"), "out of range"));
        CHECK(has_error(errors_of("ingress:\n  ports:\n    http: {port: 443}\n"), "same port 443"));
        CHECK(has_error(errors_of("ingress:\n  ports:\n    http: {targetPort: 15021}\n"), "status port"));
    }
    SUBCASE("8080/8443 target ports are accepted") {
        auto r = parse_spec("ingress:\n  ports:\n    http: {port: 80, targetPort: 8080}\n    https: {port: 443, targetPort: 8443}\n",
                            "lab.yaml");
        REQUIRE(r);
        CHECK(r->spec.ingress.http.target_port == 8080);
        CHECK(r->spec.ingress.https.target_port == 8443);
    }
    SUBCASE("names must be Kubernetes names") {
        CHECK(has_error(errors_of("name: My_Lab\n"), "name: 'My_Lab' is not a valid name"));
        CHECK(has_error(errors_of("injection:\n  namespaces: [Bad_NS]\n"), "not a valid namespace name"));
        CHECK(has_error(errors_of("injection:\n  namespaces: [kube-system]\n"), "must not be put in the mesh"));
        CHECK(has_error(errors_of("exposure:\n  hosts:\n    kiali: -bad-.example\n"), "not a valid host name"));
        CHECK(has_error(errors_of("exposure:\n  hosts:\n    kiali: a.lan\n    prometheus: a.lan\n"),
                        "host 'a.lan' is already used by"));
    }
    SUBCASE("chart versions must be pinned") {
        CHECK(has_error(errors_of("charts:\n  istio: latest\n"), "charts.istio: 'latest' is not a pinned chart version"));
        CHECK(has_error(errors_of("charts:\n  metallb: 0.15\n"), "not a pinned chart version"));
    }
    SUBCASE("unsupported apiVersion and kind") {
        CHECK(has_error(errors_of("apiVersion: meshproof.dev/v2\n"), "unsupported 'meshproof.dev/v2'"));
        CHECK(has_error(errors_of("kind: Cluster\n"), "expected 'Lab'"));
    }
    SUBCASE("chart values must be mappings") {
        CHECK(has_error(errors_of("istio:\n  values:\n    istiod: [1, 2]\n"), "istio.values.istiod: chart values must be a mapping"));
    }
}

TEST_CASE("warnings for risky but valid choices") {
    auto r = parse_spec(
        "istio:\n  mtls: permissive\naddons:\n  kiali:\n    auth: anonymous\nmetallb:\n  l2Advertisement:\n    enabled: false\n"
        "charts:\n  istio: 1.26.2\n",
        "lab.yaml");
    REQUIRE(r);
    CHECK(r->spec.istio.mtls == MtlsMode::Permissive);  // case-insensitive
    std::string fields;
    for (const auto& w : r->warnings) fields += w.field + ";";
    CHECK(fields.find("istio.mtls;") != std::string::npos);
    CHECK(fields.find("addons.kiali.auth;") != std::string::npos);
    CHECK(fields.find("metallb.l2Advertisement.enabled;") != std::string::npos);
    CHECK(fields.find("charts.istio;") != std::string::npos);
}

TEST_CASE("values overrides are kept as YAML text") {
    auto r = parse_spec("istio:\n  values:\n    istiod:\n      pilot:\n        resources:\n          requests: {cpu: 100m}\n",
                        "lab.yaml");
    REQUIRE(r);
    CHECK(r->spec.istio.istiod_values_yaml.find("cpu: 100m") != std::string::npos);
    CHECK(r->spec.istio.base_values_yaml.empty());
}

TEST_CASE("load_spec names the file it cannot read") {
    auto r = load_spec("/nonexistent/lab.yaml");
    REQUIRE_FALSE(r);
    REQUIRE(r.error().size() == 1);
    CHECK(r.error()[0].to_string() == "/nonexistent/lab.yaml: cannot read the file");
}

TEST_CASE("pool checked against ranges found on the cluster") {
    auto r = parse_spec("metallb:\n  pool:\n    addresses: [10.96.5.0/28, 172.18.255.200-172.18.255.250]\n", "lab.yaml");
    REQUIRE(r);
    const auto errors = check_pool_against_cluster(r->spec, {"10.244.0.0/24"}, {"10.96.0.0/12"});
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "metallb.pool.addresses[0]");
    CHECK(errors[0].message.find("overlaps the cluster's service range 10.96.0.0/12") != std::string::npos);
    CHECK(check_pool_against_cluster(r->spec, {"10.244.0.0/16"}, {}).empty());
}

TEST_CASE("edit distance and nearest key") {
    CHECK(edit_distance("metalb", "metallb") == 1);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("Mode", "mode") == 0);  // case-insensitive
    CHECK(nearest_key("adresses", {"name", "addresses"}) == "addresses");
    CHECK(nearest_key("completely", {"name", "addresses"}).empty());
}

TEST_CASE("IP ranges and CIDRs") {
    SUBCASE("CIDR bounds") {
        auto r = parse_cidr("10.0.0.5/30");
        REQUIRE(r);
        CHECK(format_ip(r->first) == "10.0.0.4");
        CHECK(format_ip(r->last) == "10.0.0.7");
    }
    SUBCASE("IPv6") {
        auto r = parse_ip_range("fd00::10-fd00::20");
        REQUIRE(r);
        CHECK(r->first.family == IpFamily::V6);
        auto c = parse_cidr("fd00::/120");
        REQUIRE(c);
        CHECK(format_ip(c->last) == "fd00::ff");
        CHECK(ranges_overlap(*r, *c));
    }
    SUBCASE("overlap edges") {
        auto a = parse_ip_range("10.0.0.0-10.0.0.10");
        auto b = parse_ip_range("10.0.0.10-10.0.0.20");
        auto c = parse_ip_range("10.0.0.11-10.0.0.20");
        REQUIRE(a);
        REQUIRE(b);
        REQUIRE(c);
        CHECK(ranges_overlap(*a, *b));
        CHECK_FALSE(ranges_overlap(*a, *c));
        auto v6 = parse_cidr("::/0");
        REQUIRE(v6);
        CHECK_FALSE(ranges_overlap(*a, *v6));  // different families never overlap
    }
    SUBCASE("garbage") {
        CHECK_FALSE(parse_ip("1.2.3"));
        CHECK_FALSE(parse_ip(std::string(100, '1')));
        CHECK_FALSE(parse_ip_range("a-b"));
        CHECK_FALSE(parse_ip_range(""));
        CHECK_FALSE(parse_cidr("10.0.0.0"));
    }
}

TEST_CASE("Istio lines: the version warning names the supported lines; the addons follow the line") {
    auto warning_of = [](const std::string& yaml) {
        auto r = parse_spec(yaml, "lab.yaml");
        REQUIRE(r);
        std::string all;
        for (const auto& w : r->warnings) {
            if (w.field == "charts.istio") all += w.message;
        }
        return all;
    };
    SUBCASE("the supported lines are quiet") {
        CHECK(warning_of("charts: {istio: 1.30.3}\n").empty());
        CHECK(warning_of("charts: {istio: 1.29.1}\n").empty());
    }
    SUBCASE("an out-of-support line says so and names the supported ones") {
        CHECK(warning_of("charts: {istio: 1.27.3}\n") ==
              "Istio 1.27 is out of upstream support (no more security fixes); supported lines: 1.29, 1.30");
        CHECK(warning_of("charts: {istio: 1.28.0}\n").find("supported lines: 1.29, 1.30") != std::string::npos);
    }
    SUBCASE("an unknown line names the supported ones") {
        CHECK(warning_of("charts: {istio: 1.31.0}\n") ==
              "Istio 1.31.0 is not a line meshproof knows; supported lines: 1.29, 1.30 (chart values may differ)");
        CHECK(warning_of("charts: {istio: 2.0.0}\n").find("not a line meshproof knows") != std::string::npos);
    }
    SUBCASE("Kiali and Prometheus follow the Istio line's samples/addons unless pinned") {
        auto r = parse_spec("charts: {istio: 1.27.3}\n", "lab.yaml");
        REQUIRE(r);
        CHECK(r->spec.charts.kiali == "2.12.0");       // istio-1.27.3/samples/addons/kiali.yaml
        CHECK(r->spec.charts.prometheus == "27.23.0");  // istio-1.27.3/samples/addons/prometheus.yaml
        r = parse_spec("charts: {istio: 1.27.3, kiali: 2.13.0}\n", "lab.yaml");
        REQUIRE(r);
        CHECK(r->spec.charts.kiali == "2.13.0");
        CHECK(r->spec.charts.prometheus == "27.23.0");
        r = parse_spec("charts: {istio: 1.29.1}\n", "lab.yaml");  // no samples record: the default pins
        REQUIRE(r);
        CHECK(r->spec.charts.kiali == "2.26.0");
    }
    SUBCASE("the table") {
        REQUIRE(istio_line("1.30.3") != nullptr);
        CHECK(istio_line("1.30.3")->k8s_min_minor == 32);
        CHECK(istio_line("1.30.3")->k8s_max_minor == 36);
        CHECK(istio_line("1.3.0") == nullptr);
        CHECK(istio_line("1.300.0") == nullptr);
        CHECK(istio_line("1.30x") == nullptr);
        CHECK(supported_istio_lines() == "1.29, 1.30");
    }
}
