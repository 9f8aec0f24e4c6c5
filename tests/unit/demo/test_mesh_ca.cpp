// The demo's mesh PKI, parsed back with OpenSSL: Istio-shaped workload certificates that verify
// against the mesh CA.
#include <doctest/doctest.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <string>

#include "demo/mesh_ca.hpp"

using namespace meshproof::demo;

namespace {

struct X509Free {
    void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

X509Ptr parse_cert(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509Ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    return cert;
}

PkeyPtr parse_key(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    PkeyPtr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    return key;
}

std::string curve_of(EVP_PKEY* key) {
    char name[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) return "";
    return std::string(name, len);
}

// X509_verify_cert against a store holding only `ca`; returns the verify error (X509_V_OK = 0).
int verify(X509* ca, X509* leaf, int purpose = 0) {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, nullptr);
    if (purpose != 0) X509_STORE_CTX_set_purpose(ctx, purpose);
    const int ok = X509_verify_cert(ctx);
    const int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return err;
}

struct Sans {
    int count = 0, uris = 0;
    std::string first_uri;
    bool critical = false;
};

Sans sans_of(X509* cert) {
    Sans out;
    int crit = -1;
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr));
    out.critical = crit == 1;
    if (names == nullptr) return out;
    out.count = sk_GENERAL_NAME_num(names);
    for (int i = 0; i < out.count; ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_URI) continue;
        if (out.uris++ == 0) {
            const ASN1_IA5STRING* s = gn->d.uniformResourceIdentifier;
            out.first_uri.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                 static_cast<std::size_t>(ASN1_STRING_length(s)));
        }
    }
    GENERAL_NAMES_free(names);
    return out;
}

// Seconds from now to the certificate's notAfter.
long seconds_left(X509* cert) {
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert));
    return static_cast<long>(days) * 86400 + secs;
}

}  // namespace

TEST_CASE("mesh CA: spiffe_id") {
    CHECK(spiffe_id("cluster.local", "demo", "backend") == "spiffe://cluster.local/ns/demo/sa/backend");
}

TEST_CASE("mesh CA: the root certificate") {
    const auto ca = make_mesh_ca();
    REQUIRE(ca.has_value());
    const X509Ptr cert = parse_cert(ca->cert_pem);
    REQUIRE(cert != nullptr);
    const PkeyPtr key = parse_key(ca->key_pem);
    REQUIRE(key != nullptr);

    SUBCASE("EC P-256, self-signed, O=cluster.local") {
        CHECK(curve_of(X509_get0_pubkey(cert.get())) == "prime256v1");
        CHECK(X509_check_private_key(cert.get(), key.get()) == 1);
        CHECK(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())) == 0);
        char buf[256];
        X509_NAME_oneline(X509_get_subject_name(cert.get()), buf, sizeof buf);
        CHECK(std::string(buf) == "/O=cluster.local");
        CHECK(X509_verify(cert.get(), X509_get0_pubkey(cert.get())) == 1);
    }
    SUBCASE("a CA that may sign") {
        CHECK(X509_check_ca(cert.get()) >= 1);
        CHECK((X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN) != 0);
        CHECK((X509_get_extension_flags(cert.get()) & EXFLAG_CA) != 0);
    }
    SUBCASE("valid now for about a day") {
        CHECK(X509_cmp_current_time(X509_get0_notBefore(cert.get())) < 0);
        const long left = seconds_left(cert.get());
        CHECK(left > 23 * 3600);
        CHECK(left <= 24 * 3600);
    }
    SUBCASE("a custom trust domain") {
        const auto other = make_mesh_ca({.trust_domain = "homelab.example", .validity = std::chrono::hours(2)});
        REQUIRE(other.has_value());
        const X509Ptr c = parse_cert(other->cert_pem);
        REQUIRE(c != nullptr);
        char buf[256];
        X509_NAME_oneline(X509_get_subject_name(c.get()), buf, sizeof buf);
        CHECK(std::string(buf) == "/O=homelab.example");
        CHECK(seconds_left(c.get()) <= 2 * 3600);
    }
}

