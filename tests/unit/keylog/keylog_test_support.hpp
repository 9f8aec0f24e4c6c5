// Hex helpers and a TLS 1.3 record sealer (OpenSSL EVP, independent of the opener under test) for
// the key log tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "audit/keylog/tls13_record_protection.hpp"
#include "common/byte_reader.hpp"

namespace keylog_test {

inline std::vector<std::uint8_t> unhex(std::string_view h) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    return out;
}

inline std::string hex(meshproof::Bytes b) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (const auto c : b) {
        s += d[c >> 4];
        s += d[c & 15];
    }
    return s;
}

// Seals `content` of `type` as TLS 1.3 record number `seq` under `traffic_secret`, with `padding` zeros.
inline std::vector<std::uint8_t> seal_record(const meshproof::audit::Tls13CipherSuite& suite, meshproof::Bytes traffic_secret,
                                             std::uint64_t seq, std::uint8_t type, meshproof::Bytes content,
                                             std::size_t padding = 0) {
    using namespace meshproof::audit;
    auto keys = derive_traffic_keys(suite, traffic_secret);
    if (!keys) return {};
    std::vector<std::uint8_t> inner(content.begin(), content.end());
    inner.push_back(type);
    inner.resize(inner.size() + padding, 0);
    const std::size_t length = inner.size() + suite.tag_length;
    std::vector<std::uint8_t> record{23, 3, 3, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length & 0xff)};
    std::vector<std::uint8_t> nonce(keys->iv.view().begin(), keys->iv.view().end());
    for (std::size_t i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<std::uint8_t>(seq >> (8 * i));
    const char* name = suite.aead == Tls13Aead::Aes128Gcm          ? "AES-128-GCM"
                       : suite.aead == Tls13Aead::Aes256Gcm        ? "AES-256-GCM"
                       : suite.aead == Tls13Aead::Chacha20Poly1305 ? "ChaCha20-Poly1305"
                                                                   : "AES-128-CCM";
    const bool ccm = suite.aead == Tls13Aead::Aes128Ccm || suite.aead == Tls13Aead::Aes128Ccm8;
    std::unique_ptr<EVP_CIPHER, decltype(&EVP_CIPHER_free)> cipher(EVP_CIPHER_fetch(nullptr, name, nullptr), EVP_CIPHER_free);
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    const int tag_len = static_cast<int>(suite.tag_length);
    EVP_EncryptInit_ex2(ctx.get(), cipher.get(), nullptr, nullptr, nullptr);
    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr);
    if (ccm) EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, tag_len, nullptr);
    EVP_EncryptInit_ex2(ctx.get(), nullptr, keys->key.view().data(), nonce.data(), nullptr);
    int n = 0;
    if (ccm) EVP_EncryptUpdate(ctx.get(), nullptr, &n, nullptr, static_cast<int>(inner.size()));
    EVP_EncryptUpdate(ctx.get(), nullptr, &n, record.data(), 5);
    std::vector<std::uint8_t> out(inner.size() + 16);
    EVP_EncryptUpdate(ctx.get(), out.data(), &n, inner.data(), static_cast<int>(inner.size()));
    int f = 0;
    EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &f);
    out.resize(inner.size());
    std::vector<std::uint8_t> tag(suite.tag_length);
    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, tag_len, tag.data());
    record.insert(record.end(), out.begin(), out.end());
    record.insert(record.end(), tag.begin(), tag.end());
    return record;
}

}  // namespace keylog_test
