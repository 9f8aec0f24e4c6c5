// Per-connection TCP tracker: who is the client, what the TCP state machine showed (handshake, FIN, RST),
// per-direction counters, and the two bounded in-order streams the classifiers read.
//
// Roles, decided from the flow's first packet:
//   - SYN without ACK: its sender is the client                       (client_basis Syn)
//   - SYN+ACK: its receiver is the client (we missed the SYN)          (client_basis SynAck)
//   - anything else, the capture started mid-connection (midstream()): the server is the endpoint whose
//     port is a service port (is_service_port: < 1024 or a known service port such as 5432, 6379, 15008);
//     if both or neither are, the lower port; if the ports are equal, the first packet's destination
//                                                                      (client_basis Port)
// The port heuristic can be wrong (two high ports, or a client bound to a low port); the engine calls
// swap_roles() when content proves it (e.g. a ClientHello from the side we called the server).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "audit/decode/packet.hpp"
#include "audit/flow/tcp_stream.hpp"
#include "common/direction.hpp"

namespace meshproof::audit {

enum class ClientBasis : std::uint8_t {
    Syn,      // saw the client's SYN
    SynAck,   // first packet was the server's SYN+ACK
    Port,     // midstream, port heuristic
    Content,  // swap_roles(): the engine corrected the heuristic from payload
};
std::string_view to_string(ClientBasis basis);

// Ports where a midstream flow's endpoint is most likely the server.
bool is_service_port(std::uint16_t port);

struct DirectionStats {
    std::uint64_t packets = 0;
    std::uint64_t wire_payload_bytes = 0;  // as the IP/TCP headers announce (retransmissions included)
};

class TcpFlow {
public:
    // Decides the roles from the flow's first packet; it does not count it: pass the same packet to
    // on_packet() next, like every later one.
    TcpFlow(const DecodedPacket& first, double ts, const StreamLimits& limits = {});

    // Which way `p` travels, by its source endpoint (anything that is not the client counts as server).
    [[nodiscard]] Direction direction_of(const DecodedPacket& p) const;

    // Updates counters, TCP facts and the streams; returns the packet's direction. A packet identical to
    // the previous one in the same direction within 1 ms (the same frame captured twice, e.g. `-i any`
    // on a veth and its bridge) is only counted in duplicates().
    Direction on_packet(const DecodedPacket& p, double ts);

    // Exchanges client and server. Every per-direction fact (streams, counters, FIN/RST) moves with its
    // endpoint, so nothing recorded is lost; but whatever a classifier already built from payload under
    // the old labels is not re-labelled, so call this only before any payload went to a classifier.
    void swap_roles();

    // No more packets (close, eviction, end of capture): open holes become gaps.
    void finish();
    // The verdict is final: free both streams' buffers (counters keep counting).
    void release_streams();

    // Whether `p` opens a new connection on this 4-tuple (port reuse): a SYN without ACK on a closed flow,
    // or with a different ISN than the one we saw, or on a flow that started midstream. The engine should
    // then finish this flow and start a new one.
    [[nodiscard]] bool starts_new_connection(const DecodedPacket& p) const;

    [[nodiscard]] const TcpStream& stream(Direction d) const { return streams_[index(d)]; }
    TcpStream& stream(Direction d) { return streams_[index(d)]; }
    [[nodiscard]] const DirectionStats& stats(Direction d) const { return stats_[index(d)]; }

    [[nodiscard]] const IpAddress& client_address() const { return client_addr_; }
    [[nodiscard]] const IpAddress& server_address() const { return server_addr_; }
    [[nodiscard]] std::uint16_t client_port() const { return client_port_; }
    [[nodiscard]] std::uint16_t server_port() const { return server_port_; }
    [[nodiscard]] ClientBasis client_basis() const { return basis_; }
    // The capture did not start at the handshake (no SYN nor SYN+ACK as first packet).
    [[nodiscard]] bool midstream() const { return midstream_; }

    [[nodiscard]] bool syn_seen() const { return syn_seen_; }
    [[nodiscard]] bool synack_seen() const { return synack_seen_; }
    // SYN+ACK seen and then an ACK from the client.
    [[nodiscard]] bool handshake_complete() const { return handshake_complete_; }
    [[nodiscard]] bool fin_from(Direction d) const { return fin_[index(d)]; }
    [[nodiscard]] bool rst_from(Direction d) const { return rst_[index(d)]; }
    [[nodiscard]] bool rst_seen() const { return rst_[0] || rst_[1]; }
    // A RST (from either side) arrived before the server had sent any payload: with client payload,
    // the shape of plaintext rejected by an Istio STRICT sidecar.
    [[nodiscard]] bool rst_before_server_payload() const;
    // FIN both ways, or any RST.
    [[nodiscard]] bool closed() const { return rst_seen() || (fin_[0] && fin_[1]); }

    [[nodiscard]] std::uint64_t duplicates() const { return duplicates_; }
    [[nodiscard]] double first_seen() const { return first_seen_; }
    [[nodiscard]] double last_seen() const { return last_seen_; }

private:
    // Enough of a packet to tell "the same frame again" from a genuine retransmission or dup ACK.
    struct Fingerprint {
        double ts = 0;
        std::uint32_t seq = 0, ack = 0, wire_len = 0, payload_hash = 0;
        std::uint16_t window = 0;
        std::uint8_t flags = 0;
        bool valid = false;
    };
    static Fingerprint fingerprint_of(const DecodedPacket& p, double ts);

    std::array<TcpStream, 2> streams_;
    std::array<DirectionStats, 2> stats_{};
    std::array<Fingerprint, 2> last_{};
    // Per-direction payload bytes when the first RST arrived (rst_before_server_payload survives swaps).
    std::array<std::uint64_t, 2> bytes_at_first_rst_{};
    IpAddress client_addr_, server_addr_;
    std::uint16_t client_port_ = 0, server_port_ = 0;
    double first_seen_ = 0, last_seen_ = 0;
    std::uint64_t duplicates_ = 0;
    std::array<bool, 2> fin_{}, rst_{};
    ClientBasis basis_ = ClientBasis::Syn;
    bool midstream_ = false;
    bool syn_seen_ = false;
    bool synack_seen_ = false;
    bool handshake_complete_ = false;
};

}  // namespace meshproof::audit
