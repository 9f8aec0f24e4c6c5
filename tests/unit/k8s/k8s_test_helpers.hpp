// Shared by the k8s tests: the homelab snapshot (tests/data/k8s) and synthetic flows.
#pragma once

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "audit/k8s/cluster_snapshot.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit::k8s::testing {

inline std::string homelab_snapshot_path() { return std::string(MESHPROOF_SOURCE_DIR) + "/tests/data/k8s/homelab-snapshot.json"; }

inline ClusterSnapshot homelab_snapshot() {
    auto s = load_cluster_snapshot(homelab_snapshot_path());
    REQUIRE_MESSAGE(s.has_value(), (s ? std::string() : s.error()));
    return std::move(*s);
}

inline IpAddress ip(const char* text) {
    auto a = parse_ip(text);
    REQUIRE_MESSAGE(a.has_value(), text);
    return *a;
}

inline FlowRecord flow(const char* client, std::uint16_t client_port, const char* server, std::uint16_t server_port,
                       Verdict verdict, std::string protocol = "http") {
    FlowRecord f;
    f.client_ip = ip(client);
    f.server_ip = ip(server);
    f.client_port = client_port;
    f.server_port = server_port;
    f.verdict = verdict;
    f.protocol = std::move(protocol);
    f.first_seen = 1767225600.25;  // 2026-01-01T00:00:00.25Z
    return f;
}

inline const Pod& pod_named(const ClusterSnapshot& s, std::string_view ns, std::string_view prefix) {
    for (const auto& p : s.pods) {
        if (p.namespace_name == ns && p.name.rfind(prefix, 0) == 0) return p;
    }
    FAIL("no pod " << ns << "/" << prefix << "*");
    throw std::logic_error("unreachable");
}

}  // namespace meshproof::audit::k8s::testing
