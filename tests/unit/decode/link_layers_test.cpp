// The link layers and encapsulations beyond Ethernet: MPLS, PPP and Cisco HDLC, NFLOG, 802.11 (with
// and without radiotap), CAPWAP, Linux cooked captures of unusual devices, 802.3 + SNAP, and
// tunnel stacks three deep. Frames are built here, layer by layer (frame_builder.hpp).
#include <doctest/doctest.h>

#include <bit>

#include "audit/decode/packet.hpp"
#include "tests/unit/decode/frame_builder.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using namespace meshproof::audit::frames;

namespace {

const Buf kTcp4 = ipv4(tcp({}, kHello));
const Buf kTcp6 = ipv6(tcp({}, kHello));

// The decode reached the test's TCP segment, every field intact.
void check_hello(const DecodedPacket& p, bool v6 = false) {
    REQUIRE(p.status == DecodeStatus::Ok);
    CHECK(p.transport == Transport::Tcp);
    CHECK(p.src == (v6 ? addr(kClient6) : addr(kClient4)));
    CHECK(p.dst == (v6 ? addr(kServer6) : addr(kServer4)));
    CHECK(p.dst_port == 443);
    CHECK(bytes_of(p.payload) == kHello);
}

// Every cut of `full` shorter than `headers` is Truncated, every longer one Ok, never outside the frame.
void check_cuts(LinkType link, const Buf& full, std::size_t headers) {
    for (std::size_t n = 0; n < full.size(); ++n) {
        CAPTURE(n);
        const Buf cut = prefix(full, n);
        const auto p = decode(link, cut);
        CHECK(payload_inside(p, cut));
        if (n < headers) CHECK(p.status == DecodeStatus::Truncated);
        else CHECK(p.status == DecodeStatus::Ok);
    }
}

Buf mpls(std::vector<std::uint32_t> labels, const Buf& inner) {
    Buf b;
    for (std::size_t i = 0; i < labels.size(); ++i) put32(b, (labels[i] << 12) | (i + 1 == labels.size() ? 0x100u : 0u) | 64u);
    append(b, inner);
    return b;
}

// NFLOG: header, then TLVs in this host's byte order (or the other one), each padded to 4 bytes.
struct Tlv {
    std::uint16_t type;
    Buf value;
};
Buf nflog(std::uint8_t family, const std::vector<Tlv>& tlvs, bool swapped = false, unsigned version = 0) {
    Buf b;
    put8(b, family);
    put8(b, version);
    put16(b, 5);  // resource id (group), network order
    const bool little = (std::endian::native == std::endian::little) != swapped;
    for (const Tlv& t : tlvs) {
        const unsigned len = 4 + static_cast<unsigned>(t.value.size());
        if (little) {
            put16le(b, len);
            put16le(b, t.type);
        } else {
            put16(b, len);
            put16(b, t.type);
        }
        append(b, t.value);
        b.resize(b.size() + (4 - len % 4) % 4, 0);
    }
    return b;
}
const Tlv kPacketHeader{1, Buf{0x08, 0x00, 0x01, 0x00}};  // NFULA_PACKET_HDR: hw protocol, hook
const Tlv kPrefix{10, text("drop")};                        // NFULA_PREFIX (padded)

Buf snap(std::uint16_t type, const Buf& inner) {
    Buf b{0xAA, 0xAA, 0x03, 0x00, 0x00, 0x00};
    put16(b, type);
    append(b, inner);
    return b;
}

struct WifiSpec {
    unsigned subtype = 0;      // 0 data, 8 QoS data, 4 null
    unsigned type = 2;         // 0 management, 1 control, 2 data
    std::uint8_t flags = 0x01; // ToDS
    bool amsdu = false;
    bool swapped_fc = false;   // CAPWAP from a Cisco AP
};
Buf wifi(const WifiSpec& w, const Buf& body) {
    Buf b;
    const std::uint8_t fc0 = static_cast<std::uint8_t>((w.subtype << 4) | (w.type << 2));
    if (w.swapped_fc) {
        put8(b, w.flags);
        put8(b, fc0);
    } else {
        put8(b, fc0);
        put8(b, w.flags);
    }
    put16(b, 0x2c00);                 // duration
    append(b, Buf(18, 0x11));         // three addresses
    put16(b, 0x1230);                 // sequence control
    if ((w.flags & 0x03) == 0x03) append(b, Buf(6, 0x22));
    if ((w.subtype & 0x8) != 0) {
        put8(b, w.amsdu ? 0x80 : 0x00);
        put8(b, 0);
        if ((w.flags & 0x80) != 0) put32(b, 0);  // HT control
    }
    append(b, body);
    return b;
}

// radiotap with TSFT (8-byte aligned) and Flags; `ext` adds a second present word.
Buf radiotap(std::uint8_t flags, const Buf& frame, bool ext = false) {
    Buf fields;
    Buf b{0x00, 0x00, 0, 0};
    put32le(b, 0x00000003u | (ext ? 0x80000000u : 0u));
    if (ext) put32le(b, 0x00000000u);
    while (b.size() % 8 != 0) put8(b, 0);  // TSFT alignment
    append(b, Buf(8, 0x99));              // TSFT
    put8(b, flags);
    b[2] = static_cast<std::uint8_t>(b.size());
    append(b, frame);
    return b;
}

Buf capwap(bool native, const Buf& frame, unsigned extra_flags = 0, bool wireless_info = true) {
    Buf b;
    const unsigned hlen = wireless_info ? 4 : 2;
    std::uint32_t w = (hlen << 19) | (1u << 9) | (native ? (1u << 8) : 0u) | extra_flags;
    if (wireless_info) w |= 1u << 5;
    put32(b, w);
    put32(b, 0);  // fragment id and offset
    if (wireless_info) {
        put8(b, 4);
        append(b, Buf{0xbf, 0x23, 0x00, 0x00});
        append(b, Buf(3, 0));
    }
    append(b, frame);
    return b;
}
Buf udp_frame(std::uint16_t sport, std::uint16_t dport, const Buf& payload) {
    Ipv4Spec s;
    s.src = kNodeA;
    s.dst = kNodeB;
    s.protocol = 17;
    return ethernet(kEthIpv4, ipv4(s, udp(sport, dport, payload)));
}

Buf sll_arphrd(std::uint16_t arphrd, std::uint16_t protocol, const Buf& payload) {
    Buf b = sll(protocol, payload);
    b[2] = static_cast<std::uint8_t>(arphrd >> 8);
    b[3] = static_cast<std::uint8_t>(arphrd);
    return b;
}

}  // namespace

