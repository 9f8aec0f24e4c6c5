// parse_certificate_der on certificates made here with OpenSSL: an Istio-style workload certificate
// (EC P-256, empty subject, only a SPIFFE URI SAN, signed by a CA) and a self-signed RSA server
// certificate with DNS and IP SANs; then garbage, truncated and padded DER.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/certs/certificate_info.hpp"
#include "common/hash.hpp"

using namespace meshproof;
using namespace meshproof::audit;

namespace {

struct KeyDeleter {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
    void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;

Key ec_p256_key() { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }
Key rsa_key(std::size_t bits) { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits)); }

void add_name_entry(X509_NAME* name, const char* field, const char* value) {
    REQUIRE(X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC, reinterpret_cast<const unsigned char*>(value), -1,
                                       -1, 0) == 1);
}

struct CertSpec {
    std::vector<std::pair<const char*, const char*>> subject;  // in insertion (ASN.1) order
    std::vector<std::pair<const char*, const char*>> issuer;
    std::string san;  // openssl config syntax, e.g. "URI:spiffe://..., DNS:a.example"
    const char* not_before = "20240101000000Z";
    const char* not_after = "20240102000000Z";
};

std::vector<std::uint8_t> make_cert(const CertSpec& spec, EVP_PKEY* subject_key, EVP_PKEY* signing_key) {
    Cert cert(X509_new());
    REQUIRE(cert);
    REQUIRE(X509_set_version(cert.get(), 2) == 1);
    REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4242) == 1);
    REQUIRE(ASN1_TIME_set_string(X509_getm_notBefore(cert.get()), spec.not_before) == 1);
    REQUIRE(ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), spec.not_after) == 1);
    for (const auto& [f, v] : spec.subject) add_name_entry(X509_get_subject_name(cert.get()), f, v);
    for (const auto& [f, v] : spec.issuer) add_name_entry(X509_get_issuer_name(cert.get()), f, v);
    REQUIRE(X509_set_pubkey(cert.get(), subject_key) == 1);
    if (!spec.san.empty()) {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, spec.san.c_str());
        REQUIRE(ext != nullptr);
        REQUIRE(X509_add_ext(cert.get(), ext, -1) == 1);
        X509_EXTENSION_free(ext);
    }
    REQUIRE(X509_sign(cert.get(), signing_key, EVP_sha256()) > 0);
    const int len = i2d_X509(cert.get(), nullptr);
    REQUIRE(len > 0);
    std::vector<std::uint8_t> der(static_cast<std::size_t>(len));
    unsigned char* out = der.data();
    REQUIRE(i2d_X509(cert.get(), &out) == len);
    return der;
}

std::string colon_hex_upper(const Sha256Digest& d) {
    static constexpr char kDigits[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (i > 0) out.push_back(':');
        out.push_back(kDigits[d[i] >> 4]);
        out.push_back(kDigits[d[i] & 0x0f]);
    }
    return out;
}

}  // namespace

TEST_CASE("Istio-style workload certificate: EC P-256, empty subject, SPIFFE URI SAN only") {
    const Key ca = ec_p256_key();
    const Key workload = ec_p256_key();
    REQUIRE(ca);
    REQUIRE(workload);
    CertSpec spec;
    spec.issuer = {{"O", "cluster.local"}};
    spec.san = "critical,URI:spiffe://cluster.local/ns/demo/sa/client";
    spec.not_before = "20250301120000Z";
    spec.not_after = "20250302120000Z";
    const auto der = make_cert(spec, workload.get(), ca.get());

    const auto info = parse_certificate_der(der);
    REQUIRE(info.has_value());
    CHECK(info->subject.empty());
    CHECK(info->issuer == "O=cluster.local");
    CHECK(info->uri_sans == std::vector<std::string>{"spiffe://cluster.local/ns/demo/sa/client"});
    CHECK(info->dns_sans.empty());
    CHECK(info->ip_sans.empty());
    CHECK(info->not_before == "2025-03-01T12:00:00Z");
    CHECK(info->not_after == "2025-03-02T12:00:00Z");
    CHECK(info->key_type == "EC P-256");
    CHECK_FALSE(info->self_signed);
    // OpenSSL's X509_digest against our own SHA-256 of the same DER.
    CHECK(info->sha256_fingerprint == colon_hex_upper(sha256(Bytes(der))));
    CHECK(spiffe_ids(*info) == std::vector<std::string>{"spiffe://cluster.local/ns/demo/sa/client"});
}

