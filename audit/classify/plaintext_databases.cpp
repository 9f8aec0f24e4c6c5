// Redis (RESP and inline commands), PostgreSQL (startup, SSLRequest, authentication) and MySQL
// (greeting, handshake response, SSL request) in clear.
#include <array>
#include <vector>

#include "audit/classify/plaintext_detail.hpp"

namespace meshproof::audit::plaintext_detail {
namespace {

constexpr std::size_t kMaxArgsKept = 64;
constexpr std::uint64_t kRedisMaxArgs = 1024 * 1024;      // Redis' own multibulk limit
constexpr std::uint64_t kRedisMaxBulk = 512ull << 20;     // proto-max-bulk-len default

std::string hex_string(Bytes b) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(b.size() * 2);
    for (std::uint8_t v : b) {
        out.push_back(kHex[v >> 4]);
        out.push_back(kHex[v & 0xf]);
    }
    return out;
}

// Signed decimal for RESP lengths; nullopt when not a number of at most 18 digits.
std::optional<std::int64_t> parse_decimal(std::string_view s) {
    bool negative = false;
    if (!s.empty() && s[0] == '-') {
        negative = true;
        s.remove_prefix(1);
    }
    if (!all_digits(s) || s.size() > 18) return std::nullopt;
    std::int64_t v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return negative ? -v : v;
}

// ---------------------------------------------------------------------------------------------
// Redis

constexpr std::array<std::string_view, 64> kRedisCommands{
    "PING",    "AUTH",     "HELLO",     "SELECT",  "GET",      "SET",      "DEL",       "EXISTS",
    "INCR",    "DECR",     "EXPIRE",    "TTL",     "KEYS",     "SCAN",     "INFO",      "CLIENT",
    "CONFIG",  "QUIT",     "ECHO",      "MGET",    "MSET",     "HGET",     "HSET",      "HGETALL",
    "LPUSH",   "RPUSH",    "LPOP",      "RPOP",    "LRANGE",   "SADD",     "SMEMBERS",  "ZADD",
    "ZRANGE",  "PUBLISH",  "SUBSCRIBE", "PSUBSCRIBE", "MULTI", "EXEC",     "DISCARD",   "WATCH",
    "FLUSHALL", "FLUSHDB", "DBSIZE",    "TYPE",    "EVAL",     "EVALSHA",  "COMMAND",   "MONITOR",
    "REPLICAOF", "SLAVEOF", "SYNC",     "PSYNC",   "CLUSTER",  "XADD",     "XREAD",     "SETEX",
    "SETNX",   "INCRBY",   "HMSET",     "HMGET",   "SCARD",    "ZSCORE",   "UNLINK",    "MIGRATE"};

bool is_redis_command(std::string_view word) {
    const std::string u = upper(word);
    for (std::string_view c : kRedisCommands) {
        if (c == u) return true;
    }
    return false;
}

// Words POP3/SMTP/FTP clients send too: not enough on their own to say Redis.
bool is_shared_text_command(std::string_view word) {
    return iequals(word, "AUTH") || iequals(word, "QUIT") || iequals(word, "ECHO");
}

struct RespCommand {
    std::vector<std::string_view> args;  // the first kMaxArgsKept
    std::uint64_t arg_count = 0;
    bool inline_form = false;
};

ParseOutcome read_resp_command(std::string_view buf, std::size_t& pos, RespCommand& cmd) {
    cmd = RespCommand{};
    if (buf[pos] == '*') {
        const std::optional<Line> head = read_line(buf, pos, 32);
        if (!head) return buf.size() - pos >= 32 ? ParseOutcome::Malformed : ParseOutcome::NeedMore;
        const std::optional<std::int64_t> n = parse_decimal(head->text.substr(1));
        if (!n || *n < 0) return ParseOutcome::Malformed;
        if (static_cast<std::uint64_t>(*n) > kRedisMaxArgs) return ParseOutcome::TooLarge;
        cmd.arg_count = static_cast<std::uint64_t>(*n);
        std::size_t p = head->next;
        for (std::uint64_t i = 0; i < cmd.arg_count; ++i) {
            const std::optional<Line> bulk = read_line(buf, p, 32);
            if (!bulk) return buf.size() - p >= 32 ? ParseOutcome::Malformed : ParseOutcome::NeedMore;
            if (bulk->text.empty() || bulk->text[0] != '$') return ParseOutcome::Malformed;
            const std::optional<std::int64_t> len = parse_decimal(bulk->text.substr(1));
            if (!len || *len < 0) return ParseOutcome::Malformed;
            if (static_cast<std::uint64_t>(*len) > kRedisMaxBulk) return ParseOutcome::TooLarge;
            const std::size_t l = static_cast<std::size_t>(*len);
            if (buf.size() - bulk->next < l + 2) return ParseOutcome::NeedMore;
            if (buf.substr(bulk->next + l, 2) != "\r\n") return ParseOutcome::Malformed;
            if (cmd.args.size() < kMaxArgsKept) cmd.args.push_back(buf.substr(bulk->next, l));
            p = bulk->next + l + 2;
        }
        pos = p;
        return cmd.arg_count == 0 ? ParseOutcome::Malformed : ParseOutcome::Ok;
    }
    // Inline command: space-separated words on one line ("PING\r\n", "AUTH secret\r\n").
    const std::optional<Line> line = read_line(buf, pos, 65536);
    if (!line) return buf.size() - pos >= 65536 ? ParseOutcome::TooLarge : ParseOutcome::NeedMore;
    if (!is_printable_text(line->text)) return ParseOutcome::NotThisProtocol;
    cmd.inline_form = true;
    std::string_view rest = line->text;
    while (!trim(rest).empty()) {
        rest = trim(rest);
        std::string_view word;
        if (rest[0] == '"' || rest[0] == '\'') {
            const std::size_t close = rest.find(rest[0], 1);
            word = rest.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
            rest = close == std::string_view::npos ? std::string_view{} : rest.substr(close + 1);
        } else {
            word = split_word(rest, rest);
        }
        ++cmd.arg_count;
        if (cmd.args.size() < kMaxArgsKept) cmd.args.push_back(word);
    }
    pos = line->next;
    return ParseOutcome::Ok;
}

// One server reply (RESP2/RESP3). type gets the leading byte.
ParseOutcome read_resp_reply(std::string_view buf, std::size_t& pos, int depth, char& type) {
    if (depth > 8) return ParseOutcome::TooLarge;
    const std::optional<Line> line = read_line(buf, pos, 65536);
    if (!line) return buf.size() - pos >= 65536 ? ParseOutcome::TooLarge : ParseOutcome::NeedMore;
    if (line->text.empty()) return ParseOutcome::Malformed;
    type = line->text[0];
    const std::string_view arg = line->text.substr(1);
    switch (type) {
        case '+': case '-': case ':': case '_': case '#': case ',': case '(':
            if (!is_printable_text(arg)) return ParseOutcome::Malformed;
            pos = line->next;
            return ParseOutcome::Ok;
        case '$': case '!': case '=': {
            const std::optional<std::int64_t> len = parse_decimal(arg);
            if (!len || *len < -1) return ParseOutcome::Malformed;
            if (*len == -1) {
                pos = line->next;
                return ParseOutcome::Ok;
            }
            if (static_cast<std::uint64_t>(*len) > kRedisMaxBulk) return ParseOutcome::TooLarge;
            const std::size_t l = static_cast<std::size_t>(*len);
            if (buf.size() - line->next < l + 2) return ParseOutcome::NeedMore;
            if (buf.substr(line->next + l, 2) != "\r\n") return ParseOutcome::Malformed;
            pos = line->next + l + 2;
            return ParseOutcome::Ok;
        }
        case '*': case '%': case '~': case '>': case '|': {
            const std::optional<std::int64_t> n = parse_decimal(arg);
            if (!n || *n < -1) return ParseOutcome::Malformed;
            if (*n > static_cast<std::int64_t>(kRedisMaxArgs)) return ParseOutcome::TooLarge;
            std::size_t p = line->next;
            const std::int64_t elements = (type == '%' || type == '|') ? *n * 2 : *n;
            for (std::int64_t i = 0; i < elements; ++i) {
                if (p >= buf.size()) return ParseOutcome::NeedMore;
                char inner = 0;
                if (const ParseOutcome o = read_resp_reply(buf, p, depth + 1, inner); o != ParseOutcome::Ok) return o;
            }
            pos = p;
            return ParseOutcome::Ok;
        }
        default: return ParseOutcome::NotThisProtocol;
    }
}

// Secrets in one Redis command; returns true when it carried one.
bool redis_command_secrets(const RespCommand& cmd, PlaintextFacts& facts) {
    const auto& a = cmd.args;
    if (a.empty()) return false;
    const std::string name = upper(a[0]);
    const std::string form = cmd.inline_form ? " (inline)" : " (RESP)";
    const std::size_t before = facts.secrets.size();
    const Direction c2s = Direction::ClientToServer;
    if (name == "AUTH" && a.size() == 2) {
        add_secret(facts.secrets, "redis-auth", "Redis AUTH" + form, c2s, a[1]);
    } else if (name == "AUTH" && a.size() >= 3) {
        add_secret(facts.secrets, "redis-auth", "Redis AUTH" + form, c2s, a[2]);
        add_evidence(facts, "Redis AUTH for user " + printable_excerpt(a[1], 40));
    } else if (name == "HELLO") {
        for (std::size_t i = 1; i + 2 < a.size(); ++i) {
            if (iequals(a[i], "AUTH")) {
                add_secret(facts.secrets, "redis-auth", "Redis HELLO AUTH" + form, c2s, a[i + 2]);
                add_evidence(facts, "Redis HELLO AUTH for user " + printable_excerpt(a[i + 1], 40));
                break;
            }
        }
    } else if (name == "CONFIG" && a.size() >= 4 && iequals(a[1], "SET") &&
               (iequals(a[2], "requirepass") || iequals(a[2], "masterauth"))) {
        add_secret(facts.secrets, "redis-auth", "Redis CONFIG SET " + std::string(a[2] == "masterauth" ? "masterauth" : "requirepass"), c2s, a[3]);
    } else if (name == "MIGRATE") {
        for (std::size_t i = 1; i < a.size(); ++i) {
            if (iequals(a[i], "AUTH") && i + 1 < a.size()) {
                add_secret(facts.secrets, "redis-auth", "Redis MIGRATE AUTH", c2s, a[i + 1]);
            } else if (iequals(a[i], "AUTH2") && i + 2 < a.size()) {
                add_secret(facts.secrets, "redis-auth", "Redis MIGRATE AUTH2", c2s, a[i + 2]);
            }
        }
    }
    return facts.secrets.size() > before;
}

std::string redis_summary(const RespCommand& cmd, bool has_secret) {
    std::string s = upper(cmd.args.empty() ? std::string_view{} : cmd.args[0]);
    if (has_secret) return s + " " + std::string(kRedacted);
    if (cmd.args.size() > 1) s += " " + printable_excerpt(cmd.args[1], 40);
    if (cmd.arg_count > 2) s += " (+" + std::to_string(cmd.arg_count - 2) + " more args)";
    return s;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

constexpr std::uint32_t kPgSslRequest = 80877103;
constexpr std::uint32_t kPgGssEncRequest = 80877104;
constexpr std::uint32_t kPgCancelRequest = 80877102;
constexpr std::uint32_t kPgMaxStartup = 10000;    // the server's own limit for a startup packet
constexpr std::uint32_t kPgMaxMessage = 1u << 30;

bool pg_is_startup_code(std::uint32_t code) { return (code >> 16) == 3 || code == 0x00020000; }

// NUL-terminated string inside r; false when there is no NUL.
bool read_cstring(ByteReader& r, std::string_view& out) {
    const std::string_view rest = r.as_string_view();
    const std::size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) return false;
    out = rest.substr(0, nul);
    r.skip(nul + 1);
    return true;
}

struct PgMessage {
    char type = 0;
    Bytes payload;
};

// Typed messages ('p', 'Q', 'R', ...) from pos; stops at the first cut or bad one.
ParseOutcome read_pg_messages(Bytes data, std::vector<PgMessage>& out) {
    ByteReader r(data);
    while (!r.empty() && out.size() < kMaxMessages) {
        ByteReader probe = r;
        std::uint8_t type = 0;
        std::uint32_t len = 0;
        if (!probe.u8(type) || !probe.u32(len)) return ParseOutcome::NeedMore;
        if (len < 4 || !((type >= 'A' && type <= 'Z') || (type >= 'a' && type <= 'z'))) return ParseOutcome::Malformed;
        if (len > kPgMaxMessage) return ParseOutcome::TooLarge;
        Bytes payload;
        if (!probe.bytes(len - 4, payload)) return ParseOutcome::NeedMore;
        out.push_back(PgMessage{static_cast<char>(type), payload});
        r = probe;
    }
    return ParseOutcome::Ok;
}

void pg_server_messages(const std::vector<PgMessage>& msgs, std::vector<std::uint32_t>& auth_requests,
                        PlaintextFacts& facts) {
    bool ok_seen = false;
    for (const PgMessage& m : msgs) {
        ByteReader r(m.payload);
        if (m.type == 'R') {
            std::uint32_t code = 0;
            if (!r.u32(code)) continue;
            if (code == 0) {
                if (!ok_seen) add_evidence(facts, "server AuthenticationOk");
                ok_seen = true;
            } else if (code == 3) {
                add_evidence(facts, "server asked for a cleartext password (AuthenticationCleartextPassword)");
            } else if (code == 5) {
                add_evidence(facts, "server asked for an MD5 password hash (AuthenticationMD5Password)");
            } else if (code == 10) {
                std::string mechs;
                std::string_view mech;
                while (read_cstring(r, mech) && !mech.empty()) mechs += (mechs.empty() ? "" : ",") + std::string(mech);
                add_evidence(facts, "server asked for SASL authentication (" + printable_excerpt(mechs, 60) + ")");
            }
            // Codes that expect a 'p' answer, in order: cleartext, MD5, GSS, GSS continue, SSPI,
            // SASL, SASL continue.
            if (code == 3 || code == 5 || code == 7 || code == 8 || code == 9 || code == 10 || code == 11) {
                auth_requests.push_back(code);
            }
        } else if (m.type == 'E') {
            std::string_view field, sqlstate, message;
            std::uint8_t tag = 0;
            while (r.u8(tag) && tag != 0 && read_cstring(r, field)) {
                if (tag == 'C') sqlstate = field;
                if (tag == 'M') message = field;
            }
            add_evidence(facts, "server error " + printable_excerpt(sqlstate, 8) + ": " +
                                    printable_excerpt(message, kEvidenceText));
        } else if (m.type == 'S') {
            std::string_view name, value;
            if (read_cstring(r, name) && read_cstring(r, value) && name == "server_version") {
                add_evidence(facts, "server_version " + printable_excerpt(value, 60));
            }
        }
    }
}

void pg_password_message(Bytes payload, std::uint32_t code, PlaintextFacts& facts) {
    const std::string_view text = as_text(payload);
    const std::string_view str = text.substr(0, text.find('\0'));
    const Direction c2s = Direction::ClientToServer;
    if (code == 0) {
        // No server side captured: tell the kinds apart by their content.
        if (str.size() == 35 && str.rfind("md5", 0) == 0) code = 5;
        else if (istarts_with(text, "SCRAM-") || istarts_with(text, "OAUTHBEARER")) code = 10;
        else if (str.rfind("c=", 0) == 0 && str.find(",p=") != std::string_view::npos) code = 11;
        else code = 3;
    }
    if (code == 3) {
        add_secret(facts.secrets, "postgresql-password", "PostgreSQL PasswordMessage (cleartext)", c2s, str);
    } else if (code == 5) {
        add_secret(facts.secrets, "postgresql-md5", "PostgreSQL PasswordMessage (MD5 hash)", c2s, str);
    } else if (code == 10) {
        ByteReader r(payload);
        std::string_view mech;
        if (read_cstring(r, mech)) add_evidence(facts, "client SASLInitialResponse " + printable_excerpt(mech, 40));
    } else if (code == 11) {
        // SCRAM client-final-message: the proof is not the password, but it lets anyone who
        // captured the exchange guess the password offline.
        const std::size_t p = text.find(",p=");
        if (p != std::string_view::npos) {
            add_secret(facts.secrets, "postgresql-scram-proof", "PostgreSQL SCRAM client-final proof", c2s,
                       text.substr(p + 3));
        }
    } else {
        add_evidence(facts, "client GSSAPI/SSPI token");
    }
}

// ---------------------------------------------------------------------------------------------
// MySQL

constexpr std::uint32_t kMyConnectWithDb = 0x8, kMyProtocol41 = 0x200, kMySsl = 0x800,
                        kMySecureConnection = 0x8000, kMyPluginAuth = 0x80000, kMyPluginAuthLenenc = 0x200000;

struct MyPacket {
    std::uint8_t seq = 0;
    Bytes payload;
    std::size_t end = 0;  // offset after the packet in its direction
};

ParseOutcome read_my_packets(Bytes data, std::vector<MyPacket>& out) {
    ByteReader r(data);
    while (!r.empty() && out.size() < kMaxMessages) {
        ByteReader probe = r;
        std::uint32_t len = 0;
        std::uint8_t seq = 0;
        Bytes payload;
        if (!probe.u24le(len) || !probe.u8(seq)) return ParseOutcome::NeedMore;
        if (!probe.bytes(len, payload)) return ParseOutcome::NeedMore;
        r = probe;
        out.push_back(MyPacket{seq, payload, data.size() - r.remaining()});
    }
    return ParseOutcome::Ok;
}

struct MyGreeting {
    std::string_view version;
    std::uint32_t capabilities = 0;
    std::string_view plugin;
};

std::optional<MyGreeting> parse_my_greeting(Bytes payload) {
    ByteReader r(payload);
    std::uint8_t protocol = 0;
    if (!r.u8(protocol) || protocol != 10) return std::nullopt;
    MyGreeting g;
    if (!read_cstring(r, g.version) || g.version.empty() || g.version.size() > 64 || !is_printable_text(g.version)) {
        return std::nullopt;
    }
    std::uint32_t thread_id = 0;
    std::uint16_t caps_low = 0;
    std::uint8_t filler = 0;
    if (!r.u32le(thread_id) || !r.skip(8) || !r.u8(filler) || !r.u16le(caps_low)) return std::nullopt;
    g.capabilities = caps_low;
    std::uint8_t charset = 0, auth_len = 0;
    std::uint16_t status = 0, caps_high = 0;
    if (r.u8(charset) && r.u16le(status) && r.u16le(caps_high) && r.u8(auth_len) && r.skip(10)) {
        g.capabilities |= std::uint32_t{caps_high} << 16;
        const std::size_t part2 = std::max<std::size_t>(13, auth_len > 8 ? auth_len - 8u : 0u);
        if (r.skip(std::min(part2, r.remaining())) && (g.capabilities & kMyPluginAuth)) {
            std::string_view plugin = r.as_string_view();
            plugin = plugin.substr(0, plugin.find('\0'));
            if (is_printable_text(plugin)) g.plugin = plugin;
        }
    }
    return g;
}

// Length-encoded integer (MySQL protocol basics).
bool read_lenenc(ByteReader& r, std::uint64_t& v) {
    std::uint8_t first = 0;
    if (!r.u8(first)) return false;
    if (first < 0xfb) {
        v = first;
        return true;
    }
    if (first == 0xfc) {
        std::uint16_t x = 0;
        if (!r.u16le(x)) return false;
        v = x;
        return true;
    }
    if (first == 0xfd) {
        std::uint32_t x = 0;
        if (!r.u24le(x)) return false;
        v = x;
        return true;
    }
    if (first == 0xfe) {
        std::uint32_t lo = 0, hi = 0;
        if (!r.u32le(lo) || !r.u32le(hi)) return false;
        v = (std::uint64_t{hi} << 32) | lo;
        return true;
    }
    return false;  // 0xfb (NULL) and 0xff are not lengths
}

bool filler_is_zero(Bytes payload, std::size_t from, std::size_t count) {
    if (payload.size() < from + count) return false;
    for (std::size_t i = from; i < from + count; ++i) {
        if (payload[i] != 0) return false;
    }
    return true;
}

bool is_my_handshake_response(const MyPacket& p) {
    if (p.seq != 1 || p.payload.size() < 32) return false;
    ByteReader r(p.payload);
    std::uint32_t caps = 0;
    return r.u32le(caps) && (caps & kMyProtocol41) && filler_is_zero(p.payload, 9, 23);
}

}  // namespace

