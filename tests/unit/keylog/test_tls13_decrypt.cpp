// The TLS 1.3 key schedule and record decryption against RFC 8448 section 3 (the RFC's own secrets,
// keys, ivs and records), every TLS 1.3 AEAD against records sealed by OpenSSL independently, and the
// handshake decryptor on the RFC's whole handshake.
#include <doctest/doctest.h>

#include <array>
#include <string>

#include "audit/certs/certificate_info.hpp"
#include "audit/keylog/key_log.hpp"
#include "audit/keylog/tls13_handshake_decryptor.hpp"
#include "audit/keylog/tls13_record_protection.hpp"
#include "tests/unit/keylog/keylog_test_support.hpp"
#include "tests/unit/keylog/rfc8448_vectors.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using keylog_test::hex;
using keylog_test::unhex;

namespace {

const Tls13CipherSuite& aes128gcm() { return *find_tls13_cipher_suite(0x1301); }

const KeyLog& rfc8448_key_log() {
    static const auto log = KeyLog::parse(std::string("CLIENT_HANDSHAKE_TRAFFIC_SECRET ") + rfc8448::kClientRandom + " " +
                                              rfc8448::kClientHandshakeTrafficSecret + "\nSERVER_HANDSHAKE_TRAFFIC_SECRET " +
                                              rfc8448::kClientRandom + " " + rfc8448::kServerHandshakeTrafficSecret + "\n",
                                          "rfc8448.keys");
    REQUIRE(log.has_value());
    return *log;
}

constexpr std::array<std::uint16_t, 5> kAllSuites{0x1301, 0x1302, 0x1303, 0x1304, 0x1305};

}  // namespace

TEST_CASE("TLS 1.3 suites: the five of RFC 8446 B.4 and nothing else") {
    for (const std::uint16_t id : kAllSuites) CHECK(find_tls13_cipher_suite(id) != nullptr);
    CHECK(find_tls13_cipher_suite(0x1302)->hash_length == 48);
    CHECK(find_tls13_cipher_suite(0x1305)->tag_length == 8);
    CHECK(find_tls13_cipher_suite(0xc02f) == nullptr);  // ECDHE-RSA-AES128-GCM-SHA256 (TLS 1.2)
    CHECK(find_tls13_cipher_suite(0x0000) == nullptr);
}

TEST_CASE("HKDF-Expand-Label reproduces RFC 8448's key schedule") {
    const auto hs = unhex(rfc8448::kHandshakeSecret);
    const auto hello_hash = unhex(rfc8448::kHelloHash);
    SUBCASE("Derive-Secret(handshake secret, c/s hs traffic, hash of ClientHello..ServerHello)") {
        auto c = hkdf_expand_label(aes128gcm(), hs, "c hs traffic", hello_hash, 32);
        auto s = hkdf_expand_label(aes128gcm(), hs, "s hs traffic", hello_hash, 32);
        REQUIRE(c.has_value());
        REQUIRE(s.has_value());
        CHECK(hex(c->view()) == rfc8448::kClientHandshakeTrafficSecret);
        CHECK(hex(s->view()) == rfc8448::kServerHandshakeTrafficSecret);
    }
    SUBCASE("the server's finished key") {
        auto f = hkdf_expand_label(aes128gcm(), unhex(rfc8448::kServerHandshakeTrafficSecret), "finished", {}, 32);
        REQUIRE(f.has_value());
        CHECK(hex(f->view()) == rfc8448::kServerFinishedKey);
    }
    SUBCASE("write keys and ivs of both sides") {
        auto server = derive_traffic_keys(aes128gcm(), unhex(rfc8448::kServerHandshakeTrafficSecret));
        auto client = derive_traffic_keys(aes128gcm(), unhex(rfc8448::kClientHandshakeTrafficSecret));
        REQUIRE(server.has_value());
        REQUIRE(client.has_value());
        CHECK(hex(server->key.view()) == rfc8448::kServerHandshakeKey);
        CHECK(hex(server->iv.view()) == rfc8448::kServerHandshakeIv);
        CHECK(hex(client->key.view()) == rfc8448::kClientHandshakeKey);
        CHECK(hex(client->iv.view()) == rfc8448::kClientHandshakeIv);
    }
    SUBCASE("a secret of the wrong length for the suite is refused") {
        const auto hs31 = std::vector<std::uint8_t>(hs.begin(), hs.begin() + 31);
        CHECK_FALSE(derive_traffic_keys(aes128gcm(), hs31).has_value());
        CHECK_FALSE(derive_traffic_keys(*find_tls13_cipher_suite(0x1302), unhex(rfc8448::kHandshakeSecret)).has_value());
    }
}