TEST_CASE("self-signed RSA server certificate with DNS and IP SANs") {
    const Key key = rsa_key(2048);
    REQUIRE(key);
    CertSpec spec;
    spec.subject = {{"O", "Example"}, {"CN", "web.example"}};
    spec.issuer = spec.subject;
    spec.san = "DNS:web.example, DNS:*.web.example, IP:10.0.0.1, IP:2001:db8::1, URI:https://web.example/";
    spec.not_after = "20491231235959Z";
    const auto der = make_cert(spec, key.get(), key.get());
    const auto info = parse_certificate_der(der);
    REQUIRE(info.has_value());
    CHECK(info->subject == "CN=web.example,O=Example");  // RFC 2253: most specific first
    CHECK(info->issuer == info->subject);
    CHECK(info->dns_sans == std::vector<std::string>{"web.example", "*.web.example"});
    CHECK(info->ip_sans == std::vector<std::string>{"10.0.0.1", "2001:db8::1"});
    CHECK(info->uri_sans == std::vector<std::string>{"https://web.example/"});
    CHECK(spiffe_ids(*info).empty());
    CHECK(info->key_type == "RSA 2048");
    CHECK(info->self_signed);
    CHECK(info->not_before == "2024-01-01T00:00:00Z");
    CHECK(info->not_after == "2049-12-31T23:59:59Z");

    SUBCASE("same names but signed by another key is not self-signed") {
        const Key other = ec_p256_key();
        const auto info2 = parse_certificate_der(make_cert(spec, key.get(), other.get()));
        REQUIRE(info2.has_value());
        CHECK_FALSE(info2->self_signed);
    }
    SUBCASE("truncated at every length: a clear error, never a crash") {
        for (std::size_t n = 0; n < der.size(); ++n) {
            const auto r = parse_certificate_der(Bytes(der).first(n));
            REQUIRE_FALSE(r.has_value());
            CHECK_FALSE(r.error().empty());
        }
    }
    SUBCASE("trailing bytes") {
        auto padded = der;
        padded.push_back(0);
        padded.push_back(0);
        const auto r = parse_certificate_der(padded);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().find("trailing") != std::string::npos);
    }
    SUBCASE("a chain keeps failures in place") {
        const std::vector<TlsCertificateDer> chain = {{der}, {{0x30, 0x03, 0x02, 0x01, 0x01}}, {der}};
        const auto parsed = parse_certificate_chain(chain);
        REQUIRE(parsed.size() == 3);
        CHECK(parsed[0].has_value());
        CHECK_FALSE(parsed[1].has_value());
        CHECK(parsed[2].has_value());
    }
}

TEST_CASE("garbage is a clear error") {
    SUBCASE("empty") {
        const auto r = parse_certificate_der({});
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == "empty certificate");
    }
    SUBCASE("text") {
        const std::string text = "-----BEGIN CERTIFICATE-----";
        const auto r = parse_certificate_der(Bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().rfind("not a DER X.509 certificate", 0) == 0);
    }
    SUBCASE("a DER SEQUENCE that is not a certificate") {
        const std::vector<std::uint8_t> seq = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
        const auto r = parse_certificate_der(seq);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().rfind("not a DER X.509 certificate", 0) == 0);
    }
    SUBCASE("huge declared length") {
        const std::vector<std::uint8_t> huge = {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30};
        CHECK_FALSE(parse_certificate_der(huge).has_value());
    }
}
