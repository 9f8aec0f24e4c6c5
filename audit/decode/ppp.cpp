// PPP (RFC 1661, HDLC-like framing RFC 1662), PPPoE sessions (RFC 2516) and Cisco HDLC: after a
// short header, a protocol number names the packet.
#include "audit/decode/decode_layers.hpp"

namespace meshproof::audit::detail {
namespace {

namespace ppp_protocol {
inline constexpr std::uint16_t Ipv4 = 0x0021;
inline constexpr std::uint16_t Ipv6 = 0x0057;
inline constexpr std::uint16_t MplsUnicast = 0x0281;
inline constexpr std::uint16_t MplsMulticast = 0x0283;
}  // namespace ppp_protocol

// The protocol field: 2 bytes, or 1 when protocol-field compression (RFC 1661 6.5) is on, which
// shows as an odd first byte (every 2-byte protocol number has an even first byte).
bool read_ppp_protocol(ByteReader& r, std::uint16_t& protocol) {
    const auto first = r.peek8();
    if (!first) return false;
    if ((*first & 1) != 0) {
        protocol = *first;
        return r.skip(1);
    }
    return r.u16(protocol);
}

// Cisco HDLC's address byte: unicast or broadcast; the control byte is always 0.
bool is_cisco_hdlc_address(std::uint8_t b) { return b == 0x0F || b == 0x8F; }

}  // namespace

void decode_ppp_protocol(std::uint16_t protocol, ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    switch (protocol) {
        case ppp_protocol::Ipv4: decode_ipv4(r, out, ctx); return;
        case ppp_protocol::Ipv6: decode_ipv6(r, out, ctx); return;
        case ppp_protocol::MplsUnicast:
        case ppp_protocol::MplsMulticast: decode_mpls(r, out, ctx); return;
        default: out.status = DecodeStatus::NotIp; return;  // LCP, IPCP, CCP, VJ-compressed TCP, ...
    }
}

// ver/type(8)=0x11 code(8)=0 session(16) length(16), then PPP without address and control bytes.
void decode_pppoe_session(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
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
    std::uint16_t protocol = 0;
    if (!read_ppp_protocol(r, protocol)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    decode_ppp_protocol(protocol, r, out, ctx);
}

// LINKTYPE_PPP / PPP_HDLC: the address and control bytes ff 03 may be there or not. Routers also
// write Cisco HDLC frames under these link types (libpcap and Wireshark recognise its address
// byte, as we do).
void decode_ppp_link(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    const auto address = r.peek8(0), control = r.peek8(1);
    if (!address || !control) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if (is_cisco_hdlc_address(*address) && *control == 0x00) {
        decode_cisco_hdlc(r, out, ctx);
        return;
    }
    if (*address == 0xFF && *control == 0x03) r.skip(2);
    std::uint16_t protocol = 0;
    if (!read_ppp_protocol(r, protocol)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    decode_ppp_protocol(protocol, r, out, ctx);
}

// address(8) control(8) protocol(16, an ethertype; 0x8035 is SLARP, Cisco's keepalive).
void decode_cisco_hdlc(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    std::uint8_t address = 0, control = 0;
    std::uint16_t protocol = 0;
    if (!r.u8(address) || !r.u8(control) || !r.u16(protocol)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if (!is_cisco_hdlc_address(address)) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    decode_ethertype(protocol, r, out, ctx);
}

}  // namespace meshproof::audit::detail
