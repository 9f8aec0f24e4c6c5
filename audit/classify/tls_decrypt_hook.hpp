// How TlsParser gets a TLS 1.3 handshake decrypted without doing crypto itself: at the ServerHello it
// asks a factory (handed in by whoever holds a key log; audit/keylog implements it with OpenSSL)
// for a decrypter of this connection, then gives it every protected record of each direction until
// that direction's Finished.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "audit/classify/tls13_handshake.hpp"
#include "common/byte_reader.hpp"
#include "common/direction.hpp"
#include "common/parse_outcome.hpp"

namespace meshproof::audit {

class TlsHandshakeDecrypter {
public:
    virtual ~TlsHandshakeDecrypter() = default;
    // One whole record (header + body) of `dir` after the ServerHello, in order.
    virtual ParseOutcome on_record(Direction dir, Bytes record) = 0;
    // That side's Finished was read, or decryption of that side stopped (failure() says why).
    [[nodiscard]] virtual bool done(Direction dir) const = 0;
    [[nodiscard]] virtual const std::optional<std::string>& failure(Direction dir) const = 0;
    [[nodiscard]] virtual std::uint32_t records_opened(Direction dir) const = 0;
    [[nodiscard]] virtual const Tls13EncryptedHandshake& handshake() const = 0;
};

struct TlsDecryptRequest {
    Bytes client_random;                  // of the (first) ClientHello
    std::uint16_t cipher_suite = 0;       // of the ServerHello
    bool client_offered_early_data = false;
};

// A decrypter for this connection, or nullptr with `why_not` set (no secrets for its client random,
// a suite that is not TLS 1.3, ...): a note on the flow, not an error.
using TlsDecrypterFactory =
    std::function<std::unique_ptr<TlsHandshakeDecrypter>(const TlsDecryptRequest& request, std::string& why_not)>;

}  // namespace meshproof::audit
