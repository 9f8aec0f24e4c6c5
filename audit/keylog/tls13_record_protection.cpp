#include "audit/keylog/tls13_record_protection.hpp"

#include <array>
#include <limits>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

namespace meshproof::audit {
namespace {

constexpr std::size_t kIvLength = 12;
constexpr std::size_t kRecordHeader = 5;
constexpr std::uint8_t kApplicationData = 23;
// RFC 8446 5.2: TLSCiphertext.length must not exceed 2^14 + 256.
constexpr std::size_t kMaxCiphertext = 16384 + 256;

constexpr std::array<Tls13CipherSuite, 5> kSuites{{
    {0x1301, "TLS_AES_128_GCM_SHA256", Tls13Aead::Aes128Gcm, "SHA256", 32, 16, 16},
    {0x1302, "TLS_AES_256_GCM_SHA384", Tls13Aead::Aes256Gcm, "SHA384", 48, 32, 16},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", Tls13Aead::Chacha20Poly1305, "SHA256", 32, 32, 16},
    {0x1304, "TLS_AES_128_CCM_SHA256", Tls13Aead::Aes128Ccm, "SHA256", 32, 16, 16},
    {0x1305, "TLS_AES_128_CCM_8_SHA256", Tls13Aead::Aes128Ccm8, "SHA256", 32, 16, 8},
}};

const char* openssl_cipher_name(Tls13Aead a) {
    switch (a) {
        case Tls13Aead::Aes128Gcm: return "AES-128-GCM";
        case Tls13Aead::Aes256Gcm: return "AES-256-GCM";
        case Tls13Aead::Chacha20Poly1305: return "ChaCha20-Poly1305";
        case Tls13Aead::Aes128Ccm:
        case Tls13Aead::Aes128Ccm8: return "AES-128-CCM";
    }
    return "";
}
bool is_ccm(Tls13Aead a) { return a == Tls13Aead::Aes128Ccm || a == Tls13Aead::Aes128Ccm8; }

std::string openssl_error(std::string_view what) {
    std::string out(what);
    const unsigned long code = ERR_peek_last_error();
    if (code != 0) {
        std::array<char, 256> buf{};
        ERR_error_string_n(code, buf.data(), buf.size());
        out += ": ";
        out += buf.data();
    }
    ERR_clear_error();
    return out;
}

struct KdfDeleter {
    void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
};
struct KdfCtxDeleter {
    void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};
struct CipherDeleter {
    void operator()(EVP_CIPHER* c) const { EVP_CIPHER_free(c); }
};
struct CipherCtxDeleter {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// Fetched once per process (fetching is the slow part of OpenSSL 3's provider API).
EVP_KDF* hkdf() {
    static const std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr));
    return kdf.get();
}
EVP_CIPHER* cipher_for(Tls13Aead a) {
    static const std::array<std::unique_ptr<EVP_CIPHER, CipherDeleter>, 4> ciphers{{
        std::unique_ptr<EVP_CIPHER, CipherDeleter>(EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr)),
        std::unique_ptr<EVP_CIPHER, CipherDeleter>(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr)),
        std::unique_ptr<EVP_CIPHER, CipherDeleter>(EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr)),
        std::unique_ptr<EVP_CIPHER, CipherDeleter>(EVP_CIPHER_fetch(nullptr, "AES-128-CCM", nullptr)),
    }};
    switch (a) {
        case Tls13Aead::Aes128Gcm: return ciphers[0].get();
        case Tls13Aead::Aes256Gcm: return ciphers[1].get();
        case Tls13Aead::Chacha20Poly1305: return ciphers[2].get();
        case Tls13Aead::Aes128Ccm:
        case Tls13Aead::Aes128Ccm8: return ciphers[3].get();
    }
    return nullptr;
}

}  // namespace

const Tls13CipherSuite* find_tls13_cipher_suite(std::uint16_t id) {
    for (const auto& s : kSuites)
        if (s.id == id) return &s;
    return nullptr;
}

