// Real handshakes: an embedded ClientHello taken from a public capture, and replays of the shared test
// captures compared with what tshark 4.0 reports for them (truth.tsv, and tls.handshake.ja3 for JA3).
// tshark 4.0 has no JA4 field; the JA4 expected below is Firefox's published JA4, recomputed by hand
// (python hashlib over tshark's cipher / extension / signature-algorithm fields) for this hello.
#include <doctest/doctest.h>

#include <string>

#include "audit/classify/ja_fingerprint.hpp"
#include "test_tls_builder.hpp"
#include "test_tls_pcap.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using namespace tlstest;

namespace {

// TCP payload of frame 4 of client-certificate.pcap (zeek/zeek testing/btest/Traces/tls): Firefox's
// ClientHello to certauth.idrix.fr, extracted with `tshark -Y frame.number==4 -T fields -e tcp.payload`.
const std::uint8_t kFirefoxClientHello[] = {
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x65, 0xab, 0x83, 0x92, 0x88,
    0x0a, 0xeb, 0x2a, 0x68, 0xe9, 0xe8, 0x36, 0x04, 0xc4, 0x44, 0x32, 0x99, 0x74, 0xa5, 0x27, 0xce,
    0x9b, 0x2b, 0x2e, 0x33, 0xe2, 0xaa, 0x8e, 0xd5, 0xb2, 0x73, 0xbe, 0x20, 0xbf, 0x6a, 0xed, 0x7f,
    0x07, 0x11, 0xfc, 0x26, 0x8e, 0x77, 0x5f, 0x95, 0x99, 0x5d, 0xa1, 0xd3, 0x6c, 0xe0, 0x85, 0xac,
    0x7a, 0x15, 0x40, 0x6e, 0xa1, 0x83, 0x2d, 0xbb, 0x90, 0x42, 0xb5, 0x73, 0x00, 0x22, 0x13, 0x01,
    0x13, 0x03, 0x13, 0x02, 0xc0, 0x2b, 0xc0, 0x2f, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0, 0x2c, 0xc0, 0x30,
    0xc0, 0x0a, 0xc0, 0x09, 0xc0, 0x13, 0xc0, 0x14, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35,
    0x01, 0x00, 0x01, 0x91, 0x00, 0x00, 0x00, 0x16, 0x00, 0x14, 0x00, 0x00, 0x11, 0x63, 0x65, 0x72,
    0x74, 0x61, 0x75, 0x74, 0x68, 0x2e, 0x69, 0x64, 0x72, 0x69, 0x78, 0x2e, 0x66, 0x72, 0x00, 0x17,
    0x00, 0x00, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x1d, 0x00,
    0x17, 0x00, 0x18, 0x00, 0x19, 0x01, 0x00, 0x01, 0x01, 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, 0x00,
    0x23, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32, 0x08, 0x68, 0x74, 0x74,
    0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22,
    0x00, 0x0a, 0x00, 0x08, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x02, 0x03, 0x00, 0x33, 0x00, 0x6b,
    0x00, 0x69, 0x00, 0x1d, 0x00, 0x20, 0x01, 0x9f, 0xa9, 0x69, 0x4f, 0x56, 0x9d, 0x9c, 0xef, 0x1f,
    0x98, 0x39, 0x0b, 0x05, 0xba, 0x8c, 0x0f, 0xad, 0x66, 0x8d, 0x08, 0x82, 0xdc, 0x40, 0x51, 0xc1,
    0x09, 0x23, 0x50, 0xa2, 0xc4, 0x38, 0x00, 0x17, 0x00, 0x41, 0x04, 0x3a, 0x7c, 0x1e, 0xa9, 0x71,
    0xb4, 0x41, 0x22, 0x70, 0xc8, 0x7a, 0xed, 0xf5, 0x06, 0x9b, 0x38, 0x7d, 0x37, 0xc2, 0x21, 0xef,
    0xde, 0x0f, 0x54, 0x88, 0x78, 0x32, 0x96, 0xb2, 0x8f, 0x3a, 0xaf, 0xb7, 0x80, 0x80, 0x3c, 0x05,
    0xe0, 0xa0, 0xcf, 0x9f, 0xa4, 0xfb, 0x5c, 0x8c, 0x47, 0x9f, 0xed, 0xa9, 0x23, 0x72, 0x6b, 0x5f,
    0x66, 0xcb, 0x9c, 0xc3, 0xd2, 0x71, 0xe1, 0xdc, 0xcb, 0x8b, 0xe8, 0x00, 0x2b, 0x00, 0x05, 0x04,
    0x03, 0x04, 0x03, 0x03, 0x00, 0x0d, 0x00, 0x18, 0x00, 0x16, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03,
    0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x02, 0x03, 0x02, 0x01,
    0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x1c, 0x00, 0x02, 0x40, 0x01, 0x00, 0x15, 0x00, 0x85,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00,
};

std::string capture(const char* name) { return std::string(MESHPROOF_SHARED_TESTDATA) + "/pcaps/" + name; }

bool have_captures() { return pcap::read_file(capture("client-certificate.pcap")).has_value(); }

std::vector<std::string> offered_alpn(const pcap::ReplayResult& r) {
    return r.facts.client_hello ? r.facts.client_hello->alpn : std::vector<std::string>{};
}

}  // namespace