// ---- Redis ----

Sniff sniff_redis(const Flow& f) {
    Sniff s;
    const std::string_view c = as_text(f.c2s);
    if (c.size() >= 4 && c[0] == '*' && c[1] >= '1' && c[1] <= '9') {
        const std::size_t crlf = c.find("\r\n");
        if (crlf != std::string_view::npos && crlf <= 8 && all_digits(c.substr(1, crlf - 1)) &&
            (crlf + 2 >= c.size() || c[crlf + 2] == '$')) {
            s.client = 3;
        }
    } else if (!c.empty()) {
        const std::string_view first = c.substr(0, c.find_first_of(" \r\n"));
        if (first.size() < c.size() && is_redis_command(first)) s.client = is_shared_text_command(first) ? 1 : 2;
    }
    const std::string_view sv = as_text(f.s2c);
    if (sv.rfind("+PONG\r\n", 0) == 0 || sv.rfind("-NOAUTH", 0) == 0 || sv.rfind("-WRONGPASS", 0) == 0 ||
        sv.rfind("-ERR unknown command", 0) == 0) {
        s.server = 2;
    } else if (sv.rfind("+OK\r\n", 0) == 0 || (sv.size() >= 4 && (sv[0] == '$' || sv[0] == ':' || sv[0] == '*') &&
                                              sv[1] >= '0' && sv[1] <= '9')) {
        s.server = 1;
    }
    return s;
}

