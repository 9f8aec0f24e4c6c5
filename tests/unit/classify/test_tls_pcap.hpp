// A small capture reader for tests only: classic pcap and pcapng; Ethernet (+VLAN), NULL/loopback, raw IP,
// Linux cooked v1/v2; IPv4 / IPv6 (no extension headers); TCP. It replays one TCP conversation's two
// in-order byte streams into a TlsParser in packet order, as the flow layer would, so the classify tests
// do not depend on the decode/flow components (written separately) or on libpcap.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "audit/classify/tls_parser.hpp"
#include "common/byte_reader.hpp"

namespace tlstest::pcap {

using Buf = std::vector<std::uint8_t>;

struct TcpPacket {
    Buf src, dst;  // IP addresses, 4 or 16 bytes
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t seq = 0;
    std::uint8_t flags = 0;
    Buf payload;
};

inline std::optional<Buf> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    return Buf(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Reads the byte order of a capture file: little-endian readers for files written on x86.
struct Endian {
    bool little = true;
    std::uint32_t u32(meshproof::ByteReader& r) const {
        std::uint32_t v = 0;
        if (little ? !r.u32le(v) : !r.u32(v)) return 0;
        return v;
    }
    std::uint16_t u16(meshproof::ByteReader& r) const {
        std::uint16_t v = 0;
        if (little ? !r.u16le(v) : !r.u16(v)) return 0;
        return v;
    }
};

inline std::optional<TcpPacket> decode_ip_tcp(meshproof::ByteReader r) {
    const auto first = r.peek8();
    if (!first) return std::nullopt;
    TcpPacket p;
    meshproof::ByteReader tcp;
    if ((*first >> 4) == 4) {
        std::uint8_t vihl = 0, tos = 0, ttl = 0, proto = 0;
        std::uint16_t total = 0, id = 0, frag = 0, csum = 0;
        meshproof::Bytes src, dst;
        if (!r.u8(vihl) || !r.u8(tos) || !r.u16(total) || !r.u16(id) || !r.u16(frag) || !r.u8(ttl) ||
            !r.u8(proto) || !r.u16(csum) || !r.bytes(4, src) || !r.bytes(4, dst))
            return std::nullopt;
        const std::size_t ihl = std::size_t{vihl & 0x0fu} * 4;
        if (proto != 6 || ihl < 20 || !r.skip(ihl - 20) || total < ihl) return std::nullopt;
        if (!r.child(std::min<std::size_t>(total - ihl, r.remaining()), tcp)) return std::nullopt;
        p.src.assign(src.begin(), src.end());
        p.dst.assign(dst.begin(), dst.end());
    } else if ((*first >> 4) == 6) {
        std::uint32_t vtf = 0;
        std::uint16_t plen = 0;
        std::uint8_t next = 0, hop = 0;
        meshproof::Bytes src, dst;
        if (!r.u32(vtf) || !r.u16(plen) || !r.u8(next) || !r.u8(hop) || !r.bytes(16, src) || !r.bytes(16, dst))
            return std::nullopt;
        if (next != 6 || !r.child(std::min<std::size_t>(plen, r.remaining()), tcp)) return std::nullopt;
        p.src.assign(src.begin(), src.end());
        p.dst.assign(dst.begin(), dst.end());
    } else {
        return std::nullopt;
    }
    std::uint32_t ack = 0;
    std::uint8_t offset = 0;
    if (!tcp.u16(p.sport) || !tcp.u16(p.dport) || !tcp.u32(p.seq) || !tcp.u32(ack) || !tcp.u8(offset) ||
        !tcp.u8(p.flags))
        return std::nullopt;
    const std::size_t header = std::size_t{static_cast<std::size_t>(offset >> 4)} * 4;
    if (header < 20 || !tcp.skip(header - 14)) return std::nullopt;
    const auto payload = tcp.rest();
    p.payload.assign(payload.begin(), payload.end());
    return p;
}

inline std::optional<TcpPacket> decode_frame(std::uint32_t linktype, meshproof::Bytes frame) {
    meshproof::ByteReader r(frame);
    switch (linktype) {
        case 1: {  // Ethernet, possibly VLAN-tagged
            std::uint16_t type = 0;
            if (!r.skip(12) || !r.u16(type)) return std::nullopt;
            while (type == 0x8100 || type == 0x88a8)
                if (!r.skip(2) || !r.u16(type)) return std::nullopt;
            break;
        }
        case 0: case 108: if (!r.skip(4)) return std::nullopt; break;   // NULL / LOOP
        case 113: if (!r.skip(16)) return std::nullopt; break;          // Linux cooked v1
        case 276: if (!r.skip(20)) return std::nullopt; break;          // Linux cooked v2
        case 101: case 12: case 14: case 228: case 229: break;          // raw IP
        default: return std::nullopt;
    }
    return decode_ip_tcp(r);
}

inline std::vector<TcpPacket> read_capture(const std::string& path) {
    std::vector<TcpPacket> out;
    const auto file = read_file(path);
    if (!file || file->size() < 24) return out;
    meshproof::ByteReader r{meshproof::Bytes(*file)};
    const std::uint32_t magic_be = std::uint32_t{*r.peek16(0)} << 16 | *r.peek16(2);
    if (magic_be == 0x0a0d0d0a) {  // pcapng: walk blocks, remember each interface's link type
        std::vector<std::uint32_t> linktypes;
        Endian e;
        while (r.remaining() >= 12) {
            meshproof::ByteReader probe = r;
            std::uint32_t type = 0, len = 0;
            if (!probe.u32(type)) break;
            if (type == 0x0a0d0d0a) {
                meshproof::ByteReader bom = probe;
                std::uint32_t skip = 0, magic = 0;
                bom.u32(skip);
                bom.u32(magic);
                e.little = magic == 0x4d3c2b1a;
            }
            meshproof::ByteReader block = r;
            type = e.u32(block);
            len = e.u32(block);
            meshproof::ByteReader body;
            if (len < 12 || !block.child(len - 12, body)) break;
            if (type == 1) {
                linktypes.push_back(e.u16(body));
            } else if (type == 6) {
                const std::uint32_t iface = e.u32(body);
                e.u32(body);
                e.u32(body);
                const std::uint32_t caplen = e.u32(body);
                e.u32(body);
                meshproof::Bytes data;
                if (iface < linktypes.size() && body.bytes(caplen, data))
                    if (auto p = decode_frame(linktypes[iface], data)) out.push_back(std::move(*p));
            }
            if (!r.skip(len)) break;
        }
        return out;
    }
    Endian e;
    e.little = magic_be == 0xd4c3b2a1 || magic_be == 0x4d3cb2a1;
    r.skip(24);  // global header; the link type is its last field
    meshproof::ByteReader hdr{meshproof::Bytes(*file).subspan(20, 4)};
    const std::uint32_t linktype = e.u32(hdr);
    while (r.remaining() >= 16) {
        e.u32(r);
        e.u32(r);
        const std::uint32_t caplen = e.u32(r);
        e.u32(r);
        meshproof::Bytes data;
        if (!r.bytes(caplen, data)) break;
        if (auto p = decode_frame(linktype, data)) out.push_back(std::move(*p));
    }
    return out;
}

// One direction's in-order bytes, reassembled by sequence number (retransmissions and overlaps dropped).
struct StreamAssembler {
    std::optional<std::uint32_t> next;
    std::map<std::uint32_t, Buf> out_of_order;  // keyed by offset from `next`'s origin
    Buf bytes;

    void add(std::uint32_t seq, std::uint8_t flags, const Buf& payload) {
        if (flags & 0x02) {  // SYN consumes one sequence number
            next = seq + 1;
            return;
        }
        if (payload.empty()) return;
        if (!next) next = seq;
        const auto rel = static_cast<std::int32_t>(seq - *next);
        if (rel > 0) {
            out_of_order[seq] = payload;
            return;
        }
        append_from(static_cast<std::size_t>(-rel), payload);
        while (!out_of_order.empty()) {
            const auto it = out_of_order.begin();
            const auto r2 = static_cast<std::int32_t>(it->first - *next);
            if (r2 > 0) break;
            append_from(static_cast<std::size_t>(-r2), it->second);
            out_of_order.erase(it);
        }
    }

private:
    void append_from(std::size_t already, const Buf& payload) {
        if (already >= payload.size()) return;
        bytes.insert(bytes.end(), payload.begin() + static_cast<std::ptrdiff_t>(already), payload.end());
        *next += static_cast<std::uint32_t>(payload.size() - already);
    }
};

struct ReplayResult {
    bool found = false;
    meshproof::audit::TlsFacts facts;
    bool failed_c2s = false, failed_s2c = false;
    std::optional<std::size_t> tls_start_c2s, tls_start_s2c;
};

// Replays TCP conversation number `stream` (in order of first appearance, like tshark's tcp.stream).
// With `starttls`, each direction's TLS start is located with find_tls_start before feeding.
inline ReplayResult replay(const std::string& path, std::size_t stream, bool starttls = false) {
    const auto packets = read_capture(path);
    struct Key {
        Buf a, b;
        std::uint16_t pa, pb;
        bool operator<(const Key& o) const { return std::tie(a, pa, b, pb) < std::tie(o.a, o.pa, o.b, o.pb); }
    };
    const auto key_of = [](const TcpPacket& p) {
        return std::tie(p.src, p.sport) < std::tie(p.dst, p.dport) ? Key{p.src, p.dst, p.sport, p.dport}
                                                                    : Key{p.dst, p.src, p.dport, p.sport};
    };
    std::map<Key, std::size_t> order;
    for (const auto& p : packets) order.try_emplace(key_of(p), order.size());
    ReplayResult result;
    std::optional<Key> wanted;
    for (const auto& [k, n] : order)
        if (n == stream) wanted = k;
    if (!wanted) return result;
    result.found = true;

    // The client sent the SYN; without one, the receiver of the SYN-ACK; else the first sender.
    Buf client_ip;
    std::uint16_t client_port = 0;
    for (const auto& p : packets) {
        if (key_of(p).a != wanted->a || key_of(p).b != wanted->b || key_of(p).pa != wanted->pa ||
            key_of(p).pb != wanted->pb)
            continue;
        const bool syn = p.flags & 0x02, ack = p.flags & 0x10;
        if (syn && !ack) { client_ip = p.src; client_port = p.sport; break; }
        if (syn && ack) { client_ip = p.dst; client_port = p.dport; break; }
        if (client_ip.empty()) { client_ip = p.src; client_port = p.sport; }
    }

    meshproof::audit::TlsParser parser;
    StreamAssembler c2s, s2c;
    for (const auto& p : packets) {
        const Key k = key_of(p);
        if (k.a != wanted->a || k.b != wanted->b || k.pa != wanted->pa || k.pb != wanted->pb) continue;
        const bool from_client = p.src == client_ip && p.sport == client_port;
        auto& as = from_client ? c2s : s2c;
        auto& start = from_client ? result.tls_start_c2s : result.tls_start_s2c;
        const std::size_t before = as.bytes.size();
        as.add(p.seq, p.flags, p.payload);
        if (as.bytes.size() == before) continue;
        if (!starttls) start = 0;
        if (!start) start = meshproof::audit::find_tls_start(as.bytes, from_client);
        if (!start) continue;
        parser.feed(from_client ? meshproof::Direction::ClientToServer : meshproof::Direction::ServerToClient,
                    meshproof::Bytes(as.bytes).subspan(*start));
    }
    result.facts = parser.facts();
    result.failed_c2s = parser.failed(meshproof::Direction::ClientToServer);
    result.failed_s2c = parser.failed(meshproof::Direction::ServerToClient);
    return result;
}

}  // namespace tlstest::pcap
