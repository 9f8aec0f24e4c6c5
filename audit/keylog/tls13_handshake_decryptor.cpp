#include "audit/keylog/tls13_handshake_decryptor.hpp"

namespace meshproof::audit {
namespace {

constexpr std::uint8_t kChangeCipherSpec = 20;
constexpr std::uint8_t kAlert = 21;
constexpr std::uint8_t kHandshake = 22;
constexpr std::uint8_t kApplicationData = 23;
constexpr std::size_t kMaxAlertsKept = 4;

}  // namespace

tl::expected<Tls13HandshakeDecryptor, std::string> Tls13HandshakeDecryptor::create(const KeyLogEntry& secrets,
                                                                                   std::uint16_t cipher_suite,
                                                                                   bool client_offered_early_data,
                                                                                   Tls13DecryptLimits limits) {
    const Tls13CipherSuite* suite = find_tls13_cipher_suite(cipher_suite);
    if (suite == nullptr) return tl::unexpected(std::string("cipher suite is not a TLS 1.3 suite"));
    if (secrets.client_handshake_traffic.empty() || secrets.server_handshake_traffic.empty())
        return tl::unexpected(std::string("the key log has not both handshake traffic secrets of this connection"));
    auto client = Tls13RecordOpener::create(*suite, secrets.client_handshake_traffic.view());
    if (!client) return tl::unexpected("client handshake traffic secret: " + client.error());
    auto server = Tls13RecordOpener::create(*suite, secrets.server_handshake_traffic.view());
    if (!server) return tl::unexpected("server handshake traffic secret: " + server.error());
    Side c{std::move(*client), Tls13HandshakeReader(true, limits.max_handshake_message, limits.max_certificates), false, std::nullopt, 0, 0};
    Side s{std::move(*server), Tls13HandshakeReader(false, limits.max_handshake_message, limits.max_certificates), false, std::nullopt, 0, 0};
    return Tls13HandshakeDecryptor(*suite, std::move(c), std::move(s), client_offered_early_data, limits);
}

Tls13HandshakeDecryptor::Tls13HandshakeDecryptor(const Tls13CipherSuite& suite, Side client, Side server, bool early,
                                                 Tls13DecryptLimits limits)
    : suite_(&suite), client_(std::move(client)), server_(std::move(server)), client_offered_early_data_(early),
      limits_(limits) {}

ParseOutcome Tls13HandshakeDecryptor::stop(Side& s, ParseOutcome why, std::string reason) {
    s.done = true;
    s.failure = std::move(reason);
    return why;
}

ParseOutcome Tls13HandshakeDecryptor::on_record(Direction dir, Bytes record) {
    Side& s = side(dir);
    if (s.done) return ParseOutcome::Ok;
    if (record.size() < 5) return stop(s, ParseOutcome::Malformed, "record shorter than its header");
    const std::uint8_t outer_type = record[0];
    if (outer_type == kChangeCipherSpec) return ParseOutcome::Ok;  // middlebox compatibility, not protected
    if (outer_type != kApplicationData)
        return stop(s, ParseOutcome::Malformed, "a record of type " + std::to_string(outer_type) + " where a protected one belongs");
    auto plain = s.opener.open(record);
    if (!plain) {
        // 0-RTT: the client's early data is under the early traffic key, which we do not keep.
        const bool may_be_early_data = dir == Direction::ClientToServer && client_offered_early_data_ && s.opened == 0 &&
                                       plain.error() == OpenError::Authentication &&
                                       s.skipped < limits_.max_early_records;
        if (may_be_early_data) {
            ++s.skipped;
            return ParseOutcome::Ok;
        }
        return stop(s, ParseOutcome::Malformed,
                    "record " + std::to_string(s.opener.sequence()) + ": " + std::string(to_string(plain.error())));
    }
    ++s.opened;
    switch (plain->content_type) {
        case kHandshake: {
            const ParseOutcome o = s.reader.on_record(plain->content, handshake_);
            if (o == ParseOutcome::Malformed || o == ParseOutcome::TooLarge)
                return stop(s, o, "record " + std::to_string(s.opened - 1) + ": impossible handshake message");
            if (s.reader.finished()) s.done = true;
            return o;
        }
        case kAlert: {
            if (plain->content.size() != 2) return stop(s, ParseOutcome::Malformed, "an alert that is not 2 bytes");
            if (handshake_.alerts.size() < kMaxAlertsKept)
                handshake_.alerts.push_back(
                    {dir == Direction::ClientToServer, plain->content[0], plain->content[1], false});
            // Every TLS 1.3 alert but close_notify and user_canceled ends the connection; either way
            // nothing of the handshake follows.
            s.done = true;
            return ParseOutcome::Ok;
        }
        default:
            return stop(s, ParseOutcome::Malformed,
                        "content type " + std::to_string(plain->content_type) + " before the Finished");
    }
}

TlsDecrypterFactory Tls13HandshakeDecryptor::factory(const KeyLog& log, Tls13DecryptLimits limits) {
    return [&log, limits](const TlsDecryptRequest& request, std::string& why_not) -> std::unique_ptr<TlsHandshakeDecrypter> {
        const KeyLogEntry* entry = log.find(request.client_random);
        if (entry == nullptr) {
            why_not = "no secrets for this client random in the key log";
            return nullptr;
        }
        auto made = create(*entry, request.cipher_suite, request.client_offered_early_data, limits);
        if (!made) {
            why_not = made.error();
            return nullptr;
        }
        return std::make_unique<Tls13HandshakeDecryptor>(std::move(*made));
    };
}

}  // namespace meshproof::audit
