// What a passive observer can learn from a TLS handshake: the facts, no judgement.
// Produced by TlsParser (tls_parser.hpp), judged by audit/verdict.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace meshproof::audit {

struct TlsClientHello {
    std::uint16_t record_version = 0;       // record layer version of the first record
    std::uint16_t legacy_version = 0;       // ClientHello.legacy_version
    std::vector<std::uint16_t> supported_versions;  // GREASE removed
    std::optional<std::string> sni;
    std::vector<std::string> alpn;          // offered, in order
    std::vector<std::uint16_t> cipher_suites;       // GREASE removed
    std::vector<std::uint16_t> extensions;          // types in order, GREASE removed
    std::vector<std::uint16_t> groups;              // supported_groups, GREASE removed
    std::vector<std::uint8_t> ec_point_formats;
    std::vector<std::uint16_t> signature_algorithms;
    bool has_session_id = false;
    bool has_session_ticket = false;        // non-empty session_ticket extension
    bool offers_psk = false;                // pre_shared_key extension present
    bool ech = false;                       // encrypted_client_hello extension present
    std::string ja3;                        // md5 hex
    std::string ja3_string;                 // the string that was hashed
    std::string ja4;                        // e.g. t13d1516h2_8daaf6152771_b186095e22b6
    bool sslv2_format = false;              // an SSLv2-compatible CLIENT-HELLO
    bool has_sni_extension = false;         // server_name extension present (even without a host_name)
    bool has_alpn_extension = false;        // ALPN extension present (even with an empty list)
    std::vector<std::uint16_t> key_share_groups;    // key_share entries offered, GREASE removed
};

struct TlsServerHello {
    std::uint16_t record_version = 0;
    std::uint16_t legacy_version = 0;
    std::uint16_t version = 0;              // negotiated: supported_versions if present, else legacy
    std::uint16_t cipher_suite = 0;
    std::optional<std::string> alpn;        // visible only in TLS <= 1.2
    bool hello_retry_request = false;       // a HelloRetryRequest was seen (first ServerHello)
    bool session_id_echoed = false;         // TLS 1.2 resumption by session id
    bool psk_accepted = false;              // TLS 1.3 pre_shared_key in ServerHello
    bool sslv2_format = false;
    std::vector<std::uint16_t> extensions;  // types in order (of the last ServerHello parsed)
};

// One certificate as raw DER; audit/certs parses it with OpenSSL.
struct TlsCertificateDer {
    std::vector<std::uint8_t> der;
};

struct TlsAlert {
    bool from_client = false;
    std::uint8_t level = 0;
    std::uint8_t description = 0;
    bool encrypted = false;                 // after ChangeCipherSpec: level/description unreadable
};

struct TlsFacts {
    std::optional<TlsClientHello> client_hello;
    std::optional<TlsServerHello> server_hello;
    bool certificate_request = false;       // server sent CertificateRequest (visible, TLS <= 1.2)
    bool server_hello_done = false;
    std::optional<std::vector<TlsCertificateDer>> server_certificates;
    // Client Certificate message: nullopt = not seen; empty vector = empty Certificate (no cert).
    std::optional<std::vector<TlsCertificateDer>> client_certificates;
    bool client_ccs = false, server_ccs = false;
    bool new_session_ticket = false;        // TLS 1.2 NewSessionTicket
    bool encrypted_handshake = false;       // TLS 1.3: everything after ServerHello is encrypted
    std::vector<TlsAlert> alerts;
    std::uint64_t app_data_records_c2s = 0, app_data_records_s2c = 0;
    // Handshake is over for a passive observer: nothing more will become visible.
    bool handshake_visible_complete = false;
    // A second ClientHello (after a HelloRetryRequest) was parsed; client_hello keeps the first one.
    bool second_client_hello = false;
    // Certificates beyond TlsLimits::max_certificates were dropped (validated, not stored).
    std::uint32_t certificates_dropped = 0;
    // Records of other content types (heartbeat, or opaque SSLv2 records after the hellos).
    std::uint64_t other_records = 0;
};

// "1.3", "1.2", "1.1", "1.0", "ssl3", "ssl2", "1.3-draft-NN" (0x7fNN), "1.3-fb" (Facebook's 0xfbXX
// TLS 1.3 variants, e.g. fizz's 0xfb1a), anything else as "0x" + 4 hex digits.
std::string tls_version_name(std::uint16_t v);
// GREASE (RFC 8701): 0x0A0A, 0x1A1A, ... 0xFAFA; both bytes equal and their low nibble 0xA.
bool is_grease(std::uint16_t v);
// TLS 1.3 or a pre-standard TLS 1.3 variant (drafts 0x7fXX, Facebook 0xfbXX).
bool is_tls13_family(std::uint16_t v);

}  // namespace meshproof::audit
