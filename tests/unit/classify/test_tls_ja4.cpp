// JA3 / JA4 against the published examples: the FoxIO JA4 technical details (JA4.md, "Example" and
// "Raw Output" sections) and the Salesforce JA3 README. Expected strings are copied from those
// documents, not from this code's output.
#include <doctest/doctest.h>

#include "audit/classify/ja_fingerprint.hpp"
#include "test_tls_builder.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using namespace tlstest;

namespace {

// The ClientHello behind the JA4 spec example, with GREASE added where Chrome puts it (the spec says
// GREASE is ignored everywhere, so it must not change anything).
ClientHelloSpec ja4_spec_client(const std::vector<std::uint16_t>& sigalgs) {
    ClientHelloSpec s;
    s.session_id = filled(32, 0x01);
    s.ciphers = {0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
                 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
    s.extensions = {
        raw_ext(0x0a0a),                                  // GREASE
        raw_ext(0x001b, {0x02, 0x00, 0x02}),              // compress_certificate
        sni_ext("example.com"),                           // 0000
        key_share_ext({0x3a3a, 0x001d}),                  // 0033
        alpn_ext({"h2", "http/1.1"}),                     // 0010
        raw_ext(0x4469, {0x00, 0x03, 0x02, 0x68, 0x32}),  // application_settings
        raw_ext(0x0017),                                  // extended_master_secret
        raw_ext(0x002d, {0x01, 0x01}),                    // psk_key_exchange_modes
        sigalgs_ext(sigalgs),                             // 000d
        raw_ext(0x0005, {0x01, 0x00, 0x00, 0x00, 0x00}),  // status_request
        raw_ext(0x0023),                                  // session_ticket
        raw_ext(0x0012),                                  // signed_certificate_timestamp
        versions_ext({0x5a5a, 0x0304, 0x0303}),           // 002b
        raw_ext(0xff01, {0x00}),                          // renegotiation_info
        point_formats_ext({0x00}),                        // 000b
        groups_ext({0x6a6a, 0x001d, 0x0017, 0x0018}),     // 000a
        raw_ext(0x0015, filled(100, 0)),                  // padding
        raw_ext(0xbaba, {0x00}),                          // GREASE
    };
    return s;
}

const std::vector<std::uint16_t> kSpecSigalgs = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};

TlsClientHello parsed(const ClientHelloSpec& spec) {
    TlsParser p;
    REQUIRE(p.feed(Direction::ClientToServer, client_hello_record(spec)) == ParseOutcome::Ok);
    REQUIRE(p.facts().client_hello);
    return *p.facts().client_hello;
}

}  // namespace

