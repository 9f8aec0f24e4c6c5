// What an audit needs to know about a Kubernetes cluster: pods, services, namespaces, nodes,
// PeerAuthentications and the mesh's trust domain. Read from `kubectl get ... -o json` (or -o yaml)
// output, live or saved to a file, so audits of old captures work offline.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "audit/decode/packet.hpp"

namespace meshproof::audit::k8s {

using Labels = std::map<std::string, std::string, std::less<>>;

struct ContainerPort {
    std::string name;
    std::uint16_t port = 0;       // containerPort
    std::uint16_t host_port = 0;  // 0 when unset
    std::string protocol = "TCP";
};

struct Pod {
    std::string name, namespace_name, node_name;
    std::string service_account = "default";
    std::string phase;               // Running, Pending, Succeeded, Failed, Unknown
    std::string creation_timestamp;  // RFC 3339, sorts as text
    std::string owner_kind, owner_name;  // controller ownerReference, if any
    std::string workload;            // Deployment/StatefulSet/DaemonSet/... name, else the pod name
    Labels labels, annotations;
    std::vector<std::string> containers, init_containers;  // names
    std::vector<ContainerPort> ports;                       // of every container
    std::vector<IpAddress> pod_ips;
    std::optional<IpAddress> host_ip;
    bool host_network = false;
    bool has_sidecar = false;  // istio-proxy container (classic or native sidecar) or sidecar.istio.io/status
};

struct ServicePort {
    std::string name, protocol = "TCP";
    std::uint16_t port = 0;
    std::uint16_t target_port = 0;   // numeric targetPort (defaults to port)
    std::string target_port_name;    // named targetPort, resolved per pod
};

struct Service {
    std::string name, namespace_name, type;
    std::vector<IpAddress> cluster_ips;   // clusterIPs (none for headless/ExternalName)
    std::vector<IpAddress> external_ips;  // externalIPs and status.loadBalancer.ingress[].ip
    std::optional<Labels> selector;       // absent: endpoints managed by hand
    std::vector<ServicePort> ports;
};

struct Namespace {
    std::string name;
    Labels labels;
};

struct Node {
    std::string name;
    std::vector<IpAddress> addresses;  // InternalIP and ExternalIP
};

enum class MtlsMode : std::uint8_t { Unset, Disable, Permissive, Strict };
std::string_view to_string(MtlsMode m);
std::optional<MtlsMode> mtls_mode_from_string(std::string_view s);  // "STRICT", "" -> Unset, ...

struct PeerAuthentication {
    std::string name, namespace_name, creation_timestamp;
    std::optional<Labels> selector;      // spec.selector.matchLabels; absent = namespace/mesh-wide
    MtlsMode mode = MtlsMode::Unset;     // spec.mtls.mode
    std::map<std::uint32_t, MtlsMode> port_modes;  // spec.portLevelMtls (workload policies only)
};

struct ClusterSnapshot {
    std::vector<Pod> pods;
    std::vector<Service> services;
    std::vector<Namespace> namespaces;
    std::vector<Node> nodes;
    std::vector<PeerAuthentication> peer_authentications;
    std::string trust_domain = "cluster.local";  // from the `istio` ConfigMap when the snapshot has it
    std::string root_namespace = "istio-system";
    std::vector<std::string> warnings;           // items skipped or fields ignored, one line each

    [[nodiscard]] const Namespace* find_namespace(std::string_view name) const;
};

// Sidecar and ambient facts, as Istio decides them.
bool has_istio_sidecar(const Pod& pod);
// Ambient (ztunnel): istio.io/dataplane-mode=ambient on the pod or its namespace; a sidecar wins,
// and the pod label istio.io/dataplane-mode=none opts a pod out.
bool is_ambient(const Pod& pod, const Namespace* ns);
// True when every key/value of `selector` is among `labels` (an empty selector matches everything).
bool labels_match(const Labels& selector, const Labels& labels);

std::optional<IpAddress> parse_ip(std::string_view text);

// Parses `kubectl get ... -o json` (a List, a typed list such as PodList, or one object) or the same as
// YAML, several documents allowed. Unknown kinds are ignored; malformed items are skipped with a warning.
// `source` names the input in errors ("snapshot.json:LINE:COL: ...").
tl::expected<ClusterSnapshot, std::string> parse_cluster_snapshot(std::string_view text, std::string_view source);
tl::expected<ClusterSnapshot, std::string> load_cluster_snapshot(const std::string& path);

}  // namespace meshproof::audit::k8s
