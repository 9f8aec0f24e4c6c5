// ClientHello parsing: extensions, GREASE, Istio ALPN lists, reassembly across segments and records,
// and every truncation point.
#include <doctest/doctest.h>

#include "audit/classify/ja_fingerprint.hpp"
#include "test_tls_builder.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using namespace tlstest;

namespace {

TlsFacts parse_client_only(const Buf& c2s, ParseOutcome expected = ParseOutcome::Ok) {
    TlsParser p;
    CHECK(p.feed(Direction::ClientToServer, c2s) == expected);
    return p.facts();
}

}  // namespace

TEST_CASE("ClientHello fields are read") {
    SUBCASE("Istio TCP sidecar: SNI outbound_ and ALPN istio-peer-exchange, istio") {
        const auto spec = modern_client("outbound_.8000_._.httpbin.default.svc.cluster.local",
                                        {"istio-peer-exchange", "istio"});
        const auto facts = parse_client_only(client_hello_record(spec));
        REQUIRE(facts.client_hello);
        const auto& ch = *facts.client_hello;
        REQUIRE(ch.sni);
        CHECK(*ch.sni == "outbound_.8000_._.httpbin.default.svc.cluster.local");
        CHECK(ch.alpn == std::vector<std::string>{"istio-peer-exchange", "istio"});
        CHECK(ch.record_version == 0x0301);
        CHECK(ch.legacy_version == 0x0303);
        CHECK(ch.supported_versions == std::vector<std::uint16_t>{0x0304, 0x0303});
        CHECK(ch.cipher_suites == std::vector<std::uint16_t>{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f});
        CHECK(ch.groups == std::vector<std::uint16_t>{0x001d, 0x0017});
        CHECK(ch.ec_point_formats == std::vector<std::uint8_t>{0});
        CHECK(ch.signature_algorithms == std::vector<std::uint16_t>{0x0403, 0x0804, 0x0401});
        CHECK(ch.key_share_groups == std::vector<std::uint16_t>{0x001d});
        CHECK(ch.extensions == std::vector<std::uint16_t>{0x0000, 0x000a, 0x000b, 0x000d, 0x0010, 0x002b, 0x0033});
        CHECK(ch.has_session_id);
        CHECK(ch.has_sni_extension);
        CHECK_FALSE(ch.sslv2_format);
        CHECK(ch.ja4.substr(0, 10) == "t13d0507ie");
        CHECK(ch.ja3.size() == 32);
        CHECK(ch.ja3_string ==
              "771,4865-4866-4867-49195-49199,0-10-11-13-16-43-51,29-23,0");
        CHECK(ch.ja3 == ja3_hash(ch.ja3_string));
        CHECK_FALSE(facts.server_hello);
    }
    SUBCASE("Istio HTTP/1.1 sidecar ALPN list") {
        const auto facts = parse_client_only(client_hello_record(
            modern_client("outbound_.80_._.web.demo.svc.cluster.local", {"istio-http/1.1", "istio", "http/1.1"})));
        REQUIRE(facts.client_hello);
        CHECK(facts.client_hello->alpn == std::vector<std::string>{"istio-http/1.1", "istio", "http/1.1"});
        CHECK(facts.client_hello->ja4.substr(8, 2) == "i1");
    }
    SUBCASE("no SNI (ambient HBONE style: ALPN h2 only)") {
        const auto facts = parse_client_only(client_hello_record(modern_client("", {"h2"})));
        REQUIRE(facts.client_hello);
        CHECK_FALSE(facts.client_hello->sni);
        CHECK_FALSE(facts.client_hello->has_sni_extension);
        CHECK(facts.client_hello->ja4.substr(0, 10) == "t13i0506h2");
    }
    SUBCASE("no ALPN, no extensions block at all (SSLv3-era hello)") {
        ClientHelloSpec s;
        s.legacy_version = 0x0300;
        s.omit_extensions_block = true;
        const auto facts = parse_client_only(client_hello_record(s, 0x0300));
        REQUIRE(facts.client_hello);
        CHECK(facts.client_hello->extensions.empty());
        CHECK(facts.client_hello->alpn.empty());
        CHECK(facts.client_hello->ja4 == "ts3i030000_" + facts.client_hello->ja4.substr(11, 12) + "_000000000000");
    }
    SUBCASE("session ticket, pre_shared_key and ECH flags") {
        auto s = modern_client("example.com", {"h2"});
        s.extensions.push_back(raw_ext(0x0023, filled(64, 0x33)));
        s.extensions.push_back(raw_ext(0xfe0d, filled(20, 0x01)));
        s.extensions.push_back(raw_ext(0x0029, filled(40, 0x02)));  // pre_shared_key is last on the wire
        const auto facts = parse_client_only(client_hello_record(s));
        REQUIRE(facts.client_hello);
        CHECK(facts.client_hello->has_session_ticket);
        CHECK(facts.client_hello->ech);
        CHECK(facts.client_hello->offers_psk);
    }
    SUBCASE("empty session_ticket extension means no ticket") {
        auto s = modern_client("example.com", {"h2"});
        s.session_id.clear();
        s.extensions.push_back(raw_ext(0x0023));
        const auto facts = parse_client_only(client_hello_record(s));
        REQUIRE(facts.client_hello);
        CHECK_FALSE(facts.client_hello->has_session_ticket);
        CHECK_FALSE(facts.client_hello->has_session_id);
        CHECK_FALSE(facts.client_hello->offers_psk);
    }
}

