// common/hash (plain C++) against OpenSSL's EVP digests over many lengths and byte patterns.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include <openssl/evp.h>

#include "common/hash.hpp"

using namespace meshproof;

namespace {

std::vector<std::uint8_t> openssl_digest(const EVP_MD* md, Bytes data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int len = 0;
    REQUIRE(EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) == 1);
    return {out.begin(), out.begin() + len};
}

}  // namespace

TEST_CASE("md5 and sha256 agree with OpenSSL for every length 0..1100") {
    std::vector<std::uint8_t> data(1100);
    std::uint32_t state = 0x12345678;
    for (auto& b : data) {
        state = state * 1664525u + 1013904223u;  // deterministic pseudo-random bytes
        b = static_cast<std::uint8_t>(state >> 24);
    }
    for (std::size_t n = 0; n <= data.size(); ++n) {
        const Bytes prefix = Bytes(data).first(n);
        const auto m = md5(prefix);
        const auto s = sha256(prefix);
        REQUIRE(std::vector<std::uint8_t>(m.begin(), m.end()) == openssl_digest(EVP_md5(), prefix));
        REQUIRE(std::vector<std::uint8_t>(s.begin(), s.end()) == openssl_digest(EVP_sha256(), prefix));
    }
}
