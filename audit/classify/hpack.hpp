// HPACK (RFC 7541) header block decoder for HTTP/2 seen in clear (h2c, gRPC without TLS): static
// table, dynamic table with size updates, integer and string literals, Huffman strings.
// Bounded: a declared string longer than the limits, a table size above the cap or an integer that
// overflows is refused, never allocated for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_reader.hpp"
#include "common/parse_outcome.hpp"

namespace meshproof::audit {

struct HpackHeader {
    std::string name;
    std::string value;
    bool never_indexed = false;  // the sender marked it sensitive (literal never indexed)
};

struct HpackLimits {
    std::size_t initial_table_size = 4096; // SETTINGS_HEADER_TABLE_SIZE in force before any update
    std::size_t max_table_size = 65536;    // largest dynamic table a size update may ask for
    std::size_t max_string_length = 16384; // one name or value, before Huffman decoding
    std::size_t max_header_list = 262144;  // sum of name + value + 32 over one block
    std::size_t max_fields = 512;          // fields in one block
};

class HpackDecoder {
public:
    HpackDecoder() : HpackDecoder(HpackLimits{}) {}
    explicit HpackDecoder(HpackLimits limits);

    // Decodes one complete header block (HEADERS + CONTINUATION fragments joined) and appends its
    // fields to out. Blocks must be fed in wire order: the dynamic table carries over.
    // NeedMore: the block ends inside a field. After anything but Ok, later blocks of the same
    // connection cannot be trusted (HTTP/2 treats it as a connection error too).
    ParseOutcome decode(Bytes block, std::vector<HpackHeader>& out);

    [[nodiscard]] std::size_t dynamic_table_size() const { return size_; }
    [[nodiscard]] std::size_t dynamic_table_entries() const { return table_.size(); }
    [[nodiscard]] std::size_t max_dynamic_table_size() const { return max_size_; }

private:
    bool lookup(std::uint64_t index, std::string& name, std::string* value) const;
    void insert(const std::string& name, const std::string& value);
    void evict_to(std::size_t limit);

    HpackLimits limits_;
    std::deque<HpackHeader> table_;  // front = most recently inserted (index 62)
    std::size_t size_ = 0;
    std::size_t max_size_ = 4096;    // current limit: initial_table_size until a size update
};

// Huffman decoding of one string literal (RFC 7541 5.2 / Appendix B): Malformed for an EOS symbol,
// padding longer than 7 bits or padding that is not all ones; TooLarge when the output would exceed
// max_output.
ParseOutcome hpack_huffman_decode(Bytes in, std::string& out, std::size_t max_output = 65536);

// The Huffman encoding of text (used by tests and fuzz seeds to build header blocks).
std::vector<std::uint8_t> hpack_huffman_encode(std::string_view text);

// Integer with an N-bit prefix (RFC 7541 5.1), for tests building header blocks.
void hpack_encode_integer(std::vector<std::uint8_t>& out, std::uint8_t first_byte_flags, int prefix_bits,
                          std::uint64_t value);

}  // namespace meshproof::audit
