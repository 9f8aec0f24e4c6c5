#include "audit/report/report.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "audit/classify/secrets.hpp"
#include "common/json_writer.hpp"

namespace meshproof::audit {

std::string secret_text(const SecretFinding& s, bool show_secrets) {
    return show_secrets ? s.value : redact(s.value);
}

std::string format_ts(double ts) {
    // Damaged captures carry any timestamp: beyond year 9999 (or not a number) there is no ISO form,
    // and converting such a double to time_t would be undefined behaviour.
    if (!(ts > 0) || ts >= 253402300800.0) return "";
    const auto secs = static_cast<std::time_t>(std::floor(ts));
    const auto micros = static_cast<long>(std::lround((ts - static_cast<double>(secs)) * 1e6));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, micros > 999999 ? 999999L : micros);
    return buf;
}

namespace {

void write_cert(JsonWriter& w, const CertSummary& c) {
    w.begin_object();
    if (!c.parse_error.empty()) {
        w.field("error", c.parse_error);
    } else {
        w.field("subject", c.subject).field("issuer", c.issuer).field("uri_sans", c.uri_sans).field("dns_sans", c.dns_sans);
        w.field("not_before", c.not_before).field("not_after", c.not_after).field("key", c.key_type);
    }
    w.end_object();
}

std::string tunnel_name(Tunnel t) {
    switch (t) {
        case Tunnel::Vxlan: return "vxlan";
        case Tunnel::Geneve: return "geneve";
        case Tunnel::IpInIp: return "ipip";
        case Tunnel::Gre: return "gre";
        case Tunnel::Erspan: return "erspan";
        case Tunnel::Capwap: return "capwap";
        case Tunnel::None: break;
    }
    return "";
}

}  // namespace

std::string flow_to_json(const FlowRecord& f, const ReportOptions& opt) {
    JsonWriter w;
    w.begin_object();
    w.field("type", "flow");
    w.field("client", endpoint_to_string(f.client_ip, f.client_port));
    w.field("server", endpoint_to_string(f.server_ip, f.server_port));
    w.field("verdict", to_string(f.verdict));
    w.field("protocol", f.protocol);
    w.field("evidence", f.evidence);
    if (f.tls) {
        const TlsSummary& t = *f.tls;
        w.key("tls").begin_object();
        w.field("version", t.version);
        w.field("client_version", t.client_version);
        w.field("sni", t.sni);
        w.field("alpn_offered", t.alpn_offered);
        w.field("alpn_chosen", t.alpn_chosen);
        w.field("cipher", t.cipher);
        w.field("cert_request", t.cert_request);
        w.field("client_cert", t.client_cert);
        w.field("spiffe_ids", t.spiffe_ids);
        w.field("resumed", t.resumed);
        w.field("hello_retry", t.hello_retry);
        w.field("ech", t.ech);
        w.key("ja4");
        t.ja4.empty() ? w.null() : w.value(t.ja4);
        w.key("ja3");
        t.ja3.empty() ? w.null() : w.value(t.ja3);
        w.field("prelude", t.prelude);
        if (!t.server_certs.empty()) {
            w.key("server_certs").begin_array();
            for (const auto& c : t.server_certs) write_cert(w, c);
            w.end_array();
        }
        if (!t.client_certs.empty()) {
            w.key("client_certs").begin_array();
            for (const auto& c : t.client_certs) write_cert(w, c);
            w.end_array();
        }
        if (!t.alerts.empty()) w.field("alerts", t.alerts);
        w.end_object();
    } else {
        w.key("tls").null();
    }
    if (f.plaintext) {
        w.key("plaintext").begin_object();
        w.field("protocol", f.plaintext->protocol);
        w.field("first_line", f.plaintext->first_line);
        w.field("host", f.plaintext->host);
        if (f.plaintext->status) w.field("status", *f.plaintext->status);
        w.end_object();
    } else {
        w.key("plaintext").null();
    }
    w.key("secrets").begin_array();
    for (const auto& s : f.secrets) {
        w.begin_object();
        w.field("kind", s.kind);
        w.field("location", s.location);
        w.field("direction", s.direction == Direction::ClientToServer ? "c2s" : "s2c");
        w.field(opt.show_secrets ? "value" : "redacted", secret_text(s, opt.show_secrets));
        w.end_object();
    }
    w.end_array();
    w.key("packets").begin_object().field("c2s", f.packets[0]).field("s2c", f.packets[1]).end_object();
    w.key("bytes").begin_object().field("c2s", f.bytes[0]).field("s2c", f.bytes[1]).end_object();
    w.field("first_seen", format_ts(f.first_seen));
    w.field("last_seen", format_ts(f.last_seen));
    w.field("midstream", f.midstream);
    w.field("client_basis", f.client_basis);
    if (f.gap[0] || f.gap[1]) {
        w.key("gaps").begin_object().field("c2s", f.gap[0]).field("s2c", f.gap[1]).end_object();
    }
    if (f.tunnel != Tunnel::None) {
        w.field("tunnel", tunnel_name(f.tunnel));
        w.field("vni", std::uint64_t{f.vlan_or_vni});
    }
    if (f.duplicates) w.field("duplicate_packets", f.duplicates);
    if (f.evicted) w.field("evicted", true);
    if (f.source && !f.source->empty()) w.field("source", *f.source);
    w.end_object();
    return w.take();
}

