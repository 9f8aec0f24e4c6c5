// SSLv2-format hellos: a pure SSLv2 exchange, and the SSLv3/TLS-compatible CLIENT-HELLO answered in TLS.
#include <doctest/doctest.h>

#include "test_tls_builder.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using namespace tlstest;

namespace {

// 2-byte header (high bit set) + CLIENT-HELLO: type, version, lengths, cipher specs, session id, challenge.
Buf sslv2_client_hello(std::uint16_t version, const std::vector<std::uint32_t>& specs, std::size_t challenge_len = 16,
                       std::size_t session_id_len = 0) {
    Buf body;
    put8(body, 1);
    put16(body, version);
    put16(body, static_cast<std::uint32_t>(specs.size() * 3));
    put16(body, static_cast<std::uint32_t>(session_id_len));
    put16(body, static_cast<std::uint32_t>(challenge_len));
    for (const auto s : specs) put24(body, s);
    put(body, filled(session_id_len, 0x5d));
    put(body, filled(challenge_len, 0xc1));
    Buf rec;
    put16(rec, 0x8000 | static_cast<std::uint32_t>(body.size()));
    put(rec, body);
    return rec;
}

Buf sslv2_server_hello(const Buf& cert, bool session_id_hit = false) {
    Buf body;
    put8(body, 4);
    put8(body, session_id_hit ? 1 : 0);
    put8(body, 1);  // X.509 certificate
    put16(body, 0x0002);
    put16(body, static_cast<std::uint32_t>(cert.size()));
    put16(body, 6);
    put16(body, 16);
    put(body, cert);
    put24(body, 0x010080);
    put24(body, 0x0700c0);
    put(body, filled(16, 0xcd));
    Buf rec;
    put16(rec, 0x8000 | static_cast<std::uint32_t>(body.size()));
    put(rec, body);
    return rec;
}

// An opaque SSLv2 record (CLIENT-MASTER-KEY, encrypted data), 2- or 3-byte header.
Buf sslv2_opaque(std::size_t len, bool three_byte_header = false) {
    Buf rec;
    if (three_byte_header) {
        put16(rec, static_cast<std::uint32_t>(len));
        put8(rec, 0);
    } else {
        put16(rec, 0x8000 | static_cast<std::uint32_t>(len));
    }
    put(rec, filled(len, 0x3e));
    return rec;
}

}  // namespace

TEST_CASE("pure SSLv2 handshake") {
    FlowFeeder f;
    const Buf cert = fake_der(600, 7);
    CHECK(f.client(sslv2_client_hello(0x0002, {0x010080, 0x0700c0, 0x000005})) == ParseOutcome::Ok);
    REQUIRE(f.parser.facts().client_hello);
    const auto& ch = *f.parser.facts().client_hello;
    CHECK(ch.sslv2_format);
    CHECK(ch.legacy_version == 0x0002);
    CHECK(ch.record_version == 0x0002);
    CHECK(ch.cipher_suites == std::vector<std::uint16_t>{0x0005});  // only the TLS-compatible spec
    CHECK(ch.ja4.substr(0, 10) == "ts2i010000");

    CHECK(f.server(sslv2_server_hello(cert)) == ParseOutcome::Ok);
    const auto& facts = f.parser.facts();
    REQUIRE(facts.server_hello);
    CHECK(facts.server_hello->sslv2_format);
    CHECK(facts.server_hello->version == 0x0002);
    CHECK(facts.server_hello->legacy_version == 0x0002);
    CHECK_FALSE(facts.server_hello->session_id_echoed);
    REQUIRE(facts.server_certificates);
    REQUIRE(facts.server_certificates->size() == 1);
    CHECK(facts.server_certificates->front().der == cert);
    CHECK(facts.handshake_visible_complete);

    // What follows is SSLv2-framed and opaque, in both directions; 3-byte headers too.
    CHECK(f.client(cat({sslv2_opaque(200), sslv2_opaque(40, true)})) == ParseOutcome::Ok);
    CHECK(f.server(sslv2_opaque(41)) == ParseOutcome::Ok);
    CHECK(facts.other_records == 3);
    CHECK_FALSE(f.parser.failed(Direction::ClientToServer));
    CHECK_FALSE(f.parser.failed(Direction::ServerToClient));
}

TEST_CASE("SSLv3/TLS-compatible SSLv2 CLIENT-HELLO answered with a TLS ServerHello") {
    FlowFeeder f;
    CHECK(f.client(sslv2_client_hello(0x0301, {0x000035, 0x00002f, 0x000a0a, 0x020080}, 32)) == ParseOutcome::Ok);
    REQUIRE(f.parser.facts().client_hello);
    CHECK(f.parser.facts().client_hello->legacy_version == 0x0301);
    CHECK(f.parser.facts().client_hello->cipher_suites == std::vector<std::uint16_t>{0x0035, 0x002f});
    CHECK(f.parser.facts().client_hello->ja4.substr(0, 10) == "t10i020000");

    auto sh = tls12_server_hello(0x0035);
    sh.legacy_version = 0x0301;
    CHECK(f.server(handshake_record(cat({handshake(2, server_hello_body(sh)), handshake(14, {})}), 0x0301)) ==
          ParseOutcome::Ok);
    REQUIRE(f.parser.facts().server_hello);
    CHECK_FALSE(f.parser.facts().server_hello->sslv2_format);
    CHECK(f.parser.facts().server_hello->version == 0x0301);
    // The client continues in TLS records.
    CHECK(f.client(cat({handshake_record(handshake(16, prefixed16(filled(128, 1))), 0x0301), ccs_record(0x0301),
                        record(22, 0x0301, filled(48, 0x77))})) == ParseOutcome::Ok);
    CHECK(f.parser.facts().client_ccs);
    CHECK_FALSE(f.parser.failed(Direction::ClientToServer));
}

TEST_CASE("SSLv2 hellos with impossible fields") {
    SUBCASE("challenge shorter than 16 bytes") {
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, sslv2_client_hello(0x0002, {0x010080}, 8)) == ParseOutcome::Malformed);
    }
    SUBCASE("cipher spec length not a multiple of 3") {
        Buf rec = sslv2_client_hello(0x0301, {0x000035});
        rec[6] = 4;  // cipher_specs_length low byte
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, rec) == ParseOutcome::Malformed);
    }
    SUBCASE("declared lengths longer than the record") {
        Buf rec = sslv2_client_hello(0x0301, {0x000035});
        rec[10] = 32;  // challenge_length now 32, the record holds 16
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, rec) == ParseOutcome::Malformed);
    }
    SUBCASE("an SSLv2 SERVER-HELLO sent by the client") {
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, sslv2_server_hello(fake_der(10, 1))) == ParseOutcome::Malformed);
    }
    SUBCASE("every truncation point of an SSLv2 hello needs more") {
        const Buf rec = sslv2_client_hello(0x0301, {0x000035, 0x00002f});
        for (std::size_t n = 0; n < rec.size(); ++n) {
            TlsParser p;
            REQUIRE(p.feed(Direction::ClientToServer, Bytes(rec).first(n)) == ParseOutcome::NeedMore);
        }
    }
}
