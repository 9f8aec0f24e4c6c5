// Text forms of addresses, byte-for-byte what glibc's inet_ntop prints (RFC 5952 compression, plus
// the dotted tail for IPv4-mapped and IPv4-compatible addresses), without pulling in socket headers.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "audit/decode/packet.hpp"

namespace meshproof::audit {
namespace {

void append_decimal(std::string& s, unsigned v) {
    char digits[10];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) s.push_back(digits[--n]);
}

void append_hex16(std::string& s, unsigned v) {
    static constexpr char kHex[] = "0123456789abcdef";
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
        const unsigned nibble = (v >> shift) & 0xFu;
        if (nibble != 0 || started || shift == 0) {
            s.push_back(kHex[nibble]);
            started = true;
        }
    }
}

void append_dotted(std::string& s, const std::uint8_t* b) {
    for (int i = 0; i < 4; ++i) {
        if (i != 0) s.push_back('.');
        append_decimal(s, b[i]);
    }
}

}  // namespace

std::string to_string(const IpAddress& a) {
    std::string s;
    s.reserve(46);  // INET6_ADDRSTRLEN
    if (!a.v6) {
        append_dotted(s, a.bytes.data());
        return s;
    }
    std::array<unsigned, 8> words{};
    for (std::size_t i = 0; i < 8; ++i) words[i] = (unsigned{a.bytes[2 * i]} << 8) | a.bytes[2 * i + 1];

    // The first longest run of zero words, compressed only when at least two long (RFC 5952 4.2.2).
    int best_base = -1, best_len = 0, cur_base = -1, cur_len = 0;
    for (int i = 0; i < 8; ++i) {
        if (words[static_cast<std::size_t>(i)] == 0) {
            if (cur_base == -1) {
                cur_base = i;
                cur_len = 1;
            } else {
                ++cur_len;
            }
        } else if (cur_base != -1) {
            if (best_base == -1 || cur_len > best_len) {
                best_base = cur_base;
                best_len = cur_len;
            }
            cur_base = -1;
        }
    }
    if (cur_base != -1 && (best_base == -1 || cur_len > best_len)) {
        best_base = cur_base;
        best_len = cur_len;
    }
    if (best_base != -1 && best_len < 2) best_base = -1;

    for (int i = 0; i < 8; ++i) {
        if (best_base != -1 && i >= best_base && i < best_base + best_len) {
            if (i == best_base) s.push_back(':');
            continue;
        }
        if (i != 0) s.push_back(':');
        // ::a.b.c.d (IPv4-compatible) and ::ffff:a.b.c.d (IPv4-mapped), as inet_ntop writes them.
        if (i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xFFFF))) {
            append_dotted(s, a.bytes.data() + 12);
            return s;
        }
        append_hex16(s, words[static_cast<std::size_t>(i)]);
    }
    if (best_base != -1 && best_base + best_len == 8) s.push_back(':');
    return s;
}

std::string endpoint_to_string(const IpAddress& a, std::uint16_t port) {
    std::string s;
    s.reserve(54);
    if (a.v6) s.push_back('[');
    s += to_string(a);
    if (a.v6) s.push_back(']');
    s.push_back(':');
    append_decimal(s, port);
    return s;
}

}  // namespace meshproof::audit
