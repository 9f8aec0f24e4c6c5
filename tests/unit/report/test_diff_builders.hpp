// Synthetic FlowRecords for the diff and HTML report tests: what the engine would produce for the
// demo's pods before (plaintext with secrets) and after (Istio mTLS through sidecars).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/report/diff.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit::test {

inline IpAddress ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress ip;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
}

inline const IpAddress kFrontend = ip4(10, 244, 1, 10);
inline const IpAddress kBackend = ip4(10, 244, 2, 20);
inline const IpAddress kDb = ip4(10, 244, 3, 30);

// Never allowed in any redacted output.
inline const std::string kPlantedPassword = "planted-Passw0rd-XYZZY-4711";
inline const std::string kPlantedToken = "planted-bearer-token-0123456789abcdef";

inline EndpointNames demo_names() { return {{kFrontend, "frontend"}, {kBackend, "backend"}, {kDb, "db"}}; }

inline FlowRecord make_flow(const IpAddress& client, std::uint16_t client_port, const IpAddress& server,
                            std::uint16_t server_port, Verdict verdict, std::string protocol) {
    FlowRecord f;
    f.client_ip = client;
    f.server_ip = server;
    f.client_port = client_port;
    f.server_port = server_port;
    f.verdict = verdict;
    f.protocol = std::move(protocol);
    f.client_basis = "syn";
    f.packets = {6, 5};
    f.bytes = {400, 300};
    f.first_seen = 1767225600.25;
    f.last_seen = 1767225600.5;
    return f;
}

inline FlowRecord plaintext_http(std::uint16_t client_port) {
    FlowRecord f = make_flow(kFrontend, client_port, kBackend, 8080, Verdict::PlaintextServed, "http");
    f.evidence = {"HTTP/1.1 request in clear: POST /login", "HTTP/1.1 response in clear: 200"};
    // A careless parser could leak the value into these strings: the reports must scrub it.
    f.evidence.push_back("form body password=" + kPlantedPassword);
    f.plaintext = PlaintextSummary{"http", "POST /login?token=" + kPlantedToken + " HTTP/1.1", std::string("backend"), 200};
    f.secrets.push_back(SecretFinding{"authorization", "HTTP header Authorization (Bearer)", Direction::ClientToServer,
                                      "Bearer " + kPlantedToken});
    f.secrets.push_back(SecretFinding{"password", "form field password", Direction::ClientToServer, kPlantedPassword});
    f.secrets.push_back(SecretFinding{"token", "query parameter token", Direction::ClientToServer, kPlantedToken});
    return f;
}

inline FlowRecord plaintext_redis(std::uint16_t client_port) {
    FlowRecord f = make_flow(kBackend, client_port, kDb, 6379, Verdict::PlaintextServed, "redis");
    f.evidence = {"RESP command in clear: AUTH"};
    f.plaintext = PlaintextSummary{"redis", "AUTH <redacted>", std::nullopt, std::nullopt};
    f.secrets.push_back(SecretFinding{"redis-auth", "Redis AUTH", Direction::ClientToServer, "redis-" + kPlantedPassword});
    return f;
}

inline FlowRecord istio_mtls(const IpAddress& client, std::uint16_t client_port, const IpAddress& server,
                             std::uint16_t server_port, const std::string& service) {
    FlowRecord f = make_flow(client, client_port, server, server_port, Verdict::IstioMtls, "tls");
    TlsSummary t;
    t.version = "1.3";
    t.client_version = "1.3";
    t.sni = "outbound_." + std::to_string(server_port) + "_._." + service + ".demo.svc.cluster.local";
    t.cipher = "TLS_AES_256_GCM_SHA384";
    t.cert_request_state = "encrypted";
    t.client_cert_state = "encrypted";
    f.tls = t;
    f.evidence = {"SNI " + *t.sni + " has Istio's outbound_ form", "TLS 1.3 negotiated (certificates encrypted)"};
    return f;
}

// The demo's story: two HTTP flows and one Redis flow in clear before, the same pairs in mTLS after.
inline std::vector<FlowRecord> before_flows() { return {plaintext_http(40001), plaintext_http(40002), plaintext_redis(50001)}; }
inline std::vector<FlowRecord> after_flows() {
    return {istio_mtls(kFrontend, 41001, kBackend, 8080, "backend"), istio_mtls(kFrontend, 41002, kBackend, 8080, "backend"),
            istio_mtls(kBackend, 51001, kDb, 6379, "db")};
}

}  // namespace meshproof::audit::test