TEST_CASE("GREASE values are removed everywhere") {
    ClientHelloSpec s;
    s.ciphers = {0x0a0a, 0x1301, 0x1302, 0xfafa};
    s.extensions = {raw_ext(0x1a1a), sni_ext("grease.example"), versions_ext({0x2a2a, 0x0304, 0x0303}),
                    groups_ext({0x3a3a, 0x001d}), sigalgs_ext({0x4a4a, 0x0403}), key_share_ext({0x5a5a, 0x001d}),
                    alpn_ext({"h2"}), raw_ext(0xdada, {0})};
    const auto facts = parse_client_only(client_hello_record(s));
    REQUIRE(facts.client_hello);
    const auto& ch = *facts.client_hello;
    CHECK(ch.cipher_suites == std::vector<std::uint16_t>{0x1301, 0x1302});
    CHECK(ch.extensions == std::vector<std::uint16_t>{0x0000, 0x002b, 0x000a, 0x000d, 0x0033, 0x0010});
    CHECK(ch.supported_versions == std::vector<std::uint16_t>{0x0304, 0x0303});
    CHECK(ch.groups == std::vector<std::uint16_t>{0x001d});
    CHECK(ch.signature_algorithms == std::vector<std::uint16_t>{0x0403});
    CHECK(ch.key_share_groups == std::vector<std::uint16_t>{0x001d});
    // Counts in JA4 exclude GREASE: 2 ciphers, 6 extensions.
    CHECK(ch.ja4.substr(0, 10) == "t13d0206h2");
    CHECK(ch.ja3_string == "771,4865-4866,0-43-10-13-51-16,29,");
}

TEST_CASE("is_grease and tls_version_name") {
    for (std::uint32_t hi = 0; hi < 16; ++hi) {
        const auto v = static_cast<std::uint16_t>(((hi << 4 | 0xa) << 8) | (hi << 4 | 0xa));
        CHECK(is_grease(v));
    }
    CHECK_FALSE(is_grease(0x0a1a));
    CHECK_FALSE(is_grease(0x1301));
    CHECK_FALSE(is_grease(0x0b0b));
    CHECK(tls_version_name(0x0304) == "1.3");
    CHECK(tls_version_name(0x0303) == "1.2");
    CHECK(tls_version_name(0x0302) == "1.1");
    CHECK(tls_version_name(0x0301) == "1.0");
    CHECK(tls_version_name(0x0300) == "ssl3");
    CHECK(tls_version_name(0x0002) == "ssl2");
    CHECK(tls_version_name(0x7f17) == "1.3-draft-23");
    CHECK(tls_version_name(0xfb1a) == "1.3-fb");
    CHECK(tls_version_name(0x1234) == "0x1234");
    CHECK(is_tls13_family(0x0304));
    CHECK(is_tls13_family(0x7f1c));
    CHECK(is_tls13_family(0xfb1a));
    CHECK_FALSE(is_tls13_family(0x0303));
}

