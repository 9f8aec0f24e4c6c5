#include "audit/classify/hpack.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace meshproof::audit {
namespace {

struct HuffmanCode {
    std::uint32_t code;
    std::uint8_t bits;
};

// RFC 7541 Appendix B, indexed by symbol (256 = EOS). Generated from the table of the python
// hpack package and checked to be canonical (codes ordered by length, then symbol).
constexpr std::array<HuffmanCode, 257> kHuffmanCodes{{
    {0x1ff8, 13}, {0x7fffd8, 23}, {0xfffffe2, 28}, {0xfffffe3, 28}, {0xfffffe4, 28}, {0xfffffe5, 28},  // 0
    {0xfffffe6, 28}, {0xfffffe7, 28}, {0xfffffe8, 28}, {0xffffea, 24}, {0x3ffffffc, 30}, {0xfffffe9, 28},  // 6
    {0xfffffea, 28}, {0x3ffffffd, 30}, {0xfffffeb, 28}, {0xfffffec, 28}, {0xfffffed, 28}, {0xfffffee, 28},  // 12
    {0xfffffef, 28}, {0xffffff0, 28}, {0xffffff1, 28}, {0xffffff2, 28}, {0x3ffffffe, 30}, {0xffffff3, 28},  // 18
    {0xffffff4, 28}, {0xffffff5, 28}, {0xffffff6, 28}, {0xffffff7, 28}, {0xffffff8, 28}, {0xffffff9, 28},  // 24
    {0xffffffa, 28}, {0xffffffb, 28}, {0x14, 6}, {0x3f8, 10}, {0x3f9, 10}, {0xffa, 12},  // 30
    {0x1ff9, 13}, {0x15, 6}, {0xf8, 8}, {0x7fa, 11}, {0x3fa, 10}, {0x3fb, 10},  // 36
    {0xf9, 8}, {0x7fb, 11}, {0xfa, 8}, {0x16, 6}, {0x17, 6}, {0x18, 6},  // 42
    {0x0, 5}, {0x1, 5}, {0x2, 5}, {0x19, 6}, {0x1a, 6}, {0x1b, 6},  // 48
    {0x1c, 6}, {0x1d, 6}, {0x1e, 6}, {0x1f, 6}, {0x5c, 7}, {0xfb, 8},  // 54
    {0x7ffc, 15}, {0x20, 6}, {0xffb, 12}, {0x3fc, 10}, {0x1ffa, 13}, {0x21, 6},  // 60
    {0x5d, 7}, {0x5e, 7}, {0x5f, 7}, {0x60, 7}, {0x61, 7}, {0x62, 7},  // 66
    {0x63, 7}, {0x64, 7}, {0x65, 7}, {0x66, 7}, {0x67, 7}, {0x68, 7},  // 72
    {0x69, 7}, {0x6a, 7}, {0x6b, 7}, {0x6c, 7}, {0x6d, 7}, {0x6e, 7},  // 78
    {0x6f, 7}, {0x70, 7}, {0x71, 7}, {0x72, 7}, {0xfc, 8}, {0x73, 7},  // 84
    {0xfd, 8}, {0x1ffb, 13}, {0x7fff0, 19}, {0x1ffc, 13}, {0x3ffc, 14}, {0x22, 6},  // 90
    {0x7ffd, 15}, {0x3, 5}, {0x23, 6}, {0x4, 5}, {0x24, 6}, {0x5, 5},  // 96
    {0x25, 6}, {0x26, 6}, {0x27, 6}, {0x6, 5}, {0x74, 7}, {0x75, 7},  // 102
    {0x28, 6}, {0x29, 6}, {0x2a, 6}, {0x7, 5}, {0x2b, 6}, {0x76, 7},  // 108
    {0x2c, 6}, {0x8, 5}, {0x9, 5}, {0x2d, 6}, {0x77, 7}, {0x78, 7},  // 114
    {0x79, 7}, {0x7a, 7}, {0x7b, 7}, {0x7ffe, 15}, {0x7fc, 11}, {0x3ffd, 14},  // 120
    {0x1ffd, 13}, {0xffffffc, 28}, {0xfffe6, 20}, {0x3fffd2, 22}, {0xfffe7, 20}, {0xfffe8, 20},  // 126
    {0x3fffd3, 22}, {0x3fffd4, 22}, {0x3fffd5, 22}, {0x7fffd9, 23}, {0x3fffd6, 22}, {0x7fffda, 23},  // 132
    {0x7fffdb, 23}, {0x7fffdc, 23}, {0x7fffdd, 23}, {0x7fffde, 23}, {0xffffeb, 24}, {0x7fffdf, 23},  // 138
    {0xffffec, 24}, {0xffffed, 24}, {0x3fffd7, 22}, {0x7fffe0, 23}, {0xffffee, 24}, {0x7fffe1, 23},  // 144
    {0x7fffe2, 23}, {0x7fffe3, 23}, {0x7fffe4, 23}, {0x1fffdc, 21}, {0x3fffd8, 22}, {0x7fffe5, 23},  // 150
    {0x3fffd9, 22}, {0x7fffe6, 23}, {0x7fffe7, 23}, {0xffffef, 24}, {0x3fffda, 22}, {0x1fffdd, 21},  // 156
    {0xfffe9, 20}, {0x3fffdb, 22}, {0x3fffdc, 22}, {0x7fffe8, 23}, {0x7fffe9, 23}, {0x1fffde, 21},  // 162
    {0x7fffea, 23}, {0x3fffdd, 22}, {0x3fffde, 22}, {0xfffff0, 24}, {0x1fffdf, 21}, {0x3fffdf, 22},  // 168
    {0x7fffeb, 23}, {0x7fffec, 23}, {0x1fffe0, 21}, {0x1fffe1, 21}, {0x3fffe0, 22}, {0x1fffe2, 21},  // 174
    {0x7fffed, 23}, {0x3fffe1, 22}, {0x7fffee, 23}, {0x7fffef, 23}, {0xfffea, 20}, {0x3fffe2, 22},  // 180
    {0x3fffe3, 22}, {0x3fffe4, 22}, {0x7ffff0, 23}, {0x3fffe5, 22}, {0x3fffe6, 22}, {0x7ffff1, 23},  // 186
    {0x3ffffe0, 26}, {0x3ffffe1, 26}, {0xfffeb, 20}, {0x7fff1, 19}, {0x3fffe7, 22}, {0x7ffff2, 23},  // 192
    {0x3fffe8, 22}, {0x1ffffec, 25}, {0x3ffffe2, 26}, {0x3ffffe3, 26}, {0x3ffffe4, 26}, {0x7ffffde, 27},  // 198
    {0x7ffffdf, 27}, {0x3ffffe5, 26}, {0xfffff1, 24}, {0x1ffffed, 25}, {0x7fff2, 19}, {0x1fffe3, 21},  // 204
    {0x3ffffe6, 26}, {0x7ffffe0, 27}, {0x7ffffe1, 27}, {0x3ffffe7, 26}, {0x7ffffe2, 27}, {0xfffff2, 24},  // 210
    {0x1fffe4, 21}, {0x1fffe5, 21}, {0x3ffffe8, 26}, {0x3ffffe9, 26}, {0xffffffd, 28}, {0x7ffffe3, 27},  // 216
    {0x7ffffe4, 27}, {0x7ffffe5, 27}, {0xfffec, 20}, {0xfffff3, 24}, {0xfffed, 20}, {0x1fffe6, 21},  // 222
    {0x3fffe9, 22}, {0x1fffe7, 21}, {0x1fffe8, 21}, {0x7ffff3, 23}, {0x3fffea, 22}, {0x3fffeb, 22},  // 228
    {0x1ffffee, 25}, {0x1ffffef, 25}, {0xfffff4, 24}, {0xfffff5, 24}, {0x3ffffea, 26}, {0x7ffff4, 23},  // 234
    {0x3ffffeb, 26}, {0x7ffffe6, 27}, {0x3ffffec, 26}, {0x3ffffed, 26}, {0x7ffffe7, 27}, {0x7ffffe8, 27},  // 240
    {0x7ffffe9, 27}, {0x7ffffea, 27}, {0x7ffffeb, 27}, {0xffffffe, 28}, {0x7ffffec, 27}, {0x7ffffed, 27},  // 246
    {0x7ffffee, 27}, {0x7ffffef, 27}, {0x7fffff0, 27}, {0x3ffffee, 26}, {0x3fffffff, 30},  // 252
}};

constexpr int kMaxCodeBits = 30;

// Canonical decoding tables: for every code length, the first code, how many codes have it and
// where their symbols start in the (length, symbol)-sorted list.
struct CanonicalTables {
    std::array<std::uint32_t, kMaxCodeBits + 1> first_code{};
    std::array<std::uint16_t, kMaxCodeBits + 1> count{};
    std::array<std::uint16_t, kMaxCodeBits + 1> first_index{};
    std::array<std::uint16_t, 257> symbols{};
};

constexpr CanonicalTables build_canonical_tables() {
    CanonicalTables t{};
    std::uint16_t n = 0;
    for (int len = 1; len <= kMaxCodeBits; ++len) {
        t.first_index[static_cast<std::size_t>(len)] = n;
        bool first = true;
        for (std::uint16_t sym = 0; sym < 257; ++sym) {
            if (kHuffmanCodes[sym].bits != len) continue;
            if (first) {
                t.first_code[static_cast<std::size_t>(len)] = kHuffmanCodes[sym].code;
                first = false;
            }
            ++t.count[static_cast<std::size_t>(len)];
            t.symbols[n++] = sym;
        }
    }
    return t;
}

constexpr CanonicalTables kCanonical = build_canonical_tables();

// The canonical property the decoder relies on: within a length, codes are consecutive by symbol.
constexpr bool check_canonical() {
    for (int len = 1; len <= kMaxCodeBits; ++len) {
        const auto l = static_cast<std::size_t>(len);
        for (std::uint16_t k = 0; k < kCanonical.count[l]; ++k) {
            const std::uint16_t sym = kCanonical.symbols[kCanonical.first_index[l] + k];
            if (kHuffmanCodes[sym].code != kCanonical.first_code[l] + k) return false;
        }
    }
    return true;
}
static_assert(check_canonical(), "HPACK Huffman table must be canonical");

struct StaticEntry {
    std::string_view name;
    std::string_view value;
};

// RFC 7541 Appendix A (index 1..61).
constexpr std::array<StaticEntry, 61> kStaticTable{{
    {":authority", ""},  // 1
    {":method", "GET"},  // 2
    {":method", "POST"},  // 3
    {":path", "/"},  // 4
    {":path", "/index.html"},  // 5
    {":scheme", "http"},  // 6
    {":scheme", "https"},  // 7
    {":status", "200"},  // 8
    {":status", "204"},  // 9
    {":status", "206"},  // 10
    {":status", "304"},  // 11
    {":status", "400"},  // 12
    {":status", "404"},  // 13
    {":status", "500"},  // 14
    {"accept-charset", ""},  // 15
    {"accept-encoding", "gzip, deflate"},  // 16
    {"accept-language", ""},  // 17
    {"accept-ranges", ""},  // 18
    {"accept", ""},  // 19
    {"access-control-allow-origin", ""},  // 20
    {"age", ""},  // 21
    {"allow", ""},  // 22
    {"authorization", ""},  // 23
    {"cache-control", ""},  // 24
    {"content-disposition", ""},  // 25
    {"content-encoding", ""},  // 26
    {"content-language", ""},  // 27
    {"content-length", ""},  // 28
    {"content-location", ""},  // 29
    {"content-range", ""},  // 30
    {"content-type", ""},  // 31
    {"cookie", ""},  // 32
    {"date", ""},  // 33
    {"etag", ""},  // 34
    {"expect", ""},  // 35
    {"expires", ""},  // 36
    {"from", ""},  // 37
    {"host", ""},  // 38
    {"if-match", ""},  // 39
    {"if-modified-since", ""},  // 40
    {"if-none-match", ""},  // 41
    {"if-range", ""},  // 42
    {"if-unmodified-since", ""},  // 43
    {"last-modified", ""},  // 44
    {"link", ""},  // 45
    {"location", ""},  // 46
    {"max-forwards", ""},  // 47
    {"proxy-authenticate", ""},  // 48
    {"proxy-authorization", ""},  // 49
    {"range", ""},  // 50
    {"referer", ""},  // 51
    {"refresh", ""},  // 52
    {"retry-after", ""},  // 53
    {"server", ""},  // 54
    {"set-cookie", ""},  // 55
    {"strict-transport-security", ""},  // 56
    {"transfer-encoding", ""},  // 57
    {"user-agent", ""},  // 58
    {"vary", ""},  // 59
    {"via", ""},  // 60
    {"www-authenticate", ""},  // 61
}};

constexpr std::size_t kEntryOverhead = 32;  // RFC 7541 4.1

// Integer with an N-bit prefix; the prefix bits are the low bits of `first`.
ParseOutcome read_integer(ByteReader& r, std::uint8_t first, int prefix_bits, std::uint64_t& value) {
    const std::uint64_t max_prefix = (1u << prefix_bits) - 1;
    value = first & max_prefix;
    if (value < max_prefix) return ParseOutcome::Ok;
    int shift = 0;
    while (true) {
        std::uint8_t b;
        if (!r.u8(b)) return ParseOutcome::NeedMore;
        // 2^32 is far beyond any index or length we accept; stop before the shift could overflow.
        if (shift > 28) return ParseOutcome::TooLarge;
        value += static_cast<std::uint64_t>(b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) == 0) return ParseOutcome::Ok;
    }
}

