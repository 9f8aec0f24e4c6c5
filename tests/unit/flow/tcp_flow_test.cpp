#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/flow/tcp_flow.hpp"

using meshproof::Bytes;
using meshproof::Direction;
using meshproof::audit::ClientBasis;
using meshproof::audit::DecodedPacket;
using meshproof::audit::DecodeStatus;
using meshproof::audit::IpAddress;
using meshproof::audit::is_service_port;
using meshproof::audit::TcpFlow;
using meshproof::audit::Transport;
namespace tcp_flags = meshproof::audit::tcp_flags;

namespace {

constexpr auto C2S = Direction::ClientToServer;
constexpr auto S2C = Direction::ServerToClient;
constexpr std::uint8_t SYN = tcp_flags::Syn, ACK = tcp_flags::Ack, FIN = tcp_flags::Fin, RST = tcp_flags::Rst,
                       PSH = tcp_flags::Psh;

IpAddress v4(std::uint8_t last) {
    IpAddress ip;
    ip.bytes = {10, 0, 0, last};
    return ip;
}

struct Endpoint {
    IpAddress addr;
    std::uint16_t port;
};

// The packet keeps a view of `payload`: the caller keeps the string alive (the tests use literals).
DecodedPacket packet(Endpoint from, Endpoint to, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                     std::string_view payload = {}) {
    DecodedPacket p;
    p.status = DecodeStatus::Ok;
    p.transport = Transport::Tcp;
    p.src = from.addr;
    p.src_port = from.port;
    p.dst = to.addr;
    p.dst_port = to.port;
    p.tcp_flags = flags;
    p.seq = seq;
    p.ack = ack;
    p.window = 64240;
    p.payload = Bytes(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
    p.wire_payload_len = static_cast<std::uint32_t>(payload.size());
    return p;
}

std::string text(Bytes b) { return {b.begin(), b.end()}; }

const Endpoint kClient{v4(1), 49152};
const Endpoint kServer{v4(2), 5432};

// Creates the flow from its first packet and processes it, as the engine does.
TcpFlow start(const DecodedPacket& first, double ts) {
    TcpFlow f(first, ts);
    f.on_packet(first, ts);
    return f;
}

}  // namespace

TEST_CASE("TcpFlow: roles") {
    SUBCASE("SYN: its sender is the client") {
        const TcpFlow f = start(packet(kClient, kServer, SYN, 100, 0), 1.0);
        CHECK(f.client_address() == kClient.addr);
        CHECK(f.client_port() == 49152);
        CHECK(f.server_port() == 5432);
        CHECK(f.client_basis() == ClientBasis::Syn);
        CHECK(to_string(f.client_basis()) == "syn");
        CHECK_FALSE(f.midstream());
        CHECK(f.syn_seen());
        CHECK(f.stats(C2S).packets == 1);
        CHECK(f.stats(S2C).packets == 0);
    }
    SUBCASE("a SYN from a high port to a low one still decides by the SYN") {
        const TcpFlow f = start(packet({v4(2), 80}, {v4(1), 50000}, SYN, 1, 0), 1.0);
        CHECK(f.client_port() == 80);
        CHECK(f.client_basis() == ClientBasis::Syn);
    }
    SUBCASE("SYN+ACK first: its receiver is the client") {
        TcpFlow f = start(packet(kServer, kClient, SYN | ACK, 7000, 101), 1.0);
        CHECK(f.client_address() == kClient.addr);
        CHECK(f.client_port() == 49152);
        CHECK(f.client_basis() == ClientBasis::SynAck);
        CHECK(to_string(f.client_basis()) == "synack");
        CHECK_FALSE(f.midstream());
        CHECK(f.synack_seen());
        CHECK_FALSE(f.syn_seen());
        // The SYN+ACK acknowledges the client's ISN + 1, so the client's stream starts at 101.
        REQUIRE(f.stream(C2S).isn().has_value());
        CHECK(*f.stream(C2S).isn() == 100U);
        f.on_packet(packet(kClient, kServer, ACK, 101, 7001), 1.1);
        CHECK(f.handshake_complete());
        f.on_packet(packet(kClient, kServer, ACK | PSH, 101, 7001, "hello"), 1.2);
        CHECK(text(f.stream(C2S).data()) == "hello");
    }
    SUBCASE("midstream: the service port (5432) is the server, whichever way the first packet goes") {
        const TcpFlow to_server = start(packet(kClient, kServer, ACK | PSH, 5, 9, "Q"), 1.0);
        CHECK(to_server.midstream());
        CHECK(to_server.client_basis() == ClientBasis::Port);
        CHECK(to_string(to_server.client_basis()) == "port");
        CHECK(to_server.server_port() == 5432);
        CHECK(to_server.client_port() == 49152);

        const TcpFlow to_client = start(packet(kServer, kClient, ACK | PSH, 9, 5, "R"), 1.0);
        CHECK(to_client.server_port() == 5432);
        CHECK(to_client.server_address() == kServer.addr);
        CHECK(to_client.stats(S2C).packets == 1);
        CHECK(text(to_client.stream(S2C).data()) == "R");
    }
    SUBCASE("midstream, both high ports: the lower port is the server") {
        const TcpFlow f = start(packet({v4(1), 40000}, {v4(2), 50000}, ACK, 1, 1), 1.0);
        CHECK(f.midstream());
        CHECK(f.server_port() == 40000);
        CHECK(f.client_port() == 50000);
    }
    SUBCASE("midstream, service port above a privileged one: both are service ports, lower wins") {
        const TcpFlow f = start(packet({v4(1), 80}, {v4(2), 8080}, ACK, 1, 1), 1.0);
        CHECK(f.server_port() == 80);
    }
    SUBCASE("midstream, a listed service port beats a lower ephemeral one") {
        const TcpFlow f = start(packet({v4(1), 15008}, {v4(2), 33000}, ACK, 1, 1), 1.0);
        CHECK(f.server_port() == 15008);
        const TcpFlow g = start(packet({v4(1), 20000}, {v4(2), 27017}, ACK, 1, 1), 1.0);
        CHECK(g.server_port() == 27017);
    }
    SUBCASE("midstream, equal ports: the first packet's destination is the server") {
        const TcpFlow f = start(packet({v4(1), 7000}, {v4(2), 7000}, ACK, 1, 1), 1.0);
        CHECK(f.server_address() == v4(2));
    }
    SUBCASE("service ports") {
        CHECK(is_service_port(22));
        CHECK(is_service_port(1023));
        CHECK(is_service_port(6379));
        CHECK(is_service_port(15012));
        CHECK_FALSE(is_service_port(1024));
        CHECK_FALSE(is_service_port(49152));
        CHECK_FALSE(is_service_port(65535));
    }
}

TEST_CASE("TcpFlow: swap_roles moves every per-direction fact with its endpoint") {
    // Both high ports: the heuristic calls 40000 the server, but the content says otherwise.
    const Endpoint low{v4(1), 40000};
    const Endpoint high{v4(2), 50000};
    TcpFlow f = start(packet(low, high, ACK | PSH, 1000, 2000, "\x16\x03\x01"), 1.0);
    REQUIRE(f.server_port() == 40000);
    REQUIRE(text(f.stream(S2C).data()) == "\x16\x03\x01");
    f.swap_roles();
    CHECK(f.client_port() == 40000);
    CHECK(f.server_port() == 50000);
    CHECK(f.client_basis() == ClientBasis::Content);
    CHECK(to_string(f.client_basis()) == "content");
    CHECK(text(f.stream(C2S).data()) == "\x16\x03\x01");
    CHECK(f.stream(S2C).data().empty());
    CHECK(f.stats(C2S).packets == 1);
    CHECK(f.stats(C2S).wire_payload_bytes == 3);
    CHECK(f.stats(S2C).packets == 0);
    CHECK(f.direction_of(packet(low, high, ACK, 1003, 2000)) == C2S);
    // Later packets land in the right stream.
    CHECK(f.on_packet(packet(high, low, ACK | PSH, 2000, 1003, "\x16\x03\x03"), 1.1) == S2C);
    CHECK(text(f.stream(S2C).data()) == "\x16\x03\x03");
    CHECK(f.on_packet(packet(low, high, ACK | PSH, 1003, 2003, "AB"), 1.2) == C2S);
    CHECK(text(f.stream(C2S).data()) == "\x16\x03\x01" "AB");
}

TEST_CASE("TcpFlow: a full connection") {
    TcpFlow f = start(packet(kClient, kServer, SYN, 100, 0), 1.0);
    CHECK(f.on_packet(packet(kServer, kClient, SYN | ACK, 500, 101), 1.001) == S2C);
    CHECK(f.on_packet(packet(kClient, kServer, ACK, 101, 501), 1.002) == C2S);
    CHECK(f.syn_seen());
    CHECK(f.synack_seen());
    CHECK(f.handshake_complete());
    f.on_packet(packet(kClient, kServer, ACK | PSH, 101, 501, "ping"), 1.01);
    f.on_packet(packet(kServer, kClient, ACK | PSH, 501, 105, "pong!"), 1.02);
    CHECK(text(f.stream(C2S).data()) == "ping");
    CHECK(text(f.stream(S2C).data()) == "pong!");
    CHECK(f.stats(C2S).packets == 3);
    CHECK(f.stats(C2S).wire_payload_bytes == 4);
    CHECK(f.stats(S2C).packets == 2);
    CHECK(f.stats(S2C).wire_payload_bytes == 5);
    CHECK_FALSE(f.closed());
    f.on_packet(packet(kClient, kServer, FIN | ACK, 105, 506), 1.03);
    CHECK(f.fin_from(C2S));
    CHECK_FALSE(f.fin_from(S2C));
    CHECK_FALSE(f.closed());
    f.on_packet(packet(kServer, kClient, FIN | ACK, 506, 106), 1.04);
    CHECK(f.fin_from(S2C));
    CHECK(f.closed());
    CHECK_FALSE(f.rst_seen());
    CHECK(f.first_seen() == doctest::Approx(1.0));
    CHECK(f.last_seen() == doctest::Approx(1.04));
    CHECK(f.duplicates() == 0);

    SUBCASE("a new SYN on the closed 4-tuple is a new connection") {
        CHECK(f.starts_new_connection(packet(kClient, kServer, SYN, 9000, 0)));
        CHECK_FALSE(f.starts_new_connection(packet(kClient, kServer, ACK, 9000, 0)));
    }
    SUBCASE("release frees both streams, counting goes on") {
        f.release_streams();
        CHECK(f.stream(C2S).released());
        CHECK(f.stream(S2C).memory_bytes() == 0);
        f.on_packet(packet(kServer, kClient, ACK | PSH, 507, 106, "late"), 1.05);
        CHECK(f.stats(S2C).wire_payload_bytes == 9);
        CHECK(f.stream(S2C).wire_bytes() == 9);
    }
}

TEST_CASE("TcpFlow: SYN with data and port reuse") {
    TcpFlow f = start(packet(kClient, kServer, SYN, 100, 0, "early"), 1.0);  // TCP Fast Open
    CHECK(text(f.stream(C2S).data()) == "early");
    CHECK_FALSE(f.starts_new_connection(packet(kClient, kServer, SYN, 100, 0)));   // retransmitted SYN
    CHECK(f.starts_new_connection(packet(kClient, kServer, SYN, 777, 0)));         // new ISN
    const TcpFlow mid = start(packet(kClient, kServer, ACK | PSH, 5, 9, "Q"), 1.0);
    CHECK(mid.starts_new_connection(packet(kClient, kServer, SYN, 1, 0)));
}

TEST_CASE("TcpFlow: resets") {
    TcpFlow f = start(packet(kClient, kServer, SYN, 100, 0), 1.0);
    f.on_packet(packet(kServer, kClient, SYN | ACK, 500, 101), 1.001);
    f.on_packet(packet(kClient, kServer, ACK, 101, 501), 1.002);
    f.on_packet(packet(kClient, kServer, ACK | PSH, 101, 501, "GET / HTTP/1.1\r\n\r\n"), 1.003);

    SUBCASE("server resets before sending anything: plaintext rejected shape") {
        f.on_packet(packet(kServer, kClient, RST | ACK, 501, 119), 1.004);
        CHECK(f.rst_from(S2C));
        CHECK_FALSE(f.rst_from(C2S));
        CHECK(f.rst_seen());
        CHECK(f.rst_before_server_payload());
        CHECK(f.closed());
    }
    SUBCASE("server answered, then reset") {
        f.on_packet(packet(kServer, kClient, ACK | PSH, 501, 119, "HTTP/1.1 200 OK\r\n"), 1.004);
        f.on_packet(packet(kServer, kClient, RST | ACK, 518, 119), 1.005);
        CHECK(f.rst_seen());
        CHECK_FALSE(f.rst_before_server_payload());
    }
    SUBCASE("client resets; server data after it does not change the answer") {
        f.on_packet(packet(kClient, kServer, RST, 119, 0), 1.004);
        f.on_packet(packet(kServer, kClient, ACK | PSH, 501, 119, "late"), 1.005);
        CHECK(f.rst_from(C2S));
        CHECK(f.rst_before_server_payload());
    }
    SUBCASE("payload on a RST is not stream data") {
        f.on_packet(packet(kServer, kClient, RST | ACK, 501, 119, "diagnostic"), 1.004);
        CHECK(f.stream(S2C).data().empty());
        CHECK(f.stats(S2C).wire_payload_bytes == 10);
        CHECK(f.rst_before_server_payload());
    }
}

TEST_CASE("TcpFlow: duplicate frames are ignored") {
    TcpFlow f = start(packet(kClient, kServer, SYN, 100, 0), 1.0);
    f.on_packet(packet(kServer, kClient, SYN | ACK, 500, 101), 1.001);
    f.on_packet(packet(kClient, kServer, ACK, 101, 501), 1.002);
    const DecodedPacket data = packet(kClient, kServer, ACK | PSH, 101, 501, "secret=1");

    SUBCASE("the same frame twice within 1 ms (veth + bridge)") {
        f.on_packet(data, 1.010);
        CHECK(f.on_packet(data, 1.0102) == C2S);
        CHECK(f.duplicates() == 1);
        CHECK(f.stats(C2S).packets == 3);
        CHECK(f.stats(C2S).wire_payload_bytes == 8);
        CHECK(f.stream(C2S).wire_bytes() == 8);
        CHECK(f.stream(C2S).retransmitted_bytes() == 0);
        CHECK(text(f.stream(C2S).data()) == "secret=1");
        // A third copy, still within 1 ms of the first: a duplicate too.
        f.on_packet(data, 1.0105);
        CHECK(f.duplicates() == 2);
    }
    SUBCASE("a packet in the other direction in between does not hide the duplicate") {
        f.on_packet(data, 1.010);
        f.on_packet(packet(kServer, kClient, ACK, 501, 109), 1.0101);
        f.on_packet(data, 1.0102);
        CHECK(f.duplicates() == 1);
        CHECK(f.stats(C2S).packets == 3);
    }
    SUBCASE("the same bytes 200 ms later are a retransmission") {
        f.on_packet(data, 1.010);
        f.on_packet(data, 1.210);
        CHECK(f.duplicates() == 0);
        CHECK(f.stats(C2S).packets == 4);
        CHECK(f.stats(C2S).wire_payload_bytes == 16);
        CHECK(f.stream(C2S).retransmitted_bytes() == 8);
        CHECK(text(f.stream(C2S).data()) == "secret=1");
    }
    SUBCASE("same header, different payload within 1 ms is not a duplicate") {
        f.on_packet(data, 1.010);
        f.on_packet(packet(kClient, kServer, ACK | PSH, 101, 501, "secret=2"), 1.0101);
        CHECK(f.duplicates() == 0);
        CHECK(f.stream(C2S).inconsistent_retransmissions() == 1);
    }
    SUBCASE("a different window makes a genuine dup ACK") {
        DecodedPacket ack1 = packet(kServer, kClient, ACK, 501, 101);
        DecodedPacket ack2 = ack1;
        ack2.window = 1000;
        f.on_packet(ack1, 1.010);
        f.on_packet(ack2, 1.0101);
        CHECK(f.duplicates() == 0);
        CHECK(f.stats(S2C).packets == 3);
    }
}

TEST_CASE("TcpFlow: the peer's ACK turns a hole into a gap") {
    TcpFlow f = start(packet(kClient, kServer, SYN, 100, 0), 1.0);
    f.on_packet(packet(kServer, kClient, SYN | ACK, 500, 101), 1.001);
    f.on_packet(packet(kClient, kServer, ACK | PSH, 101, 501, "0123456789"), 1.01);
    // Segment [10, 20) was not captured; [20, 25) was.
    f.on_packet(packet(kClient, kServer, ACK | PSH, 121, 501, "abcde"), 1.02);
    CHECK_FALSE(f.stream(C2S).has_gap());
    CHECK(f.stream(C2S).out_of_order_segments() == 1);
    f.on_packet(packet(kServer, kClient, ACK, 501, 126), 1.03);
    CHECK(f.stream(C2S).has_gap());
    REQUIRE(f.stream(C2S).gap_offset().has_value());
    CHECK(*f.stream(C2S).gap_offset() == 10);
    CHECK(text(f.stream(C2S).data()) == "0123456789");
    CHECK_FALSE(f.stream(S2C).has_gap());
}

TEST_CASE("TcpFlow: finish() turns open holes into gaps") {
    TcpFlow f = start(packet(kClient, kServer, ACK | PSH, 1000, 1, "abc"), 1.0);
    f.on_packet(packet(kClient, kServer, ACK | PSH, 1010, 1, "xyz"), 1.1);
    CHECK_FALSE(f.stream(C2S).has_gap());
    f.finish();
    CHECK(f.stream(C2S).has_gap());
    CHECK_FALSE(f.stream(S2C).has_gap());
}
