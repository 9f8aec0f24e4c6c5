// MD5 and SHA-256 against the RFC 1321 / FIPS 180-2 test vectors, plus incremental-update equivalence.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/hash.hpp"

using namespace meshproof;

TEST_CASE("md5 matches the RFC 1321 test suite") {
    SUBCASE("empty") { CHECK(to_hex(md5(std::string_view{})) == "d41d8cd98f00b204e9800998ecf8427e"); }
    SUBCASE("a") { CHECK(to_hex(md5(std::string_view{"a"})) == "0cc175b9c0f1b6a831c399e269772661"); }
    SUBCASE("abc") { CHECK(to_hex(md5(std::string_view{"abc"})) == "900150983cd24fb0d6963f7d28e17f72"); }
    SUBCASE("message digest") {
        CHECK(to_hex(md5(std::string_view{"message digest"})) == "f96b697d7cb7938d525a2f31aaf161d0");
    }
    SUBCASE("alphabet") {
        CHECK(to_hex(md5(std::string_view{"abcdefghijklmnopqrstuvwxyz"})) == "c3fcd3d76192e4007dfb496cca67e13b");
    }
    SUBCASE("80 digits (crosses a block boundary)") {
        const std::string s =
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
        CHECK(to_hex(md5(std::string_view{s})) == "57edf4a22be3c955ac49da2e2107b67a");
    }
    SUBCASE("one million a") {
        const std::string s(1'000'000, 'a');
        CHECK(to_hex(md5(std::string_view{s})) == "7707d6ae4e027c70eea2a935c2296f21");
    }
}

TEST_CASE("sha256 matches the FIPS 180-2 examples") {
    SUBCASE("empty") {
        CHECK(to_hex(sha256(std::string_view{})) ==
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
    SUBCASE("abc") {
        CHECK(to_hex(sha256(std::string_view{"abc"})) ==
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
    SUBCASE("two-block message (56 bytes: padding spills into a second block)") {
        CHECK(to_hex(sha256(std::string_view{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"})) ==
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    SUBCASE("one million a") {
        const std::string s(1'000'000, 'a');
        CHECK(to_hex(sha256(std::string_view{s})) ==
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
    SUBCASE("JA4 spec cipher list hashes to the published prefix") {
        // FoxIO JA4 technical details: this sorted list "= 8daaf6152771".
        const auto hex = to_hex(sha256(std::string_view{
            "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"}));
        CHECK(hex.substr(0, 12) == "8daaf6152771");
    }
}

TEST_CASE("incremental updates give the same digest at every split point") {
    std::vector<std::uint8_t> data(300);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
    const Bytes all(data);
    const auto md5_once = md5(all);
    const auto sha_once = sha256(all);
    for (std::size_t split = 0; split <= data.size(); ++split) {
        Md5 m;
        Sha256 s;
        m.update(all.first(split));
        m.update(all.subspan(split));
        s.update(all.first(split));
        s.update(all.subspan(split));
        CHECK(m.finish() == md5_once);
        CHECK(s.finish() == sha_once);
    }
    SUBCASE("byte by byte") {
        Md5 m;
        Sha256 s;
        for (std::size_t i = 0; i < data.size(); ++i) {
            m.update(all.subspan(i, 1));
            s.update(all.subspan(i, 1));
        }
        CHECK(m.finish() == md5_once);
        CHECK(s.finish() == sha_once);
    }
}

TEST_CASE("to_hex is lower-case, two digits per byte") {
    const std::uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
    CHECK(to_hex(Bytes(bytes)) == "000fa0ff");
    CHECK(to_hex(Bytes{}).empty());
}
