// Secrets seen in plaintext traffic (credentials, tokens, cookies) and the helpers that find them in
// HTTP headers, query strings, form and JSON bodies and SQL text. A Secret's value is the raw bytes
// as they crossed the wire; reports print redact(value) unless the user asks for --show-secrets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/direction.hpp"

namespace meshproof::audit {

struct Secret {
    std::string kind;      // "authorization", "cookie", "password", "token", "redis-auth", ...
    std::string location;  // short, never contains the value: "HTTP header Authorization (Basic)"
    Direction direction = Direction::ClientToServer;
    std::string value;     // the raw secret
};

// "Bas… (len 26)": at most the first 4 characters, 1 for values of <= 8 characters and none for
// values of <= 3, non-printable characters shown as '.'.
std::string redact(std::string_view value);

// One line for reports: "authorization at HTTP header Authorization (Basic): Bas… (len 26)".
std::string describe_secret(const Secret& secret, bool show_value);

// Appends unless the same kind and value was already found in the same direction (a cookie repeated
// on every pipelined request is one finding). Empty values are ignored.
void add_secret(std::vector<Secret>& out, std::string_view kind, std::string location, Direction direction,
                std::string_view value);

// Kind for a parameter or JSON field name ("password", "token", "api-key", "secret") or "" when the
// name is not sensitive. Case, '-' and '_' are ignored: "Access-Token" == "access_token".
std::string_view sensitive_field_kind(std::string_view name);

// Kind for an HTTP header name (case-insensitive) or "": "authorization", "proxy-authorization",
// "cookie", "set-cookie", "api-key", "token", "password", "secret".
std::string_view sensitive_header_kind(std::string_view name);

// Finds secrets in one header. protocol_label is "HTTP" or "HTTP/2" (goes into the location).
void find_header_secrets(std::string_view name, std::string_view value, Direction direction,
                         std::string_view protocol_label, std::vector<Secret>& out);

// k=v&k=v (percent-decoded). where: "query parameter" or "form field". A value cut by the end of the
// captured bytes is still reported when last_pair_complete is true only.
void find_urlencoded_secrets(std::string_view pairs, Direction direction, std::string_view where,
                             std::vector<Secret>& out, bool last_pair_complete = true);

// Userinfo (http://user:pass@host) and query parameters of a request target.
void find_target_secrets(std::string_view target, Direction direction, std::vector<Secret>& out);

// The request target with userinfo passwords and sensitive query values replaced by "<redacted>".
std::string redact_target(std::string_view target);

// "key": "value" pairs anywhere in a JSON document (nested or not); tolerant of a cut document.
void find_json_secrets(std::string_view json, Direction direction, std::vector<Secret>& out);

// PASSWORD 'x', IDENTIFIED BY 'x' in SQL text. where: "PostgreSQL query", "MySQL query".
void find_sql_secrets(std::string_view sql, Direction direction, std::string_view where,
                      std::vector<Secret>& out);

// Standard base64 (padding optional, no whitespace); nullopt when not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

// %XX decoding; '+' becomes a space when plus_as_space (form encoding). Bad escapes are kept as is.
std::string percent_decode(std::string_view text, bool plus_as_space);

// Printable ASCII only (others become '.'), cut to max_len characters with "..." appended.
std::string printable_excerpt(std::string_view text, std::size_t max_len);

// Replaces every occurrence of a secret value (of 4 characters or more) in text with "<redacted>":
// the last line of defence for first_line and evidence strings.
void scrub_secrets(std::string& text, const std::vector<Secret>& secrets);

inline constexpr std::string_view kRedacted = "<redacted>";

}  // namespace meshproof::audit
