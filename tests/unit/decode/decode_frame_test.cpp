// decode_frame: every link type, VLAN/PPPoE, IPv4/IPv6 (options, extension headers, fragments),
// TCP/UDP, VXLAN/Geneve, and truncation at every byte. Frames are built here, layer by layer.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "audit/decode/packet.hpp"
#include "tests/unit/decode/frame_builder.hpp"

using namespace meshproof;
using namespace meshproof::audit;

using namespace meshproof::audit::frames;

// ---- the happy path, every field --------------------------------------------------------------

TEST_CASE("Ethernet IPv4 TCP: every field") {
    TcpSpec t;
    const Buf frame = ethernet(kEthIpv4, ipv4(tcp(t, kHello)));
    const auto p = decode(LinkType::Ethernet, frame);
    CHECK(p.status == DecodeStatus::Ok);
    CHECK(p.transport == Transport::Tcp);
    CHECK(p.ip_protocol == 6);
    CHECK(p.src == addr(kClient4));
    CHECK(p.dst == addr(kServer4));
    CHECK_FALSE(p.src.v6);
    CHECK(p.src_port == 43210);
    CHECK(p.dst_port == 443);
    CHECK(p.seq == 0x01020304u);
    CHECK(p.ack == 0xA0B0C0D0u);
    CHECK(p.tcp_flags == (tcp_flags::Ack | tcp_flags::Psh));
    CHECK(p.window == 0xFAF0);
    CHECK(bytes_of(p.payload) == kHello);
    CHECK(p.wire_payload_len == kHello.size());
    CHECK(p.vlan_depth == 0);
    CHECK(p.tunnel == Tunnel::None);
    CHECK(p.tunnel_vni == 0);
    CHECK(payload_inside(p, frame));
}

TEST_CASE("TCP header") {
    SUBCASE("options are skipped") {
        TcpSpec t;
        t.flags = tcp_flags::Syn;
        t.options = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07, 0x04, 0x02, 0x00, 0x00};
        const Buf frame = ethernet(kEthIpv4, ipv4(tcp(t, text("xy"))));
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tcp_flags == tcp_flags::Syn);
        CHECK(bytes_of(p.payload) == text("xy"));
        CHECK(p.wire_payload_len == 2);
    }
    SUBCASE("data offset below 5 is malformed") {
        TcpSpec t;
        t.data_offset_words = 4;
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(tcp(t, kHello)))).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("data offset past the IP payload is malformed") {
        TcpSpec t;
        t.data_offset_words = 15;  // 60 bytes, segment is 20 + 4
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(tcp(t, text("abcd"))))).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("IP length shorter than a TCP header is malformed") {
        Ipv4Spec s;
        s.total_len = 20 + 12;
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(s, tcp({}, {})))).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("options cut by the snap length: the segment is kept, without payload") {
        TcpSpec t;
        t.flags = tcp_flags::Syn;
        t.options = Buf(20, 0x01);
        const Buf full = ethernet(kEthIpv4, ipv4(tcp(t, {})));
        const Buf cut = prefix(full, 14 + 20 + 20 + 6);
        const auto p = decode(LinkType::Ethernet, cut);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tcp_flags == tcp_flags::Syn);
        CHECK(p.src_port == 43210);
        CHECK(p.payload.empty());
        CHECK(p.wire_payload_len == 0);
    }
}

TEST_CASE("IPv4 header") {
    SUBCASE("options (IHL 7) are skipped") {
        Ipv4Spec s;
        s.options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00};  // router alert, NOPs, EOL
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(s, tcp({}, kHello))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.dst_port == 443);
        CHECK(p.wire_payload_len == kHello.size());
    }
    SUBCASE("IHL below 5 is malformed") {
        Ipv4Spec s;
        s.ihl_words = 4;
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(s, tcp({}, kHello)))).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("total length below the header length is malformed") {
        Ipv4Spec s;
        s.options = Buf(8, 0x01);
        s.total_len = 24;
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(s, tcp({}, kHello)))).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("a version other than 4 under ethertype IPv4 is malformed") {
        Ipv4Spec s;
        s.version = 5;
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(s, tcp({}, kHello)))).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("total length 0 (TSO on the sending host): the captured bytes are the packet") {
        Ipv4Spec s;
        s.total_len = 0;
        const Buf big(3000, 0x42);
        const Buf frame = ethernet(kEthIpv4, ipv4(s, tcp({}, big)));
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.payload.size() == big.size());
        CHECK(p.wire_payload_len == big.size());
    }
    SUBCASE("ICMP is another transport, with addresses") {
        const Buf icmp{8, 0, 0xf7, 0xff, 0, 1, 0, 1};
        const Buf frame = ethernet(kEthIpv4, ipv4(icmp, 1));
        const auto p = decode(LinkType::Ethernet, frame);
        CHECK(p.status == DecodeStatus::OtherTransport);
        CHECK(p.transport == Transport::Other);
        CHECK(p.ip_protocol == 1);
        CHECK(p.src == addr(kClient4));
        CHECK(p.dst == addr(kServer4));
        CHECK(bytes_of(p.payload) == icmp);
        CHECK(p.wire_payload_len == icmp.size());
    }
}

TEST_CASE("IPv4 fragments are reported, not reassembled") {
    Ipv4Spec s;
    SUBCASE("first fragment: MF set") { s.frag = 0x2000; }
    SUBCASE("middle fragment: MF and offset") { s.frag = 0x2000 | 185; }
    SUBCASE("last fragment: offset only") { s.frag = 370; }
    const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(s, tcp({}, kHello))));
    CHECK(p.status == DecodeStatus::Fragment);
    CHECK(p.src == addr(kClient4));
    CHECK(p.dst == addr(kServer4));
    CHECK(p.ip_protocol == 6);
    CHECK(p.src_port == 0);  // not read from a fragment
}

