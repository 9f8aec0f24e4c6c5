// Plaintext application protocols recognised from the first bytes of each direction of a TCP flow,
// and the secrets that crossed the wire in them. Content decides; the server port only breaks ties
// (HTTP sent to port 22 is HTTP). Pure: bytes in, facts out; no verdict here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/classify/secrets.hpp"
#include "common/byte_reader.hpp"
#include "common/direction.hpp"
#include "common/parse_outcome.hpp"

namespace meshproof::audit {

// One parser run over one direction, for meshproof_parse_outcomes_total{parser,outcome}.
struct ParserRun {
    std::string_view parser;  // static name: "http1", "http2", "hpack", "redis", "postgresql", ...
    Direction direction = Direction::ClientToServer;
    ParseOutcome outcome = ParseOutcome::Ok;
};

struct PlaintextFacts {
    // "http", "h2c", "grpc", "redis", "postgresql", "mysql", "dns", "mqtt", "smtp", "imap", "pop3",
    // "ftp", "ssh", "socks"; "" = not recognised.
    std::string protocol;
    // Request line / banner / command summary; secret values replaced by "<redacted>", printable
    // ASCII only, at most 200 characters.
    std::string first_line;
    std::optional<std::string> http_host;
    std::optional<std::string> http_method;
    std::optional<std::string> http_path;  // sensitive query values and userinfo redacted
    std::optional<int> http_status;
    // A protocol message parsed in that direction (not merely some bytes).
    bool client_readable = false;
    bool server_readable = false;
    // The server spoke first (SMTP/FTP/IMAP/POP3/SSH banner, MySQL greeting) and the client sent
    // nothing parseable.
    bool server_banner_only = false;
    // SSH: banner, then binary packets.
    bool encrypted_after_banner = false;
    // The plaintext prelude asks for TLS next: "smtp-starttls", "imap-starttls", "pop3-stls",
    // "ftp-auth-tls", "postgresql-sslrequest", "mysql-ssl", "http-connect", "socks" (tunnel data
    // follows; the caller checks whether it is TLS).
    std::optional<std::string> tls_upgrade;
    // Where the upgraded bytes start in c2s / s2c, when that point was captured: run the TLS
    // parser on c2s.subspan(*upgrade_c2s_offset).
    std::optional<std::size_t> upgrade_c2s_offset;
    std::optional<std::size_t> upgrade_s2c_offset;
    // Set when the server answered in another protocol than the one the client spoke, e.g. "ssh"
    // for an HTTP request sent to sshd.
    std::string server_protocol;
    std::vector<Secret> secrets;
    // Short facts a person can check in Wireshark: "HTTP/1.1 request GET /api", "HTTP/2 preface".
    std::vector<std::string> evidence;
    std::vector<ParserRun> outcomes;

    [[nodiscard]] OutcomeCounts outcome_counts() const;
};

// c2s and s2c: the first in-order bytes of each direction (either may be empty or cut anywhere).
PlaintextFacts classify_plaintext(Bytes c2s, Bytes s2c, std::uint16_t server_port);

}  // namespace meshproof::audit
