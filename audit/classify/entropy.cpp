#include "audit/classify/entropy.hpp"

#include <array>
#include <cmath>
#include <cstdint>

namespace meshproof::audit {
namespace {

constexpr std::size_t kMinEncryptedSample = 64;

constexpr bool is_printable_byte(std::uint8_t b) {
    return (b >= 0x20 && b < 0x7f) || b == '\t' || b == '\r' || b == '\n';
}

// Mean entropy of n uniformly random bytes (measured: a small sample cannot reach 8 bits because
// most byte values never occur). Interpolated linearly in log2(n) between measured points.
double expected_random_entropy(std::size_t n) {
    struct Point {
        double log2n;
        double bits;
    };
    static constexpr std::array<Point, 8> kMeasured{{
        {6.0, 5.76}, {7.0, 6.55}, {8.0, 7.18}, {9.0, 7.59},
        {10.0, 7.81}, {11.0, 7.91}, {12.0, 7.96}, {13.0, 7.98},
    }};
    const double x = std::log2(static_cast<double>(n));
    if (x <= kMeasured.front().log2n) return kMeasured.front().bits;
    for (std::size_t i = 1; i < kMeasured.size(); ++i) {
        if (x <= kMeasured[i].log2n) {
            const Point& a = kMeasured[i - 1];
            const Point& b = kMeasured[i];
            return a.bits + (b.bits - a.bits) * (x - a.log2n) / (b.log2n - a.log2n);
        }
    }
    return kMeasured.back().bits;
}

}  // namespace

double shannon_entropy(Bytes data) {
    if (data.empty()) return 0.0;
    std::array<std::uint32_t, 256> counts{};
    for (std::uint8_t b : data) ++counts[b];
    const double n = static_cast<double>(data.size());
    double h = 0.0;
    for (std::uint32_t c : counts) {
        if (c == 0) continue;
        const double p = static_cast<double>(c) / n;
        h -= p * std::log2(p);
    }
    return h;
}

double printable_ratio(Bytes data) {
    if (data.empty()) return 0.0;
    std::size_t printable = 0;
    for (std::uint8_t b : data) printable += is_printable_byte(b) ? 1 : 0;
    return static_cast<double>(printable) / static_cast<double>(data.size());
}

bool looks_printable_text(Bytes data) { return !data.empty() && printable_ratio(data) >= 0.9; }

bool looks_encrypted(Bytes data) {
    if (data.size() < kMinEncryptedSample) return false;
    // Random bytes are ~37% printable; text and text protocols are far above 75%.
    if (printable_ratio(data) >= 0.75) return false;
    // 0.5 bit below the random mean: random samples of 64 bytes stay above it (measured minimum
    // 5.54 vs threshold 5.26), framing headers inside real ciphertext cost less than that.
    return shannon_entropy(data) >= expected_random_entropy(data.size()) - 0.5;
}

}  // namespace meshproof::audit
