// decode_frame runs once per captured packet: it must not touch the heap. A counting global
// operator new (this test binary only) proves it for every path, tunnels included.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "audit/decode/packet.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

// GCC cannot see that this malloc-based new pairs with the free-based delete below.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
    ++g_allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace meshproof;
using namespace meshproof::audit;

TEST_CASE("decode_frame does not allocate") {
    // Ethernet / VLAN / IPv4 / UDP 4789 / VXLAN / Ethernet / IPv6 / hop-by-hop / TCP / "hi".
    const std::vector<std::uint8_t> frame = {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00,
        // IPv4, total 20 + 8 + 8 + 14 + 40 + 8 + 20 + 2 = 120
        0x45, 0, 0, 120, 0, 0, 0x40, 0, 64, 17, 0, 0, 172, 16, 0, 1, 172, 16, 0, 2,
        // UDP 51000 -> 4789, length 100
        0xC7, 0x38, 0x12, 0xB5, 0, 100, 0, 0,
        // VXLAN, VNI 42
        0x08, 0, 0, 0, 0, 0, 42, 0,
        // inner Ethernet, IPv6
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xDD,
        0x60, 0, 0, 0, 0, 30, 0, 64,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        // hop-by-hop -> TCP, 8 bytes
        6, 0, 1, 4, 0, 0, 0, 0,
        // TCP 1234 -> 443, data offset 5, PSH|ACK
        0x04, 0xD2, 0x01, 0xBB, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x18, 0x10, 0x00, 0, 0, 0, 0,
        'h', 'i'};
    DecodedPacket p;
    const std::uint64_t before = g_allocations.load();
    for (int i = 0; i < 1000; ++i) {
        p = decode_frame(LinkType::Ethernet, Bytes(frame).first(frame.size() - static_cast<std::size_t>(i % 3)));
    }
    p = decode_frame(LinkType::Ethernet, Bytes(frame));
    const std::uint64_t after = g_allocations.load();
    CHECK(after == before);
    REQUIRE(p.status == DecodeStatus::Ok);
    CHECK(p.tunnel == Tunnel::Vxlan);
    CHECK(p.tunnel_vni == 42);
    CHECK(p.vlan_depth == 1);
    CHECK(p.dst_port == 443);
    CHECK(p.payload.size() == 2);

    // The counter itself works (otherwise the check above proves nothing).
    auto* probe = new std::vector<int>(3);
    CHECK(g_allocations.load() > after);
    delete probe;
}
