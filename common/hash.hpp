// MD5 and SHA-256 in plain C++ (RFC 1321, FIPS 180-4), for fingerprints such as JA3 and JA4.
// The classifiers must not depend on OpenSSL, so these live here; they are not meant for security
// decisions (MD5 is broken), only for reproducing published fingerprint formats.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/byte_reader.hpp"

namespace meshproof {

using Md5Digest = std::array<std::uint8_t, 16>;
using Sha256Digest = std::array<std::uint8_t, 32>;

// Incremental MD5: update() any number of times, then finish() once.
class Md5 {
public:
    Md5();
    void update(Bytes data);
    void update(std::string_view text);
    Md5Digest finish();

private:
    void compress(Bytes block);  // exactly 64 bytes
    std::array<std::uint32_t, 4> state_;
    std::array<std::uint8_t, 64> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t total_bytes_ = 0;
};

// Incremental SHA-256: update() any number of times, then finish() once.
class Sha256 {
public:
    Sha256();
    void update(Bytes data);
    void update(std::string_view text);
    Sha256Digest finish();

private:
    void compress(Bytes block);  // exactly 64 bytes
    std::array<std::uint32_t, 8> state_;
    std::array<std::uint8_t, 64> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t total_bytes_ = 0;
};

Md5Digest md5(Bytes data);
Md5Digest md5(std::string_view text);
Sha256Digest sha256(Bytes data);
Sha256Digest sha256(std::string_view text);

// Lower-case hex, two characters per byte.
std::string to_hex(Bytes data);
inline std::string to_hex(const Md5Digest& d) { return to_hex(Bytes(d)); }
inline std::string to_hex(const Sha256Digest& d) { return to_hex(Bytes(d)); }

}  // namespace meshproof
