// PcapWriter (the --write evidence capture), written from real captures and read back with our reader.
// (Lives with the metrics tests because it belongs to the live-capture work; it only needs libpcap.)
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "audit/capture/packet_source.hpp"
#include "audit/capture/pcap_writer.hpp"
#include "audit/decode/packet.hpp"

using namespace meshproof;
using namespace meshproof::audit;

namespace {

struct Packet {
    double ts = 0;
    int link_type = 0;
    std::vector<std::uint8_t> data;
    std::uint32_t wire_len = 0;
};

std::vector<Packet> read_all(const std::string& path) {
    SourceError err;
    auto src = open_capture_file(path, err);
    REQUIRE_MESSAGE(src, err.message);
    std::vector<Packet> out;
    RawPacket p;
    while (src->next(p) == SourceStatus::Packet) out.push_back({p.ts, p.link_type, {p.data.begin(), p.data.end()}, p.wire_len});
    return out;
}

RawPacket raw(const Packet& p) {
    RawPacket r;
    r.ts = p.ts;
    r.link_type = p.link_type;
    r.data = Bytes(p.data.data(), p.data.size());
    r.wire_len = p.wire_len;
    return r;
}

using Conn = std::tuple<std::string, std::string>;
Conn connection_of(const Packet& p) {
    const DecodedPacket d = decode_frame(static_cast<LinkType>(p.link_type), Bytes(p.data.data(), p.data.size()));
    REQUIRE(d.status == DecodeStatus::Ok);
    std::string a = endpoint_to_string(d.src, d.src_port), b = endpoint_to_string(d.dst, d.dst_port);
    if (b < a) std::swap(a, b);
    return {a, b};
}

std::string capture(const char* name) { return std::string(MESHPROOF_SOURCE_DIR) + "/tests/captures/pcaps/" + name; }

struct TempFile {
    std::string path;
    TempFile() {
        char tmpl[] = "/tmp/meshproof-evidence-test.XXXXXX";
        const int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
    }
    ~TempFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("PcapWriter keeps each connection's first packets, up to its budget") {
    const auto in = read_all(capture("tls13-resumption.pcap"));  // two connections
    REQUIRE(!in.empty());
    std::map<Conn, std::size_t> in_per_conn;
    for (const auto& p : in) ++in_per_conn[connection_of(p)];
    REQUIRE(in_per_conn.size() == 2);

    TempFile out;
    EvidenceLimits limits;
    limits.packets_per_flow = 4;
    std::string err;
    auto w = PcapWriter::open(out.path, in.front().link_type, 262144, limits, err);
    REQUIRE_MESSAGE(w, err);
    for (const auto& p : in) w->offer(raw(p));
    REQUIRE_MESSAGE(w->close(err), err);

    const auto back = read_all(out.path);
    std::map<Conn, std::size_t> out_per_conn;
    for (const auto& p : back) ++out_per_conn[connection_of(p)];
    std::size_t expected = 0;
    for (const auto& [conn, n] : in_per_conn) {
        const auto& first = std::get<0>(conn);  // CAPTURE cannot take a structured binding in clang-14
        CAPTURE(first);
        CHECK(out_per_conn[conn] == std::min<std::size_t>(n, 4));
        expected += std::min<std::size_t>(n, 4);
    }
    CHECK(back.size() == expected);
    CHECK(w->stats().written_packets == expected);
    CHECK(w->stats().over_budget == in.size() - expected);

    SUBCASE("the kept packets are the first ones, bytes and time stamps intact (microseconds)") {
        std::map<Conn, std::size_t> seen;
        std::size_t j = 0;
        for (const auto& p : in) {
            if (++seen[connection_of(p)] > 4) continue;
            REQUIRE(j < back.size());
            CHECK(back[j].data == p.data);
            CHECK(back[j].wire_len == p.wire_len);
            CHECK(back[j].link_type == p.link_type);
            CHECK(std::fabs(back[j].ts - p.ts) < 1e-6);
            ++j;
        }
    }
}

TEST_CASE("PcapWriter caps the file size and skips non-TCP frames") {
    const auto in = read_all(capture("http-plaintext-secrets.pcap"));
    REQUIRE(in.size() > 3);
    TempFile out;
    std::string err;

    SUBCASE("nothing is written past max_file_bytes") {
        EvidenceLimits limits;
        limits.max_file_bytes = 24 + 16 + in[0].data.size() + 16 + in[1].data.size();
        auto w = PcapWriter::open(out.path, in.front().link_type, 262144, limits, err);
        REQUIRE(w);
        for (const auto& p : in) w->write(raw(p));
        REQUIRE(w->close(err));
        CHECK(w->stats().written_packets == 2);
        CHECK(w->stats().over_cap == in.size() - 2);
        CHECK(std::filesystem::file_size(out.path) == limits.max_file_bytes);
        CHECK(read_all(out.path).size() == 2);
    }
    SUBCASE("offer() skips frames that are not TCP") {
        auto w = PcapWriter::open(out.path, 1, 262144, {}, err);
        REQUIRE(w);
        // An ARP request: Ethernet type 0x0806.
        std::vector<std::uint8_t> arp(42, 0);
        for (int i = 0; i < 6; ++i) arp[static_cast<std::size_t>(i)] = 0xff;
        arp[12] = 0x08;
        arp[13] = 0x06;
        RawPacket r;
        r.link_type = 1;
        r.data = Bytes(arp.data(), arp.size());
        r.wire_len = 42;
        CHECK_FALSE(w->offer(r));
        CHECK(w->stats().not_tcp == 1);
        CHECK(w->stats().written_packets == 0);
    }
}

TEST_CASE("the evidence pcap is created 0640 whatever the umask: it holds the wire's plaintext") {
    const std::string path = std::filesystem::temp_directory_path() / ("meshproof-mode-" + std::to_string(::getpid()) + ".pcap");
    const mode_t old_umask = ::umask(0);
    std::string err;
    auto w = PcapWriter::open(path, 1, 262144, {}, err);
    ::umask(old_umask);
    REQUIRE(w);
    CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::mask) ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write | std::filesystem::perms::group_read));
    CHECK(w->close(err));
    std::filesystem::remove(path);
}