TEST_CASE("MPLS label stacks") {
    SUBCASE("one label, IPv4 by its version nibble") {
        const auto p = decode(LinkType::Ethernet, ethernet(0x8847, mpls({100}, kTcp4)));
        check_hello(p);
        CHECK(p.mpls_labels == 1);
    }
    SUBCASE("three labels, IPv6") {
        const auto p = decode(LinkType::Ethernet, ethernet(0x8847, mpls({16004, 24001, 7}, kTcp6)));
        check_hello(p, true);
        CHECK(p.mpls_labels == 3);
    }
    SUBCASE("multicast ethertype, inside an 802.1Q tag (mpls-in-vlan.pcap)") {
        const auto p = decode(LinkType::Ethernet, ethernet(0x8848, mpls({300}, kTcp4), {{0x8100, 10}}));
        check_hello(p);
        CHECK(p.vlan_depth == 1);
    }
    SUBCASE("explicit null labels say the payload") {
        check_hello(decode(LinkType::Ethernet, ethernet(0x8847, mpls({0}, kTcp4))));
        check_hello(decode(LinkType::Ethernet, ethernet(0x8847, mpls({2}, kTcp6))), true);
    }
    SUBCASE("Ethernet pseudowire with a control word") {
        Buf pw{0, 0, 0, 1};
        append(pw, ethernet(kEthIpv4, kTcp4));
        check_hello(decode(LinkType::Ethernet, ethernet(0x8847, mpls({1000, 2000}, pw))));
    }
    SUBCASE("a pseudowire OAM channel is not IP") {
        CHECK(decode(LinkType::Ethernet, ethernet(0x8847, mpls({1000}, Buf{0x10, 0, 0, 0x21, 0, 0}))).status == DecodeStatus::NotIp);
    }
    SUBCASE("a stack without a bottom is malformed, cut inside it is truncated") {
        Buf endless;
        for (int i = 0; i < 20; ++i) put32(endless, 0x00064040u);
        CHECK(decode(LinkType::Ethernet, ethernet(0x8847, endless)).status == DecodeStatus::Malformed);
        check_cuts(LinkType::Ethernet, ethernet(0x8847, mpls({5, 6}, kTcp4)), 14 + 8 + 40);
    }
    SUBCASE("MPLS in GRE") {
        GreSpec g;
        g.protocol = 0x8847;
        const auto p = decode(LinkType::Ethernet, outer_ip_frame(47, gre(g, mpls({77}, kTcp4))));
        check_hello(p);
        CHECK(p.tunnel == Tunnel::Gre);
        CHECK(p.mpls_labels == 1);
    }
}

