#include "audit/k8s/peer_authentication.hpp"

namespace meshproof::audit::k8s {

namespace {

// Istio sorts same-level policies by creation time, then name: the first one wins.
bool older(const PeerAuthentication& a, const PeerAuthentication& b) {
    if (a.creation_timestamp != b.creation_timestamp) {
        // A missing timestamp (hand-written snapshot) sorts after any real one.
        if (a.creation_timestamp.empty()) return false;
        if (b.creation_timestamp.empty()) return true;
        return a.creation_timestamp < b.creation_timestamp;
    }
    return a.name < b.name;
}

void keep_oldest(const PeerAuthentication*& current, const PeerAuthentication& candidate) {
    if (!current || older(candidate, *current)) current = &candidate;
}

std::string ref(const PeerAuthentication& pa) { return pa.namespace_name + "/" + pa.name; }

}  // namespace

std::string_view to_string(PolicyLevel l) {
    switch (l) {
        case PolicyLevel::Default: return "default";
        case PolicyLevel::Mesh: return "mesh";
        case PolicyLevel::Namespace: return "namespace";
        case PolicyLevel::Workload: return "workload";
        case PolicyLevel::WorkloadPort: return "workload port";
    }
    return "default";
}

std::string EffectiveMtls::describe() const {
    if (level == PolicyLevel::Default) return std::string(to_string(mode)) + " (Istio default: no PeerAuthentication sets a mode)";
    return std::string(to_string(mode)) + " from " + policy + " (" + std::string(to_string(level)) + ")";
}

EffectiveMtls effective_mtls(const ClusterSnapshot& snapshot, const Pod& pod, std::uint16_t port) {
    const PeerAuthentication *mesh = nullptr, *ns = nullptr, *workload = nullptr;
    for (const auto& pa : snapshot.peer_authentications) {
        if (!pa.selector) {
            if (pa.namespace_name == snapshot.root_namespace) keep_oldest(mesh, pa);
            // In the root namespace itself the mesh policy is also the namespace policy.
            if (pa.namespace_name == pod.namespace_name) keep_oldest(ns, pa);
        } else if (pa.namespace_name == pod.namespace_name && labels_match(*pa.selector, pod.labels)) {
            keep_oldest(workload, pa);
        }
    }
    EffectiveMtls out;
    if (mesh && mesh->mode != MtlsMode::Unset) out = {mesh->mode, PolicyLevel::Mesh, ref(*mesh)};
    if (ns && ns->mode != MtlsMode::Unset && ns != mesh) out = {ns->mode, PolicyLevel::Namespace, ref(*ns)};
    if (!workload) return out;
    if (workload->mode != MtlsMode::Unset) out = {workload->mode, PolicyLevel::Workload, ref(*workload)};
    const auto it = workload->port_modes.find(port);
    if (it != workload->port_modes.end() && it->second != MtlsMode::Unset)
        out = {it->second, PolicyLevel::WorkloadPort, ref(*workload) + " port " + std::to_string(port)};
    return out;
}

}  // namespace meshproof::audit::k8s