ParseOutcome read_string(ByteReader& r, const HpackLimits& limits, std::string& out) {
    std::uint8_t first;
    if (!r.u8(first)) return ParseOutcome::NeedMore;
    const bool huffman = (first & 0x80) != 0;
    std::uint64_t len = 0;
    if (const ParseOutcome o = read_integer(r, first, 7, len); o != ParseOutcome::Ok) return o;
    if (len > limits.max_string_length) return ParseOutcome::TooLarge;
    Bytes raw;
    if (!r.bytes(static_cast<std::size_t>(len), raw)) return ParseOutcome::NeedMore;
    out.clear();
    if (huffman) return hpack_huffman_decode(raw, out, limits.max_string_length * 8 / 5 + 1);
    out.assign(as_chars(raw));
    return ParseOutcome::Ok;
}

}  // namespace

ParseOutcome hpack_huffman_decode(Bytes in, std::string& out, std::size_t max_output) {
    std::uint32_t code = 0;
    int len = 0;
    for (std::uint8_t byte : in) {
        for (int bit = 7; bit >= 0; --bit) {
            code = (code << 1) | ((byte >> bit) & 1u);
            ++len;
            if (len > kMaxCodeBits) return ParseOutcome::Malformed;
            const auto l = static_cast<std::size_t>(len);
            const std::uint16_t count = kCanonical.count[l];
            if (count == 0 || code < kCanonical.first_code[l] || code - kCanonical.first_code[l] >= count) continue;
            const std::uint16_t sym = kCanonical.symbols[kCanonical.first_index[l] + (code - kCanonical.first_code[l])];
            if (sym == 256) return ParseOutcome::Malformed;  // EOS inside a string is an error (5.2)
            if (out.size() >= max_output) return ParseOutcome::TooLarge;
            out.push_back(static_cast<char>(sym));
            code = 0;
            len = 0;
        }
    }
    // Padding: fewer than 8 bits, all ones (the most significant bits of EOS).
    if (len > 7) return ParseOutcome::Malformed;
    if (code != (1u << len) - 1) return ParseOutcome::Malformed;
    return ParseOutcome::Ok;
}

