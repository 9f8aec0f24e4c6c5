#include "audit/classify/plaintext.hpp"

#include <algorithm>
#include <array>

#include "audit/classify/plaintext_detail.hpp"

namespace meshproof::audit {
namespace plaintext_detail {

char upper_ascii(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (upper_ascii(a[i]) != upper_ascii(b[i])) return false;
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = upper_ascii(c);
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::string_view split_word(std::string_view s, std::string_view& rest) {
    s = trim(s);
    const std::size_t space = s.find_first_of(" \t");
    if (space == std::string_view::npos) {
        rest = {};
        return s;
    }
    rest = trim(s.substr(space + 1));
    return s.substr(0, space);
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_printable_text(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 0x20 && c < 0x7f) || c == '\t'; });
}

std::optional<Line> read_line(std::string_view buf, std::size_t pos, std::size_t max_len) {
    if (pos >= buf.size()) return std::nullopt;
    const std::string_view window = buf.substr(pos, max_len);
    const std::size_t lf = window.find('\n');
    if (lf == std::string_view::npos) return std::nullopt;
    std::string_view text = window.substr(0, lf);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    return Line{text, pos + lf + 1};
}

void add_evidence(PlaintextFacts& facts, std::string text) {
    if (facts.evidence.size() >= kMaxEvidence) return;
    facts.evidence.push_back(printable_excerpt(text, 200));
}

void record(PlaintextFacts& facts, std::string_view parser, Direction dir, ParseOutcome outcome) {
    facts.outcomes.push_back(ParserRun{parser, dir, outcome});
}

void set_first_line(PlaintextFacts& facts, std::string_view line) {
    if (facts.first_line.empty()) facts.first_line = printable_excerpt(line, 200);
}

std::optional<std::size_t> tls_start_after_text(std::string_view buf, std::size_t pos) {
    for (std::size_t i = pos; i < buf.size(); ++i) {
        const char c = buf[i];
        if (c == '\x16' && (i == 0 || buf[i - 1] == '\n')) return i;
        if (!((c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n' || c == '\t')) return std::nullopt;
    }
    return std::nullopt;
}

std::string_view describe_server_bytes(Bytes s2c, PlaintextFacts& facts) {
    const std::string_view text = as_text(s2c);
    const std::optional<Line> line = read_line(text, 0, 512);
    const std::string_view first = line ? line->text : text.substr(0, 80);
    const std::string quoted = printable_excerpt(first, kEvidenceText);
    if (text.rfind("SSH-", 0) == 0) {
        add_evidence(facts, "server answered with an SSH banner: " + quoted);
        return "ssh";
    }
    if (text.rfind("HTTP/1.", 0) == 0) {
        add_evidence(facts, "server answered with an HTTP status line: " + quoted);
        return "http";
    }
    if (line && line->text.size() >= 4 && all_digits(line->text.substr(0, 3)) &&
        (line->text[3] == ' ' || line->text[3] == '-') && is_printable_text(line->text)) {
        add_evidence(facts, "server answered with a numeric text reply: " + quoted);
        const bool ftp = line->text.find("FTP") != std::string_view::npos;
        if (ftp) return "ftp";
        return line->text.rfind("220", 0) == 0 || line->text.rfind("554", 0) == 0 ? "smtp" : "";
    }
    if (text.rfind("* OK", 0) == 0) {
        add_evidence(facts, "server answered with an IMAP greeting: " + quoted);
        return "imap";
    }
    if (text.rfind("+OK", 0) == 0 || text.rfind("-ERR", 0) == 0) {
        add_evidence(facts, "server answered with a POP3/Redis reply: " + quoted);
        return "pop3";
    }
    if (sniff_mysql(Flow{{}, s2c, 0}).server >= 3) {
        add_evidence(facts, "server answered with a MySQL greeting");
        return "mysql";
    }
    return {};
}

namespace {

struct ProtocolEntry {
    std::string_view name;
    std::array<std::uint16_t, 4> ports;  // tie-breakers only
    Sniff (*sniff)(const Flow&);
    bool (*analyze)(const Flow&, PlaintextFacts&);
};

// Order is the last tie-breaker: more specific signatures first.
constexpr std::array<ProtocolEntry, 13> kProtocols{{
    {"h2c", {0, 0, 0, 0}, sniff_h2_prior_knowledge, analyze_h2_prior_knowledge},
    {"http", {80, 8080, 8000, 3128}, sniff_http1, analyze_http1},
    {"ssh", {22, 2222, 0, 0}, sniff_ssh, analyze_ssh},
    {"postgresql", {5432, 0, 0, 0}, sniff_postgresql, analyze_postgresql},
    {"mysql", {3306, 33060, 0, 0}, sniff_mysql, analyze_mysql},
    {"mqtt", {1883, 8883, 0, 0}, sniff_mqtt, analyze_mqtt},
    {"redis", {6379, 26379, 0, 0}, sniff_redis, analyze_redis},
    {"smtp", {25, 587, 465, 2525}, sniff_smtp, analyze_smtp},
    {"imap", {143, 993, 0, 0}, sniff_imap, analyze_imap},
    {"pop3", {110, 995, 0, 0}, sniff_pop3, analyze_pop3},
    {"ftp", {21, 0, 0, 0}, sniff_ftp, analyze_ftp},
    {"dns", {53, 5353, 0, 0}, sniff_dns, analyze_dns},
    {"socks", {1080, 1081, 9050, 0}, sniff_socks, analyze_socks},
}};

struct Candidate {
    const ProtocolEntry* entry;
    int score;
    bool port_match;
    std::size_t order;
};

void finalize(PlaintextFacts& facts) {
    scrub_secrets(facts.first_line, facts.secrets);
    facts.first_line = printable_excerpt(facts.first_line, 200);
    for (std::string& e : facts.evidence) scrub_secrets(e, facts.secrets);
    if (facts.http_path) scrub_secrets(*facts.http_path, facts.secrets);
}

}  // namespace
}  // namespace plaintext_detail

OutcomeCounts PlaintextFacts::outcome_counts() const {
    OutcomeCounts counts;
    for (const ParserRun& r : outcomes) counts.add(r.outcome);
    return counts;
}

PlaintextFacts classify_plaintext(Bytes c2s, Bytes s2c, std::uint16_t server_port) {
    using namespace plaintext_detail;
    PlaintextFacts facts;
    if (c2s.empty() && s2c.empty()) return facts;
    const Flow flow{c2s, s2c, server_port};

    std::array<Candidate, kProtocols.size()> candidates{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < kProtocols.size(); ++i) {
        const ProtocolEntry& p = kProtocols[i];
        const Sniff s = p.sniff(flow);
        if (s.client == 0 && s.server == 0) continue;
        const bool port_match =
            server_port != 0 && std::find(p.ports.begin(), p.ports.end(), server_port) != p.ports.end();
        // What the client sent weighs most: it is what the flow carries even when the server
        // answers in another protocol (HTTP sent to sshd is an HTTP flow).
        candidates[n++] = Candidate{&p, s.client * 4 + s.server, port_match, i};
    }
    std::sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n),
              [](const Candidate& a, const Candidate& b) {
                  if (a.score != b.score) return a.score > b.score;
                  if (a.port_match != b.port_match) return a.port_match;
                  return a.order < b.order;
              });

    std::vector<ParserRun> runs;
    for (std::size_t i = 0; i < n; ++i) {
        PlaintextFacts trial;
        const bool recognised = candidates[i].entry->analyze(flow, trial);
        runs.insert(runs.end(), trial.outcomes.begin(), trial.outcomes.end());
        if (recognised) {
            facts = std::move(trial);
            break;
        }
    }
    facts.outcomes = std::move(runs);

    if (!facts.protocol.empty() && !facts.server_readable && !s2c.empty()) {
        const std::string_view other = describe_server_bytes(s2c, facts);
        if (!other.empty() && other != facts.protocol) {
            facts.server_protocol = std::string(other);
            facts.server_readable = true;  // readable, just not the client's protocol
        }
    }
    finalize(facts);
    return facts;
}

}  // namespace meshproof::audit