TEST_CASE("IPv4 with DF only is not a fragment") {
    Ipv4Spec s;
    s.frag = 0x4000;
    CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(s, tcp({}, kHello)))).status == DecodeStatus::Ok);
}

TEST_CASE("Ethernet padding never reaches the payload") {
    SUBCASE("bare ACK padded to 60 bytes") {
        TcpSpec t;
        t.flags = tcp_flags::Ack;
        Buf frame = ethernet(kEthIpv4, ipv4(tcp(t, {})));
        REQUIRE(frame.size() == 54);
        frame.resize(60, 0xEE);
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.payload.empty());
        CHECK(p.wire_payload_len == 0);
    }
    SUBCASE("small UDP datagram padded") {
        Buf frame = ethernet(kEthIpv4, ipv4(udp(5353, 53, text("abc")), 17));
        frame.resize(60, 0xEE);
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(bytes_of(p.payload) == text("abc"));
        CHECK(p.wire_payload_len == 3);
    }
    SUBCASE("IPv6 with trailing bytes") {
        Buf frame = ethernet(kEthIpv6, ipv6(tcp({}, text("z"))));
        frame.resize(frame.size() + 7, 0xEE);
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(bytes_of(p.payload) == text("z"));
    }
}

TEST_CASE("snap length shorter than the packet: present payload and wire length differ") {
    const Buf body(1000, 0x61);
    const Buf full = ethernet(kEthIpv4, ipv4(tcp({}, body)));
    const Buf cut = prefix(full, 14 + 20 + 20 + 100);
    const auto p = decode(LinkType::Ethernet, cut);
    REQUIRE(p.status == DecodeStatus::Ok);
    CHECK(p.payload.size() == 100);
    CHECK(p.wire_payload_len == 1000);
}

TEST_CASE("UDP") {
    SUBCASE("fields and payload") {
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(udp(40000, 53, text("q")), 17)));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.transport == Transport::Udp);
        CHECK(p.ip_protocol == 17);
        CHECK(p.src_port == 40000);
        CHECK(p.dst_port == 53);
        CHECK(bytes_of(p.payload) == text("q"));
        CHECK(p.wire_payload_len == 1);
        CHECK(p.tcp_flags == 0);
    }
    SUBCASE("length below 8 is malformed") {
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(udp(1, 2, text("abc"), 7), 17))).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("length beyond the IP payload is malformed") {
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(udp(1, 2, text("abc"), 200), 17))).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("length shorter than the IP payload trims it") {
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(udp(1, 2, text("abcdef"), 10), 17)));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(bytes_of(p.payload) == text("ab"));
        CHECK(p.wire_payload_len == 2);
    }
}

TEST_CASE("Ethernet frames that carry no IP") {
    SUBCASE("ARP") { CHECK(decode(LinkType::Ethernet, ethernet(0x0806, Buf(28, 0))).status == DecodeStatus::NotIp); }
    SUBCASE("802.3 length field (LLC/STP)") {
        CHECK(decode(LinkType::Ethernet, ethernet(0x0026, Buf(38, 0x42))).status == DecodeStatus::NotIp);
    }
    SUBCASE("value between 1500 and 1536") {
        CHECK(decode(LinkType::Ethernet, ethernet(0x05FF, Buf(40, 0))).status == DecodeStatus::NotIp);
    }
    SUBCASE("PPPoE discovery") {
        CHECK(decode(LinkType::Ethernet, ethernet(0x8863, Buf(20, 0x11))).status == DecodeStatus::NotIp);
    }
    SUBCASE("PPP LCP inside a PPPoE session") {
        CHECK(decode(LinkType::Ethernet, ethernet(0x8864, pppoe_session(0xC021, Buf(10, 1)))).status ==
              DecodeStatus::NotIp);
    }
    SUBCASE("ARP behind a VLAN tag") {
        const auto p = decode(LinkType::Ethernet, ethernet(0x0806, Buf(28, 0), {{0x8100, 5}}));
        CHECK(p.status == DecodeStatus::NotIp);
        CHECK(p.vlan_depth == 1);
    }
}

TEST_CASE("VLAN tags are skipped and counted") {
    std::vector<Tag> tags;
    std::uint16_t depth = 0;
    SUBCASE("802.1Q") {
        tags = {{0x8100, 100}};
        depth = 1;
    }
    SUBCASE("802.1ad over 802.1Q (QinQ)") {
        tags = {{0x88A8, 10}, {0x8100, 20}};
        depth = 2;
    }
    SUBCASE("old 0x9100 QinQ") {
        tags = {{0x9100, 10}, {0x8100, 20}};
        depth = 2;
    }
    SUBCASE("three 802.1Q tags") {
        tags = {{0x8100, 1}, {0x8100, 2}, {0x8100, 3}};
        depth = 3;
    }
    const Buf frame = ethernet(kEthIpv4, ipv4(tcp({}, kHello)), tags);
    const auto p = decode(LinkType::Ethernet, frame);
    REQUIRE(p.status == DecodeStatus::Ok);
    CHECK(p.vlan_depth == depth);
    CHECK(p.dst_port == 443);
    CHECK(bytes_of(p.payload) == kHello);
}

