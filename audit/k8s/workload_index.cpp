#include "audit/k8s/workload_index.hpp"

#include <algorithm>

namespace meshproof::audit::k8s {

namespace {

bool terminated(const Pod& p) { return p.phase == "Succeeded" || p.phase == "Failed"; }

// When several pods claim an address (a finished pod keeps its IP in status), the running, newest one wins.
bool better_claim(const Pod& candidate, const Pod& current) {
    const bool cand_running = candidate.phase == "Running", cur_running = current.phase == "Running";
    if (cand_running != cur_running) return cand_running;
    if (terminated(candidate) != terminated(current)) return !terminated(candidate);
    return candidate.creation_timestamp > current.creation_timestamp;
}

bool pod_listens_on(const Pod& p, std::uint16_t port) {
    return std::any_of(p.ports.begin(), p.ports.end(),
                       [&](const ContainerPort& cp) { return cp.port == port || cp.host_port == port; });
}

const ServicePort* service_port(const Service& s, std::uint16_t port) {
    for (const auto& sp : s.ports) {
        if (sp.port == port && (sp.protocol.empty() || sp.protocol == "TCP")) return &sp;
    }
    return nullptr;
}

}  // namespace

WorkloadIndex::WorkloadIndex(ClusterSnapshot snapshot) : snapshot_(std::move(snapshot)) {
    for (const auto& n : snapshot_.nodes) {
        for (const auto& ip : n.addresses) node_by_ip_.emplace(ip, n.name);
    }
    for (const auto& p : snapshot_.pods) {
        if (p.host_ip && !p.node_name.empty()) node_by_ip_.emplace(*p.host_ip, p.node_name);
        for (const auto& ip : p.pod_ips) {
            if (p.host_network) {
                if (!terminated(p)) host_pods_by_ip_[ip].push_back(&p);
                if (!p.node_name.empty()) node_by_ip_.emplace(ip, p.node_name);
                continue;
            }
            auto [it, inserted] = pod_by_ip_.emplace(ip, &p);
            if (!inserted && better_claim(p, *it->second)) it->second = &p;
        }
    }
    for (const auto& s : snapshot_.services) {
        for (const auto& ip : s.cluster_ips) service_by_ip_.emplace(ip, &s);
        for (const auto& ip : s.external_ips) service_by_ip_.emplace(ip, &s);
    }
}

bool WorkloadIndex::is_node_address(const IpAddress& ip) const { return node_by_ip_.count(ip) != 0; }

bool WorkloadIndex::meshed(const Pod& pod) const {
    return pod.has_sidecar || is_ambient(pod, snapshot_.find_namespace(pod.namespace_name));
}

std::optional<std::uint16_t> WorkloadIndex::target_port(const ServicePort& sp, const Pod& pod) const {
    if (sp.target_port_name.empty()) return sp.target_port;
    for (const auto& cp : pod.ports) {
        if (cp.name == sp.target_port_name) return cp.port;
    }
    return std::nullopt;
}

const Service* WorkloadIndex::service_for(const Pod& pod, std::uint16_t pod_port) const {
    for (const auto& s : snapshot_.services) {
        if (s.namespace_name != pod.namespace_name || !s.selector || s.selector->empty()) continue;
        if (!labels_match(*s.selector, pod.labels)) continue;
        for (const auto& sp : s.ports) {
            if (target_port(sp, pod) == pod_port) return &s;
        }
    }
    return nullptr;
}

ResolvedEndpoint WorkloadIndex::resolve(const IpAddress& ip, std::uint16_t port) const {
    ResolvedEndpoint e;
    if (const auto it = pod_by_ip_.find(ip); it != pod_by_ip_.end()) {
        e.kind = ResolvedEndpoint::Kind::Pod;
        e.pod = it->second;
        e.pod_port = port;
        e.node = e.pod->node_name;
        e.service = service_for(*e.pod, port);
        return e;
    }
    if (const auto it = service_by_ip_.find(ip); it != service_by_ip_.end()) {
        const Service& s = *it->second;
        e.kind = ResolvedEndpoint::Kind::Service;
        e.service = &s;
        e.pod_port = port;
        if (s.selector && !s.selector->empty()) {
            for (const auto& p : snapshot_.pods) {
                if (p.namespace_name == s.namespace_name && !terminated(p) && labels_match(*s.selector, p.labels))
                    e.backends.push_back(&p);
            }
            std::stable_sort(e.backends.begin(), e.backends.end(), [](const Pod* a, const Pod* b) {
                return (a->phase == "Running") > (b->phase == "Running");
            });
        }
        if (const ServicePort* sp = service_port(s, port)) {
            if (!e.backends.empty()) {
                if (auto tp = target_port(*sp, *e.backends.front())) e.pod_port = *tp;
            } else if (sp->target_port != 0) {
                e.pod_port = sp->target_port;
            }
        }
        return e;
    }
    if (const auto it = host_pods_by_ip_.find(ip); it != host_pods_by_ip_.end()) {
        for (const Pod* p : it->second) {
            if (pod_listens_on(*p, port)) {
                e.kind = ResolvedEndpoint::Kind::Pod;
                e.pod = p;
                e.pod_port = port;
                e.node = p->node_name;
                e.service = service_for(*p, port);
                return e;
            }
        }
    }
    if (const auto it = node_by_ip_.find(ip); it != node_by_ip_.end()) {
        e.kind = ResolvedEndpoint::Kind::Node;
        e.node = it->second;
        e.pod_port = port;
    }
    return e;
}

std::optional<WorkloadInfo> WorkloadIndex::describe(const ResolvedEndpoint& e) const {
    WorkloadInfo w;
    switch (e.kind) {
        case ResolvedEndpoint::Kind::Unknown: return std::nullopt;
        case ResolvedEndpoint::Kind::Node:
            w.kind = "node";
            w.node = e.node;
            w.host_network = true;
            return w;
        case ResolvedEndpoint::Kind::Pod: {
            const Pod& p = *e.pod;
            w.kind = "pod";
            w.namespace_name = p.namespace_name;
            w.pod = p.name;
            w.workload = p.workload;
            w.service_account = p.service_account;
            w.node = p.node_name;
            if (e.service) w.service = e.service->name;
            w.sidecar_injected = p.has_sidecar;
            w.ambient = is_ambient(p, snapshot_.find_namespace(p.namespace_name));
            w.host_network = p.host_network;
            return w;
        }
        case ResolvedEndpoint::Kind::Service: {
            w.kind = "service";
            w.namespace_name = e.service->namespace_name;
            w.service = e.service->name;
            if (!e.backends.empty()) {
                const Namespace* ns = snapshot_.find_namespace(w.namespace_name);
                w.sidecar_injected = std::all_of(e.backends.begin(), e.backends.end(),
                                                 [](const Pod* p) { return p->has_sidecar; });
                w.ambient = std::all_of(e.backends.begin(), e.backends.end(),
                                        [&](const Pod* p) { return is_ambient(*p, ns); });
                const Pod& first = *e.backends.front();
                const auto same = [&](auto field) {
                    return std::all_of(e.backends.begin(), e.backends.end(),
                                       [&](const Pod* p) { return p->*field == first.*field; });
                };
                if (same(&Pod::workload)) w.workload = first.workload;
                if (same(&Pod::service_account)) w.service_account = first.service_account;
            }
            return w;
        }
    }
    return std::nullopt;
}

FlowWorkloads WorkloadIndex::enrich(const FlowRecord& flow) const {
    FlowWorkloads out;
    out.client = describe(resolve(flow.client_ip, flow.client_port));
    out.server = describe(resolve(flow.server_ip, flow.server_port));
    return out;
}

void write_workload(JsonWriter& w, const WorkloadInfo& info) {
    const auto opt = [](const std::string& s) { return s.empty() ? std::optional<std::string>() : s; };
    w.begin_object();
    w.field("kind", info.kind);
    w.field("namespace", opt(info.namespace_name));
    w.field("pod", opt(info.pod));
    w.field("workload", opt(info.workload));
    w.field("service_account", opt(info.service_account));
    w.field("node", opt(info.node));
    w.field("service", opt(info.service));
    w.field("sidecar_injected", info.sidecar_injected);
    w.field("ambient", info.ambient);
    w.field("host_network", info.host_network);
    w.end_object();
}

void add_workload_json(JsonWriter& w, const FlowWorkloads& workloads) {
    w.key("src_workload");
    if (workloads.client) write_workload(w, *workloads.client);
    else w.null();
    w.key("dst_workload");
    if (workloads.server) write_workload(w, *workloads.server);
    else w.null();
}

std::string workload_label(const std::optional<WorkloadInfo>& info) {
    if (!info) return "?";
    const WorkloadInfo& w = *info;
    if (w.kind == "node") return "node/" + w.node;
    std::string s = w.namespace_name + "/";
    if (w.kind == "service") s += "svc/" + w.service;
    else s += w.workload.empty() ? w.pod : w.workload;
    if (w.sidecar_injected) s += " (sidecar)";
    else if (w.ambient) s += " (ambient)";
    else if (w.host_network) s += " (hostNetwork)";
    return s;
}

std::string_view namespace_label(const std::optional<WorkloadInfo>& info) {
    if (!info) return "_external";
    if (info->kind == "node") return "_node";
    return info->namespace_name;
}

std::string with_workloads(std::string flow_json, const FlowWorkloads& workloads) {
    JsonWriter w;
    w.begin_object();
    add_workload_json(w, workloads);
    w.end_object();
    const std::string& extra = w.str();  // {"src_workload":...,"dst_workload":...}
    const auto close = flow_json.rfind('}');
    if (close == std::string::npos || extra.size() < 2) return flow_json;
    const bool empty_object = flow_json.find_last_not_of(" \t\r\n", close - 1) == flow_json.find('{');
    flow_json.insert(close, (empty_object ? "" : ",") + extra.substr(1, extra.size() - 2));
    return flow_json;
}

}  // namespace meshproof::audit::k8s