std::string summary_to_json(const AuditSummary& s) {
    JsonWriter w;
    w.begin_object();
    w.field("type", "summary");
    w.field("flows", s.flows);
    w.key("verdicts").begin_object();
    for (Verdict v : kAllVerdicts) w.field(to_string(v), s.verdict_flows[static_cast<std::size_t>(v)]);
    w.end_object();
    w.field("packets", s.packets);
    w.field("bytes", s.bytes);
    w.field("tcp_packets", s.tcp_packets);
    w.field("udp_packets", s.udp_packets);
    w.field("ip_fragments_not_reassembled", s.ip_fragments);
    w.field("tunnelled_packets", s.tunnelled_packets);
    w.field("duplicate_packets", s.duplicate_packets);
    w.field("truncated_frames", s.truncated_frames);
    w.field("malformed_frames", s.malformed_frames);
    w.field("unsupported_link_frames", s.unsupported_link);
    w.field("link_encrypted_frames", s.link_encrypted_frames);
    w.field("midstream_flows", s.midstream_flows);
    w.field("flows_evicted", s.flows_evicted);
    w.key("secrets").begin_object();
    for (const auto& [k, n] : s.secrets_by_kind) w.field(k, n);
    w.end_object();
    w.key("inputs").begin_array();
    for (const auto& in : s.inputs) {
        w.begin_object().field("name", in.name).field("format", in.description).field("packets", in.packets);
        w.field("error", in.error);
        if (in.error) w.field("error_kind", in.error_kind);
        w.end_object();
    }
    w.end_array();
    if (s.kernel_dropped || s.interface_dropped) {
        w.key("dropped").begin_object().field("kernel", s.kernel_dropped).field("interface", s.interface_dropped).end_object();
    }
    w.field("interrupted", s.interrupted);
    if (s.evidence) {
        const EvidenceSummary& e = *s.evidence;
        w.key("evidence").begin_object().field("path", e.path).field("packets", e.packets).field("bytes", e.bytes);
        w.field("over_budget", e.over_budget).field("over_cap", e.over_cap).field("not_written", e.not_written);
        w.field("error", e.error).end_object();
    }
    w.end_object();
    return w.take();
}

void write_json_lines(std::ostream& out, const std::vector<FlowRecord>& flows, const AuditSummary& s,
                      const ReportOptions& opt) {
    for (const auto& f : flows) out << flow_to_json(f, opt) << '\n';
    out << summary_to_json(s) << '\n';
}

namespace {

const char* verdict_color(Verdict v) {
    switch (v) {
        case Verdict::IstioMtls:
        case Verdict::Hbone:
        case Verdict::Mtls: return "\033[32m";         // green
        case Verdict::Tls: return "\033[36m";          // cyan
        case Verdict::PlaintextServed: return "\033[1;31m";  // bold red
        case Verdict::PlaintextRejected: return "\033[33m";  // yellow
        case Verdict::EncryptedUnknown: return "\033[34m";
        case Verdict::Unknown: return "\033[2m";
    }
    return "";
}

std::string human_bytes(std::uint64_t n) {
    char buf[32];
    if (n < 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    else if (n < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024.0);
    else if (n < 1024ull * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / 1048576.0);
    else std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(n) / 1073741824.0);
    return buf;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        out += v[i];
    }
    return out;
}

std::string details(const FlowRecord& f) {
    std::string d;
    auto add = [&](const std::string& s) {
        if (s.empty()) return;
        if (!d.empty()) d += ", ";
        d += s;
    };
    if (f.tls) {
        const auto& t = *f.tls;
        if (t.version) add("TLS " + *t.version);
        else if (t.client_version) add("TLS " + *t.client_version + " offered");
        if (t.sni) add("SNI " + *t.sni);
        if (!t.alpn_offered.empty()) add("ALPN " + join(t.alpn_offered, ","));
        if (t.alpn_chosen) add("chosen " + *t.alpn_chosen);
        if (t.client_cert) add(*t.client_cert ? "client cert" : "no client cert");
        if (!t.spiffe_ids.empty()) add(t.spiffe_ids.front());
        if (t.resumed) add("resumed");
        if (t.prelude) add("after " + *t.prelude);
    } else if (f.plaintext) {
        add(f.plaintext->first_line);
        if (f.plaintext->host) add("Host " + *f.plaintext->host);
        if (f.plaintext->status) add("status " + std::to_string(*f.plaintext->status));
    } else if (!f.evidence.empty()) {
        add(f.evidence.front());
    }
    if (d.size() > 110) d = d.substr(0, 107) + "...";
    return d;
}

}  // namespace