TEST_CASE("PcapWriter::open explains a path it cannot create") {
    std::string err;
    auto w = PcapWriter::open("/nonexistent-dir-for-meshproof/e.pcap", 1, 262144, {}, err);
    CHECK_FALSE(w);
    CHECK(err.find("/nonexistent-dir-for-meshproof/e.pcap") != std::string::npos);
}

TEST_CASE("PcapWriter on a full disk stops at the first failed write and counts the rest") {
    // /dev/full: every write that reaches the device fails with ENOSPC, like a file system that filled up.
    if (access("/dev/full", W_OK) != 0) return;
    const auto in = read_all(capture("tls13-resumption.pcap"));
    REQUIRE(!in.empty());
    std::string err;
    auto w = PcapWriter::open("/dev/full", in.front().link_type, 262144, {}, err);
    REQUIRE_MESSAGE(w, err);
    std::size_t accepted = 0, offered = 0;
    // Enough bytes to overflow stdio's buffer several times over.
    for (int round = 0; round < 200 && !w->failed(); ++round) {
        for (const auto& p : in) {
            ++offered;
            if (w->write(raw(p))) ++accepted;
        }
    }
    REQUIRE(w->failed());
    REQUIRE(w->write_error());
    CHECK(w->write_error()->find("No space left on device") != std::string::npos);
    CHECK(w->write_error()->find("the audit went on") != std::string::npos);
    SUBCASE("later writes are refused and counted, never retried") {
        const std::uint64_t failed_before = w->stats().write_failed;
        CHECK_FALSE(w->write(raw(in.front())));
        CHECK(w->stats().write_failed == failed_before + 1);
        CHECK(w->stats().written_packets + w->stats().write_failed == offered + 1);
    }
    SUBCASE("close reports it once, with the counts") {
        std::string close_err;
        CHECK_FALSE(w->close(close_err));
        CHECK(close_err.find("/dev/full") != std::string::npos);
        CHECK(close_err.find("packets not written") != std::string::npos);
        CHECK(w->stats().written_packets + w->stats().write_failed == offered);
    }
    CHECK(accepted < offered);
}

TEST_CASE("PcapWriter flush reports a failed write") {
    if (access("/dev/full", W_OK) != 0) return;
    std::string err;
    auto w = PcapWriter::open("/dev/full", 1, 262144, {}, err);
    REQUIRE_MESSAGE(w, err);
    CHECK_FALSE(w->flush(err));  // the 24-byte file header cannot be written
    CHECK(err.find("No space left on device") != std::string::npos);
    CHECK(w->failed());
}