TEST_CASE("VLAN tag limits") {
    SUBCASE("an endless run of tags is malformed") {
        const std::vector<Tag> tags(9, Tag{0x8100, 1});
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(tcp({}, kHello)), tags)).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("eight tags are still accepted") {
        const std::vector<Tag> tags(8, Tag{0x8100, 1});
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(tcp({}, kHello)), tags));
        CHECK(p.status == DecodeStatus::Ok);
        CHECK(p.vlan_depth == 8);
    }
    SUBCASE("a frame that ends inside a tag is truncated") {
        const Buf frame = ethernet(kEthIpv4, {}, {{0x8100, 1}});
        CHECK(decode(LinkType::Ethernet, prefix(frame, 16)).status == DecodeStatus::Truncated);
    }
}

TEST_CASE("PPPoE session") {
    SUBCASE("IPv4 inside QinQ + PPPoE (as in one_http_stream_rst.pcap)") {
        const Buf frame = ethernet(0x8864, pppoe_session(0x0021, ipv4(tcp({}, kHello))), {{0x8100, 20}, {0x8100, 30}});
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.vlan_depth == 2);
        CHECK(p.src == addr(kClient4));
        CHECK(bytes_of(p.payload) == kHello);
    }
    SUBCASE("IPv6") {
        const auto p = decode(LinkType::Ethernet, ethernet(0x8864, pppoe_session(0x0057, ipv6(tcp({}, kHello)))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.src == addr(kClient6));
        CHECK(p.dst_port == 443);
    }
    SUBCASE("bad version/type is malformed") {
        CHECK(decode(LinkType::Ethernet, ethernet(0x8864, pppoe_session(0x0021, ipv4(tcp({}, kHello)), 0x21))).status ==
              DecodeStatus::Malformed);
    }
    SUBCASE("a non-session code is not IP") {
        CHECK(decode(LinkType::Ethernet, ethernet(0x8864, pppoe_session(0x0021, ipv4(tcp({}, kHello)), 0x11, 0x09)))
                  .status == DecodeStatus::NotIp);
    }
    SUBCASE("compressed one-byte PPP protocol field") {
        Buf session{0x11, 0x00, 0x00, 0x01};
        const Buf ip = ipv4(tcp({}, kHello));
        put16(session, 1 + static_cast<unsigned>(ip.size()));
        put8(session, 0x21);
        append(session, ip);
        const auto p = decode(LinkType::Ethernet, ethernet(0x8864, session));
        CHECK(p.status == DecodeStatus::Ok);
        CHECK(p.dst_port == 443);
    }
}

// ---- IPv6 -----------------------------------------------------------------------------------

TEST_CASE("IPv6 TCP: every field") {
    TcpSpec t;
    t.flags = tcp_flags::Fin | tcp_flags::Ack;
    const Buf frame = ethernet(kEthIpv6, ipv6(tcp(t, kHello)));
    const auto p = decode(LinkType::Ethernet, frame);
    REQUIRE(p.status == DecodeStatus::Ok);
    CHECK(p.transport == Transport::Tcp);
    CHECK(p.src == addr(kClient6));
    CHECK(p.dst == addr(kServer6));
    CHECK(p.src.v6);
    CHECK(p.src_port == 43210);
    CHECK(p.dst_port == 443);
    CHECK(p.seq == 0x01020304u);
    CHECK(p.ack == 0xA0B0C0D0u);
    CHECK(p.tcp_flags == (tcp_flags::Fin | tcp_flags::Ack));
    CHECK(p.window == 0xFAF0);
    CHECK(bytes_of(p.payload) == kHello);
    CHECK(p.wire_payload_len == kHello.size());
}

TEST_CASE("IPv6 extension header chain") {
    SUBCASE("hop-by-hop, routing, destination options, AH, atomic fragment, mobility-free chain") {
        Buf rest = ext_header(43, 0);         // hop-by-hop -> routing
        append(rest, ext_header(60, 2));      // routing (24 bytes) -> destination options
        append(rest, ext_header(51, 1));      // destination options (16) -> AH
        append(rest, ah_header(44, 4));       // AH (24) -> fragment
        append(rest, fragment_header(6, 0, false));  // atomic fragment -> TCP
        append(rest, tcp({}, kHello));
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6(rest, 0)));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.transport == Transport::Tcp);
        CHECK(p.ip_protocol == 6);
        CHECK(p.dst_port == 443);
        CHECK(bytes_of(p.payload) == kHello);
        CHECK(p.wire_payload_len == kHello.size());
    }
    SUBCASE("mobility header then UDP") {
        Buf rest = ext_header(17, 1);
        append(rest, udp(1000, 2000, text("m")));
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6(rest, 135)));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.transport == Transport::Udp);
        CHECK(bytes_of(p.payload) == text("m"));
    }
    SUBCASE("an extension header longer than the payload length is malformed") {
        Buf rest = ext_header(6, 3);  // 32 bytes
        Ipv6Spec s;
        s.next = 0;
        s.payload_len = 16;
        append(rest, tcp({}, {}));
        CHECK(decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6(s, rest))).status == DecodeStatus::Malformed);
    }
    SUBCASE("an extension header cut by the snap length is truncated") {
        Buf rest = ext_header(6, 3);
        append(rest, tcp({}, {}));
        const Buf frame = ethernet(kEthIpv6, ipv6(rest, 0));
        CHECK(decode(LinkType::Ethernet, prefix(frame, 14 + 40 + 20)).status == DecodeStatus::Truncated);
    }
    SUBCASE("no next header") {
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6({}, 59)));
        CHECK(p.status == DecodeStatus::OtherTransport);
        CHECK(p.ip_protocol == 59);
        CHECK(p.src == addr(kClient6));
    }
    SUBCASE("ESP is another transport") {
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6(Buf(40, 0x77), 50)));
        CHECK(p.status == DecodeStatus::OtherTransport);
        CHECK(p.ip_protocol == 50);
        CHECK(p.payload.size() == 40);
    }
    SUBCASE("ICMPv6 after hop-by-hop") {
        Buf rest = ext_header(58, 0);
        append(rest, Buf{128, 0, 0, 0, 0, 1, 0, 1});
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6(rest, 0)));
        CHECK(p.status == DecodeStatus::OtherTransport);
        CHECK(p.ip_protocol == 58);
        CHECK(p.payload.size() == 8);
    }
    SUBCASE("version other than 6 is malformed") {
        Buf frame = ethernet(kEthIpv6, ipv6(tcp({}, kHello)));
        frame[14] = 0x40;
        CHECK(decode(LinkType::Ethernet, frame).status == DecodeStatus::Malformed);
    }
}

