#include "audit/verdict/verdict.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "audit/certs/certificate_info.hpp"
#include "audit/classify/entropy.hpp"
#include "audit/classify/plaintext.hpp"

namespace meshproof::audit {

std::string_view to_string(Verdict v) {
    switch (v) {
        case Verdict::IstioMtls: return "istio-mtls";
        case Verdict::Hbone: return "hbone";
        case Verdict::Mtls: return "mtls";
        case Verdict::Tls: return "tls";
        case Verdict::PlaintextServed: return "plaintext-served";
        case Verdict::PlaintextRejected: return "plaintext-rejected";
        case Verdict::EncryptedUnknown: return "encrypted-unknown";
        case Verdict::Unknown: return "unknown";
    }
    return "unknown";
}

std::optional<Verdict> verdict_from_string(std::string_view s) {
    for (Verdict v : kAllVerdicts) {
        if (to_string(v) == s) return v;
    }
    return std::nullopt;
}

bool is_encrypted(Verdict v) {
    return v == Verdict::IstioMtls || v == Verdict::Hbone || v == Verdict::Mtls || v == Verdict::Tls ||
           v == Verdict::EncryptedUnknown;
}
bool is_plaintext(Verdict v) { return v == Verdict::PlaintextServed || v == Verdict::PlaintextRejected; }

bool is_istio_alpn(std::string_view alpn) { return alpn.substr(0, 5) == "istio"; }
bool is_istio_sni(std::string_view sni) { return sni.substr(0, 9) == "outbound_"; }

std::string cipher_name(std::uint16_t id) {
    switch (id) {
        case 0x1301: return "TLS_AES_128_GCM_SHA256";
        case 0x1302: return "TLS_AES_256_GCM_SHA384";
        case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256";
        case 0xc02b: return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
        case 0xc02c: return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
        case 0xc02f: return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
        case 0xc030: return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384";
        case 0xcca8: return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";
        case 0xcca9: return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
        case 0xc013: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA";
        case 0xc014: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA";
        case 0x009c: return "TLS_RSA_WITH_AES_128_GCM_SHA256";
        case 0x009d: return "TLS_RSA_WITH_AES_256_GCM_SHA384";
        case 0x002f: return "TLS_RSA_WITH_AES_128_CBC_SHA";
        case 0x0035: return "TLS_RSA_WITH_AES_256_CBC_SHA";
        case 0x000a: return "TLS_RSA_WITH_3DES_EDE_CBC_SHA";
        case 0x0005: return "TLS_RSA_WITH_RC4_128_SHA";
        case 0x0004: return "TLS_RSA_WITH_RC4_128_MD5";
        default: break;
    }
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", id);
    return buf;
}

namespace {

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        out += v[i];
    }
    return out;
}

CertSummary parse_uncached(const TlsCertificateDer& der, std::vector<std::string>& spiffe);

struct ParsedCert {
    CertSummary summary;
    std::vector<std::string> spiffe;
};

// The same few certificates (a mesh CA, a handful of workloads) repeat in thousands of flows, and
// OpenSSL's d2i_X509 is by far the most expensive thing an audit does: parse each DER once.
const ParsedCert& parse_cached(const TlsCertificateDer& der) {
    static thread_local std::unordered_map<std::string, ParsedCert> cache;
    std::string key(der.der.begin(), der.der.end());
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    if (cache.size() >= 4096) cache.clear();  // bounded: a hostile capture cannot grow it
    ParsedCert parsed;
    parsed.summary = parse_uncached(der, parsed.spiffe);
    return cache.emplace(std::move(key), std::move(parsed)).first->second;
}

CertSummary summarise(const TlsCertificateDer& der, std::vector<std::string>& spiffe) {
    const ParsedCert& p = parse_cached(der);
    for (const auto& id : p.spiffe) {
        if (std::find(spiffe.begin(), spiffe.end(), id) == spiffe.end()) spiffe.push_back(id);
    }
    return p.summary;
}

