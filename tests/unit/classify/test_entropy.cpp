#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "audit/classify/entropy.hpp"

using meshproof::Bytes;
using namespace meshproof::audit;

namespace {

// Deterministic stand-in for ciphertext (xorshift64*), so the tests never flake.
std::vector<std::uint8_t> pseudo_random(std::size_t n, std::uint64_t seed = 0x9e3779b97f4a7c15ull) {
    std::vector<std::uint8_t> out(n);
    std::uint64_t x = seed;
    for (auto& b : out) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        b = static_cast<std::uint8_t>((x * 0x2545f4914f6cdd1dull) >> 56);
    }
    return out;
}

std::vector<std::uint8_t> text_bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::string base64_of(const std::vector<std::uint8_t>& in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i + 2 < in.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
        for (int k = 18; k >= 0; k -= 6) out.push_back(kAlphabet[(v >> k) & 0x3f]);
    }
    return out;
}

}  // namespace

TEST_CASE("entropy: shannon_entropy in bits per byte") {
    SUBCASE("empty and constant inputs carry no information") {
        CHECK(shannon_entropy(Bytes{}) == 0.0);
        const std::vector<std::uint8_t> same(1000, 0x41);
        CHECK(shannon_entropy(Bytes(same)) == 0.0);
    }
    SUBCASE("two equally likely values are one bit") {
        std::vector<std::uint8_t> two;
        for (int i = 0; i < 500; ++i) {
            two.push_back(0);
            two.push_back(1);
        }
        CHECK(shannon_entropy(Bytes(two)) == doctest::Approx(1.0));
    }
    SUBCASE("every byte value once is the maximum, 8 bits") {
        std::vector<std::uint8_t> all(256);
        for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
        CHECK(shannon_entropy(Bytes(all)) == doctest::Approx(8.0));
    }
}

TEST_CASE("entropy: printable ratio and text detection") {
    const auto text = text_bytes("GET / HTTP/1.1\r\nHost: example\r\n\r\n");
    CHECK(printable_ratio(Bytes(text)) == doctest::Approx(1.0));
    CHECK(looks_printable_text(Bytes(text)));
    const std::vector<std::uint8_t> binary{0x00, 0x01, 0x02, 'a'};
    CHECK(printable_ratio(Bytes(binary)) == doctest::Approx(0.25));
    CHECK_FALSE(looks_printable_text(Bytes(binary)));
    CHECK_FALSE(looks_printable_text(Bytes{}));
}

TEST_CASE("entropy: looks_encrypted") {
    SUBCASE("random bytes of 64 bytes and more look encrypted") {
        for (std::size_t n : {64u, 100u, 256u, 1000u, 4096u, 16384u}) {
            for (std::uint64_t seed = 1; seed <= 20; ++seed) {
                const auto r = pseudo_random(n, seed * 0x1234567ull);
                INFO("n=" << n << " seed=" << seed << " H=" << shannon_entropy(Bytes(r)));
                CHECK(looks_encrypted(Bytes(r)));
            }
        }
    }
    SUBCASE("fewer than 64 bytes are never judged") {
        const auto r = pseudo_random(63);
        CHECK_FALSE(looks_encrypted(Bytes(r)));
    }
    SUBCASE("text, base64 and zero padding are not encrypted") {
        std::string lorem;
        while (lorem.size() < 2000) lorem += "The quick brown fox jumps over the lazy dog. 0123456789 ";
        CHECK_FALSE(looks_encrypted(Bytes(text_bytes(lorem))));
        const std::string b64 = base64_of(pseudo_random(3000));
        CHECK_FALSE(looks_encrypted(Bytes(text_bytes(b64))));
        const std::vector<std::uint8_t> zeros(4096, 0);
        CHECK_FALSE(looks_encrypted(Bytes(zeros)));
    }
    SUBCASE("structured binary with low entropy is not encrypted") {
        std::vector<std::uint8_t> records;
        for (int i = 0; i < 200; ++i) {
            records.insert(records.end(), {0x00, 0x00, 0x00, 0x10, 0x01, 0x02, 0x00, 0x00});
            records.push_back(static_cast<std::uint8_t>(i & 0x0f));
        }
        CHECK_FALSE(looks_encrypted(Bytes(records)));
    }
}