TEST_CASE("IPv6 fragments") {
    Buf rest;
    std::uint8_t first = 44;
    SUBCASE("first fragment (M set)") { rest = fragment_header(6, 0, true); }
    SUBCASE("later fragment (offset, no M)") { rest = fragment_header(6, 100, false); }
    SUBCASE("behind a destination options header") {
        first = 60;
        rest = ext_header(44, 0);
        append(rest, fragment_header(6, 3, true));
    }
    append(rest, tcp({}, kHello));
    const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6(rest, first)));
    CHECK(p.status == DecodeStatus::Fragment);
    CHECK(p.ip_protocol == 6);
    CHECK(p.src == addr(kClient6));
    CHECK(p.dst == addr(kServer6));
}

TEST_CASE("IPv6 payload length 0") {
    SUBCASE("jumbogram: the hop-by-hop Jumbo Payload option gives the length") {
        const Buf body(70000, 0x33);
        Buf rest;
        put8(rest, 6);     // next: TCP
        put8(rest, 0);     // 8 bytes
        put8(rest, 0xC2);  // Jumbo Payload
        put8(rest, 4);
        put32(rest, static_cast<std::uint32_t>(8 + 20 + body.size()));
        append(rest, tcp({}, body));
        Ipv6Spec s;
        s.next = 0;
        s.payload_len = 0;
        const Buf frame = ethernet(kEthIpv6, ipv6(s, rest));
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.payload.size() == body.size());
        CHECK(p.wire_payload_len == body.size());
        SUBCASE("and cut by the snap length") {
            const auto c = decode(LinkType::Ethernet, prefix(frame, 14 + 40 + 8 + 20 + 500));
            REQUIRE(c.status == DecodeStatus::Ok);
            CHECK(c.payload.size() == 500);
            CHECK(c.wire_payload_len == body.size());
        }
    }
    SUBCASE("no jumbo option (GSO capture): the captured bytes are the packet") {
        Ipv6Spec s;
        s.payload_len = 0;
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6(s, tcp({}, kHello))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(bytes_of(p.payload) == kHello);
    }
}

// ---- other link types -------------------------------------------------------------------------

TEST_CASE("every link type reaches the same TCP segment") {
    const Buf v4 = ipv4(tcp({}, kHello));
    const Buf v6 = ipv6(tcp({}, kHello));
    struct Case {
        const char* name;
        LinkType link;
        Buf frame;
        bool is_v6;
    };
    const std::vector<Case> cases = {
        {"Ethernet v4", LinkType::Ethernet, ethernet(kEthIpv4, v4), false},
        {"Ethernet v6", LinkType::Ethernet, ethernet(kEthIpv6, v6), true},
        {"SLL v4", LinkType::LinuxSll, sll(kEthIpv4, v4), false},
        {"SLL v6", LinkType::LinuxSll, sll(kEthIpv6, v6), true},
        {"SLL with a VLAN tag left in", LinkType::LinuxSll, sll(0x8100, [&] {
             Buf b;
             put16(b, 7);
             put16(b, kEthIpv4);
             append(b, v4);
             return b;
         }()), false},
        {"SLL2 v4", LinkType::LinuxSll2, sll2(kEthIpv4, v4), false},
        {"SLL2 v6", LinkType::LinuxSll2, sll2(kEthIpv6, v6), true},
        {"RAW 101 v4", LinkType::Raw, v4, false},
        {"RAW 101 v6", LinkType::Raw, v6, true},
        {"DLT 12 v4", LinkType::DltRaw12, v4, false},
        {"DLT 14 v6", LinkType::DltRaw14, v6, true},
        {"IPv4 228", LinkType::Ipv4, v4, false},
        {"IPv6 229", LinkType::Ipv6, v6, true},
        {"NULL AF_INET little-endian", LinkType::Null, bsd_null(2, v4, true), false},
        {"NULL AF_INET big-endian", LinkType::Null, bsd_null(2, v4, false), false},
        {"NULL AF_INET6 24 (BSD)", LinkType::Null, bsd_null(24, v6, true), true},
        {"NULL AF_INET6 28 (FreeBSD)", LinkType::Null, bsd_null(28, v6, true), true},
        {"NULL AF_INET6 30 (macOS)", LinkType::Null, bsd_null(30, v6, true), true},
        {"NULL AF_INET6 30 big-endian", LinkType::Null, bsd_null(30, v6, false), true},
        {"LOOP AF_INET", LinkType::Loop, bsd_null(2, v4, false), false},
        {"LOOP AF_INET6", LinkType::Loop, bsd_null(24, v6, false), true},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const auto p = decode(c.link, c.frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.transport == Transport::Tcp);
        CHECK(p.src == (c.is_v6 ? addr(kClient6) : addr(kClient4)));
        CHECK(p.dst == (c.is_v6 ? addr(kServer6) : addr(kServer4)));
        CHECK(p.src_port == 43210);
        CHECK(p.dst_port == 443);
        CHECK(bytes_of(p.payload) == kHello);
        CHECK(payload_inside(p, c.frame));
        CHECK(is_supported_link_type(static_cast<int>(c.link)));
    }
}

