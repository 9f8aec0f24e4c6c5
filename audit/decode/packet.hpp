// Typed facts about one captured frame, as produced by the decoder (decode_frame).
// Pure data: no libpcap, no allocation per packet (spans point into the caller's frame buffer).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/byte_reader.hpp"
#include "common/parse_outcome.hpp"

namespace meshproof::audit {

// Link types we decode, numbered as libpcap's DLT_/LINKTYPE_ values so the capture layer can pass
// pcap_datalink() straight through.
enum class LinkType : int {
    Null = 0,        // BSD loopback: 4-byte host-order address family
    Ethernet = 1,
    Raw = 101,       // LINKTYPE_RAW: starts at the IP header
    Loop = 108,      // OpenBSD loopback: 4-byte network-order family
    LinuxSll = 113,
    Ipv4 = 228,
    Ipv6 = 229,
    LinuxSll2 = 276,
    DltRaw12 = 12,   // DLT_RAW on some BSDs
    DltRaw14 = 14,
    Ppp = 9,                  // PPP, optionally in HDLC-like framing (ff 03); some routers write Cisco HDLC here
    PppSerial = 50,           // PPP in HDLC-like framing, or Cisco HDLC
    CiscoHdlc = 104,
    Ieee80211 = 105,          // 802.11 frames, no radio header
    Ieee80211Radiotap = 127,  // radiotap header, then an 802.11 frame
    Nflog = 239,              // Linux NFLOG (tcpdump -i nflog:N): TLVs around the IP packet
};

// An IP address, v4 stored in the first 4 bytes.
struct IpAddress {
    std::array<std::uint8_t, 16> bytes{};
    bool v6 = false;
    friend bool operator==(const IpAddress&, const IpAddress&) = default;
    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

std::string to_string(const IpAddress& a);
// "IP:PORT", IPv6 as "[addr]:port".
std::string endpoint_to_string(const IpAddress& a, std::uint16_t port);

enum class Transport : std::uint8_t { None, Tcp, Udp, Other };

namespace tcp_flags {
inline constexpr std::uint8_t Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10;
}

// IpInIp covers IPv4 and IPv6 inside IPv4/IPv6 (Calico IPIP); Erspan is a GRE-carried port mirror;
// Capwap the data channel between Wi-Fi access points and their controller.
enum class Tunnel : std::uint8_t { None, Vxlan, Geneve, IpInIp, Gre, Erspan, Capwap };

// Why a frame produced no usable transport segment.
enum class DecodeStatus : std::uint8_t {
    Ok,                  // transport header decoded (TCP/UDP), payload available
    NotIp,               // ARP, LLDP, ... (counted, ignored)
    Fragment,            // an IP fragment (counted, not reassembled)
    UnsupportedLinkType,
    Truncated,           // the frame (snap length) ends inside a header
    Malformed,           // impossible header field
    OtherTransport,      // ICMP, SCTP, ...
    LinkEncrypted,       // encrypted below IP (an 802.11 protected frame: WEP/WPA): nothing to see in it
};

struct DecodedPacket {
    DecodeStatus status = DecodeStatus::Malformed;
    Transport transport = Transport::None;
    IpAddress src, dst;
    // Upper-layer protocol number (IPv4 protocol / last IPv6 next header: 6 TCP, 17 UDP, 1 ICMP, ...),
    // set once the IP header is decoded.
    std::uint8_t ip_protocol = 0;
    std::uint16_t src_port = 0, dst_port = 0;
    // TCP only
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t tcp_flags = 0;
    std::uint16_t window = 0;
    // Bytes of transport payload present in the frame (may be shorter than on the wire when the
    // snap length cut it); wire_payload_len is what the IP/TCP headers say was sent. A TCP segment
    // whose fixed header is complete but whose options are cut is still Ok, with an empty payload
    // (as tshark decodes it: a SYN in a 54/68-byte snap-length capture still opens the flow).
    Bytes payload{};
    std::uint32_t wire_payload_len = 0;
    std::uint16_t vlan_depth = 0;     // number of 802.1Q/802.1ad tags skipped (outer + inner frames)
    Tunnel tunnel = Tunnel::None;     // outermost tunnel we looked through (the flow is the inner one)
    std::uint32_t tunnel_vni = 0;     // VXLAN/Geneve VNI, GRE key, ERSPAN session id
    std::uint8_t tunnel_levels = 0;   // tunnels looked through (GRE -> ERSPAN -> VXLAN is 3)
    std::uint8_t mpls_labels = 0;     // MPLS label stack entries skipped (all levels)
};

// Decode one frame. Never reads outside `frame`. When tunnels (VXLAN on UDP 4789/8472, Geneve on
// 6081, CAPWAP data on 5247, IP-in-IP, GRE, ERSPAN over GRE; nested as deep as they go, with a loop
// guard) carry an inner packet, the result describes the inner packet.
DecodedPacket decode_frame(LinkType link, Bytes frame);
bool is_supported_link_type(int dlt);
// The supported link types, for error messages.
std::string_view supported_link_types();

}  // namespace meshproof::audit
