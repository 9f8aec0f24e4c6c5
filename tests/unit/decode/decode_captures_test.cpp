// decode_frame over the shared real captures (classic pcap files): the TCP segments we decode must
// be the ones tshark sees, with the same payload lengths and ports. Expected numbers were taken with
//   tshark -r F -Y 'tcp && !icmp && !icmpv6' -T fields -e tcp.len -e tcp.srcport -e tcp.dstport
// (TShark 4.0.17) and summed. The pcap file reader here is a test helper, not libpcap.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "audit/decode/packet.hpp"

using namespace meshproof;
using namespace meshproof::audit;

namespace {

struct Frame {
    std::vector<std::uint8_t> bytes;
};

struct Capture {
    int link_type = -1;
    std::vector<Frame> frames;
};

std::uint32_t read32(const std::vector<std::uint8_t>& b, std::size_t at, bool swapped) {
    const std::uint32_t le = std::uint32_t{b[at]} | (std::uint32_t{b[at + 1]} << 8) |
                             (std::uint32_t{b[at + 2]} << 16) | (std::uint32_t{b[at + 3]} << 24);
    if (!swapped) return le;
    return (le >> 24) | ((le >> 8) & 0xFF00u) | ((le << 8) & 0xFF0000u) | (le << 24);
}

// Classic pcap (microsecond or nanosecond, either byte order).
std::optional<Capture> read_pcap(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    const std::vector<std::uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (b.size() < 24) return std::nullopt;
    const std::uint32_t magic = read32(b, 0, false);
    bool swapped = false;
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
        swapped = false;
    } else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
        swapped = true;
    } else {
        return std::nullopt;
    }
    Capture c;
    c.link_type = static_cast<int>(read32(b, 20, swapped) & 0x0FFFFFFFu);
    std::size_t at = 24;
    while (at + 16 <= b.size()) {
        const std::uint32_t incl = read32(b, at + 8, swapped);
        at += 16;
        if (incl > b.size() - at) break;
        c.frames.push_back(Frame{std::vector<std::uint8_t>(b.begin() + static_cast<std::ptrdiff_t>(at),
                                                           b.begin() + static_cast<std::ptrdiff_t>(at + incl))});
        at += incl;
    }
    return c;
}

struct Expected {
    const char* file;
    int link_type;
    std::size_t frames;
    std::size_t tcp_segments;
    std::uint64_t tcp_payload_bytes;  // sum of tcp.len (from the headers, like wire_payload_len)
    std::uint64_t port_sum;           // sum of source + destination ports over the segments
};

// Every classic .pcap in shared/testdata/pcaps (the .pcapng ones need a pcapng reader). The file
// header holds the link type as written: four_ipv6_http_streams.pcap says 12 (DLT_RAW), not 101.
const Expected kCaptures[] = {
    {"certificate-request-failed.pcap", 1, 12, 12, 4091, 665568},
    {"chrome-1250-tls-x25519-kyber.pcap", 1, 15, 15, 10875, 213390},
    {"client-certificate.pcap", 1, 31, 31, 13796, 1547613},
    {"dns-tcp-multi.pcap", 1, 12, 12, 439, 706476},
    {"dns_dot.pcap", 1, 24, 24, 4269, 1419432},
    {"dump_mtu300.pcap", 1, 62, 62, 21421, 2419178},
    {"empty.pcap", 1, 0, 0, 0, 0},
    {"four_ipv6_http_streams.pcap", 12, 81, 81, 34770, 2953228},
    {"get-to-ssh-server.pcap", 1, 9, 9, 626, 399240},
    {"grpc-service-name.pcap", 1, 39, 39, 674, 3521232},
    {"http2-range.pcap", 0, 116, 116, 2279, 7575728},
    {"mqtt.pcap", 1, 19, 19, 231, 972999},
    {"mysql.pcap", 1, 57, 57, 1853, 3389676},
    {"one_http_stream_rst.pcap", 1, 10, 10, 1636, 51480},
    {"openjdk-25.0.2-zeek.org.pcap", 276, 6, 6, 3377, 333006},
    {"pipelined-requests.pcap", 1, 49, 49, 42362, 85897},
    {"pipelining-example.pcap", 0, 12, 12, 39, 690012},
    {"psql-aws-ssl-require.pcap", 1, 30, 30, 5328, 1270980},
    {"psql-login.pcap", 1, 19, 19, 831, 773984},
    {"sll.pcap", 113, 518, 483, 415114, 19745040},
    {"smtp-starttls.pcap", 1, 37, 37, 5627, 2005215},
    {"socks-with-ssl.pcap", 1, 25, 25, 3889, 1516500},
    {"ssl-cert-name-mismatch.pcap", 1, 21, 21, 4010, 1159515},
    {"ssl-v2.pcap", 1, 25, 25, 1814, 1487625},
    {"tls-12-amazon-rds.pcap", 1, 25, 25, 3979, 1535950},
    {"tls-alpn-h2.pcap", 0, 9, 9, 3047, 580293},
    {"tls13-ech.pcap", 1, 69, 69, 10772, 3554252},
    {"tls1_1.pcap", 1, 23, 23, 5268, 1458890},
    {"truncated-header.pcap", 1, 24, 24, 605, 1460448},
};

