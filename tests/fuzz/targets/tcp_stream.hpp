// Fuzz target: one direction of TCP reassembly (audit/flow/tcp_stream) against an oracle.
//
// The stream's content is a known function of the offset, so whatever order, overlap, cut or
// retransmission the fuzzer invents, data() must be exactly that function's first bytes, and the
// buffers must stay within StreamLimits. Input: [isn:4][config:3] then ops [op][arg...].
#pragma once

#include <vector>

#include "audit/flow/tcp_stream.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

inline std::uint8_t stream_byte(std::uint64_t offset) {
    const std::uint64_t x = offset * 0x9E3779B97F4A7C15ull;
    return static_cast<std::uint8_t>(x >> 56);
}

inline int tcp_stream_one(Bytes input) {
    using namespace meshproof::audit;
    FuzzInput in(input);
    const std::uint32_t isn = in.u32();
    StreamLimits limits;
    const std::uint8_t c0 = in.u8(), c1 = in.u8(), c2 = in.u8();
    if (c0 & 1) {
        limits.max_bytes = 1 + c0 * 37u;
        limits.max_pending_segments = 1 + (c1 & 15u);
        limits.max_pending_bytes = 1 + c2 * 41u;
    }
    TcpStream s(limits);
    const bool with_syn = (c0 & 2) != 0;
    if (with_syn) s.on_syn(isn);
    // Offsets are relative to isn + 1; without a SYN the first data segment defines offset 0.
    std::optional<std::int64_t> base;
    if (with_syn) base = 0;
    bool corrupted = false;  // a segment carried other bytes: first data wins, the oracle is off
    std::vector<std::uint8_t> payload;
    int ops = 0;
    while (!in.empty() && ++ops < 4096) {
        const std::uint8_t op = in.u8();
        switch (op % 6) {
            case 0:
            case 1:
            case 2: {  // a data segment at a signed offset, maybe cut by the snap length
                const auto off = static_cast<std::int64_t>(static_cast<std::int16_t>(in.u16())) * ((op & 0x80) ? 16 : 1);
                const std::uint16_t len = in.u16() % 3000u;
                const std::uint8_t cut = in.u8();
                const std::size_t captured = (cut & 0x80) ? std::min<std::size_t>(len, cut & 0x7fu) : len;
                const bool bad = (op & 0x40) != 0 && captured > 0;
                if (!base && len > 0) base = off;  // midstream: the first segment with bytes starts the stream
                if (!base) break;
                payload.resize(captured);
                for (std::size_t i = 0; i < captured; ++i)
                    payload[i] = stream_byte(static_cast<std::uint64_t>(off - *base) + i);
                if (bad) {
                    payload[0] ^= 0x5a;
                    corrupted = true;
                }
                const auto seq = static_cast<std::uint32_t>(static_cast<std::int64_t>(isn) + 1 + off);
                s.on_segment(seq, Bytes(payload), len);
                break;
            }
            case 3: {
                const auto off = static_cast<std::int64_t>(static_cast<std::int16_t>(in.u16()));
                s.on_peer_ack(static_cast<std::uint32_t>(static_cast<std::int64_t>(isn) + 1 + off));
                break;
            }
            case 4: s.finish(); break;
            case 5:
                if ((op & 0xf0) == 0xf0) s.release();
                break;
        }
        const Bytes d = s.data();
        MESHPROOF_FUZZ_CHECK(d.size() <= limits.max_bytes);
        MESHPROOF_FUZZ_CHECK(s.pending_segments() <= limits.max_pending_segments);
        MESHPROOF_FUZZ_CHECK(s.pending_bytes() <= limits.max_pending_bytes);
        MESHPROOF_FUZZ_CHECK(s.memory_bytes() <= limits.max_bytes + 64 + 2 * limits.max_pending_segments * 24 + 64);
        if (s.released()) MESHPROOF_FUZZ_CHECK(d.empty());
        if (!corrupted && base) {
            for (std::size_t i = 0; i < d.size(); ++i) MESHPROOF_FUZZ_CHECK(d[i] == stream_byte(i));
        }
    }
    return 0;
}

}  // namespace meshproof::fuzz
