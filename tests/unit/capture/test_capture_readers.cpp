// Capture file readers: the capture-file magic, pcapng block headers, the streaming pcapng reader
// (bounded buffer, damage named by packet number and byte offset), captures glued together (cat a b),
// a pcapng with no interface, gzip/zstd-compressed captures (whole and damaged), pcapng interfaces
// with different snapshot lengths or unsupported link types, big-endian pcapng. Files are built
// here, byte by byte.
#include <doctest/doctest.h>

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "audit/capture/packet_source.hpp"
#include "audit/capture/pcapng_reader.hpp"

using namespace meshproof;
using namespace meshproof::audit;

namespace {

using Buf = std::vector<std::uint8_t>;

void le32(Buf& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void le16(Buf& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void be32(Buf& b, std::uint32_t v) {
    for (int i = 3; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void be16(Buf& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void append(Buf& to, const Buf& from) { to.insert(to.end(), from.begin(), from.end()); }
Buf prefix_of(const Buf& b, std::size_t n) { return Buf(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }

// A pcapng block (little-endian), its body padded to 4 bytes; `length` overrides the announced length.
Buf block(std::uint32_t type, Buf body, std::optional<std::uint32_t> length = std::nullopt) {
    while (body.size() % 4) body.push_back(0);
    const auto n = static_cast<std::uint32_t>(12 + body.size());
    Buf b;
    le32(b, type);
    le32(b, length.value_or(n));
    append(b, body);
    le32(b, n);
    return b;
}
Buf shb() {
    Buf body;
    le32(body, 0x1A2B3C4D);
    le16(body, 1);
    le16(body, 0);
    for (int i = 0; i < 8; ++i) body.push_back(0xFF);  // section length: unknown
    return block(0x0A0D0D0A, body);
}
Buf idb(std::uint16_t link) {
    Buf body;
    le16(body, link);
    le16(body, 0);
    le32(body, 262144);
    return block(1, body);
}
// An Ethernet frame of `size` bytes (content irrelevant for the reader).
Buf frame(std::size_t size, std::uint8_t fill) { return Buf(size, fill); }
Buf epb(std::uint32_t itf, std::uint64_t ts_us, const Buf& data) {
    Buf body;
    le32(body, itf);
    le32(body, static_cast<std::uint32_t>(ts_us >> 32));
    le32(body, static_cast<std::uint32_t>(ts_us));
    le32(body, static_cast<std::uint32_t>(data.size()));
    le32(body, static_cast<std::uint32_t>(data.size()));
    append(body, data);
    return block(6, body);
}
// Classic pcap, little-endian microseconds or big-endian nanoseconds.
Buf pcap_header(std::uint32_t link, bool big_nano = false) {
    Buf b;
    if (big_nano) {
        be32(b, 0xA1B23C4D);
        be16(b, 2);
        be16(b, 4);
        be32(b, 0);
        be32(b, 0);
        be32(b, 65535);
        be32(b, link);
    } else {
        le32(b, 0xA1B2C3D4);
        le16(b, 2);
        le16(b, 4);
        le32(b, 0);
        le32(b, 0);
        le32(b, 65535);
        le32(b, link);
    }
    return b;
}
Buf pcap_record(std::uint32_t sec, std::uint32_t frac, const Buf& data, bool big = false) {
    Buf b;
    auto put = [&](std::uint32_t v) { big ? be32(b, v) : le32(b, v); };
    put(sec);
    put(frac);
    put(static_cast<std::uint32_t>(data.size()));
    put(static_cast<std::uint32_t>(data.size()));
    append(b, data);
    return b;
}

struct TempFile {
    std::string path;
    explicit TempFile(const Buf& bytes) {
        char name[] = "/tmp/capture-reader-XXXXXX";
        const int fd = mkstemp(name);
        REQUIRE(fd >= 0);
        REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
        close(fd);
        path = name;
    }
    ~TempFile() { unlink(path.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
};

std::FILE* open_file(const TempFile& f) {
    std::FILE* file = std::fopen(f.path.c_str(), "rb");
    REQUIRE(file);
    return file;
}

}  // namespace

TEST_CASE("capture_magic recognises pcap in both byte orders and resolutions, and pcapng") {
    const Buf le_us{0xD4, 0xC3, 0xB2, 0xA1}, be_us{0xA1, 0xB2, 0xC3, 0xD4}, le_ns{0x4D, 0x3C, 0xB2, 0xA1},
        be_ns{0xA1, 0xB2, 0x3C, 0x4D}, ng{0x0A, 0x0D, 0x0D, 0x0A}, other{0x00, 0x01, 0x02, 0x03}, shorter{0xD4, 0xC3, 0xB2};
    CHECK(capture_magic(Bytes(le_us)) == CaptureMagic::Pcap);
    CHECK(capture_magic(Bytes(be_us)) == CaptureMagic::Pcap);
    CHECK(capture_magic(Bytes(le_ns)) == CaptureMagic::Pcap);
    CHECK(capture_magic(Bytes(be_ns)) == CaptureMagic::Pcap);
    CHECK(capture_magic(Bytes(ng)) == CaptureMagic::Pcapng);
    CHECK(capture_magic(Bytes(other)) == CaptureMagic::None);
    CHECK(capture_magic(Bytes(shorter)) == CaptureMagic::None);
}

TEST_CASE("parse_pcapng_block_header") {
    PcapngBlockHeader h;
    SUBCASE("little-endian section header") {
        const Buf b = shb();
        REQUIRE(parse_pcapng_block_header(Bytes(b), true, h) == ParseOutcome::Ok);
        CHECK(h.section_header);
        CHECK_FALSE(h.big_endian);  // the byte-order magic wins over the previous section's order
        CHECK(h.total_length == b.size());
    }
    SUBCASE("big-endian section header") {
        Buf b;
        be32(b, 0x0A0D0D0A);
        be32(b, 28);
        be32(b, 0x1A2B3C4D);
        REQUIRE(parse_pcapng_block_header(Bytes(b), false, h) == ParseOutcome::Ok);
        CHECK(h.big_endian);
        CHECK(h.total_length == 28);
    }
    SUBCASE("fewer than 12 bytes") {
        const Buf whole = shb();
        const Buf b(whole.begin(), whole.begin() + 11);
        CHECK(parse_pcapng_block_header(Bytes(b), false, h) == ParseOutcome::NeedMore);
    }
    SUBCASE("bad byte-order magic") {
        Buf b = shb();
        b[8] = 0x99;
        CHECK(parse_pcapng_block_header(Bytes(b), false, h) == ParseOutcome::Malformed);
    }
    SUBCASE("impossible lengths") {
        for (std::uint32_t len : {0u, 8u, 13u, 30u}) {
            const Buf b = block(6, Buf(20, 0), len);
            CHECK(parse_pcapng_block_header(Bytes(b), false, h) == ParseOutcome::Malformed);
        }
    }
    SUBCASE("above the bound") {
        const Buf b = block(6, Buf(20, 0), kPcapngMaxBlock + 4);
        CHECK(parse_pcapng_block_header(Bytes(b), false, h) == ParseOutcome::TooLarge);
        const Buf at_bound = block(6, Buf(20, 0), kPcapngMaxBlock);
        CHECK(parse_pcapng_block_header(Bytes(at_bound), false, h) == ParseOutcome::Ok);
    }
}

TEST_CASE("PcapngReader streams a file block by block") {
    Buf file = shb();
    append(file, idb(1));
    append(file, idb(101));
    std::vector<std::uint64_t> offsets;
    for (std::uint32_t i = 0; i < 300; ++i) {
        offsets.push_back(file.size());
        append(file, epb(i % 2, 1'000'000ull * i, frame(1000 + i % 7, static_cast<std::uint8_t>(i))));
    }
    const TempFile tmp(file);

    SUBCASE("every packet, with its number and block offset; the buffer stays one block") {
        PcapngReader r(open_file(tmp), 0, 0, tmp.path);
        RawPacket p;
        std::size_t n = 0;
        while (r.next(p) == SourceStatus::Packet) {
            REQUIRE(n < offsets.size());
            CHECK(p.number == n + 1);
            CHECK(p.file_offset == offsets[n]);
            CHECK(p.link_type == (n % 2 ? 101 : 1));
            CHECK(p.data.size() == 1000 + n % 7);
            CHECK(p.data[0] == static_cast<std::uint8_t>(n));
            ++n;
        }
        CHECK(n == 300);
        CHECK_FALSE(r.error());
        CHECK(r.interface_count() == 2);
        CHECK(r.buffer_capacity() < 4096);  // one ~1 KB block (with vector growth), the file is ~320 KB
        CHECK(r.outcomes().get(ParseOutcome::Ok) == 303);
    }
    SUBCASE("starting mid-file continues the packet numbers") {
        std::FILE* f = open_file(tmp);
        REQUIRE(std::fseek(f, 0, SEEK_SET) == 0);
        PcapngReader r(f, 0, 41, tmp.path);
        RawPacket p;
        REQUIRE(r.next(p) == SourceStatus::Packet);
        CHECK(p.number == 42);
    }
}

TEST_CASE("PcapngReader damage: one error naming packet number and byte offset, no large allocation") {
    Buf head = shb();
    append(head, idb(1));
    const Buf first = epb(0, 1, frame(60, 1));
    auto build = [&](const Buf& second) {
        Buf f = head;
        append(f, first);
        append(f, second);
        return f;
    };
    const std::uint64_t second_at = head.size() + first.size();
    auto expect_error = [&](const Buf& bytes, SourceError::Kind kind, const std::string& words) {
        const TempFile tmp(bytes);
        PcapngReader r(open_file(tmp), 0, 0, tmp.path);
        RawPacket p;
        REQUIRE(r.next(p) == SourceStatus::Packet);
        REQUIRE(r.next(p) == SourceStatus::Error);
        REQUIRE(r.error());
        CHECK(r.error()->kind == kind);
        const std::string& m = r.error()->message;
        CHECK(m.find("packet 2 at byte offset " + std::to_string(second_at)) != std::string::npos);
        CHECK(m.find(words) != std::string::npos);
        CHECK(r.buffer_capacity() < 4096);
        CHECK(r.next(p) == SourceStatus::Error);  // stays failed
    };
    SUBCASE("block length above 256 MiB") {
        expect_error(build(block(6, Buf(80, 0), 300u << 20)), SourceError::Kind::Corrupt, "exceeds the 256 MiB bound");
    }
    SUBCASE("block length within the bound but beyond the file") {
        expect_error(build(block(6, Buf(80, 0), 64u << 20)), SourceError::Kind::Truncated, "bytes announced");
    }
    SUBCASE("block length not a multiple of 4") {
        expect_error(build(block(6, Buf(80, 0), 90)), SourceError::Kind::Corrupt, "impossible pcapng block length 90");
    }
    SUBCASE("trailer differs from the header") {
        Buf b = epb(0, 2, frame(60, 2));
        b[b.size() - 4] ^= 0x04;
        expect_error(build(b), SourceError::Kind::Corrupt, "trailer length");
    }
    SUBCASE("captured length beyond its block") {
        Buf b = epb(0, 2, frame(60, 2));
        b[20] = 0xFF;  // captured length, low byte: 60 -> 255
        expect_error(build(b), SourceError::Kind::Corrupt, "captured length 255 exceeds its block");
    }
    SUBCASE("cut in the block header") {
        Buf cut = epb(0, 2, frame(60, 2));
        cut.resize(7);
        expect_error(build(cut), SourceError::Kind::Truncated, "truncated pcapng block header");
    }
}

TEST_CASE("PcapngReader stops at a classic pcap header glued after its blocks") {
    Buf file = shb();
    append(file, idb(1));
    append(file, epb(0, 1, frame(60, 1)));
    const std::uint64_t glued_at = file.size();
    append(file, pcap_header(1));
    append(file, pcap_record(1, 0, frame(60, 2)));
    const TempFile tmp(file);
    PcapngReader r(open_file(tmp), 0, 0, tmp.path);
    RawPacket p;
    REQUIRE(r.next(p) == SourceStatus::Packet);
    CHECK(r.next(p) == SourceStatus::End);
    CHECK_FALSE(r.error());
    REQUIRE(r.next_capture_at());
    CHECK(*r.next_capture_at() == glued_at);
}

TEST_CASE("open_capture_file reads captures glued together (cat a b) with each one's own header") {
    const Buf eth = frame(60, 0xE0);
    const Buf raw = frame(40, 0x45);
    SUBCASE("pcap (Ethernet, little-endian us) + pcap (raw IP, big-endian ns)") {
        Buf file = pcap_header(1);
        append(file, pcap_record(100, 5, eth));
        append(file, pcap_record(101, 6, eth));
        const std::uint64_t second = file.size();
        append(file, pcap_header(101, true));
        append(file, pcap_record(200, 7, raw, true));
        const TempFile tmp(file);
        SourceError err;
        auto src = open_capture_file(tmp.path, err);
        REQUIRE_MESSAGE(src, err.message);
        RawPacket p;
        std::vector<RawPacket> got;
        std::vector<std::size_t> sizes;
        while (src->next(p) == SourceStatus::Packet) {
            got.push_back(p);
            sizes.push_back(p.data.size());
        }
        CHECK_FALSE(src->error());
        REQUIRE(got.size() == 3);
        CHECK(got[2].number == 3);
        CHECK(got[2].file_offset == second + 24);
        CHECK(sizes[2] == raw.size());
        CHECK(got[2].link_type != got[0].link_type);
        CHECK(got[2].ts == doctest::Approx(200.000000007));
        CHECK(got[0].ts == doctest::Approx(100.000005));
        REQUIRE(src->notes().size() == 1);
        CHECK(src->notes()[0].find("byte offset " + std::to_string(second)) != std::string::npos);
        CHECK(src->describe().find("another capture file") != std::string::npos);
    }
    SUBCASE("pcap + pcapng") {
        Buf file = pcap_header(1);
        append(file, pcap_record(100, 5, eth));
        const std::uint64_t second = file.size();
        append(file, shb());
        append(file, idb(1));
        append(file, epb(0, 7, eth));
        const TempFile tmp(file);
        SourceError err;
        auto src = open_capture_file(tmp.path, err);
        REQUIRE_MESSAGE(src, err.message);
        RawPacket p;
        REQUIRE(src->next(p) == SourceStatus::Packet);
        REQUIRE(src->next(p) == SourceStatus::Packet);
        CHECK(p.number == 2);
        CHECK(p.file_offset == second + shb().size() + idb(1).size());
        CHECK(src->next(p) == SourceStatus::End);
        CHECK_FALSE(src->error());
    }
    SUBCASE("damage in the second capture names the file-wide packet number and offset") {
        Buf file = pcap_header(1);
        append(file, pcap_record(100, 5, eth));
        append(file, pcap_header(1));
        const std::uint64_t bad_at = file.size();
        Buf rec = pcap_record(101, 0, eth);
        rec.resize(30);
        append(file, rec);
        const TempFile tmp(file);
        SourceError err;
        auto src = open_capture_file(tmp.path, err);
        REQUIRE_MESSAGE(src, err.message);
        RawPacket p;
        REQUIRE(src->next(p) == SourceStatus::Packet);
        REQUIRE(src->next(p) == SourceStatus::Error);
        REQUIRE(src->error());
        CHECK(src->error()->message.find("packet 2 at byte offset " + std::to_string(bad_at)) != std::string::npos);
    }
    SUBCASE("a zero-length record with an ordinary time is a packet, not a header") {
        Buf file = pcap_header(1);
        append(file, pcap_record(1700000000, 0, {}));
        append(file, pcap_record(1700000001, 0, eth));
        const TempFile tmp(file);
        SourceError err;
        auto src = open_capture_file(tmp.path, err);
        REQUIRE_MESSAGE(src, err.message);
        RawPacket p;
        int n = 0;
        while (src->next(p) == SourceStatus::Packet) ++n;
        CHECK(n == 2);
        CHECK(src->notes().empty());
    }
}

TEST_CASE("a pcapng with a section header and no interface is an empty capture") {
    const TempFile tmp(shb());
    SourceError err;
    auto src = open_capture_file(tmp.path, err);
    REQUIRE_MESSAGE(src, err.message);
    RawPacket p;
    CHECK(src->next(p) == SourceStatus::End);
    CHECK_FALSE(src->error());
}

// ---- compressed captures, snapshot lengths, byte order, unsupported interfaces -----------------

namespace {

// A pcapng file in either byte order.
struct Pcapng {
    bool big = false;
    Buf bytes;
    void u32(Buf& b, std::uint32_t v) const { big ? be32(b, v) : le32(b, v); }
    void u16(Buf& b, std::uint16_t v) const { big ? be16(b, v) : le16(b, v); }
    void add_block(std::uint32_t type, Buf body) {
        while (body.size() % 4) body.push_back(0);
        const auto n = static_cast<std::uint32_t>(12 + body.size());
        u32(bytes, type);
        u32(bytes, n);
        append(bytes, body);
        u32(bytes, n);
    }
    explicit Pcapng(bool big_endian) : big(big_endian) {
        Buf body;
        u32(body, 0x1A2B3C4D);
        u16(body, 1);
        u16(body, 0);
        for (int i = 0; i < 8; ++i) body.push_back(0xFF);
        add_block(0x0A0D0D0A, body);
    }
    void interface(std::uint16_t link, std::uint32_t snaplen) {
        Buf body;
        u16(body, link);
        u16(body, 0);
        u32(body, snaplen);
        add_block(1, body);
    }
    void packet(std::uint32_t itf, std::uint64_t ts_us, const Buf& data) {
        Buf body;
        u32(body, itf);
        u32(body, static_cast<std::uint32_t>(ts_us >> 32));
        u32(body, static_cast<std::uint32_t>(ts_us));
        u32(body, static_cast<std::uint32_t>(data.size()));
        u32(body, static_cast<std::uint32_t>(data.size()));
        append(body, data);
        add_block(6, body);
    }
};

Buf gzip_of(const Buf& data) {
    uLongf n = compressBound(static_cast<uLong>(data.size())) + 64;
    Buf out(n);
    z_stream z{};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);  // +16: gzip wrapper
    z.next_in = const_cast<Bytef*>(data.data());
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

Buf zstd_of(const Buf& data) {
    Buf out(ZSTD_compressBound(data.size()));
    const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    REQUIRE_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

struct ReadAll {
    std::vector<std::size_t> sizes;
    std::vector<int> links;
    std::vector<std::string> notes;
    std::string describe;
    std::optional<SourceError> error;
};
ReadAll read_all(const std::string& path) {
    SourceError err;
    auto src = open_capture_file(path, err);
    REQUIRE_MESSAGE(src, err.message);
    ReadAll r;
    RawPacket p;
    while (src->next(p) == SourceStatus::Packet) {
        r.sizes.push_back(p.data.size());
        r.links.push_back(p.link_type);
    }
    r.error = src->error();
    r.notes = src->notes();
    r.describe = src->describe();
    return r;
}

Buf classic_capture(int records) {
    Buf file = pcap_header(1);
    for (int i = 0; i < records; ++i) append(file, pcap_record(1000 + static_cast<std::uint32_t>(i), 0, frame(200, static_cast<std::uint8_t>(i))));
    return file;
}

}  // namespace

TEST_CASE("pcapng interfaces with different snapshot lengths: our reader takes over from libpcap") {
    Pcapng ng(false);
    ng.interface(1, 96);
    ng.interface(1, 128);
    ng.packet(0, 1, frame(96, 1));
    ng.packet(1, 2, frame(128, 2));
    ng.packet(0, 3, frame(60, 3));
    const TempFile tmp(ng.bytes);
    const ReadAll r = read_all(tmp.path);
    CHECK_FALSE(r.error);
    CHECK(r.sizes == std::vector<std::size_t>{96, 128, 60});
    CHECK(r.describe.find("snapshot lengths") != std::string::npos);
}

TEST_CASE("big-endian pcapng, through libpcap and through our reader") {
    Pcapng ng(true);
    ng.interface(1, 65535);
    ng.packet(0, 1000001, frame(70, 7));
    ng.packet(0, 2000002, frame(80, 8));
    SUBCASE("one link type: libpcap") {
        const TempFile tmp(ng.bytes);
        const ReadAll r = read_all(tmp.path);
        CHECK_FALSE(r.error);
        CHECK(r.sizes == std::vector<std::size_t>{70, 80});
    }
    SUBCASE("mixed link types: PcapngReader") {
        ng.interface(101, 65535);
        ng.packet(1, 3000003, frame(40, 0x45));
        const TempFile tmp(ng.bytes);
        const ReadAll r = read_all(tmp.path);
        CHECK_FALSE(r.error);
        CHECK(r.sizes == std::vector<std::size_t>{70, 80, 40});
        CHECK(r.links == std::vector<int>{1, 1, 101});
        PcapngReader reader(ng.bytes, "be.pcapng");
        RawPacket p;
        REQUIRE(reader.next(p) == SourceStatus::Packet);
        CHECK(p.ts == doctest::Approx(1.000001));
    }
}

TEST_CASE("an interface with an unsupported link type: one note naming it and its first packet") {
    Pcapng ng(false);
    ng.interface(1, 65535);
    ng.interface(147, 65535);  // USER0
    ng.packet(0, 1, frame(60, 1));
    ng.packet(1, 2, frame(30, 2));
    ng.packet(1, 3, frame(30, 3));
    const TempFile tmp(ng.bytes);
    const ReadAll r = read_all(tmp.path);
    CHECK_FALSE(r.error);
    CHECK(r.sizes.size() == 3);
    REQUIRE(r.notes.size() == 1);
    CHECK(r.notes[0].find("packet 2 ") == 0);
    CHECK(r.notes[0].find("link type 147") != std::string::npos);
    CHECK(r.notes[0].find("unsupported link type") != std::string::npos);
}

TEST_CASE("gzip- and zstd-compressed captures are read by their magic") {
    const Buf pcap = classic_capture(40);
    Pcapng mixed(false);
    mixed.interface(1, 65535);
    mixed.interface(113, 65535);
    for (int i = 0; i < 10; ++i) mixed.packet(static_cast<std::uint32_t>(i % 2), static_cast<std::uint64_t>(i), frame(100, 9));
    SUBCASE("pcap.gz") {
        const TempFile tmp(gzip_of(pcap));
        const ReadAll r = read_all(tmp.path);
        CHECK_FALSE(r.error);
        CHECK(r.sizes.size() == 40);
        CHECK(r.describe.find("gzip-compressed") != std::string::npos);
    }
    SUBCASE("pcapng.gz with mixed link types (our reader on the decompressed stream)") {
        const TempFile tmp(gzip_of(mixed.bytes));
        const ReadAll r = read_all(tmp.path);
        CHECK_FALSE(r.error);
        CHECK(r.sizes.size() == 10);
        CHECK(r.links[1] == 113);
    }
    SUBCASE("two gzip members glued (cat a.gz b.gz) are one stream") {
        Buf two = gzip_of(prefix_of(pcap, 24 + 5 * 216));
        append(two, gzip_of(Buf(pcap.begin() + 24 + 5 * 216, pcap.end())));
        const TempFile tmp(two);
        CHECK(read_all(tmp.path).sizes.size() == 40);
    }
    SUBCASE("pcap.zst and pcapng.zst") {
        const TempFile a(zstd_of(pcap));
        const ReadAll r = read_all(a.path);
        CHECK_FALSE(r.error);
        CHECK(r.sizes.size() == 40);
        CHECK(r.describe.find("zstd-compressed") != std::string::npos);
        const TempFile b(zstd_of(mixed.bytes));
        CHECK(read_all(b.path).sizes.size() == 10);
    }
}

TEST_CASE("damaged compressed captures: the packets before the damage, then one error naming it") {
    const Buf pcap = classic_capture(400);
    SUBCASE("a truncated .gz") {
        const Buf gz = gzip_of(pcap);
        const TempFile tmp(prefix_of(gz, gz.size() / 2));
        const ReadAll r = read_all(tmp.path);
        CHECK(r.sizes.size() > 10);
        CHECK(r.sizes.size() < 400);
        REQUIRE(r.error);
        CHECK(r.error->kind == SourceError::Kind::Truncated);
        CHECK(r.error->message.find(tmp.path + ": packet " + std::to_string(r.sizes.size() + 1) + " at byte offset ") == 0);
        CHECK(r.error->message.find("gzip: the compressed data ends early") != std::string::npos);
    }
    SUBCASE("a truncated .zst") {
        const Buf zst = zstd_of(classic_capture(3000));  // zstd decodes in 128 KiB blocks: several of them
        const TempFile tmp(prefix_of(zst, zst.size() / 2));
        const ReadAll r = read_all(tmp.path);
        CHECK(r.sizes.size() > 10);
        CHECK(r.sizes.size() < 3000);
        REQUIRE(r.error);
        CHECK(r.error->message.find("zstd: the compressed data ends early") != std::string::npos);
    }
    SUBCASE("corrupt deflate data") {
        Buf noisy = pcap_header(1);  // incompressible, so the damage lies well past the first buffers
        std::uint32_t x = 12345;
        for (int i = 0; i < 2000; ++i) {
            Buf data(200);
            for (auto& b : data) b = static_cast<std::uint8_t>((x = x * 1103515245u + 12345u) >> 24);
            append(noisy, pcap_record(static_cast<std::uint32_t>(i), 0, data));
        }
        Buf gz = gzip_of(noisy);
        for (std::size_t i = gz.size() / 2; i < gz.size() / 2 + 16; ++i) gz[i] ^= 0x5A;
        const TempFile tmp(gz);
        const ReadAll r = read_all(tmp.path);
        CHECK(r.sizes.size() > 10);  // the packets decompressed before the damaged spot
        CHECK(r.sizes.size() < 2000);
        REQUIRE(r.error);
        CHECK(r.error->message.find("gzip: ") != std::string::npos);
    }
    SUBCASE("a gzip file that holds no capture") {
        const TempFile tmp(gzip_of(Buf(100, 'x')));
        SourceError err;
        CHECK_FALSE(open_capture_file(tmp.path, err));
        CHECK(err.kind == SourceError::Kind::NotACapture);
        CHECK(err.message.find("inside the gzip compression") != std::string::npos);
    }
}
