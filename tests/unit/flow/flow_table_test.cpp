#include <doctest/doctest.h>

#include <malloc.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "audit/flow/flow_table.hpp"
#include "audit/flow/tcp_flow.hpp"

using meshproof::audit::DecodedPacket;
using meshproof::audit::DecodeStatus;
using meshproof::audit::EvictionReason;
using meshproof::audit::FlowKey;
using meshproof::audit::FlowTable;
using meshproof::audit::hash_flow_key;
using meshproof::audit::IpAddress;
using meshproof::audit::TcpFlow;
using meshproof::audit::Transport;
namespace tcp_flags = meshproof::audit::tcp_flags;

namespace {

IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress ip;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
}

IpAddress v6_loopback() {
    IpAddress ip;
    ip.v6 = true;
    ip.bytes[15] = 1;
    return ip;
}

// Distinct key number i: a client address and port derived from i, one server.
FlowKey key_of(std::uint32_t i) {
    const IpAddress client = v4(10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                                static_cast<std::uint8_t>(i));
    return FlowKey::make(client, static_cast<std::uint16_t>(40000 + (i % 20000)), v4(192, 168, 0, 1), 443,
                         Transport::Tcp);
}

DecodedPacket syn_of(std::uint32_t i) {
    DecodedPacket p;
    p.status = DecodeStatus::Ok;
    p.transport = Transport::Tcp;
    p.src = v4(10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i));
    p.dst = v4(192, 168, 0, 1);
    p.src_port = static_cast<std::uint16_t>(1024 + (i % 60000));
    p.dst_port = 443;
    p.tcp_flags = tcp_flags::Syn;
    p.seq = i * 2654435761U;
    return p;
}

// Heap in use: small blocks plus mmapped large ones (bucket arrays).
std::size_t heap_in_use() {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

}  // namespace

TEST_CASE("FlowKey: both directions give one key") {
    const IpAddress a = v4(10, 0, 0, 1);
    const IpAddress b = v4(10, 0, 0, 2);
    const FlowKey forward = FlowKey::make(a, 50000, b, 80, Transport::Tcp);
    const FlowKey backward = FlowKey::make(b, 80, a, 50000, Transport::Tcp);
    CHECK(forward == backward);
    CHECK(hash_flow_key(forward) == hash_flow_key(backward));
    CHECK(forward.is_endpoint_a(a, 50000));
    CHECK_FALSE(forward.is_endpoint_a(b, 80));

    SUBCASE("same addresses, order decided by port") {
        const FlowKey k1 = FlowKey::make(a, 9000, a, 80, Transport::Tcp);
        const FlowKey k2 = FlowKey::make(a, 80, a, 9000, Transport::Tcp);
        CHECK(k1 == k2);
        CHECK(k1.port_a == 80);
    }
    SUBCASE("any field changes the key and the hash") {
        const std::vector<FlowKey> keys = {
            forward,
            FlowKey::make(a, 50001, b, 80, Transport::Tcp),
            FlowKey::make(a, 50000, b, 81, Transport::Tcp),
            FlowKey::make(a, 50000, v4(10, 0, 0, 3), 80, Transport::Tcp),
            FlowKey::make(a, 50000, b, 80, Transport::Udp),
            FlowKey::make(a, 50000, v6_loopback(), 80, Transport::Tcp),
        };
        std::set<std::uint64_t> hashes;
        for (const auto& k : keys) hashes.insert(hash_flow_key(k));
        CHECK(hashes.size() == keys.size());
        for (std::size_t i = 1; i < keys.size(); ++i) CHECK_FALSE(keys[i] == keys[0]);
    }
    SUBCASE("the seed changes the hash") {
        CHECK(hash_flow_key(forward, 1) != hash_flow_key(forward, 2));
    }
    SUBCASE("from_packet") {
        DecodedPacket p;
        p.src = b;
        p.src_port = 80;
        p.dst = a;
        p.dst_port = 50000;
        p.transport = Transport::Tcp;
        CHECK(FlowKey::from_packet(p) == forward);
    }
}

