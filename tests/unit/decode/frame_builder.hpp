// Frame builders for the decoder's tests: every layer built byte by byte, in wire order, so a test
// reads like the frame it sends.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "audit/decode/packet.hpp"

namespace meshproof::audit::frames {

using Buf = std::vector<std::uint8_t>;

// ---- frame builder --------------------------------------------------------------------------

inline void put8(Buf& b, unsigned v) { b.push_back(static_cast<std::uint8_t>(v)); }
inline void put16(Buf& b, unsigned v) {
    put8(b, v >> 8);
    put8(b, v);
}
inline void put32(Buf& b, std::uint32_t v) {
    put16(b, v >> 16);
    put16(b, v & 0xFFFF);
}
inline void put16le(Buf& b, unsigned v) {
    put8(b, v);
    put8(b, v >> 8);
}
inline void put32le(Buf& b, std::uint32_t v) {
    put16le(b, v & 0xFFFF);
    put16le(b, v >> 16);
}
inline void append(Buf& b, const Buf& more) { b.insert(b.end(), more.begin(), more.end()); }
inline Buf text(const char* s) {
    Buf b;
    for (; *s != 0; ++s) b.push_back(static_cast<std::uint8_t>(*s));
    return b;
}

using V4 = std::array<std::uint8_t, 4>;
using V6 = std::array<std::uint8_t, 16>;
constexpr V4 kClient4{10, 1, 2, 3};
constexpr V4 kServer4{192, 168, 7, 9};
constexpr V6 kClient6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
constexpr V6 kServer6{0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};

inline IpAddress addr(const V4& v) {
    IpAddress a;
    for (std::size_t i = 0; i < 4; ++i) a.bytes[i] = v[i];
    return a;
}
inline IpAddress addr(const V6& v) {
    IpAddress a;
    a.v6 = true;
    for (std::size_t i = 0; i < 16; ++i) a.bytes[i] = v[i];
    return a;
}

struct TcpSpec {
    std::uint16_t sport = 43210, dport = 443;
    std::uint32_t seq = 0x01020304, ack = 0xA0B0C0D0;
    std::uint8_t flags = tcp_flags::Ack | tcp_flags::Psh;
    std::uint16_t window = 0xFAF0;
    Buf options;                                  // padded to 4 bytes by the caller
    std::optional<unsigned> data_offset_words;    // override to lie
};
inline Buf tcp(const TcpSpec& s, const Buf& payload) {
    Buf b;
    put16(b, s.sport);
    put16(b, s.dport);
    put32(b, s.seq);
    put32(b, s.ack);
    const unsigned words = s.data_offset_words.value_or(5 + static_cast<unsigned>(s.options.size()) / 4);
    put8(b, words << 4);
    put8(b, s.flags);
    put16(b, s.window);
    put32(b, 0);  // checksum, urgent pointer
    append(b, s.options);
    append(b, payload);
    return b;
}

inline Buf udp(std::uint16_t sport, std::uint16_t dport, const Buf& payload,
        std::optional<unsigned> length = std::nullopt) {
    Buf b;
    put16(b, sport);
    put16(b, dport);
    put16(b, length.value_or(8 + static_cast<unsigned>(payload.size())));
    put16(b, 0);
    append(b, payload);
    return b;
}

struct Ipv4Spec {
    V4 src = kClient4, dst = kServer4;
    std::uint8_t protocol = 6;
    std::uint16_t frag = 0x4000;  // DF
    Buf options;
    std::optional<unsigned> total_len;
    std::optional<unsigned> ihl_words;
    unsigned version = 4;
};
inline Buf ipv4(const Ipv4Spec& s, const Buf& l4) {
    Buf b;
    const unsigned ihl = s.ihl_words.value_or(5 + static_cast<unsigned>(s.options.size()) / 4);
    put8(b, (s.version << 4) | ihl);
    put8(b, 0);
    put16(b, s.total_len.value_or(20 + static_cast<unsigned>(s.options.size() + l4.size())));
    put16(b, 0x1234);
    put16(b, s.frag);
    put8(b, 64);
    put8(b, s.protocol);
    put16(b, 0);
    b.insert(b.end(), s.src.begin(), s.src.end());
    b.insert(b.end(), s.dst.begin(), s.dst.end());
    append(b, s.options);
    append(b, l4);
    return b;
}
inline Buf ipv4(const Buf& l4, std::uint8_t protocol = 6) {
    Ipv4Spec s;
    s.protocol = protocol;
    return ipv4(s, l4);
}

struct Ipv6Spec {
    V6 src = kClient6, dst = kServer6;
    std::uint8_t next = 6;
    std::optional<unsigned> payload_len;
};
// `rest` is everything after the fixed header: extension headers and the upper layer.
inline Buf ipv6(const Ipv6Spec& s, const Buf& rest) {
    Buf b;
    put32(b, 0x60012345);
    put16(b, s.payload_len.value_or(static_cast<unsigned>(rest.size())));
    put8(b, s.next);
    put8(b, 64);
    b.insert(b.end(), s.src.begin(), s.src.end());
    b.insert(b.end(), s.dst.begin(), s.dst.end());
    append(b, rest);
    return b;
}
inline Buf ipv6(const Buf& rest, std::uint8_t next = 6) {
    Ipv6Spec s;
    s.next = next;
    return ipv6(s, rest);
}

// Options-style extension header (hop-by-hop, routing, destination, mobility) of `units`*8+8 bytes.
inline Buf ext_header(std::uint8_t next, unsigned units) {
    Buf b;
    put8(b, next);
    put8(b, units);
    b.resize(b.size() + 6 + units * 8, 0);  // zeros are Pad1 options
    return b;
}
inline Buf fragment_header(std::uint8_t next, unsigned offset_units, bool more) {
    Buf b;
    put8(b, next);
    put8(b, 0);
    put16(b, (offset_units << 3) | (more ? 1u : 0u));
    put32(b, 0xCAFEBABE);
    return b;
}
inline Buf ah_header(std::uint8_t next, unsigned len_field) {  // (len_field + 2) * 4 bytes
    Buf b;
    put8(b, next);
    put8(b, len_field);
    b.resize((len_field + 2) * 4, 0xAA);
    return b;
}

constexpr std::uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86DD;
struct Tag {
    std::uint16_t tpid, tci;
};
inline Buf ethernet(std::uint16_t type, const Buf& payload, const std::vector<Tag>& tags = {}) {
    Buf b{0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x02, 0x42, 0xac, 0x11, 0x00, 0x03};
    for (const Tag& t : tags) {
        put16(b, t.tpid);
        put16(b, t.tci);
    }
    put16(b, type);
    append(b, payload);
    return b;
}
inline Buf pppoe_session(std::uint16_t ppp_protocol, const Buf& payload, unsigned ver_type = 0x11,
                  unsigned code = 0) {
    Buf b;
    put8(b, ver_type);
    put8(b, code);
    put16(b, 0x0011);  // session id
    put16(b, 2 + static_cast<unsigned>(payload.size()));
    put16(b, ppp_protocol);
    append(b, payload);
    return b;
}
inline Buf vxlan(std::uint32_t vni, const Buf& inner, unsigned flags = 0x08) {
    Buf b;
    put8(b, flags);
    put8(b, 0);
    put16(b, 0);
    put32(b, vni << 8);
    append(b, inner);
    return b;
}
inline Buf geneve(std::uint32_t vni, std::uint16_t protocol, const Buf& options, const Buf& inner,
           unsigned version = 0) {
    Buf b;
    put8(b, (version << 6) | static_cast<unsigned>(options.size() / 4));
    put8(b, 0);
    put16(b, protocol);
    put32(b, vni << 8);
    append(b, options);
    append(b, inner);
    return b;
}
inline Buf geneve_option(std::uint16_t cls, std::uint8_t type, unsigned data_words) {
    Buf b;
    put16(b, cls);
    put8(b, type);
    put8(b, data_words);
    b.resize(b.size() + data_words * 4, 0x5A);
    return b;
}

inline Buf sll(std::uint16_t protocol, const Buf& payload) {
    Buf b;
    put16(b, 0);    // packet type: to us
    put16(b, 1);    // ARPHRD_ETHER
    put16(b, 6);    // address length
    Buf mac{0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00};
    append(b, mac);
    put16(b, protocol);
    append(b, payload);
    return b;
}
inline Buf sll2(std::uint16_t protocol, const Buf& payload) {
    Buf b;
    put16(b, protocol);
    put16(b, 0);     // reserved
    put32(b, 7);     // interface index
    put16(b, 1);     // ARPHRD_ETHER
    put8(b, 4);      // outgoing
    put8(b, 6);
    Buf mac{0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00};
    append(b, mac);
    append(b, payload);
    return b;
}
inline Buf bsd_null(std::uint32_t family, const Buf& payload, bool little_endian) {
    Buf b;
    if (little_endian) {
        put32le(b, family);
    } else {
        put32(b, family);
    }
    append(b, payload);
    return b;
}

inline DecodedPacket decode(LinkType link, const Buf& frame) { return decode_frame(link, Bytes(frame)); }
// A frame built inline must outlive the payload span that points into it: keep them together.
struct Decoded : DecodedPacket {
    Buf frame;
};
inline Decoded decode(LinkType link, Buf&& frame) {
    Decoded d;
    d.frame = std::move(frame);  // moving a vector keeps its buffer, so the span stays valid
    static_cast<DecodedPacket&>(d) = decode_frame(link, Bytes(d.frame));
    return d;
}
inline Buf bytes_of(Bytes b) { return Buf(b.begin(), b.end()); }
inline Buf prefix(const Buf& b, std::size_t n) { return Buf(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }

// The payload span must lie inside the frame it was decoded from.
inline bool payload_inside(const DecodedPacket& p, const Buf& frame) {
    if (p.payload.empty()) return true;
    const auto* begin = frame.data();
    const auto* end = frame.data() + frame.size();
    return p.payload.data() >= begin && p.payload.data() + p.payload.size() <= end;
}

inline const Buf kHello = text("GET / HTTP/1.1\r\nHost: x\r\n\r\n");


constexpr V4 kNodeA{172, 16, 0, 1};
constexpr V4 kNodeB{172, 16, 0, 2};

inline Buf outer_udp_frame(std::uint16_t dport, const Buf& udp_payload) {
    Ipv4Spec s;
    s.src = kNodeA;
    s.dst = kNodeB;
    s.protocol = 17;
    return ethernet(kEthIpv4, ipv4(s, udp(51000, dport, udp_payload)));
}
inline Buf inner_frame() { return ethernet(kEthIpv4, ipv4(tcp({}, kHello))); }

// An outer node-to-node IPv4 packet of `protocol` carrying `inner`.
inline Buf outer_ip_frame(std::uint8_t protocol, const Buf& inner) {
    Ipv4Spec s;
    s.src = kNodeA;
    s.dst = kNodeB;
    s.protocol = protocol;
    return ethernet(kEthIpv4, ipv4(s, inner));
}
struct GreSpec {
    std::uint16_t protocol = 0x0800;
    std::optional<std::uint32_t> key, sequence;
    bool checksum = false;
    unsigned version = 0;
    bool routing = false;
};
inline Buf gre(const GreSpec& g, const Buf& inner) {
    Buf b;
    unsigned flags = g.version;
    if (g.checksum) flags |= 0x8000;
    if (g.routing) flags |= 0x4000;
    if (g.key) flags |= 0x2000;
    if (g.sequence) flags |= 0x1000;
    put16(b, flags);
    put16(b, g.protocol);
    if (g.checksum) put32(b, 0xBEEF0000u);
    if (g.key) put32(b, *g.key);
    if (g.sequence) put32(b, *g.sequence);
    append(b, inner);
    return b;
}
inline Buf erspan2(unsigned session, const Buf& inner) {
    Buf b;
    put16(b, 0x1000 | 7);           // version 1, VLAN 7
    put16(b, (3u << 13) | session);  // COS 3, session id
    put32(b, 0x00000042);            // reserved + index
    append(b, inner);
    return b;
}
inline Buf erspan3(unsigned session, bool platform_subheader, const Buf& inner) {
    Buf b;
    put16(b, 0x2000 | 7);  // version 2
    put16(b, session);
    put32(b, 0x11223344);  // timestamp
    put16(b, 0);           // SGT
    put16(b, platform_subheader ? 0x0001 : 0x0000);
    if (platform_subheader) append(b, Buf(8, 0xAA));
    append(b, inner);
    return b;
}

}  // namespace meshproof::audit::frames