tl::expected<SecretBytes, std::string> hkdf_expand_label(const Tls13CipherSuite& suite, Bytes secret,
                                                         std::string_view label, Bytes context,
                                                         std::size_t length) {
    // struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>; } HkdfLabel
    constexpr std::string_view kPrefix = "tls13 ";
    if (kPrefix.size() + label.size() > 255 || context.size() > 255 || length > 0xffff || length == 0)
        return tl::unexpected(std::string("HKDF-Expand-Label: label, context or length out of range"));
    std::vector<std::uint8_t> info;
    info.reserve(2 + 1 + kPrefix.size() + label.size() + 1 + context.size());
    info.push_back(static_cast<std::uint8_t>(length >> 8));
    info.push_back(static_cast<std::uint8_t>(length & 0xff));
    info.push_back(static_cast<std::uint8_t>(kPrefix.size() + label.size()));
    info.insert(info.end(), kPrefix.begin(), kPrefix.end());
    info.insert(info.end(), label.begin(), label.end());
    info.push_back(static_cast<std::uint8_t>(context.size()));
    info.insert(info.end(), context.begin(), context.end());

    if (hkdf() == nullptr) return tl::unexpected(openssl_error("HKDF is not available in this OpenSSL"));
    const std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter> ctx(EVP_KDF_CTX_new(hkdf()));
    if (!ctx) return tl::unexpected(openssl_error("EVP_KDF_CTX_new"));
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    std::string digest(suite.digest);
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
        // OpenSSL copies the key and info; it takes them as non-const void*.
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(secret.data()), secret.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
        OSSL_PARAM_construct_end(),
    };
    std::vector<std::uint8_t> out(length);
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
        OPENSSL_cleanse(out.data(), out.size());
        return tl::unexpected(openssl_error("HKDF-Expand-Label"));
    }
    return SecretBytes(std::move(out));
}

tl::expected<TrafficKeys, std::string> derive_traffic_keys(const Tls13CipherSuite& suite, Bytes traffic_secret) {
    if (traffic_secret.size() != suite.hash_length)
        return tl::unexpected(std::string("the traffic secret is ") + std::to_string(traffic_secret.size()) +
                              " bytes, " + std::string(suite.name) + " needs " + std::to_string(suite.hash_length));
    auto key = hkdf_expand_label(suite, traffic_secret, "key", {}, suite.key_length);
    if (!key) return tl::unexpected(key.error());
    auto iv = hkdf_expand_label(suite, traffic_secret, "iv", {}, kIvLength);
    if (!iv) return tl::unexpected(iv.error());
    return TrafficKeys{std::move(*key), std::move(*iv)};
}

std::string_view to_string(OpenError e) {
    switch (e) {
        case OpenError::NotApplicationData: return "not an application_data record";
        case OpenError::BadLength: return "impossible record length";
        case OpenError::Authentication: return "authentication failed (wrong key or damaged record)";
        case OpenError::NoContentType: return "no content type (all-zero plaintext)";
    }
    return "unknown";
}

struct Tls13RecordOpener::Cipher {
    std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> ctx{EVP_CIPHER_CTX_new()};
};

Tls13RecordOpener::Tls13RecordOpener(const Tls13CipherSuite& suite, TrafficKeys keys)
    : suite_(&suite), keys_(std::move(keys)), cipher_(std::make_unique<Cipher>()) {}
Tls13RecordOpener::~Tls13RecordOpener() = default;
Tls13RecordOpener::Tls13RecordOpener(Tls13RecordOpener&&) noexcept = default;
Tls13RecordOpener& Tls13RecordOpener::operator=(Tls13RecordOpener&&) noexcept = default;