TEST_CASE("FlowTable: find_or_insert maps both directions to one entry") {
    FlowTable<int> table(16);
    const IpAddress a = v4(10, 0, 0, 1);
    const IpAddress b = v4(10, 0, 0, 2);
    auto first = table.find_or_insert(FlowKey::make(a, 50000, b, 80, Transport::Tcp), 1.0, [] { return 42; });
    REQUIRE(first.value != nullptr);
    CHECK(first.inserted);
    CHECK(*first.value == 42);
    *first.value = 7;
    auto again = table.find_or_insert(FlowKey::make(b, 80, a, 50000, Transport::Tcp), 2.0, [] { return 99; });
    CHECK_FALSE(again.inserted);
    CHECK(again.value == first.value);
    CHECK(*again.value == 7);
    CHECK(table.size() == 1);
    CHECK(table.inserted() == 1);

    const int* peeked = table.peek(FlowKey::make(a, 50000, b, 80, Transport::Tcp));
    REQUIRE(peeked != nullptr);
    CHECK(*peeked == 7);
    CHECK(table.find(FlowKey::make(a, 50001, b, 80, Transport::Tcp), 3.0) == nullptr);

    SUBCASE("erase is not an eviction") {
        int calls = 0;
        table.set_eviction_handler([&](const FlowKey&, int&, EvictionReason) { ++calls; });
        CHECK(table.erase(FlowKey::make(b, 80, a, 50000, Transport::Tcp)));
        CHECK_FALSE(table.erase(FlowKey::make(b, 80, a, 50000, Transport::Tcp)));
        CHECK(table.empty());
        CHECK(table.evicted() == 0);
        CHECK(calls == 0);
    }
    SUBCASE("default-constructed values") {
        auto r = table.find_or_insert(key_of(5), 1.0);
        REQUIRE(r.value != nullptr);
        CHECK(r.inserted);
        CHECK(*r.value == 0);
    }
}

TEST_CASE("FlowTable: LRU eviction at max_flows") {
    FlowTable<std::uint32_t> table(3);
    std::vector<std::uint32_t> evicted_values;
    std::vector<EvictionReason> reasons;
    table.set_eviction_handler([&](const FlowKey& key, std::uint32_t& v, EvictionReason why) {
        CHECK(key == key_of(v));  // the handler sees the evicted flow's own key
        evicted_values.push_back(v);
        reasons.push_back(why);
    });
    for (std::uint32_t i = 0; i < 3; ++i) table.find_or_insert(key_of(i), i, [i] { return i; });
    REQUIRE(table.size() == 3);

    SUBCASE("the least recently used goes first") {
        table.find_or_insert(key_of(3), 3.0, [] { return 3U; });
        CHECK(table.size() == 3);
        REQUIRE(evicted_values.size() == 1);
        CHECK(evicted_values[0] == 0);
        CHECK(reasons[0] == EvictionReason::Capacity);
        CHECK(table.evicted() == 1);
        CHECK(table.evicted_capacity() == 1);
        CHECK(table.peek(key_of(0)) == nullptr);
    }
    SUBCASE("a lookup refreshes a flow") {
        REQUIRE(table.find(key_of(0), 3.0) != nullptr);
        table.find_or_insert(key_of(3), 3.5, [] { return 3U; });
        table.find_or_insert(key_of(4), 3.6, [] { return 4U; });
        CHECK(evicted_values == std::vector<std::uint32_t>{1, 2});
        CHECK(table.peek(key_of(0)) != nullptr);
        std::vector<std::uint32_t> order;
        table.for_each([&](const FlowKey&, std::uint32_t& v) { order.push_back(v); });
        CHECK(order == std::vector<std::uint32_t>{4, 3, 0});
    }
    SUBCASE("values keep their address while other flows come and go") {
        std::uint32_t* kept = table.find(key_of(2), 10.0);
        REQUIRE(kept != nullptr);
        for (std::uint32_t i = 100; i < 102; ++i) table.find_or_insert(key_of(i), 11.0, [i] { return i; });
        CHECK(table.find(key_of(2), 12.0) == kept);
        CHECK(*kept == 2);
    }
    SUBCASE("drain hands over every flow and empties the table") {
        std::vector<std::uint32_t> drained;
        table.drain([&](const FlowKey&, std::uint32_t& v) { drained.push_back(v); });
        CHECK(drained == std::vector<std::uint32_t>{0, 1, 2});
        CHECK(table.empty());
        CHECK(table.evicted() == 0);
        // The table is usable afterwards and reuses its slots.
        const std::size_t mem = table.memory_bytes();
        for (std::uint32_t i = 0; i < 3; ++i) table.find_or_insert(key_of(i + 10), 20.0, [i] { return i; });
        CHECK(table.size() == 3);
        CHECK(table.memory_bytes() == mem);
    }
}

TEST_CASE("FlowTable: idle expiry") {
    FlowTable<int> table(100);
    int idle_calls = 0;
    table.set_eviction_handler([&](const FlowKey&, int&, EvictionReason why) {
        CHECK(why == EvictionReason::Idle);
        ++idle_calls;
    });
    table.find_or_insert(key_of(0), 0.0);
    table.find_or_insert(key_of(1), 1.0);
    table.find_or_insert(key_of(2), 2.0);
    table.find_or_insert(key_of(3), 9.0);
    REQUIRE(table.find(key_of(0), 8.0) != nullptr);  // flow 0 is active again

    // LRU order, oldest first: 1 (idle 9 s), 2 (8 s), 3 (1 s), 0 (2 s).
    CHECK(table.expire_idle(10.0, 7.5) == 2);
    CHECK(table.size() == 2);
    CHECK(idle_calls == 2);
    CHECK(table.expired_idle() == 2);
    CHECK(table.evicted() == 2);
    CHECK(table.peek(key_of(1)) == nullptr);
    CHECK(table.peek(key_of(0)) != nullptr);
    CHECK(table.expire_idle(10.0, 7.5) == 0);
    CHECK(table.expire_idle(100.0, 30.0) == 2);
    CHECK(table.empty());
}

