// The mTLS mode Istio enforces on one workload port, composed from PeerAuthentications exactly as
// istiod does (pilot/pkg/security/authn: ComposePeerAuthentication):
//   mesh (root namespace, no selector) < namespace (no selector) < workload (selector matches the pod);
//   at each level the oldest policy wins (creationTimestamp, then name); UNSET inherits the level below;
//   the workload policy's portLevelMtls overrides for that container port (UNSET there inherits too);
//   nothing set at all means PERMISSIVE.
#pragma once

#include <cstdint>
#include <string>

#include "audit/k8s/cluster_snapshot.hpp"

namespace meshproof::audit::k8s {

enum class PolicyLevel : std::uint8_t { Default, Mesh, Namespace, Workload, WorkloadPort };
std::string_view to_string(PolicyLevel l);

struct EffectiveMtls {
    MtlsMode mode = MtlsMode::Permissive;  // never Unset
    PolicyLevel level = PolicyLevel::Default;
    std::string policy;                    // "NAMESPACE/NAME" of the deciding PeerAuthentication, "" for Default
    // "STRICT from payments/default (namespace)" / "PERMISSIVE (Istio default: no PeerAuthentication)"
    [[nodiscard]] std::string describe() const;
};

// `port` is the pod's (container) port, which is what portLevelMtls keys mean.
EffectiveMtls effective_mtls(const ClusterSnapshot& snapshot, const Pod& pod, std::uint16_t port);

}  // namespace meshproof::audit::k8s