bool analyze_redis(const Flow& f, PlaintextFacts& facts) {
    const std::string_view c = as_text(f.c2s);
    std::size_t pos = 0, commands = 0;
    ParseOutcome co = ParseOutcome::Ok;
    while (pos < c.size() && commands < kMaxMessages) {
        // Blank lines between inline commands are ignored by Redis too.
        if (c[pos] == '\r' || c[pos] == '\n') {
            ++pos;
            continue;
        }
        RespCommand cmd;
        const ParseOutcome o = read_resp_command(c, pos, cmd);
        if (o != ParseOutcome::Ok) {
            co = (commands == 0 && o == ParseOutcome::Malformed) ? ParseOutcome::NotThisProtocol : o;
            break;
        }
        if (cmd.args.empty()) continue;
        if (commands == 0 && cmd.inline_form && !is_redis_command(cmd.args[0])) {
            co = ParseOutcome::NotThisProtocol;
            break;
        }
        const bool has_secret = redis_command_secrets(cmd, facts);
        if (commands == 0) {
            const std::string summary = redis_summary(cmd, has_secret);
            set_first_line(facts, summary);
            add_evidence(facts, cmd.inline_form ? "Redis inline command " + summary
                                                : "RESP array *" + std::to_string(cmd.arg_count) + " " + summary);
        }
        ++commands;
    }
    if (!c.empty()) record(facts, "redis", Direction::ClientToServer, co);
    if (commands > 1) add_evidence(facts, std::to_string(commands) + " Redis commands in the captured client bytes");

    const std::string_view sv = as_text(f.s2c);
    std::size_t replies = 0;
    ParseOutcome so = ParseOutcome::Ok;
    pos = 0;
    while (pos < sv.size() && replies < kMaxMessages) {
        const std::size_t start = pos;
        char type = 0;
        const ParseOutcome o = read_resp_reply(sv, pos, 0, type);
        if (o != ParseOutcome::Ok) {
            so = (replies == 0 && o == ParseOutcome::Malformed) ? ParseOutcome::NotThisProtocol : o;
            break;
        }
        if (replies == 0) {
            const std::optional<Line> line = read_line(sv, start);
            const std::string_view head = line ? line->text : std::string_view{};
            // Simple strings and errors are status text; bulk replies may hold user data.
            add_evidence(facts, (type == '+' || type == '-') ? "server reply " + printable_excerpt(head, 60)
                                                             : "server reply of type '" + std::string(1, type) + "'");
        } else if (type == '-') {
            const std::optional<Line> line = read_line(sv, start);
            if (line) add_evidence(facts, "server error " + printable_excerpt(line->text, 60));
        }
        ++replies;
    }
    if (!sv.empty()) record(facts, "redis", Direction::ServerToClient, so);
    // A first RESP array cut by the capture is still unmistakably Redis.
    const bool cut_resp = commands == 0 && co == ParseOutcome::NeedMore && sniff_redis(f).client == 3;
    if (commands == 0 && replies == 0 && !cut_resp) return false;
    facts.protocol = "redis";
    facts.client_readable = commands > 0;
    facts.server_readable = replies > 0;
    return true;
}