std::filesystem::path pcaps_dir() { return std::filesystem::path(MESHPROOF_SHARED_TESTDATA) / "pcaps"; }

}  // namespace

TEST_CASE("real captures decode like tshark") {
    if (!std::filesystem::exists(pcaps_dir() / "truth.tsv")) {
        MESSAGE("shared test captures not found at " << pcaps_dir().string() << "; skipped");
        return;
    }
    for (const Expected& e : kCaptures) {
        const std::string file = e.file;
        CAPTURE(file);
        const auto capture = read_pcap(pcaps_dir() / e.file);
        REQUIRE(capture.has_value());
        CHECK(capture->link_type == e.link_type);
        REQUIRE(is_supported_link_type(capture->link_type));
        CHECK(capture->frames.size() == e.frames);
        std::size_t segments = 0;
        std::uint64_t payload_bytes = 0, port_sum = 0;
        for (const Frame& f : capture->frames) {
            const DecodedPacket p = decode_frame(static_cast<LinkType>(capture->link_type), Bytes(f.bytes));
            if (p.status != DecodeStatus::Ok || p.transport != Transport::Tcp) continue;
            ++segments;
            payload_bytes += p.wire_payload_len;
            port_sum += std::uint64_t{p.src_port} + p.dst_port;
            CHECK(p.payload.size() <= p.wire_payload_len);
        }
        CHECK(segments == e.tcp_segments);
        CHECK(payload_bytes == e.tcp_payload_bytes);
        CHECK(port_sum == e.port_sum);
    }
}

TEST_CASE("QinQ + PPPoE capture: the first segment, field by field") {
    const auto capture = read_pcap(pcaps_dir() / "one_http_stream_rst.pcap");
    if (!capture) {
        MESSAGE("one_http_stream_rst.pcap not found; skipped");
        return;
    }
    REQUIRE_FALSE(capture->frames.empty());
    // tshark: 10.3.65.35:5068 -> 185.8.212.46:80 [SYN] seq_raw 2631065158, window 8192, VLANs 939/744
    const DecodedPacket p = decode_frame(LinkType::Ethernet, Bytes(capture->frames[0].bytes));
    REQUIRE(p.status == DecodeStatus::Ok);
    CHECK(p.vlan_depth == 2);
    CHECK(to_string(p.src) == "10.3.65.35");
    CHECK(to_string(p.dst) == "185.8.212.46");
    CHECK(p.src_port == 5068);
    CHECK(p.dst_port == 80);
    CHECK(p.seq == 2631065158u);
    CHECK(p.ack == 0);
    CHECK(p.tcp_flags == tcp_flags::Syn);
    CHECK(p.payload.empty());
    CHECK(p.window == 8192);
}
