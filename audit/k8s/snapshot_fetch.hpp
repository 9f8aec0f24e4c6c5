// A cluster snapshot taken live with kubectl, through the provisioner's Runner (argv only, timeouts,
// a recording fake in tests). The raw JSON is kept so an evidence bundle can carry exactly what was read.
#pragma once

#include <chrono>
#include <string>

#include <tl/expected.hpp>

#include "audit/k8s/cluster_snapshot.hpp"
#include "provision/runner.hpp"

namespace meshproof::audit::k8s {

struct FetchOptions {
    std::string kubectl = "kubectl";
    std::string context;  // --context, when not empty
    std::chrono::milliseconds timeout{60'000};
};

struct FetchedSnapshot {
    std::string json;          // kubectl's output, as read
    ClusterSnapshot snapshot;
};

// The kubectl argv used (tests and dry runs show it).
std::vector<std::string> snapshot_command(const FetchOptions& opt, bool with_peer_authentications);

// `kubectl get pods,services,namespaces,nodes,peerauthentications.security.istio.io -A -o json`; when
// Istio's CRD is missing (no mesh installed yet) it retries without PeerAuthentications and says so
// in snapshot.warnings.
tl::expected<FetchedSnapshot, std::string> fetch_cluster_snapshot(provision::Runner& runner, const FetchOptions& opt);

}  // namespace meshproof::audit::k8s
