// Passive TLS handshake parser: fills TlsFacts from the two byte streams of one TCP flow.
//
// Each direction is fed its whole in-order byte prefix (`all`, starting where TLS starts); the parser
// keeps an offset per direction and only looks at bytes past it, so feeding the same prefix again or a
// longer one costs only the new bytes. Records are reassembled across TCP segments (a partial record
// waits for more), handshake messages across records (bounded by TlsLimits), and encrypted records are
// counted from their 5-byte header without being buffered.
//
// What is visible: ClientHello / ServerHello (HelloRetryRequest included), and for TLS <= 1.2 the clear
// part of the handshake up to each side's ChangeCipherSpec (Certificate chains, CertificateRequest,
// ServerHelloDone, NewSessionTicket, Alerts). For TLS 1.3 everything the server sends after its
// ServerHello is encrypted and only counted. SSLv2 CLIENT-HELLO (also the SSLv3/TLS-compatible form) and
// SERVER-HELLO are understood; later SSLv2 records are opaque.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "audit/classify/tls_facts.hpp"
#include "common/byte_reader.hpp"
#include "common/direction.hpp"
#include "common/parse_outcome.hpp"

namespace meshproof::audit {

struct TlsLimits {
    std::size_t max_handshake_message = 64 * 1024;  // larger declared lengths -> TooLarge, never allocated
    std::size_t max_certificates = 16;              // per Certificate message; the rest are validated, dropped
};

class TlsParser {
public:
    explicit TlsParser(TlsLimits limits = {});

    // `all` = every in-order byte of direction `dir` seen so far, starting where TLS starts in that
    // direction. It only ever grows by appending. Returns Ok (all complete records processed), NeedMore
    // (the bytes end inside a record), or the failure that stopped this direction for good.
    ParseOutcome feed(Direction dir, Bytes all);

    [[nodiscard]] const TlsFacts& facts() const { return facts_; }
    // Every outcome of every record and handshake message (and every NeedMore wait), counted.
    [[nodiscard]] const OutcomeCounts& outcomes() const { return outcomes_; }
    // Stopped for good in this direction (Malformed / TooLarge / NotThisProtocol).
    [[nodiscard]] bool failed(Direction dir) const { return dirs_[index(dir)].failure.has_value(); }

private:
    // How a direction's records are framed and whether their content can still be read.
    enum class Mode : std::uint8_t {
        Start,        // nothing parsed yet: the first record decides TLS vs SSLv2
        Clear,        // TLS records, handshake readable
        Encrypted,    // TLS records, content unreadable (after CCS, or TLS 1.3 after ServerHello)
        Sslv2Opaque,  // SSLv2 records after the hellos: framing only
    };

    struct DirectionState {
        std::size_t offset = 0;                // bytes of `all` consumed; may run past its end while
                                               // skipping an encrypted record that has not fully arrived
        std::vector<std::uint8_t> pending;     // a handshake message split across records
        Mode mode = Mode::Start;
        bool sslv2_hello = false;              // the first record was an SSLv2 hello
        bool tentative_after_ccs = false;      // TLS 1.3 dummy CCS possible: only a 2nd ClientHello may follow
        std::uint16_t first_record_version = 0;
        std::optional<ParseOutcome> failure;
    };

    ParseOutcome fail(DirectionState& st, ParseOutcome why);
    ParseOutcome parse_record(Direction dir, DirectionState& st, Bytes rest, bool& need_more);
    ParseOutcome parse_sslv2_record(Direction dir, DirectionState& st, Bytes rest, bool& need_more);
    ParseOutcome on_handshake_fragment(Direction dir, DirectionState& st, Bytes fragment);
    ParseOutcome on_handshake_message(Direction dir, DirectionState& st, std::uint8_t type, Bytes body);
    ParseOutcome on_change_cipher_spec(Direction dir, DirectionState& st, Bytes body);
    ParseOutcome on_alert(Direction dir, Bytes body);
    ParseOutcome on_client_hello(DirectionState& st, Bytes body);
    ParseOutcome on_server_hello(DirectionState& st, Bytes body);
    ParseOutcome on_certificate(Direction dir, Bytes body);
    void store_client_hello(TlsClientHello hello, Bytes session_id);
    void update_visible_complete();
    [[nodiscard]] bool tls13_possible() const;

    TlsLimits limits_;
    TlsFacts facts_;
    OutcomeCounts outcomes_;
    std::array<DirectionState, 2> dirs_{};
    std::array<std::uint8_t, 32> client_session_id_{};  // of the first ClientHello, to spot resumption
    std::size_t client_session_id_len_ = 0;
    bool real_server_hello_seen_ = false;  // a ServerHello that is not a HelloRetryRequest
};

// Does a direction's first bytes look like a TLS record or an SSLv2 hello? Ok / NeedMore / NotThisProtocol.
ParseOutcome sniff_tls(Bytes first_bytes);

// For STARTTLS-style upgrades (SMTP STARTTLS, PostgreSQL SSLRequest, MySQL CLIENT_SSL, SOCKS then TLS):
// the offset of the first byte of a record that begins a ClientHello (client_side) / ServerHello (server
// side) within the first `max_scan` bytes, validated (record header + handshake type + plausible
// lengths), or nullopt. A candidate whose header runs past the end of `data` is not reported.
std::optional<std::size_t> find_tls_start(Bytes data, bool client_side, std::size_t max_scan = 4096);

}  // namespace meshproof::audit