CertSummary parse_uncached(const TlsCertificateDer& der, std::vector<std::string>& spiffe) {
    CertSummary s;
    auto info = parse_certificate_der(Bytes(der.der));
    if (!info) {
        s.parse_error = info.error();
        return s;
    }
    s.subject = info->subject;
    s.issuer = info->issuer;
    s.uri_sans = info->uri_sans;
    s.dns_sans = info->dns_sans;
    s.not_before = info->not_before;
    s.not_after = info->not_after;
    s.key_type = info->key_type;
    for (auto& id : spiffe_ids(*info)) {
        if (std::find(spiffe.begin(), spiffe.end(), id) == spiffe.end()) spiffe.push_back(id);
    }
    return s;
}

TlsSummary summarise_tls(const FlowObservations& obs, std::vector<std::string>& client_spiffe) {
    const TlsFacts& t = *obs.tls;
    TlsSummary s;
    s.prelude = obs.tls_prelude;
    s.midstream_records_only = obs.tls_records_only;
    if (t.client_hello) {
        const auto& ch = *t.client_hello;
        s.sni = ch.sni;
        s.alpn_offered = ch.alpn;
        s.ja3 = ch.ja3;
        s.ja4 = ch.ja4;
        s.ech = ch.ech;
        std::uint16_t highest = ch.legacy_version;
        for (auto v : ch.supported_versions) {
            if (is_tls13_family(v) || v > highest) highest = v;
        }
        if (highest) s.client_version = tls_version_name(highest);
    }
    if (t.server_hello) {
        const auto& sh = *t.server_hello;
        s.version = tls_version_name(sh.version);
        if (!sh.sslv2_format) s.cipher = cipher_name(sh.cipher_suite);
        s.alpn_chosen = sh.alpn;
        s.hello_retry = sh.hello_retry_request;
        s.resumed = sh.session_id_echoed || sh.psk_accepted;
    }
    s.cert_request = t.certificate_request;
    if (t.client_certificates) s.client_cert = !t.client_certificates->empty();
    const bool hidden = t.server_hello && (is_tls13_family(t.server_hello->version) || t.server_hello->sslv2_format);
    if (!t.client_hello && !t.server_hello) {
        s.cert_request_state = s.client_cert_state = "";
    } else if (hidden) {
        s.cert_request_state = s.client_cert_state = "encrypted";
    } else {
        s.cert_request_state = t.certificate_request ? "yes" : (t.server_hello_done || t.server_ccs) ? "no" : "unknown";
        if (t.client_certificates) s.client_cert_state = t.client_certificates->empty() ? "empty" : "yes";
        else s.client_cert_state = (t.client_ccs || t.server_ccs) ? "no" : "unknown";
    }
    std::vector<std::string> server_spiffe;
    if (t.client_certificates) {
        for (const auto& c : *t.client_certificates) s.client_certs.push_back(summarise(c, client_spiffe));
    }
    if (t.server_certificates) {
        for (const auto& c : *t.server_certificates) s.server_certs.push_back(summarise(c, server_spiffe));
    }
    s.spiffe_ids = client_spiffe;
    for (auto& id : server_spiffe) {
        if (std::find(s.spiffe_ids.begin(), s.spiffe_ids.end(), id) == s.spiffe_ids.end()) s.spiffe_ids.push_back(id);
    }
    for (const auto& a : t.alerts) {
        char buf[64];
        if (a.encrypted) std::snprintf(buf, sizeof buf, "%s encrypted alert", a.from_client ? "client" : "server");
        else std::snprintf(buf, sizeof buf, "%s alert %s %u", a.from_client ? "client" : "server",
                           a.level == 2 ? "fatal" : "warning", unsigned{a.description});
        s.alerts.emplace_back(buf);
    }
    return s;
}

