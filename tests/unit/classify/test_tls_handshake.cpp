// Both directions: ServerHello, TLS 1.2 clear handshake (certificates, CertificateRequest, CCS, alerts),
// TLS 1.3 encryption after ServerHello, HelloRetryRequest, resumption, find_tls_start.
#include <doctest/doctest.h>

#include "test_tls_builder.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using namespace tlstest;

namespace {

Buf encrypted_finished() { return record(22, 0x0303, filled(40, 0x9c)); }  // after CCS: opaque bytes

std::vector<Buf> ders_of(const std::vector<TlsCertificateDer>& certs) {
    std::vector<Buf> out;
    for (const auto& c : certs) out.push_back(c.der);
    return out;
}

}  // namespace

TEST_CASE("TLS 1.3 ServerHello: everything after it from the server is encrypted") {
    FlowFeeder f;
    REQUIRE(f.client(client_hello_record(modern_client("api.example", {"h2"}))) == ParseOutcome::Ok);
    // ServerHello, then (compat) CCS, then encrypted records; one of them has the handshake type but
    // must not be parsed.
    const Buf flight = cat({handshake_record(handshake(2, server_hello_body(tls13_server_hello()))), ccs_record(),
                            app_data_record(1200), record(22, 0x0303, filled(50, 0xff)), app_data_record(80)});
    CHECK(f.server(flight) == ParseOutcome::Ok);
    const auto& facts = f.parser.facts();
    REQUIRE(facts.server_hello);
    CHECK(facts.server_hello->version == 0x0304);
    CHECK(facts.server_hello->legacy_version == 0x0303);
    CHECK(facts.server_hello->cipher_suite == 0x1301);
    CHECK_FALSE(facts.server_hello->alpn);
    CHECK_FALSE(facts.server_hello->hello_retry_request);
    CHECK_FALSE(facts.server_hello->session_id_echoed);  // compat-mode echo is not resumption
    CHECK(facts.encrypted_handshake);
    CHECK(facts.handshake_visible_complete);
    CHECK(facts.server_ccs);
    CHECK(facts.app_data_records_s2c == 2);
    CHECK_FALSE(facts.server_certificates);
    CHECK_FALSE(f.parser.failed(Direction::ServerToClient));

    SUBCASE("client's compat CCS and encrypted flight") {
        CHECK(f.client(cat({ccs_record(), app_data_record(60), app_data_record(300)})) == ParseOutcome::Ok);
        CHECK(f.parser.facts().client_ccs);
        CHECK(f.parser.facts().app_data_records_c2s == 2);
    }
    SUBCASE("an encrypted record arriving in pieces is counted once, from its header") {
        const Buf big = app_data_record(5000);
        CHECK(f.server(Buf(big.begin(), big.begin() + 100)) == ParseOutcome::NeedMore);
        CHECK(f.parser.facts().app_data_records_s2c == 3);
        CHECK(f.server(Buf(big.begin() + 100, big.end())) == ParseOutcome::Ok);
        CHECK(f.parser.facts().app_data_records_s2c == 3);
    }
}

TEST_CASE("TLS 1.3 variants: drafts and Facebook's 0xfb1a count as 1.3") {
    for (const std::uint16_t v : {std::uint16_t{0x7f1c}, std::uint16_t{0xfb1a}}) {
        FlowFeeder f;
        f.client(client_hello_record(modern_client("i.instagram.com", {"h2", "h2-fb", "http/1.1"})));
        auto sh = tls13_server_hello();
        sh.extensions[0] = selected_version_ext(v);
        CHECK(f.server(cat({handshake_record(handshake(2, server_hello_body(sh))), app_data_record(30)})) ==
              ParseOutcome::Ok);
        REQUIRE(f.parser.facts().server_hello);
        CHECK(f.parser.facts().server_hello->version == v);
        CHECK(f.parser.facts().encrypted_handshake);
        CHECK(f.parser.facts().app_data_records_s2c == 1);
    }
}