TEST_CASE("mesh CA: workload certificates like Istio's") {
    const auto ca = make_mesh_ca();
    REQUIRE(ca.has_value());
    const X509Ptr ca_cert = parse_cert(ca->cert_pem);
    REQUIRE(ca_cert != nullptr);
    const std::string id = spiffe_id("cluster.local", "demo", "backend");
    const auto wl = make_workload_cert(*ca, id);
    REQUIRE(wl.has_value());
    const X509Ptr cert = parse_cert(wl->cert_pem);
    REQUIRE(cert != nullptr);
    const PkeyPtr key = parse_key(wl->key_pem);
    REQUIRE(key != nullptr);

    SUBCASE("EC P-256 key that matches the certificate") {
        CHECK(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC);
        CHECK(curve_of(key.get()) == "prime256v1");
        CHECK(curve_of(X509_get0_pubkey(cert.get())) == "prime256v1");
        CHECK(X509_check_private_key(cert.get(), key.get()) == 1);
        CHECK(wl->key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);  // PKCS#8
    }
    SUBCASE("empty subject and exactly one SAN: the SPIFFE URI, critical") {
        CHECK(X509_NAME_entry_count(X509_get_subject_name(cert.get())) == 0);
        const Sans sans = sans_of(cert.get());
        CHECK(sans.count == 1);
        CHECK(sans.uris == 1);
        CHECK(sans.first_uri == id);
        CHECK(sans.critical);
    }
    SUBCASE("issued and signed by the mesh CA") {
        CHECK(X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca_cert.get())) == 0);
        CHECK(X509_check_issued(ca_cert.get(), cert.get()) == X509_V_OK);
        CHECK(X509_verify(cert.get(), X509_get0_pubkey(ca_cert.get())) == 1);
        CHECK(verify(ca_cert.get(), cert.get()) == X509_V_OK);
    }
    SUBCASE("usable by a sidecar as TLS server and as TLS client, not as a CA") {
        CHECK(verify(ca_cert.get(), cert.get(), X509_PURPOSE_SSL_SERVER) == X509_V_OK);
        CHECK(verify(ca_cert.get(), cert.get(), X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
        CHECK(X509_check_ca(cert.get()) == 0);
        CHECK((X509_get_key_usage(cert.get()) & KU_DIGITAL_SIGNATURE) != 0);
    }
    SUBCASE("short validity: one hour by default, as asked otherwise") {
        CHECK(X509_cmp_current_time(X509_get0_notBefore(cert.get())) < 0);
        const long left = seconds_left(cert.get());
        CHECK(left > 3500);
        CHECK(left <= 3600);
        const auto brief = make_workload_cert(*ca, id, std::chrono::minutes(10));
        REQUIRE(brief.has_value());
        const X509Ptr b = parse_cert(brief->cert_pem);
        REQUIRE(b != nullptr);
        CHECK(seconds_left(b.get()) <= 600);
    }
    SUBCASE("distinct serial numbers") {
        const auto other = make_workload_cert(*ca, id);
        REQUIRE(other.has_value());
        const X509Ptr o = parse_cert(other->cert_pem);
        REQUIRE(o != nullptr);
        CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(cert.get()), X509_get0_serialNumber(o.get())) != 0);
    }
    SUBCASE("does not verify against another mesh's CA") {
        const auto stranger = make_mesh_ca();
        REQUIRE(stranger.has_value());
        const X509Ptr s = parse_cert(stranger->cert_pem);
        REQUIRE(s != nullptr);
        CHECK(verify(s.get(), cert.get()) != X509_V_OK);
    }
}

TEST_CASE("mesh CA: bad input is refused") {
    const auto ca = make_mesh_ca();
    REQUIRE(ca.has_value());
    SUBCASE("not a SPIFFE ID") {
        const auto r = make_workload_cert(*ca, "https://example.com/x");
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().find("not a SPIFFE ID") != std::string::npos);
    }
    SUBCASE("an ID that would inject another SAN") {
        CHECK_FALSE(make_workload_cert(*ca, "spiffe://cluster.local/ns/a/sa/b,DNS:evil.example").has_value());
    }
    SUBCASE("a damaged CA") {
        PemPair broken = *ca;
        broken.key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        const auto r = make_workload_cert(broken, spiffe_id("cluster.local", "demo", "x"));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().find("cannot read the CA") != std::string::npos);
    }
}
