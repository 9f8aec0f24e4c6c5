// The four ways a parser can stop short, shared by every parser so they can be counted the same way
// (meshproof_parse_outcomes_total{parser,outcome}).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace meshproof {

enum class ParseOutcome : std::uint8_t {
    Ok,               // parsed what was there
    NeedMore,         // a prefix of something valid; more bytes may complete it
    NotThisProtocol,  // the bytes are not this protocol at all
    Malformed,        // looked like this protocol, but a length or field is impossible
    TooLarge,         // a declared length exceeds our bound (we never allocate for it)
};

inline constexpr std::size_t kParseOutcomeCount = 5;

constexpr std::string_view to_string(ParseOutcome o) {
    switch (o) {
        case ParseOutcome::Ok: return "ok";
        case ParseOutcome::NeedMore: return "need_more";
        case ParseOutcome::NotThisProtocol: return "not_this_protocol";
        case ParseOutcome::Malformed: return "malformed";
        case ParseOutcome::TooLarge: return "too_large";
    }
    return "unknown";
}

// Plain counters, one per outcome; the metrics layer copies them into prometheus counters.
struct OutcomeCounts {
    std::array<std::uint64_t, kParseOutcomeCount> n{};
    void add(ParseOutcome o) { ++n[static_cast<std::size_t>(o)]; }
    [[nodiscard]] std::uint64_t get(ParseOutcome o) const { return n[static_cast<std::size_t>(o)]; }
};

}  // namespace meshproof
