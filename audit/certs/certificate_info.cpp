#include "audit/certs/certificate_info.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace meshproof::audit {
namespace {

struct X509Deleter {
    void operator()(X509* x) const { X509_free(x); }
};
struct BioDeleter {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct GeneralNamesDeleter {
    void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

// The most recent OpenSSL error, for messages; also clears the thread's error queue.
std::string openssl_error() {
    const unsigned long code = ERR_peek_last_error();
    std::string out;
    if (code != 0) {
        std::array<char, 256> buf{};
        ERR_error_string_n(code, buf.data(), buf.size());
        out = buf.data();
    }
    ERR_clear_error();
    return out;
}

std::string name_rfc2253(const X509_NAME* name) {
    if (name == nullptr) return {};
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return len > 0 && data != nullptr ? std::string(data, static_cast<std::size_t>(len)) : std::string{};
}

std::string asn1_string(const ASN1_STRING* s) {
    if (s == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::string ip_address(const ASN1_OCTET_STRING* s) {
    const unsigned char* data = ASN1_STRING_get0_data(s);
    const int len = ASN1_STRING_length(s);
    std::array<char, INET6_ADDRSTRLEN> buf{};
    if (len == 4 && inet_ntop(AF_INET, data, buf.data(), buf.size()) != nullptr) return buf.data();
    if (len == 16 && inet_ntop(AF_INET6, data, buf.data(), buf.size()) != nullptr) return buf.data();
    return "invalid-ip-length-" + std::to_string(len);
}

std::string iso8601(const ASN1_TIME* t) {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
    std::array<char, 80> buf{};  // sized for any int values, so the format cannot truncate
    std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf.data();
}

std::string curve_label(const std::string& group) {
    // OpenSSL names the NIST curves by their X9.62 / SEC names; people know them as P-256 etc.
    if (group == "prime256v1" || group == "P-256") return "P-256";
    if (group == "secp384r1" || group == "P-384") return "P-384";
    if (group == "secp521r1" || group == "P-521") return "P-521";
    return group;
}

std::string key_type(const X509* cert) {
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (key == nullptr) return "unknown";
    const int id = EVP_PKEY_get_base_id(key);
    switch (id) {
        case EVP_PKEY_RSA:
        case EVP_PKEY_RSA_PSS: return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
        case EVP_PKEY_EC: {
            std::array<char, 64> group{};
            std::size_t len = 0;
            if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(), &len) != 1)
                return "EC";
            return "EC " + curve_label(std::string(group.data(), len));
        }
        case EVP_PKEY_ED25519: return "Ed25519";
        case EVP_PKEY_ED448: return "Ed448";
        case EVP_PKEY_DSA: return "DSA " + std::to_string(EVP_PKEY_get_bits(key));
        default: {
            const char* sn = OBJ_nid2sn(id);
            return sn != nullptr ? sn : "unknown";
        }
    }
}

std::string fingerprint(const X509* cert) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (X509_digest(cert, EVP_sha256(), md.data(), &len) != 1) return {};
    static constexpr char kDigits[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        if (i > 0) out.push_back(':');
        out.push_back(kDigits[md[i] >> 4]);
        out.push_back(kDigits[md[i] & 0x0f]);
    }
    return out;
}

void read_sans(const X509* cert, CertificateInfo& info) {
    std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter> names(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (!names) return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        switch (name->type) {
            case GEN_URI: info.uri_sans.push_back(asn1_string(name->d.uniformResourceIdentifier)); break;
            case GEN_DNS: info.dns_sans.push_back(asn1_string(name->d.dNSName)); break;
            case GEN_IPADD: info.ip_sans.push_back(ip_address(name->d.iPAddress)); break;
            default: break;
        }
    }
}

}  // namespace

tl::expected<CertificateInfo, std::string> parse_certificate_der(Bytes der) {
    if (der.empty()) return tl::unexpected(std::string("empty certificate"));
    if (der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max()))
        return tl::unexpected(std::string("certificate too large"));
    const unsigned char* cursor = der.data();
    std::unique_ptr<X509, X509Deleter> cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
    if (!cert) {
        const std::string why = openssl_error();
        return tl::unexpected("not a DER X.509 certificate" + (why.empty() ? std::string{} : ": " + why));
    }
    const auto used = static_cast<std::size_t>(cursor - der.data());
    if (used != der.size())
        return tl::unexpected("trailing bytes after the certificate (" + std::to_string(der.size() - used) + ")");

    CertificateInfo info;
    info.subject = name_rfc2253(X509_get_subject_name(cert.get()));
    info.issuer = name_rfc2253(X509_get_issuer_name(cert.get()));
    read_sans(cert.get(), info);
    info.not_before = iso8601(X509_get0_notBefore(cert.get()));
    info.not_after = iso8601(X509_get0_notAfter(cert.get()));
    info.key_type = key_type(cert.get());
    info.self_signed = X509_self_signed(cert.get(), /*verify_signature=*/1) == 1;
    info.sha256_fingerprint = fingerprint(cert.get());
    ERR_clear_error();  // X509_self_signed may leave verification errors behind
    return info;
}

std::vector<tl::expected<CertificateInfo, std::string>> parse_certificate_chain(
    const std::vector<TlsCertificateDer>& chain) {
    std::vector<tl::expected<CertificateInfo, std::string>> out;
    out.reserve(chain.size());
    for (const auto& c : chain) out.push_back(parse_certificate_der(c.der));
    return out;
}

std::vector<std::string> spiffe_ids(const CertificateInfo& info) {
    std::vector<std::string> out;
    for (const auto& uri : info.uri_sans)
        if (uri.rfind("spiffe://", 0) == 0) out.push_back(uri);
    return out;
}

}  // namespace meshproof::audit