TEST_CASE("HelloRetryRequest") {
    FlowFeeder f;
    auto first = modern_client("retry.example", {"istio-peer-exchange", "istio"});
    REQUIRE(f.client(client_hello_record(first)) == ParseOutcome::Ok);
    ServerHelloSpec hrr = tls13_server_hello();
    hrr.random = Buf(std::begin(kHrrRandom), std::end(kHrrRandom));
    hrr.extensions = {selected_version_ext(0x0304), raw_ext(0x0033, {0x00, 0x17})};  // key_share: group only
    // HRR then a middlebox-compat CCS, both still in clear.
    REQUIRE(f.server(cat({handshake_record(handshake(2, server_hello_body(hrr))), ccs_record()})) == ParseOutcome::Ok);
    REQUIRE(f.parser.facts().server_hello);
    CHECK(f.parser.facts().server_hello->hello_retry_request);
    CHECK_FALSE(f.parser.facts().encrypted_handshake);
    CHECK_FALSE(f.parser.facts().handshake_visible_complete);

    // Client: dummy CCS, then a second ClientHello (different ALPN to tell them apart).
    auto second = modern_client("retry.example", {"h2"});
    second.extensions.back() = key_share_ext({0x0017});
    CHECK(f.client(cat({ccs_record(), client_hello_record(second, 0x0303)})) == ParseOutcome::Ok);
    CHECK(f.parser.facts().second_client_hello);
    REQUIRE(f.parser.facts().client_hello);
    CHECK(f.parser.facts().client_hello->alpn == std::vector<std::string>{"istio-peer-exchange", "istio"});
    CHECK(f.parser.facts().client_hello->key_share_groups == std::vector<std::uint16_t>{0x001d});

    // The real ServerHello: parsed, keeps the HRR mark, switches the server to encrypted.
    auto real = tls13_server_hello();
    real.cipher = 0x1302;
    CHECK(f.server(cat({handshake_record(handshake(2, server_hello_body(real))), app_data_record(900)})) ==
          ParseOutcome::Ok);
    const auto& facts = f.parser.facts();
    REQUIRE(facts.server_hello);
    CHECK(facts.server_hello->hello_retry_request);
    CHECK(facts.server_hello->cipher_suite == 0x1302);
    CHECK(facts.server_hello->version == 0x0304);
    CHECK(facts.encrypted_handshake);
    CHECK(facts.handshake_visible_complete);
    CHECK(facts.app_data_records_s2c == 1);
    CHECK(f.client(cat({app_data_record(70)})) == ParseOutcome::Ok);
    CHECK(facts.app_data_records_c2s == 1);
    CHECK_FALSE(f.parser.failed(Direction::ClientToServer));
}