TEST_CASE("link-type edge cases") {
    SUBCASE("raw IP with a bad version nibble") {
        CHECK(decode(LinkType::Raw, Buf(40, 0x50)).status == DecodeStatus::Malformed);
    }
    SUBCASE("LINKTYPE_IPV4 carrying IPv6 is malformed") {
        CHECK(decode(LinkType::Ipv4, ipv6(tcp({}, kHello))).status == DecodeStatus::Malformed);
    }
    SUBCASE("LINKTYPE_IPV6 carrying IPv4 is malformed") {
        CHECK(decode(LinkType::Ipv6, ipv4(tcp({}, kHello))).status == DecodeStatus::Malformed);
    }
    SUBCASE("NULL with an unknown family") {
        CHECK(decode(LinkType::Null, bsd_null(7, Buf(40, 0), true)).status == DecodeStatus::NotIp);
    }
    SUBCASE("SLL with an 802.2 LLC protocol that is not SNAP (STP)") {
        CHECK(decode(LinkType::LinuxSll, sll(0x0004, Buf(30, 0x42))).status == DecodeStatus::NotIp);
    }
    SUBCASE("SLL2 ARP") { CHECK(decode(LinkType::LinuxSll2, sll2(0x0806, Buf(28, 0))).status == DecodeStatus::NotIp); }
    SUBCASE("empty frames are truncated for every link type") {
        for (LinkType l : {LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Raw,
                           LinkType::Ipv4, LinkType::Ipv6, LinkType::Null, LinkType::Loop}) {
            CAPTURE(static_cast<int>(l));
            CHECK(decode(l, Buf{}).status == DecodeStatus::Truncated);
        }
    }
    SUBCASE("unsupported link types") {
        CHECK(decode(static_cast<LinkType>(147), ethernet(kEthIpv4, ipv4(tcp({}, kHello)))).status ==
              DecodeStatus::UnsupportedLinkType);
        CHECK_FALSE(is_supported_link_type(148));  // USER1
        CHECK_FALSE(is_supported_link_type(192));  // PPI
        CHECK_FALSE(is_supported_link_type(-1));
        CHECK_FALSE(is_supported_link_type(147));
    }
    SUBCASE("supported link types by number") {
        for (int dlt : {0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 228, 229, 239, 276}) {
            CAPTURE(dlt);
            CHECK(is_supported_link_type(dlt));
        }
    }
}

// ---- tunnels --------------------------------------------------------------------------------


TEST_CASE("VXLAN is decapsulated on 4789 and 8472") {
    std::uint16_t port = 0;
    SUBCASE("IANA port 4789") { port = 4789; }
    SUBCASE("flannel/Linux port 8472") { port = 8472; }
    const Buf frame = outer_udp_frame(port, vxlan(0x123456, inner_frame()));
    const auto p = decode(LinkType::Ethernet, frame);
    REQUIRE(p.status == DecodeStatus::Ok);
    CHECK(p.tunnel == Tunnel::Vxlan);
    CHECK(p.tunnel_vni == 0x123456u);
    CHECK(p.transport == Transport::Tcp);
    CHECK(p.src == addr(kClient4));  // the inner (pod) addresses, not the nodes
    CHECK(p.dst == addr(kServer4));
    CHECK(p.src_port == 43210);
    CHECK(p.dst_port == 443);
    CHECK(p.seq == 0x01020304u);
    CHECK(bytes_of(p.payload) == kHello);
    CHECK(p.wire_payload_len == kHello.size());
    CHECK(payload_inside(p, frame));
}

TEST_CASE("VXLAN that does not validate stays a UDP packet") {
    SUBCASE("I flag clear") {
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(4789, vxlan(5, inner_frame(), 0x00)));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::None);
        CHECK(p.transport == Transport::Udp);
        CHECK(p.dst_port == 4789);
        CHECK(p.src == addr(kNodeA));
        CHECK(p.payload.size() == 8 + inner_frame().size());
    }
    SUBCASE("shorter than a VXLAN header") {
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(4789, Buf{0x08, 0, 0}));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::None);
        CHECK(p.payload.size() == 3);
    }
    SUBCASE("VXLAN-shaped bytes to another port") {
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(4790, vxlan(5, inner_frame())));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::None);
        CHECK(p.dst_port == 4790);
    }
    SUBCASE("VXLAN *from* port 4789 is not decapsulated (the destination port names the service)") {
        Ipv4Spec s;
        s.protocol = 17;
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv4, ipv4(s, udp(4789, 33333, vxlan(5, inner_frame())))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::None);
    }
}

TEST_CASE("VXLAN inner frame details") {
    SUBCASE("inner VLAN tags are counted with the outer ones") {
        const Buf inner = ethernet(kEthIpv4, ipv4(tcp({}, kHello)), {{0x8100, 9}});
        Ipv4Spec s;
        s.protocol = 17;
        const Buf frame = ethernet(kEthIpv4, ipv4(s, udp(1, 4789, vxlan(77, inner))), {{0x8100, 3}});
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.vlan_depth == 2);
        CHECK(p.tunnel_vni == 77);
    }
    SUBCASE("inner ARP is not IP, and says which tunnel it came through") {
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(8472, vxlan(1, ethernet(0x0806, Buf(28, 0)))));
        CHECK(p.status == DecodeStatus::NotIp);
        CHECK(p.tunnel == Tunnel::Vxlan);
        CHECK(p.tunnel_vni == 1);
    }
    SUBCASE("inner IPv6") {
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(4789, vxlan(2, ethernet(kEthIpv6, ipv6(tcp({}, kHello))))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.src == addr(kClient6));
        CHECK(p.tunnel == Tunnel::Vxlan);
    }
    SUBCASE("outer IPv6") {
        Ipv6Spec s;
        s.next = 17;
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6(s, udp(1, 4789, vxlan(3, inner_frame())))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.src == addr(kClient4));
        CHECK(p.tunnel_vni == 3);
    }
}

