// Shared by every fuzz target and by the regression replay test (tests/unit/regressions): a cursor
// that turns fuzzer bytes into decisions, an invariant check that aborts (so libFuzzer keeps the
// input and doctest reports the crash), and a strict JSON-lines validator for report output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "common/byte_reader.hpp"

// An invariant the code under test promises; a violation is a bug just like a sanitizer report.
#define MESHPROOF_FUZZ_CHECK(cond)                                                                    \
    do {                                                                                              \
        if (!(cond)) {                                                                                \
            std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                             \
        }                                                                                             \
    } while (0)

namespace meshproof::fuzz {

// Fuzzer bytes as a stream of decisions. Running out of bytes yields zeros / empty spans, so every
// input is a valid program (libFuzzer mutates freely, we never reject).
class FuzzInput {
public:
    explicit FuzzInput(Bytes data) : data_(data) {}

    std::uint8_t u8() {
        if (data_.empty()) return 0;
        const std::uint8_t v = data_[0];
        data_ = data_.subspan(1);
        return v;
    }
    std::uint16_t u16() {
        const auto hi = u8();
        return static_cast<std::uint16_t>((hi << 8) | u8());
    }
    std::uint32_t u32() {
        const std::uint32_t hi = u16();
        return (hi << 16) | u16();
    }
    // Up to n bytes (fewer at the end of the input).
    Bytes take(std::size_t n) {
        const std::size_t k = n < data_.size() ? n : data_.size();
        const Bytes out = data_.first(k);
        data_ = data_.subspan(k);
        return out;
    }
    Bytes rest() {
        const Bytes out = data_;
        data_ = {};
        return out;
    }
    [[nodiscard]] bool empty() const { return data_.empty(); }
    [[nodiscard]] std::size_t remaining() const { return data_.size(); }

private:
    Bytes data_;
};

// Strict UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF): what Python's
// json.loads on a text-mode file, jq and browsers accept.
inline bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t n = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 2;
        else if (c == 0xE0) n = 3, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) n = 3;
        else if (c == 0xED) n = 3, hi = 0x9F;
        else if (c >= 0xEE && c <= 0xEF) n = 3;
        else if (c == 0xF0) n = 4, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) n = 4;
        else if (c == 0xF4) n = 4, hi = 0x8F;
        else return false;
        if (i + n > s.size()) return false;
        const auto c1 = static_cast<unsigned char>(s[i + 1]);
        if (c1 < lo || c1 > hi) return false;
        for (std::size_t k = 2; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

// A recursive-descent JSON (RFC 8259) syntax check of one complete value, nesting bounded.
class JsonChecker {
public:
    static bool valid(std::string_view text) {
        if (!valid_utf8(text)) return false;
        JsonChecker c(text);
        c.ws();
        if (!c.value(0)) return false;
        c.ws();
        return c.pos_ == text.size();
    }

private:
    explicit JsonChecker(std::string_view t) : t_(t) {}
    [[nodiscard]] bool at_end() const { return pos_ >= t_.size(); }
    [[nodiscard]] char peek() const { return at_end() ? '\0' : t_[pos_]; }
    void ws() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
    }
    bool lit(std::string_view w) {
        if (t_.substr(pos_, w.size()) != w) return false;
        pos_ += w.size();
        return true;
    }
    bool value(int depth) {
        if (depth > 64) return false;
        switch (peek()) {
            case '{': return object(depth);
            case '[': return array(depth);
            case '"': return string();
            case 't': return lit("true");
            case 'f': return lit("false");
            case 'n': return lit("null");
            default: return number();
        }
    }
    bool object(int depth) {
        ++pos_;
        ws();
        if (peek() == '}') return ++pos_, true;
        while (true) {
            ws();
            if (!string()) return false;
            ws();
            if (peek() != ':') return false;
            ++pos_;
            ws();
            if (!value(depth + 1)) return false;
            ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == '}') return ++pos_, true;
            return false;
        }
    }
    bool array(int depth) {
        ++pos_;
        ws();
        if (peek() == ']') return ++pos_, true;
        while (true) {
            ws();
            if (!value(depth + 1)) return false;
            ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == ']') return ++pos_, true;
            return false;
        }
    }
    static bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
    bool string() {
        if (peek() != '"') return false;
        ++pos_;
        while (!at_end()) {
            const auto c = static_cast<unsigned char>(t_[pos_]);
            if (c == '"') return ++pos_, true;
            if (c < 0x20) return false;
            if (c == '\\') {
                ++pos_;
                const char e = peek();
                if (e == 'u') {
                    for (int k = 1; k <= 4; ++k) {
                        if (pos_ + static_cast<std::size_t>(k) >= t_.size() || !hex(t_[pos_ + static_cast<std::size_t>(k)]))
                            return false;
                    }
                    pos_ += 5;
                    continue;
                }
                if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos || e == '\0') return false;
            }
            ++pos_;
        }
        return false;
    }
    bool digits() {
        const std::size_t start = pos_;
        while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
        return pos_ > start;
    }
    bool number() {
        if (peek() == '-') ++pos_;
        if (peek() == '0') ++pos_;
        else if (!digits()) return false;
        if (peek() == '.') {
            ++pos_;
            if (!digits()) return false;
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!digits()) return false;
        }
        return true;
    }

    std::string_view t_;
    std::size_t pos_ = 0;
};

// Every non-empty line is one valid JSON value.
inline bool valid_json_lines(std::string_view text) {
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        if (!line.empty() && !JsonChecker::valid(line)) {
            std::fprintf(stderr, "invalid JSON line: %.*s\n", static_cast<int>(line.size() < 2000 ? line.size() : 2000),
                         line.data());
            return false;
        }
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return true;
}

}  // namespace meshproof::fuzz