TEST_CASE("RFC 8448's records open, in sequence, and only with the right key") {
    auto server = Tls13RecordOpener::create(aes128gcm(), unhex(rfc8448::kServerHandshakeTrafficSecret));
    auto client = Tls13RecordOpener::create(aes128gcm(), unhex(rfc8448::kClientHandshakeTrafficSecret));
    REQUIRE(server.has_value());
    REQUIRE(client.has_value());
    const auto flight = unhex(rfc8448::kServerFlightRecord);
    const auto finished = unhex(rfc8448::kClientFinishedRecord);

    SUBCASE("the server's encrypted flight and the client's Finished") {
        auto p = server->open(flight);
        REQUIRE(p.has_value());
        CHECK(p->content_type == 22);
        CHECK(hex(p->content) == rfc8448::kServerFlightPlaintext);
        CHECK(server->sequence() == 1);
        auto f = client->open(finished);
        REQUIRE(f.has_value());
        CHECK(f->content_type == 22);
        CHECK(hex(f->content) == rfc8448::kClientFinished);
    }
    SUBCASE("a flipped bit fails authentication and does not advance the sequence") {
        for (const std::size_t at : {std::size_t{5}, flight.size() / 2, flight.size() - 1}) {
            auto damaged = flight;
            damaged[at] ^= 0x01;
            auto p = server->open(damaged);
            REQUIRE_FALSE(p.has_value());
            CHECK(p.error() == OpenError::Authentication);
            CHECK(server->sequence() == 0);
        }
        CHECK(server->open(flight).has_value());
    }
    SUBCASE("the header is authenticated too (it is the AAD)") {
        auto changed = finished;
        changed[2] = 0x01;  // legacy_record_version 0x0301
        CHECK(client->open(changed).error() == OpenError::Authentication);
    }
    SUBCASE("the wrong direction's key, and the wrong sequence number, fail") {
        CHECK(server->open(finished).error() == OpenError::Authentication);
        REQUIRE(client->open(finished).has_value());
        CHECK(client->open(finished).error() == OpenError::Authentication);  // a replay: sequence 1 now
    }
    SUBCASE("impossible records") {
        auto not_app = finished;
        not_app[0] = 22;
        CHECK(client->open(not_app).error() == OpenError::NotApplicationData);
        CHECK(client->open(Bytes(finished).first(20)).error() == OpenError::BadLength);
        const std::vector<std::uint8_t> only_tag{23, 3, 3, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        CHECK(client->open(only_tag).error() == OpenError::BadLength);
        CHECK(client->open(Bytes(finished).first(3)).error() == OpenError::BadLength);
    }
}

TEST_CASE("every TLS 1.3 AEAD opens what OpenSSL sealed, padding removed") {
    const std::vector<std::uint8_t> message{0x14, 0, 0, 4, 'a', 'b', 'c', 'd'};
    for (const std::uint16_t id : kAllSuites) {
        const Tls13CipherSuite& suite = *find_tls13_cipher_suite(id);
        CAPTURE(suite.name);
        const std::vector<std::uint8_t> secret(suite.hash_length, static_cast<std::uint8_t>(id));
        auto opener = Tls13RecordOpener::create(suite, secret);
        REQUIRE(opener.has_value());
        for (std::uint64_t seq = 0; seq < 3; ++seq) {
            const auto record = keylog_test::seal_record(suite, secret, seq, 22, message, seq * 7);
            REQUIRE(record.size() == 5 + message.size() + 1 + seq * 7 + suite.tag_length);
            auto p = opener->open(record);
            REQUIRE(p.has_value());
            CHECK(p->content_type == 22);
            CHECK(p->content == message);
        }
        // A record sealed for sequence 5 does not open at sequence 3.
        CHECK_FALSE(opener->open(keylog_test::seal_record(suite, secret, 5, 22, message)).has_value());
        // All padding, no content type: RFC 8446 5.4.
        const auto zeros = keylog_test::seal_record(suite, secret, 3, 0, {}, 4);
        CHECK(opener->open(zeros).error() == OpenError::NoContentType);
    }
}

TEST_CASE("the handshake decryptor reads RFC 8448's whole handshake") {
    const KeyLog& log = rfc8448_key_log();
    const KeyLogEntry* entry = log.find(unhex(rfc8448::kClientRandom));
    REQUIRE(entry != nullptr);
    auto dec = Tls13HandshakeDecryptor::create(*entry, 0x1301, false);
    REQUIRE(dec.has_value());
    const std::vector<std::uint8_t> ccs{20, 3, 3, 0, 1, 1};

    CHECK(dec->on_record(Direction::ServerToClient, unhex(rfc8448::kServerFlightRecord)) == ParseOutcome::Ok);
    CHECK(dec->done(Direction::ServerToClient));
    CHECK_FALSE(dec->failure(Direction::ServerToClient).has_value());
    CHECK(dec->on_record(Direction::ClientToServer, ccs) == ParseOutcome::Ok);
    CHECK_FALSE(dec->done(Direction::ClientToServer));
    CHECK(dec->on_record(Direction::ClientToServer, unhex(rfc8448::kClientFinishedRecord)) == ParseOutcome::Ok);
    CHECK(dec->done(Direction::ClientToServer));

    const Tls13EncryptedHandshake& h = dec->handshake();
    CHECK(h.encrypted_extensions);
    CHECK_FALSE(h.alpn.has_value());
    CHECK_FALSE(h.certificate_request);
    CHECK(h.server_finished);
    CHECK(h.client_finished);
    CHECK(h.server_signature_scheme == std::optional<std::uint16_t>(0x0804));  // rsa_pss_rsae_sha256
    CHECK_FALSE(h.client_certificates.has_value());  // the client was not asked and sent none
    REQUIRE(h.server_certificates.has_value());
    REQUIRE(h.server_certificates->size() == 1);
    const auto cert = parse_certificate_der(h.server_certificates->front().der);
    REQUIRE(cert.has_value());
    CHECK(cert->subject == "CN=rsa");
    CHECK(cert->not_after == "2026-07-30T01:23:59Z");

    // After each side's Finished nothing more is opened: application data stays encrypted.
    CHECK(dec->on_record(Direction::ServerToClient, unhex(rfc8448::kServerFlightRecord)) == ParseOutcome::Ok);
    CHECK(dec->records_opened(Direction::ServerToClient) == 1);
    CHECK(dec->records_opened(Direction::ClientToServer) == 1);
}

TEST_CASE("the handshake decryptor says why it stopped") {
    const KeyLog& log = rfc8448_key_log();
    const KeyLogEntry& entry = *log.find(unhex(rfc8448::kClientRandom));
    SUBCASE("a suite that is not TLS 1.3") { CHECK_FALSE(Tls13HandshakeDecryptor::create(entry, 0xc02f, false).has_value()); }
    SUBCASE("secrets of SHA-256 under a SHA-384 suite") {
        CHECK_FALSE(Tls13HandshakeDecryptor::create(entry, 0x1302, false).has_value());
    }
    SUBCASE("only one side's secret") {
        auto one = KeyLog::parse(std::string("CLIENT_HANDSHAKE_TRAFFIC_SECRET ") + rfc8448::kClientRandom + " " +
                                     rfc8448::kClientHandshakeTrafficSecret + "\nCLIENT_RANDOM " + rfc8448::kClientRandom +
                                     " " + std::string(96, 'a') + "\n",
                                 "one.keys");
        REQUIRE(one.has_value());
        const auto made = Tls13HandshakeDecryptor::create(*one->find(unhex(rfc8448::kClientRandom)), 0x1301, false);
        REQUIRE_FALSE(made.has_value());
        CHECK(made.error().find("both handshake traffic secrets") != std::string::npos);
    }
    SUBCASE("a damaged record stops that direction only") {
        auto dec = Tls13HandshakeDecryptor::create(entry, 0x1301, false);
        REQUIRE(dec.has_value());
        auto flight = unhex(rfc8448::kServerFlightRecord);
        flight[100] ^= 0x80;
        CHECK(dec->on_record(Direction::ServerToClient, flight) == ParseOutcome::Malformed);
        CHECK(dec->done(Direction::ServerToClient));
        REQUIRE(dec->failure(Direction::ServerToClient).has_value());
        CHECK(dec->failure(Direction::ServerToClient)->find("authentication failed") != std::string::npos);
        CHECK(dec->on_record(Direction::ClientToServer, unhex(rfc8448::kClientFinishedRecord)) == ParseOutcome::Ok);
        CHECK(dec->handshake().client_finished);
        CHECK_FALSE(dec->handshake().server_finished);
    }
    SUBCASE("0-RTT records before the client's flight are skipped only when early data was offered") {
        const std::vector<std::uint8_t> early_secret(32, 0x42);
        const std::vector<std::uint8_t> http{'G', 'E', 'T', ' ', '/'};
        const auto early = keylog_test::seal_record(aes128gcm(), early_secret, 0, 23, http);
        auto offered = Tls13HandshakeDecryptor::create(entry, 0x1301, true);
        REQUIRE(offered.has_value());
        CHECK(offered->on_record(Direction::ClientToServer, early) == ParseOutcome::Ok);
        CHECK(offered->on_record(Direction::ClientToServer, unhex(rfc8448::kClientFinishedRecord)) == ParseOutcome::Ok);
        CHECK(offered->handshake().client_finished);
        auto not_offered = Tls13HandshakeDecryptor::create(entry, 0x1301, false);
        REQUIRE(not_offered.has_value());
        CHECK(not_offered->on_record(Direction::ClientToServer, early) == ParseOutcome::Malformed);
        CHECK(not_offered->done(Direction::ClientToServer));
    }
}

TEST_CASE("a client certificate flight, split over records, with an alert after it") {
    // Built records under the RFC's client secret: Certificate split across two records, then
    // CertificateVerify + Finished packed in one (the BoringSSL/rustls shape), then nothing more.
    const KeyLog& log = rfc8448_key_log();
    const auto secret = unhex(rfc8448::kClientHandshakeTrafficSecret);
    const auto server_flight = unhex(rfc8448::kServerFlightPlaintext);
    // The server's certificate DER out of the RFC's flight, reused as the "client" certificate.
    const auto& suite = aes128gcm();
    Tls13EncryptedHandshake parsed;
    Tls13HandshakeReader server_reader(false, 65536, 16);
    REQUIRE(server_reader.on_record(server_flight, parsed) == ParseOutcome::Ok);
    const auto der = parsed.server_certificates->front().der;
    std::vector<std::uint8_t> cert_msg{11, 0, 0, 0, 0};  // type, length (patched), empty context
    const std::size_t list_len = 3 + der.size() + 2;
    cert_msg.push_back(static_cast<std::uint8_t>(list_len >> 16));
    cert_msg.push_back(static_cast<std::uint8_t>(list_len >> 8));
    cert_msg.push_back(static_cast<std::uint8_t>(list_len));
    cert_msg.push_back(static_cast<std::uint8_t>(der.size() >> 16));
    cert_msg.push_back(static_cast<std::uint8_t>(der.size() >> 8));
    cert_msg.push_back(static_cast<std::uint8_t>(der.size()));
    cert_msg.insert(cert_msg.end(), der.begin(), der.end());
    cert_msg.insert(cert_msg.end(), {0, 0});
    const std::size_t body = cert_msg.size() - 4;
    cert_msg[1] = static_cast<std::uint8_t>(body >> 16);
    cert_msg[2] = static_cast<std::uint8_t>(body >> 8);
    cert_msg[3] = static_cast<std::uint8_t>(body);
    std::vector<std::uint8_t> verify_and_finished{15, 0, 0, 6, 0x04, 0x03, 0, 2, 0xaa, 0xbb};
    const auto fin = unhex(rfc8448::kClientFinished);
    verify_and_finished.insert(verify_and_finished.end(), fin.begin(), fin.end());

    auto dec = Tls13HandshakeDecryptor::create(*log.find(unhex(rfc8448::kClientRandom)), 0x1301, false);
    REQUIRE(dec.has_value());
    const std::size_t half = cert_msg.size() / 2;
    CHECK(dec->on_record(Direction::ClientToServer,
                         keylog_test::seal_record(suite, secret, 0, 22, Bytes(cert_msg).first(half))) == ParseOutcome::NeedMore);
    CHECK(dec->on_record(Direction::ClientToServer,
                         keylog_test::seal_record(suite, secret, 1, 22, Bytes(cert_msg).subspan(half), 13)) == ParseOutcome::Ok);
    CHECK(dec->on_record(Direction::ClientToServer, keylog_test::seal_record(suite, secret, 2, 22, verify_and_finished)) ==
          ParseOutcome::Ok);
    const auto& h = dec->handshake();
    REQUIRE(h.client_certificates.has_value());
    REQUIRE(h.client_certificates->size() == 1);
    CHECK(h.client_certificates->front().der == der);
    CHECK(h.client_signature_scheme == std::optional<std::uint16_t>(0x0403));
    CHECK(h.client_finished);
    CHECK(dec->done(Direction::ClientToServer));

    SUBCASE("an empty client Certificate is an empty chain, not a missing one") {
        auto d2 = Tls13HandshakeDecryptor::create(*log.find(unhex(rfc8448::kClientRandom)), 0x1301, false);
        const std::vector<std::uint8_t> empty_cert{11, 0, 0, 4, 0, 0, 0, 0};
        CHECK(d2->on_record(Direction::ClientToServer, keylog_test::seal_record(suite, secret, 0, 22, empty_cert)) ==
              ParseOutcome::Ok);
        REQUIRE(d2->handshake().client_certificates.has_value());
        CHECK(d2->handshake().client_certificates->empty());
    }
    SUBCASE("a client alert under the handshake key is read and ends the flight") {
        auto d3 = Tls13HandshakeDecryptor::create(*log.find(unhex(rfc8448::kClientRandom)), 0x1301, false);
        const std::vector<std::uint8_t> bad_certificate{2, 42};
        CHECK(d3->on_record(Direction::ClientToServer, keylog_test::seal_record(suite, secret, 0, 21, bad_certificate)) ==
              ParseOutcome::Ok);
        REQUIRE(d3->handshake().alerts.size() == 1);
        CHECK(d3->handshake().alerts[0].description == 42);
        CHECK(d3->done(Direction::ClientToServer));
    }
    SUBCASE("application data under the handshake key is impossible") {
        auto d4 = Tls13HandshakeDecryptor::create(*log.find(unhex(rfc8448::kClientRandom)), 0x1301, false);
        const std::vector<std::uint8_t> data{'h', 'i'};
        CHECK(d4->on_record(Direction::ClientToServer, keylog_test::seal_record(suite, secret, 0, 23, data)) ==
              ParseOutcome::Malformed);
    }
}

TEST_CASE("the decrypter factory TlsParser asks: a note when the key log has nothing for a connection") {
    const KeyLog& log = rfc8448_key_log();
    const TlsDecrypterFactory factory = Tls13HandshakeDecryptor::factory(log);
    const auto random = unhex(rfc8448::kClientRandom);
    std::string why_not;
    SUBCASE("a client random the key log does not have") {
        const auto other = unhex(std::string(64, '7'));
        CHECK(factory(TlsDecryptRequest{other, 0x1301, false}, why_not) == nullptr);
        CHECK(why_not == "no secrets for this client random in the key log");
    }
    SUBCASE("a suite the secrets do not fit") {
        CHECK(factory(TlsDecryptRequest{random, 0x1302, false}, why_not) == nullptr);
        CHECK(why_not.find("needs 48") != std::string::npos);
    }
    SUBCASE("the RFC's connection") {
        auto dec = factory(TlsDecryptRequest{random, 0x1301, false}, why_not);
        REQUIRE(dec != nullptr);
        CHECK(dec->on_record(Direction::ServerToClient, unhex(rfc8448::kServerFlightRecord)) == ParseOutcome::Ok);
        CHECK(dec->handshake().server_finished);
        CHECK(why_not.empty());
    }
}
