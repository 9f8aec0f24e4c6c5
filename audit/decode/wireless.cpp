// Wi-Fi: IEEE 802.11 data frames (LINKTYPE_IEEE802_11 105), the radiotap header a monitor-mode
// capture puts before them (LINKTYPE_IEEE802_11_RADIOTAP 127), and CAPWAP (RFC 5415), the data
// channel that carries them between access points and their controller. Data frames carry LLC/SNAP
// and then IP; protected frames (WEP/WPA: the Protected bit) are encrypted at the link layer, so
// there is nothing to decode in them and they are counted as such (LinkEncrypted).
#include <utility>

#include "audit/decode/decode_layers.hpp"

namespace meshproof::audit::detail {
namespace {

namespace fc {  // frame control, second byte: flags
inline constexpr std::uint8_t ToDs = 0x01, FromDs = 0x02, Protected = 0x40, Order = 0x80;
}
inline constexpr unsigned kTypeData = 2;
inline constexpr unsigned kSubtypeNoData = 0x4;  // Null, CF-Ack/Poll without data, QoS Null
inline constexpr unsigned kSubtypeQos = 0x8;
inline constexpr std::uint8_t kQosAmsdu = 0x80;  // QoS control, first byte: an A-MSDU aggregate

namespace radiotap {
inline constexpr std::uint32_t Tsft = 1u << 0, Flags = 1u << 1, Ext = 1u << 31;
inline constexpr std::uint8_t FcsAtEnd = 0x10, BadFcs = 0x40;
}  // namespace radiotap

// A-MSDU subframe: DA(48) SA(48) length(16), then an LLC/SNAP packet of that length. Only the first
// subframe is decoded (one frame yields one packet here).
void decode_amsdu(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    std::uint16_t length = 0;
    ByteReader llc;
    if (!r.skip(12) || !r.u16(length)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if (!r.child(length, llc)) llc = r;  // cut by the snap length: what is there
    decode_llc(llc, out, ctx);
}

}  // namespace

void decode_ieee80211(ByteReader r, DecodedPacket& out, DecodeContext& ctx, bool fcs_at_end, bool may_swap_fc) {
    if (fcs_at_end) {
        if (r.remaining() < 4) {
            out.status = DecodeStatus::Truncated;
            return;
        }
        r = ByteReader(r.rest().first(r.remaining() - 4));
    }
    std::uint8_t fc0 = 0, flags = 0;
    if (!r.u8(fc0) || !r.u8(flags)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    // Cisco access points send the frame control field byte-swapped in CAPWAP (Wireshark's
    // capwap.swap_frame_control): a protocol version other than 0 one way and 0 the other tells.
    if (may_swap_fc && (fc0 & 0x3u) != 0 && (flags & 0x3u) == 0) std::swap(fc0, flags);
    const unsigned version = fc0 & 0x3u, type = (fc0 >> 2) & 0x3u, subtype = fc0 >> 4;
    if (version != 0) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    if (type != kTypeData || (subtype & kSubtypeNoData) != 0) {
        out.status = DecodeStatus::NotIp;  // management (beacons, probes), control (ACK, RTS), null data
        return;
    }
    // duration(16) address 1-3 (3 x 48) sequence control(16), address 4 between two access points
    // (ToDS and FromDS: WDS / mesh), QoS control(16), HT control(32) when a QoS frame has Order set.
    const bool four_addresses = (flags & (fc::ToDs | fc::FromDs)) == (fc::ToDs | fc::FromDs);
    const bool qos = (subtype & kSubtypeQos) != 0;
    if (!r.skip(2 + 18 + 2) || (four_addresses && !r.skip(6))) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    std::uint8_t qos_low = 0;
    if (qos && (!r.u8(qos_low) || !r.skip(1) || ((flags & fc::Order) != 0 && !r.skip(4)))) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if ((flags & fc::Protected) != 0) {
        out.status = DecodeStatus::LinkEncrypted;
        return;
    }
    if (qos && (qos_low & kQosAmsdu) != 0) {
        decode_amsdu(r, out, ctx);
        return;
    }
    decode_llc(r, out, ctx);
}

// version(8)=0 pad(8) length(16, little-endian, the whole header) present(32 LE, more words while
// bit 31 is set), then the fields the bitmap announces, each aligned to its own size. Only the first
// two matter here: TSFT (u64) and Flags (u8, which says whether the frame ends with its FCS).
void decode_radiotap(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    const ByteReader whole = r;
    std::uint8_t version = 0, pad = 0;
    std::uint16_t length = 0;
    std::uint32_t present = 0;
    if (!r.u8(version) || !r.u8(pad) || !r.u16le(length) || !r.u32le(present)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if (version != 0 || length < 8) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    ByteReader header;
    ByteReader frame = whole;
    if (!frame.child(length, header)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    header.skip(8);
    std::size_t offset = 8;
    for (std::uint32_t word = present; (word & radiotap::Ext) != 0;) {
        if (!header.u32le(word)) {
            out.status = DecodeStatus::Malformed;  // the bitmaps run past the header's own length
            return;
        }
        offset += 4;
    }
    std::uint8_t flags = 0;
    if ((present & radiotap::Tsft) != 0) {
        const std::size_t align = (8 - offset % 8) % 8;
        if (!header.skip(align + 8)) {
            out.status = DecodeStatus::Malformed;
            return;
        }
    }
    if ((present & radiotap::Flags) != 0 && !header.u8(flags)) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    if ((flags & radiotap::BadFcs) != 0) {
        out.status = DecodeStatus::Malformed;  // corrupted on the air: its bytes are not what was sent
        return;
    }
    decode_ieee80211(frame, out, ctx, (flags & radiotap::FcsAtEnd) != 0);
}

// CAPWAP data channel header: preamble version(4)=0 type(4) (0: CAPWAP, 1: DTLS-encrypted), HLEN(5,
// the header in 4-byte words) RID(5) WBID(5, 1 = IEEE 802.11) T F L W M K flags(3), fragment id(16)
// offset(13) reserved(3), optional radio MAC and wireless info, then the frame: native 802.11 when T
// is set, else Ethernet (802.3).
bool try_capwap(Bytes udp_payload, DecodedPacket& out, DecodeContext& ctx) {
    constexpr unsigned kWbidIeee80211 = 1;
    ByteReader r(udp_payload);
    std::uint32_t word = 0;
    if (!r.u32(word)) return false;
    const unsigned preamble = word >> 24, hlen = (word >> 19) & 0x1Fu, wbid = (word >> 9) & 0x1Fu;
    const bool native = (word & (1u << 8)) != 0, fragment = (word & (1u << 7)) != 0;
    const bool keepalive = (word & (1u << 3)) != 0;
    if (preamble != 0 || hlen < 2 || keepalive) return false;  // DTLS, not CAPWAP, or no frame inside
    if (native && wbid != kWbidIeee80211) return false;           // a binding we do not know
    if (!r.skip(std::size_t{hlen} * 4 - 4)) return false;
    if (const auto e = ctx.enter(Tunnel::Capwap, 0, out); e != DecodeContext::Enter::Ok)
        return stop_at_tunnel(e, Tunnel::Capwap, out);
    DecodedPacket inner{};
    if (fragment) inner.status = DecodeStatus::Fragment;  // CAPWAP fragments: counted, not reassembled
    else if (native) decode_ieee80211(r, inner, ctx, false, true);
    else decode_ethernet(r, inner, ctx);
    adopt_inner(out, inner, Tunnel::Capwap, 0);
    return true;
}

}  // namespace meshproof::audit::detail
