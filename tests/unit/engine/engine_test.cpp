// The engine end to end on frames built in the test: role correction, STARTTLS upgrades, port
// reuse, eviction that still reports, duplicate frames, and counters after the verdict is final.
#include <doctest/doctest.h>

#include <cstring>

#include "audit/engine/engine.hpp"
#include "tests/unit/classify/test_tls_builder.hpp"
#include "tests/unit/engine/conversation_builder.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using tlstest::Buf;
using enginetest::Conversation;
using enginetest::istio_client_hello;
using enginetest::tls13_server_hello;

namespace {

const FlowRecord& only_flow(const Engine& e) {
    REQUIRE(e.records().size() == 1);
    return e.records().front();
}

}  // namespace

TEST_CASE("a TLS 1.3 Istio flow is judged at the ServerHello and later packets only count") {
    Conversation c;
    c.handshake();
    c.data(true, istio_client_hello());
    c.data(false, tls13_server_hello());
    for (int i = 0; i < 50; ++i) {
        c.data(true, tlstest::app_data_record(200));
        c.data(false, tlstest::app_data_record(1000));
    }
    c.close();
    Engine e;
    c.feed(e);
    e.finish();
    const FlowRecord& f = only_flow(e);
    CHECK(f.verdict == Verdict::IstioMtls);
    CHECK(f.client_port == 40000);
    CHECK(f.client_basis == "syn");
    CHECK(f.packets[0] + f.packets[1] == c.frames.size());
    CHECK(f.bytes[1] == tls13_server_hello().size() + 50 * (1000 + 5));
    CHECK(f.closed_by_fin);
    CHECK(e.summary().verdict_flows[static_cast<std::size_t>(Verdict::IstioMtls)] == 1);
}

TEST_CASE("midstream: a ClientHello from the side the port heuristic called the server swaps the roles") {
    Conversation c;
    c.pa = 40000;  // the real client, on a lower port than the server
    c.pb = 50000;
    // No handshake captured: the first frame is the ClientHello.
    c.data(true, istio_client_hello());
    c.data(false, tls13_server_hello());
    Engine e;
    c.feed(e);
    e.finish();
    const FlowRecord& f = only_flow(e);
    CHECK(f.midstream);
    CHECK(f.client_port == 40000);
    CHECK(f.server_port == 50000);
    CHECK(f.client_basis == "content");
    CHECK(f.verdict == Verdict::IstioMtls);
}

TEST_CASE("SMTP STARTTLS ends as a TLS flow with the plaintext prelude noted") {
    Conversation c;
    c.pb = 25;
    c.handshake();
    c.data(false, "220 mail.example.com ESMTP\r\n");
    c.data(true, "EHLO client.example.com\r\n");
    c.data(false, "250-mail.example.com\r\n250 STARTTLS\r\n");
    c.data(true, "STARTTLS\r\n");
    c.data(false, "220 2.0.0 Ready to start TLS\r\n");
    c.data(true, tlstest::client_hello_record(tlstest::modern_client("", {})));
    c.data(false, tlstest::handshake_record(tlstest::handshake(2, tlstest::server_hello_body(tlstest::tls12_server_hello()))));
    c.close();
    Engine e;
    c.feed(e);
    e.finish();
    const FlowRecord& f = only_flow(e);
    CHECK(f.verdict == Verdict::Tls);
    REQUIRE(f.tls);
    CHECK(f.tls->version == std::optional<std::string>("1.2"));
    REQUIRE(f.tls->prelude);
    CHECK(f.tls->prelude->find("starttls") != std::string::npos);
}