// ---- PostgreSQL ----

Sniff sniff_postgresql(const Flow& f) {
    Sniff s;
    ByteReader r(f.c2s);
    std::uint32_t len = 0, code = 0;
    if (r.u32(len) && r.u32(code)) {
        if (len == 8 && (code == kPgSslRequest || code == kPgGssEncRequest)) s.client = 3;
        else if (len == 16 && code == kPgCancelRequest) s.client = 3;
        else if (pg_is_startup_code(code) && len > 8 && len <= kPgMaxStartup) s.client = (code >> 16) == 3 ? 3 : 2;
    }
    if (f.s2c.size() == 1 && (f.s2c[0] == 'S' || f.s2c[0] == 'N')) s.server = 1;
    ByteReader sr(f.s2c);
    std::uint8_t type = 0;
    std::uint32_t slen = 0, scode = 0;
    if (sr.u8(type) && type == 'R' && sr.u32(slen) && slen >= 8 && slen < 1024 && sr.u32(scode) && scode <= 12) s.server = 2;
    return s;
}

bool analyze_postgresql(const Flow& f, PlaintextFacts& facts) {
    ByteReader r(f.c2s);
    std::uint32_t len = 0, code = 0;
    ByteReader probe = r;
    if (!probe.u32(len) || !probe.u32(code)) {
        if (!f.c2s.empty()) record(facts, "postgresql", Direction::ClientToServer, ParseOutcome::NeedMore);
        return false;
    }
    std::size_t c_off = 0, s_off = 0;
    facts.protocol = "postgresql";
    if (len == 8 && (code == kPgSslRequest || code == kPgGssEncRequest)) {
        const bool ssl = code == kPgSslRequest;
        facts.client_readable = true;
        add_evidence(facts, ssl ? "PostgreSQL SSLRequest (80877103)" : "PostgreSQL GSSENCRequest (80877104)");
        const std::string_view request_name = ssl ? "SSLRequest" : "GSSENCRequest";
        c_off = 8;
        const Bytes after = f.c2s.subspan(8);
        const char answer = f.s2c.empty() ? '\0' : static_cast<char>(f.s2c[0]);
        if (!f.s2c.empty()) {
            facts.server_readable = answer == 'S' || answer == 'N' || answer == 'G' || answer == 'E';
            // The one-byte answer is all we parse of the server here; its later bytes are TLS or
            // are parsed below as typed messages.
            record(facts, "postgresql", Direction::ServerToClient,
                   facts.server_readable ? ParseOutcome::Ok : ParseOutcome::NotThisProtocol);
        }
        const bool tls_follows = ssl && (answer == 'S' || (answer == '\0' && !after.empty() && after[0] == 0x16));
        if (tls_follows) {
            if (answer == 'S') add_evidence(facts, "server answered 'S': TLS follows");
            facts.tls_upgrade = "postgresql-sslrequest";
            facts.upgrade_c2s_offset = 8;
            if (answer == 'S') facts.upgrade_s2c_offset = 1;
            set_first_line(facts, request_name);
            record(facts, "postgresql", Direction::ClientToServer, ParseOutcome::Ok);
            return true;
        }
        if (answer == 'G') {
            add_evidence(facts, "server answered 'G': GSSAPI encryption follows");
            set_first_line(facts, request_name);
            record(facts, "postgresql", Direction::ClientToServer, ParseOutcome::Ok);
            return true;
        }
        if (answer == 'N') add_evidence(facts, "server answered 'N': the session continues in plaintext");
        if (answer == 'N' || answer == 'E') s_off = 1;
        probe = ByteReader(after);
        if (!probe.u32(len) || !probe.u32(code)) {
            set_first_line(facts, request_name);
            record(facts, "postgresql", Direction::ClientToServer, after.empty() ? ParseOutcome::Ok : ParseOutcome::NeedMore);
            return true;
        }
    }
    if (len == 16 && code == kPgCancelRequest) {
        facts.client_readable = true;
        add_evidence(facts, "PostgreSQL CancelRequest");
        set_first_line(facts, "CancelRequest");
        record(facts, "postgresql", Direction::ClientToServer, ParseOutcome::Ok);
        return true;
    }
    if (!pg_is_startup_code(code) || len <= 8 || len > kPgMaxStartup) {
        record(facts, "postgresql", Direction::ClientToServer,
               c_off == 0 ? ParseOutcome::NotThisProtocol : ParseOutcome::Malformed);
        if (c_off == 0) facts.protocol.clear();
        else set_first_line(facts, "SSLRequest");
        return c_off != 0;
    }
    // StartupMessage: protocol version, then name\0value\0 pairs and a final \0.
    ByteReader startup_reader(f.c2s.subspan(c_off));
    ByteReader startup;
    startup_reader.skip(8);
    const bool startup_complete = startup_reader.child(len - 8, startup);
    std::string summary = "StartupMessage " + std::to_string(code >> 16) + "." + std::to_string(code & 0xffff);
    std::string_view name, value;
    while (read_cstring(startup, name) && !name.empty() && read_cstring(startup, value)) {
        if (name == "user" || name == "database" || name == "replication" || name == "application_name") {
            summary += " " + std::string(name) + "=" + printable_excerpt(value, 40);
        } else if (name == "password") {
            // Not a real startup parameter, but some drivers pass anything the user configured.
            add_secret(facts.secrets, "postgresql-password", "PostgreSQL StartupMessage parameter password",
                       Direction::ClientToServer, value);
        }
    }
    facts.client_readable = true;
    set_first_line(facts, summary);
    add_evidence(facts, "PostgreSQL " + summary);
    if (!startup_complete) {
        record(facts, "postgresql", Direction::ClientToServer, ParseOutcome::NeedMore);
        return true;
    }
    c_off += len;

    // Server side first, so password messages can be paired with what the server asked for.
    std::vector<PgMessage> server_msgs;
    if (s_off < f.s2c.size()) {
        const ParseOutcome so = read_pg_messages(f.s2c.subspan(s_off), server_msgs);
        record(facts, "postgresql", Direction::ServerToClient,
               server_msgs.empty() && so == ParseOutcome::Malformed ? ParseOutcome::NotThisProtocol : so);
        if (!server_msgs.empty()) facts.server_readable = true;
    }
    std::vector<std::uint32_t> auth_requests;
    pg_server_messages(server_msgs, auth_requests, facts);

    std::vector<PgMessage> client_msgs;
    const ParseOutcome co = read_pg_messages(f.c2s.subspan(c_off), client_msgs);
    record(facts, "postgresql", Direction::ClientToServer, co);
    std::size_t password_index = 0;
    bool query_seen = false;
    for (const PgMessage& m : client_msgs) {
        if (m.type == 'p') {
            const std::uint32_t expected = password_index < auth_requests.size() ? auth_requests[password_index] : 0;
            ++password_index;
            pg_password_message(m.payload, expected, facts);
        } else if (m.type == 'Q' || m.type == 'P') {
            std::string_view sql = as_text(m.payload);
            if (m.type == 'P') {
                ByteReader pr(m.payload);
                std::string_view stmt;
                if (read_cstring(pr, stmt)) sql = pr.as_string_view();
            }
            sql = sql.substr(0, sql.find('\0'));
            find_sql_secrets(sql, Direction::ClientToServer, "PostgreSQL query", facts.secrets);
            if (!query_seen) add_evidence(facts, "PostgreSQL query: " + printable_excerpt(sql, kEvidenceText));
            query_seen = true;
        }
    }
    return true;
}

