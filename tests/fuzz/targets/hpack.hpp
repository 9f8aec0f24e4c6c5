// Fuzz target: HPACK header blocks (RFC 7541) and Huffman strings.
//
// Input: [config][blocks as len:2 + bytes]. The config byte picks small limits half of the time so
// the TooLarge paths and table evictions are reached quickly. Also a Huffman round trip of the raw
// input: decode(encode(x)) == x for every byte string.
#pragma once

#include <string>
#include <vector>

#include "audit/classify/hpack.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

inline int hpack_one(Bytes input) {
    using namespace meshproof::audit;
    {
        const std::string text(as_chars(input));
        const std::vector<std::uint8_t> enc = hpack_huffman_encode(text);
        std::string dec;
        MESHPROOF_FUZZ_CHECK(hpack_huffman_decode(Bytes(enc), dec, text.size() + 1) == ParseOutcome::Ok);
        MESHPROOF_FUZZ_CHECK(dec == text);
        std::string raw;
        const ParseOutcome o = hpack_huffman_decode(input, raw, 4096);
        if (o == ParseOutcome::Ok) MESHPROOF_FUZZ_CHECK(raw.size() <= 4096);
    }

    FuzzInput in(input);
    const std::uint8_t config = in.u8();
    HpackLimits limits;
    if (config & 1) {
        limits.initial_table_size = (config >> 1) * 8u;
        limits.max_table_size = 512;
        limits.max_string_length = 64;
        limits.max_header_list = 1024;
        limits.max_fields = 16;
    }
    HpackDecoder dec(limits);
    while (!in.empty()) {
        const Bytes block = in.take(in.u16());
        std::vector<HpackHeader> out;
        const ParseOutcome o = dec.decode(block, out);
        MESHPROOF_FUZZ_CHECK(dec.dynamic_table_size() <= dec.max_dynamic_table_size());
        MESHPROOF_FUZZ_CHECK(dec.max_dynamic_table_size() <= limits.max_table_size ||
                             dec.max_dynamic_table_size() == limits.initial_table_size);
        MESHPROOF_FUZZ_CHECK(out.size() <= limits.max_fields);
        std::size_t list = 0;
        for (const auto& h : out) list += h.name.size() + h.value.size() + 32;
        MESHPROOF_FUZZ_CHECK(list <= limits.max_header_list);
        if (o != ParseOutcome::Ok) break;  // the connection's later blocks cannot be trusted
    }
    return 0;
}

}  // namespace meshproof::fuzz
