// The verdict rules (docs/architecture.md), from facts built in the test: which fact wins when
// several are present, and that every verdict carries evidence.
#include <doctest/doctest.h>

#include <algorithm>

#include "audit/classify/plaintext.hpp"
#include "audit/verdict/verdict.hpp"

using namespace meshproof;
using namespace meshproof::audit;

namespace {

TlsFacts tls12_hello(std::vector<std::string> alpn = {}, std::optional<std::string> sni = std::nullopt) {
    TlsFacts t;
    TlsClientHello ch;
    ch.legacy_version = 0x0303;
    ch.alpn = std::move(alpn);
    ch.sni = std::move(sni);
    t.client_hello = ch;
    TlsServerHello sh;
    sh.legacy_version = sh.version = 0x0303;
    sh.cipher_suite = 0xc02f;
    t.server_hello = sh;
    return t;
}

TlsFacts tls13_hello(std::vector<std::string> alpn = {}, std::optional<std::string> sni = std::nullopt) {
    TlsFacts t = tls12_hello(std::move(alpn), std::move(sni));
    t.client_hello->supported_versions = {0x0304, 0x0303};
    t.server_hello->version = 0x0304;
    t.server_hello->cipher_suite = 0x1301;
    t.encrypted_handshake = true;
    t.handshake_visible_complete = true;
    return t;
}

FlowRecord judge(const FlowObservations& obs) {
    FlowRecord r;
    decide(obs, r);
    return r;
}

bool evidence_mentions(const FlowRecord& r, std::string_view what) {
    return std::any_of(r.evidence.begin(), r.evidence.end(),
                       [&](const std::string& e) { return e.find(what) != std::string::npos; });
}

}  // namespace

TEST_CASE("TLS verdicts: visible TLS 1.2 facts outrank Istio hints") {
    FlowObservations obs;
    obs.server_port = 8080;

    SUBCASE("CertificateRequest answered by an empty Certificate is tls, even with Istio ALPN and SNI") {
        TlsFacts t = tls12_hello({"istio-peer-exchange", "istio"}, "outbound_.8080_._.a.b.svc.cluster.local");
        t.certificate_request = true;
        t.client_certificates = std::vector<TlsCertificateDer>{};
        obs.tls = &t;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::Tls);
        CHECK(evidence_mentions(r, "empty client Certificate"));
        REQUIRE(r.tls);
        CHECK(r.tls->client_cert == std::optional<bool>(false));
        CHECK(r.tls->client_cert_state == "empty");
    }
    SUBCASE("a full TLS 1.2 handshake without CertificateRequest is tls despite Istio ALPN") {
        TlsFacts t = tls12_hello({"istio"});
        t.server_hello_done = true;
        t.client_ccs = t.server_ccs = true;
        obs.tls = &t;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::Tls);
        CHECK(evidence_mentions(r, "no CertificateRequest"));
        REQUIRE(r.tls);
        CHECK(r.tls->cert_request_state == "no");
        CHECK(r.tls->client_cert_state == "no");
    }
    SUBCASE("a non-empty client Certificate that cannot be parsed is mtls (no SPIFFE ID visible)") {
        TlsFacts t = tls12_hello();
        t.certificate_request = true;
        t.client_certificates = std::vector<TlsCertificateDer>{TlsCertificateDer{{0x30, 0x03, 0x02, 0x01, 0x01}}};
        obs.tls = &t;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::Mtls);
        REQUIRE(r.tls);
        REQUIRE(r.tls->client_certs.size() == 1);
        CHECK_FALSE(r.tls->client_certs[0].parse_error.empty());
        CHECK(r.tls->client_cert_state == "yes");
    }
}

TEST_CASE("TLS 1.3 verdicts from ClientHello signatures") {
    FlowObservations obs;
    obs.server_port = 8080;
    SUBCASE("Istio TCP ALPN -> istio-mtls") {
        TlsFacts t = tls13_hello({"istio-peer-exchange", "istio"});
        obs.tls = &t;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::IstioMtls);
        CHECK(evidence_mentions(r, "ALPN istio-peer-exchange,istio"));
        REQUIRE(r.tls);
        CHECK(r.tls->version == std::optional<std::string>("1.3"));
        CHECK_FALSE(r.tls->alpn_chosen);
        CHECK(r.tls->cert_request_state == "encrypted");
    }
    SUBCASE("outbound_ SNI alone -> istio-mtls") {
        TlsFacts t = tls13_hello({}, "outbound_.80_._.web.demo.svc.cluster.local");
        obs.tls = &t;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::IstioMtls);
        CHECK(evidence_mentions(r, "SNI outbound_.80_._.web"));
    }
    SUBCASE("an SNI that merely contains outbound_ later is not Istio") {
        TlsFacts t = tls13_hello({"h2"}, "api.outbound_.example.com");
        obs.tls = &t;
        CHECK(judge(obs).verdict == Verdict::Tls);
    }
    SUBCASE("ordinary TLS 1.3 -> tls, client auth not visible") {
        TlsFacts t = tls13_hello({"h2", "http/1.1"}, "example.com");
        obs.tls = &t;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::Tls);
        CHECK(evidence_mentions(r, "not visible"));
    }
    SUBCASE("port 15008 + ALPN h2 + no SNI -> hbone; with SNI it is plain tls") {
        obs.server_port = 15008;
        TlsFacts t = tls13_hello({"h2"});
        obs.tls = &t;
        CHECK(judge(obs).verdict == Verdict::Hbone);
        TlsFacts with_sni = tls13_hello({"h2"}, "x.example");
        obs.tls = &with_sni;
        CHECK(judge(obs).verdict == Verdict::Tls);
    }
    SUBCASE("h2 without SNI on another port is not hbone") {
        TlsFacts t = tls13_hello({"h2"});
        obs.tls = &t;
        CHECK(judge(obs).verdict == Verdict::Tls);
    }
}

