// Builds TCP/IPv4 conversations as Ethernet frames (correct sequence numbers) and feeds them to an
// Engine: shared by the engine test files.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>
#include <vector>

#include "audit/engine/engine.hpp"
#include "tests/unit/classify/test_tls_builder.hpp"

namespace meshproof::audit::enginetest {

using tlstest::Buf;

// A TCP/IPv4 conversation builder producing Ethernet frames with correct sequence numbers.
struct Conversation {
    std::array<std::uint8_t, 4> a{10, 244, 1, 20}, b{10, 244, 2, 30};
    std::uint16_t pa = 40000, pb = 8080;
    std::uint32_t seq_a = 1000, seq_b = 5000;
    double ts = 1700000000.0;
    std::vector<Buf> frames;
    std::vector<double> times;

    void packet(bool from_a, std::uint8_t flags, const Buf& payload = {}) {
        Buf f(14, 0);
        f[12] = 0x08;
        Buf ip(20, 0);
        ip[0] = 0x45;
        const auto total = static_cast<std::uint16_t>(20 + 20 + payload.size());
        ip[2] = static_cast<std::uint8_t>(total >> 8);
        ip[3] = static_cast<std::uint8_t>(total);
        ip[8] = 64;
        ip[9] = 6;
        const auto& src = from_a ? a : b;
        const auto& dst = from_a ? b : a;
        std::memcpy(&ip[12], src.data(), 4);
        std::memcpy(&ip[16], dst.data(), 4);
        Buf tcp(20, 0);
        const std::uint16_t sp = from_a ? pa : pb, dp = from_a ? pb : pa;
        std::uint32_t& seq = from_a ? seq_a : seq_b;
        const std::uint32_t ack = from_a ? seq_b : seq_a;
        auto put16 = [&](std::size_t at, std::uint16_t v) {
            tcp[at] = static_cast<std::uint8_t>(v >> 8);
            tcp[at + 1] = static_cast<std::uint8_t>(v);
        };
        auto put32 = [&](std::size_t at, std::uint32_t v) {
            put16(at, static_cast<std::uint16_t>(v >> 16));
            put16(at + 2, static_cast<std::uint16_t>(v));
        };
        put16(0, sp);
        put16(2, dp);
        put32(4, seq);
        put32(8, (flags & tcp_flags::Ack) ? ack : 0);
        tcp[12] = 0x50;
        tcp[13] = flags;
        put16(14, 65535);
        f.insert(f.end(), ip.begin(), ip.end());
        f.insert(f.end(), tcp.begin(), tcp.end());
        f.insert(f.end(), payload.begin(), payload.end());
        seq += static_cast<std::uint32_t>(payload.size()) + ((flags & (tcp_flags::Syn | tcp_flags::Fin)) ? 1 : 0);
        frames.push_back(std::move(f));
        ts += 0.01;
        times.push_back(ts);
    }
    void handshake() {
        packet(true, tcp_flags::Syn);
        packet(false, tcp_flags::Syn | tcp_flags::Ack);
        packet(true, tcp_flags::Ack);
    }
    void data(bool from_a, const Buf& payload) { packet(from_a, tcp_flags::Ack | tcp_flags::Psh, payload); }
    void data(bool from_a, std::string_view text) { data(from_a, Buf(text.begin(), text.end())); }
    void close() {
        packet(true, tcp_flags::Fin | tcp_flags::Ack);
        packet(false, tcp_flags::Fin | tcp_flags::Ack);
        packet(true, tcp_flags::Ack);
    }
    void feed(Engine& e, int copies = 1) const {
        for (std::size_t i = 0; i < frames.size(); ++i) {
            for (int c = 0; c < copies; ++c) {
                RawPacket p;
                p.ts = times[i] + c * 1e-5;
                p.link_type = 1;
                p.data = Bytes(frames[i]);
                p.wire_len = static_cast<std::uint32_t>(frames[i].size());
                e.on_packet(p);
            }
        }
    }
};

// Feeds the frames of several conversations to the engine merged in timestamp order (a capture of
// concurrent flows).
inline void feed_merged(Engine& e, const std::vector<const Conversation*>& convs) {
    struct Item {
        double ts;
        const Buf* frame;
    };
    std::vector<Item> items;
    for (const Conversation* c : convs) {
        for (std::size_t i = 0; i < c->frames.size(); ++i) items.push_back({c->times[i], &c->frames[i]});
    }
    std::stable_sort(items.begin(), items.end(), [](const Item& x, const Item& y) { return x.ts < y.ts; });
    for (const Item& it : items) {
        RawPacket p;
        p.ts = it.ts;
        p.link_type = 1;
        p.data = Bytes(*it.frame);
        p.wire_len = static_cast<std::uint32_t>(it.frame->size());
        e.on_packet(p);
    }
}

inline Buf istio_client_hello() {
    return tlstest::client_hello_record(tlstest::modern_client("outbound_.8080_._.server.demo.svc.cluster.local",
                                                               {"istio-peer-exchange", "istio"}));
}
inline Buf tls13_server_hello() {
    return tlstest::handshake_record(tlstest::handshake(2, tlstest::server_hello_body(tlstest::tls13_server_hello())));
}

}  // namespace meshproof::audit::enginetest
