// Frame decoder: link layer -> (VLAN/PPPoE) -> IPv4/IPv6 -> TCP/UDP, looking through the tunnels that
// carry pod traffic between nodes (VXLAN, Geneve, Calico's IP-in-IP, GRE) and port mirrors (ERSPAN).
// Every layer reads through a ByteReader, so a short or lying frame can only stop the decode, never
// walk past the end. No allocation and no exceptions: this runs once per captured packet.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "audit/decode/packet.hpp"
#include "common/byte_reader.hpp"

namespace meshproof::audit {
namespace {

namespace ethertype {
inline constexpr std::uint16_t Ipv4 = 0x0800;
inline constexpr std::uint16_t Ipv6 = 0x86DD;
inline constexpr std::uint16_t Vlan = 0x8100;      // 802.1Q
inline constexpr std::uint16_t Qinq = 0x88A8;      // 802.1ad service tag
inline constexpr std::uint16_t QinqOld = 0x9100;   // pre-standard QinQ, still seen on switches
inline constexpr std::uint16_t PppoeSession = 0x8864;
inline constexpr std::uint16_t TransparentEthernet = 0x6558;  // Geneve's and GRE's "inner Ethernet"
inline constexpr std::uint16_t ErspanType2 = 0x88BE;          // also type I (no ERSPAN header)
inline constexpr std::uint16_t ErspanType3 = 0x22EB;
inline constexpr std::uint16_t MinEthertype = 0x0600;         // below: an 802.3 length field
}  // namespace ethertype

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
inline constexpr int kMaxTunnelDepth = 2;
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

void decode_ethertype(std::uint16_t type, ByteReader r, DecodedPacket& out, int tunnel_depth);
void decode_ethernet(ByteReader r, DecodedPacket& out, int tunnel_depth);
void decode_ipv4(ByteReader r, DecodedPacket& out, int tunnel_depth);
void decode_ipv6(ByteReader r, DecodedPacket& out, int tunnel_depth);

// The result describes the inner packet; tunnel fields name the outermost tunnel (the caller that
// decapsulated last runs last and overwrites), and VLAN tags of both levels are counted.
void adopt_inner(DecodedPacket& out, const DecodedPacket& inner, Tunnel kind, std::uint32_t vni) {
    const std::uint16_t outer_vlans = out.vlan_depth;
    out = inner;
    out.vlan_depth = static_cast<std::uint16_t>(outer_vlans + inner.vlan_depth);
    out.tunnel = kind;
    out.tunnel_vni = vni;
}

// VXLAN (RFC 7348): flags(8, I=0x08) reserved(24) VNI(24) reserved(8), then an Ethernet frame.
bool try_vxlan(Bytes udp_payload, DecodedPacket& out, int tunnel_depth) {
    ByteReader r(udp_payload);
    std::uint8_t flags = 0;
    std::uint32_t vni_word = 0;
    if (!r.u8(flags) || !r.skip(3) || !r.u32(vni_word)) return false;
    if ((flags & 0x08) == 0) return false;  // no valid VNI: not VXLAN as Linux understands it
    DecodedPacket inner{};
    decode_ethernet(r, inner, tunnel_depth + 1);
    adopt_inner(out, inner, Tunnel::Vxlan, vni_word >> 8);
    return true;
}

// Geneve (RFC 8926): ver(2) optlen(6, 4-byte words) | O C rsvd(6) | protocol(16) | VNI(24) rsvd(8),
// options, then the payload named by protocol.
bool try_geneve(Bytes udp_payload, DecodedPacket& out, int tunnel_depth) {
    ByteReader r(udp_payload);
    std::uint8_t ver_optlen = 0;
    std::uint8_t flags = 0;
    std::uint16_t protocol = 0;
    std::uint32_t vni_word = 0;
    if (!r.u8(ver_optlen) || !r.u8(flags) || !r.u16(protocol) || !r.u32(vni_word)) return false;
    if ((ver_optlen >> 6) != 0) return false;
    if (!r.skip(std::size_t{ver_optlen & 0x3Fu} * 4)) return false;
    DecodedPacket inner{};
    switch (protocol) {
        case ethertype::TransparentEthernet: decode_ethernet(r, inner, tunnel_depth + 1); break;
        case ethertype::Ipv4: decode_ipv4(r, inner, tunnel_depth + 1); break;
        case ethertype::Ipv6: decode_ipv6(r, inner, tunnel_depth + 1); break;
        default: return false;
    }
    adopt_inner(out, inner, Tunnel::Geneve, vni_word >> 8);
    return true;
}

// IP-in-IP (RFC 2003) and IPv6-in-IP (RFC 4213): the protocol number alone names the inner packet.
void decapsulate_ip(std::uint8_t protocol, Bytes inner_bytes, DecodedPacket& out, int tunnel_depth) {
    DecodedPacket inner{};
    if (protocol == ipproto::IpInIp) decode_ipv4(ByteReader(inner_bytes), inner, tunnel_depth + 1);
    else decode_ipv6(ByteReader(inner_bytes), inner, tunnel_depth + 1);
    adopt_inner(out, inner, Tunnel::IpInIp, 0);
}

// ERSPAN after its GRE header: type I has no header of its own, type II 8 bytes, type III 12 (+8
// with the platform sub-header). Session IDs are reported as the tunnel id.
bool try_erspan(std::uint16_t gre_protocol, bool gre_sequence, ByteReader r, DecodedPacket& out, int tunnel_depth) {
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
    DecodedPacket inner{};
    decode_ethernet(r, inner, tunnel_depth + 1);
    adopt_inner(out, inner, Tunnel::Erspan, session);
    return true;
}

// GRE (RFC 2784/2890): C R K S s Recur(3) flags(5) ver(3) | protocol(16), then the optional checksum,
// key and sequence words the flags announce. Only version 0 (PPTP's enhanced GRE is version 1) and no
// source routing (deprecated R bit). The key is reported as the tunnel id.
bool try_gre(Bytes gre_bytes, DecodedPacket& out, int tunnel_depth) {
    ByteReader r(gre_bytes);
    std::uint16_t flags = 0, protocol = 0;
    if (!r.u16(flags) || !r.u16(protocol)) return false;
    if ((flags & 0x0007) != 0 || (flags & 0x4000) != 0) return false;
    std::uint32_t key = 0;
    if ((flags & 0x8000) != 0 && !r.skip(4)) return false;
    if ((flags & 0x2000) != 0 && !r.u32(key)) return false;
    const bool sequence = (flags & 0x1000) != 0;
    if (sequence && !r.skip(4)) return false;
    DecodedPacket inner{};
    switch (protocol) {
        case ethertype::Ipv4: decode_ipv4(r, inner, tunnel_depth + 1); break;
        case ethertype::Ipv6: decode_ipv6(r, inner, tunnel_depth + 1); break;
        case ethertype::TransparentEthernet: decode_ethernet(r, inner, tunnel_depth + 1); break;
        case ethertype::ErspanType2:
        case ethertype::ErspanType3: return try_erspan(protocol, sequence, r, out, tunnel_depth);
        default: return false;
    }
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

void decode_udp(IpPayload p, DecodedPacket& out, int tunnel_depth) {
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

    if (tunnel_depth >= kMaxTunnelDepth) return;
    if (out.dst_port == kVxlanPort || out.dst_port == kFlannelVxlanPort) {
        try_vxlan(payload, out, tunnel_depth);
    } else if (out.dst_port == kGenevePort) {
        try_geneve(payload, out, tunnel_depth);
    }
}

void decode_transport(std::uint8_t protocol, IpPayload p, DecodedPacket& out, int tunnel_depth) {
    out.ip_protocol = protocol;
    switch (protocol) {
        case ipproto::Tcp: decode_tcp(p, out); return;
        case ipproto::Udp: decode_udp(p, out, tunnel_depth); return;
        case ipproto::IpInIp:
        case ipproto::Ipv6InIp:
            if (tunnel_depth < kMaxTunnelDepth) {
                decapsulate_ip(protocol, p.present.rest(), out, tunnel_depth);
                return;
            }
            break;
        case ipproto::Gre:
            if (tunnel_depth < kMaxTunnelDepth && try_gre(p.present.rest(), out, tunnel_depth)) return;
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

void decode_ipv4(ByteReader r, DecodedPacket& out, int tunnel_depth) {
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
    decode_transport(protocol, bound_payload(r, wire_len), out, tunnel_depth);
}

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

void decode_ipv6(ByteReader r, DecodedPacket& out, int tunnel_depth) {
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
                decode_transport(next, p, out, tunnel_depth);
                return;
        }
    }
}

// Pick IPv4 or IPv6 by the version nibble (raw IP link types carry no protocol field).
void decode_ip_by_version(ByteReader r, DecodedPacket& out, int tunnel_depth) {
    const auto first = r.peek8();
    if (!first) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    switch (*first >> 4) {
        case 4: decode_ipv4(r, out, tunnel_depth); return;
        case 6: decode_ipv6(r, out, tunnel_depth); return;
        default: out.status = DecodeStatus::Malformed; return;
    }
}

// PPPoE session stage (RFC 2516): ver/type(8)=0x11 code(8)=0 session(16) length(16), then PPP.
void decode_pppoe_session(ByteReader r, DecodedPacket& out, int tunnel_depth) {
    std::uint8_t ver_type = 0, code = 0;
    std::uint16_t session = 0, length = 0;
    if (!r.u8(ver_type) || !r.u8(code) || !r.u16(session) || !r.u16(length)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if (ver_type != 0x11) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    if (code != 0) {
        out.status = DecodeStatus::NotIp;
        return;
    }
    // PPP protocol field, 2 bytes, or 1 when protocol-field compression is on (odd first byte).
    const auto first = r.peek8();
    if (!first) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    std::uint16_t protocol = 0;
    if ((*first & 1) != 0) {
        protocol = *first;
        r.skip(1);
    } else if (!r.u16(protocol)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    switch (protocol) {
        case 0x0021: decode_ipv4(r, out, tunnel_depth); return;
        case 0x0057: decode_ipv6(r, out, tunnel_depth); return;
        default: out.status = DecodeStatus::NotIp; return;  // LCP, IPCP, ...
    }
}

void decode_ethertype(std::uint16_t type, ByteReader r, DecodedPacket& out, int tunnel_depth) {
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
        case ethertype::Ipv4: decode_ipv4(r, out, tunnel_depth); return;
        case ethertype::Ipv6: decode_ipv6(r, out, tunnel_depth); return;
        case ethertype::PppoeSession: decode_pppoe_session(r, out, tunnel_depth); return;
        default: out.status = DecodeStatus::NotIp; return;  // ARP, LLDP, 802.3 lengths, ...
    }
}

void decode_ethernet(ByteReader r, DecodedPacket& out, int tunnel_depth) {
    std::uint16_t type = 0;
    if (!r.skip(12) || !r.u16(type)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if (type < ethertype::MinEthertype) {  // 802.3 frame: the field is a length, LLC follows
        out.status = DecodeStatus::NotIp;
        return;
    }
    decode_ethertype(type, r, out, tunnel_depth);
}

// Linux cooked v1: packet type(16) ARPHRD(16) addr len(16) addr(64) protocol(16).
void decode_linux_sll(ByteReader r, DecodedPacket& out) {
    std::uint16_t protocol = 0;
    if (!r.skip(14) || !r.u16(protocol)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    decode_ethertype(protocol, r, out, 0);  // values below 0x0600 (802.3, LLC) land on NotIp
}

// Linux cooked v2: protocol(16) reserved(16) ifindex(32) ARPHRD(16) packet type(8) addr len(8) addr(64).
void decode_linux_sll2(ByteReader r, DecodedPacket& out) {
    std::uint16_t protocol = 0;
    if (!r.u16(protocol) || !r.skip(18)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    decode_ethertype(protocol, r, out, 0);
}

// BSD NULL writes the family in the capturing host's byte order, LOOP in network order; a capture
// read on another machine may have either, so both are accepted (as libpcap does).
void decode_bsd_loopback(ByteReader r, DecodedPacket& out) {
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
        case 2: decode_ipv4(r, out, 0); return;  // AF_INET everywhere
        case 24:                                 // AF_INET6 on NetBSD/OpenBSD
        case 28:                                 // FreeBSD
        case 30:                                 // macOS
            decode_ipv6(r, out, 0);
            return;
        default: out.status = DecodeStatus::NotIp; return;
    }
}

}  // namespace

DecodedPacket decode_frame(LinkType link, Bytes frame) {
    DecodedPacket out{};
    const ByteReader r(frame);
    switch (link) {
        case LinkType::Ethernet: decode_ethernet(r, out, 0); break;
        case LinkType::LinuxSll: decode_linux_sll(r, out); break;
        case LinkType::LinuxSll2: decode_linux_sll2(r, out); break;
        case LinkType::Raw:
        case LinkType::DltRaw12:
        case LinkType::DltRaw14: decode_ip_by_version(r, out, 0); break;
        case LinkType::Ipv4: decode_ipv4(r, out, 0); break;
        case LinkType::Ipv6: decode_ipv6(r, out, 0); break;
        case LinkType::Null:
        case LinkType::Loop: decode_bsd_loopback(r, out); break;
        default: out.status = DecodeStatus::UnsupportedLinkType; break;
    }
    return out;
}

bool is_supported_link_type(int dlt) {
    switch (static_cast<LinkType>(dlt)) {
        case LinkType::Null:
        case LinkType::Ethernet:
        case LinkType::Raw:
        case LinkType::Loop:
        case LinkType::LinuxSll:
        case LinkType::Ipv4:
        case LinkType::Ipv6:
        case LinkType::LinuxSll2:
        case LinkType::DltRaw12:
        case LinkType::DltRaw14: return true;
    }
    return false;
}

}  // namespace meshproof::audit