tl::expected<Tls13RecordOpener, std::string> Tls13RecordOpener::create(const Tls13CipherSuite& suite,
                                                                       Bytes traffic_secret) {
    if (cipher_for(suite.aead) == nullptr)
        return tl::unexpected(openssl_error(std::string(openssl_cipher_name(suite.aead)) + " is not available in this OpenSSL"));
    auto keys = derive_traffic_keys(suite, traffic_secret);
    if (!keys) return tl::unexpected(keys.error());
    Tls13RecordOpener opener(suite, std::move(*keys));
    if (!opener.cipher_->ctx) return tl::unexpected(openssl_error("EVP_CIPHER_CTX_new"));
    return opener;
}

tl::expected<Tls13Plaintext, OpenError> Tls13RecordOpener::open(Bytes record) {
    ByteReader r(record);
    std::uint8_t type = 0;
    std::uint16_t version = 0, length = 0;
    if (!r.u8(type) || !r.u16(version) || !r.u16(length)) return tl::unexpected(OpenError::BadLength);
    if (type != kApplicationData) return tl::unexpected(OpenError::NotApplicationData);
    const std::size_t tag_length = suite_->tag_length;
    if (length != r.remaining() || length < tag_length + 1 || length > kMaxCiphertext)
        return tl::unexpected(OpenError::BadLength);
    const Bytes aad = record.first(kRecordHeader);
    const Bytes body = r.rest();
    const Bytes ciphertext = body.first(body.size() - tag_length);
    const Bytes tag = body.last(tag_length);

    // RFC 8446 5.3: the 64-bit sequence number, big-endian, left-padded to the iv's length, XOR iv.
    std::array<std::uint8_t, kIvLength> nonce{};
    const Bytes iv = keys_.iv.view();
    for (std::size_t i = 0; i < kIvLength; ++i) nonce[i] = iv[i];
    for (std::size_t i = 0; i < 8; ++i)
        nonce[kIvLength - 1 - i] ^= static_cast<std::uint8_t>(sequence_ >> (8 * i));

    EVP_CIPHER_CTX* ctx = cipher_->ctx.get();
    const bool ccm = is_ccm(suite_->aead);
    const int tag_len = static_cast<int>(tag_length);
    // CCM takes the expected tag before the key; GCM and ChaCha20-Poly1305 accept it before the final.
    bool ok = EVP_DecryptInit_ex2(ctx, cipher_for(suite_->aead), nullptr, nullptr, nullptr) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(kIvLength), nullptr) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag_len, const_cast<std::uint8_t*>(tag.data())) == 1 &&
              EVP_DecryptInit_ex2(ctx, nullptr, keys_.key.view().data(), nonce.data(), nullptr) == 1;
    int out_len = 0;
    std::vector<std::uint8_t> plain(ciphertext.size());
    if (ok && ccm) ok = EVP_DecryptUpdate(ctx, nullptr, &out_len, nullptr, static_cast<int>(ciphertext.size())) == 1;
    if (ok) ok = EVP_DecryptUpdate(ctx, nullptr, &out_len, aad.data(), static_cast<int>(aad.size())) == 1;
    // CCM verifies the tag in the update that decrypts; the others in the final.
    if (ok) ok = EVP_DecryptUpdate(ctx, plain.data(), &out_len, ciphertext.data(), static_cast<int>(ciphertext.size())) == 1;
    if (ok && !ccm) {
        int final_len = 0;
        ok = EVP_DecryptFinal_ex(ctx, plain.data() + out_len, &final_len) == 1;
    }
    ERR_clear_error();
    if (!ok) {
        OPENSSL_cleanse(plain.data(), plain.size());
        return tl::unexpected(OpenError::Authentication);
    }
    ++sequence_;
    // TLSInnerPlaintext = content || ContentType type || zeros (padding).
    std::size_t end = plain.size();
    while (end > 0 && plain[end - 1] == 0) --end;
    if (end == 0) return tl::unexpected(OpenError::NoContentType);
    Tls13Plaintext out;
    out.content_type = plain[end - 1];
    plain.resize(end - 1);
    out.content = std::move(plain);
    return out;
}

}  // namespace meshproof::audit