TEST_CASE("FlowTable: a million distinct keys stay within max_flows") {
    FlowTable<std::uint64_t> table(1000, 0x1234);
    std::uint64_t handler_calls = 0;
    table.set_eviction_handler([&](const FlowKey&, std::uint64_t&, EvictionReason) { ++handler_calls; });
    std::size_t memory_when_full = 0;
    for (std::uint32_t i = 0; i < 1000000; ++i) {
        auto r = table.find_or_insert(key_of(i), i * 1e-6, [i] { return std::uint64_t{i}; });
        REQUIRE(r.inserted);
        if (i == 999) memory_when_full = table.memory_bytes();
    }
    CHECK(table.size() == 1000);
    CHECK(table.evicted() == 1000000 - 1000);
    CHECK(handler_calls == 1000000 - 1000);
    CHECK(table.memory_bytes() == memory_when_full);
    // The survivors are the newest thousand.
    CHECK(table.peek(key_of(999999)) != nullptr);
    CHECK(table.peek(key_of(999000)) != nullptr);
    CHECK(table.peek(key_of(998999)) == nullptr);
}

TEST_CASE("FlowTable: a million SYNs of TcpFlow stay within max_flows") {
    FlowTable<TcpFlow> table(1000);
    for (std::uint32_t i = 0; i < 1000000; ++i) {
        const DecodedPacket syn = syn_of(i);
        const double ts = i * 1e-6;
        auto r = table.find_or_insert(FlowKey::from_packet(syn), ts, [&] { return TcpFlow(syn, ts); });
        REQUIRE(r.value != nullptr);
        r.value->on_packet(syn, ts);
    }
    CHECK(table.size() == 1000);
    CHECK(table.evicted() == 1000000 - 1000);
    const TcpFlow* last = table.peek(FlowKey::from_packet(syn_of(999999)));
    REQUIRE(last != nullptr);
    CHECK(last->syn_seen());
    CHECK(last->stats(meshproof::Direction::ClientToServer).packets == 1);
}

TEST_CASE("FlowTable: bytes per entry (printed, not asserted)") {
    constexpr std::uint32_t kFlows = 100000;
    SUBCASE("8-byte value") {
        const std::size_t before = heap_in_use();
        {
            FlowTable<std::uint64_t> table(kFlows);
            for (std::uint32_t i = 0; i < kFlows; ++i) table.find_or_insert(key_of(i), 0.0);
            REQUIRE(table.size() == kFlows);
            const std::size_t after = heap_in_use();
            MESSAGE("FlowTable<uint64_t>: slot " << FlowTable<std::uint64_t>::slot_bytes() << " B, table-reported "
                                                 << table.memory_bytes() / kFlows << " B/entry, mallinfo2 "
                                                 << (after - before) / kFlows << " B/entry");
            CHECK(table.memory_bytes() > 0);
        }
    }
    SUBCASE("TcpFlow after a SYN and a 100-byte request") {
        const std::size_t before = heap_in_use();
        {
            FlowTable<TcpFlow> table(kFlows);
            const std::vector<std::uint8_t> request(100, 'G');
            for (std::uint32_t i = 0; i < kFlows; ++i) {
                DecodedPacket p = syn_of(i);
                auto r = table.find_or_insert(FlowKey::from_packet(p), 0.0, [&] { return TcpFlow(p, 0.0); });
                r.value->on_packet(p, 0.0);
                p.tcp_flags = tcp_flags::Ack | tcp_flags::Psh;
                p.seq += 1;
                p.payload = meshproof::Bytes(request);
                p.wire_payload_len = 100;
                r.value->on_packet(p, 0.01);
            }
            REQUIRE(table.size() == kFlows);
            const std::size_t after = heap_in_use();
            MESSAGE("FlowTable<TcpFlow>: sizeof(TcpFlow) " << sizeof(TcpFlow) << " B, slot "
                                                            << FlowTable<TcpFlow>::slot_bytes()
                                                            << " B, mallinfo2 " << (after - before) / kFlows
                                                            << " B/entry (incl. 100-byte stream buffer)");
            CHECK(table.memory_bytes() > 0);
        }
    }
}
