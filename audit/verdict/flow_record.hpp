// The finished account of one TCP flow: what reports, metrics, diffs and policy checks consume.
// Built by audit/verdict from the parsers' facts; knows nothing of how they were parsed.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/decode/packet.hpp"
#include "common/direction.hpp"
#include "common/heap_optional.hpp"

namespace meshproof::audit {

enum class Verdict : std::uint8_t {
    IstioMtls,
    Hbone,
    Mtls,
    Tls,
    PlaintextServed,
    PlaintextRejected,
    EncryptedUnknown,
    Unknown,
};
inline constexpr std::size_t kVerdictCount = 8;
inline constexpr std::array<Verdict, kVerdictCount> kAllVerdicts = {
    Verdict::IstioMtls, Verdict::Hbone, Verdict::Mtls, Verdict::Tls,
    Verdict::PlaintextServed, Verdict::PlaintextRejected, Verdict::EncryptedUnknown, Verdict::Unknown};

std::string_view to_string(Verdict v);
std::optional<Verdict> verdict_from_string(std::string_view s);
// Encrypted on the wire (the first four, plus encrypted-unknown).
bool is_encrypted(Verdict v);
bool is_plaintext(Verdict v);

struct CertSummary {
    std::string subject, issuer;
    std::vector<std::string> uri_sans, dns_sans;
    std::string not_before, not_after, key_type;
    std::string parse_error;  // non-empty when OpenSSL could not read it
    friend bool operator==(const CertSummary&, const CertSummary&) = default;
};

struct TlsSummary {
    std::optional<std::string> version;        // "1.3", "1.2", ... (negotiated; null without ServerHello)
    std::optional<std::string> client_version; // highest offered
    std::optional<std::string> sni;
    std::vector<std::string> alpn_offered;
    std::optional<std::string> alpn_chosen;    // null in TLS 1.3 (encrypted) or when absent
    std::optional<std::string> cipher;         // "0x1301" style or IANA name
    bool cert_request = false;
    std::optional<bool> client_cert;           // null = not visible (TLS 1.3, or handshake not captured)
    std::vector<std::string> spiffe_ids;       // from visible certificates (client first)
    bool resumed = false;
    bool hello_retry = false;
    bool ech = false;
    std::string ja3, ja4;
    std::optional<std::string> prelude;        // plaintext before TLS: "smtp-starttls", "postgresql-sslrequest", ...
    std::vector<CertSummary> server_certs, client_certs;
    std::vector<std::string> alerts;
    bool midstream_records_only = false;       // no hello seen, only TLS record headers
    // What a passive observer could see, in tshark's terms (truth.tsv): "yes", "no", "encrypted",
    // "unknown" (handshake not fully captured); client_cert_state adds "empty".
    std::string cert_request_state, client_cert_state;
    friend bool operator==(const TlsSummary&, const TlsSummary&) = default;
};

struct PlaintextSummary {
    std::string protocol;
    std::string first_line;                    // secrets already replaced
    std::optional<std::string> host;
    std::optional<int> status;
    friend bool operator==(const PlaintextSummary&, const PlaintextSummary&) = default;
};

struct SecretFinding {
    std::string kind;
    std::string location;
    Direction direction = Direction::ClientToServer;
    std::string value;                         // raw; printed only with --show-secrets
    friend bool operator==(const SecretFinding&, const SecretFinding&) = default;
};

// Kept per finished flow (for the sorted report) and per tracked flow whose verdict is final, so it is
// kept small: the TLS and plaintext summaries live on the heap only when present, client_basis points
// at a static literal, and the input name is shared by every flow of that input. The engine shares one
// copy of identical verdicts between tracked flows: a field decide() sets must also be compared in
// same_verdict() (audit/engine/engine.cpp).
struct FlowRecord {
    IpAddress client_ip, server_ip;
    std::uint16_t client_port = 0, server_port = 0;
    bool midstream = false;
    Verdict verdict = Verdict::Unknown;
    std::string_view client_basis;             // syn, synack, port, content (static literals)
    std::string protocol;                      // "tls", "http", "h2c", "grpc", "redis", ... or "unknown"
    std::vector<std::string> evidence;
    heap_optional<TlsSummary> tls;
    heap_optional<PlaintextSummary> plaintext;
    std::vector<SecretFinding> secrets;
    std::array<std::uint64_t, 2> packets{}, bytes{};   // per Direction, bytes = TCP payload on the wire
    double first_seen = 0, last_seen = 0;
    std::uint64_t duplicates = 0, retransmitted_bytes = 0;
    std::array<bool, 2> gap{};                 // a content gap stopped inspection in that direction
    bool closed_by_rst = false, closed_by_fin = false, evicted = false;
    Tunnel tunnel = Tunnel::None;
    std::uint32_t vlan_or_vni = 0;
    std::shared_ptr<const std::string> source; // which input (file name / interface); null if none
};

}  // namespace meshproof::audit
