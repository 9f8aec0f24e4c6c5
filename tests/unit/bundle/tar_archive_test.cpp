#include <doctest/doctest.h>

#include <vector>

#include "audit/bundle/tar_archive.hpp"
#include "bundle_test_helpers.hpp"

using namespace meshproof;
using namespace meshproof::audit::bundle;
using namespace meshproof::audit::bundle::testing;

namespace {

std::array<std::uint8_t, kTarBlock> with_checksum(std::array<std::uint8_t, kTarBlock> h) {
    for (std::size_t i = 148; i < 156; ++i) h[i] = ' ';
    unsigned sum = 0;
    for (auto b : h) sum += b;
    char digits[8];
    std::snprintf(digits, sizeof digits, "%06o", sum);
    for (int i = 0; i < 6; ++i) h[148 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(digits[i]);
    h[154] = 0;
    return h;
}

void set_field(std::array<std::uint8_t, kTarBlock>& h, std::size_t offset, std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) h[offset + i] = static_cast<std::uint8_t>(text[i]);
}

struct Member {
    std::string name, data;
};

std::vector<Member> read_all(const std::filesystem::path& p) {
    auto r = TarReader::open(p);
    REQUIRE(r.has_value());
    std::vector<Member> out;
    while (true) {
        auto e = (*r)->next();
        REQUIRE_MESSAGE(e.has_value(), (e ? "" : e.error()));
        if (!*e) break;
        Member m{(*e)->name, {}};
        REQUIRE((*r)->read_data([&](Bytes b) { m.data.append(b.begin(), b.end()); }).has_value());
        out.push_back(std::move(m));
    }
    return out;
}

}  // namespace

TEST_CASE("tar: member names") {
    CHECK(valid_member_name("verdicts.jsonl"));
    CHECK(valid_member_name("captures/node-1.pcap"));
    CHECK(valid_member_name(std::string(100, 'a')));
    CHECK_FALSE(valid_member_name(std::string(101, 'a')));
    CHECK_FALSE(valid_member_name(""));
    CHECK_FALSE(valid_member_name("/etc/passwd"));
    CHECK_FALSE(valid_member_name("../x"));
    CHECK_FALSE(valid_member_name("a/../../x"));
    CHECK_FALSE(valid_member_name("a/./x"));
    CHECK_FALSE(valid_member_name("a//x"));
    CHECK_FALSE(valid_member_name("dir/"));
    CHECK_FALSE(valid_member_name("with space"));
    CHECK_FALSE(valid_member_name("back\\slash"));
    CHECK_FALSE(valid_member_name(std::string_view("nul\0x", 5)));
    CHECK_FALSE(valid_member_name("caf\xc3\xa9"));
}

TEST_CASE("tar: headers") {
    SUBCASE("round trip") {
        const auto h = make_tar_header("captures/a.pcap", 123456, 0640, 1767225600);
        auto e = parse_tar_header(Bytes(h));
        REQUIRE(e.has_value());
        REQUIRE(e->has_value());
        CHECK((*e)->name == "captures/a.pcap");
        CHECK((*e)->size == 123456);
        CHECK((*e)->mode == 0640);
        CHECK((*e)->mtime == 1767225600);
        CHECK((*e)->type == '0');
    }
    SUBCASE("the largest ustar size") {
        const auto h = make_tar_header("big", kTarMaxSize, 0640, 0);
        auto e = parse_tar_header(Bytes(h));
        REQUIRE(e.has_value());
        REQUIRE(e->has_value());
        CHECK((*e)->size == kTarMaxSize);
    }
    SUBCASE("an all-zero block ends the archive") {
        const std::array<std::uint8_t, kTarBlock> zero{};
        auto e = parse_tar_header(Bytes(zero));
        REQUIRE(e.has_value());
        CHECK_FALSE(e->has_value());
    }
    SUBCASE("a damaged checksum") {
        auto h = make_tar_header("x", 1, 0640, 0);
        h[0] = 'y';
        auto e = parse_tar_header(Bytes(h));
        REQUIRE_FALSE(e.has_value());
        CHECK(e.error().find("checksum mismatch") != std::string::npos);
    }
    SUBCASE("not ustar") {
        auto h = make_tar_header("x", 1, 0640, 0);
        set_field(h, 257, "GARBAG");
        auto e = parse_tar_header(Bytes(with_checksum(h)));
        REQUIRE_FALSE(e.has_value());
        CHECK(e.error().find("bad header magic") != std::string::npos);
    }
    SUBCASE("a non-octal size") {
        auto h = make_tar_header("x", 1, 0640, 0);
        set_field(h, 124, "0000000009");
        auto e = parse_tar_header(Bytes(with_checksum(h)));
        REQUIRE_FALSE(e.has_value());
        CHECK(e.error().find("size") != std::string::npos);
    }
    SUBCASE("GNU base-256 sizes are refused") {
        auto h = make_tar_header("x", 1, 0640, 0);
        h[124] = 0x80;
        CHECK_FALSE(parse_tar_header(Bytes(with_checksum(h))).has_value());
    }
    SUBCASE("POSIX prefix field and GNU magic") {
        auto h = make_tar_header("file.txt", 3, 0644, 0);
        set_field(h, 345, "some/dir");
        auto e = parse_tar_header(Bytes(with_checksum(h)));
        REQUIRE(e.has_value());
        REQUIRE(e->has_value());
        CHECK((*e)->name == "some/dir/file.txt");
        auto gnu = make_tar_header("gnu.txt", 3, 0644, 0);
        set_field(gnu, 257, "ustar  ");
        gnu[264] = 0;
        auto g = parse_tar_header(Bytes(with_checksum(gnu)));
        REQUIRE(g.has_value());
        REQUIRE(g->has_value());
        CHECK((*g)->name == "gnu.txt");
    }
    SUBCASE("a symlink entry keeps its type") {
        auto h = make_tar_header("link", 0, 0777, 0);
        h[156] = '2';
        set_field(h, 157, "/etc/shadow");
        auto e = parse_tar_header(Bytes(with_checksum(h)));
        REQUIRE(e.has_value());
        REQUIRE(e->has_value());
        CHECK((*e)->type == '2');
    }
    SUBCASE("a short block") {
        const std::array<std::uint8_t, 100> shortb{};
        CHECK_FALSE(parse_tar_header(Bytes(shortb)).has_value());
    }
}