TEST_CASE("JA4 reproduces the FoxIO specification example") {
    const TlsClientHello ch = parsed(ja4_spec_client(kSpecSigalgs));
    SUBCASE("ja4") { CHECK(ch.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"); }
    SUBCASE("ja4_r (sorted, raw)") {
        CHECK(ja4_raw(ch) ==
              "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,"
              "000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601");
    }
    SUBCASE("ja4_ro (original order, raw)") {
        CHECK(ja4_raw(ch, /*original_order=*/true) ==
              "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_001b,0000,"
              "0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_0403,0804,0401,0503,0805,"
              "0501,0806,0601");
    }
    SUBCASE("ja4_o (original order, hashed)") { CHECK(ja4_original(ch) == "t13d1516h2_acb858a92679_18f69afefd3d"); }
}

TEST_CASE("JA4 without signature algorithms hashes the extension list alone") {
    // Spec: "0005,...,4469,ff01 = 6d807ffa2a79" when the hello carries no signature algorithms.
    const TlsClientHello ch = parsed(ja4_spec_client({}));
    CHECK(ch.signature_algorithms.empty());
    CHECK(ch.ja4 == "t13d1516h2_8daaf6152771_6d807ffa2a79");
}

TEST_CASE("JA4 pieces") {
    SUBCASE("ALPN first/last characters and the hex rule for non-alphanumeric bytes") {
        CHECK(ja4_alpn_code("h2") == "h2");
        CHECK(ja4_alpn_code("http/1.1") == "h1");
        CHECK(ja4_alpn_code("istio-peer-exchange") == "ie");
        CHECK(ja4_alpn_code("istio-http/1.1") == "i1");
        CHECK(ja4_alpn_code("") == "00");
        CHECK(ja4_alpn_code("q") == "qq");  // a single character is both first and last
        // The spec's examples for bytes outside 0-9A-Za-z.
        CHECK(ja4_alpn_code("\xab") == "ab");
        CHECK(ja4_alpn_code("\xab\xcd") == "ad");
        CHECK(ja4_alpn_code("\x30\xab") == "3b");
        CHECK(ja4_alpn_code("\x30\x31\xab\xcd") == "3d");
        CHECK(ja4_alpn_code("\x30\xab\xcd\x31") == "01");
    }
    SUBCASE("version: highest supported_versions without GREASE, else legacy_version") {
        TlsClientHello ch;
        ch.legacy_version = 0x0303;
        CHECK(ja4_version_code(ch) == "12");
        ch.supported_versions = {0x0303, 0x0304};
        CHECK(ja4_version_code(ch) == "13");
        ch.supported_versions = {0x0a0a};
        CHECK(ja4_version_code(ch) == "12");
        ch.supported_versions.clear();
        ch.legacy_version = 0x0301;
        CHECK(ja4_version_code(ch) == "10");
        ch.legacy_version = 0x0302;
        CHECK(ja4_version_code(ch) == "11");
        ch.legacy_version = 0x0300;
        CHECK(ja4_version_code(ch) == "s3");
        ch.legacy_version = 0x0002;
        CHECK(ja4_version_code(ch) == "s2");
        ch.legacy_version = 0x1234;
        CHECK(ja4_version_code(ch) == "00");
    }
    SUBCASE("empty lists hash to twelve zeros") {
        TlsClientHello ch;
        ch.legacy_version = 0x0303;
        CHECK(ja4(ch) == "t12i000000_000000000000_000000000000");
    }
    SUBCASE("counts are capped at 99") {
        ClientHelloSpec s;
        s.ciphers.clear();
        for (std::uint16_t c = 1; c <= 120; ++c) s.ciphers.push_back(c);
        const auto ch = parsed(s);
        CHECK(ch.cipher_suites.size() == 120);
        CHECK(ch.ja4.substr(0, 10) == "t12i990000");
    }
    SUBCASE("a non-alphanumeric ALPN through the parser") {
        auto s = ja4_spec_client(kSpecSigalgs);
        s.extensions[4] = alpn_ext({"\x30\xab", "h2"});
        CHECK(parsed(s).ja4.substr(0, 10) == "t13d15163b");
    }
    SUBCASE("SNI and ALPN do not change the hashed parts") {
        auto without = ja4_spec_client(kSpecSigalgs);
        without.extensions.erase(without.extensions.begin() + 4);  // ALPN
        without.extensions.erase(without.extensions.begin() + 2);  // SNI
        const auto ch = parsed(without);
        CHECK(ch.ja4 == "t13i151400_8daaf6152771_e5627efa2ab1");
    }
}

TEST_CASE("JA3 reproduces the Salesforce README examples") {
    SUBCASE("full example") {
        ClientHelloSpec s;
        s.legacy_version = 769;
        s.ciphers = {47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4};
        s.extensions = {sni_ext("example.com"), groups_ext({23, 24, 25}), point_formats_ext({0})};
        const auto ch = parsed(s);
        CHECK(ch.ja3_string == "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0");
        CHECK(ch.ja3 == "ada70206e40642a3e4461f35503241d5");
    }
    SUBCASE("no extensions: the commas stay") {
        ClientHelloSpec s;
        s.legacy_version = 769;
        s.ciphers = {4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99};
        s.omit_extensions_block = true;
        const auto ch = parsed(s);
        CHECK(ch.ja3_string == "769,4-5-10-9-100-98-3-6-19-18-99,,,");
        CHECK(ch.ja3 == "de350869b8c85de67a350c8d186f11e6");
    }
}
