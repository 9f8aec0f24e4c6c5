#include "audit/classify/tls13_handshake.hpp"

namespace meshproof::audit {
namespace {

constexpr std::uint8_t kEndOfEarlyData = 5;
constexpr std::uint8_t kEncryptedExtensions = 8;
constexpr std::uint8_t kCertificate = 11;
constexpr std::uint8_t kCertificateRequest = 13;
constexpr std::uint8_t kCertificateVerify = 15;
constexpr std::uint8_t kFinished = 20;
constexpr std::uint8_t kCompressedCertificate = 25;

constexpr std::uint16_t kExtAlpn = 0x0010;
constexpr std::uint16_t kExtEarlyData = 0x002a;

// extensions<0..2^16-1> filling `r` exactly; `each(type, data)` may reject one.
template <typename F>
ParseOutcome for_each_extension(ByteReader& r, F&& each) {
    ByteReader list;
    if (!r.prefixed16(list)) return ParseOutcome::Malformed;
    while (!list.empty()) {
        std::uint16_t type = 0;
        ByteReader data;
        if (!list.u16(type) || !list.prefixed16(data)) return ParseOutcome::Malformed;
        if (const auto o = each(type, data); o != ParseOutcome::Ok) return o;
    }
    return ParseOutcome::Ok;
}

}  // namespace

ParseOutcome parse_encrypted_extensions(Bytes body, Tls13EncryptedHandshake& out) {
    ByteReader r(body);
    const auto o = for_each_extension(r, [&](std::uint16_t type, ByteReader data) {
        if (type == kExtAlpn) {
            // ProtocolNameList with exactly one name (RFC 7301 3.1).
            ByteReader list, name;
            if (!data.prefixed16(list) || !data.empty() || !list.prefixed8(name) || !list.empty() || name.empty())
                return ParseOutcome::Malformed;
            out.alpn = std::string(as_chars(name.rest()));
        } else if (type == kExtEarlyData) {
            if (!data.empty()) return ParseOutcome::Malformed;
            out.early_data_accepted = true;
        }
        return ParseOutcome::Ok;
    });
    if (o != ParseOutcome::Ok) return o;
    if (!r.empty()) return ParseOutcome::Malformed;
    out.encrypted_extensions = true;
    return ParseOutcome::Ok;
}

ParseOutcome parse_tls13_certificate_request(Bytes body) {
    ByteReader r(body);
    ByteReader context;
    if (!r.prefixed8(context)) return ParseOutcome::Malformed;
    const auto o = for_each_extension(r, [](std::uint16_t, ByteReader) { return ParseOutcome::Ok; });
    if (o != ParseOutcome::Ok) return o;
    return r.empty() ? ParseOutcome::Ok : ParseOutcome::Malformed;
}

ParseOutcome parse_tls13_certificate(Bytes body, std::size_t max_certificates, std::vector<TlsCertificateDer>& certs,
                                     std::uint32_t& dropped) {
    ByteReader r(body);
    ByteReader context, list;
    if (!r.prefixed8(context) || !r.prefixed24(list) || !r.empty()) return ParseOutcome::Malformed;
    while (!list.empty()) {
        ByteReader cert;
        if (!list.prefixed24(cert) || cert.empty()) return ParseOutcome::Malformed;
        const auto o = for_each_extension(list, [](std::uint16_t, ByteReader) { return ParseOutcome::Ok; });
        if (o != ParseOutcome::Ok) return o;
        if (certs.size() >= max_certificates) {
            ++dropped;
            continue;
        }
        const Bytes der = cert.rest();
        certs.push_back({{der.begin(), der.end()}});
    }
    return ParseOutcome::Ok;
}

ParseOutcome parse_certificate_verify(Bytes body, std::uint16_t& scheme) {
    ByteReader r(body);
    ByteReader signature;
    if (!r.u16(scheme) || !r.prefixed16(signature) || signature.empty() || !r.empty()) return ParseOutcome::Malformed;
    return ParseOutcome::Ok;
}

ParseOutcome Tls13HandshakeReader::on_record(Bytes content, Tls13EncryptedHandshake& out) {
    // RFC 8446 5.1: handshake messages never span a key change, so nothing follows a Finished.
    if (finished_) return ParseOutcome::Malformed;
    if (content.empty()) return ParseOutcome::Malformed;  // zero-length handshake fragments are forbidden
    const bool buffered = !pending_.empty();
    if (buffered) pending_.insert(pending_.end(), content.begin(), content.end());
    const Bytes stream = buffered ? Bytes(pending_) : content;
    ByteReader r(stream);
    while (!r.empty()) {
        if (finished_) return ParseOutcome::Malformed;
        ByteReader probe = r;
        std::uint8_t type = 0;
        std::uint32_t length = 0;
        if (!probe.u8(type) || !probe.u24(length)) break;
        if (length > max_message_) return ParseOutcome::TooLarge;
        Bytes body;
        if (!probe.bytes(length, body)) break;
        r = probe;
        if (const auto o = on_message(type, body, out); o != ParseOutcome::Ok) return o;
    }
    const Bytes tail = r.rest();
    std::vector<std::uint8_t> rest(tail.begin(), tail.end());
    pending_ = std::move(rest);
    if (pending_.size() > max_message_ + 4) return ParseOutcome::TooLarge;
    return pending_.empty() ? ParseOutcome::Ok : ParseOutcome::NeedMore;
}

ParseOutcome Tls13HandshakeReader::on_message(std::uint8_t type, Bytes body, Tls13EncryptedHandshake& out) {
    switch (type) {
        case kEncryptedExtensions:
            if (from_client_ || out.encrypted_extensions) return ParseOutcome::Malformed;
            return parse_encrypted_extensions(body, out);
        case kCertificateRequest:
            if (from_client_) return ParseOutcome::Malformed;
            if (const auto o = parse_tls13_certificate_request(body); o != ParseOutcome::Ok) return o;
            out.certificate_request = true;
            return ParseOutcome::Ok;
        case kCertificate: {
            auto& slot = from_client_ ? out.client_certificates : out.server_certificates;
            if (slot) return ParseOutcome::Malformed;  // one Certificate per side in a handshake
            std::vector<TlsCertificateDer> certs;
            if (const auto o = parse_tls13_certificate(body, max_certificates_, certs, out.certificates_dropped);
                o != ParseOutcome::Ok)
                return o;
            slot = std::move(certs);
            return ParseOutcome::Ok;
        }
        case kCertificateVerify: {
            std::uint16_t scheme = 0;
            if (const auto o = parse_certificate_verify(body, scheme); o != ParseOutcome::Ok) return o;
            (from_client_ ? out.client_signature_scheme : out.server_signature_scheme) = scheme;
            return ParseOutcome::Ok;
        }
        case kFinished:
            // verify_data is Hash.length bytes: 32 or 48 for every TLS 1.3 suite.
            if (body.size() != 32 && body.size() != 48) return ParseOutcome::Malformed;
            finished_ = true;
            (from_client_ ? out.client_finished : out.server_finished) = true;
            return ParseOutcome::Ok;
        case kCompressedCertificate:
            if (body.empty()) return ParseOutcome::Malformed;
            (from_client_ ? out.client_certificate_compressed : out.server_certificate_compressed) = true;
            return ParseOutcome::Ok;
        case kEndOfEarlyData:
            return from_client_ && body.empty() ? ParseOutcome::Ok : ParseOutcome::Malformed;
        default:
            // Nothing else belongs before Finished (NewSessionTicket, KeyUpdate come after it).
            return ParseOutcome::Malformed;
    }
}

}  // namespace meshproof::audit