TEST_CASE("TLS 1.2 mutual TLS in clear") {
    const std::vector<Buf> server_chain = {fake_der(2900, 1), fake_der(2500, 2), fake_der(1800, 3)};
    const std::vector<Buf> client_chain = {fake_der(900, 4)};
    const Buf server_messages = cat({handshake(2, server_hello_body(tls12_server_hello())),
                                     handshake(11, certificate_body(server_chain)),
                                     handshake(12, filled(300, 0x12)),  // ServerKeyExchange
                                     handshake(13, {0x01, 0x40, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04, 0x00, 0x00}),
                                     handshake(14, {})});

    SUBCASE("Certificate spanning three records, fed in 1000-byte TCP segments") {
        FlowFeeder f;
        REQUIRE(f.client(client_hello_record(modern_client("mtls.example", {"h2", "http/1.1"}))) == ParseOutcome::Ok);
        const Buf flight = split_records(22, server_messages, 3);
        for (std::size_t at = 0; at < flight.size(); at += 1000) {
            const std::size_t end = std::min(flight.size(), at + 1000);
            const auto o = f.server(Buf(flight.begin() + static_cast<std::ptrdiff_t>(at),
                                        flight.begin() + static_cast<std::ptrdiff_t>(end)));
            CHECK(o == (end == flight.size() ? ParseOutcome::Ok : ParseOutcome::NeedMore));
        }
        const auto& facts = f.parser.facts();
        REQUIRE(facts.server_certificates);
        CHECK(ders_of(*facts.server_certificates) == server_chain);
        CHECK(facts.certificate_request);
        CHECK(facts.server_hello_done);
        REQUIRE(facts.server_hello);
        CHECK(facts.server_hello->version == 0x0303);
        CHECK(facts.server_hello->cipher_suite == 0xc02f);
        CHECK_FALSE(facts.encrypted_handshake);
        CHECK_FALSE(facts.client_certificates);
        CHECK(f.parser.outcomes().get(ParseOutcome::Ok) == 2 + 3 + 5);  // CH record+msg, 3 records, 5 messages
    }
    SUBCASE("several messages in one record, then the client's certificate, CCS and Finished") {
        FlowFeeder f;
        REQUIRE(f.client(client_hello_record(modern_client("mtls.example", {"h2", "http/1.1"}))) == ParseOutcome::Ok);
        REQUIRE(f.server(handshake_record(server_messages)) == ParseOutcome::Ok);
        const Buf client_flight = handshake_record(cat({handshake(11, certificate_body(client_chain)),
                                                        handshake(16, prefixed8(filled(65, 4))),
                                                        handshake(15, filled(72, 0x0f))}));
        CHECK(f.client(cat({client_flight, ccs_record(), encrypted_finished()})) == ParseOutcome::Ok);
        REQUIRE(f.parser.facts().client_certificates);
        CHECK(ders_of(*f.parser.facts().client_certificates) == client_chain);
        CHECK(f.parser.facts().client_ccs);
        CHECK_FALSE(f.parser.facts().handshake_visible_complete);
        CHECK(f.server(cat({handshake_record(handshake(4, filled(180, 0x44))), ccs_record(), encrypted_finished()})) ==
              ParseOutcome::Ok);
        CHECK(f.parser.facts().new_session_ticket);
        CHECK(f.parser.facts().server_ccs);
        CHECK(f.parser.facts().handshake_visible_complete);
        CHECK_FALSE(f.parser.failed(Direction::ClientToServer));
        CHECK_FALSE(f.parser.failed(Direction::ServerToClient));
        CHECK(f.client(app_data_record(500)) == ParseOutcome::Ok);
        CHECK(f.server(app_data_record(700)) == ParseOutcome::Ok);
        CHECK(f.parser.facts().app_data_records_c2s == 1);
        CHECK(f.parser.facts().app_data_records_s2c == 1);
    }
    SUBCASE("CertificateRequest answered with an empty Certificate") {
        FlowFeeder f;
        REQUIRE(f.client(client_hello_record(modern_client("db.example", {}))) == ParseOutcome::Ok);
        REQUIRE(f.server(handshake_record(server_messages)) == ParseOutcome::Ok);
        CHECK(f.client(cat({handshake_record(cat({handshake(11, certificate_body({})), handshake(16, prefixed8(filled(65, 4)))})),
                            ccs_record(), encrypted_finished()})) == ParseOutcome::Ok);
        const auto& facts = f.parser.facts();
        CHECK(facts.certificate_request);
        REQUIRE(facts.client_certificates);
        CHECK(facts.client_certificates->empty());
    }
    SUBCASE("more certificates than the limit: the first ones are kept, the rest counted") {
        FlowFeeder f(TlsLimits{.max_handshake_message = 64 * 1024, .max_certificates = 2});
        REQUIRE(f.server(handshake_record(server_messages)) == ParseOutcome::Ok);
        REQUIRE(f.parser.facts().server_certificates);
        CHECK(f.parser.facts().server_certificates->size() == 2);
        CHECK(f.parser.facts().certificates_dropped == 1);
        CHECK(f.parser.facts().certificate_request);  // parsing went on after the Certificate
    }
    SUBCASE("a Certificate larger than max_handshake_message is TooLarge") {
        FlowFeeder f(TlsLimits{.max_handshake_message = 4096, .max_certificates = 16});
        CHECK(f.server(split_records(22, server_messages, 3)) == ParseOutcome::TooLarge);
        CHECK(f.parser.failed(Direction::ServerToClient));
        CHECK(f.parser.facts().server_hello);  // the ServerHello before it was parsed
        CHECK_FALSE(f.parser.facts().server_certificates);
    }
    SUBCASE("a certificate entry overrunning its list is Malformed") {
        Buf cert_msg = certificate_body({fake_der(100, 9)});
        cert_msg[5] = 0xff;  // the entry's length low byte: now larger than the list
        FlowFeeder f;
        CHECK(f.server(handshake_record(handshake(11, cert_msg))) == ParseOutcome::Malformed);
    }
}

TEST_CASE("session resumption") {
    SUBCASE("TLS 1.2 by session id: the server echoes the offered id") {
        FlowFeeder f;
        auto ch = modern_client("resume.example", {"h2"});
        ch.session_id = filled(32, 0x77);
        f.client(client_hello_record(ch));
        f.server(handshake_record(handshake(2, server_hello_body(tls12_server_hello()))));
        REQUIRE(f.parser.facts().server_hello);
        CHECK(f.parser.facts().server_hello->session_id_echoed);
    }
    SUBCASE("TLS 1.2, different session id: a full handshake") {
        FlowFeeder f;
        auto ch = modern_client("resume.example", {"h2"});
        ch.session_id = filled(32, 0x78);
        f.client(client_hello_record(ch));
        f.server(handshake_record(handshake(2, server_hello_body(tls12_server_hello()))));
        REQUIRE(f.parser.facts().server_hello);
        CHECK_FALSE(f.parser.facts().server_hello->session_id_echoed);
    }
    SUBCASE("TLS 1.3 pre_shared_key accepted") {
        FlowFeeder f;
        auto ch = modern_client("resume.example", {"h2"});
        ch.extensions.push_back(raw_ext(0x0029, filled(40, 2)));
        f.client(client_hello_record(ch));
        auto sh = tls13_server_hello();
        sh.extensions.push_back(raw_ext(0x0029, {0x00, 0x00}));
        f.server(handshake_record(handshake(2, server_hello_body(sh))));
        REQUIRE(f.parser.facts().server_hello);
        CHECK(f.parser.facts().server_hello->psk_accepted);
        CHECK(f.parser.facts().client_hello->offers_psk);
    }
}

