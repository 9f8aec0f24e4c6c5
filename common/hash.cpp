#include "common/hash.hpp"

#include <algorithm>
#include <bit>

namespace meshproof {
namespace {

std::span<const std::uint8_t> text_bytes(std::string_view text) {
    // Viewing chars as bytes is the one place a reinterpret_cast is unavoidable.
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Shared Merkle-Damgard buffering: fill 64-byte blocks, compress each full one.
template <typename Compress>
void absorb(Bytes data, std::array<std::uint8_t, 64>& buffer, std::size_t& buffered, std::uint64_t& total,
            Compress&& compress) {
    total += data.size();
    std::size_t at = 0;
    if (buffered > 0) {
        const std::size_t take = std::min(data.size(), buffer.size() - buffered);
        for (std::size_t i = 0; i < take; ++i) buffer[buffered + i] = data[i];
        buffered += take;
        at = take;
        if (buffered < buffer.size()) return;
        compress(Bytes(buffer));
        buffered = 0;
    }
    while (data.size() - at >= 64) {
        compress(data.subspan(at, 64));
        at += 64;
    }
    for (; at < data.size(); ++at) buffer[buffered++] = data[at];
}

// MD5 per-round constants: floor(abs(sin(i + 1)) * 2^32) and the shift amounts (RFC 1321 3.4).
constexpr std::array<std::uint32_t, 64> kMd5K = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
constexpr std::array<int, 64> kMd5Shift = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                           5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

// SHA-256 round constants: first 32 bits of the fractional parts of the cube roots of the first 64 primes.
constexpr std::array<std::uint32_t, 64> kSha256K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// Padding: 0x80, zeros up to 56 mod 64, then the bit length (little-endian for MD5, big-endian for SHA).
std::array<std::uint8_t, 72> padding(std::uint64_t total_bytes, bool big_endian, std::size_t& pad_len) {
    std::array<std::uint8_t, 72> pad{};
    pad[0] = 0x80;
    const std::size_t used = static_cast<std::size_t>(total_bytes % 64);
    const std::size_t zeros_end = used < 56 ? 56 - used : 120 - used;
    const std::uint64_t bits = total_bytes * 8;
    for (std::size_t i = 0; i < 8; ++i) {
        const std::size_t shift = big_endian ? (7 - i) * 8 : i * 8;
        pad[zeros_end + i] = static_cast<std::uint8_t>(bits >> shift);
    }
    pad_len = zeros_end + 8;
    return pad;
}

}  // namespace

Md5::Md5() : state_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476} {}

void Md5::compress(Bytes block) {
    std::array<std::uint32_t, 16> m{};
    ByteReader words(block);
    for (auto& w : m) words.u32le(w);
    std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    for (std::size_t i = 0; i < 64; ++i) {
        std::uint32_t f = 0;
        std::size_t g = 0;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        const std::uint32_t rotated = std::rotl(a + f + kMd5K[i] + m[g], kMd5Shift[i]);
        a = d;
        d = c;
        c = b;
        b = b + rotated;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
}

void Md5::update(Bytes data) {
    absorb(data, buffer_, buffered_, total_bytes_, [this](Bytes block) { compress(block); });
}
void Md5::update(std::string_view text) { update(text_bytes(text)); }

Md5Digest Md5::finish() {
    std::size_t pad_len = 0;
    const auto pad = padding(total_bytes_, /*big_endian=*/false, pad_len);
    update(Bytes(pad.data(), pad_len));
    Md5Digest out{};
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 4; ++j) out[4 * i + j] = static_cast<std::uint8_t>(state_[i] >> (8 * j));
    return out;
}

Sha256::Sha256()
    : state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::compress(Bytes block) {
    std::array<std::uint32_t, 64> w{};
    ByteReader words(block);
    for (std::size_t i = 0; i < 16; ++i) words.u32(w[i]);
    for (std::size_t i = 16; i < 64; ++i) {
        const std::uint32_t s0 = std::rotr(w[i - 15], 7) ^ std::rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        const std::uint32_t s1 = std::rotr(w[i - 2], 17) ^ std::rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    std::uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
    for (std::size_t i = 0; i < 64; ++i) {
        const std::uint32_t s1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
        const std::uint32_t ch = (e & f) ^ (~e & g);
        const std::uint32_t t1 = h + s1 + ch + kSha256K[i] + w[i];
        const std::uint32_t s0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
        const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        const std::uint32_t t2 = s0 + maj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
    state_[4] += e;
    state_[5] += f;
    state_[6] += g;
    state_[7] += h;
}

void Sha256::update(Bytes data) {
    absorb(data, buffer_, buffered_, total_bytes_, [this](Bytes block) { compress(block); });
}
void Sha256::update(std::string_view text) { update(text_bytes(text)); }

Sha256Digest Sha256::finish() {
    std::size_t pad_len = 0;
    const auto pad = padding(total_bytes_, /*big_endian=*/true, pad_len);
    update(Bytes(pad.data(), pad_len));
    Sha256Digest out{};
    for (std::size_t i = 0; i < 8; ++i)
        for (std::size_t j = 0; j < 4; ++j)
            out[4 * i + j] = static_cast<std::uint8_t>(state_[i] >> (24 - 8 * j));
    return out;
}

Md5Digest md5(Bytes data) {
    Md5 h;
    h.update(data);
    return h.finish();
}
Md5Digest md5(std::string_view text) { return md5(text_bytes(text)); }

Sha256Digest sha256(Bytes data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}
Sha256Digest sha256(std::string_view text) { return sha256(text_bytes(text)); }

std::string to_hex(Bytes data) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (const std::uint8_t b : data) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 0x0f]);
    }
    return out;
}

}  // namespace meshproof
