#include "provision/tls_cert.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "provision/journal.hpp"

namespace meshproof::provision {
namespace {

struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(BIO* p) const { BIO_free(p); }
    void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
    void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
    void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 && data != nullptr ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

std::string base64_encode(std::string_view data) {
    static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                           static_cast<unsigned char>(data[i + 2]);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += table[v & 63];
    }
    if (i < data.size()) {
        unsigned v = static_cast<unsigned char>(data[i]) << 16;
        if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += i + 1 < data.size() ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

tl::expected<TlsMaterial, std::string> make_self_signed_cert(const std::vector<std::string>& hosts, int days) {
    if (hosts.empty()) return tl::unexpected(std::string("no host names for the certificate"));
    Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
    if (!key) return tl::unexpected(std::string("EC key generation failed"));
    Owned<X509> cert(X509_new());
    if (!cert) return tl::unexpected(std::string("X509_new failed"));
    X509_set_version(cert.get(), 2);  // v3

    unsigned char serial_bytes[16];
    if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return tl::unexpected(std::string("RAND_bytes failed"));
    serial_bytes[0] &= 0x7f;  // positive
    Owned<BIGNUM> bn(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
    Owned<ASN1_INTEGER> serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    X509_set_serialNumber(cert.get(), serial.get());

    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());

    X509_NAME* name = X509_get_subject_name(cert.get());
    const std::string cn = hosts.front().substr(0, 64);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("meshproof lab"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    std::string san;
    for (const auto& h : hosts) san += (san.empty() ? "DNS:" : ",DNS:") + h;
    const std::pair<const char*, std::string> exts[] = {{"subjectAltName", san},
                                                        {"basicConstraints", "critical,CA:FALSE"},
                                                        {"keyUsage", "critical,digitalSignature"},
                                                        {"extendedKeyUsage", "serverAuth"}};
    for (const auto& [ext_name, value] : exts) {
        X509_EXTENSION* ext = X509V3_EXT_conf(nullptr, &ctx, ext_name, value.c_str());
        if (ext == nullptr) return tl::unexpected(std::string("cannot build extension ") + ext_name);
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return tl::unexpected(std::string("X509_sign failed"));

    Owned<BIO> cbio(BIO_new(BIO_s_mem()));
    Owned<BIO> kbio(BIO_new(BIO_s_mem()));
    if (!cbio || !kbio || PEM_write_bio_X509(cbio.get(), cert.get()) != 1 ||
        PEM_write_bio_PrivateKey(kbio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return tl::unexpected(std::string("PEM encoding failed"));
    return TlsMaterial{bio_text(cbio.get()), bio_text(kbio.get())};
}

std::vector<std::string> cert_dns_names(const std::string& cert_pem) {
    std::vector<std::string> names;
    Owned<BIO> bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
    if (!bio) return names;
    Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return names;
    Owned<GENERAL_NAMES> sans(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
    if (!sans) return names;
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
        if (gn->type != GEN_DNS) continue;
        const ASN1_IA5STRING* s = gn->d.dNSName;
        names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
    return names;
}

tl::expected<TlsMaterial, std::string> load_or_make_cert(const std::string& state_dir,
                                                         const std::vector<std::string>& hosts) {
    const std::string crt_path = state_dir + "/ingress-tls.crt";
    const std::string key_path = state_dir + "/ingress-tls.key";
    TlsMaterial existing{read_file(crt_path), read_file(key_path)};
    if (!existing.cert_pem.empty() && !existing.key_pem.empty()) {
        auto have = cert_dns_names(existing.cert_pem);
        auto want = hosts;
        std::sort(have.begin(), have.end());
        std::sort(want.begin(), want.end());
        if (have == want) return existing;
    }
    auto made = make_self_signed_cert(hosts);
    if (!made) return made;
    if (auto ok = ensure_private_dir(state_dir); !ok) return tl::unexpected(ok.error());
    if (auto ok = write_file_atomic(key_path, made->key_pem, 0600); !ok) return tl::unexpected(ok.error());
    if (auto ok = write_file_atomic(crt_path, made->cert_pem, 0600); !ok) return tl::unexpected(ok.error());
    return made;
}

}  // namespace meshproof::provision
