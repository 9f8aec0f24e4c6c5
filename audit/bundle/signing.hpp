// Ed25519 keys (OpenSSL EVP_PKEY_ED25519) for signing evidence bundles, and SHA-256 over files.
// Keys are PEM: PKCS#8 private keys written 0600, SubjectPublicKeyInfo public keys, so
// `openssl pkeyutl -verify -rawin` can check a bundle without meshproof.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "common/byte_reader.hpp"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace meshproof::audit::bundle {

inline constexpr const char* kPrivateKeyFile = "meshproof-signing.key";
inline constexpr const char* kPublicKeyFile = "meshproof-signing.pub";

class SigningKey {
public:
    // A fresh key pair.
    static tl::expected<SigningKey, std::string> generate();
    // PEM private key file. Refuses a file others can read (like ssh): its signature would prove nothing.
    static tl::expected<SigningKey, std::string> load_private(const std::filesystem::path& path);
    static tl::expected<SigningKey, std::string> load_public(const std::filesystem::path& path);
    static tl::expected<SigningKey, std::string> from_public_pem(std::string_view pem);

    [[nodiscard]] bool has_private() const { return has_private_; }
    [[nodiscard]] std::string public_pem() const;
    [[nodiscard]] std::string private_pem() const;  // "" for a public key
    // "sha256:" + hex of SHA-256 over the raw 32-byte public key.
    [[nodiscard]] std::string fingerprint() const;

    [[nodiscard]] tl::expected<std::vector<std::uint8_t>, std::string> sign(Bytes message) const;
    [[nodiscard]] bool verify(Bytes message, Bytes signature) const;

private:
    struct Free {
        void operator()(EVP_PKEY* k) const;
    };
    SigningKey(EVP_PKEY* key, bool has_private) : key_(key, Free{}), has_private_(has_private) {}
    std::shared_ptr<EVP_PKEY> key_;
    bool has_private_ = false;
};

struct KeyFiles {
    std::filesystem::path private_key, public_key;
    std::string fingerprint;
};

// Writes DIR/meshproof-signing.key (0600) and DIR/meshproof-signing.pub (0644); creates DIR (0700)
// if needed. Never overwrites an existing key unless `overwrite`.
tl::expected<KeyFiles, std::string> generate_key_files(const std::filesystem::path& dir, bool overwrite);

// Incremental SHA-256 (OpenSSL), for members streamed from disk.
class Sha256Stream {
public:
    Sha256Stream();
    ~Sha256Stream();
    Sha256Stream(const Sha256Stream&) = delete;
    Sha256Stream& operator=(const Sha256Stream&) = delete;
    void update(Bytes data);
    std::string finish_hex();

private:
    EVP_MD_CTX* ctx_;
};

std::string sha256_hex(Bytes data);
inline Bytes as_bytes(std::string_view s) {
    return Bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// Writes `content` to `path` with exactly `mode` (umask ignored), atomically (temp file + rename).
tl::expected<void, std::string> write_file_atomic(const std::filesystem::path& path, std::string_view content,
                                                  unsigned mode, bool overwrite);

}  // namespace meshproof::audit::bundle
