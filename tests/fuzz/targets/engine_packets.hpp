// Fuzz target: the engine (flow table, reassembly, classifier hand-off, verdicts, eviction, port
// reuse, expiry) on TCP segments of eight fixed conversations, with headers built here so the
// fuzzer spends its time on sequence numbers, flags and payloads rather than on checksums-free but
// fiddly IP headers.
//
// Input: [config] then packets [sel][flags][rel seq:4][rel ack:4][len:2][payload]:
//   sel bits 0-2: conversation (server ports 443, 80, 15008, 6379, 5432, 25, 3306, 22)
//   sel bit 3:    direction (0 = client to server)
//   sel bit 4:    IPv6 instead of IPv4;  sel bit 5: one 802.1Q tag
//   sel bits 6-7: clock step: +1 ms, +1 s, +400 s then expire(), -1 s
// Sequence and acknowledgement numbers are relative to each direction's fixed ISN, as tshark shows
// them, so seeds can be made from real captures (tests/fuzz/make_seeds.py).
#pragma once

#include <array>
#include <vector>

#include "audit/capture/packet_source.hpp"
#include "tests/fuzz/targets/engine_checks.hpp"

namespace meshproof::fuzz {

inline constexpr std::array<std::uint16_t, 8> kConversationPorts{443, 80, 15008, 6379, 5432, 25, 3306, 22};

inline void put16(std::vector<std::uint8_t>& f, std::size_t at, std::uint16_t v) {
    f[at] = static_cast<std::uint8_t>(v >> 8);
    f[at + 1] = static_cast<std::uint8_t>(v);
}
inline void put32(std::vector<std::uint8_t>& f, std::size_t at, std::uint32_t v) {
    put16(f, at, static_cast<std::uint16_t>(v >> 16));
    put16(f, at + 2, static_cast<std::uint16_t>(v));
}

inline int engine_packets_one(Bytes input) {
    using namespace meshproof::audit;
    FuzzInput in(input);
    const std::uint8_t config = in.u8();
    EngineConfig cfg;
    cfg.max_flows = 1 + (config & 7u);
    if (config & 8) {
        cfg.stream.max_bytes = 512;
        cfg.stream.max_pending_segments = 4;
        cfg.stream.max_pending_bytes = 1024;
    }
    cfg.keep_records = (config & 16) == 0;
    cfg.idle_timeout = (config & 32) ? 1 : 300;
    Engine engine(cfg);
    std::uint64_t sunk = 0;
    engine.set_sink([&](const FlowRecord&) { ++sunk; });
    engine.begin_input("fuzz", "built frames");

    double ts = 1700000000.0;
    std::vector<std::uint8_t> frame;
    std::uint64_t number = 0;
    while (!in.empty()) {
        const std::uint8_t sel = in.u8();
        const std::uint8_t flags = in.u8();
        const std::uint32_t rel_seq = in.u32(), rel_ack = in.u32();
        const Bytes payload = in.take(in.u16());
        const unsigned conv = sel & 7u;
        const bool from_server = (sel & 8) != 0, v6 = (sel & 16) != 0, vlan = (sel & 32) != 0;
        switch (sel >> 6) {
            case 0: ts += 0.001; break;
            case 1: ts += 1; break;
            case 2: ts += 400; break;
            default: ts -= 1; break;
        }
        const std::uint32_t client_isn = 1000u + conv * 7919u, server_isn = 0x80000000u + conv * 104729u;
        const std::uint32_t seq = (from_server ? server_isn : client_isn) + rel_seq;
        const std::uint32_t ack = (from_server ? client_isn : server_isn) + rel_ack;
        const std::uint16_t client_port = static_cast<std::uint16_t>(40000 + conv), server_port = kConversationPorts[conv];

        const std::size_t l2 = vlan ? 18 : 14, l3 = v6 ? 40 : 20;
        frame.assign(l2 + l3 + 20, 0);
        if (vlan) {
            put16(frame, 12, 0x8100);
            put16(frame, 14, 42);
        }
        put16(frame, l2 - 2, v6 ? 0x86DD : 0x0800);
        std::array<std::uint8_t, 16> client{}, server{};
        client[0] = 10, client[3] = static_cast<std::uint8_t>(1 + conv);
        server[0] = 10, server[2] = 1, server[3] = 1;
        const auto& src = from_server ? server : client;
        const auto& dst = from_server ? client : server;
        if (v6) {
            frame[l2] = 0x60;
            put16(frame, l2 + 4, static_cast<std::uint16_t>(20 + payload.size()));
            frame[l2 + 6] = 6;
            frame[l2 + 7] = 64;
            std::copy(src.begin(), src.end(), frame.begin() + static_cast<std::ptrdiff_t>(l2 + 8));
            std::copy(dst.begin(), dst.end(), frame.begin() + static_cast<std::ptrdiff_t>(l2 + 24));
        } else {
            frame[l2] = 0x45;
            put16(frame, l2 + 2, static_cast<std::uint16_t>(40 + payload.size()));
            frame[l2 + 8] = 64;
            frame[l2 + 9] = 6;
            std::copy_n(src.begin(), 4, frame.begin() + static_cast<std::ptrdiff_t>(l2 + 12));
            std::copy_n(dst.begin(), 4, frame.begin() + static_cast<std::ptrdiff_t>(l2 + 16));
        }
        const std::size_t l4 = l2 + l3;
        put16(frame, l4, from_server ? server_port : client_port);
        put16(frame, l4 + 2, from_server ? client_port : server_port);
        put32(frame, l4 + 4, seq);
        put32(frame, l4 + 8, ack);
        frame[l4 + 12] = 0x50;
        frame[l4 + 13] = flags;
        put16(frame, l4 + 14, 65535);
        frame.insert(frame.end(), payload.begin(), payload.end());

        RawPacket p;
        p.ts = ts;
        p.link_type = 1;
        p.data = Bytes(frame);
        p.wire_len = static_cast<std::uint32_t>(frame.size());
        p.number = ++number;
        engine.on_packet(p);
        MESHPROOF_FUZZ_CHECK(engine.active_flows() <= cfg.max_flows);
        if ((sel >> 6) == 2) engine.expire(ts);
    }
    engine.end_input(number, std::nullopt);
    engine.finish();
    MESHPROOF_FUZZ_CHECK(sunk == engine.summary().flows);
    check_finished_engine(engine, cfg.keep_records);
    return 0;
}

}  // namespace meshproof::fuzz