TEST_CASE("Geneve") {
    SUBCASE("with options, inner Ethernet") {
        Buf options = geneve_option(0x0102, 0x80, 1);
        append(options, geneve_option(0xFFFF, 0x01, 2));
        const Buf frame = outer_udp_frame(6081, geneve(0xABCDEF, 0x6558, options, inner_frame()));
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::Geneve);
        CHECK(p.tunnel_vni == 0xABCDEFu);
        CHECK(p.src == addr(kClient4));
        CHECK(p.dst_port == 443);
        CHECK(bytes_of(p.payload) == kHello);
    }
    SUBCASE("inner IPv4 without Ethernet") {
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(6081, geneve(9, 0x0800, {}, ipv4(tcp({}, kHello)))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::Geneve);
        CHECK(p.src == addr(kClient4));
    }
    SUBCASE("inner IPv6 without Ethernet") {
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(6081, geneve(9, 0x86DD, {}, ipv6(tcp({}, kHello)))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.src == addr(kClient6));
        CHECK(p.tunnel_vni == 9);
    }
    SUBCASE("unknown protocol type stays UDP") {
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(6081, geneve(9, 0x88B5, {}, inner_frame())));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::None);
        CHECK(p.transport == Transport::Udp);
    }
    SUBCASE("version 1 stays UDP") {
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(6081, geneve(9, 0x6558, {}, inner_frame(), 1)));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::None);
    }
    SUBCASE("options longer than the datagram stay UDP") {
        Buf g;
        put8(g, 0x3F);  // 252 bytes of options announced
        put8(g, 0);
        put16(g, 0x6558);
        put32(g, 0);
        append(g, Buf(16, 0));
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(6081, g));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::None);
    }
}

TEST_CASE("tunnel nesting") {
    SUBCASE("VXLAN in Geneve: two levels, the outermost tunnel is reported") {
        const Buf level2 = outer_udp_frame(4789, vxlan(22, inner_frame()));
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(6081, geneve(11, 0x6558, {}, level2)));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::Geneve);
        CHECK(p.tunnel_vni == 11);
        CHECK(p.transport == Transport::Tcp);
        CHECK(p.src == addr(kClient4));
        CHECK(bytes_of(p.payload) == kHello);
    }
    SUBCASE("three levels of VXLAN with different VNIs are all looked through") {
        const Buf level3 = outer_udp_frame(4789, vxlan(33, inner_frame()));
        const Buf level2 = outer_udp_frame(4789, vxlan(22, level3));
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(4789, vxlan(11, level2)));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::Vxlan);
        CHECK(p.tunnel_vni == 11);
        CHECK(p.tunnel_levels == 3);
        CHECK(p.transport == Transport::Tcp);
        CHECK(p.src == addr(kClient4));
        CHECK(bytes_of(p.payload) == kHello);
    }
    SUBCASE("the same VXLAN header inside itself is a loop: malformed, not followed") {
        const Buf level2 = outer_udp_frame(4789, vxlan(11, inner_frame()));
        const auto p = decode(LinkType::Ethernet, outer_udp_frame(4789, vxlan(11, level2)));
        CHECK(p.status == DecodeStatus::Malformed);
        CHECK(p.tunnel == Tunnel::Vxlan);
    }
    SUBCASE("beyond 16 levels the 17th tunnel is left as UDP") {
        Buf frame = inner_frame();
        for (std::uint32_t vni = 1; vni <= 17; ++vni) frame = outer_udp_frame(4789, vxlan(vni, frame));
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel_levels == 16);
        CHECK(p.tunnel_vni == 17);
        CHECK(p.transport == Transport::Udp);
        CHECK(p.dst_port == 4789);
        CHECK(p.src == addr(kNodeA));
    }
}

// ---- truncation at every byte ------------------------------------------------------------------

namespace {
// Cut `full` at every length; below `headers` bytes the decode must say Truncated (or, for cuts
// inside a tunnel header, fall back to the outer packet), from there on Ok with the payload cut.
void check_every_cut(LinkType link, const Buf& full, std::size_t headers, std::uint32_t wire_payload) {
    for (std::size_t n = 0; n < full.size(); ++n) {
        CAPTURE(n);
        const Buf cut = prefix(full, n);
        const auto p = decode(link, cut);
        CHECK(payload_inside(p, cut));
        if (n < headers) {
            CHECK(p.status == DecodeStatus::Truncated);
        } else {
            REQUIRE(p.status == DecodeStatus::Ok);
            CHECK(p.payload.size() == n - headers);
            CHECK(p.wire_payload_len == wire_payload);
        }
    }
    const auto whole = decode(link, full);
    REQUIRE(whole.status == DecodeStatus::Ok);
    CHECK(whole.payload.size() == full.size() - headers);
}
}  // namespace