std::vector<std::uint8_t> hpack_huffman_encode(std::string_view text) {
    std::vector<std::uint8_t> out;
    std::uint64_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const HuffmanCode& h = kHuffmanCodes[static_cast<std::uint8_t>(c)];
        acc = (acc << h.bits) | h.code;
        bits += h.bits;
        while (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
        }
    }
    if (bits > 0) {
        // Pad with the high bits of EOS (all ones).
        const int pad = 8 - bits;
        acc = (acc << pad) | ((1u << pad) - 1);
        out.push_back(static_cast<std::uint8_t>(acc & 0xff));
    }
    return out;
}

void hpack_encode_integer(std::vector<std::uint8_t>& out, std::uint8_t first_byte_flags, int prefix_bits,
                          std::uint64_t value) {
    const std::uint64_t max_prefix = (1u << prefix_bits) - 1;
    if (value < max_prefix) {
        out.push_back(static_cast<std::uint8_t>(first_byte_flags | value));
        return;
    }
    out.push_back(static_cast<std::uint8_t>(first_byte_flags | max_prefix));
    value -= max_prefix;
    while (value >= 128) {
        out.push_back(static_cast<std::uint8_t>((value & 0x7f) | 0x80));
        value >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(value));
}

HpackDecoder::HpackDecoder(HpackLimits limits)
    : limits_(limits), max_size_(std::min(limits.initial_table_size, limits.max_table_size)) {}

