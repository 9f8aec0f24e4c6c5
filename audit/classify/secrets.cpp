#include "audit/classify/secrets.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace meshproof::audit {
namespace {

constexpr std::size_t kMaxNameLength = 64;    // longer parameter names are not credential names
constexpr std::size_t kMaxLabelLength = 40;   // names quoted in a location

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_printable(char c) { return c >= 0x20 && c < 0x7f; }

bool is_ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string lower_copy(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower_ascii(c);
    return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool contains(std::string_view s, std::string_view needle) { return s.find(needle) != std::string_view::npos; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// Lowercase with '-', '_', '.' and spaces removed, so "Access-Token" and "access_token" compare equal.
std::string normalize_name(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    for (char c : name) {
        if (c == '-' || c == '_' || c == '.' || c == ' ') continue;
        out.push_back(lower_ascii(c));
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
        out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
}

// A JSON string starting at json[pos] == '"'. Returns the decoded text and moves pos past the
// closing quote; nullopt when the string is cut by the end of the input.
std::optional<std::string> read_json_string(std::string_view json, std::size_t& pos) {
    std::string out;
    std::size_t i = pos + 1;
    while (i < json.size()) {
        const char c = json[i];
        if (c == '"') {
            pos = i + 1;
            return out;
        }
        if (c != '\\') {
            out.push_back(c);
            ++i;
            continue;
        }
        if (i + 1 >= json.size()) return std::nullopt;
        const char e = json[i + 1];
        i += 2;
        switch (e) {
            case 'n': out.push_back('\n'); break;
            case 't': out.push_back('\t'); break;
            case 'r': out.push_back('\r'); break;
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'u': {
                if (i + 4 > json.size()) return std::nullopt;
                std::uint32_t cp = 0;
                bool ok = true;
                for (std::size_t k = 0; k < 4; ++k) {
                    const int h = hex_value(json[i + k]);
                    if (h < 0) ok = false;
                    cp = (cp << 4) | static_cast<std::uint32_t>(h < 0 ? 0 : h);
                }
                i += 4;
                // Lone surrogates cannot be re-encoded; a '?' keeps the length honest enough.
                if (!ok || (cp >= 0xd800 && cp <= 0xdfff)) {
                    out.push_back('?');
                } else {
                    append_utf8(out, cp);
                }
                break;
            }
            default: out.push_back(e); break;  // \" \\ \/ and anything unknown
        }
    }
    return std::nullopt;
}

std::size_t skip_json_space(std::string_view json, std::size_t pos) {
    while (pos < json.size() && (json[pos] == ' ' || json[pos] == '\t' || json[pos] == '\r' || json[pos] == '\n')) {
        ++pos;
    }
    return pos;
}

std::string label(std::string_view name) { return printable_excerpt(name, kMaxLabelLength); }

// A quoted SQL literal at sql[pos] ('...' or "..."), with '' and \' escapes. nullopt when cut.
std::optional<std::string> read_sql_literal(std::string_view sql, std::size_t pos) {
    if (pos >= sql.size() || (sql[pos] != '\'' && sql[pos] != '"')) return std::nullopt;
    const char quote = sql[pos];
    std::string out;
    for (std::size_t i = pos + 1; i < sql.size(); ++i) {
        const char c = sql[i];
        if (c == '\\' && i + 1 < sql.size()) {
            out.push_back(sql[++i]);
        } else if (c == quote) {
            if (i + 1 < sql.size() && sql[i + 1] == quote) {
                out.push_back(quote);
                ++i;
            } else {
                return out;
            }
        } else {
            out.push_back(c);
        }
    }
    return std::nullopt;
}

}  // namespace

std::string redact(std::string_view value) {
    const std::size_t shown = value.size() <= 3 ? 0 : value.size() <= 8 ? 1 : 4;
    std::string out;
    for (std::size_t i = 0; i < shown; ++i) out.push_back(is_printable(value[i]) ? value[i] : '.');
    out += "\xe2\x80\xa6 (len ";  // U+2026 HORIZONTAL ELLIPSIS
    out += std::to_string(value.size());
    out += ')';
    return out;
}

std::string describe_secret(const Secret& secret, bool show_value) {
    std::string out = secret.kind;
    out += " at ";
    out += secret.location;
    out += ": ";
    out += show_value ? printable_excerpt(secret.value, 4096) : redact(secret.value);
    return out;
}

void add_secret(std::vector<Secret>& out, std::string_view kind, std::string location, Direction direction,
                std::string_view value) {
    if (value.empty()) return;
    for (const Secret& s : out) {
        if (s.direction == direction && s.kind == kind && s.value == value) return;
    }
    out.push_back(Secret{std::string(kind), std::move(location), direction, std::string(value)});
}

std::string_view sensitive_field_kind(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) return {};
    const std::string n = normalize_name(name);
    if (n == "pwd" || n == "pass" || n == "passwd" || n == "passphrase" || ends_with(n, "password") ||
        ends_with(n, "passwd")) {
        return "password";
    }
    static constexpr std::array<std::string_view, 16> kTokens{
        "token",       "accesstoken",   "refreshtoken", "idtoken",       "authtoken",    "bearertoken",
        "sessiontoken", "securitytoken", "apitoken",     "privatetoken",  "oauthtoken",   "xauthtoken",
        "xaccesstoken", "jwt",           "authkey",      "personalaccesstoken"};
    for (std::string_view t : kTokens) {
        if (n == t) return "token";
    }
    if (n == "apikey" || n == "xapikey" || ends_with(n, "apikey")) return "api-key";
    static constexpr std::array<std::string_view, 8> kSecrets{
        "secret", "clientsecret", "apisecret", "secretkey", "secretaccesskey", "awssecretaccesskey",
        "appsecret", "privatekey"};
    for (std::string_view s : kSecrets) {
        if (n == s) return "secret";
    }
    return {};
}

std::string_view sensitive_header_kind(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) return {};
    const std::string n = lower_copy(name);
    if (n == "proxy-authorization") return "proxy-authorization";
    if (n == "cookie") return "cookie";
    if (n == "set-cookie") return "set-cookie";
    if (contains(n, "authorization")) return "authorization";
    // Anti-CSRF tokens are not credentials by themselves, and they are on every form post.
    if (contains(n, "csrf") || contains(n, "xsrf")) return {};
    if (contains(n, "api-key") || contains(n, "apikey") || contains(n, "api_key")) return "api-key";
    if (contains(n, "token")) return "token";
    if (contains(n, "password") || contains(n, "passwd")) return "password";
    if (contains(n, "secret")) return "secret";
    return {};
}

void find_header_secrets(std::string_view name, std::string_view value, Direction direction,
                         std::string_view protocol_label, std::vector<Secret>& out) {
    const std::string_view kind = sensitive_header_kind(name);
    if (kind.empty()) return;
    value = trim(value);
    std::string location(protocol_label);
    location += " header ";
    location += label(name);
    if (kind == "set-cookie") {
        const std::string_view pair = trim(value.substr(0, value.find(';')));
        const std::size_t eq = pair.find('=');
        if (eq != std::string_view::npos) {
            location += " (";
            location += label(trim(pair.substr(0, eq)));
            location += ')';
        }
        add_secret(out, kind, std::move(location), direction, pair);
        return;
    }
    if (kind == "authorization" || kind == "proxy-authorization") {
        // "Basic xxx", "Bearer xxx": the scheme is not secret and tells the reader what leaked.
        const std::size_t space = value.find(' ');
        if (space != std::string_view::npos && space > 0 && space <= 20) {
            location += " (";
            location += label(value.substr(0, space));
            location += ')';
        }
    }
    add_secret(out, kind, std::move(location), direction, value);
}

void find_urlencoded_secrets(std::string_view pairs, Direction direction, std::string_view where,
                             std::vector<Secret>& out, bool last_pair_complete) {
    std::size_t pos = 0;
    while (pos <= pairs.size()) {
        const std::size_t amp = pairs.find('&', pos);
        const bool last = amp == std::string_view::npos;
        const std::string_view pair = pairs.substr(pos, last ? std::string_view::npos : amp - pos);
        if (last && !last_pair_complete) break;
        const std::size_t eq = pair.find('=');
        if (eq != std::string_view::npos) {
            const std::string name = percent_decode(pair.substr(0, eq), true);
            const std::string_view kind = sensitive_field_kind(name);
            if (!kind.empty()) {
                std::string location(where);
                location += ' ';
                location += label(name);
                add_secret(out, kind, std::move(location), direction, percent_decode(pair.substr(eq + 1), true));
            }
        }
        if (last) break;
        pos = amp + 1;
    }
}

namespace {

struct TargetParts {
    std::string_view prefix;      // scheme://
    std::string_view user;        // userinfo user (may be empty)
    std::string_view password;    // userinfo password (may be empty)
    bool has_userinfo = false;
    bool has_password = false;
    std::string_view rest;        // host[:port]/path... up to the query
    std::string_view query;       // without '?'
    bool has_query = false;
    std::string_view fragment;    // with '#'
};

TargetParts split_target(std::string_view target) {
    TargetParts p;
    std::string_view t = target;
    const std::size_t hash = t.find('#');
    if (hash != std::string_view::npos) {
        p.fragment = t.substr(hash);
        t = t.substr(0, hash);
    }
    const std::size_t q = t.find('?');
    if (q != std::string_view::npos) {
        p.query = t.substr(q + 1);
        p.has_query = true;
        t = t.substr(0, q);
    }
    const std::size_t scheme_end = t.find("://");
    if (scheme_end != std::string_view::npos && t.find('/') > scheme_end) {
        p.prefix = t.substr(0, scheme_end + 3);
        t = t.substr(scheme_end + 3);
        const std::size_t authority_end = std::min(t.find('/'), t.size());
        const std::string_view authority = t.substr(0, authority_end);
        const std::size_t at = authority.rfind('@');
        if (at != std::string_view::npos) {
            p.has_userinfo = true;
            const std::string_view userinfo = authority.substr(0, at);
            const std::size_t colon = userinfo.find(':');
            p.user = userinfo.substr(0, colon);
            if (colon != std::string_view::npos) {
                p.password = userinfo.substr(colon + 1);
                p.has_password = true;
            }
            t = t.substr(at + 1);
        }
    }
    p.rest = t;
    return p;
}

}  // namespace

void find_target_secrets(std::string_view target, Direction direction, std::vector<Secret>& out) {
    const TargetParts p = split_target(target);
    if (p.has_password) add_secret(out, "basic-auth", "URL userinfo", direction, percent_decode(p.password, false));
    if (p.has_query) find_urlencoded_secrets(p.query, direction, "query parameter", out, true);
}

std::string redact_target(std::string_view target) {
    const TargetParts p = split_target(target);
    std::string out(p.prefix);
    if (p.has_userinfo) {
        out += p.user;
        if (p.has_password) {
            out += ':';
            out += kRedacted;
        }
        out += '@';
    }
    out += p.rest;
    if (p.has_query) {
        out += '?';
        std::size_t pos = 0;
        bool first = true;
        while (pos <= p.query.size()) {
            const std::size_t amp = p.query.find('&', pos);
            const bool last = amp == std::string_view::npos;
            const std::string_view pair = p.query.substr(pos, last ? std::string_view::npos : amp - pos);
            if (!first) out += '&';
            first = false;
            const std::size_t eq = pair.find('=');
            if (eq != std::string_view::npos && !sensitive_field_kind(percent_decode(pair.substr(0, eq), true)).empty()) {
                out += pair.substr(0, eq + 1);
                out += kRedacted;
            } else {
                out += pair;
            }
            if (last) break;
            pos = amp + 1;
        }
    }
    out += p.fragment;
    return out;
}

void find_json_secrets(std::string_view json, Direction direction, std::vector<Secret>& out) {
    // Not a full JSON parser: a tokenizer that remembers the last `"key":` and looks at the string
    // value after it. Nesting does not matter, and a document cut mid-way still yields its pairs.
    std::optional<std::string> pending_key;
    std::size_t pos = 0;
    while (pos < json.size()) {
        const char c = json[pos];
        if (c != '"') {
            // Anything but whitespace or ':' between a key and its value means the value is not a string.
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ':') pending_key.reset();
            ++pos;
            continue;
        }
        std::optional<std::string> text = read_json_string(json, pos);
        if (!text) return;  // cut mid-string
        if (pending_key) {
            const std::string_view kind = sensitive_field_kind(*pending_key);
            if (!kind.empty()) {
                std::string location = "JSON field ";
                location += label(*pending_key);
                add_secret(out, kind, std::move(location), direction, *text);
            }
            pending_key.reset();
            continue;
        }
        const std::size_t after = skip_json_space(json, pos);
        if (after < json.size() && json[after] == ':') {
            pending_key = std::move(text);
            pos = after + 1;
        }
    }
}

