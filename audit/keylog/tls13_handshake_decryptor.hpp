// Decrypts the handshake of one TLS 1.3 connection with its key log secrets, and nothing else: the
// server's records from the first after its ServerHello to its Finished, the client's from its first
// protected record to its Finished. Application data is never opened (its keys are not even derived:
// the key log reader does not keep them). What the records say goes through Tls13HandshakeReader
// (audit/classify), so the facts are the ones a clear TLS 1.2 handshake gives.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "audit/classify/tls13_handshake.hpp"
#include "audit/classify/tls_decrypt_hook.hpp"
#include "audit/keylog/key_log.hpp"
#include "audit/keylog/tls13_record_protection.hpp"
#include "common/direction.hpp"
#include "common/parse_outcome.hpp"

namespace meshproof::audit {

struct Tls13DecryptLimits {
    std::size_t max_handshake_message = 64 * 1024;  // as TlsLimits
    std::size_t max_certificates = 16;
    // Client records that do not open before its first one that does: 0-RTT data, under the early
    // traffic key we do not have. Only skipped when the ClientHello offered early_data.
    std::size_t max_early_records = 32;
};

class Tls13HandshakeDecryptor final : public TlsHandshakeDecrypter {
public:
    // Errors: no handshake secrets for this client, a suite that is not TLS 1.3, secrets of the wrong length.
    static tl::expected<Tls13HandshakeDecryptor, std::string> create(const KeyLogEntry& secrets, std::uint16_t cipher_suite,
                                                                     bool client_offered_early_data,
                                                                     Tls13DecryptLimits limits = {});

    // One whole record of `dir` that came after the ServerHello (5-byte header + its body). Records
    // that are not protected (the compatibility ChangeCipherSpec) are passed over. Ok, NeedMore (a
    // handshake message continues in the next record), or why this direction stopped for good
    // (Malformed: did not authenticate, or impossible content; TooLarge). After done(dir) every
    // record is left alone (Ok).
    ParseOutcome on_record(Direction dir, Bytes record) override;

    // That side's Finished was read, or decryption stopped (failure(dir) says why).
    [[nodiscard]] bool done(Direction dir) const override { return side(dir).done; }
    [[nodiscard]] const std::optional<std::string>& failure(Direction dir) const override { return side(dir).failure; }
    [[nodiscard]] std::uint32_t records_opened(Direction dir) const override { return side(dir).opened; }
    [[nodiscard]] const Tls13EncryptedHandshake& handshake() const override { return handshake_; }
    [[nodiscard]] const Tls13CipherSuite& suite() const { return *suite_; }

    // The factory TlsParser asks at a TLS 1.3 ServerHello: the key log's secrets for the client random.
    // `log` must outlive the factory.
    static TlsDecrypterFactory factory(const KeyLog& log, Tls13DecryptLimits limits = {});

private:
    struct Side {
        Tls13RecordOpener opener;
        Tls13HandshakeReader reader;
        bool done = false;
        std::optional<std::string> failure;
        std::uint32_t opened = 0;
        std::uint32_t skipped = 0;
    };
    Tls13HandshakeDecryptor(const Tls13CipherSuite& suite, Side client, Side server, bool early, Tls13DecryptLimits limits);
    [[nodiscard]] const Side& side(Direction d) const { return d == Direction::ClientToServer ? client_ : server_; }
    Side& side(Direction d) { return d == Direction::ClientToServer ? client_ : server_; }
    ParseOutcome stop(Side& s, ParseOutcome why, std::string reason);

    const Tls13CipherSuite* suite_;
    Side client_, server_;
    bool client_offered_early_data_;
    Tls13DecryptLimits limits_;
    Tls13EncryptedHandshake handshake_;
};

}  // namespace meshproof::audit