bool HpackDecoder::lookup(std::uint64_t index, std::string& name, std::string* value) const {
    if (index == 0) return false;
    if (index <= kStaticTable.size()) {
        const StaticEntry& e = kStaticTable[static_cast<std::size_t>(index - 1)];
        name.assign(e.name);
        if (value) value->assign(e.value);
        return true;
    }
    const std::uint64_t dyn = index - kStaticTable.size() - 1;
    if (dyn >= table_.size()) return false;
    const HpackHeader& e = table_[static_cast<std::size_t>(dyn)];
    name = e.name;
    if (value) *value = e.value;
    return true;
}

void HpackDecoder::evict_to(std::size_t limit) {
    while (size_ > limit && !table_.empty()) {
        size_ -= table_.back().name.size() + table_.back().value.size() + kEntryOverhead;
        table_.pop_back();
    }
}

void HpackDecoder::insert(const std::string& name, const std::string& value) {
    const std::size_t entry = name.size() + value.size() + kEntryOverhead;
    if (entry > max_size_) {
        // An entry larger than the table empties it and is not added (4.4).
        evict_to(0);
        return;
    }
    evict_to(max_size_ - entry);
    table_.push_front(HpackHeader{name, value, false});
    size_ += entry;
}

ParseOutcome HpackDecoder::decode(Bytes block, std::vector<HpackHeader>& out) {
    ByteReader r(block);
    std::size_t list_size = 0;
    std::size_t fields = 0;
    bool field_seen = false;
    while (!r.empty()) {
        std::uint8_t first;
        r.u8(first);
        if ((first & 0xe0) == 0x20) {
            // Dynamic table size update: only before the first field of a block (4.2).
            if (field_seen) return ParseOutcome::Malformed;
            std::uint64_t new_size = 0;
            if (const ParseOutcome o = read_integer(r, first, 5, new_size); o != ParseOutcome::Ok) return o;
            if (new_size > limits_.max_table_size) return ParseOutcome::TooLarge;
            max_size_ = static_cast<std::size_t>(new_size);
            evict_to(max_size_);
            continue;
        }
        field_seen = true;
        if (++fields > limits_.max_fields) return ParseOutcome::TooLarge;
        HpackHeader h;
        if (first & 0x80) {
            // Indexed header field (6.1).
            std::uint64_t index = 0;
            if (const ParseOutcome o = read_integer(r, first, 7, index); o != ParseOutcome::Ok) return o;
            if (!lookup(index, h.name, &h.value)) return ParseOutcome::Malformed;
        } else {
            // Literal: with incremental indexing (01), never indexed (0001), without indexing (0000).
            const bool incremental = (first & 0xc0) == 0x40;
            const int prefix = incremental ? 6 : 4;
            h.never_indexed = !incremental && (first & 0x10) != 0;
            std::uint64_t index = 0;
            if (const ParseOutcome o = read_integer(r, first, prefix, index); o != ParseOutcome::Ok) return o;
            if (index == 0) {
                if (const ParseOutcome o = read_string(r, limits_, h.name); o != ParseOutcome::Ok) return o;
            } else if (!lookup(index, h.name, nullptr)) {
                return ParseOutcome::Malformed;
            }
            if (const ParseOutcome o = read_string(r, limits_, h.value); o != ParseOutcome::Ok) return o;
            if (incremental) insert(h.name, h.value);
        }
        list_size += h.name.size() + h.value.size() + kEntryOverhead;
        if (list_size > limits_.max_header_list) return ParseOutcome::TooLarge;
        out.push_back(std::move(h));
    }
    return ParseOutcome::Ok;
}

}  // namespace meshproof::audit
