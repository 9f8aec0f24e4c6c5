// X.509 certificate facts for evidence: names, SANs (SPIFFE URIs), validity, key type, fingerprint.
// Parsed with OpenSSL 3 from the DER that TlsParser extracted (TlsCertificateDer).
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "audit/classify/tls_facts.hpp"
#include "common/byte_reader.hpp"

namespace meshproof::audit {

struct CertificateInfo {
    std::string subject, issuer;  // RFC 2253 (most specific RDN first), "" for an empty name
    std::vector<std::string> uri_sans, dns_sans, ip_sans;
    std::string not_before, not_after;  // ISO 8601 UTC, e.g. 2024-01-31T23:59:59Z
    std::string key_type;               // "EC P-256", "RSA 2048", "Ed25519", ...
    bool self_signed = false;           // issuer == subject and the signature verifies with its own key
    std::string sha256_fingerprint;     // of the DER, upper-case hex pairs joined by ':' (as openssl x509 -fingerprint)
};

// One DER certificate; the error says what was wrong (empty, not DER X.509, trailing bytes, ...).
tl::expected<CertificateInfo, std::string> parse_certificate_der(Bytes der);

// Every certificate of a chain, in order; failures are kept in place.
std::vector<tl::expected<CertificateInfo, std::string>> parse_certificate_chain(
    const std::vector<TlsCertificateDer>& chain);

// URI SANs that are SPIFFE IDs (spiffe://trust-domain/path), in SAN order.
std::vector<std::string> spiffe_ids(const CertificateInfo& info);

}  // namespace meshproof::audit
