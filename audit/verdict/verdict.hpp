// Policy: from the parsers' facts about one flow to a verdict with its evidence (Zeek's split:
// parsers emit facts, this module judges). Pure; the rules are documented in docs/architecture.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "audit/classify/tls_facts.hpp"
#include "audit/verdict/flow_record.hpp"
#include "common/byte_reader.hpp"

namespace meshproof::audit {

struct PlaintextFacts;

// Everything the judge may look at. Pointers are null when that parser never ran.
struct FlowObservations {
    std::uint16_t server_port = 0;
    bool syn_seen = false, synack_seen = false, midstream = false;
    bool client_fin = false, server_fin = false, client_rst = false, server_rst = false;
    std::array<std::uint64_t, 2> payload_bytes{};       // on the wire, per direction
    std::array<Bytes, 2> first_bytes{};                 // in-order prefix per direction (may be empty)
    std::array<bool, 2> payload_cut{};                  // bytes on the wire that we could not see (snaplen, gap)
    const TlsFacts* tls = nullptr;                      // TLS parser facts, if TLS was found
    bool tls_records_only = false;                      // midstream: TLS record headers but no hello
    std::optional<std::string> tls_prelude;             // plaintext upgrade before TLS (STARTTLS & co)
    const PlaintextFacts* plaintext = nullptr;          // plaintext classifier facts, if it ran
};

// Fills verdict, protocol, evidence, tls, plaintext and secrets of `out`.
void decide(const FlowObservations& obs, FlowRecord& out);

// Istio's wire signatures (BRIEF.md): ALPN values starting with "istio", SNI "outbound_.PORT_.SUBSET_.FQDN".
bool is_istio_alpn(std::string_view alpn);
bool is_istio_sni(std::string_view sni);
std::string cipher_name(std::uint16_t id);

}  // namespace meshproof::audit
