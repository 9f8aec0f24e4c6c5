// Line-based protocols with a server banner: SMTP, IMAP, POP3, FTP. Credentials (AUTH/LOGIN/PASS
// and SASL exchanges) become secrets; STARTTLS/STLS/AUTH TLS become a tls_upgrade with the offsets
// where TLS starts in each direction.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "audit/classify/plaintext_detail.hpp"

namespace meshproof::audit::plaintext_detail {
namespace {

// "ddd text" / "ddd-text": an SMTP or FTP reply line.
bool is_numeric_reply(std::string_view line) {
    return line.size() >= 3 && all_digits(line.substr(0, 3)) && (line.size() == 3 || line[3] == ' ' || line[3] == '-') &&
           is_printable_text(line);
}

std::string_view first_line_of(Bytes b) {
    const std::optional<Line> line = read_line(as_text(b), 0, 1024);
    return line ? line->text : std::string_view{};
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    }
    return false;
}

// ---- SASL (RFC 4422) as carried by SMTP AUTH, IMAP AUTHENTICATE, POP3 AUTH ----

struct Sasl {
    std::string mechanism;  // upper case
    int lines_left = 0;     // client lines still expected
    int index = 0;          // client lines already seen
};

int sasl_client_lines(std::string_view mech) {
    if (mech == "LOGIN" || mech == "NTLM" || mech.rfind("SCRAM-", 0) == 0) return 2;
    if (mech == "EXTERNAL" || mech == "ANONYMOUS") return 1;
    return 1;  // PLAIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, DIGEST-MD5, GSSAPI (first round)
}

// One client SASL line (base64). kind: "smtp-auth", "imap-auth", "pop3-auth"; label: "SMTP AUTH".
void sasl_line(Sasl& s, std::string_view line, std::string_view kind, std::string_view label, PlaintextFacts& facts) {
    const Direction c2s = Direction::ClientToServer;
    const std::string where = std::string(label) + " " + s.mechanism;
    const std::optional<std::string> decoded = base64_decode(trim(line));
    if (s.mechanism == "PLAIN" && s.index == 0) {
        add_secret(facts.secrets, kind, where, c2s, trim(line));
        if (decoded) {
            // authzid \0 authcid \0 password
            const std::size_t a = decoded->find('\0');
            const std::size_t b = a == std::string::npos ? std::string::npos : decoded->find('\0', a + 1);
            if (b != std::string::npos) {
                add_evidence(facts, where + " credentials for user " + printable_excerpt(decoded->substr(a + 1, b - a - 1), 40));
            }
        }
    } else if (s.mechanism == "LOGIN" && s.index == 0) {
        add_evidence(facts, where + " user " + (decoded ? printable_excerpt(*decoded, 40) : std::string("(not base64)")));
    } else if (s.mechanism == "LOGIN" && s.index == 1) {
        add_secret(facts.secrets, kind, where + " password", c2s, trim(line));
    } else if ((s.mechanism.rfind("SCRAM-", 0) == 0 || s.mechanism == "NTLM") && s.index == 0) {
        add_evidence(facts, where + " first message");
    } else if (s.mechanism == "EXTERNAL" || s.mechanism == "ANONYMOUS") {
        add_evidence(facts, where + " (no secret exchanged)");
    } else {
        // CRAM-MD5 / SCRAM / NTLM responses are hashes: offline-guessable, still credentials.
        add_secret(facts.secrets, kind, where + " response", c2s, trim(line));
    }
    ++s.index;
    --s.lines_left;
}

void sasl_start(Sasl& s, std::string_view mech, std::string_view initial, std::string_view kind,
                std::string_view label, PlaintextFacts& facts) {
    s.mechanism = upper(mech);
    s.index = 0;
    s.lines_left = sasl_client_lines(s.mechanism);
    add_evidence(facts, std::string(label) + " " + printable_excerpt(s.mechanism, 30));
    if (!initial.empty() && initial != "=") sasl_line(s, initial, kind, label, facts);
}

// Server side of a numeric-reply protocol: banner and the replies worth showing.
struct NumericReplies {
    bool banner = false;
    std::string banner_line;
    std::size_t lines = 0;
};

NumericReplies scan_numeric_replies(Bytes s2c, std::string_view parser, PlaintextFacts& facts,
                                    std::string_view auth_ok, std::string_view auth_failed) {
    NumericReplies r;
    const std::string_view text = as_text(s2c);
    std::size_t pos = 0;
    ParseOutcome o = ParseOutcome::Ok;
    while (pos < text.size() && r.lines < kMaxMessages) {
        const std::optional<Line> line = read_line(text, pos, 1024);
        if (!line) {
            // The TLS handover after a 220 "ready to start TLS" is not a parse failure.
            o = text[pos] == '\x16' ? ParseOutcome::Ok : ParseOutcome::NeedMore;
            break;
        }
        if (!is_numeric_reply(line->text)) {
            o = r.lines == 0 ? ParseOutcome::NotThisProtocol : ParseOutcome::Ok;
            break;
        }
        if (r.lines == 0) {
            r.banner = true;
            r.banner_line = std::string(line->text);
            add_evidence(facts, "server banner " + printable_excerpt(line->text, kEvidenceText));
        } else if (line->text.rfind(auth_ok, 0) == 0 || line->text.rfind(auth_failed, 0) == 0) {
            add_evidence(facts, "server reply " + printable_excerpt(line->text, kEvidenceText));
        }
        ++r.lines;
        pos = line->next;
    }
    if (!s2c.empty()) record(facts, parser, Direction::ServerToClient, o);
    return r;
}

void note_starttls(PlaintextFacts& facts, std::string_view upgrade, std::size_t c2s_offset, Bytes s2c,
                   std::string_view what) {
    facts.tls_upgrade = std::string(upgrade);
    facts.upgrade_c2s_offset = c2s_offset;
    facts.upgrade_s2c_offset = tls_start_after_text(as_text(s2c), 0);
    add_evidence(facts, "client " + std::string(what) + ": TLS follows");
}

bool in_list(std::string_view cmd, std::span<const std::string_view> known) {
    return std::find(known.begin(), known.end(), cmd) != known.end();
}

// What the client side of a line protocol amounted to.
struct CommandScan {
    std::size_t commands = 0;
    ParseOutcome outcome = ParseOutcome::Ok;
};
enum class After : std::uint8_t { Next, Stop };

// The client-command loop SMTP, FTP and POP3 share: one line per command, SASL continuation lines
// handed to `sasl` (nullptr: the protocol has none), anything unprintable or unknown ends the scan
// (NotThisProtocol before the first command, Malformed after). `skip(line)` swallows lines that are
// not commands (SMTP message content); `on_command(line, upper-cased verb, rest, offset after the
// line)` interprets a known command and says whether to go on.
template <class Skip, class IsKnown, class OnCommand>
CommandScan scan_commands(std::string_view c, Sasl* sasl, std::string_view sasl_kind, std::string_view sasl_label,
                          PlaintextFacts& facts, Skip skip, IsKnown is_known, OnCommand on_command) {
    CommandScan scan;
    std::size_t pos = 0;
    const auto unexpected = [&scan] { return scan.commands == 0 ? ParseOutcome::NotThisProtocol : ParseOutcome::Malformed; };
    while (pos < c.size() && scan.commands < kMaxMessages) {
        const std::optional<Line> line = read_line(c, pos);
        if (!line) {
            scan.outcome = ParseOutcome::NeedMore;
            break;
        }
        pos = line->next;
        if (skip(line->text)) continue;
        if (!is_printable_text(line->text)) {
            scan.outcome = unexpected();
            break;
        }
        if (sasl != nullptr && sasl->lines_left > 0) {
            if (line->text == "*") sasl->lines_left = 0;  // client cancelled the exchange
            else sasl_line(*sasl, line->text, sasl_kind, sasl_label, facts);
            continue;
        }
        std::string_view rest;
        const std::string cmd = upper(split_word(line->text, rest));
        if (!is_known(std::string_view(cmd))) {
            scan.outcome = unexpected();
            break;
        }
        ++scan.commands;
        if (on_command(line->text, cmd, rest, pos) == After::Stop) break;
    }
    return scan;
}

// The facts every banner protocol ends with; false when neither side looked like `protocol`.
bool conclude(PlaintextFacts& facts, std::string_view protocol, bool has_banner, std::size_t commands,
              std::string_view banner_line, std::string_view first_command) {
    if (!has_banner && commands == 0) return false;
    facts.protocol = std::string(protocol);
    facts.server_readable = has_banner;
    facts.client_readable = commands > 0;
    facts.server_banner_only = has_banner && commands == 0;
    set_first_line(facts, has_banner ? banner_line : first_command);
    return true;
}

}  // namespace

