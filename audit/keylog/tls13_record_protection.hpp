// TLS 1.3 record protection (RFC 8446 5.2, 5.3, 7.1, 7.3) with OpenSSL 3's EVP_KDF (HKDF) and EVP
// AEAD ciphers: traffic secret -> write key and iv -> one record opened at a time, its nonce the iv
// XOR the record's sequence number. Only opening: meshproof reads, it never writes records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "audit/keylog/secret_bytes.hpp"
#include "common/byte_reader.hpp"

namespace meshproof::audit {

enum class Tls13Aead : std::uint8_t { Aes128Gcm, Aes256Gcm, Chacha20Poly1305, Aes128Ccm, Aes128Ccm8 };

struct Tls13CipherSuite {
    std::uint16_t id = 0;
    std::string_view name;     // IANA name, e.g. TLS_AES_128_GCM_SHA256
    Tls13Aead aead = Tls13Aead::Aes128Gcm;
    std::string_view digest;   // OpenSSL digest name for HKDF: "SHA256" / "SHA384"
    std::size_t hash_length = 0;
    std::size_t key_length = 0;
    std::size_t tag_length = 0;
};

// The five TLS 1.3 suites of RFC 8446 B.4; nullptr for anything else.
const Tls13CipherSuite* find_tls13_cipher_suite(std::uint16_t id);

// HKDF-Expand-Label(secret, label, context, length) of RFC 8446 7.1 ("tls13 " is prepended to label).
tl::expected<SecretBytes, std::string> hkdf_expand_label(const Tls13CipherSuite& suite, Bytes secret,
                                                         std::string_view label, Bytes context,
                                                         std::size_t length);

struct TrafficKeys {
    SecretBytes key;  // [sender]_write_key
    SecretBytes iv;   // [sender]_write_iv (12 bytes)
};
// RFC 8446 7.3: key = Expand-Label(secret, "key", "", key_length), iv = Expand-Label(secret, "iv", "", 12).
tl::expected<TrafficKeys, std::string> derive_traffic_keys(const Tls13CipherSuite& suite, Bytes traffic_secret);

// TLSInnerPlaintext without its padding.
struct Tls13Plaintext {
    std::uint8_t content_type = 0;
    std::vector<std::uint8_t> content;
};

enum class OpenError : std::uint8_t {
    NotApplicationData,  // the outer type of a protected record is always application_data (23)
    BadLength,           // header length != body, shorter than the tag + 1, or over 2^14 + 256
    Authentication,      // the AEAD tag did not verify: wrong key, wrong sequence, or damaged
    NoContentType,       // the plaintext was all zeros (RFC 8446 5.4: unexpected_message)
};
std::string_view to_string(OpenError e);

// Opens the records of one direction and one key, in order. The sequence number advances only when
// a record opens, so a record under another key (0-RTT data before the handshake flight) can be
// skipped and the next one still opens.
class Tls13RecordOpener {
public:
    static tl::expected<Tls13RecordOpener, std::string> create(const Tls13CipherSuite& suite, Bytes traffic_secret);
    ~Tls13RecordOpener();
    Tls13RecordOpener(Tls13RecordOpener&&) noexcept;
    Tls13RecordOpener& operator=(Tls13RecordOpener&&) noexcept;

    // `record` = the 5-byte header (the AAD) and exactly the body it announces.
    tl::expected<Tls13Plaintext, OpenError> open(Bytes record);
    [[nodiscard]] std::uint64_t sequence() const { return sequence_; }
    [[nodiscard]] const Tls13CipherSuite& suite() const { return *suite_; }

private:
    struct Cipher;
    Tls13RecordOpener(const Tls13CipherSuite& suite, TrafficKeys keys);
    const Tls13CipherSuite* suite_;
    TrafficKeys keys_;
    std::unique_ptr<Cipher> cipher_;
    std::uint64_t sequence_ = 0;
};

}  // namespace meshproof::audit