void write_table(std::ostream& out, const std::vector<FlowRecord>& flows, const AuditSummary& s,
                 const ReportOptions& opt) {
    const char* reset = opt.color ? "\033[0m" : "";
    const char* bold = opt.color ? "\033[1m" : "";
    out << bold << "meshproof audit" << reset << ": " << s.packets << " packets, " << s.flows << " TCP flows";
    if (s.ip_fragments) out << ", " << s.ip_fragments << " IP fragments (counted, not reassembled)";
    if (s.tunnelled_packets) out << ", " << s.tunnelled_packets << " packets decapsulated from tunnels";
    if (s.duplicate_packets) out << ", " << s.duplicate_packets << " duplicate packets ignored";
    if (s.link_encrypted_frames)
        out << ", " << s.link_encrypted_frames << " frames encrypted at the link layer (802.11 protected: not decodable)";
    if (s.unsupported_link) out << ", " << s.unsupported_link << " frames of an unsupported link type (not decoded)";
    out << "\n";
    for (const auto& in : s.inputs) {
        out << "  input " << in.name << " (" << in.description << "): " << in.packets << " packets";
        if (in.error) out << "  ERROR: " << *in.error;
        out << "\n";
    }
    if (s.interrupted) out << "  capture interrupted: report covers the packets seen until then\n";
    if (s.kernel_dropped || s.interface_dropped)
        out << "  dropped: " << s.kernel_dropped << " by the kernel, " << s.interface_dropped << " by the interface\n";
    if (s.evidence) {
        out << "  evidence " << s.evidence->path << ": " << s.evidence->packets << " packets";
        if (s.evidence->error) out << ", INCOMPLETE (" << s.evidence->not_written << " packets not written: " << *s.evidence->error << ")";
        out << "\n";
    }
    out << "\n" << bold << "  VERDICT               FLOWS        BYTES" << reset << "\n";
    for (Verdict v : kAllVerdicts) {
        const auto i = static_cast<std::size_t>(v);
        if (!s.verdict_flows[i]) continue;
        char line[128];
        std::snprintf(line, sizeof line, "%-20s %6llu %12s", std::string(to_string(v)).c_str(),
                      static_cast<unsigned long long>(s.verdict_flows[i]), human_bytes(s.verdict_bytes[i]).c_str());
        out << "  " << (opt.color ? verdict_color(v) : "") << line << reset << "\n";
    }
    if (!s.secrets_by_kind.empty()) {
        out << "\n  secrets seen in plaintext:";
        for (const auto& [k, n] : s.secrets_by_kind) out << " " << k << "=" << n;
        out << (opt.show_secrets ? "  (shown: --show-secrets)" : "  (redacted)") << "\n";
    }
    if (flows.empty()) return;
    out << "\n" << bold << "  #    VERDICT             CLIENT -> SERVER                                PROTO    DETAILS" << reset << "\n";
    std::size_t n = 0;
    for (const auto& f : flows) {
        ++n;
        std::string ends = endpoint_to_string(f.client_ip, f.client_port) + " -> " + endpoint_to_string(f.server_ip, f.server_port);
        char line[512];
        std::snprintf(line, sizeof line, "  %-4zu %s%-19s%s %-47s %-8s %s", n, opt.color ? verdict_color(f.verdict) : "",
                      std::string(to_string(f.verdict)).c_str(), reset, ends.c_str(), f.protocol.c_str(), details(f).c_str());
        out << line << (f.midstream ? "  [midstream]" : "") << "\n";
        const std::size_t max_ev = opt.verbose ? f.evidence.size() : std::min<std::size_t>(f.evidence.size(), 2);
        for (std::size_t i = 0; i < max_ev; ++i) out << "         evidence: " << f.evidence[i] << "\n";
        for (const auto& sec : f.secrets) {
            out << "         secret: " << sec.kind << " in " << sec.location << ": " << secret_text(sec, opt.show_secrets) << "\n";
        }
        if (opt.verbose && f.tls) {
            for (const auto& c : f.tls->client_certs) out << "         client cert: " << c.subject << " SAN " << join(c.uri_sans, ",") << join(c.dns_sans, ",") << "\n";
            for (const auto& c : f.tls->server_certs) out << "         server cert: " << c.subject << " SAN " << join(c.uri_sans, ",") << join(c.dns_sans, ",") << "\n";
        }
    }
}

}  // namespace meshproof::audit
