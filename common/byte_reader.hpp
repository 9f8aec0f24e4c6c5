// Bounded cursor over untrusted bytes, in the style of BoringSSL's CBS and Envoy's tls_inspector.
// Every read checks the remaining length first; length-prefixed reads hand back a child reader
// bounded to exactly that length, so a parser can never walk past the end of its own field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace meshproof {

using Bytes = std::span<const std::uint8_t>;

class ByteReader {
public:
    ByteReader() = default;
    explicit ByteReader(Bytes data) : data_(data) {}

    [[nodiscard]] std::size_t remaining() const { return data_.size(); }
    [[nodiscard]] bool empty() const { return data_.empty(); }
    [[nodiscard]] Bytes rest() const { return data_; }

    // Fixed-size big-endian reads. Return false (and consume nothing) when too short.
    bool u8(std::uint8_t& out) {
        if (data_.empty()) return false;
        out = data_[0];
        data_ = data_.subspan(1);
        return true;
    }
    bool u16(std::uint16_t& out) {
        if (data_.size() < 2) return false;
        out = static_cast<std::uint16_t>((data_[0] << 8) | data_[1]);
        data_ = data_.subspan(2);
        return true;
    }
    bool u24(std::uint32_t& out) {
        if (data_.size() < 3) return false;
        out = (std::uint32_t{data_[0]} << 16) | (std::uint32_t{data_[1]} << 8) | data_[2];
        data_ = data_.subspan(3);
        return true;
    }
    bool u32(std::uint32_t& out) {
        if (data_.size() < 4) return false;
        out = (std::uint32_t{data_[0]} << 24) | (std::uint32_t{data_[1]} << 16) |
              (std::uint32_t{data_[2]} << 8) | data_[3];
        data_ = data_.subspan(4);
        return true;
    }
    // Little-endian reads, for the few formats that use them (MySQL, BSD loopback).
    bool u16le(std::uint16_t& out) {
        if (data_.size() < 2) return false;
        out = static_cast<std::uint16_t>(data_[0] | (data_[1] << 8));
        data_ = data_.subspan(2);
        return true;
    }
    bool u24le(std::uint32_t& out) {
        if (data_.size() < 3) return false;
        out = std::uint32_t{data_[0]} | (std::uint32_t{data_[1]} << 8) | (std::uint32_t{data_[2]} << 16);
        data_ = data_.subspan(3);
        return true;
    }
    bool u32le(std::uint32_t& out) {
        if (data_.size() < 4) return false;
        out = std::uint32_t{data_[0]} | (std::uint32_t{data_[1]} << 8) | (std::uint32_t{data_[2]} << 16) |
              (std::uint32_t{data_[3]} << 24);
        data_ = data_.subspan(4);
        return true;
    }

    // Take exactly n bytes.
    bool bytes(std::size_t n, Bytes& out) {
        if (data_.size() < n) return false;
        out = data_.first(n);
        data_ = data_.subspan(n);
        return true;
    }
    // Take exactly n bytes as a child reader bounded to them.
    bool child(std::size_t n, ByteReader& out) {
        Bytes b;
        if (!bytes(n, b)) return false;
        out = ByteReader(b);
        return true;
    }
    bool skip(std::size_t n) {
        if (data_.size() < n) return false;
        data_ = data_.subspan(n);
        return true;
    }

    // Length-prefixed children: the prefix is read, then a reader over exactly that many bytes.
    // On failure nothing is consumed, so the caller can tell NeedMore from Malformed.
    bool prefixed8(ByteReader& out) { return prefixed<1>(out); }
    bool prefixed16(ByteReader& out) { return prefixed<2>(out); }
    bool prefixed24(ByteReader& out) { return prefixed<3>(out); }

    // Look without consuming.
    [[nodiscard]] std::optional<std::uint8_t> peek8(std::size_t at = 0) const {
        if (at >= data_.size()) return std::nullopt;
        return data_[at];
    }
    [[nodiscard]] std::optional<std::uint16_t> peek16(std::size_t at = 0) const {
        if (data_.size() < 2 || at > data_.size() - 2) return std::nullopt;
        return static_cast<std::uint16_t>((data_[at] << 8) | data_[at + 1]);
    }
    [[nodiscard]] std::string_view as_string_view() const {
        return {reinterpret_cast<const char*>(data_.data()), data_.size()};
    }

private:
    template <int N>
    bool prefixed(ByteReader& out) {
        ByteReader probe = *this;
        std::uint32_t len = 0;
        if constexpr (N == 1) {
            std::uint8_t v;
            if (!probe.u8(v)) return false;
            len = v;
        } else if constexpr (N == 2) {
            std::uint16_t v;
            if (!probe.u16(v)) return false;
            len = v;
        } else {
            if (!probe.u24(len)) return false;
        }
        if (!probe.child(len, out)) return false;
        *this = probe;
        return true;
    }

    Bytes data_{};
};

inline std::string_view as_chars(Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

}  // namespace meshproof
