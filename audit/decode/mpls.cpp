// MPLS label stacks (RFC 3032) on Ethernet, in VLANs, PPP and GRE: skip the labels, then decode what
// the bottom of the stack carries. The stack does not say what that is; as Wireshark and Zeek do,
// the first nibble tells: 4 IPv4, 6 IPv6, 0 a pseudowire control word (RFC 4385) before an Ethernet
// frame (RFC 4448).
#include "audit/decode/decode_layers.hpp"

namespace meshproof::audit::detail {
namespace {
// Real stacks hold 1-4 labels (transport, service, entropy); a long run is garbage or an attack.
inline constexpr int kMaxMplsLabels = 16;
// Reserved labels 0 and 2 (explicit null) say the payload outright.
inline constexpr std::uint32_t kIpv4ExplicitNull = 0, kIpv6ExplicitNull = 2;
}  // namespace

void decode_mpls(ByteReader r, DecodedPacket& out, DecodeContext& ctx) {
    std::uint32_t entry = 0;
    for (int n = 0;; ++n) {
        if (n == kMaxMplsLabels) {
            out.status = DecodeStatus::Malformed;
            return;
        }
        if (!r.u32(entry)) {  // label(20) traffic class(3) bottom of stack(1) TTL(8)
            out.status = DecodeStatus::Truncated;
            return;
        }
        out.mpls_labels = static_cast<std::uint8_t>(out.mpls_labels + 1);
        if ((entry & 0x100u) != 0) break;
    }
    const std::uint32_t label = entry >> 12;
    if (label == kIpv4ExplicitNull) {
        decode_ipv4(r, out, ctx);
        return;
    }
    if (label == kIpv6ExplicitNull) {
        decode_ipv6(r, out, ctx);
        return;
    }
    const auto first = r.peek8();
    if (!first) {
        out.status = DecodeStatus::Truncated;
        return;
    }
    const int nibble = *first >> 4;
    if (nibble == 4 || nibble == 6) {
        decode_ip_by_version(r, out, ctx);
        return;
    }
    if (nibble != 0) {  // 1: a pseudowire's associated channel (OAM)
        out.status = DecodeStatus::NotIp;
        return;
    }
    if (!r.skip(4)) {  // the control word: 0000 flags(4) frag(2) length(6) sequence(16)
        out.status = DecodeStatus::Truncated;
        return;
    }
    decode_ethernet(r, out, ctx);
}

}  // namespace meshproof::audit::detail
