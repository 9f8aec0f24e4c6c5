// Linux NFLOG (LINKTYPE_NFLOG 239, `tcpdump -i nflog:GROUP`): a 4-byte header, then TLVs (netlink
// attributes) of which NFULA_PAYLOAD holds the packet from its IP header on. Layout as libpcap's
// pcap/nflog.h: family(8) version(8)=0 resource id(16, network order), then per TLV length(16)
// type(16) in the byte order of the capturing host, the length counting the 4-byte TLV header, each
// TLV padded to 4 bytes.
#include <algorithm>
#include <bit>

#include "audit/decode/decode_layers.hpp"

namespace meshproof::audit::detail {
namespace {

inline constexpr std::uint16_t kNfulaPayload = 9;
inline constexpr std::uint8_t kAfInet = 2, kAfInet6 = 10;

bool read_host16(ByteReader& r, bool swapped, std::uint16_t& v) {
    const bool little = (std::endian::native == std::endian::little) != swapped;
    return little ? r.u16le(v) : r.u16(v);
}

// libpcap hands TLVs over in this host's byte order (it swaps files written on the other kind of
// host); our own pcapng reader does not. The first TLV's length tells which it is.
bool tlvs_swapped(ByteReader r) {
    std::uint16_t native = 0;
    ByteReader probe = r;
    if (!read_host16(probe, false, native)) return false;
    if (native >= 4 && native <= r.remaining()) return false;
    std::uint16_t other = 0;
    probe = r;
    return read_host16(probe, true, other) && other >= 4 && other <= r.remaining();
}

}  // namespace

void decode_nflog(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    std::uint8_t family = 0, version = 0;
    std::uint16_t resource_id = 0;
    if (!r.u8(family) || !r.u8(version) || !r.u16(resource_id)) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    if (version != 0) {
        out.status = DecodeStatus::Malformed;
        return;
    }
    const bool swapped = tlvs_swapped(r);
    // Every TLV is at least 4 bytes, so the walk ends.
    while (!r.empty()) {
        std::uint16_t length = 0, type = 0;
        if (!read_host16(r, swapped, length) || !read_host16(r, swapped, type)) break;
        if (length < 4) {
            out.status = DecodeStatus::Malformed;
            return;
        }
        ByteReader value;
        if (!r.child(length - 4u, value)) {
            // The snap length may cut the payload TLV (tcpdump -s): decode what is there.
            if ((type & 0x7FFF) != kNfulaPayload) break;
            value = r;
            r = ByteReader();
        }
        if ((type & 0x7FFF) == kNfulaPayload) {  // the top bits are netlink's nested/byte-order flags
            switch (family) {
                case kAfInet: decode_ipv4(value, out, ctx); return;
                case kAfInet6: decode_ipv6(value, out, ctx); return;
                default: decode_ip_by_version(value, out, ctx); return;  // AF_BRIDGE: the network header too
            }
        }
        r.skip(std::min<std::size_t>(r.remaining(), (4 - length % 4) % 4));
    }
    // No payload TLV: a log record of a packet whose bytes were not copied (NFULNL_COPY_NONE or
    // a snap length that ended before it).
    out.status = DecodeStatus::Truncated;
}

}  // namespace meshproof::audit::detail