// ---- SMTP ----

Sniff sniff_smtp(const Flow& f) {
    Sniff s;
    const std::string_view banner = first_line_of(f.s2c);
    if (is_numeric_reply(banner) && banner.rfind("220", 0) == 0) {
        s.server = contains_ci(banner, "SMTP") ? 2 : (contains_ci(banner, "FTP") ? 0 : 1);
    }
    std::string_view rest;
    const std::string cmd = upper(split_word(first_line_of(f.c2s), rest));
    if (cmd == "EHLO" || cmd == "HELO" || cmd == "LHLO") s.client = 3;
    else if (cmd == "MAIL" && istarts_with(rest, "FROM:")) s.client = 2;
    else if (cmd == "STARTTLS") s.client = 1;
    else if (cmd == "AUTH" && !istarts_with(rest, "TLS") && !istarts_with(rest, "SSL")) s.client = 1;
    return s;
}

bool analyze_smtp(const Flow& f, PlaintextFacts& facts) {
    static constexpr std::string_view kCommands[] = {"EHLO", "HELO", "LHLO", "MAIL", "RCPT", "DATA", "AUTH", "STARTTLS",
                                                     "QUIT", "RSET", "NOOP", "VRFY", "EXPN", "HELP", "BDAT"};
    const NumericReplies replies = scan_numeric_replies(f.s2c, "smtp", facts, "235", "535");
    const std::string_view c = as_text(f.c2s);
    bool in_data = false;
    Sasl sasl;
    std::string first_command;
    const auto skip_message = [&in_data](std::string_view line) {
        if (!in_data) return false;
        if (line == ".") in_data = false;
        return true;  // message content, not commands
    };
    std::size_t seen = 0;
    const CommandScan scan = scan_commands(
        c, &sasl, "smtp-auth", "SMTP AUTH", facts, skip_message,
        [](std::string_view cmd) { return in_list(cmd, kCommands); },
        [&](std::string_view line, const std::string& cmd, std::string_view rest, std::size_t next) {
            if (++seen == 1) {
                std::string_view mech_rest = rest;
                first_command = cmd == "AUTH" ? "AUTH " + std::string(split_word(mech_rest, mech_rest)) : std::string(line);
                add_evidence(facts, "client " + printable_excerpt(first_command, kEvidenceText));
            }
            if (cmd == "AUTH") {
                std::string_view initial;
                const std::string_view mech = split_word(rest, initial);
                sasl_start(sasl, mech, initial, "smtp-auth", "SMTP AUTH", facts);
            } else if (cmd == "STARTTLS") {
                note_starttls(facts, "smtp-starttls", next, f.s2c, "STARTTLS");
                return After::Stop;  // what follows is TLS
            } else if (cmd == "DATA") {
                in_data = true;
            } else if (cmd == "BDAT") {
                return After::Stop;  // binary chunks follow
            }
            return After::Next;
        });
    if (!c.empty()) record(facts, "smtp", Direction::ClientToServer, scan.outcome);
    return conclude(facts, "smtp", replies.banner, scan.commands, replies.banner_line, first_command);
}

