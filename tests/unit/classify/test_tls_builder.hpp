// Builders for TLS test bytes: records, handshake messages, ClientHello / ServerHello with chosen
// extensions in a chosen order, Certificate messages, SSLv2 hellos. Lengths are computed, so a test
// states only what it varies; helpers to corrupt lengths live next to the tests that need them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "audit/classify/tls_parser.hpp"

namespace tlstest {

using Buf = std::vector<std::uint8_t>;

inline void put8(Buf& b, std::uint32_t v) { b.push_back(static_cast<std::uint8_t>(v)); }
inline void put16(Buf& b, std::uint32_t v) {
    put8(b, v >> 8);
    put8(b, v);
}
inline void put24(Buf& b, std::uint32_t v) {
    put8(b, v >> 16);
    put16(b, v);
}
inline void put(Buf& b, const Buf& more) { b.insert(b.end(), more.begin(), more.end()); }
inline void put(Buf& b, std::string_view s) { b.insert(b.end(), s.begin(), s.end()); }

inline Buf cat(std::initializer_list<Buf> parts) {
    Buf out;
    for (const auto& p : parts) put(out, p);
    return out;
}
inline Buf prefixed8(const Buf& body) {
    Buf b;
    put8(b, static_cast<std::uint32_t>(body.size()));
    put(b, body);
    return b;
}
inline Buf prefixed16(const Buf& body) {
    Buf b;
    put16(b, static_cast<std::uint32_t>(body.size()));
    put(b, body);
    return b;
}
inline Buf prefixed24(const Buf& body) {
    Buf b;
    put24(b, static_cast<std::uint32_t>(body.size()));
    put(b, body);
    return b;
}
inline Buf u16_list(const std::vector<std::uint16_t>& values) {
    Buf b;
    for (const auto v : values) put16(b, v);
    return b;
}
inline Buf str(std::string_view s) { return Buf(s.begin(), s.end()); }
inline Buf filled(std::size_t n, std::uint8_t value) { return Buf(n, value); }

inline Buf record(std::uint8_t type, std::uint16_t version, const Buf& body) {
    Buf b;
    put8(b, type);
    put16(b, version);
    put16(b, static_cast<std::uint32_t>(body.size()));
    put(b, body);
    return b;
}
inline Buf handshake(std::uint8_t type, const Buf& body) {
    Buf b;
    put8(b, type);
    put24(b, static_cast<std::uint32_t>(body.size()));
    put(b, body);
    return b;
}
inline Buf handshake_record(const Buf& messages, std::uint16_t version = 0x0303) {
    return record(22, version, messages);
}
// Splits `payload` into `parts` records of one content type, cut at roughly equal points.
inline Buf split_records(std::uint8_t type, const Buf& payload, std::size_t parts, std::uint16_t version = 0x0303) {
    Buf out;
    const std::size_t step = (payload.size() + parts - 1) / parts;
    for (std::size_t at = 0; at < payload.size(); at += step) {
        const std::size_t end = std::min(payload.size(), at + step);
        put(out, record(type, version, Buf(payload.begin() + static_cast<std::ptrdiff_t>(at),
                                           payload.begin() + static_cast<std::ptrdiff_t>(end))));
    }
    return out;
}

struct Ext {
    std::uint16_t type;
    Buf data;
};
inline Ext sni_ext(std::string_view host) {
    Buf entry;
    put8(entry, 0);
    put(entry, prefixed16(str(host)));
    return {0x0000, prefixed16(entry)};
}
inline Ext alpn_ext(const std::vector<std::string>& protocols) {
    Buf list;
    for (const auto& p : protocols) put(list, prefixed8(str(p)));
    return {0x0010, prefixed16(list)};
}
inline Ext versions_ext(const std::vector<std::uint16_t>& versions) {
    return {0x002b, prefixed8(u16_list(versions))};
}
inline Ext groups_ext(const std::vector<std::uint16_t>& groups) { return {0x000a, prefixed16(u16_list(groups))}; }
inline Ext sigalgs_ext(const std::vector<std::uint16_t>& algs) { return {0x000d, prefixed16(u16_list(algs))}; }
inline Ext point_formats_ext(const Buf& formats) { return {0x000b, prefixed8(formats)}; }
inline Ext key_share_ext(const std::vector<std::uint16_t>& groups) {
    Buf list;
    for (const auto g : groups) {
        put16(list, g);
        put(list, prefixed16(filled(32, 0x42)));
    }
    return {0x0033, prefixed16(list)};
}
inline Ext raw_ext(std::uint16_t type, Buf data = {}) { return {type, std::move(data)}; }

struct ClientHelloSpec {
    std::uint16_t legacy_version = 0x0303;
    Buf session_id;
    std::vector<std::uint16_t> ciphers = {0x1301, 0x1302, 0xc02b};
    Buf compression = {0};
    std::vector<Ext> extensions;  // in wire order
    bool omit_extensions_block = false;
};

inline Buf extensions_block(const std::vector<Ext>& exts) {
    Buf list;
    for (const auto& e : exts) {
        put16(list, e.type);
        put(list, prefixed16(e.data));
    }
    return prefixed16(list);
}

inline Buf client_hello_body(const ClientHelloSpec& s) {
    Buf b;
    put16(b, s.legacy_version);
    put(b, filled(32, 0xAA));
    put(b, prefixed8(s.session_id));
    put(b, prefixed16(u16_list(s.ciphers)));
    put(b, prefixed8(s.compression));
    if (!s.omit_extensions_block) put(b, extensions_block(s.extensions));
    return b;
}
inline Buf client_hello_record(const ClientHelloSpec& s, std::uint16_t record_version = 0x0301) {
    return handshake_record(handshake(1, client_hello_body(s)), record_version);
}

// A typical modern client: TLS 1.3 + 1.2, SNI, the given ALPN list.
inline ClientHelloSpec modern_client(std::string_view sni, const std::vector<std::string>& alpn) {
    ClientHelloSpec s;
    s.session_id = filled(32, 0x5e);
    s.ciphers = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f};
    if (!sni.empty()) s.extensions.push_back(sni_ext(sni));
    s.extensions.push_back(groups_ext({0x001d, 0x0017}));
    s.extensions.push_back(point_formats_ext({0}));
    s.extensions.push_back(sigalgs_ext({0x0403, 0x0804, 0x0401}));
    if (!alpn.empty()) s.extensions.push_back(alpn_ext(alpn));
    s.extensions.push_back(versions_ext({0x0304, 0x0303}));
    s.extensions.push_back(key_share_ext({0x001d}));
    return s;
}

