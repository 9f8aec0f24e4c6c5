#include "audit/classify/tls_parser.hpp"

#include <algorithm>
#include <utility>

#include "audit/classify/ja_fingerprint.hpp"

namespace meshproof::audit {
namespace {

constexpr std::uint8_t kChangeCipherSpec = 20;
constexpr std::uint8_t kAlert = 21;
constexpr std::uint8_t kHandshake = 22;
constexpr std::uint8_t kApplicationData = 23;
constexpr std::uint8_t kHeartbeat = 24;

constexpr std::uint8_t kClientHello = 1;
constexpr std::uint8_t kServerHello = 2;
constexpr std::uint8_t kNewSessionTicket = 4;
constexpr std::uint8_t kCertificate = 11;
constexpr std::uint8_t kCertificateRequest = 13;
constexpr std::uint8_t kServerHelloDone = 14;

constexpr std::uint8_t kSslv2ClientHello = 1;
constexpr std::uint8_t kSslv2ServerHello = 4;
constexpr std::uint16_t kSslv2Version = 0x0002;

constexpr std::uint16_t kExtServerName = 0x0000;
constexpr std::uint16_t kExtSupportedGroups = 0x000a;
constexpr std::uint16_t kExtEcPointFormats = 0x000b;
constexpr std::uint16_t kExtSignatureAlgorithms = 0x000d;
constexpr std::uint16_t kExtAlpn = 0x0010;
constexpr std::uint16_t kExtSessionTicket = 0x0023;
constexpr std::uint16_t kExtPreSharedKey = 0x0029;
constexpr std::uint16_t kExtSupportedVersions = 0x002b;
constexpr std::uint16_t kExtKeyShare = 0x0033;
constexpr std::uint16_t kExtEncryptedClientHello = 0xfe0d;

// TLSCiphertext may exceed 2^14 by up to 2048 bytes (RFC 5246 6.2.3); anything larger is not TLS.
constexpr std::size_t kMaxRecordLength = 16384 + 2048;
constexpr std::size_t kRecordHeader = 5;
constexpr std::size_t kMaxAlertsKept = 16;  // a stream of alerts must not grow memory without bound
// legacy_version(2) + random(32) + session_id length(1) + cipher(2) + compression(1): the smallest hello.
constexpr std::uint32_t kMinHelloBody = 38;

// RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest.
constexpr std::array<std::uint8_t, 32> kHelloRetryRandom = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

bool valid_content_type(std::uint8_t t) { return t >= kChangeCipherSpec && t <= kHeartbeat; }
bool valid_record_version(std::uint16_t v) { return (v >> 8) == 3 && (v & 0xff) <= 4; }
bool is_failure(ParseOutcome o) {
    return o == ParseOutcome::Malformed || o == ParseOutcome::TooLarge || o == ParseOutcome::NotThisProtocol;
}

// Reads a list of 16-bit values filling `r` exactly; GREASE dropped. False on an odd length.
bool read_u16_list(ByteReader r, std::vector<std::uint16_t>& out) {
    if (r.remaining() % 2 != 0) return false;
    out.reserve(out.size() + r.remaining() / 2);
    std::uint16_t v = 0;
    while (r.u16(v))
        if (!is_grease(v)) out.push_back(v);
    return true;
}

std::string to_string(Bytes b) { return std::string(as_chars(b)); }

ParseOutcome parse_server_name(ByteReader ext, TlsClientHello& ch) {
    ByteReader list;
    if (!ext.prefixed16(list) || !ext.empty()) return ParseOutcome::Malformed;
    while (!list.empty()) {
        std::uint8_t name_type = 0;
        ByteReader name;
        if (!list.u8(name_type) || !list.prefixed16(name)) return ParseOutcome::Malformed;
        if (name_type == 0 && !ch.sni && !name.empty()) ch.sni = to_string(name.rest());
    }
    return ParseOutcome::Ok;
}

ParseOutcome parse_alpn_list(ByteReader ext, std::vector<std::string>& out) {
    ByteReader list;
    if (!ext.prefixed16(list) || !ext.empty()) return ParseOutcome::Malformed;
    while (!list.empty()) {
        ByteReader proto;
        if (!list.prefixed8(proto)) return ParseOutcome::Malformed;
        out.push_back(to_string(proto.rest()));
    }
    return ParseOutcome::Ok;
}

ParseOutcome parse_key_share_groups(ByteReader ext, std::vector<std::uint16_t>& groups) {
    ByteReader list;
    if (!ext.prefixed16(list) || !ext.empty()) return ParseOutcome::Malformed;
    while (!list.empty()) {
        std::uint16_t group = 0;
        ByteReader key;
        if (!list.u16(group) || !list.prefixed16(key)) return ParseOutcome::Malformed;
        if (!is_grease(group)) groups.push_back(group);
    }
    return ParseOutcome::Ok;
}

ParseOutcome parse_client_extension(std::uint16_t type, ByteReader ext, TlsClientHello& ch) {
    switch (type) {
        case kExtServerName:
            ch.has_sni_extension = true;
            // An empty server_name extension is legal only in a ServerHello; tolerate it here too.
            return ext.empty() ? ParseOutcome::Ok : parse_server_name(ext, ch);
        case kExtAlpn:
            ch.has_alpn_extension = true;
            return parse_alpn_list(ext, ch.alpn);
        case kExtSupportedVersions: {
            ByteReader list;
            if (!ext.prefixed8(list) || !ext.empty() || !read_u16_list(list, ch.supported_versions))
                return ParseOutcome::Malformed;
            return ParseOutcome::Ok;
        }
        case kExtSupportedGroups: {
            ByteReader list;
            if (!ext.prefixed16(list) || !ext.empty() || !read_u16_list(list, ch.groups))
                return ParseOutcome::Malformed;
            return ParseOutcome::Ok;
        }
        case kExtEcPointFormats: {
            ByteReader list;
            if (!ext.prefixed8(list) || !ext.empty()) return ParseOutcome::Malformed;
            const Bytes formats = list.rest();
            ch.ec_point_formats.assign(formats.begin(), formats.end());
            return ParseOutcome::Ok;
        }
        case kExtSignatureAlgorithms: {
            ByteReader list;
            if (!ext.prefixed16(list) || !ext.empty() || !read_u16_list(list, ch.signature_algorithms))
                return ParseOutcome::Malformed;
            return ParseOutcome::Ok;
        }
        case kExtKeyShare: return parse_key_share_groups(ext, ch.key_share_groups);
        case kExtSessionTicket: ch.has_session_ticket = !ext.empty(); return ParseOutcome::Ok;
        case kExtPreSharedKey: ch.offers_psk = true; return ParseOutcome::Ok;
        case kExtEncryptedClientHello: ch.ech = true; return ParseOutcome::Ok;
        default: return ParseOutcome::Ok;
    }
}

// ClientHello body (RFC 8446 4.1.2 / RFC 5246 7.4.1.2); `session_id` points into `body`.
ParseOutcome parse_client_hello(Bytes body, TlsClientHello& ch, Bytes& session_id) {
    ByteReader r(body);
    ByteReader sid, ciphers, compression;
    if (!r.u16(ch.legacy_version) || !r.skip(32) || !r.prefixed8(sid) || !r.prefixed16(ciphers) ||
        !r.prefixed8(compression))
        return ParseOutcome::Malformed;
    if (sid.remaining() > 32 || compression.empty()) return ParseOutcome::Malformed;
    if (!read_u16_list(ciphers, ch.cipher_suites)) return ParseOutcome::Malformed;
    session_id = sid.rest();
    ch.has_session_id = !session_id.empty();
    if (r.empty()) return ParseOutcome::Ok;  // SSLv3-era hellos may carry no extensions at all
    ByteReader extensions;
    if (!r.prefixed16(extensions)) return ParseOutcome::Malformed;
    while (!extensions.empty()) {
        std::uint16_t type = 0;
        ByteReader data;
        if (!extensions.u16(type) || !extensions.prefixed16(data)) return ParseOutcome::Malformed;
        if (is_grease(type)) continue;
        ch.extensions.push_back(type);
        if (const auto o = parse_client_extension(type, data, ch); o != ParseOutcome::Ok) return o;
    }
    return ParseOutcome::Ok;
}

// ServerHello body; `random` and `session_id` point into `body`.
ParseOutcome parse_server_hello(Bytes body, TlsServerHello& sh, Bytes& random, Bytes& session_id) {
    ByteReader r(body);
    ByteReader sid;
    std::uint8_t compression = 0;
    if (!r.u16(sh.legacy_version) || !r.bytes(32, random) || !r.prefixed8(sid) || !r.u16(sh.cipher_suite) ||
        !r.u8(compression))
        return ParseOutcome::Malformed;
    if (sid.remaining() > 32) return ParseOutcome::Malformed;
    session_id = sid.rest();
    sh.version = sh.legacy_version;
    if (r.empty()) return ParseOutcome::Ok;
    ByteReader extensions;
    if (!r.prefixed16(extensions)) return ParseOutcome::Malformed;
    while (!extensions.empty()) {
        std::uint16_t type = 0;
        ByteReader data;
        if (!extensions.u16(type) || !extensions.prefixed16(data)) return ParseOutcome::Malformed;
        sh.extensions.push_back(type);
        if (type == kExtSupportedVersions) {
            std::uint16_t selected = 0;
            if (!data.u16(selected) || !data.empty()) return ParseOutcome::Malformed;
            sh.version = selected;
        } else if (type == kExtAlpn) {
            std::vector<std::string> chosen;
            if (parse_alpn_list(data, chosen) != ParseOutcome::Ok || chosen.size() != 1)
                return ParseOutcome::Malformed;
            sh.alpn = std::move(chosen.front());
        } else if (type == kExtPreSharedKey) {
            std::uint16_t selected_identity = 0;
            if (!data.u16(selected_identity) || !data.empty()) return ParseOutcome::Malformed;
            sh.psk_accepted = true;
        }
    }
    return ParseOutcome::Ok;
}

// The length of an SSLv2 record header: 2 bytes when the high bit is set, else 3 (with padding).
struct Sslv2Header {
    std::size_t header = 0;
    std::size_t length = 0;
};
std::optional<Sslv2Header> read_sslv2_header(Bytes rest) {
    if (rest.size() < 2) return std::nullopt;
    if ((rest[0] & 0x80) != 0) return Sslv2Header{2, (std::size_t{rest[0] & 0x7fu} << 8) | rest[1]};
    if (rest.size() < 3) return std::nullopt;
    return Sslv2Header{3, (std::size_t{rest[0] & 0x3fu} << 8) | rest[1]};
}

ParseOutcome sniff_sslv2(Bytes b) {
    // CLIENT-HELLO: len(2) type=1 version(2) cipher_specs_len(2) session_id_len(2) challenge_len(2).
    // SERVER-HELLO: len(2) type=4 session_id_hit(1) certificate_type(1) version(2) ...
    if (b.size() < 3) return ParseOutcome::NeedMore;
    const std::size_t length = (std::size_t{b[0] & 0x7fu} << 8) | b[1];
    if (b[2] == kSslv2ClientHello) {
        if (b.size() < 5) return ParseOutcome::NeedMore;
        const auto version = static_cast<std::uint16_t>((b[3] << 8) | b[4]);
        if (version != kSslv2Version && !valid_record_version(version)) return ParseOutcome::NotThisProtocol;
        return length >= 9 ? ParseOutcome::Ok : ParseOutcome::NotThisProtocol;
    }
    if (b[2] == kSslv2ServerHello) {
        if (b.size() < 7) return ParseOutcome::NeedMore;
        if (b[3] > 1) return ParseOutcome::NotThisProtocol;  // session_id_hit is a boolean
        const auto version = static_cast<std::uint16_t>((b[5] << 8) | b[6]);
        if (version != kSslv2Version) return ParseOutcome::NotThisProtocol;
        return length >= 11 ? ParseOutcome::Ok : ParseOutcome::NotThisProtocol;
    }
    return ParseOutcome::NotThisProtocol;
}

// After an SSLv3/TLS-compatible SSLv2 hello the peer may continue in TLS records or in SSLv2 ones.
std::optional<bool> looks_like_tls_record(Bytes rest) {
    if (rest.size() < 3) return std::nullopt;
    return valid_content_type(rest[0]) && rest[1] == 3 && rest[2] <= 4;
}

}  // namespace

TlsParser::TlsParser(TlsLimits limits) : limits_(limits) {}

ParseOutcome TlsParser::fail(DirectionState& st, ParseOutcome why) {
    st.failure = why;
    st.pending.clear();
    st.pending.shrink_to_fit();
    outcomes_.add(why);
    return why;
}

ParseOutcome TlsParser::feed(Direction dir, Bytes all) {
    DirectionState& st = dirs_[index(dir)];
    if (st.failure) return *st.failure;
    if (all.empty() && st.mode == Mode::Start) {
        outcomes_.add(ParseOutcome::NeedMore);
        return ParseOutcome::NeedMore;
    }
    while (st.offset < all.size()) {
        const Bytes rest = all.subspan(st.offset);
        bool need_more = false;
        ParseOutcome o = ParseOutcome::Ok;
        if (st.mode == Mode::Start) {
            const ParseOutcome sniffed = sniff_tls(rest);
            if (sniffed == ParseOutcome::NeedMore) need_more = true;
            else if (sniffed != ParseOutcome::Ok) return fail(st, sniffed);
            else if ((rest[0] & 0x80) != 0) o = parse_sslv2_record(dir, st, rest, need_more);
            else o = parse_record(dir, st, rest, need_more);
        } else if (st.mode == Mode::Sslv2Opaque) {
            o = parse_sslv2_record(dir, st, rest, need_more);
        } else {
            if (st.sslv2_hello && st.mode == Mode::Clear) {
                const auto tls = looks_like_tls_record(rest);
                if (!tls) need_more = true;
                else if (!*tls) st.mode = Mode::Sslv2Opaque;
            }
            if (!need_more) {
                o = st.mode == Mode::Sslv2Opaque ? parse_sslv2_record(dir, st, rest, need_more)
                                                 : parse_record(dir, st, rest, need_more);
            }
        }
        if (need_more) {
            outcomes_.add(ParseOutcome::NeedMore);
            return ParseOutcome::NeedMore;
        }
        if (is_failure(o)) return fail(st, o);
        update_visible_complete();
    }
    // Inside an encrypted record whose header was counted but whose body has not all arrived, or
    // inside a handshake message split across records.
    if (st.offset > all.size() || !st.pending.empty()) {
        outcomes_.add(ParseOutcome::NeedMore);
        return ParseOutcome::NeedMore;
    }
    return ParseOutcome::Ok;
}

ParseOutcome TlsParser::parse_record(Direction dir, DirectionState& st, Bytes rest, bool& need_more) {
    ByteReader r(rest);
    std::uint8_t type = 0;
    std::uint16_t version = 0;
    std::uint16_t length = 0;
    if (!r.u8(type) || !r.u16(version) || !r.u16(length)) {
        need_more = true;
        return ParseOutcome::NeedMore;
    }
    const bool first = st.mode == Mode::Start;
    if (!valid_content_type(type) || !valid_record_version(version) || length > kMaxRecordLength)
        return first ? ParseOutcome::NotThisProtocol : ParseOutcome::Malformed;
    if (first) {
        st.mode = Mode::Clear;
        st.first_record_version = version;
    }
    const bool from_client = dir == Direction::ClientToServer;

    // Content nobody can read is counted from its header alone, so it is never buffered.
    const bool plaintext_alert = type == kAlert && length == 2;  // encrypted alerts carry a MAC or tag
    if (type == kApplicationData || type == kHeartbeat ||
        (st.mode == Mode::Encrypted && !plaintext_alert)) {
        st.offset += kRecordHeader + length;
        switch (type) {
            case kApplicationData: ++(from_client ? facts_.app_data_records_c2s : facts_.app_data_records_s2c); break;
            case kChangeCipherSpec: (from_client ? facts_.client_ccs : facts_.server_ccs) = true; break;
            case kAlert:
                if (facts_.alerts.size() < kMaxAlertsKept) facts_.alerts.push_back({from_client, 0, 0, true});
                break;
            case kHeartbeat: ++facts_.other_records; break;
            default: break;  // an encrypted handshake message (Finished)
        }
        outcomes_.add(ParseOutcome::Ok);
        return ParseOutcome::Ok;
    }

    Bytes body;
    if (!r.bytes(length, body)) {
        // A handshake message over the limit is TooLarge as soon as its header shows, not once its
        // record is complete: a full 16 KiB record never fits the default stream limit, so a hello
        // announcing 16 MiB would otherwise stay NeedMore forever.
        if (type == kHandshake && st.pending.empty() && !st.tentative_after_ccs) {
            std::uint8_t message_type = 0;
            std::uint32_t message_length = 0;
            if (r.u8(message_type) && r.u24(message_length) && message_length > limits_.max_handshake_message)
                return ParseOutcome::TooLarge;
        }
        need_more = true;
        return ParseOutcome::NeedMore;
    }
    st.offset += kRecordHeader + length;
    ParseOutcome o = ParseOutcome::Ok;
    switch (type) {
        case kChangeCipherSpec: o = on_change_cipher_spec(dir, st, body); break;
        case kAlert: o = on_alert(dir, body); break;
        case kHandshake: o = on_handshake_fragment(dir, st, body); break;
        default: break;
    }
    if (o == ParseOutcome::Ok) outcomes_.add(ParseOutcome::Ok);
    return o;
}

ParseOutcome TlsParser::parse_sslv2_record(Direction dir, DirectionState& st, Bytes rest, bool& need_more) {
    const auto hdr = read_sslv2_header(rest);
    if (!hdr) {
        need_more = true;
        return ParseOutcome::NeedMore;
    }
    if (st.mode == Mode::Sslv2Opaque) {
        // CLIENT-MASTER-KEY and everything after it: framing only.
        st.offset += hdr->header + hdr->length;
        ++facts_.other_records;
        outcomes_.add(ParseOutcome::Ok);
        return ParseOutcome::Ok;
    }
    if (hdr->length > limits_.max_handshake_message) return ParseOutcome::TooLarge;
    if (rest.size() < hdr->header + hdr->length) {
        need_more = true;
        return ParseOutcome::NeedMore;
    }
    ByteReader r(rest.subspan(hdr->header, hdr->length));
    st.offset += hdr->header + hdr->length;
    st.sslv2_hello = true;
    st.first_record_version = kSslv2Version;

    std::uint8_t msg_type = 0;
    if (!r.u8(msg_type)) return ParseOutcome::Malformed;
    const bool from_client = dir == Direction::ClientToServer;
    if (msg_type == kSslv2ClientHello && from_client) {
        TlsClientHello ch;
        ch.sslv2_format = true;
        ch.record_version = kSslv2Version;
        std::uint16_t specs_len = 0, sid_len = 0, challenge_len = 0;
        Bytes specs, sid, challenge;
        if (!r.u16(ch.legacy_version) || !r.u16(specs_len) || !r.u16(sid_len) || !r.u16(challenge_len) ||
            specs_len % 3 != 0 || sid_len > 32 || challenge_len < 16 || challenge_len > 32 ||
            !r.bytes(specs_len, specs) || !r.bytes(sid_len, sid) || !r.bytes(challenge_len, challenge))
            return ParseOutcome::Malformed;
        ByteReader spec_reader(specs);
        std::uint8_t kind = 0;
        std::uint16_t suite = 0;
        while (spec_reader.u8(kind) && spec_reader.u16(suite)) {
            // Specs starting with 0x00 are TLS cipher suites; the others are SSLv2-only kinds.
            if (kind == 0 && !is_grease(suite)) ch.cipher_suites.push_back(suite);
        }
        ch.has_session_id = !sid.empty();
        // A pure SSLv2 client keeps talking SSLv2; a compatible one may switch to TLS records.
        st.mode = ch.legacy_version == kSslv2Version ? Mode::Sslv2Opaque : Mode::Clear;
        store_client_hello(std::move(ch), sid);
        outcomes_.add(ParseOutcome::Ok);
        return ParseOutcome::Ok;
    }
    if (msg_type == kSslv2ServerHello && !from_client) {
        std::uint8_t session_id_hit = 0, cert_type = 0;
        std::uint16_t version = 0, cert_len = 0, specs_len = 0, conn_id_len = 0;
        Bytes cert, specs, conn_id;
        if (!r.u8(session_id_hit) || !r.u8(cert_type) || !r.u16(version) || !r.u16(cert_len) ||
            !r.u16(specs_len) || !r.u16(conn_id_len) || specs_len % 3 != 0 || !r.bytes(cert_len, cert) ||
            !r.bytes(specs_len, specs) || !r.bytes(conn_id_len, conn_id))
            return ParseOutcome::Malformed;
        if (!facts_.server_hello) {
            TlsServerHello sh;
            sh.record_version = kSslv2Version;
            sh.legacy_version = version;
            sh.version = version;
            sh.sslv2_format = true;
            sh.session_id_echoed = session_id_hit != 0;
            facts_.server_hello = std::move(sh);
            constexpr std::uint8_t kX509Certificate = 1;
            if (cert_type == kX509Certificate && !cert.empty())
                facts_.server_certificates = std::vector<TlsCertificateDer>{{{cert.begin(), cert.end()}}};
        }
        // Everything after SERVER-HELLO is key exchange and encrypted data.
        st.mode = Mode::Sslv2Opaque;
        facts_.handshake_visible_complete = true;
        outcomes_.add(ParseOutcome::Ok);
        return ParseOutcome::Ok;
    }
    return ParseOutcome::Malformed;
}

ParseOutcome TlsParser::on_change_cipher_spec(Direction dir, DirectionState& st, Bytes body) {
    if (body.size() != 1 || body[0] != 1) return ParseOutcome::Malformed;
    const bool from_client = dir == Direction::ClientToServer;
    (from_client ? facts_.client_ccs : facts_.server_ccs) = true;
    // TLS 1.3 middlebox-compatibility CCS is a dummy: a clear hello may still follow it (server: the
    // ServerHello after its HelloRetryRequest; client: a second ClientHello after HRR, which the client
    // may send before we have seen the server's bytes, hence the tentative mode).
    if (!from_client && facts_.server_hello && facts_.server_hello->hello_retry_request && !real_server_hello_seen_)
        return ParseOutcome::Ok;
    if (from_client && tls13_possible()) {
        st.tentative_after_ccs = true;
        return ParseOutcome::Ok;
    }
    st.mode = Mode::Encrypted;
    st.pending.clear();
    return ParseOutcome::Ok;
}

ParseOutcome TlsParser::on_alert(Direction dir, Bytes body) {
    if (body.empty() || body.size() % 2 != 0) return ParseOutcome::Malformed;
    ByteReader r(body);
    std::uint8_t level = 0, description = 0;
    while (r.u8(level) && r.u8(description)) {
        if (facts_.alerts.size() >= kMaxAlertsKept) break;
        facts_.alerts.push_back({dir == Direction::ClientToServer, level, description, false});
    }
    return ParseOutcome::Ok;
}

ParseOutcome TlsParser::on_handshake_fragment(Direction dir, DirectionState& st, Bytes fragment) {
    if (st.tentative_after_ccs) {
        // After a possibly-dummy CCS only a whole second ClientHello is believable; anything else is
        // the encrypted Finished of TLS 1.2.
        st.tentative_after_ccs = false;
        ByteReader probe(fragment);
        std::uint8_t type = 0;
        std::uint32_t length = 0;
        const bool plausible = st.pending.empty() && probe.u8(type) && type == kClientHello && probe.u24(length) &&
                               length <= probe.remaining();
        if (!plausible) {
            st.mode = Mode::Encrypted;
            st.pending.clear();
            return ParseOutcome::Ok;
        }
    }
    const bool buffered = !st.pending.empty();
    if (buffered) st.pending.insert(st.pending.end(), fragment.begin(), fragment.end());
    const Bytes stream = buffered ? Bytes(st.pending) : fragment;
    ByteReader r(stream);
    while (st.mode == Mode::Clear) {
        ByteReader probe = r;
        std::uint8_t type = 0;
        std::uint32_t length = 0;
        if (!probe.u8(type) || !probe.u24(length)) break;
        if (length > limits_.max_handshake_message) return ParseOutcome::TooLarge;
        Bytes body;
        if (!probe.bytes(length, body)) break;
        r = probe;
        if (const auto o = on_handshake_message(dir, st, type, body); o != ParseOutcome::Ok) return o;
        outcomes_.add(ParseOutcome::Ok);
    }
    if (st.mode != Mode::Clear) {
        // TLS 1.3 ServerHello: whatever follows it is not readable.
        st.pending.clear();
        return ParseOutcome::Ok;
    }
    const std::size_t consumed = stream.size() - r.remaining();
    if (buffered) {
        st.pending.erase(st.pending.begin(), st.pending.begin() + static_cast<std::ptrdiff_t>(consumed));
    } else {
        const Bytes tail = r.rest();
        st.pending.assign(tail.begin(), tail.end());
    }
    return ParseOutcome::Ok;
}

ParseOutcome TlsParser::on_handshake_message(Direction dir, DirectionState& st, std::uint8_t type, Bytes body) {
    const bool from_client = dir == Direction::ClientToServer;
    switch (type) {
        case kClientHello: return from_client ? on_client_hello(st, body) : ParseOutcome::Malformed;
        case kServerHello: return from_client ? ParseOutcome::Malformed : on_server_hello(st, body);
        case kCertificate: return on_certificate(dir, body);
        case kCertificateRequest:
            if (from_client) return ParseOutcome::Malformed;
            facts_.certificate_request = true;
            return ParseOutcome::Ok;
        case kServerHelloDone:
            if (from_client) return ParseOutcome::Malformed;
            facts_.server_hello_done = true;
            return ParseOutcome::Ok;
        case kNewSessionTicket:
            if (from_client) return ParseOutcome::Malformed;
            facts_.new_session_ticket = true;
            return ParseOutcome::Ok;
        default:
            // ServerKeyExchange, ClientKeyExchange, CertificateVerify, CertificateStatus, ...: no facts.
            return ParseOutcome::Ok;
    }
}

ParseOutcome TlsParser::on_client_hello(DirectionState& st, Bytes body) {
    TlsClientHello ch;
    Bytes session_id;
    if (const auto o = parse_client_hello(body, ch, session_id); o != ParseOutcome::Ok) return o;
    ch.record_version = st.first_record_version;
    store_client_hello(std::move(ch), session_id);
    return ParseOutcome::Ok;
}

void TlsParser::store_client_hello(TlsClientHello hello, Bytes session_id) {
    if (facts_.client_hello) {
        // After a HelloRetryRequest: the first hello is the client's fingerprint, keep it.
        facts_.second_client_hello = true;
        return;
    }
    hello.ja3_string = ja3_string(hello);
    hello.ja3 = ja3_hash(hello.ja3_string);
    hello.ja4 = ja4(hello);
    client_session_id_len_ = std::min(session_id.size(), client_session_id_.size());
    std::copy_n(session_id.begin(), client_session_id_len_, client_session_id_.begin());
    facts_.client_hello = std::move(hello);
}

ParseOutcome TlsParser::on_server_hello(DirectionState& st, Bytes body) {
    TlsServerHello sh;
    Bytes random, session_id;
    if (const auto o = parse_server_hello(body, sh, random, session_id); o != ParseOutcome::Ok) return o;
    sh.record_version = st.first_record_version;
    const bool retry = std::equal(random.begin(), random.end(), kHelloRetryRandom.begin(), kHelloRetryRandom.end());
    if (facts_.server_hello) {
        // Only the ServerHello that answers a HelloRetryRequest replaces the stored one.
        if (!facts_.server_hello->hello_retry_request || real_server_hello_seen_ || retry) return ParseOutcome::Ok;
    }
    sh.hello_retry_request = retry || (facts_.server_hello && facts_.server_hello->hello_retry_request);
    const bool tls13 = is_tls13_family(sh.version);
    // In TLS 1.3 the session id echo is middlebox-compatibility noise, not resumption.
    sh.session_id_echoed = !tls13 && client_session_id_len_ > 0 &&
                           std::equal(session_id.begin(), session_id.end(), client_session_id_.begin(),
                                      client_session_id_.begin() + static_cast<std::ptrdiff_t>(client_session_id_len_));
    facts_.server_hello = std::move(sh);
    if (retry) return ParseOutcome::Ok;
    real_server_hello_seen_ = true;
    if (tls13) {
        st.mode = Mode::Encrypted;
        facts_.encrypted_handshake = true;
        facts_.handshake_visible_complete = true;
    }
    return ParseOutcome::Ok;
}

ParseOutcome TlsParser::on_certificate(Direction dir, Bytes body) {
    ByteReader r(body);
    ByteReader list;
    if (!r.prefixed24(list) || !r.empty()) return ParseOutcome::Malformed;
    std::vector<TlsCertificateDer> certs;
    while (!list.empty()) {
        ByteReader cert;
        if (!list.prefixed24(cert) || cert.empty()) return ParseOutcome::Malformed;
        if (certs.size() >= limits_.max_certificates) {
            ++facts_.certificates_dropped;
            continue;
        }
        const Bytes der = cert.rest();
        certs.push_back({{der.begin(), der.end()}});
    }
    auto& slot = dir == Direction::ClientToServer ? facts_.client_certificates : facts_.server_certificates;
    if (!slot) slot = std::move(certs);
    return ParseOutcome::Ok;
}

bool TlsParser::tls13_possible() const {
    if (facts_.server_hello) return is_tls13_family(facts_.server_hello->version);
    if (!facts_.client_hello) return false;
    const auto& offered = facts_.client_hello->supported_versions;
    return std::any_of(offered.begin(), offered.end(), is_tls13_family);
}

void TlsParser::update_visible_complete() {
    if (facts_.handshake_visible_complete) return;
    const auto done = [](const DirectionState& s) {
        return s.mode == Mode::Encrypted || s.mode == Mode::Sslv2Opaque;
    };
    if ((done(dirs_[0]) && done(dirs_[1])) ||
        (facts_.app_data_records_c2s > 0 && facts_.app_data_records_s2c > 0))
        facts_.handshake_visible_complete = true;
}

ParseOutcome sniff_tls(Bytes first_bytes) {
    if (first_bytes.empty()) return ParseOutcome::NeedMore;
    if ((first_bytes[0] & 0x80) != 0) return sniff_sslv2(first_bytes);
    if (!valid_content_type(first_bytes[0])) return ParseOutcome::NotThisProtocol;
    if (first_bytes.size() < 2) return ParseOutcome::NeedMore;
    if (first_bytes[1] != 3) return ParseOutcome::NotThisProtocol;
    if (first_bytes.size() < 3) return ParseOutcome::NeedMore;
    if (first_bytes[2] > 4) return ParseOutcome::NotThisProtocol;
    if (first_bytes.size() < kRecordHeader) return ParseOutcome::NeedMore;
    const std::size_t length = (std::size_t{first_bytes[3]} << 8) | first_bytes[4];
    return length <= kMaxRecordLength ? ParseOutcome::Ok : ParseOutcome::NotThisProtocol;
}

std::optional<std::size_t> find_tls_start(Bytes data, bool client_side, std::size_t max_scan) {
    const std::size_t limit = std::min(data.size(), max_scan);
    const std::uint8_t wanted = client_side ? kClientHello : kServerHello;
    for (std::size_t at = 0; at < limit; ++at) {
        if (data[at] != kHandshake) continue;
        ByteReader r(data.subspan(at));
        std::uint8_t type = 0, hs_type = 0;
        std::uint16_t record_version = 0, record_length = 0, hello_version = 0;
        std::uint32_t hs_length = 0;
        if (!r.u8(type) || !r.u16(record_version) || !r.u16(record_length) || !r.u8(hs_type) ||
            !r.u24(hs_length) || !r.u16(hello_version))
            continue;
        if (!valid_record_version(record_version) || record_length > kMaxRecordLength || record_length < 4 + 2)
            continue;
        if (hs_type != wanted || hs_length < kMinHelloBody || hs_length > 0xffff) continue;
        if (!valid_record_version(hello_version)) continue;
        return at;
    }
    return std::nullopt;
}

}  // namespace meshproof::audit