TEST_CASE("PPP and Cisco HDLC link types") {
    SUBCASE("PPP with address and control bytes") {
        Buf f{0xFF, 0x03, 0x00, 0x21};
        append(f, kTcp4);
        check_hello(decode(LinkType::Ppp, f));
        check_hello(decode(LinkType::PppSerial, f));
    }
    SUBCASE("PPP without them, IPv6") {
        Buf f{0x00, 0x57};
        append(f, kTcp6);
        check_hello(decode(LinkType::Ppp, f), true);
    }
    SUBCASE("protocol-field compression") {
        Buf f{0xFF, 0x03, 0x21};
        append(f, kTcp4);
        check_hello(decode(LinkType::Ppp, f));
    }
    SUBCASE("MPLS over PPP") {
        Buf f{0xFF, 0x03, 0x02, 0x81};
        append(f, mpls({42}, kTcp4));
        check_hello(decode(LinkType::Ppp, f));
    }
    SUBCASE("LCP is not IP") {
        CHECK(decode(LinkType::Ppp, Buf{0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4}).status == DecodeStatus::NotIp);
    }
    SUBCASE("Cisco HDLC frames under the PPP link type (BGP_Cisco_hdlc_slarp.pcap)") {
        Buf f{0x0F, 0x00, 0x08, 0x00};
        append(f, kTcp4);
        check_hello(decode(LinkType::Ppp, f));
        Buf slarp{0x8F, 0x00, 0x80, 0x35};
        append(slarp, Buf(18, 0));
        CHECK(decode(LinkType::Ppp, slarp).status == DecodeStatus::NotIp);
    }
    SUBCASE("Cisco HDLC link type") {
        Buf f{0x0F, 0x00, 0x86, 0xDD};
        append(f, kTcp6);
        check_hello(decode(LinkType::CiscoHdlc, f), true);
        CHECK(decode(LinkType::CiscoHdlc, Buf{0x42, 0x00, 0x08, 0x00}).status == DecodeStatus::Malformed);
        check_cuts(LinkType::CiscoHdlc, f, 4 + 60);
    }
    SUBCASE("cut PPP headers are truncated") { check_cuts(LinkType::Ppp, Buf{0xFF, 0x03, 0x00, 0x21, 0x45}, 6); }
}

