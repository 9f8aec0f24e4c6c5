// Fuzz target: the link/IP/TCP/UDP/tunnel decoder. The first byte picks the link type (those we
// support and one we do not, 147), the rest is the frame.
#pragma once

#include <array>

#include "audit/decode/packet.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

// Appended to, never reordered: the committed seeds' first byte indexes this (make_seeds.py).
inline constexpr std::array<int, 17> kFuzzLinkTypes{1, 0, 101, 108, 113, 228, 229, 276, 12, 14, 147,
                                                    9, 50, 104, 105, 127, 239};

inline int decode_frame_one(Bytes input) {
    using namespace meshproof::audit;
    FuzzInput in(input);
    const int dlt = kFuzzLinkTypes[in.u8() % kFuzzLinkTypes.size()];
    const Bytes frame = in.rest();
    const DecodedPacket d = decode_frame(static_cast<LinkType>(dlt), frame);

    MESHPROOF_FUZZ_CHECK(is_supported_link_type(dlt) || d.status == DecodeStatus::UnsupportedLinkType);
    // The payload is a view into the frame, never past its end.
    if (!d.payload.empty()) {
        MESHPROOF_FUZZ_CHECK(d.payload.data() >= frame.data());
        MESHPROOF_FUZZ_CHECK(d.payload.data() + d.payload.size() <= frame.data() + frame.size());
    }
    MESHPROOF_FUZZ_CHECK(d.tunnel_levels <= 16);
    if (d.status == DecodeStatus::Ok) {
        MESHPROOF_FUZZ_CHECK(d.transport == Transport::Tcp || d.transport == Transport::Udp);
        MESHPROOF_FUZZ_CHECK(d.src.v6 == d.dst.v6);
        // Captured payload bytes beyond what the headers say was sent would be link padding.
        MESHPROOF_FUZZ_CHECK(d.payload.size() <= d.wire_payload_len);
        const std::string a = endpoint_to_string(d.src, d.src_port);
        const std::string b = endpoint_to_string(d.dst, d.dst_port);
        MESHPROOF_FUZZ_CHECK(!a.empty() && !b.empty());
    }
    return 0;
}

}  // namespace meshproof::fuzz
