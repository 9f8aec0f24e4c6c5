#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "audit/classify/hpack.hpp"

using meshproof::Bytes;
using meshproof::ParseOutcome;
using namespace meshproof::audit;

namespace {

using Buf = std::vector<std::uint8_t>;

Buf hex(std::string_view h) {
    Buf out;
    int hi = -1;
    for (char c : h) {
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else continue;  // spaces, as in the RFC's hex dumps
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
            hi = -1;
        }
    }
    return out;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields plain(const std::vector<HpackHeader>& h) {
    Fields out;
    for (const auto& f : h) out.emplace_back(f.name, f.value);
    return out;
}

Fields decode_ok(HpackDecoder& d, const Buf& block) {
    std::vector<HpackHeader> out;
    const ParseOutcome o = d.decode(Bytes(block), out);
    CHECK(o == ParseOutcome::Ok);
    return plain(out);
}

}  // namespace

TEST_CASE("hpack: RFC 7541 C.2 literal representations") {
    SUBCASE("C.2.1 literal with indexing enters the dynamic table") {
        HpackDecoder d;
        CHECK(decode_ok(d, hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")) ==
              Fields{{"custom-key", "custom-header"}});
        CHECK(d.dynamic_table_entries() == 1);
        CHECK(d.dynamic_table_size() == 55);
    }
    SUBCASE("C.2.2 literal without indexing leaves the table alone") {
        HpackDecoder d;
        CHECK(decode_ok(d, hex("040c 2f73 616d 706c 652f 7061 7468")) == Fields{{":path", "/sample/path"}});
        CHECK(d.dynamic_table_entries() == 0);
    }
    SUBCASE("C.2.3 never indexed is flagged") {
        HpackDecoder d;
        std::vector<HpackHeader> out;
        REQUIRE(d.decode(Bytes(hex("1008 7061 7373 776f 7264 0673 6563 7265 74")), out) == ParseOutcome::Ok);
        REQUIRE(out.size() == 1);
        CHECK(out[0].name == "password");
        CHECK(out[0].value == "secret");
        CHECK(out[0].never_indexed);
        CHECK(d.dynamic_table_entries() == 0);
    }
    SUBCASE("C.2.4 indexed field from the static table") {
        HpackDecoder d;
        CHECK(decode_ok(d, hex("82")) == Fields{{":method", "GET"}});
    }
}

TEST_CASE("hpack: RFC 7541 C.3 requests without Huffman share one dynamic table") {
    HpackDecoder d;
    CHECK(decode_ok(d, hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")) ==
          Fields{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}});
    CHECK(d.dynamic_table_size() == 57);
    CHECK(decode_ok(d, hex("8286 84be 5808 6e6f 2d63 6163 6865")) ==
          Fields{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"},
                 {"cache-control", "no-cache"}});
    CHECK(d.dynamic_table_size() == 110);
    CHECK(decode_ok(d, hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65")) ==
          Fields{{":method", "GET"}, {":scheme", "https"}, {":path", "/index.html"}, {":authority", "www.example.com"},
                 {"custom-key", "custom-value"}});
    CHECK(d.dynamic_table_size() == 164);
    CHECK(d.dynamic_table_entries() == 3);
}

TEST_CASE("hpack: RFC 7541 C.4 requests with Huffman") {
    HpackDecoder d;
    CHECK(decode_ok(d, hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")) ==
          Fields{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}});
    CHECK(decode_ok(d, hex("8286 84be 5886 a8eb 1064 9cbf")).back() == std::pair<std::string, std::string>{"cache-control", "no-cache"});
    CHECK(decode_ok(d, hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")).back() ==
          std::pair<std::string, std::string>{"custom-key", "custom-value"});
    CHECK(d.dynamic_table_size() == 164);
}

TEST_CASE("hpack: RFC 7541 C.6 responses with Huffman and eviction (table of 256)") {
    HpackLimits limits;
    limits.initial_table_size = 256;
    HpackDecoder d(limits);
    CHECK(decode_ok(d, hex("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
                           "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3")) ==
          Fields{{":status", "302"}, {"cache-control", "private"}, {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                 {"location", "https://www.example.com"}});
    CHECK(d.dynamic_table_size() == 222);
    CHECK(decode_ok(d, hex("4883 640e ffc1 c0bf")).front() == std::pair<std::string, std::string>{":status", "307"});
    CHECK(d.dynamic_table_size() == 222);
    const Fields third = decode_ok(d, hex("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab"
                                          "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
                                          "9587 3160 65c0 03ed 4ee5 b106 3d50 07"));
    REQUIRE(third.size() == 6);
    CHECK(third[0] == std::pair<std::string, std::string>{":status", "200"});
    CHECK(third[4] == std::pair<std::string, std::string>{"content-encoding", "gzip"});
    CHECK(third[5] == std::pair<std::string, std::string>{"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"});
    CHECK(d.dynamic_table_size() == 215);
    CHECK(d.dynamic_table_entries() == 3);
}

TEST_CASE("hpack: Huffman code") {
    SUBCASE("every byte value survives a round trip") {
        std::string all;
        for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
        const auto encoded = hpack_huffman_encode(all);
        std::string decoded;
        REQUIRE(hpack_huffman_decode(Bytes(encoded), decoded) == ParseOutcome::Ok);
        CHECK(decoded == all);
    }
    SUBCASE("RFC example: www.example.com") {
        CHECK(hpack_huffman_encode("www.example.com") == hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"));
    }
    SUBCASE("an EOS symbol inside the string is an error") {
        const Buf eos{0xff, 0xff, 0xff, 0xff};  // 30 ones = EOS, then 2 padding ones
        std::string out;
        CHECK(hpack_huffman_decode(Bytes(eos), out) == ParseOutcome::Malformed);
    }
    SUBCASE("padding longer than 7 bits is an error") {
        Buf a = hpack_huffman_encode("a");  // 5 bits + 3 padding ones
        a.push_back(0xff);
        std::string out;
        CHECK(hpack_huffman_decode(Bytes(a), out) == ParseOutcome::Malformed);
    }
    SUBCASE("padding that is not all ones is an error") {
        const Buf a{0x18};  // 'a' = 00011, then padding 000
        std::string out;
        CHECK(hpack_huffman_decode(Bytes(a), out) == ParseOutcome::Malformed);
    }
    SUBCASE("the output bound is enforced") {
        const auto encoded = hpack_huffman_encode(std::string(100, 'a'));
        std::string out;
        CHECK(hpack_huffman_decode(Bytes(encoded), out, 10) == ParseOutcome::TooLarge);
    }
}

TEST_CASE("hpack: bounds and malformed blocks") {
    HpackDecoder d;
    std::vector<HpackHeader> out;
    SUBCASE("index 0 and indexes past the tables are malformed") {
        CHECK(d.decode(Bytes(Buf{0x80}), out) == ParseOutcome::Malformed);
        HpackDecoder d2;
        CHECK(d2.decode(Bytes(Buf{0xbe}), out) == ParseOutcome::Malformed);  // 62: empty dynamic table
    }
    SUBCASE("an integer that never ends is too large, not an overflow") {
        Buf b{0xff};
        for (int i = 0; i < 20; ++i) b.push_back(0xff);
        b.push_back(0x01);
        CHECK(d.decode(Bytes(b), out) == ParseOutcome::TooLarge);
    }
    SUBCASE("a string longer than the limit is refused before reading it") {
        Buf b{0x00};
        hpack_encode_integer(b, 0x00, 7, 1u << 20);
        CHECK(d.decode(Bytes(b), out) == ParseOutcome::TooLarge);
    }
    SUBCASE("a string that runs past the block needs more") {
        const Buf b{0x00, 0x05, 'a', 'b'};
        CHECK(d.decode(Bytes(b), out) == ParseOutcome::NeedMore);
    }
    SUBCASE("dynamic table size updates") {
        Buf b;
        hpack_encode_integer(b, 0x20, 5, 100000);  // above the 64 KiB cap
        CHECK(d.decode(Bytes(b), out) == ParseOutcome::TooLarge);

        HpackDecoder d2;
        REQUIRE(d2.decode(Bytes(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")), out) == ParseOutcome::Ok);
        CHECK(d2.dynamic_table_entries() == 1);
        REQUIRE(d2.decode(Bytes(Buf{0x20}), out) == ParseOutcome::Ok);  // size 0 evicts everything
        CHECK(d2.dynamic_table_entries() == 0);
        CHECK(d2.max_dynamic_table_size() == 0);

        HpackDecoder d3;
        CHECK(d3.decode(Bytes(Buf{0x82, 0x20}), out) == ParseOutcome::Malformed);  // update after a field
    }
    SUBCASE("an entry larger than the table empties it") {
        HpackLimits limits;
        limits.initial_table_size = 64;
        HpackDecoder small(limits);
        REQUIRE(small.decode(Bytes(hex("4003 6162 6303 6465 66")), out) == ParseOutcome::Ok);  // abc: def = 38 bytes
        CHECK(small.dynamic_table_entries() == 1);
        Buf big{0x40};
        const std::string name(40, 'n');
        hpack_encode_integer(big, 0x00, 7, name.size());
        big.insert(big.end(), name.begin(), name.end());
        big.push_back(0x00);
        REQUIRE(small.decode(Bytes(big), out) == ParseOutcome::Ok);
        CHECK(small.dynamic_table_entries() == 0);
        CHECK(small.dynamic_table_size() == 0);
    }
    SUBCASE("too many fields in one block") {
        HpackLimits limits;
        limits.max_fields = 3;
        HpackDecoder few(limits);
        CHECK(few.decode(Bytes(Buf{0x82, 0x82, 0x82, 0x82}), out) == ParseOutcome::TooLarge);
    }
}

TEST_CASE("hpack: every truncation of a Huffman block is Ok or NeedMore, never a crash") {
    const Buf block = hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf");
    for (std::size_t n = 0; n <= block.size(); ++n) {
        HpackDecoder d;
        // Prime the table as C.4.1/C.4.2 would, so index 0xbf resolves.
        std::vector<HpackHeader> out;
        REQUIRE(d.decode(Bytes(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")), out) == ParseOutcome::Ok);
        REQUIRE(d.decode(Bytes(hex("8286 84be 5886 a8eb 1064 9cbf")), out) == ParseOutcome::Ok);
        const ParseOutcome o = d.decode(Bytes(block).first(n), out);
        INFO("prefix " << n);
        CHECK((o == ParseOutcome::Ok || o == ParseOutcome::NeedMore));
    }
}

TEST_CASE("hpack: single-byte corruptions fail cleanly") {
    const Buf block = hex("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab");
    for (std::size_t i = 0; i < block.size(); ++i) {
        for (const std::uint8_t v : std::initializer_list<std::uint8_t>{0x00, 0x7f, 0x80, 0xff}) {
            Buf b = block;
            b[i] = v;
            HpackDecoder d;
            std::vector<HpackHeader> out;
            const ParseOutcome o = d.decode(Bytes(b), out);
            CHECK(static_cast<int>(o) <= static_cast<int>(ParseOutcome::TooLarge));
            CHECK(d.dynamic_table_size() <= d.max_dynamic_table_size());
        }
    }
}
