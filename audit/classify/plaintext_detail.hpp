// Internals shared by the plaintext protocol parsers (plaintext_*.cpp). Not a public API: the
// public entry point is classify_plaintext() in plaintext.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "audit/classify/plaintext.hpp"

namespace meshproof::audit::plaintext_detail {

struct Flow {
    Bytes c2s;
    Bytes s2c;
    std::uint16_t server_port = 0;
};

// How sure the first bytes of each direction make us: 0 no, 1 weak (shared by several protocols),
// 2 plausible, 3 a signature no other protocol has.
struct Sniff {
    int client = 0;
    int server = 0;
};

inline constexpr std::size_t kMaxLine = 8192;        // longest text line we look at
inline constexpr std::size_t kMaxMessages = 128;     // messages parsed per direction
inline constexpr std::size_t kMaxEvidence = 24;      // evidence strings per flow
inline constexpr std::size_t kEvidenceText = 100;    // longest quoted text inside one evidence string

// ---- text helpers ----
inline std::string_view as_text(Bytes b) { return as_chars(b); }
char upper_ascii(char c);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::string upper(std::string_view s);
std::string_view trim(std::string_view s);
// Splits off the first space-separated word; rest gets what follows (leading spaces removed).
std::string_view split_word(std::string_view s, std::string_view& rest);
bool all_digits(std::string_view s);
bool is_printable_text(std::string_view s);  // printable ASCII and tabs only

struct Line {
    std::string_view text;  // without the terminator (\n or \r\n)
    std::size_t next = 0;   // offset just after the terminator
};
// The line starting at pos; nullopt when no '\n' comes within max_len bytes (cut or not text).
std::optional<Line> read_line(std::string_view buf, std::size_t pos, std::size_t max_len = kMaxLine);

// ---- facts helpers ----
void add_evidence(PlaintextFacts& facts, std::string text);
void record(PlaintextFacts& facts, std::string_view parser, Direction dir, ParseOutcome outcome);
void set_first_line(PlaintextFacts& facts, std::string_view line);  // only the first call counts
// Finds the first "\n" followed by a TLS handshake record byte (0x16) at or after pos: where a
// STARTTLS-style text prelude hands over to TLS.
std::optional<std::size_t> tls_start_after_text(std::string_view buf, std::size_t pos);

// ---- protocols: sniff (cheap look at the first bytes) and analyze (full parse into facts) ----
// analyze_* returns true when it recognised the protocol; facts may hold outcomes either way.
Sniff sniff_http1(const Flow& f);
bool analyze_http1(const Flow& f, PlaintextFacts& facts);
Sniff sniff_h2_prior_knowledge(const Flow& f);
bool analyze_h2_prior_knowledge(const Flow& f, PlaintextFacts& facts);

Sniff sniff_redis(const Flow& f);
bool analyze_redis(const Flow& f, PlaintextFacts& facts);
Sniff sniff_postgresql(const Flow& f);
bool analyze_postgresql(const Flow& f, PlaintextFacts& facts);
Sniff sniff_mysql(const Flow& f);
bool analyze_mysql(const Flow& f, PlaintextFacts& facts);

Sniff sniff_smtp(const Flow& f);
bool analyze_smtp(const Flow& f, PlaintextFacts& facts);
Sniff sniff_imap(const Flow& f);
bool analyze_imap(const Flow& f, PlaintextFacts& facts);
Sniff sniff_pop3(const Flow& f);
bool analyze_pop3(const Flow& f, PlaintextFacts& facts);
Sniff sniff_ftp(const Flow& f);
bool analyze_ftp(const Flow& f, PlaintextFacts& facts);

Sniff sniff_dns(const Flow& f);
bool analyze_dns(const Flow& f, PlaintextFacts& facts);
Sniff sniff_mqtt(const Flow& f);
bool analyze_mqtt(const Flow& f, PlaintextFacts& facts);
Sniff sniff_ssh(const Flow& f);
bool analyze_ssh(const Flow& f, PlaintextFacts& facts);
Sniff sniff_socks(const Flow& f);
bool analyze_socks(const Flow& f, PlaintextFacts& facts);

// What the server's bytes are when they are not the client's protocol (HTTP to an SSH server):
// returns the protocol name ("ssh", "http", "smtp", ...) or "" and adds one evidence string.
std::string_view describe_server_bytes(Bytes s2c, PlaintextFacts& facts);

}  // namespace meshproof::audit::plaintext_detail
