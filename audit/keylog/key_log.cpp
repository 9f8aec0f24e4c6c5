#include "audit/keylog/key_log.hpp"

#include <fstream>
#include <optional>
#include <vector>

#include <openssl/crypto.h>

namespace meshproof::audit {
namespace {

enum class Label : std::uint8_t { ClientRandom, ClientHandshake, ServerHandshake, Dropped, Unknown };

Label classify_label(std::string_view label) {
    if (label == "CLIENT_RANDOM") return Label::ClientRandom;
    if (label == "CLIENT_HANDSHAKE_TRAFFIC_SECRET") return Label::ClientHandshake;
    if (label == "SERVER_HANDSHAKE_TRAFFIC_SECRET") return Label::ServerHandshake;
    if (label == "CLIENT_EARLY_TRAFFIC_SECRET" || label == "CLIENT_TRAFFIC_SECRET_0" ||
        label == "SERVER_TRAFFIC_SECRET_0" || label == "EARLY_EXPORTER_SECRET" || label == "EXPORTER_SECRET")
        return Label::Dropped;
    return Label::Unknown;
}

bool valid_label(std::string_view label) {
    if (label.empty() || label.size() > 64) return false;
    for (const char c : label)
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool valid_hex(std::string_view s) {
    if (s.empty() || s.size() % 2 != 0) return false;
    for (const char c : s)
        if (hex_value(c) < 0) return false;
    return true;
}

// `s` is valid_hex.
std::vector<std::uint8_t> decode_hex(std::string_view s) {
    std::vector<std::uint8_t> out(s.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<std::uint8_t>((hex_value(s[2 * i]) << 4) | hex_value(s[2 * i + 1]));
    return out;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Up to 4 fields split on runs of blanks (4 = "too many").
std::size_t split_fields(std::string_view line, std::array<std::string_view, 4>& fields) {
    std::size_t n = 0;
    std::size_t i = 0;
    while (i < line.size() && n < fields.size()) {
        while (i < line.size() && is_blank(line[i])) ++i;
        if (i == line.size()) break;
        const std::size_t start = i;
        while (i < line.size() && !is_blank(line[i])) ++i;
        fields[n++] = line.substr(start, i - start);
    }
    return n;
}

}  // namespace

std::size_t KeyLog::RandomHash::operator()(const ClientRandom& r) const noexcept {
    // Client randoms are uniformly random: their first bytes are a good hash already.
    std::size_t h = 0;
    for (std::size_t i = 0; i < sizeof(std::size_t); ++i) h = (h << 8) | r[i];
    return h;
}

class KeyLog::Builder {
public:
    Builder(std::string_view name, KeyLogLimits limits) : name_(name), limits_(limits) {}

    // One line without its '\n'. An error names the file and line, never the line's text.
    std::optional<std::string> line(std::string_view text) {
        ++line_number_;
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        if (text.size() > limits_.max_line)
            return where() + "line longer than " + std::to_string(limits_.max_line) + " bytes";
        std::size_t first = 0;
        while (first < text.size() && is_blank(text[first])) ++first;
        if (first == text.size() || text[first] == '#') return std::nullopt;
        std::array<std::string_view, 4> f;
        const std::size_t n = split_fields(text, f);
        constexpr const char* kShape = " (expected: LABEL <client random, 64 hex digits> <secret, hex>)";
        if (n != 3) return where() + "not a key log line: " + std::to_string(n) + " fields" + kShape;
        if (!valid_label(f[0])) return where() + "not a key log line: the label is not upper-case letters, digits and '_'" + kShape;
        if (!valid_hex(f[1]) || !valid_hex(f[2]))
            return where() + "not a key log line: the client random or the secret is not hex" + kShape;
        ++log_.counts_.lines;
        const Label label = classify_label(f[0]);
        if (label == Label::Unknown) {
            ++log_.counts_.unknown_labels;
            return std::nullopt;
        }
        if (f[1].size() != 64) return where() + "the client random is not 32 bytes (64 hex digits)";
        const std::size_t secret_bytes = f[2].size() / 2;
        if (label == Label::ClientRandom && secret_bytes != 48)
            return where() + "a CLIENT_RANDOM master secret is 48 bytes, this one is " + std::to_string(secret_bytes);
        if (label != Label::ClientRandom && secret_bytes != 32 && secret_bytes != 48)
            return where() + "a TLS 1.3 secret is 32 or 48 bytes (SHA-256 / SHA-384), this one is " +
                   std::to_string(secret_bytes);
        if (label == Label::Dropped) {
            ++log_.counts_.dropped_secrets;
            return std::nullopt;
        }
        ClientRandom random{};
        const auto random_bytes = decode_hex(f[1]);
        std::copy(random_bytes.begin(), random_bytes.end(), random.begin());
        auto it = log_.entries_.find(random);
        if (it == log_.entries_.end()) {
            if (log_.entries_.size() >= limits_.max_client_randoms)
                return where() + "more than " + std::to_string(limits_.max_client_randoms) +
                       " connections in the key log (the limit)";
            it = log_.entries_.emplace(random, KeyLogEntry{}).first;
        }
        SecretBytes& slot = label == Label::ClientRandom    ? it->second.tls12_master
                            : label == Label::ClientHandshake ? it->second.client_handshake_traffic
                                                              : it->second.server_handshake_traffic;
        if (!slot.empty()) {
            ++log_.counts_.duplicates;
            return std::nullopt;
        }
        slot = SecretBytes(decode_hex(f[2]));
        return std::nullopt;
    }

    tl::expected<KeyLog, std::string> finish() {
        for (const auto& [random, entry] : log_.entries_) {
            if (!entry.client_handshake_traffic.empty() && !entry.server_handshake_traffic.empty())
                ++log_.counts_.tls13_handshakes;
            if (!entry.tls12_master.empty()) ++log_.counts_.tls12_sessions;
        }
        if (log_.counts_.tls13_handshakes == 0 && log_.counts_.tls12_sessions == 0)
            return tl::unexpected(std::string(name_) +
                                  ": no TLS 1.3 handshake secrets (CLIENT_ and SERVER_HANDSHAKE_TRAFFIC_SECRET of "
                                  "one client random) and no TLS 1.2 CLIENT_RANDOM lines");
        return std::move(log_);
    }

    // The next line is longer than max_line (seen before all of it was read).
    std::string too_long() {
        ++line_number_;
        return where() + "line longer than " + std::to_string(limits_.max_line) + " bytes";
    }

    [[nodiscard]] std::string where() const { return std::string(name_) + ":" + std::to_string(line_number_) + ": "; }

private:
    std::string_view name_;
    KeyLogLimits limits_;
    std::size_t line_number_ = 0;
    KeyLog log_;
};

tl::expected<KeyLog, std::string> KeyLog::parse(std::string_view text, std::string_view name, KeyLogLimits limits) {
    if (text.size() > limits.max_file_bytes)
        return tl::unexpected(std::string(name) + ": larger than " + std::to_string(limits.max_file_bytes) + " bytes");
    Builder b(name, limits);
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        if (auto err = b.line(text.substr(0, nl))) return tl::unexpected(std::move(*err));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return b.finish();
}

tl::expected<KeyLog, std::string> KeyLog::load(const std::string& path, KeyLogLimits limits) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return tl::unexpected(path + ": cannot open the key log");
    Builder b(path, limits);
    // Read in chunks; a line is carried over at most max_line + 2 bytes ("\r\n"), so /dev/zero or a
    // file without newlines stops with "line longer than" instead of growing memory.
    std::vector<char> chunk(64 * 1024);
    std::string carry;
    std::size_t total = 0;
    const auto wipe_all = [&] {
        if (!carry.empty()) OPENSSL_cleanse(carry.data(), carry.size());
        OPENSSL_cleanse(chunk.data(), chunk.size());
    };
    while (in) {
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        const auto got = static_cast<std::size_t>(in.gcount());
        if (got == 0) break;
        total += got;
        if (total > limits.max_file_bytes) {
            wipe_all();
            return tl::unexpected(path + ": larger than " + std::to_string(limits.max_file_bytes) + " bytes");
        }
        std::string_view data(chunk.data(), got);
        while (!data.empty()) {
            const std::size_t nl = data.find('\n');
            const std::string_view piece = data.substr(0, nl);
            if (carry.size() + piece.size() > limits.max_line + 1) {  // + 1: a '\r' before the '\n'
                wipe_all();
                return tl::unexpected(b.too_long());
            }
            if (nl == std::string_view::npos) {
                carry.append(piece);
                break;
            }
            std::optional<std::string> err;
            if (carry.empty()) {
                err = b.line(piece);
            } else {
                carry.append(piece);
                err = b.line(carry);
                OPENSSL_cleanse(carry.data(), carry.size());
                carry.clear();
            }
            if (err) {
                wipe_all();
                return tl::unexpected(std::move(*err));
            }
            data.remove_prefix(nl + 1);
        }
    }
    if (in.bad()) {
        wipe_all();
        return tl::unexpected(path + ": read error");
    }
    std::optional<std::string> err;
    if (!carry.empty()) err = b.line(carry);
    wipe_all();
    if (err) return tl::unexpected(std::move(*err));
    return b.finish();
}

const KeyLogEntry* KeyLog::find(Bytes client_random) const {
    if (client_random.size() != 32) return nullptr;
    ClientRandom r{};
    std::copy(client_random.begin(), client_random.end(), r.begin());
    const auto it = entries_.find(r);
    return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace meshproof::audit
