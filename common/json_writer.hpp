// A minimal streaming JSON writer: enough for JSON lines reports, with correct string escaping
// (bytes off the wire are not guaranteed UTF-8, so invalid sequences are escaped as \u00XX).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meshproof {

class JsonWriter {
public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b);
    JsonWriter& value(std::int64_t n);
    JsonWriter& value(std::uint64_t n);
    JsonWriter& value(int n) { return value(static_cast<std::int64_t>(n)); }
    JsonWriter& value(unsigned n) { return value(static_cast<std::uint64_t>(n)); }
    JsonWriter& value(double d, int decimals = 6);
    JsonWriter& null();
    template <class T>
    JsonWriter& value(const std::optional<T>& o) {
        return o ? value(*o) : null();
    }
    JsonWriter& value(const std::vector<std::string>& list);
    // Shorthand for key + value.
    template <class T>
    JsonWriter& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }

    [[nodiscard]] const std::string& str() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    void separator();
    std::string out_;
    std::vector<bool> first_;  // per open container: nothing written yet
    bool after_key_ = false;
};

// Escape for a JSON string body (no quotes).
void json_escape(std::string_view s, std::string& out);

}  // namespace meshproof
