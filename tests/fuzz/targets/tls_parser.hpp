// Fuzz target: the passive TLS handshake parser on the two directions of one flow.
//
// Input: one config byte (picks tight TlsLimits half of the time, so the TooLarge and
// dropped-certificate paths are reachable with small inputs), then chunks [ctl][len:2][bytes]:
// ctl bit 0 = direction. Each chunk is appended to its direction and the direction's whole prefix is
// fed again, as the engine does. A second parser sees the same bytes with consecutive chunks of the
// same direction merged: nothing happened in between, so the facts must be the same (the parser
// promises that how TCP cut the bytes does not matter).
#pragma once

#include <string>
#include <vector>

#include "audit/classify/ja_fingerprint.hpp"
#include "audit/classify/tls_facts.hpp"
#include "audit/classify/tls_parser.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

// The facts as one string, to compare two parsers.
inline std::string tls_facts_digest(const audit::TlsParser& p) {
    const audit::TlsFacts& f = p.facts();
    std::string s;
    auto add = [&](const auto& v) { s += std::to_string(v) + ","; };
    if (f.client_hello) {
        const auto& ch = *f.client_hello;
        s += "ch:" + ch.sni.value_or("-") + ":" + ch.ja3 + ":" + ch.ja4 + ":";
        for (const auto& a : ch.alpn) s += a + ";";
        add(ch.supported_versions.size());
        add(ch.sslv2_format);
    }
    if (f.server_hello) {
        const auto& sh = *f.server_hello;
        s += "sh:" + sh.alpn.value_or("-") + ":";
        add(sh.version);
        add(sh.cipher_suite);
        add(sh.hello_retry_request);
        add(sh.extensions.size());
    }
    add(f.certificate_request);
    add(f.server_hello_done);
    add(f.server_certificates ? static_cast<long>(f.server_certificates->size()) : -1L);
    add(f.client_certificates ? static_cast<long>(f.client_certificates->size()) : -1L);
    add(f.client_ccs);
    add(f.server_ccs);
    add(f.new_session_ticket);
    add(f.encrypted_handshake);
    add(f.alerts.size());
    add(f.app_data_records_c2s);
    add(f.app_data_records_s2c);
    add(f.handshake_visible_complete);
    add(f.second_client_hello);
    add(f.certificates_dropped);
    add(f.other_records);
    add(p.failed(Direction::ClientToServer));
    add(p.failed(Direction::ServerToClient));
    return s;
}

inline int tls_parser_one(Bytes input) {
    using namespace meshproof::audit;
    FuzzInput in(input);
    const std::uint8_t config = in.u8();
    TlsLimits limits;
    if (config & 1) {
        limits.max_handshake_message = 256 + (config >> 1) * 16u;
        limits.max_certificates = 1 + ((config >> 5) & 3u);
    }
    TlsParser chunked(limits), merged(limits);
    std::vector<std::uint8_t> bufs[2];
    int pending_dir = -1;  // the merged parser's feed is deferred until the direction changes
    auto feed_merged = [&] {
        if (pending_dir < 0) return;
        const auto dir = pending_dir == 0 ? Direction::ClientToServer : Direction::ServerToClient;
        merged.feed(dir, Bytes(bufs[pending_dir]));
        pending_dir = -1;
    };
    while (!in.empty()) {
        const int d = in.u8() & 1;
        const Bytes chunk = in.take(in.u16());
        if (d != pending_dir) feed_merged();
        bufs[d].insert(bufs[d].end(), chunk.begin(), chunk.end());
        const auto dir = d == 0 ? Direction::ClientToServer : Direction::ServerToClient;
        const ParseOutcome o = chunked.feed(dir, Bytes(bufs[d]));
        if (chunked.failed(dir)) MESHPROOF_FUZZ_CHECK(o != ParseOutcome::Ok && o != ParseOutcome::NeedMore);
        pending_dir = d;
    }
    feed_merged();
    MESHPROOF_FUZZ_CHECK(tls_facts_digest(chunked) == tls_facts_digest(merged));

    const TlsFacts& f = chunked.facts();
    if (f.client_hello) {
        const TlsClientHello& ch = *f.client_hello;
        MESHPROOF_FUZZ_CHECK(ch.ja3.size() == 32);
        const std::string j4 = ja4(ch);
        MESHPROOF_FUZZ_CHECK(j4.size() == 36 && j4 == ch.ja4);
        (void)ja4_raw(ch, true);
        (void)ja4_original(ch);
        (void)tls_version_name(ch.legacy_version);
    }
    if (f.server_certificates) MESHPROOF_FUZZ_CHECK(f.server_certificates->size() <= limits.max_certificates);
    if (f.client_certificates) MESHPROOF_FUZZ_CHECK(f.client_certificates->size() <= limits.max_certificates);

    // The scanners used for STARTTLS upgrades and role fixing, on the same bytes.
    for (const auto& b : bufs) {
        (void)sniff_tls(Bytes(b));
        for (const bool client_side : {true, false}) {
            if (auto off = find_tls_start(Bytes(b), client_side)) MESHPROOF_FUZZ_CHECK(*off + 5 <= b.size());
        }
    }
    return 0;
}

}  // namespace meshproof::fuzz
