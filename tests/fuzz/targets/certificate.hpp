// Fuzz target: one DER certificate through OpenSSL and our extraction of names, SANs, validity and
// key type (audit/certs). The input is the DER.
#pragma once

#include "audit/certs/certificate_info.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

inline int certificate_one(Bytes input) {
    using namespace meshproof::audit;
    const auto info = parse_certificate_der(input);
    if (!info) {
        MESHPROOF_FUZZ_CHECK(!info.error().empty());
        return 0;
    }
    // SHA-256 as 32 upper-case hex pairs joined by ':'.
    MESHPROOF_FUZZ_CHECK(info->sha256_fingerprint.size() == 32 * 3 - 1);
    for (const auto& id : spiffe_ids(*info)) MESHPROOF_FUZZ_CHECK(id.rfind("spiffe://", 0) == 0);
    // The chain path wraps the same parser.
    std::vector<TlsCertificateDer> chain(1);
    chain[0].der.assign(input.begin(), input.end());
    const auto parsed = parse_certificate_chain(chain);
    MESHPROOF_FUZZ_CHECK(parsed.size() == 1 && parsed[0].has_value());
    MESHPROOF_FUZZ_CHECK(parsed[0]->sha256_fingerprint == info->sha256_fingerprint);
    return 0;
}

}  // namespace meshproof::fuzz
