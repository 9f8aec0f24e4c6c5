// Fuzz target: the plaintext protocol classifiers and secret finders (HTTP/1, h2c/gRPC with HPACK,
// Redis, PostgreSQL, MySQL, DNS, MQTT, mail, FTP, SSH, SOCKS) on the first bytes of both directions.
//
// Input: [server port:2][client byte count:2][client bytes][server bytes]. Besides memory safety this
// checks the promise reports rely on: no secret that was found appears in clear in the first line,
// the path or the evidence.
#pragma once

#include <algorithm>
#include <cctype>

#include "audit/classify/plaintext.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

inline int plaintext_one(Bytes input) {
    using namespace meshproof::audit;
    FuzzInput in(input);
    const std::uint16_t port = in.u16();
    const std::uint16_t c2s_len = in.u16();
    const Bytes c2s = in.take(c2s_len);
    const Bytes s2c = in.rest();
    const PlaintextFacts f = classify_plaintext(c2s, s2c, port);

    MESHPROOF_FUZZ_CHECK(f.first_line.size() <= 200 * 4);  // 200 characters, a few may be multi-byte '…'
    if (f.upgrade_c2s_offset) MESHPROOF_FUZZ_CHECK(*f.upgrade_c2s_offset <= c2s.size());
    if (f.upgrade_s2c_offset) MESHPROOF_FUZZ_CHECK(*f.upgrade_s2c_offset <= s2c.size());
    for (const Secret& s : f.secrets) {
        MESHPROOF_FUZZ_CHECK(!s.value.empty());
        // Only values that cannot be produced by the scrubbing or excerpting themselves.
        const bool checkable = s.value.size() >= 8 && s.value.find("redacted") == std::string::npos &&
                               std::all_of(s.value.begin(), s.value.end(),
                                           [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
        if (!checkable) continue;
        // Not the location: it names what the client sent (e.g. a SASL mechanism), which a fuzzer can
        // make equal to the secret; the values in it are not secrets.
        MESHPROOF_FUZZ_CHECK(redact(s.value).find(s.value) == std::string::npos);
        MESHPROOF_FUZZ_CHECK(f.first_line.find(s.value) == std::string::npos);
        if (f.http_path) MESHPROOF_FUZZ_CHECK(f.http_path->find(s.value) == std::string::npos);
        for (const auto& e : f.evidence) MESHPROOF_FUZZ_CHECK(e.find(s.value) == std::string::npos);
    }
    return 0;
}

}  // namespace meshproof::fuzz