TEST_CASE("NFLOG: the packet in its payload TLV") {
    SUBCASE("IPv4 after other TLVs, padded") {
        const auto p = decode(LinkType::Nflog, nflog(2, {kPacketHeader, kPrefix, {9, kTcp4}}));
        check_hello(p);
    }
    SUBCASE("IPv6") { check_hello(decode(LinkType::Nflog, nflog(10, {kPacketHeader, {9, kTcp6}})), true); }
    SUBCASE("TLVs in the other byte order (a capture from another kind of host)") {
        check_hello(decode(LinkType::Nflog, nflog(2, {kPacketHeader, kPrefix, {9, kTcp4}}, true)));
    }
    SUBCASE("an unknown family: IP by its version nibble") {
        check_hello(decode(LinkType::Nflog, nflog(7, {{9, kTcp4}})));
    }
    SUBCASE("no payload TLV: nothing of the packet was copied") {
        CHECK(decode(LinkType::Nflog, nflog(2, {kPacketHeader, kPrefix})).status == DecodeStatus::Truncated);
    }
    SUBCASE("version other than 0, and a TLV shorter than its header, are malformed") {
        CHECK(decode(LinkType::Nflog, nflog(2, {{9, kTcp4}}, false, 1)).status == DecodeStatus::Malformed);
        Buf bad = nflog(2, {});
        append(bad, Buf{2, 0, 2, 0, 0, 0, 0, 0});  // length 2 in either byte order
        CHECK(decode(LinkType::Nflog, bad).status == DecodeStatus::Malformed);
    }
    SUBCASE("a payload TLV cut by the snap length still yields the segment") {
        const Buf full = nflog(2, {kPacketHeader, {9, kTcp4}});
        const std::size_t padding = (4 - (4 + kTcp4.size()) % 4) % 4;
        const auto p = decode(LinkType::Nflog, prefix(full, full.size() - padding - 5));
        REQUIRE(p.status == DecodeStatus::Ok);
        CHECK(p.payload.size() == kHello.size() - 5);
        CHECK(p.wire_payload_len == kHello.size());
    }
}

TEST_CASE("IEEE 802.11 data frames") {
    SUBCASE("data, LLC/SNAP, IPv4") { check_hello(decode(LinkType::Ieee80211, wifi({}, snap(0x0800, kTcp4)))); }
    SUBCASE("QoS data with HT control, four addresses (WDS), IPv6") {
        WifiSpec w;
        w.subtype = 8;
        w.flags = 0x03 | 0x80;
        check_hello(decode(LinkType::Ieee80211, wifi(w, snap(0x86DD, kTcp6))), true);
    }
    SUBCASE("protected frames are encrypted at the link layer") {
        WifiSpec w;
        w.flags = 0x41;
        CHECK(decode(LinkType::Ieee80211, wifi(w, Buf(60, 0xE7))).status == DecodeStatus::LinkEncrypted);
    }
    SUBCASE("management, control and null data frames are not IP") {
        WifiSpec beacon;
        beacon.type = 0;
        beacon.subtype = 8;
        CHECK(decode(LinkType::Ieee80211, wifi(beacon, Buf(40, 0))).status == DecodeStatus::NotIp);
        CHECK(decode(LinkType::Ieee80211, Buf{0xD4, 0x00, 0, 0, 1, 2, 3, 4, 5, 6}).status == DecodeStatus::NotIp);  // ACK
        WifiSpec null_data;
        null_data.subtype = 4;
        CHECK(decode(LinkType::Ieee80211, wifi(null_data, {})).status == DecodeStatus::NotIp);
    }
    SUBCASE("an A-MSDU: its first subframe") {
        WifiSpec w;
        w.subtype = 8;
        w.amsdu = true;
        const Buf inner = snap(0x0800, kTcp4);
        Buf sub(12, 0x33);
        put16(sub, static_cast<unsigned>(inner.size()));
        append(sub, inner);
        check_hello(decode(LinkType::Ieee80211, wifi(w, sub)));
    }
    SUBCASE("protocol version other than 0 is malformed; SNAP with another OUI is not IP") {
        CHECK(decode(LinkType::Ieee80211, Buf{0x09, 0x01, 0, 0}).status == DecodeStatus::Malformed);
        Buf cdp{0xAA, 0xAA, 0x03, 0x00, 0x00, 0x0C, 0x20, 0x00};
        CHECK(decode(LinkType::Ieee80211, wifi({}, cdp)).status == DecodeStatus::NotIp);
    }
    SUBCASE("cut headers are truncated") { check_cuts(LinkType::Ieee80211, wifi({}, snap(0x0800, kTcp4)), 24 + 8 + 40); }
}