TEST_CASE("a real Firefox ClientHello (embedded bytes)") {
    const Bytes hello(kFirefoxClientHello);
    REQUIRE(hello.size() == 517);
    SUBCASE("whole") {
        TlsParser p;
        CHECK(p.feed(Direction::ClientToServer, hello) == ParseOutcome::Ok);
        REQUIRE(p.facts().client_hello);
        const auto& ch = *p.facts().client_hello;
        REQUIRE(ch.sni);
        CHECK(*ch.sni == "certauth.idrix.fr");
        CHECK(ch.alpn == std::vector<std::string>{"h2", "http/1.1"});
        CHECK(ch.record_version == 0x0301);
        CHECK(ch.supported_versions == std::vector<std::uint16_t>{0x0304, 0x0303});
        CHECK(ch.cipher_suites.size() == 17);
        CHECK(ch.extensions.size() == 15);
        // tshark -e tls.handshake.ja3_full / tls.handshake.ja3 for this frame:
        CHECK(ch.ja3_string ==
              "771,4865-4867-4866-49195-49199-52393-52392-49196-49200-49162-49161-49171-49172-156-157-47-53,"
              "0-23-65281-10-11-35-16-5-34-51-43-13-45-28-21,29-23-24-25-256-257,0");
        CHECK(ch.ja3 == "579ccef312d18482fc42e2b822ca2430");
        CHECK(ch.ja4 == "t13d1715h2_5b57614c22b0_3d5424432f57");
    }
    SUBCASE("byte by byte gives the same fingerprint") {
        TlsParser p;
        for (std::size_t n = 1; n < hello.size(); ++n)
            REQUIRE(p.feed(Direction::ClientToServer, hello.first(n)) == ParseOutcome::NeedMore);
        CHECK(p.feed(Direction::ClientToServer, hello) == ParseOutcome::Ok);
        REQUIRE(p.facts().client_hello);
        CHECK(p.facts().client_hello->ja4 == "t13d1715h2_5b57614c22b0_3d5424432f57");
    }
    SUBCASE("every truncation needs more; single-byte corruptions fail cleanly") {
        for (std::size_t n = 0; n < hello.size(); ++n) {
            TlsParser p;
            REQUIRE(p.feed(Direction::ClientToServer, hello.first(n)) == ParseOutcome::NeedMore);
        }
        std::vector<std::uint8_t> copy(hello.begin(), hello.end());
        for (std::size_t i = 0; i < copy.size(); ++i) {
            for (const std::uint8_t flip : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
                copy[i] ^= flip;
                TlsParser p;
                const auto o = p.feed(Direction::ClientToServer, copy);
                // Any outcome may be right for corrupt bytes; a failure must stick, and memory safety is
                // what the sanitizer build checks here.
                const bool failure = o == ParseOutcome::Malformed || o == ParseOutcome::TooLarge ||
                                     o == ParseOutcome::NotThisProtocol;
                REQUIRE(failure == p.failed(Direction::ClientToServer));
                copy[i] ^= flip;
            }
        }
    }
}

