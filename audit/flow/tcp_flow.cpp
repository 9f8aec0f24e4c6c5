#include "audit/flow/tcp_flow.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace meshproof::audit {

namespace {

// Non-privileged ports that are almost always the server side in a cluster (databases, brokers, the
// Kubernetes and Istio control and data plane, dashboards). Sorted for binary search.
constexpr std::array<std::uint16_t, 38> kServicePorts = {
    1883,  2379,  2380,  3000,  3306,  4222,  5000,  5432,  5601,  5672,  6379,  6443,  8000,
    8080,  8081,  8443,  8888,  9000,  9090,  9092,  9093,  9100,  9200,  9300,  10250, 11211,
    15000, 15001, 15006, 15008, 15010, 15012, 15014, 15020, 15021, 15090, 20001, 27017,
};
static_assert(std::is_sorted(kServicePorts.begin(), kServicePorts.end()));

constexpr double kDuplicateWindow = 0.001;  // seconds: the same frame seen on two interfaces
constexpr std::size_t kFingerprintBytes = 16;

bool has(std::uint8_t flags, std::uint8_t flag) { return (flags & flag) != 0; }

std::uint32_t fnv1a(Bytes b) {
    std::uint32_t h = 2166136261U;
    for (const std::uint8_t c : b) h = (h ^ c) * 16777619U;
    return h;
}

}  // namespace

std::string_view to_string(ClientBasis basis) {
    switch (basis) {
        case ClientBasis::Syn: return "syn";
        case ClientBasis::SynAck: return "synack";
        case ClientBasis::Port: return "port";
        case ClientBasis::Content: return "content";
    }
    return "unknown";
}

bool is_service_port(std::uint16_t port) {
    return port < 1024 || std::binary_search(kServicePorts.begin(), kServicePorts.end(), port);
}

TcpFlow::TcpFlow(const DecodedPacket& first, double ts, const StreamLimits& limits)
    : streams_{TcpStream(limits), TcpStream(limits)}, first_seen_(ts), last_seen_(ts) {
    const bool syn = has(first.tcp_flags, tcp_flags::Syn);
    const bool ack = has(first.tcp_flags, tcp_flags::Ack);
    bool src_is_client = true;
    if (syn && !ack) {
        basis_ = ClientBasis::Syn;
    } else if (syn && ack) {
        basis_ = ClientBasis::SynAck;
        src_is_client = false;
    } else {
        midstream_ = true;
        basis_ = ClientBasis::Port;
        const bool src_service = is_service_port(first.src_port);
        const bool dst_service = is_service_port(first.dst_port);
        if (src_service != dst_service) {
            src_is_client = dst_service;
        } else if (first.src_port != first.dst_port) {
            src_is_client = first.src_port > first.dst_port;
        }  // equal ports: the first packet's destination is the server
    }
    client_addr_ = src_is_client ? first.src : first.dst;
    client_port_ = src_is_client ? first.src_port : first.dst_port;
    server_addr_ = src_is_client ? first.dst : first.src;
    server_port_ = src_is_client ? first.dst_port : first.src_port;
}

Direction TcpFlow::direction_of(const DecodedPacket& p) const {
    return (p.src_port == client_port_ && p.src == client_addr_) ? Direction::ClientToServer
                                                                : Direction::ServerToClient;
}

TcpFlow::Fingerprint TcpFlow::fingerprint_of(const DecodedPacket& p, double ts) {
    Fingerprint f;
    f.ts = ts;
    f.seq = p.seq;
    f.ack = p.ack;
    f.wire_len = p.wire_payload_len;
    f.payload_hash = fnv1a(p.payload.first(std::min(p.payload.size(), kFingerprintBytes)));
    f.window = p.window;
    f.flags = p.tcp_flags;
    f.valid = true;
    return f;
}

Direction TcpFlow::on_packet(const DecodedPacket& p, double ts) {
    const Direction dir = direction_of(p);
    const std::size_t d = index(dir);
    const std::size_t other = index(reverse(dir));

    const Fingerprint fp = fingerprint_of(p, ts);
    const Fingerprint& last = last_[d];
    if (last.valid && std::fabs(ts - last.ts) <= kDuplicateWindow && fp.seq == last.seq && fp.ack == last.ack &&
        fp.wire_len == last.wire_len && fp.payload_hash == last.payload_hash && fp.window == last.window &&
        fp.flags == last.flags) {
        ++duplicates_;
        return dir;  // keep the first copy's timestamp: a third copy is still a duplicate of it
    }
    last_[d] = fp;

    first_seen_ = std::min(first_seen_, ts);
    last_seen_ = std::max(last_seen_, ts);
    const std::uint8_t flags = p.tcp_flags;
    const bool syn = has(flags, tcp_flags::Syn);
    const bool ack = has(flags, tcp_flags::Ack);
    const bool rst = has(flags, tcp_flags::Rst);

    if (rst && !rst_seen()) bytes_at_first_rst_ = {stats_[0].wire_payload_bytes, stats_[1].wire_payload_bytes};
    ++stats_[d].packets;
    stats_[d].wire_payload_bytes += p.wire_payload_len;

    if (syn && !ack) {
        syn_seen_ = true;
        streams_[d].on_syn(p.seq);
    } else if (syn && ack) {
        synack_seen_ = true;
        streams_[d].on_syn(p.seq);
        streams_[other].on_syn(p.ack - 1);  // the SYN+ACK acknowledges the client's ISN + 1
    } else if (ack && synack_seen_ && dir == Direction::ClientToServer) {
        handshake_complete_ = true;
    }
    if (has(flags, tcp_flags::Fin)) fin_[d] = true;
    if (rst) rst_[d] = true;

    // A RST's payload is diagnostic text, not stream data (RFC 1122 4.2.2.12).
    if (!rst && p.wire_payload_len > 0) {
        const std::uint32_t data_seq = syn ? p.seq + 1 : p.seq;  // data on a SYN follows the SYN's number
        streams_[d].on_segment(data_seq, p.payload, p.wire_payload_len);
    }
    if (ack) streams_[other].on_peer_ack(p.ack);
    return dir;
}

void TcpFlow::swap_roles() {
    std::swap(client_addr_, server_addr_);
    std::swap(client_port_, server_port_);
    std::swap(streams_[0], streams_[1]);
    std::swap(stats_[0], stats_[1]);
    std::swap(last_[0], last_[1]);
    std::swap(bytes_at_first_rst_[0], bytes_at_first_rst_[1]);
    std::swap(fin_[0], fin_[1]);
    std::swap(rst_[0], rst_[1]);
    basis_ = ClientBasis::Content;
}

void TcpFlow::finish() {
    for (TcpStream& s : streams_) s.finish();
}

void TcpFlow::release_streams() {
    for (TcpStream& s : streams_) s.release();
}

bool TcpFlow::rst_before_server_payload() const {
    return rst_seen() && bytes_at_first_rst_[index(Direction::ServerToClient)] == 0;
}

bool TcpFlow::starts_new_connection(const DecodedPacket& p) const {
    if (!has(p.tcp_flags, tcp_flags::Syn) || has(p.tcp_flags, tcp_flags::Ack)) return false;
    if (closed()) return true;
    const TcpStream& sender = streams_[index(direction_of(p))];
    if (const auto isn = sender.isn()) return *isn != p.seq;
    return sender.started();  // it sent data before this SYN: we had joined an older connection
}

}  // namespace meshproof::audit