TEST_CASE("ServerHello ALPN (TLS 1.2) and malformed ServerHello extensions") {
    SUBCASE("chosen ALPN") {
        FlowFeeder f;
        auto sh = tls12_server_hello();
        sh.extensions = {alpn_ext({"http/1.1"}), raw_ext(0xff01, {0})};
        CHECK(f.server(handshake_record(handshake(2, server_hello_body(sh)))) == ParseOutcome::Ok);
        REQUIRE(f.parser.facts().server_hello);
        REQUIRE(f.parser.facts().server_hello->alpn);
        CHECK(*f.parser.facts().server_hello->alpn == "http/1.1");
        CHECK(f.parser.facts().server_hello->extensions == std::vector<std::uint16_t>{0x0010, 0xff01});
    }
    SUBCASE("two ALPN values chosen") {
        FlowFeeder f;
        auto sh = tls12_server_hello();
        sh.extensions = {alpn_ext({"h2", "http/1.1"})};
        CHECK(f.server(handshake_record(handshake(2, server_hello_body(sh)))) == ParseOutcome::Malformed);
    }
    SUBCASE("supported_versions of the wrong size") {
        FlowFeeder f;
        auto sh = tls12_server_hello();
        sh.extensions = {raw_ext(0x002b, {0x03, 0x04, 0x00})};
        CHECK(f.server(handshake_record(handshake(2, server_hello_body(sh)))) == ParseOutcome::Malformed);
    }
    SUBCASE("every truncation point of a server flight needs more") {
        const Buf flight = handshake_record(cat({handshake(2, server_hello_body(tls12_server_hello())),
                                                 handshake(11, certificate_body({fake_der(300, 1)})),
                                                 handshake(14, {})}));
        for (std::size_t n = 0; n < flight.size(); ++n) {
            TlsParser p;
            REQUIRE(p.feed(Direction::ServerToClient, Bytes(flight).first(n)) == ParseOutcome::NeedMore);
            REQUIRE_FALSE(p.facts().server_hello);
        }
    }
}

TEST_CASE("alerts") {
    SUBCASE("plaintext alert before CCS") {
        FlowFeeder f;
        f.client(client_hello_record(modern_client("a.example", {"h2"})));
        CHECK(f.server(record(21, 0x0303, {2, 40})) == ParseOutcome::Ok);
        REQUIRE(f.parser.facts().alerts.size() == 1);
        const auto& a = f.parser.facts().alerts[0];
        CHECK_FALSE(a.from_client);
        CHECK(a.level == 2);
        CHECK(a.description == 40);
        CHECK_FALSE(a.encrypted);
    }
    SUBCASE("encrypted alert after CCS") {
        FlowFeeder f;
        f.client(client_hello_record(modern_client("a.example", {"h2"})));
        f.server(handshake_record(handshake(2, server_hello_body(tls12_server_hello()))));
        CHECK(f.client(cat({ccs_record(), encrypted_finished(), record(21, 0x0303, filled(26, 0x31))})) ==
              ParseOutcome::Ok);
        REQUIRE(f.parser.facts().alerts.size() == 1);
        CHECK(f.parser.facts().alerts[0].encrypted);
        CHECK(f.parser.facts().alerts[0].from_client);
    }
    SUBCASE("an alert record of odd length in clear is Malformed") {
        FlowFeeder f;
        CHECK(f.server(record(21, 0x0303, {2, 40, 1})) == ParseOutcome::Malformed);
    }
    SUBCASE("heartbeat records are counted, not parsed") {
        FlowFeeder f;
        CHECK(f.client(cat({client_hello_record(modern_client("a.example", {})), record(24, 0x0303, filled(19, 1))})) ==
              ParseOutcome::Ok);
        CHECK(f.parser.facts().other_records == 1);
    }
}