TEST_CASE("tar: write and read back") {
    TempDir dir;
    const std::string big(200'000, 'z');  // spans several chunks and blocks
    write_text(dir / "big.bin", big);

    for (const bool gzip : {true, false}) {
        CAPTURE(gzip);
        const auto path = dir / (gzip ? "a.tar.gz" : "a.tar");
        auto w = TarWriter::create(path, gzip, 0640);
        REQUIRE(w.has_value());
        const std::string small = "hello\n";
        REQUIRE((*w)->add("small.txt", Bytes(reinterpret_cast<const std::uint8_t*>(small.data()), small.size()), 0).has_value());
        REQUIRE((*w)->add("empty", Bytes(), 0).has_value());
        std::size_t seen = 0;
        auto size = (*w)->add_file("dir/big.bin", dir / "big.bin", 0, [&](Bytes b) { seen += b.size(); });
        REQUIRE(size.has_value());
        CHECK(*size == big.size());
        CHECK(seen == big.size());
        CHECK_FALSE(std::filesystem::exists(path));  // only after close()
        REQUIRE((*w)->close().has_value());
        CHECK(file_mode(path) == 0640);

        const auto members = read_all(path);
        REQUIRE(members.size() == 3);
        CHECK(members[0].name == "small.txt");
        CHECK(members[0].data == small);
        CHECK(members[1].data.empty());
        CHECK(members[2].name == "dir/big.bin");
        CHECK(members[2].data == big);
        const std::string raw = read_text(path);
        CHECK((raw.size() > 2 && static_cast<unsigned char>(raw[0]) == 0x1f && static_cast<unsigned char>(raw[1]) == 0x8b) == gzip);
        if (!gzip) CHECK(raw.size() % kTarBlock == 0);
    }
}

TEST_CASE("tar: damaged archives") {
    TempDir dir;
    const auto path = dir / "a.tar";
    {
        auto w = TarWriter::create(path, false, 0640);
        REQUIRE(w.has_value());
        const std::string data(1000, 'd');
        REQUIRE((*w)->add("x", Bytes(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()), 0).has_value());
        REQUIRE((*w)->close().has_value());
    }
    const std::string raw = read_text(path);

    SUBCASE("truncated inside the data") {
        write_text(dir / "t.tar", raw.substr(0, 700));
        auto r = TarReader::open(dir / "t.tar");
        REQUIRE(r.has_value());
        auto e = (*r)->next();
        REQUIRE(e.has_value());
        REQUIRE(e->has_value());
        auto d = (*r)->read_data([](Bytes) {});
        REQUIRE_FALSE(d.has_value());
        CHECK(d.error().find("truncated") != std::string::npos);
    }
    SUBCASE("no end-of-archive blocks") {
        write_text(dir / "t.tar", raw.substr(0, 1536));
        auto r = TarReader::open(dir / "t.tar");
        REQUIRE(r.has_value());
        REQUIRE((*r)->next().has_value());
        auto e = (*r)->next();
        REQUIRE_FALSE(e.has_value());
        CHECK(e.error().find("no end-of-archive") != std::string::npos);
    }
    SUBCASE("not an archive at all") {
        write_text(dir / "t.tar", std::string(1024, 'x'));
        auto r = TarReader::open(dir / "t.tar");
        REQUIRE(r.has_value());
        auto e = (*r)->next();
        REQUIRE_FALSE(e.has_value());
        CHECK(e.error().find("bad header magic") != std::string::npos);
    }
    SUBCASE("missing file") {
        CHECK_FALSE(TarReader::open(dir / "nope.tar").has_value());
    }
    SUBCASE("an unfinished writer leaves nothing behind") {
        {
            auto w = TarWriter::create(dir / "unfinished.tar.gz", true, 0640);
            REQUIRE(w.has_value());
        }
        std::size_t files = 0;
        for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
        CHECK(files == 1);  // a.tar only
    }
    SUBCASE("invalid names are refused by the writer") {
        auto w = TarWriter::create(dir / "n.tar", false, 0640);
        REQUIRE(w.has_value());
        CHECK_FALSE((*w)->add("../escape", Bytes(), 0).has_value());
        CHECK_FALSE((*w)->add_file("ok", dir / "missing", 0, {}).has_value());
    }
}