void find_sql_secrets(std::string_view sql, Direction direction, std::string_view where, std::vector<Secret>& out) {
    const std::string lower = lower_copy(sql);
    auto skip_space = [&](std::size_t p) {
        while (p < lower.size() && (lower[p] == ' ' || lower[p] == '\t' || lower[p] == '\r' || lower[p] == '\n')) ++p;
        return p;
    };
    auto keyword_at = [&](std::size_t p, std::string_view kw) {
        if (lower.compare(p, kw.size(), kw) != 0) return false;
        if (p > 0 && is_ident_char(lower[p - 1])) return false;
        const std::size_t end = p + kw.size();
        return end >= lower.size() || !is_ident_char(lower[end]);
    };
    std::string location(where);
    location += " password literal";
    for (std::size_t p = 0; p < lower.size(); ++p) {
        std::size_t literal = std::string::npos;
        if (keyword_at(p, "identified")) {
            std::size_t q = skip_space(p + 10);
            if (lower.compare(q, 2, "by") != 0) continue;
            q = skip_space(q + 2);
            if (keyword_at(q, "password")) q = skip_space(q + 8);  // IDENTIFIED BY PASSWORD '*hash'
            literal = q;
        } else if (keyword_at(p, "password")) {
            std::size_t q = skip_space(p + 8);
            if (q < lower.size() && lower[q] == '=') q = skip_space(q + 1);
            if (lower.compare(q, 9, "password(") == 0) q = skip_space(q + 9);  // PASSWORD('x')
            literal = q;
        }
        if (literal == std::string::npos) continue;
        if (std::optional<std::string> value = read_sql_literal(sql, literal)) {
            add_secret(out, "password", location, direction, *value);
        }
    }
}

std::optional<std::string> base64_decode(std::string_view text) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    if (bits >= 6) return std::nullopt;  // a single leftover character cannot encode a byte
    return out;
}

std::string percent_decode(std::string_view text, bool plus_as_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%' && i + 2 < text.size()) {
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_as_space && c == '+' ? ' ' : c);
    }
    return out;
}

std::string printable_excerpt(std::string_view text, std::size_t max_len) {
    std::string out;
    const bool cut = text.size() > max_len;
    const std::size_t keep = cut ? (max_len >= 3 ? max_len - 3 : 0) : text.size();
    out.reserve(keep + 3);
    for (std::size_t i = 0; i < keep; ++i) out.push_back(is_printable(text[i]) ? text[i] : '.');
    if (cut) out.append(max_len >= 3 ? 3 : max_len, '.');
    return out;
}

void scrub_secrets(std::string& text, const std::vector<Secret>& secrets) {
    for (const Secret& s : secrets) {
        if (s.value.size() < 4) continue;
        std::size_t pos = 0;
        while ((pos = text.find(s.value, pos)) != std::string::npos) {
            text.replace(pos, s.value.size(), kRedacted);
            pos += kRedacted.size();
        }
    }
}

}  // namespace meshproof::audit