// ---- MySQL ----

Sniff sniff_mysql(const Flow& f) {
    Sniff s;
    std::vector<MyPacket> sp;
    read_my_packets(f.s2c.first(std::min<std::size_t>(f.s2c.size(), 1024)), sp);
    if (!sp.empty() && sp[0].seq == 0) {
        if (parse_my_greeting(sp[0].payload)) s.server = 3;
        else if (!sp[0].payload.empty() && sp[0].payload[0] == 0xff && sp[0].payload.size() >= 3) s.server = 2;
    } else if (f.s2c.size() >= 6 && f.s2c[3] == 0 && f.s2c[4] == 10) {
        s.server = 1;  // a greeting cut by the capture
    }
    std::vector<MyPacket> cp;
    read_my_packets(f.c2s.first(std::min<std::size_t>(f.c2s.size(), 4096)), cp);
    if (!cp.empty() && is_my_handshake_response(cp[0])) s.client = 3;
    return s;
}

bool analyze_mysql(const Flow& f, PlaintextFacts& facts) {
    std::vector<MyPacket> server;
    const ParseOutcome so = read_my_packets(f.s2c, server);
    std::optional<MyGreeting> greeting;
    std::size_t greeting_end = 0;
    if (!server.empty() && server[0].seq == 0) {
        greeting = parse_my_greeting(server[0].payload);
        greeting_end = server[0].end;
        if (greeting) {
            facts.server_readable = true;
            std::string e = "MySQL server greeting protocol 10, version " + printable_excerpt(greeting->version, 60);
            if (!greeting->plugin.empty()) e += ", auth plugin " + printable_excerpt(greeting->plugin, 40);
            if (greeting->capabilities & kMySsl) e += ", offers SSL";
            add_evidence(facts, std::move(e));
        } else if (!server[0].payload.empty() && server[0].payload[0] == 0xff) {
            facts.server_readable = true;
            ByteReader er(server[0].payload);
            std::uint16_t err = 0;
            er.skip(1);
            er.u16le(err);
            add_evidence(facts, "MySQL server error " + std::to_string(err) + " before login: " +
                                    printable_excerpt(er.as_string_view(), kEvidenceText));
        }
    }
    // After an SSL request the server's next bytes are TLS, not MySQL packets: only the greeting counts.
    const ParseOutcome server_outcome =
        facts.server_readable ? so : (so == ParseOutcome::NeedMore ? so : ParseOutcome::NotThisProtocol);
    auto record_server = [&](bool tls_follows) {
        if (f.s2c.empty()) return;
        record(facts, "mysql", Direction::ServerToClient,
               tls_follows && facts.server_readable ? ParseOutcome::Ok : server_outcome);
    };

    std::vector<MyPacket> client;
    const ParseOutcome co = read_my_packets(f.c2s, client);
    std::string user;
    std::string plugin = greeting ? std::string(greeting->plugin) : std::string{};
    bool login_seen = false;
    ParseOutcome client_outcome = co;
    if (!client.empty() && is_my_handshake_response(client[0])) {
        const MyPacket& hr = client[0];
        ByteReader r(hr.payload);
        std::uint32_t caps = 0;
        r.u32le(caps);
        facts.client_readable = true;
        if ((caps & kMySsl) && hr.payload.size() == 32) {
            facts.protocol = "mysql";
            facts.tls_upgrade = "mysql-ssl";
            facts.upgrade_c2s_offset = hr.end;
            if (greeting) facts.upgrade_s2c_offset = greeting_end;
            add_evidence(facts, "client SSLRequest (CLIENT_SSL capability, 32-byte handshake): TLS follows");
            set_first_line(facts, greeting ? "MySQL " + std::string(greeting->version) + " SSL request" : "MySQL SSL request");
            record(facts, "mysql", Direction::ClientToServer, ParseOutcome::Ok);
            record_server(true);
            return true;
        }
        r.skip(4 + 1 + 23);  // max packet size, character set, filler
        std::string_view name;
        if (read_cstring(r, name)) {
            user = printable_excerpt(name, 40);
            Bytes auth;
            bool auth_ok = false;
            if (caps & kMyPluginAuthLenenc) {
                std::uint64_t n = 0;
                auth_ok = read_lenenc(r, n) && n <= r.remaining() && r.bytes(static_cast<std::size_t>(n), auth);
            } else if (caps & kMySecureConnection) {
                std::uint8_t n = 0;
                auth_ok = r.u8(n) && r.bytes(n, auth);
            } else {
                // Old clients: the scrambled password is NUL-terminated.
                const std::size_t nul = r.as_string_view().find('\0');
                auth_ok = nul != std::string_view::npos && r.bytes(nul, auth) && r.skip(1);
            }
            std::string_view db;
            if (auth_ok && (caps & kMyConnectWithDb)) read_cstring(r, db);
            std::string_view client_plugin;
            if (auth_ok && (caps & kMyPluginAuth)) {
                client_plugin = r.as_string_view();
                client_plugin = client_plugin.substr(0, client_plugin.find('\0'));
                if (!client_plugin.empty() && is_printable_text(client_plugin)) plugin = std::string(client_plugin);
            }
            login_seen = true;
            std::string e = "MySQL login user=" + user;
            if (!db.empty()) e += " db=" + printable_excerpt(db, 40);
            if (!plugin.empty()) e += " plugin " + printable_excerpt(plugin, 40);
            add_evidence(facts, std::move(e));
            if (!auth_ok) {
                client_outcome = ParseOutcome::Malformed;
            } else if (auth.empty()) {
                add_evidence(facts, "MySQL login with an empty password");
            } else {
                const bool clear = plugin == "mysql_clear_password";
                add_secret(facts.secrets, "mysql-auth",
                           "MySQL HandshakeResponse auth data" + (plugin.empty() ? std::string{} : " (" + printable_excerpt(plugin, 40) + ")"),
                           Direction::ClientToServer,
                           clear ? std::string(as_text(auth).substr(0, as_text(auth).find('\0'))) : hex_string(auth));
            }
        }
    } else if (client.empty() && co == ParseOutcome::NeedMore) {
        client_outcome = ParseOutcome::NeedMore;  // the handshake response is cut by the capture
    } else if (!f.c2s.empty()) {
        client_outcome = greeting ? ParseOutcome::Malformed : ParseOutcome::NotThisProtocol;
    }

    // Auth switch: the server names another plugin (seq 2), the client answers with its data (seq 3).
    for (std::size_t i = 1; i < server.size() && login_seen; ++i) {
        const MyPacket& p = server[i];
        if (p.payload.empty()) continue;
        if (p.payload[0] == 0xfe && p.seq == 2) {
            ByteReader r(p.payload);
            r.skip(1);
            std::string_view switched;
            if (read_cstring(r, switched) && is_printable_text(switched)) {
                add_evidence(facts, "server AuthSwitchRequest to " + printable_excerpt(switched, 40));
                for (const MyPacket& c : client) {
                    if (c.seq != 3 || c.payload.empty()) continue;
                    const bool clear = switched == "mysql_clear_password";
                    const std::string_view text = as_text(c.payload);
                    add_secret(facts.secrets, "mysql-auth", "MySQL AuthSwitchResponse (" + printable_excerpt(switched, 40) + ")",
                               Direction::ClientToServer,
                               clear ? std::string(text.substr(0, text.find('\0'))) : hex_string(c.payload));
                    break;
                }
            }
        } else if (p.payload[0] == 0x00 && p.seq >= 2 && p.seq <= 4) {
            add_evidence(facts, "server OK after login");
            break;
        } else if (p.payload[0] == 0xff && p.seq >= 2) {
            ByteReader er(p.payload);
            std::uint16_t err = 0;
            er.skip(1);
            er.u16le(err);
            add_evidence(facts, "server error " + std::to_string(err) + ": " + printable_excerpt(er.as_string_view(), kEvidenceText));
            break;
        }
    }
    // Commands: COM_QUERY text can carry passwords (CREATE USER ... IDENTIFIED BY).
    bool query_seen = false;
    for (std::size_t i = 1; i < client.size(); ++i) {
        const MyPacket& p = client[i];
        if (p.seq != 0 || p.payload.empty() || p.payload[0] != 0x03) continue;
        const std::string_view sql = as_text(p.payload.subspan(1));
        find_sql_secrets(sql, Direction::ClientToServer, "MySQL query", facts.secrets);
        if (!query_seen) add_evidence(facts, "MySQL query: " + printable_excerpt(sql, kEvidenceText));
        query_seen = true;
    }
    if (!f.c2s.empty()) record(facts, "mysql", Direction::ClientToServer, client_outcome);
    record_server(false);
    if (!facts.client_readable && !facts.server_readable) return false;
    facts.protocol = "mysql";
    if (login_seen) {
        set_first_line(facts, "MySQL login user=" + user +
                                  (greeting ? " (server " + printable_excerpt(greeting->version, 40) + ")" : std::string{}));
    } else if (greeting) {
        set_first_line(facts, "MySQL server greeting " + printable_excerpt(greeting->version, 60));
        if (f.c2s.empty() || !facts.client_readable) facts.server_banner_only = true;
    }
    return true;
}

}  // namespace meshproof::audit::plaintext_detail
