// Flow addresses -> Kubernetes workloads: pod IPs (podIP/podIPs) to pods, node IPs to nodes (and to a
// hostNetwork pod when its container port matches), service ClusterIPs and load-balancer IPs to
// services and their backing pods. Built once per audit; lookups are map searches.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "audit/k8s/cluster_snapshot.hpp"
#include "audit/verdict/flow_record.hpp"
#include "common/json_writer.hpp"

namespace meshproof::audit::k8s {

// What reports say about one side of a flow.
struct WorkloadInfo {
    std::string kind;            // "pod", "service" (a ClusterIP/LB address) or "node"
    std::string namespace_name;  // empty for nodes
    std::string pod;             // empty for services and plain node addresses
    std::string workload;        // Deployment/StatefulSet/DaemonSet name (or the pod name)
    std::string service_account;
    std::string node;
    std::string service;         // the service addressed, or the one selecting the pod on that port
    bool sidecar_injected = false;  // for services: every backing pod has a sidecar
    bool ambient = false;           // for services: every backing pod is ambient
    bool host_network = false;
    [[nodiscard]] bool meshed() const { return sidecar_injected || ambient; }
};

struct FlowWorkloads {
    std::optional<WorkloadInfo> client, server;
};

// One side of a flow resolved against the snapshot, with pointers for policy checks.
struct ResolvedEndpoint {
    enum class Kind : std::uint8_t { Unknown, Pod, Service, Node } kind = Kind::Unknown;
    const Pod* pod = nullptr;              // Kind::Pod (a hostNetwork pod only when a port matched)
    const Service* service = nullptr;      // Kind::Service, or the service selecting the pod on `port`
    std::vector<const Pod*> backends;      // Kind::Service: the pods its selector picks (running first)
    std::uint16_t pod_port = 0;            // the port on the pod(s): a service port mapped to its targetPort
    std::string node;                      // node name for Kind::Node (and the pod's node)
};

class WorkloadIndex {
public:
    explicit WorkloadIndex(ClusterSnapshot snapshot);
    WorkloadIndex(const WorkloadIndex&) = delete;
    WorkloadIndex& operator=(const WorkloadIndex&) = delete;

    [[nodiscard]] const ClusterSnapshot& snapshot() const { return snapshot_; }

    // `port` is the flow's port on that side (server port for servers; for clients it only matters for
    // hostNetwork pods, which share the node's address).
    [[nodiscard]] ResolvedEndpoint resolve(const IpAddress& ip, std::uint16_t port) const;
    [[nodiscard]] std::optional<WorkloadInfo> describe(const ResolvedEndpoint& e) const;
    [[nodiscard]] FlowWorkloads enrich(const FlowRecord& flow) const;

    [[nodiscard]] bool is_node_address(const IpAddress& ip) const;
    [[nodiscard]] bool meshed(const Pod& pod) const;
    // The service in the pod's namespace whose selector picks it and exposes `pod_port`.
    [[nodiscard]] const Service* service_for(const Pod& pod, std::uint16_t pod_port) const;
    // The pod port a service port reaches on one pod (named targetPorts resolved by container port name).
    [[nodiscard]] std::optional<std::uint16_t> target_port(const ServicePort& sp, const Pod& pod) const;

private:
    ClusterSnapshot snapshot_;
    std::map<IpAddress, const Pod*> pod_by_ip_;                  // non-hostNetwork pods
    std::map<IpAddress, std::string> node_by_ip_;
    std::map<IpAddress, std::vector<const Pod*>> host_pods_by_ip_;  // hostNetwork pods per node address
    std::map<IpAddress, const Service*> service_by_ip_;
};

// Writes "src_workload" and "dst_workload" (objects, or null when unknown) into an open JSON object.
void add_workload_json(JsonWriter& w, const FlowWorkloads& workloads);
void write_workload(JsonWriter& w, const WorkloadInfo& info);  // the object alone
// "demo/httpbin-7d9c (sa httpbin, sidecar)" style, for text reports; "?" when unknown.
std::string workload_label(const std::optional<WorkloadInfo>& info);

// Metric label value for one side (src_namespace/dst_namespace): the namespace, "_node" for node
// addresses, "_external" when unknown. Namespace names cannot start with '_', so these never collide,
// and cardinality stays bounded by the cluster's namespaces.
std::string_view namespace_label(const std::optional<WorkloadInfo>& info);

// A flow's JSON line (from audit::flow_to_json: one object) with src_workload/dst_workload added
// before its closing brace.
std::string with_workloads(std::string flow_json, const FlowWorkloads& workloads);

}  // namespace meshproof::audit::k8s