TEST_CASE("a CCS record that is not a single byte 1 is Malformed") {
    FlowFeeder f;
    f.client(client_hello_record(modern_client("a.example", {"h2"})));
    f.server(handshake_record(handshake(2, server_hello_body(tls12_server_hello()))));
    CHECK(f.server(record(20, 0x0303, {1, 1})) == ParseOutcome::Malformed);
}

TEST_CASE("find_tls_start after a plaintext prelude") {
    const Buf ch = client_hello_record(modern_client("mail.example", {}));
    const Buf sh = handshake_record(handshake(2, server_hello_body(tls12_server_hello())));
    SUBCASE("SMTP STARTTLS") {
        const Buf c2s = cat({str("EHLO client.example\r\nSTARTTLS\r\n"), ch});
        const Buf s2c = cat({str("220 mx.example ESMTP\r\n250-mx.example\r\n250 STARTTLS\r\n220 2.0.0 Ready to start TLS\r\n"), sh});
        const auto c = find_tls_start(c2s, true);
        const auto s = find_tls_start(s2c, false);
        REQUIRE(c);
        REQUIRE(s);
        CHECK(*c == 31);
        CHECK(*s == s2c.size() - sh.size());
        // The offset hands over to the parser directly.
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, Bytes(c2s).subspan(*c)) == ParseOutcome::Ok);
        CHECK(p.feed(Direction::ServerToClient, Bytes(s2c).subspan(*s)) == ParseOutcome::Ok);
        CHECK(p.facts().client_hello);
        CHECK(p.facts().server_hello);
    }
    SUBCASE("PostgreSQL SSLRequest (its magic contains 0x16) and the 'S' answer") {
        const Buf ssl_request = {0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f};
        const auto c = find_tls_start(cat({ssl_request, ch}), true);
        const auto s = find_tls_start(cat({str("S"), sh}), false);
        REQUIRE(c);
        REQUIRE(s);
        CHECK(*c == 8);
        CHECK(*s == 1);
    }
    SUBCASE("the wrong side, nothing, a truncated header, a scan limit") {
        CHECK_FALSE(find_tls_start(ch, false));
        CHECK_FALSE(find_tls_start(sh, true));
        CHECK_FALSE(find_tls_start(str("EHLO x\r\n\x16\x03\x01"), true));
        CHECK_FALSE(find_tls_start({}, true));
        CHECK_FALSE(find_tls_start(Bytes(ch).first(8), true));
        const Buf late = cat({filled(100, 'A'), ch});
        CHECK_FALSE(find_tls_start(late, true, 50));
        REQUIRE(find_tls_start(late, true, 101));
        CHECK(*find_tls_start(late, true, 101) == 100);
    }
    SUBCASE("a fake record header with an implausible hello length is skipped") {
        Buf fake = {0x16, 0x03, 0x01, 0x00, 0x10, 0x01, 0x00, 0x00, 0x05, 0x03, 0x03};
        const auto c = find_tls_start(cat({fake, ch}), true);
        REQUIRE(c);
        CHECK(*c == fake.size());
    }
}

TEST_CASE("client bytes fed before the server's: a TLS 1.2 Finished after CCS is not mistaken for a hello") {
    // The client offered TLS 1.3, so its CCS could be a 1.3 dummy; the next handshake record is an
    // encrypted Finished, which must switch the direction to encrypted rather than fail.
    FlowFeeder f;
    Buf finished = record(22, 0x0303, filled(40, 0x01));  // starts with 0x01 like a ClientHello type byte
    CHECK(f.client(cat({client_hello_record(modern_client("order.example", {"h2"})),
                        handshake_record(handshake(16, prefixed8(filled(65, 4)))), ccs_record(), finished,
                        app_data_record(100)})) == ParseOutcome::Ok);
    CHECK_FALSE(f.parser.failed(Direction::ClientToServer));
    CHECK(f.parser.facts().client_ccs);
    CHECK_FALSE(f.parser.facts().second_client_hello);
    CHECK(f.parser.facts().app_data_records_c2s == 1);
    CHECK(f.server(cat({handshake_record(cat({handshake(2, server_hello_body(tls12_server_hello())), handshake(14, {})})),
                        ccs_record(), encrypted_finished(), app_data_record(100)})) == ParseOutcome::Ok);
    CHECK(f.parser.facts().server_ccs);
    CHECK(f.parser.facts().handshake_visible_complete);
    CHECK(f.parser.facts().app_data_records_s2c == 1);
}
