// The lab spec: what `meshproof up` installs, as a validated model. YAML stays inside spec.cpp;
// callers see only this model, the errors (file:line:column, field, message) and the warnings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace meshproof::provision {

enum class MeshMode : std::uint8_t { Sidecar, Ambient };
enum class MtlsMode : std::uint8_t { Permissive, Strict };
enum class ServiceType : std::uint8_t { LoadBalancer, NodePort, ClusterIP };
enum class KialiAuth : std::uint8_t { Anonymous, Token, OpenId, Header };

std::string_view to_string(MeshMode m);
std::string_view to_string(MtlsMode m);
std::string_view to_string(ServiceType t);
std::string_view to_string(KialiAuth a);

struct GatewayPort {
    std::string name;  // "http" or "https"
    int port = 0;         // the Service port clients connect to
    int target_port = 0;  // the gateway container port (80/443 with Istio >= 1.25 charts, 8080/8443 on older guides)
};

struct AddonSpec {
    bool enabled = false;
    std::string host;         // exposure host name, empty = not routed
    std::string values_yaml;  // user overrides merged over ours; empty = none
};

struct LabSpec {
    std::string source = "<built-in>";  // file the spec came from
    std::string name = "homelab";
    std::string kube_context;  // empty = the current context

    struct Charts {
        std::string istio;
        std::string metallb;
        std::string kiali;
        std::string prometheus;
        std::string grafana;
    } charts;

    struct Cluster {  // optional: lets validation catch pool overlaps before a cluster is reachable
        std::vector<std::string> pod_cidrs;
        std::vector<std::string> service_cidrs;
    } cluster;

    struct MetalLB {
        bool enabled = true;
        std::string pool_name = "meshproof-pool";
        std::vector<std::string> addresses;
        bool l2_advertisement = true;
        std::vector<std::string> interfaces;  // empty = every interface
        std::string values_yaml;
    } metallb;

    struct Istio {
        MeshMode mode = MeshMode::Sidecar;
        MtlsMode mtls = MtlsMode::Strict;
        std::string base_values_yaml;
        std::string istiod_values_yaml;
        std::string cni_values_yaml;
        std::string ztunnel_values_yaml;
    } istio;

    struct Ingress {
        std::string namespace_name = "istio-ingress";
        std::string release = "istio-ingress";
        ServiceType service_type = ServiceType::LoadBalancer;
        GatewayPort http{"http", 80, 80};
        GatewayPort https{"https", 443, 443};
        std::string values_yaml;
    } ingress;

    struct Addons {
        AddonSpec prometheus;
        AddonSpec kiali;
        KialiAuth kiali_auth = KialiAuth::Token;
        AddonSpec grafana;
    } addons;

    struct Exposure {
        bool enabled = true;
        bool tls = false;
        std::string tls_secret = "meshproof-ingress-tls";
    } exposure;

    std::vector<std::string> injection_namespaces;

    struct Demo {
        bool enabled = true;
        std::string namespace_name = "meshproof-demo";
        bool inject = true;
    } demo;

    // The in-cluster auditor (manifests/audit): DaemonSet `meshproof audit serve` + hourly CronJob.
    struct Auditor {
        bool enabled = false;
        std::string image = "ghcr.io/meshproof/meshproof:0.1.0";
        std::string schedule = "17 * * * *";  // cron; empty = DaemonSet only, no CronJob
        std::string pushgateway;              // http(s) URL the CronJob pushes to; empty = no push
    } auditor;

    int helm_timeout_seconds = 300;
};

struct SpecError {
    std::string file;
    int line = 0;    // 1-based; 0 when unknown
    int column = 0;  // 1-based
    std::string field;  // dotted path, e.g. "metallb.pool.addresses[0]"
    std::string message;

    // "lab.yaml:12:7: metallb.pool.addresses[0]: ..."
    [[nodiscard]] std::string to_string() const;
};

struct SpecWarning {
    std::string field;
    std::string message;
};

struct ParsedSpec {
    LabSpec spec;
    std::vector<SpecWarning> warnings;
};

// The built-in default: a commented lab.yaml that works as is (`meshproof init` writes it).
std::string_view default_spec_yaml();

// Parse and validate. `source_name` is what errors call the file.
tl::expected<ParsedSpec, std::vector<SpecError>> parse_spec(std::string_view yaml_text, std::string_view source_name);

// Reads the file (errors name it) or the built-in default when `path` is empty.
tl::expected<ParsedSpec, std::vector<SpecError>> load_spec(const std::string& path);

// Checks the MetalLB pool against cluster ranges discovered at preflight (node podCIDRs, ServiceCIDRs).
std::vector<SpecError> check_pool_against_cluster(const LabSpec& spec, const std::vector<std::string>& pod_cidrs,
                                                  const std::vector<std::string>& service_cidrs);

// An Istio minor line meshproof knows: upstream support, the Kubernetes versions it supports, and the
// addon charts its samples/addons were rendered from (empty = no record for that line).
struct IstioLine {
    int minor = 0;           // 1.<minor>
    bool supported = false;  // still patched upstream (Istio's policy: until 6 weeks after the N+2 release)
    int k8s_min_minor = 0;   // Kubernetes 1.<min> .. 1.<max>
    int k8s_max_minor = 0;
    std::string_view kiali;       // kiali-server chart of samples/addons/kiali.yaml
    std::string_view prometheus;  // prometheus-community/prometheus chart of samples/addons/prometheus.yaml
};
// The line of an Istio chart version ("1.30.3" -> 1.30), or nullptr when meshproof does not know it.
const IstioLine* istio_line(std::string_view version);
// "1.29, 1.30": the lines upstream still supports (the version warning names them).
std::string supported_istio_lines();

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a typo's reach, or empty.
std::string nearest_key(std::string_view key, const std::vector<std::string_view>& candidates);

}  // namespace meshproof::provision
