// to_string(IpAddress) must print exactly what inet_ntop prints (tshark, tcpdump and kubectl show
// addresses that way, and reports are compared with them); endpoint_to_string brackets IPv6.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include "audit/decode/packet.hpp"

using namespace meshproof::audit;

namespace {

IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress x;
    x.bytes[0] = a;
    x.bytes[1] = b;
    x.bytes[2] = c;
    x.bytes[3] = d;
    return x;
}

IpAddress v6_words(const std::array<std::uint16_t, 8>& w) {
    IpAddress x;
    x.v6 = true;
    for (std::size_t i = 0; i < 8; ++i) {
        x.bytes[2 * i] = static_cast<std::uint8_t>(w[i] >> 8);
        x.bytes[2 * i + 1] = static_cast<std::uint8_t>(w[i] & 0xFF);
    }
    return x;
}

std::string libc_ntop(const IpAddress& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    const char* r = inet_ntop(a.v6 ? AF_INET6 : AF_INET, a.bytes.data(), buf, sizeof buf);
    return r != nullptr ? std::string(r) : std::string("<inet_ntop failed>");
}

}  // namespace

TEST_CASE("IPv4 dotted quad") {
    CHECK(to_string(v4(0, 0, 0, 0)) == "0.0.0.0");
    CHECK(to_string(v4(10, 1, 2, 3)) == "10.1.2.3");
    CHECK(to_string(v4(255, 255, 255, 255)) == "255.255.255.255");
    CHECK(to_string(v4(192, 168, 100, 9)) == "192.168.100.9");
}

TEST_CASE("IPv6 RFC 5952 forms") {
    CHECK(to_string(v6_words({0, 0, 0, 0, 0, 0, 0, 0})) == "::");
    CHECK(to_string(v6_words({0, 0, 0, 0, 0, 0, 0, 1})) == "::1");
    CHECK(to_string(v6_words({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1})) == "2001:db8::1");
    CHECK(to_string(v6_words({0xfe80, 0, 0, 0, 0x0202, 0xb3ff, 0xfe1e, 0x8329})) == "fe80::202:b3ff:fe1e:8329");
    CHECK(to_string(v6_words({0x2001, 0xdb8, 0, 1, 1, 1, 1, 1})) == "2001:db8:0:1:1:1:1:1");  // one zero: not compressed
    CHECK(to_string(v6_words({0x2001, 0, 0, 1, 0, 0, 0, 1})) == "2001:0:0:1::1");            // the longer run wins
    CHECK(to_string(v6_words({0x2001, 0xdb8, 0, 0, 1, 0, 0, 1})) == "2001:db8::1:0:0:1");    // tie: the first
    CHECK(to_string(v6_words({0x2001, 0xdb8, 0, 0, 0, 0, 0, 0})) == "2001:db8::");
    CHECK(to_string(v6_words({0xABCD, 0xEF01, 0x2345, 0x6789, 0xABCD, 0xEF01, 0x2345, 0x6789})) ==
          "abcd:ef01:2345:6789:abcd:ef01:2345:6789");
    CHECK(to_string(v6_words({0x00fd, 0x000a, 0, 0, 0, 0, 0, 0x0010})) == "fd:a::10");  // no leading zeros
}

TEST_CASE("IPv6 with an embedded IPv4 address, as inet_ntop writes it") {
    CHECK(to_string(v6_words({0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304})) == "::ffff:1.2.3.4");  // mapped
    CHECK(to_string(v6_words({0, 0, 0, 0, 0, 0, 0x0a00, 0x0001})) == "::10.0.0.1");            // compatible
    CHECK(to_string(v6_words({0, 0, 0, 0, 0, 0, 0, 2})) == "::2");                              // not dotted
    CHECK(to_string(v6_words({0, 0, 0, 0, 0xffff, 0, 0x0102, 0x0304})) == "::ffff:0:102:304");  // SIIT: hex
    CHECK(to_string(v6_words({0x64, 0xff9b, 0, 0, 0, 0, 0x0102, 0x0304})) == "64:ff9b::102:304");
}

TEST_CASE("IPv6 formatting matches inet_ntop on many addresses") {
    std::mt19937 rng(5952);
    int compared = 0;
    for (int i = 0; i < 20000; ++i) {
        std::array<std::uint16_t, 8> w{};
        // Mostly zeros, so that every shape of zero run (and the v4 tails) comes up often.
        for (auto& word : w) {
            const unsigned pick = rng() % 4;
            word = pick == 0 ? static_cast<std::uint16_t>(rng()) : pick == 1 ? std::uint16_t{1} : std::uint16_t{0};
        }
        if (i % 7 == 0) w[5] = 0xffff;
        const IpAddress a = v6_words(w);
        CAPTURE(libc_ntop(a));
        REQUIRE(to_string(a) == libc_ntop(a));
        ++compared;
    }
    for (int i = 0; i < 2000; ++i) {
        const IpAddress a = v4(static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
                               static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()));
        REQUIRE(to_string(a) == libc_ntop(a));
        ++compared;
    }
    CHECK(compared == 22000);
}

TEST_CASE("endpoint_to_string") {
    CHECK(endpoint_to_string(v4(10, 0, 0, 1), 80) == "10.0.0.1:80");
    CHECK(endpoint_to_string(v4(127, 0, 0, 1), 0) == "127.0.0.1:0");
    CHECK(endpoint_to_string(v4(1, 2, 3, 4), 65535) == "1.2.3.4:65535");
    CHECK(endpoint_to_string(v6_words({0, 0, 0, 0, 0, 0, 0, 1}), 15008) == "[::1]:15008");
    CHECK(endpoint_to_string(v6_words({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}), 443) == "[2001:db8::1]:443");
}