// ---- FTP ----

Sniff sniff_ftp(const Flow& f) {
    Sniff s;
    const std::string_view banner = first_line_of(f.s2c);
    if (is_numeric_reply(banner) && banner.rfind("220", 0) == 0) {
        s.server = contains_ci(banner, "FTP") ? 2 : (contains_ci(banner, "SMTP") ? 0 : 1);
    }
    std::string_view rest;
    const std::string cmd = upper(split_word(first_line_of(f.c2s), rest));
    if (cmd == "AUTH" && (istarts_with(rest, "TLS") || istarts_with(rest, "SSL"))) s.client = 3;
    else if (cmd == "FEAT" || cmd == "SYST" || cmd == "PASV" || cmd == "EPSV" || cmd == "OPTS") s.client = 3;
    else if (cmd == "USER") s.client = 2;
    return s;
}

bool analyze_ftp(const Flow& f, PlaintextFacts& facts) {
    const NumericReplies replies = scan_numeric_replies(f.s2c, "ftp", facts, "230", "530");
    const std::string_view c = as_text(f.c2s);
    bool anonymous = false;
    std::string first_command;
    // FTP verbs are 3-4 letters; anything else is not FTP.
    const auto is_verb = [](std::string_view cmd) {
        return cmd.size() >= 3 && cmd.size() <= 4 &&
               std::all_of(cmd.begin(), cmd.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
    };
    std::size_t seen = 0;
    const CommandScan scan = scan_commands(
        c, nullptr, {}, {}, facts, [](std::string_view) { return false; }, is_verb,
        [&](std::string_view line, const std::string& cmd, std::string_view rest, std::size_t next) {
            if (++seen == 1) {
                first_command = (cmd == "PASS" || cmd == "ACCT") ? cmd + " " + std::string(kRedacted) : std::string(line);
                add_evidence(facts, "client " + printable_excerpt(first_command, kEvidenceText));
            }
            if (cmd == "USER") {
                anonymous = iequals(rest, "anonymous") || iequals(rest, "ftp");
                add_evidence(facts, "FTP USER " + printable_excerpt(rest, 40));
            } else if (cmd == "PASS") {
                add_secret(facts.secrets, "ftp-password", anonymous ? "FTP PASS (anonymous login)" : "FTP PASS",
                           Direction::ClientToServer, rest);
            } else if (cmd == "ACCT") {
                add_secret(facts.secrets, "ftp-password", "FTP ACCT", Direction::ClientToServer, rest);
            } else if (cmd == "AUTH" && (istarts_with(rest, "TLS") || istarts_with(rest, "SSL"))) {
                note_starttls(facts, "ftp-auth-tls", next, f.s2c, "AUTH " + upper(rest));
                return After::Stop;
            }
            return After::Next;
        });
    if (!c.empty()) record(facts, "ftp", Direction::ClientToServer, scan.outcome);
    return conclude(facts, "ftp", replies.banner, scan.commands, replies.banner_line, first_command);
}

// ---- POP3 ----

namespace {

bool is_pop3_banner(std::string_view line) {
    return line.rfind("+OK", 0) == 0 && line.size() > 4 && line[3] == ' ' && is_printable_text(line);
}

}  // namespace

Sniff sniff_pop3(const Flow& f) {
    Sniff s;
    const std::string_view banner = first_line_of(f.s2c);
    if (is_pop3_banner(banner)) s.server = contains_ci(banner, "POP") ? 2 : 1;
    std::string_view rest;
    const std::string cmd = upper(split_word(first_line_of(f.c2s), rest));
    if (cmd == "CAPA" || cmd == "STLS" || cmd == "APOP") s.client = 3;
    else if (cmd == "USER" || cmd == "STAT" || cmd == "UIDL" || cmd == "RETR") s.client = 2;
    else if (cmd == "AUTH" || cmd == "QUIT") s.client = 1;
    return s;
}

bool analyze_pop3(const Flow& f, PlaintextFacts& facts) {
    static constexpr std::string_view kCommands[] = {"USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "STAT", "LIST",
                                                     "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP",  "UIDL"};
    const std::string_view sv = as_text(f.s2c);
    const std::string_view banner = first_line_of(f.s2c);
    const bool has_banner = is_pop3_banner(banner);
    if (has_banner) add_evidence(facts, "server banner " + printable_excerpt(banner, kEvidenceText));
    if (!sv.empty()) {
        record(facts, "pop3", Direction::ServerToClient, has_banner ? ParseOutcome::Ok : ParseOutcome::NotThisProtocol);
    }
    if (sv.find("\n-ERR") != std::string_view::npos) add_evidence(facts, "server replied -ERR to a command");

    const std::string_view c = as_text(f.c2s);
    Sasl sasl;
    std::string first_command;
    std::size_t seen = 0;
    const CommandScan scan = scan_commands(
        c, &sasl, "pop3-auth", "POP3 AUTH", facts, [](std::string_view) { return false; },
        [](std::string_view cmd) { return in_list(cmd, kCommands); },
        [&](std::string_view line, const std::string& cmd, std::string_view rest, std::size_t next) {
            if (++seen == 1) {
                std::string_view user_rest = rest;
                first_command = cmd == "PASS" ? "PASS " + std::string(kRedacted)
                                : cmd == "APOP"
                                    ? "APOP " + std::string(split_word(user_rest, user_rest)) + " " + std::string(kRedacted)
                                    : std::string(line);
                add_evidence(facts, "client " + printable_excerpt(first_command, kEvidenceText));
            }
            if (cmd == "USER") {
                add_evidence(facts, "POP3 USER " + printable_excerpt(rest, 40));
            } else if (cmd == "PASS") {
                add_secret(facts.secrets, "pop3-password", "POP3 PASS", Direction::ClientToServer, rest);
            } else if (cmd == "APOP") {
                std::string_view digest;
                const std::string_view user = split_word(rest, digest);
                add_evidence(facts, "POP3 APOP user " + printable_excerpt(user, 40));
                add_secret(facts.secrets, "pop3-apop", "POP3 APOP digest", Direction::ClientToServer, digest);
            } else if (cmd == "AUTH" && !rest.empty()) {
                std::string_view initial;
                const std::string_view mech = split_word(rest, initial);
                sasl_start(sasl, mech, initial, "pop3-auth", "POP3 AUTH", facts);
            } else if (cmd == "STLS") {
                note_starttls(facts, "pop3-stls", next, f.s2c, "STLS");
                return After::Stop;
            }
            return After::Next;
        });
    if (!c.empty()) record(facts, "pop3", Direction::ClientToServer, scan.outcome);
    return conclude(facts, "pop3", has_banner, scan.commands, banner, first_command);
}

// ---- IMAP ----

namespace {

bool is_imap_tag(std::string_view tag) {
    if (tag.empty() || tag.size() > 32) return false;
    for (char ch : tag) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                        ch == '_' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

bool is_imap_command(std::string_view cmd) {
    static constexpr std::string_view kCommands[] = {
        "CAPABILITY", "LOGIN",  "STARTTLS", "AUTHENTICATE", "NOOP",  "ID",     "LOGOUT", "SELECT",
        "EXAMINE",    "LIST",   "LSUB",     "STATUS",       "FETCH", "UID",    "SEARCH", "ENABLE",
        "IDLE",       "APPEND", "CREATE",   "DELETE",       "CLOSE", "EXPUNGE", "NAMESPACE", "STORE"};
    for (std::string_view k : kCommands) {
        if (iequals(cmd, k)) return true;
    }
    return false;
}

// One IMAP command with its arguments: atoms, "quoted" strings and {n} literals (whose bytes
// follow the line). pos moves past the command.
ParseOutcome read_imap_command(std::string_view text, std::size_t& pos, std::vector<std::string>& tokens) {
    constexpr std::size_t kMaxLiteral = 65536;
    std::size_t p = pos;
    tokens.clear();
    while (true) {
        while (p < text.size() && text[p] == ' ') ++p;
        if (p >= text.size()) return ParseOutcome::NeedMore;
        const char ch = text[p];
        if (ch == '\r' || ch == '\n') {
            if (ch == '\r') {
                if (p + 1 >= text.size()) return ParseOutcome::NeedMore;
                if (text[p + 1] != '\n') return ParseOutcome::Malformed;
                ++p;
            }
            pos = p + 1;
            return ParseOutcome::Ok;
        }
        std::string token;
        if (ch == '"') {
            ++p;
            while (true) {
                if (p >= text.size()) return ParseOutcome::NeedMore;
                if (text[p] == '\r' || text[p] == '\n') return ParseOutcome::Malformed;
                if (text[p] == '"') break;
                if (text[p] == '\\' && p + 1 < text.size()) ++p;
                token.push_back(text[p++]);
            }
            ++p;
        } else if (ch == '{') {
            const std::size_t close = text.find('}', p);
            if (close == std::string_view::npos) return text.size() - p > 24 ? ParseOutcome::Malformed : ParseOutcome::NeedMore;
            std::string_view digits = text.substr(p + 1, close - p - 1);
            if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);  // LITERAL+
            if (!all_digits(digits) || digits.size() > 9) return ParseOutcome::Malformed;
            std::size_t n = 0;
            for (char d : digits) n = n * 10 + static_cast<std::size_t>(d - '0');
            if (n > kMaxLiteral) return ParseOutcome::TooLarge;
            const std::optional<Line> rest_of_line = read_line(text, close + 1, 2);
            if (!rest_of_line) return text.size() - close - 1 >= 2 ? ParseOutcome::Malformed : ParseOutcome::NeedMore;
            if (!rest_of_line->text.empty()) return ParseOutcome::Malformed;
            if (text.size() - rest_of_line->next < n) return ParseOutcome::NeedMore;
            token = std::string(text.substr(rest_of_line->next, n));
            p = rest_of_line->next + n;
        } else {
            const std::size_t end = text.find_first_of(" \r\n", p);
            if (end == std::string_view::npos) return ParseOutcome::NeedMore;
            token = std::string(text.substr(p, end - p));
            if (!is_printable_text(token)) return ParseOutcome::NotThisProtocol;
            p = end;
        }
        if (tokens.size() < 64) tokens.push_back(std::move(token));
    }
}

}  // namespace

Sniff sniff_imap(const Flow& f) {
    Sniff s;
    const std::string_view banner = first_line_of(f.s2c);
    if (banner.rfind("* OK", 0) == 0 || banner.rfind("* PREAUTH", 0) == 0) s.server = contains_ci(banner, "IMAP") ? 3 : 2;
    else if (banner.rfind("* BYE", 0) == 0) s.server = 1;
    std::string_view rest;
    const std::string_view tag = split_word(first_line_of(f.c2s), rest);
    std::string_view args;
    const std::string_view cmd = split_word(rest, args);
    if (is_imap_tag(tag) && is_imap_command(cmd)) {
        s.client = (iequals(cmd, "CAPABILITY") || iequals(cmd, "LOGIN") || iequals(cmd, "AUTHENTICATE") ||
                    iequals(cmd, "STARTTLS") || iequals(cmd, "ID"))
                       ? 3
                       : 2;
    }
    return s;
}

bool analyze_imap(const Flow& f, PlaintextFacts& facts) {
    const std::string_view banner = first_line_of(f.s2c);
    const bool has_banner = (banner.rfind("* OK", 0) == 0 || banner.rfind("* PREAUTH", 0) == 0 ||
                             banner.rfind("* BYE", 0) == 0) &&
                            is_printable_text(banner);
    if (has_banner) add_evidence(facts, "server banner " + printable_excerpt(banner, kEvidenceText));
    if (!f.s2c.empty()) {
        record(facts, "imap", Direction::ServerToClient, has_banner ? ParseOutcome::Ok : ParseOutcome::NotThisProtocol);
    }

    const std::string_view c = as_text(f.c2s);
    std::size_t pos = 0, commands = 0;
    Sasl sasl;
    ParseOutcome o = ParseOutcome::Ok;
    std::string first_command;
    std::vector<std::string> tokens;
    while (pos < c.size() && commands < kMaxMessages) {
        if (sasl.lines_left > 0) {
            const std::optional<Line> line = read_line(c, pos);
            if (!line) {
                o = ParseOutcome::NeedMore;
                break;
            }
            pos = line->next;
            if (line->text == "*") sasl.lines_left = 0;
            else sasl_line(sasl, line->text, "imap-auth", "IMAP AUTHENTICATE", facts);
            continue;
        }
        const ParseOutcome r = read_imap_command(c, pos, tokens);
        if (r != ParseOutcome::Ok) {
            o = (commands == 0 && r == ParseOutcome::Malformed) ? ParseOutcome::NotThisProtocol : r;
            break;
        }
        if (tokens.size() < 2 || !is_imap_tag(tokens[0]) || !is_imap_command(tokens[1])) {
            o = commands == 0 ? ParseOutcome::NotThisProtocol : ParseOutcome::Malformed;
            break;
        }
        ++commands;
        const std::string cmd = upper(tokens[1]);
        if (commands == 1) {
            first_command = tokens[0] + " " + cmd;
            if (cmd == "LOGIN" && tokens.size() >= 3) first_command += " " + tokens[2] + " " + std::string(kRedacted);
            add_evidence(facts, "client " + printable_excerpt(first_command, kEvidenceText));
        }
        if (cmd == "LOGIN" && tokens.size() >= 4) {
            add_evidence(facts, "IMAP LOGIN user " + printable_excerpt(tokens[2], 40));
            add_secret(facts.secrets, "imap-password", "IMAP LOGIN", Direction::ClientToServer, tokens[3]);
        } else if (cmd == "AUTHENTICATE" && tokens.size() >= 3) {
            sasl_start(sasl, tokens[2], tokens.size() >= 4 ? std::string_view(tokens[3]) : std::string_view{},
                       "imap-auth", "IMAP AUTHENTICATE", facts);
        } else if (cmd == "STARTTLS") {
            note_starttls(facts, "imap-starttls", pos, f.s2c, "STARTTLS");
            break;
        }
    }
    if (!c.empty()) record(facts, "imap", Direction::ClientToServer, o);
    return conclude(facts, "imap", has_banner, commands, banner, first_command);
}

}  // namespace meshproof::audit::plaintext_detail