TEST_CASE("ClientHello reassembly") {
    const Buf hello = client_hello_record(modern_client("split.example", {"istio-peer-exchange", "istio"}));
    const auto reference = parse_client_only(hello);
    REQUIRE(reference.client_hello);

    SUBCASE("three TCP segments") {
        TlsParser p;
        const std::size_t a = 7, b = hello.size() / 2;
        CHECK(p.feed(Direction::ClientToServer, Bytes(hello).first(a)) == ParseOutcome::NeedMore);
        CHECK(p.feed(Direction::ClientToServer, Bytes(hello).first(b)) == ParseOutcome::NeedMore);
        CHECK_FALSE(p.facts().client_hello);
        CHECK(p.feed(Direction::ClientToServer, Bytes(hello)) == ParseOutcome::Ok);
        REQUIRE(p.facts().client_hello);
        CHECK(p.facts().client_hello->ja4 == reference.client_hello->ja4);
        CHECK(p.facts().client_hello->sni == reference.client_hello->sni);
        CHECK(p.outcomes().get(ParseOutcome::NeedMore) == 2);
        CHECK(p.outcomes().get(ParseOutcome::Ok) == 2);  // one record, one handshake message
    }
    SUBCASE("byte by byte") {
        TlsParser p;
        for (std::size_t n = 1; n < hello.size(); ++n)
            REQUIRE(p.feed(Direction::ClientToServer, Bytes(hello).first(n)) == ParseOutcome::NeedMore);
        CHECK(p.feed(Direction::ClientToServer, Bytes(hello)) == ParseOutcome::Ok);
        REQUIRE(p.facts().client_hello);
        CHECK(p.facts().client_hello->ja3 == reference.client_hello->ja3);
        CHECK(p.facts().client_hello->alpn == reference.client_hello->alpn);
        // Feeding the same prefix again does not parse it twice.
        CHECK(p.feed(Direction::ClientToServer, Bytes(hello)) == ParseOutcome::Ok);
        CHECK(p.outcomes().get(ParseOutcome::Ok) == 2);
    }
    SUBCASE("one handshake message across three records") {
        const Buf message = handshake(1, client_hello_body(modern_client("split.example", {"istio-peer-exchange", "istio"})));
        const Buf records = split_records(22, message, 3, 0x0301);
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, records) == ParseOutcome::Ok);
        REQUIRE(p.facts().client_hello);
        CHECK(p.facts().client_hello->ja4 == reference.client_hello->ja4);
        CHECK(p.outcomes().get(ParseOutcome::Ok) == 4);  // three records, one message
    }
    SUBCASE("every truncation point needs more and never fails") {
        for (std::size_t n = 0; n < hello.size(); ++n) {
            TlsParser p;
            REQUIRE(p.feed(Direction::ClientToServer, Bytes(hello).first(n)) == ParseOutcome::NeedMore);
            REQUIRE_FALSE(p.failed(Direction::ClientToServer));
            REQUIRE_FALSE(p.facts().client_hello);
        }
    }
    SUBCASE("every truncation point of a hello split across two records") {
        const Buf message = handshake(1, client_hello_body(modern_client("x.example", {"h2"})));
        const Buf records = split_records(22, message, 2, 0x0301);
        for (std::size_t n = 0; n < records.size(); ++n) {
            TlsParser p;
            REQUIRE(p.feed(Direction::ClientToServer, Bytes(records).first(n)) == ParseOutcome::NeedMore);
            REQUIRE_FALSE(p.facts().client_hello);
        }
    }
}

