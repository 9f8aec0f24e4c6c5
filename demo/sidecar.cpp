#include "demo/sidecar.hpp"

namespace meshproof::demo {

std::string istio_sni(std::uint16_t port, const std::string& service, const std::string& ns) {
    return "outbound_." + std::to_string(port) + "_._." + service + "." + ns + ".svc.cluster.local";
}

namespace {

void tls_options(std::string& out, const SidecarFiles& f) {
    out += "cert = " + f.cert + "\n";
    out += "key = " + f.key + "\n";
    out += "CAfile = " + f.ca + "\n";
    out += "verifyChain = yes\n";
    // Istio sidecars negotiate TLS 1.3 by default.
    out += "sslVersionMin = TLSv1.3\n";
    // Close at once when one side closes (default: wait up to 60 s for close_notify).
    out += "TIMEOUTclose = 0\n";
}

}  // namespace

std::string stunnel_config(const SidecarConfig& cfg) {
    std::string out;
    out += "; written by meshproof demo: a mutual-TLS sidecar\n";
    out += "foreground = yes\n";
    out += "pid =\n";
    out += "syslog = no\n";
    out += "output = " + cfg.log_path + "\n";
    for (std::size_t i = 0; i < cfg.inbound.size(); ++i) {
        const auto& in = cfg.inbound[i];
        out += "\n[inbound-" + std::to_string(in.port) + "]\n";
        out += "accept = " + in.listen_ip + ":" + std::to_string(in.port) + "\n";
        out += "connect = 127.0.0.1:" + std::to_string(in.port) + "\n";
        tls_options(out, cfg.files);
        out += "requireCert = yes\n";
    }
    for (const auto& o : cfg.outbound) {
        out += "\n[outbound-" + std::to_string(o.local_port) + "]\n";
        out += "client = yes\n";
        out += "accept = 127.0.0.1:" + std::to_string(o.local_port) + "\n";
        out += "connect = " + o.peer_ip + ":" + std::to_string(o.peer_port) + "\n";
        out += "sni = " + o.sni + "\n";
        tls_options(out, cfg.files);
    }
    return out;
}

}  // namespace meshproof::demo