TEST_CASE("truncated at every byte offset") {
    SUBCASE("Ethernet / IPv4 with options / TCP with options") {
        Ipv4Spec s;
        s.options = Buf(8, 0x01);
        TcpSpec t;
        t.options = Buf(12, 0x01);
        const Buf full = ethernet(kEthIpv4, ipv4(s, tcp(t, kHello)));
        // A cut inside the TCP options keeps the segment (see "TCP header"), so check those
        // offsets separately: fixed header complete -> Ok with no payload.
        const std::size_t fixed_end = 14 + 28 + 20;
        for (std::size_t n = 0; n < full.size(); ++n) {
            CAPTURE(n);
            const Buf cut = prefix(full, n);
            const auto p = decode(LinkType::Ethernet, cut);
            CHECK(payload_inside(p, cut));
            if (n < fixed_end) {
                CHECK(p.status == DecodeStatus::Truncated);
            } else {
                REQUIRE(p.status == DecodeStatus::Ok);
                CHECK(p.payload.size() == (n > fixed_end + 12 ? n - fixed_end - 12 : 0));
                CHECK(p.wire_payload_len == kHello.size());
            }
        }
    }
    SUBCASE("QinQ / PPPoE / IPv6 / extension headers / TCP") {
        Buf rest = ext_header(44, 1);
        append(rest, fragment_header(6, 0, false));
        append(rest, tcp({}, kHello));
        const Buf full = ethernet(0x8864, pppoe_session(0x0057, ipv6(rest, 60)), {{0x88A8, 1}, {0x8100, 2}});
        check_every_cut(LinkType::Ethernet, full, 14 + 8 + 8 + 40 + 16 + 8 + 20, static_cast<std::uint32_t>(kHello.size()));
    }
    SUBCASE("SLL / IPv4 / UDP") {
        check_every_cut(LinkType::LinuxSll, sll(kEthIpv4, ipv4(udp(1, 2, kHello), 17)), 16 + 20 + 8,
                        static_cast<std::uint32_t>(kHello.size()));
    }
    SUBCASE("SLL2 / IPv6 / TCP") {
        check_every_cut(LinkType::LinuxSll2, sll2(kEthIpv6, ipv6(tcp({}, kHello))), 20 + 40 + 20,
                        static_cast<std::uint32_t>(kHello.size()));
    }
    SUBCASE("NULL / IPv6 / TCP") {
        check_every_cut(LinkType::Null, bsd_null(30, ipv6(tcp({}, kHello)), true), 4 + 40 + 20,
                        static_cast<std::uint32_t>(kHello.size()));
    }
    SUBCASE("VXLAN: a cut in the tunnel header leaves the outer UDP packet, deeper cuts are truncated") {
        const Buf inner = inner_frame();
        const Buf full = outer_udp_frame(4789, vxlan(7, inner));
        const std::size_t outer_headers = 14 + 20 + 8;
        const std::size_t inner_headers = outer_headers + 8 + 14 + 20 + 20;
        for (std::size_t n = 0; n < full.size(); ++n) {
            CAPTURE(n);
            const Buf cut = prefix(full, n);
            const auto p = decode(LinkType::Ethernet, cut);
            CHECK(payload_inside(p, cut));
            if (n < outer_headers) {
                CHECK(p.status == DecodeStatus::Truncated);
                CHECK(p.tunnel == Tunnel::None);
            } else if (n < outer_headers + 8) {
                REQUIRE(p.status == DecodeStatus::Ok);
                CHECK(p.tunnel == Tunnel::None);
                CHECK(p.payload.size() == n - outer_headers);
            } else if (n < inner_headers) {
                CHECK(p.status == DecodeStatus::Truncated);
                CHECK(p.tunnel == Tunnel::Vxlan);
            } else {
                REQUIRE(p.status == DecodeStatus::Ok);
                CHECK(p.tunnel == Tunnel::Vxlan);
                CHECK(p.payload.size() == n - inner_headers);
            }
        }
    }
}

// ---- hostile bytes ---------------------------------------------------------------------------

TEST_CASE("random and mutated frames never escape the frame") {
    std::mt19937 rng(20240607);
    const LinkType links[] = {LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Raw,
                              LinkType::Ipv4,     LinkType::Ipv6,     LinkType::Null,      LinkType::Loop};
    Buf rest = ext_header(51, 0);
    append(rest, ah_header(17, 2));
    append(rest, udp(1, 6081, geneve(1, 0x6558, geneve_option(1, 1, 1), outer_udp_frame(8472, vxlan(2, inner_frame())))));
    const std::vector<Buf> seeds = {
        inner_frame(),
        ethernet(0x8864, pppoe_session(0x0021, ipv4(tcp({}, kHello))), {{0x88A8, 1}, {0x8100, 2}}),
        ethernet(kEthIpv6, ipv6(rest, 0)),
        outer_udp_frame(4789, vxlan(7, inner_frame())),
    };
    int decoded_ok = 0;
    for (int round = 0; round < 20000; ++round) {
        Buf frame;
        const LinkType link = links[static_cast<std::size_t>(round) % std::size(links)];
        if (round % 2 == 0) {
            frame = seeds[static_cast<std::size_t>(round / 2) % seeds.size()];
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int f = 0; f < flips; ++f) frame[rng() % frame.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
            frame.resize(rng() % (frame.size() + 1));
        } else {
            frame.resize(rng() % 128);
            for (auto& b : frame) b = static_cast<std::uint8_t>(rng());
        }
        const auto p = decode(round % 2 == 0 ? LinkType::Ethernet : link, frame);
        REQUIRE(payload_inside(p, frame));
        if (p.status == DecodeStatus::Ok) {
            ++decoded_ok;
            CHECK(p.payload.size() <= p.wire_payload_len);
        }
    }
    CHECK(decoded_ok > 100);  // the mutations keep a fair share decodable
}

// ---- IP-in-IP, GRE, ERSPAN ----------------------------------------------------------------


