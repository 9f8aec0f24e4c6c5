#include "audit/k8s/cluster_snapshot.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace meshproof::audit::k8s {

namespace {

// Read-only access: operator[] on a non-const yaml-cpp node would insert the key.
YAML::Node child(const YAML::Node& node, const char* key) {
    if (!node || !node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& cnode = node;
    return cnode[key];
}

std::string text(const YAML::Node& node, const char* key) {
    const YAML::Node c = child(node, key);
    return c && c.IsScalar() ? c.Scalar() : std::string();
}

bool flag(const YAML::Node& node, const char* key) { return text(node, key) == "true"; }

Labels string_map(const YAML::Node& node) {
    Labels out;
    if (!node || !node.IsMap()) return out;
    for (auto it = node.begin(); it != node.end(); ++it) {
        if (it->first.IsScalar() && it->second.IsScalar()) out[it->first.Scalar()] = it->second.Scalar();
    }
    return out;
}

std::optional<std::uint32_t> port_number(const YAML::Node& node) {
    if (!node || !node.IsScalar()) return std::nullopt;
    const std::string& s = node.Scalar();
    if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    const auto v = static_cast<std::uint32_t>(std::stoul(s));
    if (v == 0 || v > 65535) return std::nullopt;
    return v;
}

std::string where(const std::string& kind, const std::string& ns, const std::string& name) {
    return kind + " " + (ns.empty() ? name : ns + "/" + name);
}

void add_ip(std::vector<IpAddress>& out, const std::string& s, std::vector<std::string>& warnings,
            const std::string& item) {
    if (s.empty() || s == "None") return;
    if (auto ip = parse_ip(s)) {
        if (std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
    } else {
        warnings.push_back(item + ": '" + s + "' is not an IP address (ignored)");
    }
}

// Deployment pods are owned by a ReplicaSet named DEPLOYMENT-HASH, HASH being the pod-template-hash label.
std::string workload_name(const Pod& p) {
    if (p.owner_kind == "ReplicaSet") {
        const auto it = p.labels.find("pod-template-hash");
        const std::string suffix = it != p.labels.end() ? "-" + it->second : std::string();
        if (!suffix.empty() && p.owner_name.size() > suffix.size() &&
            p.owner_name.compare(p.owner_name.size() - suffix.size(), suffix.size(), suffix) == 0)
            return p.owner_name.substr(0, p.owner_name.size() - suffix.size());
        return p.owner_name;
    }
    return p.owner_name.empty() ? p.name : p.owner_name;
}

void collect_containers(const YAML::Node& list, std::vector<std::string>& names, std::vector<ContainerPort>& ports) {
    if (!list || !list.IsSequence()) return;
    for (const auto& c : list) {
        names.push_back(text(c, "name"));
        const YAML::Node plist = child(c, "ports");
        if (!plist || !plist.IsSequence()) continue;
        for (const auto& p : plist) {
            ContainerPort cp;
            cp.name = text(p, "name");
            const auto port = port_number(child(p, "containerPort"));
            if (!port) continue;
            cp.port = static_cast<std::uint16_t>(*port);
            if (auto hp = port_number(child(p, "hostPort"))) cp.host_port = static_cast<std::uint16_t>(*hp);
            const std::string proto = text(p, "protocol");
            if (!proto.empty()) cp.protocol = proto;
            ports.push_back(std::move(cp));
        }
    }
}

void parse_pod(const YAML::Node& item, ClusterSnapshot& out) {
    const YAML::Node meta = child(item, "metadata"), spec = child(item, "spec"), status = child(item, "status");
    Pod p;
    p.name = text(meta, "name");
    p.namespace_name = text(meta, "namespace");
    p.creation_timestamp = text(meta, "creationTimestamp");
    p.labels = string_map(child(meta, "labels"));
    p.annotations = string_map(child(meta, "annotations"));
    const YAML::Node owners = child(meta, "ownerReferences");
    if (owners && owners.IsSequence()) {
        for (const auto& o : owners) {
            if (flag(o, "controller") || owners.size() == 1) {
                p.owner_kind = text(o, "kind");
                p.owner_name = text(o, "name");
                break;
            }
        }
    }
    p.node_name = text(spec, "nodeName");
    const std::string sa = text(spec, "serviceAccountName");
    if (!sa.empty()) p.service_account = sa;
    p.host_network = flag(spec, "hostNetwork");
    collect_containers(child(spec, "containers"), p.containers, p.ports);
    collect_containers(child(spec, "initContainers"), p.init_containers, p.ports);
    p.phase = text(status, "phase");
    const std::string item_name = where("Pod", p.namespace_name, p.name);
    const YAML::Node ips = child(status, "podIPs");
    if (ips && ips.IsSequence()) {
        for (const auto& ip : ips) add_ip(p.pod_ips, text(ip, "ip"), out.warnings, item_name);
    }
    add_ip(p.pod_ips, text(status, "podIP"), out.warnings, item_name);
    std::vector<IpAddress> host;
    add_ip(host, text(status, "hostIP"), out.warnings, item_name);
    if (!host.empty()) p.host_ip = host.front();
    p.workload = workload_name(p);
    p.has_sidecar = has_istio_sidecar(p);
    if (p.name.empty() || p.namespace_name.empty()) {
        out.warnings.push_back("a Pod without metadata.name/namespace (ignored)");
        return;
    }
    out.pods.push_back(std::move(p));
}

void parse_service(const YAML::Node& item, ClusterSnapshot& out) {
    const YAML::Node meta = child(item, "metadata"), spec = child(item, "spec"), status = child(item, "status");
    Service s;
    s.name = text(meta, "name");
    s.namespace_name = text(meta, "namespace");
    s.type = text(spec, "type");
    const std::string item_name = where("Service", s.namespace_name, s.name);
    const YAML::Node ips = child(spec, "clusterIPs");
    if (ips && ips.IsSequence()) {
        for (const auto& ip : ips) {
            if (ip.IsScalar()) add_ip(s.cluster_ips, ip.Scalar(), out.warnings, item_name);
        }
    }
    add_ip(s.cluster_ips, text(spec, "clusterIP"), out.warnings, item_name);
    const YAML::Node ext = child(spec, "externalIPs");
    if (ext && ext.IsSequence()) {
        for (const auto& ip : ext) {
            if (ip.IsScalar()) add_ip(s.external_ips, ip.Scalar(), out.warnings, item_name);
        }
    }
    const YAML::Node ingress = child(child(status, "loadBalancer"), "ingress");
    if (ingress && ingress.IsSequence()) {
        for (const auto& in : ingress) add_ip(s.external_ips, text(in, "ip"), out.warnings, item_name);
    }
    const YAML::Node sel = child(spec, "selector");
    if (sel && sel.IsMap()) s.selector = string_map(sel);
    const YAML::Node ports = child(spec, "ports");
    if (ports && ports.IsSequence()) {
        for (const auto& p : ports) {
            ServicePort sp;
            sp.name = text(p, "name");
            const std::string proto = text(p, "protocol");
            if (!proto.empty()) sp.protocol = proto;
            const auto port = port_number(child(p, "port"));
            if (!port) {
                out.warnings.push_back(item_name + ": a port without a valid number (ignored)");
                continue;
            }
            sp.port = static_cast<std::uint16_t>(*port);
            const YAML::Node target = child(p, "targetPort");
            if (auto tp = port_number(target)) sp.target_port = static_cast<std::uint16_t>(*tp);
            else if (target && target.IsScalar() && !target.Scalar().empty()) sp.target_port_name = target.Scalar();
            else sp.target_port = sp.port;
            s.ports.push_back(std::move(sp));
        }
    }
    if (s.name.empty() || s.namespace_name.empty()) {
        out.warnings.push_back("a Service without metadata.name/namespace (ignored)");
        return;
    }
    out.services.push_back(std::move(s));
}

void parse_namespace(const YAML::Node& item, ClusterSnapshot& out) {
    const YAML::Node meta = child(item, "metadata");
    Namespace n{text(meta, "name"), string_map(child(meta, "labels"))};
    if (!n.name.empty()) out.namespaces.push_back(std::move(n));
}

void parse_node(const YAML::Node& item, ClusterSnapshot& out) {
    Node n;
    n.name = text(child(item, "metadata"), "name");
    const YAML::Node addrs = child(child(item, "status"), "addresses");
    if (addrs && addrs.IsSequence()) {
        for (const auto& a : addrs) {
            const std::string type = text(a, "type");
            if (type == "InternalIP" || type == "ExternalIP")
                add_ip(n.addresses, text(a, "address"), out.warnings, where("Node", "", n.name));
        }
    }
    if (!n.name.empty()) out.nodes.push_back(std::move(n));
}

void parse_peer_authentication(const YAML::Node& item, ClusterSnapshot& out) {
    const YAML::Node meta = child(item, "metadata"), spec = child(item, "spec");
    PeerAuthentication pa;
    pa.name = text(meta, "name");
    pa.namespace_name = text(meta, "namespace");
    pa.creation_timestamp = text(meta, "creationTimestamp");
    const std::string item_name = where("PeerAuthentication", pa.namespace_name, pa.name);
    const YAML::Node sel = child(spec, "selector");
    if (sel && sel.IsMap()) {
        // Istio treats a selector with no labels like no selector at all.
        Labels match = string_map(child(sel, "matchLabels"));
        if (!match.empty()) pa.selector = std::move(match);
    }
    const std::string mode = text(child(spec, "mtls"), "mode");
    if (auto m = mtls_mode_from_string(mode)) pa.mode = *m;
    else out.warnings.push_back(item_name + ": unknown mtls.mode '" + mode + "' (treated as UNSET)");
    const YAML::Node ports = child(spec, "portLevelMtls");
    if (ports && ports.IsMap()) {
        for (auto it = ports.begin(); it != ports.end(); ++it) {
            const auto port = port_number(it->first);
            if (!port) {
                out.warnings.push_back(item_name + ": portLevelMtls key '" + it->first.Scalar() + "' is not a port");
                continue;
            }
            const std::string pmode = text(it->second, "mode");
            const auto m = mtls_mode_from_string(pmode);
            if (!m) out.warnings.push_back(item_name + ": unknown portLevelMtls mode '" + pmode + "' (treated as UNSET)");
            pa.port_modes[*port] = m.value_or(MtlsMode::Unset);
        }
        // Istio ignores port-level settings of policies without a workload selector.
        if (!pa.selector && !pa.port_modes.empty()) {
            out.warnings.push_back(item_name + ": portLevelMtls without a selector is ignored by Istio");
            pa.port_modes.clear();
        }
    }
    if (pa.name.empty() || pa.namespace_name.empty()) return;
    out.peer_authentications.push_back(std::move(pa));
}

// The `istio` ConfigMap's `mesh` key is MeshConfig as YAML text: trustDomain and rootNamespace.
void parse_mesh_config(const YAML::Node& item, ClusterSnapshot& out) {
    if (text(child(item, "metadata"), "name") != "istio") return;
    const std::string mesh = text(child(item, "data"), "mesh");
    if (mesh.empty()) return;
    try {
        const YAML::Node cfg = YAML::Load(mesh);
        const std::string td = text(cfg, "trustDomain"), root = text(cfg, "rootNamespace");
        if (!td.empty()) out.trust_domain = td;
        if (!root.empty()) out.root_namespace = root;
    } catch (const YAML::Exception& e) {
        out.warnings.push_back("ConfigMap istio: unreadable mesh config (" + e.msg + ")");
    }
}

void parse_item(const YAML::Node& item, ClusterSnapshot& out) {
    if (!item || !item.IsMap()) return;
    const std::string kind = text(item, "kind");
    const YAML::Node items = child(item, "items");
    if (items && items.IsSequence()) {  // List, PodList, ServiceList, ...
        for (const auto& i : items) parse_item(i, out);
        return;
    }
    if (kind == "Pod") parse_pod(item, out);
    else if (kind == "Service") parse_service(item, out);
    else if (kind == "Namespace") parse_namespace(item, out);
    else if (kind == "Node") parse_node(item, out);
    else if (kind == "PeerAuthentication") parse_peer_authentication(item, out);
    else if (kind == "ConfigMap") parse_mesh_config(item, out);
}

}  // namespace

std::string_view to_string(MtlsMode m) {
    switch (m) {
        case MtlsMode::Unset: return "UNSET";
        case MtlsMode::Disable: return "DISABLE";
        case MtlsMode::Permissive: return "PERMISSIVE";
        case MtlsMode::Strict: return "STRICT";
    }
    return "UNSET";
}

std::optional<MtlsMode> mtls_mode_from_string(std::string_view s) {
    if (s.empty() || s == "UNSET") return MtlsMode::Unset;
    if (s == "DISABLE") return MtlsMode::Disable;
    if (s == "PERMISSIVE") return MtlsMode::Permissive;
    if (s == "STRICT") return MtlsMode::Strict;
    return std::nullopt;
}

const Namespace* ClusterSnapshot::find_namespace(std::string_view name) const {
    for (const auto& n : namespaces) {
        if (n.name == name) return &n;
    }
    return nullptr;
}

bool has_istio_sidecar(const Pod& pod) {
    if (pod.annotations.count("sidecar.istio.io/status")) return true;
    // Native sidecars (Kubernetes >= 1.28) put istio-proxy among the init containers.
    return std::find(pod.containers.begin(), pod.containers.end(), "istio-proxy") != pod.containers.end() ||
           std::find(pod.init_containers.begin(), pod.init_containers.end(), "istio-proxy") != pod.init_containers.end();
}

bool is_ambient(const Pod& pod, const Namespace* ns) {
    if (pod.has_sidecar || pod.host_network) return false;
    const auto it = pod.labels.find("istio.io/dataplane-mode");
    if (it != pod.labels.end()) return it->second == "ambient";
    if (!ns) return false;
    const auto nit = ns->labels.find("istio.io/dataplane-mode");
    return nit != ns->labels.end() && nit->second == "ambient";
}

bool labels_match(const Labels& selector, const Labels& labels) {
    for (const auto& [k, v] : selector) {
        const auto it = labels.find(k);
        if (it == labels.end() || it->second != v) return false;
    }
    return true;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
    if (text.empty() || text.size() > 45) return std::nullopt;
    const std::string s(text);
    IpAddress a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
        a.v6 = true;
        return a;
    }
    return std::nullopt;
}

tl::expected<ClusterSnapshot, std::string> parse_cluster_snapshot(std::string_view text_in, std::string_view source) {
    ClusterSnapshot out;
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(std::string(text_in));
    } catch (const YAML::Exception& e) {
        return tl::unexpected(std::string(source) + ":" + std::to_string(e.mark.line + 1) + ":" +
                              std::to_string(e.mark.column + 1) + ": not valid JSON/YAML: " + e.msg);
    }
    bool any = false;
    for (const auto& d : docs) {
        if (!d || d.IsNull()) continue;
        if (!d.IsMap()) {
            return tl::unexpected(std::string(source) + ":" + std::to_string(d.Mark().line + 1) +
                                  ": expected a Kubernetes object or List (kubectl get ... -o json)");
        }
        any = true;
        parse_item(d, out);
    }
    if (!any) return tl::unexpected(std::string(source) + ": empty snapshot");
    return out;
}

tl::expected<ClusterSnapshot, std::string> load_cluster_snapshot(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return tl::unexpected(path + ": cannot open the cluster snapshot");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return tl::unexpected(path + ": read error");
    return parse_cluster_snapshot(ss.str(), path);
}

}  // namespace meshproof::audit::k8s
