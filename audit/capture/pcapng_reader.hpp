// A small pcapng block reader for what libpcap refuses: files whose interfaces have different link
// types or snapshot lengths (libpcap stops with "an interface has a type N different from the type
// of the first interface", or "... a snapshot length ..."). It streams: one block at a time into a reused buffer, never the whole file, and a
// block length is checked against a bound and the bytes left in the file before anything is read.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "audit/capture/packet_source.hpp"
#include "common/parse_outcome.hpp"

namespace meshproof::audit {

// What a capture file header at the start of `head` (at least 4 bytes) announces.
enum class CaptureMagic { None, Pcap, Pcapng };
CaptureMagic capture_magic(Bytes head);

// The 12 bytes every pcapng block starts with: type, total length and (section header only) the
// byte-order magic, which decides how the section is read.
struct PcapngBlockHeader {
    std::uint32_t type = 0;
    std::uint32_t total_length = 0;
    bool section_header = false;
    bool big_endian = false;  // the section's byte order (updated by a section header)
};
inline constexpr std::uint32_t kPcapngMaxBlock = 256u * 1024 * 1024;
// Ok; NeedMore (fewer than 12 bytes); Malformed (bad byte-order magic, length < 12 or not a multiple
// of 4); TooLarge (length above kPcapngMaxBlock). `big_endian` is the byte order of the current section.
ParseOutcome parse_pcapng_block_header(Bytes head, bool big_endian, PcapngBlockHeader& out);

class PcapngReader {
public:
    // Streams `file` (owned: closed by the destructor) from its current position, which is byte
    // `start_offset` of the file called `name` and the start of a section header. Packet numbers
    // continue after `packets_before` (packets of earlier captures in the same file).
    PcapngReader(std::FILE* file, std::uint64_t start_offset, std::uint64_t packets_before, std::string name);
    // The whole capture in memory (tests, fuzzing).
    PcapngReader(std::vector<std::uint8_t> file_bytes, std::string name);
    ~PcapngReader();
    PcapngReader(const PcapngReader&) = delete;
    PcapngReader& operator=(const PcapngReader&) = delete;

    SourceStatus next(RawPacket& out);
    [[nodiscard]] const std::optional<SourceError>& error() const { return error_; }
    [[nodiscard]] std::size_t interface_count() const { return interfaces_.size(); }
    // After End: where a classic pcap file header starts at a block boundary (cat a.pcapng b.pcap).
    [[nodiscard]] std::optional<std::uint64_t> next_capture_at() const { return next_capture_at_; }
    // Block header outcomes, counted (every block that was looked at).
    [[nodiscard]] const OutcomeCounts& outcomes() const { return outcomes_; }
    // The block buffer's size: the largest block read so far, never the file.
    [[nodiscard]] std::size_t buffer_capacity() const { return block_.capacity(); }

private:
    struct Interface {
        int link_type = 0;
        double ts_unit = 1e-6;  // seconds per timestamp tick (if_tsresol)
    };
    bool fail(SourceError::Kind kind, const std::string& what);
    std::size_t read_some(std::uint8_t* dst, std::size_t n);
    [[nodiscard]] std::uint32_t rd32(Bytes b) const;
    [[nodiscard]] std::uint16_t rd16(Bytes b) const;
    SourceStatus packet_block(std::uint32_t type, Bytes body, RawPacket& out);
    // Reads block bytes [have, total) into block_; returns how many of the block it then holds.
    std::size_t read_block_rest(std::size_t have, std::size_t total);
    void interface_block(Bytes body);

    std::FILE* file_ = nullptr;
    std::vector<std::uint8_t> memory_;  // the in-memory constructor's bytes
    std::uint64_t memory_pos_ = 0;      // and where read_some() is in them
    std::uint64_t end_ = 0;             // file size (or memory_.size())
    std::uint64_t pos_ = 0;             // byte offset of the next block
    std::uint64_t block_start_ = 0;
    std::vector<std::uint8_t> block_;   // the current block, reused
    std::string name_;
    bool size_known_ = true;            // false for a decompressing stream: its end is a short read
    bool big_endian_ = false;
    bool seen_section_ = false;
    std::vector<Interface> interfaces_;
    std::uint64_t packet_number_ = 0;
    std::optional<std::uint64_t> next_capture_at_;
    std::optional<SourceError> error_;
    OutcomeCounts outcomes_;
};

}  // namespace meshproof::audit
