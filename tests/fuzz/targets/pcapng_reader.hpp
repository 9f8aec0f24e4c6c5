// Fuzz target: our pcapng block reader (the fallback for files that mix link types, which libpcap
// refuses). Every packet it hands out must lie inside the file and every error must say where.
#pragma once

#include <string>
#include <vector>

#include "audit/capture/pcapng_reader.hpp"
#include "audit/decode/packet.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

inline int pcapng_reader_one(Bytes input) {
    using namespace meshproof::audit;
    PcapngReader reader(std::vector<std::uint8_t>(input.begin(), input.end()), "fuzz.pcapng");
    RawPacket p;
    std::uint64_t packets = 0;
    SourceStatus st;
    while ((st = reader.next(p)) == SourceStatus::Packet) {
        ++packets;
        MESHPROOF_FUZZ_CHECK(p.number == packets);
        MESHPROOF_FUZZ_CHECK(p.data.size() <= input.size());
        MESHPROOF_FUZZ_CHECK(p.file_offset + p.data.size() <= input.size());
        // Each block is at least 12 bytes: the loop ends.
        MESHPROOF_FUZZ_CHECK(packets * 12 <= input.size());
        (void)decode_frame(static_cast<LinkType>(p.link_type), p.data);
    }
    MESHPROOF_FUZZ_CHECK(st == SourceStatus::End || st == SourceStatus::Error);
    if (st == SourceStatus::Error) {
        MESHPROOF_FUZZ_CHECK(reader.error().has_value());
        MESHPROOF_FUZZ_CHECK(reader.error()->message.find("fuzz.pcapng") != std::string::npos);
        MESHPROOF_FUZZ_CHECK(reader.error()->message.find("byte offset") != std::string::npos);
    }
    // After the end or an error, the reader stays there.
    MESHPROOF_FUZZ_CHECK(reader.next(p) == st);
    return 0;
}

}  // namespace meshproof::fuzz
