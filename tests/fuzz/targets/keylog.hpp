// Fuzz target: the key log reader, the TLS 1.3 encrypted-handshake reader and the handshake
// decryptor (audit/keylog, audit/classify/tls13_handshake).
//
// Input: one mode byte (mod 3), then
//   0: key log text for KeyLog::parse (tight limits half of the time). Errors must name the file and
//      never quote a secret (no run of 32 hex digits);
//   1: [from_client byte] then records [len:2][content] for Tls13HandshakeReader;
//   2: [suite byte][early-data byte] then records [ctl][len:2][bytes] for Tls13HandshakeDecryptor:
//      ctl bit 0 = direction; bit 1 = seal `bytes` as the next record of that direction under the real
//      handshake key (inner type from bits 2-3: handshake, alert, application data, none), so the
//      decrypted paths are reached; else `bytes` is the raw record.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "audit/classify/tls13_handshake.hpp"
#include "audit/keylog/key_log.hpp"
#include "audit/keylog/tls13_handshake_decryptor.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"
#include "tests/unit/keylog/keylog_test_support.hpp"

namespace meshproof::fuzz {

inline bool has_hex_run(std::string_view s, std::size_t n) {
    std::size_t run = 0;
    for (const char c : s) {
        const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        run = hex ? run + 1 : 0;
        if (run >= n) return true;
    }
    return false;
}

inline void fuzz_key_log_text(FuzzInput& in, bool tight) {
    const Bytes text = in.rest();
    audit::KeyLogLimits limits;
    if (tight) {
        limits.max_client_randoms = 2;
        limits.max_line = 200;
        limits.max_file_bytes = 4096;
    }
    const auto log = audit::KeyLog::parse(as_chars(text), "fuzz.keys", limits);
    if (!log) {
        MESHPROOF_FUZZ_CHECK(log.error().rfind("fuzz.keys", 0) == 0);
        MESHPROOF_FUZZ_CHECK(!has_hex_run(log.error(), 32));
        return;
    }
    const auto& c = log->counts();
    MESHPROOF_FUZZ_CHECK(c.tls13_handshakes + c.tls12_sessions >= 1);
    MESHPROOF_FUZZ_CHECK(c.lines >= c.tls13_handshakes * 2 + c.tls12_sessions);
}

inline void fuzz_handshake_reader(FuzzInput& in) {
    const bool from_client = (in.u8() & 1) != 0;
    constexpr std::size_t kMax = 4096;
    audit::Tls13HandshakeReader reader(from_client, kMax, 4);
    audit::Tls13EncryptedHandshake out;
    while (!in.empty()) {
        const Bytes content = in.take(in.u16());
        const ParseOutcome o = reader.on_record(content, out);
        if (o == ParseOutcome::Malformed || o == ParseOutcome::TooLarge) break;
        MESHPROOF_FUZZ_CHECK(reader.buffered() <= kMax + 4);
        MESHPROOF_FUZZ_CHECK((o == ParseOutcome::NeedMore) == (reader.buffered() > 0));
    }
    if (reader.finished()) MESHPROOF_FUZZ_CHECK(from_client ? out.client_finished : out.server_finished);
    MESHPROOF_FUZZ_CHECK(!(from_client ? out.server_finished : out.client_finished));
    if (out.server_certificates) MESHPROOF_FUZZ_CHECK(out.server_certificates->size() <= 4);
}

// Two connections: SHA-256-sized and SHA-384-sized handshake secrets.
inline const audit::KeyLog& fuzz_key_log() {
    static const auto log = audit::KeyLog::parse(
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET " + std::string(64, '1') + " " + std::string(64, 'c') + "\n" +
            "SERVER_HANDSHAKE_TRAFFIC_SECRET " + std::string(64, '1') + " " + std::string(64, 'e') + "\n" +
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET " + std::string(64, '2') + " " + std::string(96, 'c') + "\n" +
            "SERVER_HANDSHAKE_TRAFFIC_SECRET " + std::string(64, '2') + " " + std::string(96, 'e') + "\n",
        "fuzz.keys");
    return *log;
}

inline void fuzz_decryptor(FuzzInput& in) {
    constexpr std::array<std::uint16_t, 6> kSuites{0x1301, 0x1302, 0x1303, 0x1304, 0x1305, 0xc02f};
    const std::uint16_t suite_id = kSuites[in.u8() % kSuites.size()];
    const bool early = (in.u8() & 1) != 0;
    const audit::KeyLog& log = fuzz_key_log();
    const std::array<std::uint8_t, 32> random_1 = [] { std::array<std::uint8_t, 32> r{}; r.fill(0x11); return r; }();
    const std::array<std::uint8_t, 32> random_2 = [] { std::array<std::uint8_t, 32> r{}; r.fill(0x22); return r; }();
    const bool sha384 = suite_id == 0x1302;
    const audit::KeyLogEntry* entry = log.find(sha384 ? Bytes(random_2) : Bytes(random_1));
    MESHPROOF_FUZZ_CHECK(entry != nullptr);
    auto dec = audit::Tls13HandshakeDecryptor::create(*entry, suite_id, early);
    if (!dec) {
        MESHPROOF_FUZZ_CHECK(audit::find_tls13_cipher_suite(suite_id) == nullptr);
        return;
    }
    constexpr std::array<std::uint8_t, 4> kInnerTypes{22, 21, 23, 0};
    std::array<std::uint32_t, 2> sealed{};
    while (!in.empty()) {
        const std::uint8_t ctl = in.u8();
        const Direction dir = (ctl & 1) != 0 ? Direction::ServerToClient : Direction::ClientToServer;
        const Bytes bytes = in.take(in.u16());
        const bool was_done = dec->done(dir);
        const std::uint32_t opened_before = dec->records_opened(dir);
        ParseOutcome o;
        if ((ctl & 2) != 0) {
            const Bytes secret = dir == Direction::ClientToServer ? entry->client_handshake_traffic.view()
                                                                  : entry->server_handshake_traffic.view();
            const auto record = keylog_test::seal_record(dec->suite(), secret, dec->records_opened(dir),
                                                         kInnerTypes[(ctl >> 2) & 3], bytes.first(std::min<std::size_t>(bytes.size(), 16000)),
                                                         (ctl >> 4) & 7);
            o = dec->on_record(dir, record);
            ++sealed[index(dir)];
            // A record sealed with the right key and sequence always opens, unless the direction was done.
            if (!was_done) MESHPROOF_FUZZ_CHECK(dec->records_opened(dir) == opened_before + 1 || (((ctl >> 2) & 3) == 3));
        } else {
            o = dec->on_record(dir, bytes);
        }
        if (was_done) MESHPROOF_FUZZ_CHECK(o == ParseOutcome::Ok && dec->records_opened(dir) == opened_before);
        if (o == ParseOutcome::Malformed || o == ParseOutcome::TooLarge) MESHPROOF_FUZZ_CHECK(dec->done(dir) && dec->failure(dir));
        MESHPROOF_FUZZ_CHECK(dec->records_opened(dir) <= sealed[index(dir)]);
    }
    const auto& h = dec->handshake();
    if (h.server_finished) MESHPROOF_FUZZ_CHECK(dec->done(Direction::ServerToClient));
    if (h.client_finished) MESHPROOF_FUZZ_CHECK(dec->done(Direction::ClientToServer));
}

inline int keylog_one(Bytes data) {
    FuzzInput in(data);
    const std::uint8_t mode = in.u8();
    switch (mode % 3) {
        case 0: fuzz_key_log_text(in, (mode & 0x80) != 0); break;
        case 1: fuzz_handshake_reader(in); break;
        default: fuzz_decryptor(in); break;
    }
    return 0;
}

}  // namespace meshproof::fuzz
