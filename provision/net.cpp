#include "provision/net.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace meshproof::provision {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::size_t address_bits(IpFamily f) { return f == IpFamily::V4 ? 32 : 128; }

}  // namespace

tl::expected<IpAddress, std::string> parse_ip(std::string_view text) {
    text = trim(text);
    if (text.empty()) return tl::unexpected(std::string("empty address"));
    if (text.size() > 64) return tl::unexpected(std::string("address too long"));
    const std::string s(text);
    IpAddress ip;
    if (s.find(':') == std::string::npos) {
        in_addr a4{};
        if (inet_pton(AF_INET, s.c_str(), &a4) != 1) return tl::unexpected("'" + s + "' is not an IPv4 address");
        ip.family = IpFamily::V4;
        std::memcpy(ip.bytes.data(), &a4.s_addr, 4);  // already network order
    } else {
        in6_addr a6{};
        if (inet_pton(AF_INET6, s.c_str(), &a6) != 1) return tl::unexpected("'" + s + "' is not an IPv6 address");
        ip.family = IpFamily::V6;
        std::memcpy(ip.bytes.data(), a6.s6_addr, 16);
    }
    return ip;
}

std::string format_ip(const IpAddress& ip) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ip.family == IpFamily::V4) {
        in_addr a4{};
        std::memcpy(&a4.s_addr, ip.bytes.data(), 4);
        inet_ntop(AF_INET, &a4, buf, sizeof buf);
    } else {
        in6_addr a6{};
        std::memcpy(a6.s6_addr, ip.bytes.data(), 16);
        inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    }
    return buf;
}

tl::expected<IpRange, std::string> parse_cidr(std::string_view text) {
    text = trim(text);
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return tl::unexpected("'" + std::string(text) + "' is not a CIDR (a.b.c.d/n)");
    auto base = parse_ip(text.substr(0, slash));
    if (!base) return tl::unexpected(base.error());
    const auto len_text = trim(text.substr(slash + 1));
    unsigned prefix = 0;
    const auto* end = len_text.data() + len_text.size();
    const auto [ptr, ec] = std::from_chars(len_text.data(), end, prefix);
    if (len_text.empty() || ec != std::errc() || ptr != end)
        return tl::unexpected("'" + std::string(len_text) + "' is not a prefix length");
    const std::size_t bits = address_bits(base->family);
    if (prefix > bits)
        return tl::unexpected("prefix length /" + std::to_string(prefix) + " is longer than " + std::to_string(bits) + " bits");
    IpRange r{*base, *base};
    // Clear host bits in `first`, set them in `last`.
    for (std::size_t bit = prefix; bit < bits; ++bit) {
        const std::size_t byte = bit / 8;
        const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
        r.first.bytes[byte] = static_cast<std::uint8_t>(r.first.bytes[byte] & ~mask);
        r.last.bytes[byte] = static_cast<std::uint8_t>(r.last.bytes[byte] | mask);
    }
    return r;
}

tl::expected<IpRange, std::string> parse_ip_range(std::string_view text) {
    text = trim(text);
    if (text.find('/') != std::string_view::npos) return parse_cidr(text);
    const auto dash = text.find('-');
    if (dash == std::string_view::npos) {
        if (parse_ip(text)) {
            return tl::unexpected("'" + std::string(text) + "' is a single address; write it as " + std::string(text) +
                                  (text.find(':') == std::string_view::npos ? "/32" : "/128"));
        }
        return tl::unexpected("'" + std::string(text) + "' is neither a CIDR (a.b.c.d/n) nor a range (first-last)");
    }
    auto first = parse_ip(text.substr(0, dash));
    if (!first) return tl::unexpected(first.error());
    auto last = parse_ip(text.substr(dash + 1));
    if (!last) return tl::unexpected(last.error());
    if (first->family != last->family) return tl::unexpected(std::string("range mixes IPv4 and IPv6"));
    if (*last < *first)
        return tl::unexpected("range starts at " + format_ip(*first) + " but ends before it, at " + format_ip(*last));
    return IpRange{*first, *last};
}

bool ranges_overlap(const IpRange& a, const IpRange& b) {
    if (a.first.family != b.first.family) return false;
    return !(a.last < b.first || b.last < a.first);
}

bool range_contains(const IpRange& r, const IpAddress& ip) {
    return ip.family == r.first.family && !(ip < r.first) && !(r.last < ip);
}

std::string unusable_address_reason(const IpAddress& ip) {
    const auto& b = ip.bytes;
    if (ip.family == IpFamily::V4) {
        if (b[0] == 0) return "is in 0.0.0.0/8 (\"this network\")";
        if (b[0] == 127) return "is a loopback address (127.0.0.0/8)";
        if (b[0] >= 224 && b[0] <= 239) return "is a multicast address (224.0.0.0/4)";
        if (b[0] >= 240) return "is in the reserved/broadcast range 240.0.0.0/4";
        if (b[0] == 169 && b[1] == 254) return "is link-local (169.254.0.0/16)";
        return {};
    }
    bool all_zero_but_last = true;
    for (std::size_t i = 0; i < 15; ++i) all_zero_but_last = all_zero_but_last && b[i] == 0;
    if (all_zero_but_last && (b[15] == 0 || b[15] == 1)) return "is the IPv6 unspecified or loopback address";
    if (b[0] == 0xff) return "is an IPv6 multicast address (ff00::/8)";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "is IPv6 link-local (fe80::/10)";
    return {};
}

}  // namespace meshproof::provision