TEST_CASE("ClientHello with impossible lengths is Malformed, oversized is TooLarge") {
    auto body = client_hello_body(modern_client("bad.example", {"h2"}));
    SUBCASE("session id longer than 32") {
        ClientHelloSpec s;
        s.session_id = filled(33, 1);
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, client_hello_record(s)) == ParseOutcome::Malformed);
        CHECK(p.failed(Direction::ClientToServer));
        CHECK(p.outcomes().get(ParseOutcome::Malformed) == 1);
    }
    SUBCASE("odd cipher list length") {
        Buf b;
        put16(b, 0x0303);
        put(b, filled(32, 0));
        put8(b, 0);
        put(b, prefixed16({0x13, 0x01, 0x13}));
        put(b, prefixed8({0}));
        CHECK(parse_client_only(handshake_record(handshake(1, b)), ParseOutcome::Malformed).client_hello ==
              std::nullopt);
    }
    SUBCASE("extension length runs past the extensions block") {
        // Make the first extension (SNI) claim 0xffff bytes.
        const std::size_t ext_start = 2 + 32 + 1 + 32 + 2 + 5 * 2 + 2 + 2;
        REQUIRE(body[ext_start] == 0x00);
        REQUIRE(body[ext_start + 1] == 0x00);  // SNI type
        body[ext_start + 2] = 0xff;
        body[ext_start + 3] = 0xff;
        CHECK_FALSE(parse_client_only(handshake_record(handshake(1, body)), ParseOutcome::Malformed).client_hello);
    }
    SUBCASE("handshake length larger than its message") {
        // The record holds the whole hello but the handshake header claims one byte more: that byte
        // may come in a later record, so this is NeedMore.
        Buf msg = handshake(1, body);
        msg[3] = static_cast<std::uint8_t>(msg[3] + 1);
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, handshake_record(msg)) == ParseOutcome::NeedMore);
        CHECK_FALSE(p.facts().client_hello);
        CHECK_FALSE(p.failed(Direction::ClientToServer));
    }
    SUBCASE("declared handshake length over the limit") {
        TlsParser p(TlsLimits{.max_handshake_message = 1024, .max_certificates = 16});
        Buf msg;
        put8(msg, 1);
        put24(msg, 0xfffff0);  // 16 MiB claimed, only the header present
        CHECK(p.feed(Direction::ClientToServer, handshake_record(msg)) == ParseOutcome::TooLarge);
        CHECK(p.failed(Direction::ClientToServer));
        // Later bytes are not looked at, and the failure is counted once.
        CHECK(p.feed(Direction::ClientToServer, cat({handshake_record(msg), app_data_record(10)})) ==
              ParseOutcome::TooLarge);
        CHECK(p.outcomes().get(ParseOutcome::TooLarge) == 1);
    }
    SUBCASE("16 MiB announced in a full-size record that has not arrived: TooLarge at once") {
        // 5 + 16384 bytes would never fit a 16 KiB stream buffer; the handshake header is enough.
        Buf msg;
        put8(msg, 1);
        put24(msg, 0xfffffc);
        put(msg, filled(100, 7));
        Buf rec = handshake_record(msg);
        rec[3] = 0x40;  // record length 16384, of which only 104 bytes are here
        rec[4] = 0x00;
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, rec) == ParseOutcome::TooLarge);
        CHECK(p.outcomes().get(ParseOutcome::TooLarge) == 1);
        CHECK(p.outcomes().get(ParseOutcome::NeedMore) == 0);
    }
    SUBCASE("a large but allowed message in an incomplete record is still NeedMore") {
        Buf msg;
        put8(msg, 11);  // Certificate
        put24(msg, 20000);
        put(msg, filled(100, 7));
        Buf rec = handshake_record(msg);
        rec[3] = 0x40;
        rec[4] = 0x00;
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, rec) == ParseOutcome::NeedMore);
        CHECK_FALSE(p.failed(Direction::ClientToServer));
    }
    SUBCASE("record length over 2^14 + 2048") {
        Buf rec = {22, 3, 1, 0x48, 0x01};
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, rec) == ParseOutcome::NotThisProtocol);
    }
    SUBCASE("not TLS at all") {
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, str("GET / HTTP/1.1\r\n")) == ParseOutcome::NotThisProtocol);
        CHECK(p.failed(Direction::ClientToServer));
        CHECK_FALSE(p.failed(Direction::ServerToClient));
    }
    SUBCASE("bad record version after a good record is Malformed") {
        TlsParser p;
        const Buf good = client_hello_record(modern_client("a.example", {"h2"}));
        const Buf bad = record(23, 0x0305, filled(4, 0));
        CHECK(p.feed(Direction::ClientToServer, cat({good, bad})) == ParseOutcome::Malformed);
        CHECK(p.facts().client_hello);  // what was parsed before the failure stays
    }
    SUBCASE("a ServerHello sent by the client") {
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, handshake_record(handshake(2, server_hello_body(tls12_server_hello())))) ==
              ParseOutcome::Malformed);
    }
}

TEST_CASE("sniff_tls") {
    CHECK(sniff_tls({}) == ParseOutcome::NeedMore);
    const Buf hello = client_hello_record(modern_client("a.example", {"h2"}));
    CHECK(sniff_tls(Bytes(hello).first(1)) == ParseOutcome::NeedMore);
    CHECK(sniff_tls(Bytes(hello).first(4)) == ParseOutcome::NeedMore);
    CHECK(sniff_tls(Bytes(hello).first(5)) == ParseOutcome::Ok);
    CHECK(sniff_tls(hello) == ParseOutcome::Ok);
    CHECK(sniff_tls(app_data_record(3)) == ParseOutcome::Ok);  // a capture that starts mid-stream
    CHECK(sniff_tls(str("GET / HTTP/1.1\r\n")) == ParseOutcome::NotThisProtocol);
    CHECK(sniff_tls(str("SSH-2.0-OpenSSH_9.2\r\n")) == ParseOutcome::NotThisProtocol);
    CHECK(sniff_tls(Buf{22, 2, 0}) == ParseOutcome::NotThisProtocol);   // record major version 2
    CHECK(sniff_tls(Buf{22, 3, 5}) == ParseOutcome::NotThisProtocol);   // minor version 5
    CHECK(sniff_tls(Buf{0x19, 3, 3}) == ParseOutcome::NotThisProtocol); // content type 25
    CHECK(sniff_tls(Buf{0x80, 0x2e, 0x01, 0x00, 0x02}) == ParseOutcome::Ok);  // SSLv2 CLIENT-HELLO
    CHECK(sniff_tls(Buf{0x80, 0x2e, 0x01, 0x00, 0x09}) == ParseOutcome::NotThisProtocol);
    CHECK(sniff_tls(Buf{0x80, 0x2e, 0x07}) == ParseOutcome::NotThisProtocol);
    CHECK(sniff_tls(Buf{0x80, 0x2e}) == ParseOutcome::NeedMore);
}