TEST_CASE("TLS with only records mid-stream, a STARTTLS prelude, and SSLv2") {
    FlowObservations obs;
    obs.server_port = 443;
    SUBCASE("records only") {
        TlsFacts t;
        t.app_data_records_c2s = 3;
        obs.tls = &t;
        obs.tls_records_only = true;
        obs.midstream = true;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::Tls);
        CHECK(evidence_mentions(r, "mid-stream"));
        REQUIRE(r.tls);
        CHECK(r.tls->cert_request_state.empty());
    }
    SUBCASE("prelude is named in evidence and summary") {
        TlsFacts t = tls12_hello();
        obs.tls = &t;
        obs.tls_prelude = "smtp-starttls";
        const auto r = judge(obs);
        REQUIRE(r.tls);
        CHECK(r.tls->prelude == std::optional<std::string>("smtp-starttls"));
        CHECK(evidence_mentions(r, "smtp-starttls"));
    }
    SUBCASE("SSLv2 is tls, flagged obsolete, handshake details encrypted") {
        TlsFacts t;
        TlsServerHello sh;
        sh.version = 0x0002;
        sh.sslv2_format = true;
        t.server_hello = sh;
        obs.tls = &t;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::Tls);
        CHECK(evidence_mentions(r, "SSLv2"));
        CHECK(r.tls->cert_request_state == "encrypted");
    }
}

TEST_CASE("plaintext verdicts") {
    FlowObservations obs;
    obs.server_port = 9080;
    const std::string request = "GET /productpage HTTP/1.1\r\nHost: productpage:9080\r\n\r\n";
    const Bytes req(reinterpret_cast<const std::uint8_t*>(request.data()), request.size());
    obs.first_bytes[0] = req;
    obs.payload_bytes[0] = request.size();

    SUBCASE("readable request answered by a reset and no data -> plaintext-rejected") {
        PlaintextFacts p = classify_plaintext(req, {}, 9080);
        obs.plaintext = &p;
        obs.server_rst = true;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::PlaintextRejected);
        CHECK(evidence_mentions(r, "reset"));
        CHECK(r.protocol == "http");
    }
    SUBCASE("readable request and response -> plaintext-served") {
        const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        const Bytes rb(reinterpret_cast<const std::uint8_t*>(resp.data()), resp.size());
        PlaintextFacts p = classify_plaintext(req, rb, 9080);
        obs.plaintext = &p;
        obs.first_bytes[1] = rb;
        obs.payload_bytes[1] = resp.size();
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::PlaintextServed);
        REQUIRE(r.plaintext);
        CHECK(r.plaintext->status == std::optional<int>(200));
    }
    SUBCASE("request with no reply and no close stays plaintext-served (the bytes crossed in clear)") {
        PlaintextFacts p = classify_plaintext(req, {}, 9080);
        obs.plaintext = &p;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::PlaintextServed);
        CHECK(evidence_mentions(r, "no server reply"));
    }
    SUBCASE("secrets are carried into the record") {
        const std::string auth = "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer abcdefghijklmnop\r\n\r\n";
        const Bytes ab(reinterpret_cast<const std::uint8_t*>(auth.data()), auth.size());
        PlaintextFacts p = classify_plaintext(ab, {}, 80);
        obs.plaintext = &p;
        obs.first_bytes[0] = ab;
        const auto r = judge(obs);
        REQUIRE(r.secrets.size() == 1);
        CHECK(r.secrets[0].kind == "authorization");
        CHECK(r.secrets[0].value.find("abcdefghijklmnop") != std::string::npos);
    }
}

TEST_CASE("bytes nobody recognises are judged by their shape") {
    FlowObservations obs;
    obs.server_port = 51820;
    std::vector<std::uint8_t> random(512);
    std::uint32_t x = 2463534242u;
    for (auto& b : random) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::uint8_t>(x);
    }
    SUBCASE("high entropy -> encrypted-unknown") {
        obs.first_bytes[0] = Bytes(random);
        obs.payload_bytes[0] = random.size();
        PlaintextFacts p = classify_plaintext(Bytes(random), {}, obs.server_port);
        obs.plaintext = &p;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::EncryptedUnknown);
        CHECK(evidence_mentions(r, "bits/byte"));
    }
    SUBCASE("no payload at all -> unknown") {
        obs.syn_seen = true;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::Unknown);
        CHECK_FALSE(r.evidence.empty());
    }
    SUBCASE("payload on the wire but not captured (snap length) -> unknown, and says so") {
        obs.payload_bytes[0] = 100;
        const auto r = judge(obs);
        CHECK(r.verdict == Verdict::Unknown);
        CHECK(evidence_mentions(r, "not captured"));
    }
}

TEST_CASE("verdict names round-trip and classify encrypted/plaintext") {
    for (Verdict v : kAllVerdicts) {
        const auto back = verdict_from_string(to_string(v));
        REQUIRE(back);
        CHECK(*back == v);
        CHECK_FALSE((is_encrypted(v) && is_plaintext(v)));
    }
    CHECK_FALSE(verdict_from_string("plaintext"));
    CHECK(is_istio_alpn("istio-http/1.1"));
    CHECK_FALSE(is_istio_alpn("h2"));
    CHECK(cipher_name(0x1301) == "TLS_AES_128_GCM_SHA256");
    CHECK(cipher_name(0xabcd) == "0xabcd");
}
