#include "audit/classify/tls_facts.hpp"

namespace meshproof::audit {

bool is_grease(std::uint16_t v) {
    const auto hi = static_cast<std::uint8_t>(v >> 8);
    const auto lo = static_cast<std::uint8_t>(v & 0xff);
    return hi == lo && (lo & 0x0f) == 0x0a;
}

bool is_tls13_family(std::uint16_t v) {
    return v == 0x0304 || (v >> 8) == 0x7f || (v >> 8) == 0xfb;
}

std::string tls_version_name(std::uint16_t v) {
    switch (v) {
        case 0x0304: return "1.3";
        case 0x0303: return "1.2";
        case 0x0302: return "1.1";
        case 0x0301: return "1.0";
        case 0x0300: return "ssl3";
        case 0x0002: return "ssl2";
        default: break;
    }
    // Pre-RFC 8446 drafts were numbered 0x7f00 + draft number (0x7f17 = draft 23).
    if ((v >> 8) == 0x7f) return "1.3-draft-" + std::to_string(v & 0xff);
    // Facebook's fizz spoke TLS 1.3 under private code points (0xfb17, 0xfb1a).
    if ((v >> 8) == 0xfb) return "1.3-fb";
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out = "0x";
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kDigits[(v >> shift) & 0x0f]);
    return out;
}

}  // namespace meshproof::audit
