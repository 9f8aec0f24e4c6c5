// Builders for plaintext-protocol test bytes (RESP, PostgreSQL, MySQL, MQTT, DNS, HTTP/2 frames,
// HPACK fields) and the checks every plaintext test shares: no secret value may appear in
// first_line, evidence or http_path.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/classify/hpack.hpp"
#include "audit/classify/plaintext.hpp"

namespace plaintexttest {

using Buf = std::vector<std::uint8_t>;
using meshproof::Bytes;
using meshproof::Direction;
using meshproof::ParseOutcome;
using meshproof::audit::PlaintextFacts;
using meshproof::audit::Secret;

inline Buf str(std::string_view s) { return Buf(s.begin(), s.end()); }
inline void put8(Buf& b, std::uint32_t v) { b.push_back(static_cast<std::uint8_t>(v)); }
inline void put16(Buf& b, std::uint32_t v) {
    put8(b, v >> 8);
    put8(b, v);
}
inline void put24(Buf& b, std::uint32_t v) {
    put8(b, v >> 16);
    put16(b, v);
}
inline void put32(Buf& b, std::uint32_t v) {
    put16(b, v >> 16);
    put16(b, v);
}
inline void put16le(Buf& b, std::uint32_t v) {
    put8(b, v);
    put8(b, v >> 8);
}
inline void put24le(Buf& b, std::uint32_t v) {
    put16le(b, v);
    put8(b, v >> 16);
}
inline void put32le(Buf& b, std::uint32_t v) {
    put16le(b, v);
    put16le(b, v >> 16);
}
inline void put(Buf& b, const Buf& more) { b.insert(b.end(), more.begin(), more.end()); }
inline void put(Buf& b, std::string_view s) { b.insert(b.end(), s.begin(), s.end()); }
inline void putz(Buf& b, std::string_view s) {
    put(b, s);
    b.push_back(0);
}
inline Buf cat(std::initializer_list<Buf> parts) {
    Buf out;
    for (const Buf& p : parts) put(out, p);
    return out;
}
template <std::size_t N>
Buf from_array(const std::uint8_t (&a)[N]) {
    return Buf(a, a + N);
}

// ---- protocol builders ----

inline Buf resp_command(std::initializer_list<std::string_view> args) {
    std::string s = "*" + std::to_string(args.size()) + "\r\n";
    for (std::string_view a : args) s += "$" + std::to_string(a.size()) + "\r\n" + std::string(a) + "\r\n";
    return str(s);
}

inline Buf pg_startup(std::initializer_list<std::pair<std::string_view, std::string_view>> params,
                      std::uint32_t version = 0x00030000) {
    Buf body;
    put32(body, version);
    for (const auto& [k, v] : params) {
        putz(body, k);
        putz(body, v);
    }
    body.push_back(0);
    Buf b;
    put32(b, static_cast<std::uint32_t>(body.size() + 4));
    put(b, body);
    return b;
}
inline Buf pg_ssl_request() {
    Buf b;
    put32(b, 8);
    put32(b, 80877103);
    return b;
}
inline Buf pg_message(char type, const Buf& payload) {
    Buf b;
    put8(b, static_cast<std::uint8_t>(type));
    put32(b, static_cast<std::uint32_t>(payload.size() + 4));
    put(b, payload);
    return b;
}
inline Buf pg_auth_request(std::uint32_t code, const Buf& extra = {}) {
    Buf p;
    put32(p, code);
    put(p, extra);
    return pg_message('R', p);
}
inline Buf pg_password(std::string_view password) {
    Buf p;
    putz(p, password);
    return pg_message('p', p);
}

inline Buf mysql_packet(std::uint8_t seq, const Buf& payload) {
    Buf b;
    put24le(b, static_cast<std::uint32_t>(payload.size()));
    put8(b, seq);
    put(b, payload);
    return b;
}
inline Buf mysql_greeting(std::string_view version, std::uint32_t caps = 0x000fa2ffu,
                          std::string_view plugin = "mysql_native_password") {
    Buf p;
    put8(p, 10);
    putz(p, version);
    put32le(p, 42);                    // thread id
    put(p, str("abcdefgh"));           // auth-plugin-data part 1
    put8(p, 0);                        // filler
    put16le(p, caps & 0xffff);
    put8(p, 33);                       // character set
    put16le(p, 2);                     // status
    put16le(p, caps >> 16);
    put8(p, 21);                       // auth-plugin-data length
    put(p, Buf(10, 0));                // reserved
    putz(p, "ijklmnopqrst");           // part 2 (12 bytes + NUL = 13)
    putz(p, plugin);
    return mysql_packet(0, p);
}
constexpr std::uint32_t kMyCaps = 0x0000a685u | 0x00080000u;  // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, ...
inline Buf mysql_handshake_response(std::string_view user, const Buf& auth, std::uint32_t caps = kMyCaps,
                                    std::string_view db = {}, std::string_view plugin = "mysql_native_password") {
    Buf p;
    if (!db.empty()) caps |= 0x8;
    put32le(p, caps);
    put32le(p, 1u << 24);  // max packet
    put8(p, 33);
    put(p, Buf(23, 0));
    putz(p, user);
    put8(p, static_cast<std::uint32_t>(auth.size()));
    put(p, auth);
    if (!db.empty()) putz(p, db);
    if (caps & 0x80000) putz(p, plugin);
    return mysql_packet(1, p);
}

inline Buf mqtt_remaining_length(std::size_t n) {
    Buf b;
    do {
        std::uint8_t byte = static_cast<std::uint8_t>(n % 128);
        n /= 128;
        if (n > 0) byte |= 0x80;
        b.push_back(byte);
    } while (n > 0);
    return b;
}
inline Buf mqtt_string(std::string_view s) {
    Buf b;
    put16(b, static_cast<std::uint32_t>(s.size()));
    put(b, s);
    return b;
}
inline Buf mqtt_connect(std::string_view client_id, std::string_view user, std::string_view password,
                        std::string_view protocol = "MQTT", std::uint8_t level = 4) {
    Buf vh = mqtt_string(protocol);
    put8(vh, level);
    std::uint8_t flags = 0x02;  // clean session
    if (!user.empty()) flags |= 0x80;
    if (!password.empty()) flags |= 0x40;
    put8(vh, flags);
    put16(vh, 60);
    if (level == 5) put8(vh, 0);  // no properties
    put(vh, mqtt_string(client_id));
    if (!user.empty()) put(vh, mqtt_string(user));
    if (!password.empty()) put(vh, mqtt_string(password));
    return cat({Buf{0x10}, mqtt_remaining_length(vh.size()), vh});
}

inline Buf dns_name(std::string_view name) {
    Buf b;
    while (!name.empty()) {
        const std::size_t dot = name.find('.');
        const std::string_view label = name.substr(0, dot);
        put8(b, static_cast<std::uint32_t>(label.size()));
        put(b, label);
        if (dot == std::string_view::npos) break;
        name.remove_prefix(dot + 1);
    }
    put8(b, 0);
    return b;
}
inline Buf dns_tcp_message(std::uint16_t id, bool response, std::string_view qname, std::uint16_t qtype,
                           std::uint16_t ancount = 0, const Buf& answers = {}) {
    Buf m;
    put16(m, id);
    put16(m, response ? 0x8180 : 0x0100);
    put16(m, 1);
    put16(m, ancount);
    put16(m, 0);
    put16(m, 0);
    put(m, dns_name(qname));
    put16(m, qtype);
    put16(m, 1);
    put(m, answers);
    Buf b;
    put16(b, static_cast<std::uint32_t>(m.size()));
    put(b, m);
    return b;
}

inline const Buf kH2Preface = str("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
inline Buf h2_frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream, const Buf& payload) {
    Buf b;
    put24(b, static_cast<std::uint32_t>(payload.size()));
    put8(b, type);
    put8(b, flags);
    put32(b, stream);
    put(b, payload);
    return b;
}
inline Buf h2_settings(std::initializer_list<std::pair<std::uint16_t, std::uint32_t>> params = {}) {
    Buf p;
    for (const auto& [id, v] : params) {
        put16(p, id);
        put32(p, v);
    }
    return h2_frame(4, 0, 0, p);
}
// HPACK string literal, optionally Huffman-coded.
inline Buf hpack_string(std::string_view s, bool huffman) {
    Buf b;
    if (huffman) {
        const Buf h = meshproof::audit::hpack_huffman_encode(s);
        meshproof::audit::hpack_encode_integer(b, 0x80, 7, h.size());
        put(b, h);
    } else {
        meshproof::audit::hpack_encode_integer(b, 0x00, 7, s.size());
        put(b, s);
    }
    return b;
}
// Literal header field without indexing, new name (0000 0000).
inline Buf hpack_literal(std::string_view name, std::string_view value, bool huffman = false) {
    return cat({Buf{0x00}, hpack_string(name, huffman), hpack_string(value, huffman)});
}
// Literal with incremental indexing and an indexed name (01xx xxxx).
inline Buf hpack_literal_indexed_name(std::uint64_t name_index, std::string_view value, bool huffman = false) {
    Buf b;
    meshproof::audit::hpack_encode_integer(b, 0x40, 6, name_index);
    put(b, hpack_string(value, huffman));
    return b;
}
inline Buf hpack_indexed(std::uint64_t index) {
    Buf b;
    meshproof::audit::hpack_encode_integer(b, 0x80, 7, index);
    return b;
}

// ---- checks ----

inline PlaintextFacts classify(const Buf& c2s, const Buf& s2c, std::uint16_t port) {
    return meshproof::audit::classify_plaintext(Bytes(c2s), Bytes(s2c), port);
}

inline const Secret* find_secret(const PlaintextFacts& f, std::string_view kind) {
    for (const Secret& s : f.secrets) {
        if (s.kind == kind) return &s;
    }
    return nullptr;
}

inline bool has_evidence(const PlaintextFacts& f, std::string_view needle) {
    for (const std::string& e : f.evidence) {
        if (e.find(needle) != std::string::npos) return true;
    }
    return false;
}

// The promise of the report: secret values are never printed unless asked for.
inline void check_no_secret_leak(const PlaintextFacts& f) {
    CHECK(f.first_line.size() <= 200);
    for (char c : f.first_line) CHECK((c >= 0x20 && c < 0x7f));
    for (const Secret& s : f.secrets) {
        CHECK_FALSE(s.value.empty());
        if (s.value.size() < 4) continue;  // too short to tell from ordinary text
        INFO("secret kind " << s.kind);
        CHECK(f.first_line.find(s.value) == std::string::npos);
        if (f.http_path) CHECK(f.http_path->find(s.value) == std::string::npos);
        for (const std::string& e : f.evidence) CHECK(e.find(s.value) == std::string::npos);
    }
}

}  // namespace plaintexttest