TEST_CASE("port reuse: a new SYN on a finished 4-tuple starts a second flow") {
    Conversation c;
    c.handshake();
    c.data(true, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.data(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.close();
    c.seq_a = 900000;  // new ISNs
    c.seq_b = 700000;
    c.handshake();
    c.data(true, istio_client_hello());
    c.data(false, tls13_server_hello());
    Engine e;
    c.feed(e);
    e.finish();
    REQUIRE(e.records().size() == 2);
    CHECK(e.records()[0].verdict == Verdict::PlaintextServed);
    CHECK(e.records()[1].verdict == Verdict::IstioMtls);
}

TEST_CASE("a full flow table evicts the least recently used flow, which is still reported") {
    EngineConfig cfg;
    cfg.max_flows = 2;
    Engine e(cfg);
    for (std::uint16_t i = 0; i < 5; ++i) {
        Conversation c;
        c.pa = static_cast<std::uint16_t>(41000 + i);
        c.handshake();
        c.data(true, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        c.data(false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        c.feed(e);
    }
    CHECK(e.active_flows() == 2);
    e.finish();
    CHECK(e.records().size() == 5);
    CHECK(e.summary().flows == 5);
    CHECK(e.summary().flows_evicted == 3);
    int evicted = 0;
    for (const auto& f : e.records()) {
        CHECK(f.verdict == Verdict::PlaintextServed);
        evicted += f.evicted ? 1 : 0;
    }
    CHECK(evicted == 3);
}

TEST_CASE("every frame captured twice (-i any) gives the same flow as once") {
    Conversation c;
    c.handshake();
    c.data(true, "GET /login?password=hunter2 HTTP/1.1\r\nHost: a\r\n\r\n");
    c.data(false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    c.close();
    Engine once, twice;
    c.feed(once);
    c.feed(twice, 2);
    once.finish();
    twice.finish();
    const FlowRecord& a = only_flow(once);
    const FlowRecord& b = only_flow(twice);
    CHECK(a.verdict == Verdict::PlaintextServed);
    CHECK(b.verdict == a.verdict);
    CHECK(b.packets == a.packets);
    CHECK(b.bytes == a.bytes);
    CHECK(b.secrets.size() == a.secrets.size());
    CHECK(twice.summary().duplicate_packets == c.frames.size());
}

TEST_CASE("plaintext rejected: readable request, server resets without data") {
    Conversation c;
    c.pb = 9080;
    c.handshake();
    c.data(true, "GET /productpage HTTP/1.1\r\nHost: productpage\r\n\r\n");
    c.packet(false, tcp_flags::Rst | tcp_flags::Ack);
    Engine e;
    c.feed(e);
    e.finish();
    const FlowRecord& f = only_flow(e);
    CHECK(f.verdict == Verdict::PlaintextRejected);
    CHECK(f.closed_by_rst);
}

TEST_CASE("a smaller stream budget still classifies, and summary counts match records") {
    EngineConfig cfg;
    cfg.stream.max_bytes = 64;  // less than one ClientHello
    Engine e(cfg);
    Conversation c;
    c.handshake();
    c.data(true, istio_client_hello());
    c.data(false, tls13_server_hello());
    c.feed(e);
    e.finish();
    const FlowRecord& f = only_flow(e);
    // The ClientHello is cut at 64 bytes: no SNI/ALPN visible, but it is still known to be TLS.
    CHECK(f.protocol == "tls");
    std::uint64_t total = 0;
    for (auto n : e.summary().verdict_flows) total += n;
    CHECK(total == e.records().size());
}

TEST_CASE("closed flows reach the sink without waiting for the idle timeout, and late ACKs make no new flow") {
    EngineConfig cfg;
    cfg.keep_records = false;
    Engine e(cfg);
    std::vector<FlowRecord> seen;
    e.set_sink([&](const FlowRecord& r) { seen.push_back(r); });

    SUBCASE("reset: reported on the RST itself") {
        Conversation c;
        c.handshake();
        c.data(true, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        c.packet(false, tcp_flags::Rst | tcp_flags::Ack);
        c.feed(e);
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].verdict == Verdict::PlaintextRejected);
        CHECK(e.active_flows() == 0);
        Conversation late = c;  // a retransmitted RST after the report: absorbed
        late.frames.assign(1, c.frames.back());
        late.times.assign(1, c.times.back() + 0.5);
        late.feed(e);
        e.finish();
        CHECK(seen.size() == 1);
        CHECK(e.summary().flows == 1);
    }
    SUBCASE("FIN both ways: reported with the last ACK, which is counted") {
        Conversation c;
        c.handshake();
        c.data(true, istio_client_hello());
        c.data(false, tls13_server_hello());
        c.close();
        c.feed(e);
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].verdict == Verdict::IstioMtls);
        CHECK(seen[0].closed_by_fin);
        CHECK(seen[0].packets[0] + seen[0].packets[1] == c.frames.size());
        CHECK(e.active_flows() == 0);
        e.finish();
        CHECK(seen.size() == 1);
    }
}
