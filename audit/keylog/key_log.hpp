// Reader of the NSS key log format (what OpenSSL's -keylogfile / SSL_CTX_set_keylog_callback, curl,
// Go and NSS's SSLKEYLOGFILE, rustls' KeyLogFile, python's keylog_filename and Envoy's key_log
// write): one secret per line, `LABEL <client random: 64 hex> <secret: hex>`, `#` comments.
//
// Kept: the TLS 1.3 handshake traffic secrets (CLIENT_/SERVER_HANDSHAKE_TRAFFIC_SECRET), which open
// exactly the encrypted handshake, and TLS 1.2 CLIENT_RANDOM master secrets. Application traffic,
// early traffic and exporter secrets are checked for shape and dropped: meshproof never decrypts
// application data, so it never holds the keys to it. Unknown labels of the right shape are ignored
// (newer writers add some, e.g. ECH_SECRET). A line of the wrong shape is an error naming file:line;
// no error ever quotes the line, since it holds a secret.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include <tl/expected.hpp>

#include "audit/keylog/secret_bytes.hpp"
#include "common/byte_reader.hpp"

namespace meshproof::audit {

struct KeyLogLimits {
    std::size_t max_client_randoms = 262144;  // connections remembered (the flow table's default bound)
    std::size_t max_line = 1024;              // the longest real line is ~230 bytes
    std::size_t max_file_bytes = std::size_t{256} << 20;
};

// The secrets of one connection (one client random). Empty = not in the key log.
struct KeyLogEntry {
    SecretBytes client_handshake_traffic;  // TLS 1.3
    SecretBytes server_handshake_traffic;  // TLS 1.3
    SecretBytes tls12_master;              // TLS 1.2 CLIENT_RANDOM (48 bytes)
};

struct KeyLogCounts {
    std::size_t lines = 0;                 // lines with a secret (comments and blank lines not counted)
    std::size_t tls13_handshakes = 0;      // client randoms with both handshake traffic secrets
    std::size_t tls12_sessions = 0;        // client randoms with a CLIENT_RANDOM master secret
    std::size_t dropped_secrets = 0;       // application / early / exporter secrets, not kept
    std::size_t unknown_labels = 0;
    std::size_t duplicates = 0;            // a label repeated for a client random (the first is kept)
};

class KeyLog {
public:
    using ClientRandom = std::array<std::uint8_t, 32>;

    // Reads `path` line by line (bounded by `limits`). Errors: "PATH: cannot open", "PATH:LINE: ...",
    // "PATH: no TLS 1.3 handshake secrets or TLS 1.2 master secrets" (a key log that yields nothing).
    static tl::expected<KeyLog, std::string> load(const std::string& path, KeyLogLimits limits = {});
    // The same from text; `name` stands for the file in messages.
    static tl::expected<KeyLog, std::string> parse(std::string_view text, std::string_view name,
                                                   KeyLogLimits limits = {});

    // The secrets logged for this client random, or nullptr (a random of the wrong size: nullptr).
    [[nodiscard]] const KeyLogEntry* find(Bytes client_random) const;
    [[nodiscard]] const KeyLogCounts& counts() const { return counts_; }

private:
    struct RandomHash {
        std::size_t operator()(const ClientRandom& r) const noexcept;
    };
    class Builder;

    std::unordered_map<ClientRandom, KeyLogEntry, RandomHash> entries_;
    KeyLogCounts counts_;
};

}  // namespace meshproof::audit