inline constexpr std::uint8_t kHrrRandom[32] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

struct ServerHelloSpec {
    std::uint16_t legacy_version = 0x0303;
    Buf random = filled(32, 0x11);
    Buf session_id;
    std::uint16_t cipher = 0x1301;
    std::vector<Ext> extensions;
};
inline Buf server_hello_body(const ServerHelloSpec& s) {
    Buf b;
    put16(b, s.legacy_version);
    put(b, s.random);
    put(b, prefixed8(s.session_id));
    put16(b, s.cipher);
    put8(b, 0);
    if (!s.extensions.empty()) put(b, extensions_block(s.extensions));
    return b;
}
inline Ext selected_version_ext(std::uint16_t v) {
    Buf d;
    put16(d, v);
    return {0x002b, d};
}
inline ServerHelloSpec tls13_server_hello() {
    ServerHelloSpec s;
    s.session_id = filled(32, 0x5e);  // compatibility-mode echo
    s.extensions = {selected_version_ext(0x0304), raw_ext(0x0033, cat({Buf{0x00, 0x1d}, prefixed16(filled(32, 1))}))};
    return s;
}
inline ServerHelloSpec tls12_server_hello(std::uint16_t cipher = 0xc02f) {
    ServerHelloSpec s;
    s.cipher = cipher;
    s.session_id = filled(32, 0x77);
    return s;
}

// A fake DER blob of `size` bytes (the parser does not look inside certificates).
inline Buf fake_der(std::size_t size, std::uint8_t seed) {
    Buf b(size);
    for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 31);
    b[0] = 0x30;
    return b;
}
inline Buf certificate_body(const std::vector<Buf>& ders) {
    Buf list;
    for (const auto& d : ders) put(list, prefixed24(d));
    return prefixed24(list);
}

inline Buf ccs_record(std::uint16_t version = 0x0303) { return record(20, version, {1}); }
inline Buf app_data_record(std::size_t size, std::uint16_t version = 0x0303) {
    return record(23, version, filled(size, 0xE7));
}

// Both directions of a flow, each growing by appends and fed whole, as the flow layer does.
struct FlowFeeder {
    meshproof::audit::TlsParser parser;
    Buf c2s, s2c;

    explicit FlowFeeder(meshproof::audit::TlsLimits limits = {}) : parser(limits) {}
    meshproof::ParseOutcome client(const Buf& more) {
        put(c2s, more);
        return parser.feed(meshproof::Direction::ClientToServer, c2s);
    }
    meshproof::ParseOutcome server(const Buf& more) {
        put(s2c, more);
        return parser.feed(meshproof::Direction::ServerToClient, s2c);
    }
};

}  // namespace tlstest
