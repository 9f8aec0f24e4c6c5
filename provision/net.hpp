// IP address ranges as MetalLB writes them ("192.168.1.240-192.168.1.250" or "10.0.0.0/28"),
// parsed into inclusive [first, last] intervals so pools can be checked for overlaps.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace meshproof::provision {

enum class IpFamily : std::uint8_t { V4, V6 };

struct IpAddress {
    IpFamily family = IpFamily::V4;
    // Big-endian; IPv4 uses the first 4 bytes, the rest stay zero, so byte order compares correctly.
    std::array<std::uint8_t, 16> bytes{};

    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct IpRange {
    IpAddress first;
    IpAddress last;  // inclusive
};

tl::expected<IpAddress, std::string> parse_ip(std::string_view text);
std::string format_ip(const IpAddress& ip);

// "a.b.c.d/n" or "a-b" (IPv4 or IPv6). A bare address is rejected: MetalLB wants "/32".
tl::expected<IpRange, std::string> parse_ip_range(std::string_view text);
// Only "a.b.c.d/n" (or IPv6 CIDR).
tl::expected<IpRange, std::string> parse_cidr(std::string_view text);

bool ranges_overlap(const IpRange& a, const IpRange& b);
bool range_contains(const IpRange& r, const IpAddress& ip);

// Why an address cannot be handed out by a LoadBalancer (loopback, multicast, ...), or empty.
std::string unusable_address_reason(const IpAddress& ip);

}  // namespace meshproof::provision
