// Frame decoder: link layer -> (VLAN/PPPoE) -> IPv4/IPv6 -> TCP/UDP, looking through the tunnels that
// carry pod traffic between nodes (VXLAN, Geneve, Calico's IP-in-IP, GRE) and port mirrors (ERSPAN).
// Every layer reads through a ByteReader, so a short or lying frame can only stop the decode, never
// walk past the end. No allocation and no exceptions: this runs once per captured packet.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "audit/decode/decode_layers.hpp"
#include "audit/decode/packet.hpp"
#include "common/byte_reader.hpp"

namespace meshproof::audit {
namespace detail {
namespace {

namespace ipproto {
inline constexpr std::uint8_t HopByHop = 0;
inline constexpr std::uint8_t IpInIp = 4;     // Calico's default encapsulation (IPIP)
inline constexpr std::uint8_t Tcp = 6;
inline constexpr std::uint8_t Udp = 17;
inline constexpr std::uint8_t Ipv6InIp = 41;
inline constexpr std::uint8_t Gre = 47;
inline constexpr std::uint8_t Routing = 43;
inline constexpr std::uint8_t Fragment = 44;
inline constexpr std::uint8_t Ah = 51;
inline constexpr std::uint8_t NoNext = 59;
inline constexpr std::uint8_t DestOptions = 60;
inline constexpr std::uint8_t Mobility = 135;
inline constexpr std::uint8_t Hip = 139;
inline constexpr std::uint8_t Shim6 = 140;
}  // namespace ipproto

inline constexpr std::uint16_t kVxlanPort = 4789;
inline constexpr std::uint16_t kFlannelVxlanPort = 8472;  // Linux's historic default, used by flannel/k3s
inline constexpr std::uint16_t kGenevePort = 6081;
inline constexpr std::uint16_t kCapwapDataPort = 5247;
// Real networks stack 1-2 tags; a long run of tags is an attack on the decoder or garbage.
inline constexpr int kMaxVlanTags = 8;

// The part of an IP packet after the bytes consumed so far: what the capture holds (`present`,
// already trimmed to the IP length so Ethernet padding never reaches a parser) and what the IP
// headers say was sent (`wire_len`).
struct IpPayload {
    ByteReader present;
    std::uint32_t wire_len = 0;
};

// Why `n` more header bytes are missing: the IP length itself is too short (a lie: Malformed), or
// the snap length cut the frame (Truncated).
DecodeStatus short_header_status(const IpPayload& p, std::size_t n) {
    return p.wire_len < n ? DecodeStatus::Malformed : DecodeStatus::Truncated;
}

// Consume a header of `n` bytes from both views; false (with `out.status` set) when it is not there.
bool take_header(IpPayload& p, std::size_t n, DecodedPacket& out) {
    if (p.wire_len < n || p.present.remaining() < n) {
        out.status = short_header_status(p, n);
        return false;
    }
    p.present.skip(n);
    p.wire_len -= static_cast<std::uint32_t>(n);
    return true;
}

void read_address(ByteReader& r, IpAddress& a, bool v6) {
    Bytes raw;
    const std::size_t n = v6 ? 16 : 4;
    if (!r.bytes(n, raw)) return;  // callers check the length first
    a = IpAddress{};
    a.v6 = v6;
    std::copy(raw.begin(), raw.end(), a.bytes.begin());
}

// VXLAN (RFC 7348): flags(8, I=0x08) reserved(24) VNI(24) reserved(8), then an Ethernet frame.
bool try_vxlan(Bytes udp_payload, DecodedPacket& out, DecodeContext& ctx) {
    ByteReader r(udp_payload);
    std::uint8_t flags = 0;
    std::uint32_t vni_word = 0;
    if (!r.u8(flags) || !r.skip(3) || !r.u32(vni_word)) return false;
    if ((flags & 0x08) == 0) return false;  // no valid VNI: not VXLAN as Linux understands it
    if (const auto e = ctx.enter(Tunnel::Vxlan, vni_word >> 8, out); e != DecodeContext::Enter::Ok)
        return stop_at_tunnel(e, Tunnel::Vxlan, out);
    DecodedPacket inner{};
    decode_ethernet(r, inner, ctx);
    adopt_inner(out, inner, Tunnel::Vxlan, vni_word >> 8);
    return true;
}

// Geneve (RFC 8926): ver(2) optlen(6, 4-byte words) | O C rsvd(6) | protocol(16) | VNI(24) rsvd(8),
// options, then the payload named by protocol.
bool try_geneve(Bytes udp_payload, DecodedPacket& out, DecodeContext& ctx) {
    ByteReader r(udp_payload);
    std::uint8_t ver_optlen = 0;
    std::uint8_t flags = 0;
    std::uint16_t protocol = 0;
    std::uint32_t vni_word = 0;
    if (!r.u8(ver_optlen) || !r.u8(flags) || !r.u16(protocol) || !r.u32(vni_word)) return false;
    if ((ver_optlen >> 6) != 0) return false;
    if (!r.skip(std::size_t{ver_optlen & 0x3Fu} * 4)) return false;
    if (protocol != ethertype::TransparentEthernet && protocol != ethertype::Ipv4 && protocol != ethertype::Ipv6)
        return false;
    if (const auto e = ctx.enter(Tunnel::Geneve, vni_word >> 8, out); e != DecodeContext::Enter::Ok)
        return stop_at_tunnel(e, Tunnel::Geneve, out);
    DecodedPacket inner{};
    switch (protocol) {
        case ethertype::TransparentEthernet: decode_ethernet(r, inner, ctx); break;
        case ethertype::Ipv4: decode_ipv4(r, inner, ctx); break;
        default: decode_ipv6(r, inner, ctx); break;
    }
    adopt_inner(out, inner, Tunnel::Geneve, vni_word >> 8);
    return true;
}

// IP-in-IP (RFC 2003) and IPv6-in-IP (RFC 4213): the protocol number alone names the inner packet.
bool decapsulate_ip(std::uint8_t protocol, Bytes inner_bytes, DecodedPacket& out, DecodeContext& ctx) {
    if (const auto e = ctx.enter(Tunnel::IpInIp, protocol, out); e != DecodeContext::Enter::Ok)
        return stop_at_tunnel(e, Tunnel::IpInIp, out);
    DecodedPacket inner{};
    if (protocol == ipproto::IpInIp) decode_ipv4(ByteReader(inner_bytes), inner, ctx);
    else decode_ipv6(ByteReader(inner_bytes), inner, ctx);
    adopt_inner(out, inner, Tunnel::IpInIp, 0);
    return true;
}

// ERSPAN after its GRE header: type I has no header of its own, type II 8 bytes, type III 12 (+8
// with the platform sub-header). Session IDs are reported as the tunnel id.
bool try_erspan(std::uint16_t gre_protocol, bool gre_sequence, ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    std::uint32_t session = 0;
    if (gre_protocol == ethertype::ErspanType2 && gre_sequence) {
        std::uint16_t ver_vlan = 0, cos_session = 0;
        if (!r.u16(ver_vlan) || !r.u16(cos_session) || !r.skip(4)) return false;
        if ((ver_vlan >> 12) != 1) return false;
        session = cos_session & 0x3FFu;
    } else if (gre_protocol == ethertype::ErspanType3) {
        std::uint16_t ver_vlan = 0, cos_session = 0, flags_low = 0;
        if (!r.u16(ver_vlan) || !r.u16(cos_session) || !r.skip(4 + 2) || !r.u16(flags_low)) return false;
        if ((ver_vlan >> 12) != 2) return false;
        if ((flags_low & 0x0001) != 0 && !r.skip(8)) return false;  // O: platform-specific sub-header
        session = cos_session & 0x3FFu;
    }
    if (const auto e = ctx.enter(Tunnel::Erspan, session, out); e != DecodeContext::Enter::Ok)
        return stop_at_tunnel(e, Tunnel::Erspan, out);
    DecodedPacket inner{};
    decode_ethernet(r, inner, ctx);
    adopt_inner(out, inner, Tunnel::Erspan, session);
    return true;
}

// GRE (RFC 2784/2890): C R K S s Recur(3) flags(5) ver(3) | protocol(16), then the optional checksum,
// key and sequence words the flags announce. Only version 0 (PPTP's enhanced GRE is version 1) and no
// source routing (deprecated R bit). The key is reported as the tunnel id.
bool try_gre(Bytes gre_bytes, DecodedPacket& out, DecodeContext& ctx) {
    ByteReader r(gre_bytes);
    std::uint16_t flags = 0, protocol = 0;
    if (!r.u16(flags) || !r.u16(protocol)) return false;
    if ((flags & 0x0007) != 0 || (flags & 0x4000) != 0) return false;
    std::uint32_t key = 0;
    if ((flags & 0x8000) != 0 && !r.skip(4)) return false;
    if ((flags & 0x2000) != 0 && !r.u32(key)) return false;
    const bool sequence = (flags & 0x1000) != 0;
    if (sequence && !r.skip(4)) return false;
    if (protocol == ethertype::ErspanType2 || protocol == ethertype::ErspanType3)
        return try_erspan(protocol, sequence, r, out, ctx);
    if (protocol != ethertype::Ipv4 && protocol != ethertype::Ipv6 && protocol != ethertype::TransparentEthernet &&
        protocol != ethertype::MplsUnicast && protocol != ethertype::MplsMulticast)
        return false;
    if (const auto e = ctx.enter(Tunnel::Gre, key, out); e != DecodeContext::Enter::Ok)
        return stop_at_tunnel(e, Tunnel::Gre, out);
    DecodedPacket inner{};
    decode_ethertype(protocol, r, inner, ctx);
    adopt_inner(out, inner, Tunnel::Gre, key);
    return true;
}

void decode_tcp(IpPayload p, DecodedPacket& out) {
    ByteReader h = p.present;
    if (p.wire_len < 20 || h.remaining() < 20) {
        out.status = short_header_status(p, 20);
        return;
    }
    std::uint8_t offset_byte = 0;
    std::uint8_t flags = 0;
    h.u16(out.src_port);
    h.u16(out.dst_port);
    h.u32(out.seq);
    h.u32(out.ack);
    h.u8(offset_byte);
    h.u8(flags);
    h.u16(out.window);
    const std::size_t header_len = std::size_t{static_cast<unsigned>(offset_byte >> 4)} * 4;
    if (header_len < 20) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    if (header_len > p.wire_len) {  // options longer than the whole segment
        out.status = DecodeStatus::Malformed;
        return;
    }
    out.transport = Transport::Tcp;
    out.tcp_flags = flags;
    out.wire_payload_len = p.wire_len - static_cast<std::uint32_t>(header_len);
    out.status = DecodeStatus::Ok;
    // The fixed header holds all a flow needs. When the snap length cuts the options (a SYN in a
    // 54/68-byte capture), keep the segment with no payload bytes, as tshark does, rather than
    // lose the handshake.
    if (!p.present.skip(header_len)) {
        out.payload = p.present.rest().first(0);
        return;
    }
    out.payload = p.present.rest();
}

void decode_udp(IpPayload p, DecodedPacket& out, DecodeContext& ctx) {
    ByteReader h = p.present;
    if (p.wire_len < 8 || h.remaining() < 8) {
        out.status = short_header_status(p, 8);
        return;
    }
    std::uint16_t length = 0;
    h.u16(out.src_port);
    h.u16(out.dst_port);
    h.u16(length);
    std::uint32_t udp_len = length;
    // A UDP length of 0 is only legal inside an IPv6 jumbogram; the IP length is then the truth.
    if (udp_len == 0 && p.wire_len > 0xFFFF) udp_len = p.wire_len;
    if (udp_len < 8 || udp_len > p.wire_len) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    out.transport = Transport::Udp;
    p.present.skip(8);
    const std::uint32_t payload_len = udp_len - 8;
    Bytes payload = p.present.rest();
    payload = payload.first(std::min<std::size_t>(payload.size(), payload_len));
    out.payload = payload;
    out.wire_payload_len = payload_len;
    out.status = DecodeStatus::Ok;

    if (out.dst_port == kVxlanPort || out.dst_port == kFlannelVxlanPort) {
        try_vxlan(payload, out, ctx);
    } else if (out.dst_port == kGenevePort) {
        try_geneve(payload, out, ctx);
    } else if (out.dst_port == kCapwapDataPort || out.src_port == kCapwapDataPort) {
        // Both directions: access point -> controller goes to 5247, the controller answers from it.
        try_capwap(payload, out, ctx);
    }
}

void decode_transport(std::uint8_t protocol, IpPayload p, DecodedPacket& out, DecodeContext& ctx) {
    out.ip_protocol = protocol;
    switch (protocol) {
        case ipproto::Tcp: decode_tcp(p, out); return;
        case ipproto::Udp: decode_udp(p, out, ctx); return;
        case ipproto::IpInIp:
        case ipproto::Ipv6InIp:
            if (decapsulate_ip(protocol, p.present.rest(), out, ctx)) return;
            break;
        case ipproto::Gre:
            if (try_gre(p.present.rest(), out, ctx)) return;
            break;
        default: break;
    }
    // ICMP, SCTP, ... and tunnels too deep or not of a shape we know.
    out.transport = Transport::Other;
    out.payload = p.present.rest();
    out.wire_payload_len = p.wire_len;
    out.status = DecodeStatus::OtherTransport;
}

// Keep at most `wire_len` present bytes: anything after the IP length is link-layer padding.
IpPayload bound_payload(ByteReader after_header, std::uint32_t wire_len) {
    Bytes rest = after_header.rest();
    return IpPayload{ByteReader(rest.first(std::min<std::size_t>(rest.size(), wire_len))), wire_len};
}

}  // namespace

void decode_ipv4(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    if (r.remaining() < 20) {
        // A first byte that is not IPv4 at all is a worse problem than a short frame.
        const auto first = r.peek8();
        out.status = (first && (*first >> 4) != 4) ? DecodeStatus::Malformed : DecodeStatus::Truncated;
        return;
    }
    std::uint8_t version_ihl = 0, tos = 0, ttl = 0, protocol = 0;
    std::uint16_t total_len = 0, id = 0, frag = 0, checksum = 0;
    r.u8(version_ihl);
    r.u8(tos);
    r.u16(total_len);
    r.u16(id);
    r.u16(frag);
    r.u8(ttl);
    r.u8(protocol);
    r.u16(checksum);
    read_address(r, out.src, false);
    read_address(r, out.dst, false);
    const std::size_t header_len = std::size_t{version_ihl & 0x0Fu} * 4;
    if ((version_ihl >> 4) != 4 || header_len < 20 || (total_len != 0 && total_len < header_len)) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    if (!r.skip(header_len - 20)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    out.ip_protocol = protocol;
    // Total length 0 is what a capture on the sending host shows for a TSO super-segment (the NIC
    // fills it in later), so the captured bytes are the packet, as Wireshark assumes too.
    const std::uint32_t wire_len = total_len == 0 ? static_cast<std::uint32_t>(r.remaining())
                                                  : static_cast<std::uint32_t>(total_len - header_len);
    if ((frag & 0x3FFF) != 0) {  // MF set or a non-zero offset
        out.status = DecodeStatus::Fragment;
        return;
    }
    decode_transport(protocol, bound_payload(r, wire_len), out, ctx);
}

namespace {
// Jumbo Payload option (RFC 2675) in a hop-by-hop header: the real length when payload length is 0.
std::optional<std::uint32_t> jumbo_payload_length(ByteReader r) {
    std::uint8_t next = 0, ext_len = 0;
    if (!r.u8(next) || !r.u8(ext_len)) return std::nullopt;
    ByteReader options;
    if (!r.child(std::size_t{ext_len} * 8 + 6, options)) return std::nullopt;
    while (!options.empty()) {
        std::uint8_t type = 0, len = 0;
        options.u8(type);
        if (type == 0) continue;  // Pad1 has no length byte
        Bytes data;
        if (!options.u8(len) || !options.bytes(len, data)) return std::nullopt;
        if (type == 0xC2 && len == 4) {
            return (std::uint32_t{data[0]} << 24) | (std::uint32_t{data[1]} << 16) |
                   (std::uint32_t{data[2]} << 8) | data[3];
        }
    }
    return std::nullopt;
}

}  // namespace

void decode_ipv6(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    if (r.remaining() < 40) {
        const auto first = r.peek8();
        out.status = (first && (*first >> 4) != 6) ? DecodeStatus::Malformed : DecodeStatus::Truncated;
        return;
    }
    std::uint32_t version_class_flow = 0;
    std::uint16_t payload_len = 0;
    std::uint8_t next = 0, hop_limit = 0;
    r.u32(version_class_flow);
    r.u16(payload_len);
    r.u8(next);
    r.u8(hop_limit);
    read_address(r, out.src, true);
    read_address(r, out.dst, true);
    if ((version_class_flow >> 28) != 6) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    std::uint32_t wire_len = payload_len;
    if (payload_len == 0 && next != ipproto::NoNext) {
        // A jumbogram names its length in the hop-by-hop header; without one, length 0 is a
        // GSO/BIG TCP super-packet captured on the sending host: the captured bytes are the packet.
        std::optional<std::uint32_t> jumbo;
        if (next == ipproto::HopByHop) jumbo = jumbo_payload_length(r);
        wire_len = jumbo ? *jumbo : static_cast<std::uint32_t>(r.remaining());
    }
    IpPayload p = bound_payload(r, wire_len);

    // Walk the extension header chain; each header is at least 8 bytes, so the walk is bounded.
    for (;;) {
        switch (next) {
            case ipproto::HopByHop:
            case ipproto::Routing:
            case ipproto::DestOptions:
            case ipproto::Mobility:
            case ipproto::Hip:
            case ipproto::Shim6: {
                // next(8) length(8, in 8-byte units after the first 8)
                const auto nh = p.present.peek8(0);
                const auto len = p.present.peek8(1);
                if (!nh || !len || p.wire_len < 2) {
                    out.status = short_header_status(p, 2);
                    return;
                }
                if (!take_header(p, (std::size_t{*len} + 1) * 8, out)) return;
                next = *nh;
                break;
            }
            case ipproto::Fragment: {
                // next(8) reserved(8) offset(13) res(2) M(1) identification(32)
                const auto nh = p.present.peek8(0);
                const auto offset_flags = p.present.peek16(2);
                if (!take_header(p, 8, out)) return;
                if ((*offset_flags >> 3) != 0 || (*offset_flags & 1) != 0) {
                    out.ip_protocol = *nh;  // the fragmented upper-layer protocol, as for IPv4
                    out.status = DecodeStatus::Fragment;
                    return;
                }
                next = *nh;  // atomic fragment (RFC 6946): the whole packet follows
                break;
            }
            case ipproto::Ah: {
                // next(8) length(8, in 4-byte units minus 2)
                const auto nh = p.present.peek8(0);
                const auto len = p.present.peek8(1);
                if (!nh || !len || p.wire_len < 2) {
                    out.status = short_header_status(p, 2);
                    return;
                }
                if (!take_header(p, (std::size_t{*len} + 2) * 4, out)) return;
                next = *nh;
                break;
            }
            default:
                decode_transport(next, p, out, ctx);
                return;
        }
    }
}

void decode_ip_by_version(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    const auto first = r.peek8();
    if (!first) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    switch (*first >> 4) {
        case 4: decode_ipv4(r, out, ctx); return;
        case 6: decode_ipv6(r, out, ctx); return;
        default: out.status = DecodeStatus::Malformed; return;
    }
}

void decode_ethertype(std::uint16_t type, ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    int tags = 0;
    while (type == ethertype::Vlan || type == ethertype::Qinq || type == ethertype::QinqOld) {
        if (++tags > kMaxVlanTags) {
            out.status = DecodeStatus::Malformed;
            return;
        }
        std::uint16_t tci = 0;
        if (!r.u16(tci) || !r.u16(type)) {
            out.status = DecodeStatus::Truncated;
            return;
        }
        ++out.vlan_depth;
    }
    switch (type) {
        case ethertype::Ipv4: decode_ipv4(r, out, ctx); return;
        case ethertype::Ipv6: decode_ipv6(r, out, ctx); return;
        case ethertype::PppoeSession: decode_pppoe_session(r, out, ctx); return;
        case ethertype::MplsUnicast:
        case ethertype::MplsMulticast: decode_mpls(r, out, ctx); return;
        case ethertype::TransparentEthernet: decode_ethernet(r, out, ctx); return;  // SLL on a gretap, GRE
        default: out.status = DecodeStatus::NotIp; return;  // ARP, LLDP, ...
    }
}

void decode_ethernet(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    std::uint16_t type = 0;
    if (!r.skip(12) || !r.u16(type)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if (type < ethertype::MinEthertype) {
        // 802.3 frame: the field is a length and LLC follows (STP, ... or, rarely, SNAP with IP).
        ByteReader llc;
        if (type > r.remaining() || !r.child(type, llc)) llc = r;  // a cut frame: what is there
        decode_llc(llc, out, ctx);
        return;
    }
    decode_ethertype(type, r, out, ctx);
}

void decode_llc(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    // DSAP SSAP control; SNAP adds OUI(24) and the ethertype. Only OUI 0 (RFC 1042) and 00-00-F8
    // (802.1H bridge tunnel) carry ethertypes; anything else is not IP to us.
    const auto dsap = r.peek8(0), ssap = r.peek8(1), control = r.peek8(2);
    if (!dsap || !ssap || !control) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if (*dsap != 0xAA || *ssap != 0xAA || *control != 0x03) {
        out.status = DecodeStatus::NotIp;  // STP, NetBIOS, IPX, ...
        return;
    }
    r.skip(3);
    std::uint32_t oui = 0;
    std::uint16_t type = 0;
    if (!r.u24(oui) || !r.u16(type)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if ((oui != 0 && oui != 0x0000F8) || type < ethertype::MinEthertype) {
        out.status = DecodeStatus::NotIp;  // CDP, ...
        return;
    }
    decode_ethertype(type, r, out, ctx);
}

void adopt_inner(DecodedPacket& out, const DecodedPacket& inner, Tunnel kind, std::uint32_t vni) {
    const std::uint16_t outer_vlans = out.vlan_depth;
    const std::uint8_t outer_labels = out.mpls_labels;
    out = inner;
    out.vlan_depth = static_cast<std::uint16_t>(outer_vlans + inner.vlan_depth);
    out.mpls_labels = static_cast<std::uint8_t>(std::min(255, outer_labels + inner.mpls_labels));
    out.tunnel = kind;
    out.tunnel_vni = vni;
    out.tunnel_levels = static_cast<std::uint8_t>(inner.tunnel_levels + 1);
}

bool stop_at_tunnel(DecodeContext::Enter why, Tunnel kind, DecodedPacket& out) {
    if (why != DecodeContext::Enter::Loop) return false;
    out.status = DecodeStatus::Malformed;
    out.tunnel = kind;
    return true;
}

namespace {

// Linux cooked captures name the device type (ARPHRD_*) and a protocol that is an ethertype for most
// devices, but something else for a few (if_packet.h, Wireshark's sll dissector).
void decode_cooked(std::uint16_t arphrd, std::uint16_t protocol, ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    constexpr std::uint16_t kArphrdIeee80211 = 801, kArphrdIeee80211Radiotap = 803, kArphrdNetlink = 824;
    constexpr std::uint16_t kEthP8023 = 0x0001, kEthP8022 = 0x0004;  // Novell raw 802.3; an LLC frame
    switch (arphrd) {
        case kArphrdNetlink: out.status = DecodeStatus::NotIp; return;  // nlmon: the protocol is a netlink family
        case kArphrdIeee80211: decode_ieee80211(r, out, ctx); return;
        case kArphrdIeee80211Radiotap: decode_radiotap(r, out, ctx); return;
        default: break;
    }
    switch (protocol) {
        case kEthP8022: decode_llc(r, out, ctx); return;
        case kEthP8023: out.status = DecodeStatus::NotIp; return;  // IPX
        default: decode_ethertype(protocol, r, out, ctx); return;  // other values below 0x0600: NotIp
    }
}

// Linux cooked v1: packet type(16) ARPHRD(16) addr len(16) addr(64) protocol(16).
void decode_linux_sll(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    std::uint16_t packet_type = 0, arphrd = 0, protocol = 0;
    if (!r.u16(packet_type) || !r.u16(arphrd) || !r.skip(10) || !r.u16(protocol)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    decode_cooked(arphrd, protocol, r, out, ctx);
}

// Linux cooked v2: protocol(16) reserved(16) ifindex(32) ARPHRD(16) packet type(8) addr len(8) addr(64).
void decode_linux_sll2(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    std::uint16_t protocol = 0, arphrd = 0;
    if (!r.u16(protocol) || !r.skip(6) || !r.u16(arphrd) || !r.skip(10)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    decode_cooked(arphrd, protocol, r, out, ctx);
}

// BSD NULL writes the family in the capturing host's byte order, LOOP in network order; a capture
// read on another machine may have either, so both are accepted (as libpcap does).
void decode_bsd_loopback(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    std::uint32_t family = 0;
    if (!r.u32le(family)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if ((family & 0xFFFF0000u) != 0) {
        family = ((family & 0xFFu) << 24) | ((family & 0xFF00u) << 8) | ((family >> 8) & 0xFF00u) |
                 (family >> 24);
    }
    switch (family) {
        case 2: decode_ipv4(r, out, ctx); return;  // AF_INET everywhere
        case 24:                                 // AF_INET6 on NetBSD/OpenBSD
        case 28:                                 // FreeBSD
        case 30:                                 // macOS
            decode_ipv6(r, out, ctx);
            return;
        default: out.status = DecodeStatus::NotIp; return;
    }
}

}  // namespace
}  // namespace detail

DecodedPacket decode_frame(LinkType link, Bytes frame) {
    using namespace detail;
    DecodedPacket out{};
    DecodeContext ctx;
    const ByteReader r(frame);
    switch (link) {
        case LinkType::Ethernet: decode_ethernet(r, out, ctx); break;
        case LinkType::LinuxSll: decode_linux_sll(r, out, ctx); break;
        case LinkType::LinuxSll2: decode_linux_sll2(r, out, ctx); break;
        case LinkType::Raw:
        case LinkType::DltRaw12:
        case LinkType::DltRaw14: decode_ip_by_version(r, out, ctx); break;
        case LinkType::Ipv4: decode_ipv4(r, out, ctx); break;
        case LinkType::Ipv6: decode_ipv6(r, out, ctx); break;
        case LinkType::Null:
        case LinkType::Loop: decode_bsd_loopback(r, out, ctx); break;
        case LinkType::Ppp:
        case LinkType::PppSerial: decode_ppp_link(r, out, ctx); break;
        case LinkType::CiscoHdlc: decode_cisco_hdlc(r, out, ctx); break;
        case LinkType::Nflog: decode_nflog(r, out, ctx); break;
        case LinkType::Ieee80211: decode_ieee80211(r, out, ctx); break;
        case LinkType::Ieee80211Radiotap: decode_radiotap(r, out, ctx); break;
        default: out.status = DecodeStatus::UnsupportedLinkType; break;
    }
    return out;
}

bool is_supported_link_type(int dlt) {
    switch (static_cast<LinkType>(dlt)) {
        case LinkType::Null:
        case LinkType::Ethernet:
        case LinkType::Ppp:
        case LinkType::DltRaw12:
        case LinkType::DltRaw14:
        case LinkType::PppSerial:
        case LinkType::Raw:
        case LinkType::CiscoHdlc:
        case LinkType::Ieee80211:
        case LinkType::Loop:
        case LinkType::LinuxSll:
        case LinkType::Ieee80211Radiotap:
        case LinkType::Ipv4:
        case LinkType::Ipv6:
        case LinkType::Nflog:
        case LinkType::LinuxSll2: return true;
    }
    return false;
}

std::string_view supported_link_types() {
    return "Ethernet, Linux cooked SLL/SLL2, raw IPv4/IPv6, BSD loopback, PPP, Cisco HDLC, NFLOG, "
           "IEEE 802.11 with or without radiotap";
}

}  // namespace meshproof::audit
