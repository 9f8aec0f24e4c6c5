// Internal to audit/decode: the layer decoders that decode_frame() chains, shared by the files that
// hold the link layers (decode_frame.cpp: Ethernet, IP, TCP/UDP and the tunnels; mpls.cpp, ppp.cpp,
// nflog.cpp, wireless.cpp). Each takes a cursor over the bytes of its layer and fills `out`.
#pragma once

#include <array>
#include <cstdint>

#include "audit/decode/packet.hpp"
#include "common/byte_reader.hpp"

namespace meshproof::audit::detail {

namespace ethertype {
inline constexpr std::uint16_t Ipv4 = 0x0800;
inline constexpr std::uint16_t Ipv6 = 0x86DD;
inline constexpr std::uint16_t Vlan = 0x8100;      // 802.1Q
inline constexpr std::uint16_t Qinq = 0x88A8;      // 802.1ad service tag
inline constexpr std::uint16_t QinqOld = 0x9100;   // pre-standard QinQ, still seen on switches
inline constexpr std::uint16_t PppoeSession = 0x8864;
inline constexpr std::uint16_t MplsUnicast = 0x8847;
inline constexpr std::uint16_t MplsMulticast = 0x8848;
inline constexpr std::uint16_t TransparentEthernet = 0x6558;  // Geneve's and GRE's "inner Ethernet"
inline constexpr std::uint16_t ErspanType2 = 0x88BE;          // also type I (no ERSPAN header)
inline constexpr std::uint16_t ErspanType3 = 0x22EB;
inline constexpr std::uint16_t MinEthertype = 0x0600;         // below: an 802.3 length field
}  // namespace ethertype

// Tunnels are followed as deep as they go (GRE -> ERSPAN -> VXLAN -> ... ), with two guards: an
// encapsulation that repeats one already opened in this frame (same kind, id and outer addresses)
// is a loop (Malformed: a packet cannot contain itself), and kMaxTunnelDepth bounds the recursion
// whatever the bytes say (every level costs a stack frame; real stacks are 1-3 deep).
inline constexpr int kMaxTunnelDepth = 16;

class DecodeContext {
public:
    enum class Enter : std::uint8_t { Ok, TooDeep, Loop };
    // Called before decoding the inside of a tunnel whose outer IP header is in `outer`.
    Enter enter(Tunnel kind, std::uint32_t id, const DecodedPacket& outer) {
        if (depth_ >= kMaxTunnelDepth) return Enter::TooDeep;
        const Hop hop{kind, id, outer.src, outer.dst};
        for (int i = 0; i < depth_; ++i) {
            if (hops_[static_cast<std::size_t>(i)] == hop) return Enter::Loop;
        }
        hops_[static_cast<std::size_t>(depth_++)] = hop;
        return Enter::Ok;
    }
    [[nodiscard]] int depth() const { return depth_; }

private:
    struct Hop {
        Tunnel kind = Tunnel::None;
        std::uint32_t id = 0;
        IpAddress src, dst;
        friend bool operator==(const Hop&, const Hop&) = default;
    };
    std::array<Hop, kMaxTunnelDepth> hops_{};
    int depth_ = 0;
};

void decode_ethertype(std::uint16_t type, ByteReader r, DecodedPacket& out, DecodeContext& ctx);
void decode_ethernet(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
void decode_ipv4(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
void decode_ipv6(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
// Raw IP: IPv4 or IPv6 by the version nibble.
void decode_ip_by_version(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
// 802.2 LLC, with SNAP (AA AA 03 + OUI + ethertype) the only form that carries IP.
void decode_llc(ByteReader r, DecodedPacket& out, DecodeContext& ctx);

// mpls.cpp: a label stack (RFC 3032) and what its bottom carries.
void decode_mpls(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
// ppp.cpp: a PPP protocol number (RFC 1661) and its packet; the PPP / Cisco HDLC link types.
void decode_ppp_protocol(std::uint16_t protocol, ByteReader r, DecodedPacket& out, DecodeContext& ctx);
// PPPoE session stage (RFC 2516) on Ethernet.
void decode_pppoe_session(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
void decode_ppp_link(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
void decode_cisco_hdlc(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
// nflog.cpp: Linux NFLOG (link type 239), the packet in its NFULA_PAYLOAD TLV.
void decode_nflog(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
// wireless.cpp: 802.11 frames, radiotap, and CAPWAP (RFC 5415) data channels carrying either.
// fcs_at_end: the frame ends with its 4-byte FCS (radiotap says so); may_swap_fc: the frame control
// field may be byte-swapped (CAPWAP from Cisco access points).
void decode_ieee80211(ByteReader r, DecodedPacket& out, DecodeContext& ctx, bool fcs_at_end = false,
                      bool may_swap_fc = false);
void decode_radiotap(ByteReader r, DecodedPacket& out, DecodeContext& ctx);
bool try_capwap(Bytes udp_payload, DecodedPacket& out, DecodeContext& ctx);

// The result describes the inner packet; tunnel fields name the outermost tunnel (the caller that
// decapsulated last runs last and overwrites), and VLAN tags / MPLS labels of every level are counted.
void adopt_inner(DecodedPacket& out, const DecodedPacket& inner, Tunnel kind, std::uint32_t vni);

// After ctx.enter() refused a tunnel: a loop makes the packet Malformed (returns true: `out` is
// final); too deep returns false and leaves the outer packet as it is.
bool stop_at_tunnel(DecodeContext::Enter why, Tunnel kind, DecodedPacket& out);

}  // namespace meshproof::audit::detail
