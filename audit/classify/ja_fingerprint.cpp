#include "audit/classify/ja_fingerprint.hpp"

#include <algorithm>
#include <vector>

#include "common/hash.hpp"

namespace meshproof::audit {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void append_hex4(std::string& out, std::uint16_t v) {
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHexDigits[(v >> shift) & 0x0f]);
}

template <typename T>
void append_decimal_list(std::string& out, const std::vector<T>& values) {
    bool first = true;
    for (const T v : values) {
        if (!first) out.push_back('-');
        first = false;
        out += std::to_string(static_cast<unsigned>(v));
    }
}

std::string hex4_list(const std::vector<std::uint16_t>& values) {
    std::string out;
    out.reserve(values.size() * 5);
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out.push_back(',');
        append_hex4(out, values[i]);
    }
    return out;
}

std::string two_digit_count(std::size_t n) {
    const std::size_t capped = std::min<std::size_t>(n, 99);
    std::string out;
    out.push_back(static_cast<char>('0' + capped / 10));
    out.push_back(static_cast<char>('0' + capped % 10));
    return out;
}

// Spec: an empty list is shown as twelve zeros rather than the hash of nothing.
std::string truncated_sha256(std::string_view text, bool empty_list) {
    if (empty_list) return "000000000000";
    return to_hex(sha256(text)).substr(0, 12);
}

bool is_ascii_alnum(std::uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

std::vector<std::uint16_t> without_grease(const std::vector<std::uint16_t>& in) {
    std::vector<std::uint16_t> out;
    out.reserve(in.size());
    for (const auto v : in)
        if (!is_grease(v)) out.push_back(v);
    return out;
}

struct Ja4Parts {
    std::string prefix;  // ja4_a
    std::vector<std::uint16_t> ciphers;
    std::vector<std::uint16_t> extensions;
    std::vector<std::uint16_t> sigalgs;
};

Ja4Parts ja4_parts(const TlsClientHello& hello) {
    // The parser already removes GREASE; removing again keeps the function right for hand-built input.
    Ja4Parts p;
    p.ciphers = without_grease(hello.cipher_suites);
    p.extensions = without_grease(hello.extensions);
    p.sigalgs = without_grease(hello.signature_algorithms);
    const bool sni = std::find(p.extensions.begin(), p.extensions.end(), 0x0000) != p.extensions.end();
    p.prefix = "t" + ja4_version_code(hello) + (sni ? "d" : "i") + two_digit_count(p.ciphers.size()) +
               two_digit_count(p.extensions.size()) +
               ja4_alpn_code(hello.alpn.empty() ? std::string_view{} : std::string_view{hello.alpn.front()});
    return p;
}

std::string extension_part(const std::vector<std::uint16_t>& extensions, const std::vector<std::uint16_t>& sigalgs) {
    std::string text = hex4_list(extensions);
    if (!sigalgs.empty()) text += "_" + hex4_list(sigalgs);
    return text;
}

std::vector<std::uint16_t> sorted_without_sni_alpn(std::vector<std::uint16_t> extensions) {
    std::erase_if(extensions, [](std::uint16_t e) { return e == 0x0000 || e == 0x0010; });
    std::sort(extensions.begin(), extensions.end());
    return extensions;
}

}  // namespace

std::string ja3_string(const TlsClientHello& hello) {
    std::string out = std::to_string(hello.legacy_version);
    out.push_back(',');
    append_decimal_list(out, without_grease(hello.cipher_suites));
    out.push_back(',');
    append_decimal_list(out, without_grease(hello.extensions));
    out.push_back(',');
    append_decimal_list(out, without_grease(hello.groups));
    out.push_back(',');
    append_decimal_list(out, hello.ec_point_formats);
    return out;
}

std::string ja3_hash(std::string_view ja3_text) { return to_hex(md5(ja3_text)); }

std::string ja4_version_code(const TlsClientHello& hello) {
    std::uint16_t version = hello.legacy_version;
    bool found = false;
    for (const auto v : hello.supported_versions) {
        if (is_grease(v)) continue;
        if (!found || v > version) version = v;
        found = true;
    }
    switch (version) {
        case 0x0304: return "13";
        case 0x0303: return "12";
        case 0x0302: return "11";
        case 0x0301: return "10";
        case 0x0300: return "s3";
        case 0x0002: return "s2";
        default: return "00";
    }
}

std::string ja4_alpn_code(std::string_view first_alpn) {
    if (first_alpn.empty()) return "00";
    const auto first = static_cast<std::uint8_t>(first_alpn.front());
    const auto last = static_cast<std::uint8_t>(first_alpn.back());
    if (is_ascii_alnum(first) && is_ascii_alnum(last)) {
        return std::string{static_cast<char>(first), static_cast<char>(last)};
    }
    // Non-alphanumeric at either end: first and last characters of the value's hex form.
    return std::string{kHexDigits[first >> 4], kHexDigits[last & 0x0f]};
}

std::string ja4(const TlsClientHello& hello) {
    const Ja4Parts p = ja4_parts(hello);
    std::vector<std::uint16_t> ciphers = p.ciphers;
    std::sort(ciphers.begin(), ciphers.end());
    const std::vector<std::uint16_t> extensions = sorted_without_sni_alpn(p.extensions);
    return p.prefix + "_" + truncated_sha256(hex4_list(ciphers), ciphers.empty()) + "_" +
           truncated_sha256(extension_part(extensions, p.sigalgs), extensions.empty());
}

std::string ja4_original(const TlsClientHello& hello) {
    const Ja4Parts p = ja4_parts(hello);
    return p.prefix + "_" + truncated_sha256(hex4_list(p.ciphers), p.ciphers.empty()) + "_" +
           truncated_sha256(extension_part(p.extensions, p.sigalgs), p.extensions.empty());
}

std::string ja4_raw(const TlsClientHello& hello, bool original_order) {
    const Ja4Parts p = ja4_parts(hello);
    std::vector<std::uint16_t> ciphers = p.ciphers;
    std::vector<std::uint16_t> extensions = p.extensions;
    if (!original_order) {
        std::sort(ciphers.begin(), ciphers.end());
        extensions = sorted_without_sni_alpn(std::move(extensions));
    }
    return p.prefix + "_" + hex4_list(ciphers) + "_" + extension_part(extensions, p.sigalgs);
}

}  // namespace meshproof::audit
