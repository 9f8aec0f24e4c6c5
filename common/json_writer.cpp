#include "common/json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace meshproof {

namespace {
// Length of a valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_len(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) n = 3;
    else if (c >= 0xF0 && c <= 0xF4) n = 4;
    else return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    }
    return n;
}
}  // namespace

void json_escape(std::string_view s, std::string& out) {
    out.reserve(out.size() + s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        // Fast path: append the run of plain printable ASCII in one go.
        std::size_t run = i;
        while (run < s.size()) {
            const auto r = static_cast<unsigned char>(s[run]);
            if (r < 0x20 || r >= 0x7f || r == '"' || r == '\\') break;
            ++run;
        }
        if (run > i) {
            out.append(s.substr(i, run - i));
            if (run == s.size()) return;
            i = run;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"': out += "\\\""; continue;
            case '\\': out += "\\\\"; continue;
            case '\n': out += "\\n"; continue;
            case '\r': out += "\\r"; continue;
            case '\t': out += "\\t"; continue;
            default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (std::size_t n = utf8_len(s, i); n) {
            out.append(s.substr(i, n));
            i += n - 1;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        }
    }
}

void JsonWriter::separator() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        if (!first_.back()) out_ += ',';
        first_.back() = false;
    }
}

JsonWriter& JsonWriter::begin_object() {
    separator();
    out_ += '{';
    first_.push_back(true);
    return *this;
}
JsonWriter& JsonWriter::end_object() {
    out_ += '}';
    first_.pop_back();
    return *this;
}
JsonWriter& JsonWriter::begin_array() {
    separator();
    out_ += '[';
    first_.push_back(true);
    return *this;
}
JsonWriter& JsonWriter::end_array() {
    out_ += ']';
    first_.pop_back();
    return *this;
}
JsonWriter& JsonWriter::key(std::string_view k) {
    separator();
    out_ += '"';
    json_escape(k, out_);
    out_ += "\":";
    after_key_ = true;
    return *this;
}
JsonWriter& JsonWriter::value(std::string_view s) {
    separator();
    out_ += '"';
    json_escape(s, out_);
    out_ += '"';
    return *this;
}
JsonWriter& JsonWriter::value(bool b) {
    separator();
    out_ += b ? "true" : "false";
    return *this;
}
JsonWriter& JsonWriter::value(std::int64_t n) {
    separator();
    out_ += std::to_string(n);
    return *this;
}
JsonWriter& JsonWriter::value(std::uint64_t n) {
    separator();
    out_ += std::to_string(n);
    return *this;
}
JsonWriter& JsonWriter::value(double d, int decimals) {
    separator();
    if (!std::isfinite(d)) {
        out_ += "null";
        return *this;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, d);
    out_ += buf;
    return *this;
}
JsonWriter& JsonWriter::null() {
    separator();
    out_ += "null";
    return *this;
}
JsonWriter& JsonWriter::value(const std::vector<std::string>& list) {
    begin_array();
    for (const auto& s : list) value(std::string_view(s));
    return end_array();
}

}  // namespace meshproof
