#include "demo/mesh_ca.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <utility>
#include <vector>

namespace meshproof::demo {
namespace {

struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(BIO* p) const { BIO_free(p); }
    void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
    void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

using Result = tl::expected<PemPair, std::string>;

Result fail(const std::string& what) {
    std::string msg = what;
    if (const unsigned long e = ERR_get_error(); e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        msg += ": ";
        msg += buf;
    }
    ERR_clear_error();
    return tl::unexpected(msg);
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 && data != nullptr ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

bool set_random_serial(X509* cert) {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
    bytes[0] &= 0x7f;  // positive
    bytes[0] |= 0x01;  // and 16 bytes long (no leading zero to strip)
    Owned<BIGNUM> bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!bn) return false;
    Owned<ASN1_INTEGER> serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    return serial && X509_set_serialNumber(cert, serial.get()) == 1;
}

// Extensions by their openssl.cnf text, with issuer/subject context for the key identifiers.
bool add_extensions(X509* cert, X509* issuer, const std::vector<std::pair<const char*, std::string>>& exts) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    for (const auto& [name, value] : exts) {
        X509_EXTENSION* ext = X509V3_EXT_conf(nullptr, &ctx, name, value.c_str());
        if (ext == nullptr) return false;
        const int ok = X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        if (ok != 1) return false;
    }
    return true;
}

Result to_pem(X509* cert, EVP_PKEY* key) {
    Owned<BIO> cbio(BIO_new(BIO_s_mem()));
    Owned<BIO> kbio(BIO_new(BIO_s_mem()));
    if (!cbio || !kbio || PEM_write_bio_X509(cbio.get(), cert) != 1 ||
        PEM_write_bio_PrivateKey(kbio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return fail("PEM encoding failed");
    return PemPair{bio_text(cbio.get()), bio_text(kbio.get())};
}

Owned<X509> new_cert(EVP_PKEY* key, long not_before_offset, std::chrono::seconds validity) {
    Owned<X509> cert(X509_new());
    if (!cert || X509_set_version(cert.get(), 2) != 1 || !set_random_serial(cert.get())) return nullptr;
    if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_offset) == nullptr ||
        X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validity.count())) == nullptr)
        return nullptr;
    if (X509_set_pubkey(cert.get(), key) != 1) return nullptr;
    return cert;
}

}  // namespace

std::string spiffe_id(const std::string& trust_domain, const std::string& ns, const std::string& service_account) {
    return "spiffe://" + trust_domain + "/ns/" + ns + "/sa/" + service_account;
}

Result make_mesh_ca(const MeshCaOptions& opt) {
    Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
    if (!key) return fail("EC P-256 key generation failed");
    Owned<X509> cert = new_cert(key.get(), -300, opt.validity);
    if (!cert) return fail("cannot create the CA certificate");
    X509_NAME* name = X509_get_subject_name(cert.get());
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(opt.trust_domain.c_str()), -1, -1, 0) != 1)
        return fail("cannot set the CA subject");
    X509_set_issuer_name(cert.get(), name);
    if (!add_extensions(cert.get(), cert.get(),
                        {{"basicConstraints", "critical,CA:TRUE"},
                         {"keyUsage", "critical,keyCertSign,cRLSign"},
                         {"subjectKeyIdentifier", "hash"}}))
        return fail("cannot add the CA extensions");
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return fail("signing the CA certificate failed");
    return to_pem(cert.get(), key.get());
}

Result make_workload_cert(const PemPair& ca, const std::string& id, std::chrono::seconds validity) {
    if (id.rfind("spiffe://", 0) != 0 || id.find_first_of(", \n") != std::string::npos)
        return tl::unexpected("not a SPIFFE ID: '" + id + "'");
    Owned<BIO> cbio(BIO_new_mem_buf(ca.cert_pem.data(), static_cast<int>(ca.cert_pem.size())));
    Owned<BIO> kbio(BIO_new_mem_buf(ca.key_pem.data(), static_cast<int>(ca.key_pem.size())));
    if (!cbio || !kbio) return fail("out of memory");
    Owned<X509> ca_cert(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
    Owned<EVP_PKEY> ca_key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
    if (!ca_cert || !ca_key) return fail("cannot read the CA certificate or key");

    Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
    if (!key) return fail("EC P-256 key generation failed");
    Owned<X509> cert = new_cert(key.get(), -300, validity);
    if (!cert) return fail("cannot create the workload certificate");
    // Subject stays empty, as in Istio's workload certificates; RFC 5280 4.2.1.6 then requires the
    // SAN extension to be critical.
    if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1)
        return fail("cannot set the issuer");
    if (!add_extensions(cert.get(), ca_cert.get(),
                        {{"basicConstraints", "critical,CA:FALSE"},
                         {"keyUsage", "critical,digitalSignature,keyEncipherment"},
                         {"extendedKeyUsage", "serverAuth,clientAuth"},
                         {"authorityKeyIdentifier", "keyid:always"},
                         {"subjectAltName", "critical,URI:" + id}}))
        return fail("cannot add the workload extensions");
    if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) return fail("signing the workload certificate failed");
    return to_pem(cert.get(), key.get());
}

}  // namespace meshproof::demo