TEST_CASE("shared captures replayed through the parser agree with tshark") {
    if (!have_captures()) {
        MESSAGE("shared test captures not found at " MESHPROOF_SHARED_TESTDATA "; skipped");
        return;
    }
    SUBCASE("client-certificate.pcap: TLS 1.2 mutual TLS") {
        const auto r = pcap::replay(capture("client-certificate.pcap"), 0);
        REQUIRE(r.found);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        REQUIRE(r.facts.client_hello);
        CHECK(r.facts.client_hello->sni == "certauth.idrix.fr");
        CHECK(r.facts.client_hello->ja3 == "579ccef312d18482fc42e2b822ca2430");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->record_version == 0x0303);
        CHECK(r.facts.server_hello->version == 0x0303);
        CHECK(r.facts.server_hello->alpn == "http/1.1");
        CHECK(r.facts.certificate_request);
        CHECK(r.facts.server_hello_done);
        REQUIRE(r.facts.server_certificates);
        CHECK_FALSE(r.facts.server_certificates->empty());
        REQUIRE(r.facts.client_certificates);
        CHECK_FALSE(r.facts.client_certificates->empty());
        CHECK(r.facts.new_session_ticket);
        CHECK(r.facts.client_ccs);
        CHECK(r.facts.server_ccs);
        CHECK(r.facts.handshake_visible_complete);
        CHECK(r.facts.app_data_records_c2s > 0);
        CHECK(r.facts.app_data_records_s2c > 0);
    }
    SUBCASE("certificate-request-failed.pcap: IPv6, empty client Certificate") {
        const auto r = pcap::replay(capture("certificate-request-failed.pcap"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->ja3 == "c216e752cae6f8755fd27f561d031636");
        CHECK(r.facts.certificate_request);
        REQUIRE(r.facts.client_certificates);
        CHECK(r.facts.client_certificates->empty());
    }
    SUBCASE("chrome-1250-tls-x25519-kyber.pcap: TLS 1.3 with a post-quantum key share") {
        const auto r = pcap::replay(capture("chrome-1250-tls-x25519-kyber.pcap"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sni == "lh3.google.com");
        CHECK(offered_alpn(r) == std::vector<std::string>{"h2", "http/1.1"});
        CHECK(r.facts.client_hello->ja3 == "9d33d8206d4fec4c8b1423c728f4cd3c");
        // Chrome's 15 ciphers are the JA4 spec's example list: the published 8daaf6152771 hash.
        CHECK(r.facts.client_hello->ja4.substr(0, 6) == "t13d15");
        CHECK(r.facts.client_hello->ja4.substr(11, 12) == "8daaf6152771");
        const auto& ks = r.facts.client_hello->key_share_groups;
        CHECK(std::find(ks.begin(), ks.end(), std::uint16_t{0x6399}) != ks.end());  // X25519Kyber768Draft00
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->version == 0x0304);
        CHECK(r.facts.encrypted_handshake);
        CHECK_FALSE(r.facts.server_certificates);
    }
    SUBCASE("dns_dot.pcap: no SNI, no ALPN") {
        const auto r = pcap::replay(capture("dns_dot.pcap"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK_FALSE(r.facts.client_hello->sni);
        CHECK(r.facts.client_hello->alpn.empty());
        CHECK(r.facts.client_hello->ja3 == "4fa5e77b91a47e7cdcf5a5e6d25f8449");
        CHECK(r.facts.client_hello->ja4.substr(3, 1) == "i");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->version == 0x0303);
        CHECK_FALSE(r.facts.certificate_request);
        CHECK_FALSE(r.facts.client_certificates);
    }
    SUBCASE("dump_mtu300.pcap: ClientHello in three TCP segments") {
        const auto r = pcap::replay(capture("dump_mtu300.pcap"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sni == "www.google.com");
        CHECK(r.facts.client_hello->ja3 == "a64c29923906f2a1be278be1da0714fa");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->alpn == "h2");
    }
    SUBCASE("psql-aws-ssl-require.pcap: TLS after PostgreSQL SSLRequest") {
        const auto r = pcap::replay(capture("psql-aws-ssl-require.pcap"), 0, /*starttls=*/true);
        REQUIRE(r.tls_start_c2s);
        REQUIRE(r.tls_start_s2c);
        CHECK(*r.tls_start_c2s == 8);
        CHECK(*r.tls_start_s2c == 1);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sni == "database-1.cyx4x7yvdoay.us-east-1.rds.amazonaws.com");
        CHECK(r.facts.client_hello->ja3 == "a3afc2c46ba4a7d7fbe1cfb7a3031c2f");
        CHECK(r.facts.certificate_request);
        REQUIRE(r.facts.client_certificates);
        CHECK(r.facts.client_certificates->empty());
    }
    SUBCASE("smtp-starttls.pcap") {
        const auto r = pcap::replay(capture("smtp-starttls.pcap"), 0, true);
        REQUIRE(r.tls_start_c2s);
        REQUIRE(r.tls_start_s2c);
        CHECK(*r.tls_start_c2s > 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK_FALSE(r.facts.client_hello->sni);
        CHECK(r.facts.client_hello->ja3 == "13020a4ccb11b2d3c9c0e6c285c3c415");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->version == 0x0303);
    }
    SUBCASE("socks-with-ssl.pcap: TLS 1.0 after a SOCKS exchange") {
        const auto r = pcap::replay(capture("socks-with-ssl.pcap"), 0, true);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sni == "www.google.com");
        CHECK(r.facts.client_hello->ja3 == "2aef69b4ba1938c3a400de4188743185");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->record_version == 0x0301);
        CHECK(r.facts.server_hello->version == 0x0301);
    }
    SUBCASE("tls-12-amazon-rds.pcap: TLS after MySQL CLIENT_SSL") {
        const auto r = pcap::replay(capture("tls-12-amazon-rds.pcap"), 0, true);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->ja3 == "fbe7e189e37a07ee33706f86bc746344");
        CHECK(r.facts.certificate_request);
        REQUIRE(r.facts.client_certificates);
        CHECK(r.facts.client_certificates->empty());
    }
    SUBCASE("ssl-cert-name-mismatch.pcap") {
        const auto r = pcap::replay(capture("ssl-cert-name-mismatch.pcap"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sni == "wrong.host.badssl.com");
        CHECK(r.facts.client_hello->ja3 == "4e69e4e5627c5e4c2846ba3e64d23fb9");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->alpn == "http/1.1");
    }
    SUBCASE("tls-alpn-h2.pcap: NULL link type, IPv6") {
        const auto r = pcap::replay(capture("tls-alpn-h2.pcap"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sni == "www.cloudflare.com");
        CHECK(r.facts.client_hello->ja3 == "3faa4ad39f690c4ef1c3160caa375465");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->alpn == "h2");
    }
    SUBCASE("tls13-ech.pcap: encrypted_client_hello") {
        for (const std::size_t stream : {std::size_t{1}, std::size_t{2}}) {
            const auto r = pcap::replay(capture("tls13-ech.pcap"), stream);
            REQUIRE(r.facts.client_hello);
            CHECK_FALSE(r.failed_c2s);
            CHECK_FALSE(r.failed_s2c);
            CHECK(r.facts.client_hello->sni == "cloudflare-ech.com");
            CHECK(r.facts.client_hello->ech);
            CHECK(r.facts.client_hello->ja3 ==
                  (stream == 1 ? "2fcbf8655473005933c5869b2b5d8044" : "fa58f5ffd45a2d590a1677134966dc64"));
            REQUIRE(r.facts.server_hello);
            CHECK(r.facts.server_hello->version == 0x0304);
        }
    }
    SUBCASE("tls1_1.pcap") {
        const auto r = pcap::replay(capture("tls1_1.pcap"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->ja3 == "5eb6e1fe80f696450a62a48bb3d6a965");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->version == 0x0302);
        CHECK(r.facts.handshake_visible_complete);
    }
    SUBCASE("openjdk-25.0.2-zeek.org.pcap: Linux cooked v2, TLS 1.3") {
        const auto r = pcap::replay(capture("openjdk-25.0.2-zeek.org.pcap"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sni == "zeek.org");
        CHECK(r.facts.client_hello->ja3 == "bddb16608b241c89053080cf80771423");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->version == 0x0304);
    }
    SUBCASE("tls_2_reasms.pcapng: Facebook TLS 1.3 (0xfb1a), capture starts at the SYN-ACK") {
        const auto r = pcap::replay(capture("tls_2_reasms.pcapng"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sni == "i.instagram.com");
        CHECK(offered_alpn(r) == std::vector<std::string>{"h2", "h2-fb", "http/1.1"});
        CHECK(r.facts.client_hello->ja3 == "44dab16d680ef93487bc16ad23b3ffb1");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->version == 0xfb1a);
        CHECK(r.facts.encrypted_handshake);
    }
    SUBCASE("anydesk.pcapng: mutual TLS with a custom ALPN") {
        for (const std::size_t stream : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{4}}) {
            CAPTURE(stream);
            const auto r = pcap::replay(capture("anydesk.pcapng"), stream);
            REQUIRE(r.facts.client_hello);
            CHECK_FALSE(r.failed_c2s);
            CHECK_FALSE(r.failed_s2c);
            CHECK(r.facts.certificate_request);
            REQUIRE(r.facts.client_certificates);
            CHECK_FALSE(r.facts.client_certificates->empty());
            if (stream == 4) CHECK(offered_alpn(r) == std::vector<std::string>{"anydesk/6.2.0/linux"});
            if (stream == 2) CHECK(r.facts.client_hello->ja3 == "3f2fba0262b1a22b739126dfb2fe7a7d");
        }
    }
    SUBCASE("many_interfaces-1.pcapng") {
        const auto r = pcap::replay(capture("many_interfaces-1.pcapng"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sni == "clients6.google.com");
        CHECK(offered_alpn(r) == std::vector<std::string>{"http/1.1", "spdy/3.1", "h2-14", "h2"});
        CHECK(r.facts.client_hello->ja3 == "06ac73054dde9c9e7947fed24457fe9c");
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->alpn == "h2");
    }
    SUBCASE("ssl-v2.pcap: SSLv2 CLIENT-HELLO and SERVER-HELLO") {
        const auto r = pcap::replay(capture("ssl-v2.pcap"), 0);
        REQUIRE(r.facts.client_hello);
        CHECK_FALSE(r.failed_c2s);
        CHECK_FALSE(r.failed_s2c);
        CHECK(r.facts.client_hello->sslv2_format);
        CHECK(r.facts.client_hello->legacy_version == 0x0002);
        REQUIRE(r.facts.server_hello);
        CHECK(r.facts.server_hello->sslv2_format);
        CHECK(r.facts.server_hello->version == 0x0002);
        CHECK(r.facts.server_hello->record_version == 0x0002);
        REQUIRE(r.facts.server_certificates);
        REQUIRE(r.facts.server_certificates->size() == 1);
        CHECK(r.facts.server_certificates->front().der.size() == 903);
        CHECK(r.facts.handshake_visible_complete);
        CHECK(r.facts.other_records > 0);  // the opaque SSLv2 records after the hellos
    }
}
