// stunnel4 configurations that play Istio's sidecar: inbound, the pod's IP:PORT (the application
// port, as Istio keeps it on the wire) terminates mutual TLS and forwards to the app on 127.0.0.1;
// outbound, 127.0.0.1:15001 (Istio's outbound capture port) originates mutual TLS 1.3 to the peer
// with Istio's SNI. stunnel has no ALPN option, so Istio's ALPN list is not sent: the SNI alone is
// the Istio signature the auditor sees (the certificates are encrypted in TLS 1.3).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meshproof::demo {

inline constexpr std::uint16_t kOutboundPort = 15001;

// "outbound_.8080_._.backend.demo.svc.cluster.local"
std::string istio_sni(std::uint16_t port, const std::string& service, const std::string& ns);

struct SidecarFiles {
    std::string cert, key, ca;  // PEM paths
};

struct InboundRoute {
    std::string listen_ip;      // the pod IP
    std::uint16_t port = 0;     // application port, the same on the wire and on 127.0.0.1
};

struct OutboundRoute {
    std::uint16_t local_port = kOutboundPort;  // the app connects to 127.0.0.1:local_port
    std::string peer_ip;
    std::uint16_t peer_port = 0;
    std::string sni;
};

struct SidecarConfig {
    std::string log_path;
    SidecarFiles files;
    std::vector<InboundRoute> inbound;
    std::vector<OutboundRoute> outbound;
};

// The text of one stunnel.conf (foreground, no pid file, TLS 1.3 only, peers verified against the
// mesh CA, client certificates required inbound).
std::string stunnel_config(const SidecarConfig& cfg);

}  // namespace meshproof::demo