TEST_CASE("IP-in-IP (Calico IPIP) and IPv6-in-IPv4 are decapsulated") {
    SUBCASE("IPv4 in IPv4") {
        const Buf frame = outer_ip_frame(4, ipv4(tcp({}, kHello)));
        const auto p = decode(LinkType::Ethernet, frame);
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::IpInIp);
        CHECK(p.src == addr(kClient4));  // pod addresses, not the nodes'
        CHECK(p.dst == addr(kServer4));
        CHECK(p.dst_port == 443);
        CHECK(bytes_of(p.payload) == kHello);
        CHECK(payload_inside(p, frame));
    }
    SUBCASE("IPv6 in IPv4 (protocol 41)") {
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(41, ipv6(tcp({}, kHello))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::IpInIp);
        CHECK(p.src == addr(kClient6));
    }
    SUBCASE("a cut inner header is Truncated, and says it was tunnelled") {
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(4, prefix(ipv4(tcp({}, kHello)), 12)));
        CHECK(p.status == DecodeStatus::Truncated);
        CHECK(p.tunnel == Tunnel::IpInIp);
    }
    SUBCASE("identical IPIP headers nested are a loop: malformed") {
        const Buf level3 = ipv4(ipv4(ipv4(tcp({}, kHello)), 4), 4);
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(4, level3));
        CHECK(p.status == DecodeStatus::Malformed);
        CHECK(p.tunnel == Tunnel::IpInIp);
    }
    SUBCASE("three IPIP levels between different nodes are looked through") {
        Ipv4Spec mid;
        mid.src = {10, 9, 9, 1};
        mid.dst = {10, 9, 9, 2};
        mid.protocol = 4;
        const Buf level3 = ipv4(mid, ipv4(ipv4(tcp({}, kHello)), 4));
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(4, level3));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel_levels == 3);
        CHECK(bytes_of(p.payload) == kHello);
    }
}

TEST_CASE("GRE") {
    SUBCASE("IPv4 with a key: the key is the tunnel id") {
        GreSpec g;
        g.key = 0xCAFE;
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(47, gre(g, ipv4(tcp({}, kHello)))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::Gre);
        CHECK(p.tunnel_vni == 0xCAFEu);
        CHECK(p.src == addr(kClient4));
        CHECK(bytes_of(p.payload) == kHello);
    }
    SUBCASE("checksum, key and sequence words, inner Ethernet (gretap)") {
        GreSpec g;
        g.protocol = 0x6558;
        g.checksum = true;
        g.key = 9;
        g.sequence = 77;
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(47, gre(g, inner_frame())));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::Gre);
        CHECK(p.tunnel_vni == 9);
        CHECK(p.dst_port == 443);
    }
    SUBCASE("inner IPv6 over an outer IPv6") {
        Ipv6Spec s;
        s.next = 47;
        GreSpec g;
        g.protocol = 0x86DD;
        const auto p = decode(LinkType::Ethernet, ethernet(kEthIpv6, ipv6(s, gre(g, ipv6(tcp({}, kHello))))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::Gre);
        CHECK(p.src == addr(kClient6));
    }
    SUBCASE("not decapsulated: PPTP's version 1, source routing, unknown payload, cut header") {
        GreSpec pptp;
        pptp.version = 1;
        GreSpec routed;
        routed.routing = true;
        GreSpec unknown;
        unknown.protocol = 0x880B;
        GreSpec keyed;
        keyed.key = 1;
        for (const Buf& gre_bytes : {gre(pptp, ipv4(tcp({}, kHello))), gre(routed, ipv4(tcp({}, kHello))),
                                     gre(unknown, ipv4(tcp({}, kHello))), prefix(gre(keyed, {}), 6)}) {
            const auto p = decode(LinkType::Ethernet, outer_ip_frame(47, gre_bytes));
            CHECK(p.status == DecodeStatus::OtherTransport);
            CHECK(p.ip_protocol == 47);
            CHECK(p.tunnel == Tunnel::None);
            CHECK(p.src == addr(kNodeA));
        }
    }
}

TEST_CASE("ERSPAN port mirrors over GRE") {
    SUBCASE("type II: session id, mirrored Ethernet frame") {
        GreSpec g;
        g.protocol = 0x88BE;
        g.sequence = 1;
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(47, gre(g, erspan2(0x155, inner_frame()))));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::Erspan);
        CHECK(p.tunnel_vni == 0x155u);
        CHECK(p.src == addr(kClient4));
        CHECK(bytes_of(p.payload) == kHello);
    }
    SUBCASE("type I: no sequence bit, no ERSPAN header") {
        GreSpec g;
        g.protocol = 0x88BE;
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(47, gre(g, inner_frame())));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.tunnel == Tunnel::Erspan);
        CHECK(p.dst_port == 443);
    }
    SUBCASE("type III with and without the platform sub-header") {
        GreSpec g;
        g.protocol = 0x22EB;
        g.sequence = 5;
        for (const bool sub : {false, true}) {
            const auto p = decode(LinkType::Ethernet, outer_ip_frame(47, gre(g, erspan3(0x3FF, sub, inner_frame()))));
            REQUIRE(p.status == DecodeStatus::Ok);
            CHECK(p.tunnel == Tunnel::Erspan);
            CHECK(p.tunnel_vni == 0x3FFu);
            CHECK(bytes_of(p.payload) == kHello);
        }
    }
    SUBCASE("a wrong ERSPAN version is not decapsulated") {
        GreSpec g;
        g.protocol = 0x22EB;
        Buf bad = erspan3(1, false, inner_frame());
        bad[0] = 0x30;  // version 3 does not exist
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(47, gre(g, bad)));
        CHECK(p.status == DecodeStatus::OtherTransport);
        CHECK(p.tunnel == Tunnel::None);
    }
}