TEST_CASE("radiotap") {
    const Buf frame = wifi({}, snap(0x0800, kTcp4));
    SUBCASE("TSFT and flags, then the 802.11 frame") { check_hello(decode(LinkType::Ieee80211Radiotap, radiotap(0, frame))); }
    SUBCASE("extended present bitmaps") { check_hello(decode(LinkType::Ieee80211Radiotap, radiotap(0, frame, true))); }
    SUBCASE("a frame that ends with its FCS: the FCS is not payload") {
        // IPv4 total length 0 (TSO): the captured bytes are the packet, so an FCS left on would be payload.
        Ipv4Spec s;
        s.total_len = 0;
        Buf with_fcs = wifi({}, snap(0x0800, ipv4(s, tcp({}, kHello))));
        append(with_fcs, Buf{0xDE, 0xAD, 0xBE, 0xEF});
        const auto p = decode(LinkType::Ieee80211Radiotap, radiotap(0x10, with_fcs));
        check_hello(p);
    }
    SUBCASE("a frame that failed its FCS check is malformed") {
        CHECK(decode(LinkType::Ieee80211Radiotap, radiotap(0x40, frame)).status == DecodeStatus::Malformed);
    }
    SUBCASE("bad version or length") {
        Buf v1 = radiotap(0, frame);
        v1[0] = 1;
        CHECK(decode(LinkType::Ieee80211Radiotap, v1).status == DecodeStatus::Malformed);
        Buf short_len = radiotap(0, frame);
        short_len[2] = 4;
        CHECK(decode(LinkType::Ieee80211Radiotap, short_len).status == DecodeStatus::Malformed);
    }
    SUBCASE("cut headers are truncated") {
        const Buf full = radiotap(0, frame);
        check_cuts(LinkType::Ieee80211Radiotap, full, full.size() - kHello.size());
    }
}

TEST_CASE("CAPWAP data channels") {
    SUBCASE("802.11 with a byte-swapped frame control, to the controller (capwap_data.pcapng)") {
        WifiSpec w;
        w.swapped_fc = true;
        w.flags = 0x11;
        const auto p = decode(LinkType::Ethernet, udp_frame(41000, 5247, capwap(true, wifi(w, snap(0x0800, kTcp4)))));
        check_hello(p);
        CHECK(p.tunnel == Tunnel::Capwap);
    }
    SUBCASE("from the controller, frame control as the standard has it") {
        check_hello(decode(LinkType::Ethernet, udp_frame(5247, 41000, capwap(true, wifi({}, snap(0x0800, kTcp4))))));
    }
    SUBCASE("an 802.3 payload (T clear), no wireless info") {
        check_hello(decode(LinkType::Ethernet, udp_frame(41000, 5247, capwap(false, ethernet(kEthIpv4, kTcp4), 0, false))));
    }
    SUBCASE("keep-alives and DTLS stay UDP; fragments are counted") {
        const auto ka = decode(LinkType::Ethernet, udp_frame(41000, 5247, capwap(false, {}, 1u << 3, false)));
        CHECK(ka.status == DecodeStatus::Ok);
        CHECK(ka.transport == Transport::Udp);
        Buf dtls{0x01, 0, 0, 0, 0x17, 0xfe, 0xfd};
        CHECK(decode(LinkType::Ethernet, udp_frame(41000, 5247, dtls)).transport == Transport::Udp);
        CHECK(decode(LinkType::Ethernet, udp_frame(41000, 5247, capwap(true, wifi({}, snap(0x0800, kTcp4)), 1u << 7))).status ==
              DecodeStatus::Fragment);
    }
}

