// The TLS 1.3 handshake messages that travel encrypted (RFC 8446 4.3-4.4): EncryptedExtensions,
// CertificateRequest, Certificate, CertificateVerify, Finished. Pure parsers over decrypted bytes
// (audit/keylog decrypts them with a key log), and a reassembler that turns one direction's
// decrypted handshake records into these facts. No crypto here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/classify/tls_facts.hpp"
#include "common/byte_reader.hpp"
#include "common/parse_outcome.hpp"

namespace meshproof::audit {

// What the encrypted part of a TLS 1.3 handshake says, once decrypted. nullopt/false = not seen.
struct Tls13EncryptedHandshake {
    bool encrypted_extensions = false;
    std::optional<std::string> alpn;                // the server's chosen ALPN (EncryptedExtensions)
    bool early_data_accepted = false;               // early_data in EncryptedExtensions
    bool certificate_request = false;
    std::optional<std::vector<TlsCertificateDer>> server_certificates;
    // nullopt = no client Certificate message; empty = an empty one (asked, declined).
    std::optional<std::vector<TlsCertificateDer>> client_certificates;
    std::optional<std::uint16_t> server_signature_scheme, client_signature_scheme;  // CertificateVerify
    bool server_finished = false, client_finished = false;
    // A CompressedCertificate (RFC 8879): a chain was sent, its certificates are not read here.
    bool server_certificate_compressed = false, client_certificate_compressed = false;
    std::uint32_t certificates_dropped = 0;         // beyond max_certificates
    std::vector<TlsAlert> alerts;                   // alerts sent under the handshake keys (now readable)
};

// Message bodies (without the 4-byte handshake header).
ParseOutcome parse_encrypted_extensions(Bytes body, Tls13EncryptedHandshake& out);
ParseOutcome parse_tls13_certificate_request(Bytes body);
// certificate_request_context<0..255>, CertificateEntry{cert_data<1..2^24-1>, extensions<0..2^16-1>} list.
ParseOutcome parse_tls13_certificate(Bytes body, std::size_t max_certificates, std::vector<TlsCertificateDer>& certs,
                                     std::uint32_t& dropped);
ParseOutcome parse_certificate_verify(Bytes body, std::uint16_t& scheme);

// Reassembles the decrypted handshake records of one direction (handshake messages may span
// records, several may share one) until that side's Finished; bounded by max_message.
class Tls13HandshakeReader {
public:
    Tls13HandshakeReader(bool from_client, std::size_t max_message, std::size_t max_certificates)
        : from_client_(from_client), max_message_(max_message), max_certificates_(max_certificates) {}

    // The content of one decrypted record of type handshake (22). Ok / NeedMore (a message continues in
    // the next record) / Malformed (impossible message, or bytes after Finished) / TooLarge.
    ParseOutcome on_record(Bytes content, Tls13EncryptedHandshake& out);
    [[nodiscard]] bool finished() const { return finished_; }
    [[nodiscard]] std::size_t buffered() const { return pending_.size(); }

private:
    ParseOutcome on_message(std::uint8_t type, Bytes body, Tls13EncryptedHandshake& out);
    bool from_client_;
    std::size_t max_message_;
    std::size_t max_certificates_;
    std::vector<std::uint8_t> pending_;
    bool finished_ = false;
};

}  // namespace meshproof::audit