void decide_tls(const FlowObservations& obs, FlowRecord& out) {
    const TlsFacts& t = *obs.tls;
    std::vector<std::string> client_spiffe;
    out.tls = summarise_tls(obs, client_spiffe);
    const TlsSummary& s = *out.tls;
    auto& ev = out.evidence;
    out.protocol = "tls";

    if (obs.tls_prelude) ev.push_back("TLS after plaintext upgrade (" + *obs.tls_prelude + ")");
    if (obs.tls_records_only) {
        out.verdict = Verdict::Tls;
        ev.push_back(obs.midstream ? "TLS records without a handshake: capture started mid-stream"
                                   : "TLS record headers, handshake not parsed (cut by the stream budget or a gap)");
        return;
    }
    const bool tls13 = t.server_hello && is_tls13_family(t.server_hello->version);
    // The deciding facts come first; the version is appended last (see add_version below).
    struct AddVersion {
        const TlsSummary& s;
        const TlsFacts& t;
        std::vector<std::string>& ev;
        ~AddVersion() {
            if (s.version) ev.push_back("ServerHello TLS " + *s.version + (s.cipher ? " " + *s.cipher : std::string()));
            else if (t.client_hello) ev.push_back("ClientHello seen, no ServerHello captured");
        }
    } add_version{s, t, ev};
    if (t.server_hello && t.server_hello->sslv2_format) {
        out.verdict = Verdict::Tls;
        ev.push_back("SSLv2 handshake (obsolete)");
        return;
    }

    // 1. Visible TLS <= 1.2 facts outrank every hint.
    if (t.certificate_request && t.client_certificates) {
        if (!t.client_certificates->empty()) {
            ev.push_back("CertificateRequest + client Certificate with " + std::to_string(t.client_certificates->size()) +
                         " certificate(s)");
            if (!client_spiffe.empty()) {
                out.verdict = Verdict::IstioMtls;
                ev.push_back("client certificate URI SAN " + client_spiffe.front());
            } else {
                out.verdict = Verdict::Mtls;
                if (!s.client_certs.empty() && !s.client_certs.front().subject.empty())
                    ev.push_back("client certificate subject " + s.client_certs.front().subject);
            }
            return;
        }
        out.verdict = Verdict::Tls;
        ev.push_back("CertificateRequest answered with an empty client Certificate: no client authentication");
        return;
    }
    const bool istio_alpn = std::any_of(s.alpn_offered.begin(), s.alpn_offered.end(),
                                        [](const std::string& a) { return is_istio_alpn(a); });
    const bool istio_sni = s.sni && is_istio_sni(*s.sni);
    if (!tls13 && t.server_hello && (t.server_hello_done || t.server_ccs) && !t.certificate_request) {
        out.verdict = Verdict::Tls;
        ev.push_back("TLS <= 1.2 handshake visible: server sent no CertificateRequest");
        if (istio_alpn || istio_sni) ev.push_back("Istio ALPN/SNI offered, but not mutual on the wire");
        return;
    }
    // 2. Ambient mesh: HBONE is mTLS 1.3 to 15008 with ALPN h2 and no SNI.
    const bool offers_h2 = std::find(s.alpn_offered.begin(), s.alpn_offered.end(), "h2") != s.alpn_offered.end();
    if (obs.server_port == 15008 && offers_h2 && !s.sni && (tls13 || !t.server_hello)) {
        out.verdict = Verdict::Hbone;
        ev.push_back("port 15008, ALPN h2, no SNI: ambient HBONE tunnel");
        return;
    }
    // 3. Istio's sidecar signatures in the ClientHello (the rest is encrypted in TLS 1.3).
    if (istio_alpn || istio_sni) {
        out.verdict = Verdict::IstioMtls;
        if (istio_alpn) ev.push_back("ClientHello ALPN " + join(s.alpn_offered, ","));
        if (istio_sni) ev.push_back("ClientHello SNI " + *s.sni);
        if (tls13) ev.push_back("TLS 1.3: certificates encrypted, mutual auth implied by Istio sidecar signature");
        return;
    }
    out.verdict = Verdict::Tls;
    if (tls13) ev.push_back("TLS 1.3: client authentication not visible");
    if (s.sni) ev.push_back("SNI " + *s.sni);
}