TEST_CASE("Linux cooked captures of unusual devices") {
    SUBCASE("an 802.2 LLC frame with SNAP (ETH_P_802_2)") { check_hello(decode(LinkType::LinuxSll, sll(0x0004, snap(0x0800, kTcp4)))); }
    SUBCASE("a gretap device: transparent Ethernet") { check_hello(decode(LinkType::LinuxSll, sll(0x6558, ethernet(kEthIpv4, kTcp4)))); }
    SUBCASE("MPLS") { check_hello(decode(LinkType::LinuxSll, sll(0x8847, mpls({16}, kTcp4)))); }
    SUBCASE("a monitor-mode interface (ARPHRD_IEEE80211_RADIOTAP) and a plain 802.11 one") {
        check_hello(decode(LinkType::LinuxSll, sll_arphrd(803, 0x0003, radiotap(0, wifi({}, snap(0x0800, kTcp4))))));
        check_hello(decode(LinkType::LinuxSll, sll_arphrd(801, 0x0003, wifi({}, snap(0x0800, kTcp4)))));
    }
    SUBCASE("nlmon (ARPHRD_NETLINK), Novell 802.3 and CAN are not IP") {
        CHECK(decode(LinkType::LinuxSll, sll_arphrd(824, 0x0000, Buf(20, 0))).status == DecodeStatus::NotIp);
        CHECK(decode(LinkType::LinuxSll, sll(0x0001, Buf(30, 0xFF))).status == DecodeStatus::NotIp);
        CHECK(decode(LinkType::LinuxSll, sll(0x000C, Buf(16, 0))).status == DecodeStatus::NotIp);
    }
    SUBCASE("SLL2 names the device type too") {
        Buf f = sll2(0x0003, radiotap(0, wifi({}, snap(0x0800, kTcp4))));
        f[8] = 803 >> 8;
        f[9] = 803 & 0xFF;
        check_hello(decode(LinkType::LinuxSll2, f));
    }
}

TEST_CASE("802.3 frames with LLC/SNAP carry IP") {
    const Buf payload = snap(0x0800, kTcp4);
    check_hello(decode(LinkType::Ethernet, ethernet(static_cast<std::uint16_t>(payload.size()), payload)));
    // A length field longer than the frame: what is there is decoded.
    const Buf cut = ethernet(1500, payload);
    check_hello(decode(LinkType::Ethernet, cut));
}

TEST_CASE("a GRE -> ERSPAN -> VXLAN stack, three tunnels deep") {
    GreSpec g;
    g.protocol = 0x88BE;
    g.sequence = 1;
    const Buf mirrored = outer_udp_frame(4789, vxlan(0x4242, inner_frame()));
    const auto p = decode(LinkType::Ethernet, outer_ip_frame(47, gre(g, erspan2(9, mirrored))));
    check_hello(p);
    CHECK(p.tunnel == Tunnel::Erspan);
    CHECK(p.tunnel_vni == 9);
    CHECK(p.tunnel_levels == 2);  // ERSPAN rides on GRE: one decapsulation of the two
    // And one more: Geneve around it all.
    Ipv4Spec s;
    s.src = {10, 200, 0, 1};
    s.dst = {10, 200, 0, 2};
    s.protocol = 47;
    const Buf gre_frame = ethernet(kEthIpv4, ipv4(s, gre(g, erspan2(9, mirrored))));
    const auto q = decode(LinkType::Ethernet, outer_udp_frame(6081, geneve(5, 0x6558, {}, gre_frame)));
    check_hello(q);
    CHECK(q.tunnel == Tunnel::Geneve);
    CHECK(q.tunnel_levels == 3);
}