bool mostly_printable(Bytes b) {
    if (b.empty()) return false;
    std::size_t printable = 0;
    for (auto c : b) {
        if ((c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n' || c == '\t') ++printable;
    }
    return printable * 10 >= b.size() * 9;
}

void decide_plaintext(const FlowObservations& obs, FlowRecord& out) {
    constexpr auto c2s = index(Direction::ClientToServer);
    constexpr auto s2c = index(Direction::ServerToClient);
    auto& ev = out.evidence;
    const PlaintextFacts* p = obs.plaintext;
    const bool any_client = obs.payload_bytes[c2s] > 0, any_server = obs.payload_bytes[s2c] > 0;

    if (p && !p->protocol.empty()) {
        out.protocol = p->protocol;
        out.plaintext = PlaintextSummary{p->protocol, p->first_line, p->http_host, p->http_status};
        for (const auto& s : p->secrets) out.secrets.push_back({s.kind, s.location, s.direction, s.value});
        for (const auto& e : p->evidence) {
            if (ev.size() < 4) ev.push_back(e);
        }
        if (p->encrypted_after_banner) {
            out.verdict = Verdict::EncryptedUnknown;
            ev.push_back("readable banner, then encrypted binary packets");
            return;
        }
        const bool client_readable = p->client_readable, server_readable = p->server_readable;
        if (client_readable && !any_server && (obs.server_rst || obs.server_fin)) {
            out.verdict = Verdict::PlaintextRejected;
            ev.push_back(std::string("server ") + (obs.server_rst ? "reset" : "closed") +
                         " the connection without sending data");
            return;
        }
        if (client_readable || server_readable) {
            out.verdict = Verdict::PlaintextServed;
            if (!any_server) ev.push_back("no server reply captured");
            else if (!any_client) ev.push_back("server spoke first, client sent nothing");
            return;
        }
    }
    // Not a protocol we know: judge the bytes themselves.
    Bytes sample = obs.first_bytes[c2s].size() >= obs.first_bytes[s2c].size() ? obs.first_bytes[c2s] : obs.first_bytes[s2c];
    if (sample.empty()) {
        out.verdict = Verdict::Unknown;
        out.protocol = "unknown";
        if (!any_client && !any_server) ev.push_back(obs.syn_seen ? "no payload (handshake only)" : "no payload");
        else ev.push_back("payload not captured (snap length or gap)");
        return;
    }
    if (looks_encrypted(sample)) {
        out.verdict = Verdict::EncryptedUnknown;
        out.protocol = "unknown";
        char buf[64];
        std::snprintf(buf, sizeof buf, "high-entropy payload (%.2f bits/byte), not TLS", shannon_entropy(sample));
        ev.push_back(buf);
        return;
    }
    if (mostly_printable(sample)) {
        const bool rejected = !any_server && (obs.server_rst || obs.server_fin) && any_client;
        out.verdict = rejected ? Verdict::PlaintextRejected : Verdict::PlaintextServed;
        out.protocol = "text";
        ev.push_back("readable text, protocol not recognised");
        if (rejected) ev.push_back("server closed the connection without sending data");
        return;
    }
    out.verdict = Verdict::Unknown;
    out.protocol = "unknown";
    ev.push_back("binary payload, protocol not recognised");
}

}  // namespace

void decide(const FlowObservations& obs, FlowRecord& out) {
    out.evidence.clear();
    if (obs.tls && (obs.tls->client_hello || obs.tls->server_hello || obs.tls_records_only)) {
        decide_tls(obs, out);
        // A plaintext prelude may have leaked secrets (e.g. SMTP AUTH before STARTTLS).
        if (obs.plaintext) {
            for (const auto& s : obs.plaintext->secrets) out.secrets.push_back({s.kind, s.location, s.direction, s.value});
            if (!obs.plaintext->protocol.empty()) out.plaintext = PlaintextSummary{obs.plaintext->protocol, obs.plaintext->first_line,
                                                                                   obs.plaintext->http_host, obs.plaintext->http_status};
        }
        return;
    }
    decide_plaintext(obs, out);
}

}  // namespace meshproof::audit
