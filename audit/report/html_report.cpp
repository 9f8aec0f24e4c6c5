#include "audit/report/html_report.hpp"

#include <algorithm>
#include <cstdio>

#include "audit/report/report.hpp"

namespace meshproof::audit {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    if (b0 >= 0xc2 && b0 <= 0xdf) len = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef) len = 3;
    else if (b0 >= 0xf0 && b0 <= 0xf4) len = 4;
    else return 0;
    if (i + len > s.size()) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
    }
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xe0 && b1 < 0xa0) return 0;  // overlong
    if (b0 == 0xed && b1 >= 0xa0) return 0; // surrogates
    if (b0 == 0xf0 && b1 < 0x90) return 0;  // overlong
    if (b0 == 0xf4 && b1 >= 0x90) return 0; // above U+10FFFF
    return len;
}

}  // namespace

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 16);
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80) {
            const std::size_t len = utf8_sequence(text, i);
            if (len == 0) {
                out += "\xef\xbf\xbd";
                ++i;
            } else {
                out.append(text.substr(i, len));
                i += len;
            }
            continue;
        }
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            case '\n':
            case '\t': out += c; break;
            default: out += (u < 0x20 || u == 0x7f) ? '.' : c;
        }
        ++i;
    }
    return out;
}

namespace {

struct VerdictStyle {
    const char* color;
    const char* meaning;
};

VerdictStyle style_of(Verdict v) {
    switch (v) {
        case Verdict::IstioMtls: return {"#1b7f3b", "Istio mutual TLS (Istio SNI/ALPN or SPIFFE client certificate)"};
        case Verdict::Hbone: return {"#2e9d6b", "ambient mesh HBONE tunnel (mTLS to 15008)"};
        case Verdict::Mtls: return {"#4caf50", "mutual TLS proven in clear, not Istio"};
        case Verdict::Tls: return {"#0e7490", "TLS, mutual authentication not visible"};
        case Verdict::PlaintextServed: return {"#c62828", "readable application data both ways"};
        case Verdict::PlaintextRejected: return {"#ef6c00", "client sent readable bytes, server refused"};
        case Verdict::EncryptedUnknown: return {"#5c6bc0", "high-entropy payload, not TLS"};
        case Verdict::Unknown: return {"#9e9e9e", "too little data to say"};
    }
    return {"#9e9e9e", ""};
}

const char* change_class(FlowChange c) {
    switch (c) {
        case FlowChange::Secured: return "good";
        case FlowChange::Encrypted: return "ok";
        case FlowChange::StillPlaintext: return "bad";
        case FlowChange::Inconclusive: return "warn";
        case FlowChange::Unchanged:
        case FlowChange::New:
        case FlowChange::Vanished: break;
    }
    return "neutral";
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        out += v[i];
    }
    return out;
}

constexpr const char* kCss = R"CSS(
:root{--fg:#1d2330;--muted:#5b6475;--line:#dde2ea;--bg:#f5f7fa;--card:#fff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px}
.facts{color:var(--muted);margin:0 0 16px;display:flex;flex-wrap:wrap;gap:4px 18px}
.banner{border-radius:10px;padding:14px 18px;font-size:16px;font-weight:600;margin:12px 0 18px}
.banner.pass{background:#e7f6ec;border:1px solid #9fd8b1;color:#14532d}
.banner.fail{background:#fdecec;border:1px solid #f3a5a5;color:#7f1d1d}
.banner small{display:block;font-weight:400;font-size:13px;margin-top:4px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card .n{font-size:26px;font-weight:700}
.card .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
table{border-collapse:collapse;width:100%;background:var(--card)}
th,td{border-bottom:1px solid var(--line);padding:7px 9px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:10px}
.scroll table{border:0}
td.ends{white-space:nowrap;overflow-wrap:normal}
th{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;background:#fafbfd;white-space:nowrap;overflow-wrap:normal}
td.num{text-align:right;white-space:nowrap}
.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
.badge{display:inline-block;border-radius:999px;padding:1px 9px;color:#fff;font-size:12px;font-weight:600;white-space:nowrap}
.chg{display:inline-block;border-radius:6px;padding:1px 8px;font-size:12px;font-weight:700}
.chg.good{background:#dcfce7;color:#166534}.chg.ok{background:#e0f2fe;color:#075985}
.chg.bad{background:#fee2e2;color:#991b1b}.chg.warn{background:#fef3c7;color:#92400e}
.chg.neutral{background:#eef1f5;color:#374151}
ul.ev{margin:0;padding-left:16px}
ul.ev li{margin:0}
.secret{color:#991b1b}
.muted{color:var(--muted)}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin-top:8px;font-size:12.5px}
.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
footer{color:var(--muted);font-size:12.5px;margin-top:30px}
)CSS";

class Page {
public:
    Page(const HtmlReportOptions& opt, const std::vector<FlowRecord>& before, const std::vector<FlowRecord>& after)
        : opt_(opt) {
        if (!opt.show_secrets) {
            scrub_.add(before);
            scrub_.add(after);
        }
    }

    // Every piece of text that came from the wire or the caller goes through here.
    std::string text(std::string_view s) const { return html_escape(scrub_.scrubbed(s)); }
    std::string name(const IpAddress& ip) const { return text(endpoint_name(opt_.names, ip)); }

    std::string badge(Verdict v) const {
        const auto st = style_of(v);
        return std::string("<span class=\"badge\" style=\"background:") + st.color + "\" title=\"" +
               html_escape(st.meaning) + "\">" + std::string(to_string(v)) + "</span>";
    }

    std::string secret(const SecretFinding& s) const {
        return "<span class=\"secret\">" + text(s.kind) + "</span> in " + text(s.location) + ": <span class=\"mono\">" +
               (opt_.show_secrets ? html_escape(secret_text(s, true)) : text(secret_text(s, false))) + "</span>";
    }

    std::string details(const FlowRecord& f) const {
        std::vector<std::string> parts;
        if (f.tls) {
            const auto& t = *f.tls;
            if (t.version) parts.push_back("TLS " + *t.version);
            else if (t.client_version) parts.push_back("TLS " + *t.client_version + " offered");
            if (t.sni) parts.push_back("SNI " + *t.sni);
            if (!t.alpn_offered.empty()) parts.push_back("ALPN offered " + join(t.alpn_offered, ", "));
            if (t.alpn_chosen) parts.push_back("ALPN chosen " + *t.alpn_chosen);
            if (t.cipher) parts.push_back("cipher " + *t.cipher);
            if (!t.client_cert_state.empty()) parts.push_back("client certificate: " + t.client_cert_state);
            for (const auto& id : t.spiffe_ids) parts.push_back(id);
            if (t.resumed) parts.push_back("resumed session");
        } else if (f.plaintext) {
            if (!f.plaintext->first_line.empty()) parts.push_back(f.plaintext->first_line);
            if (f.plaintext->host) parts.push_back("Host " + *f.plaintext->host);
            if (f.plaintext->status) parts.push_back("status " + std::to_string(*f.plaintext->status));
        }
        std::string out;
        for (const auto& p : parts) {
            if (!out.empty()) out += "<br>";
            out += text(p);
        }
        return out.empty() ? "<span class=\"muted\">-</span>" : out;
    }

    const HtmlReportOptions& opt() const { return opt_; }

private:
    const HtmlReportOptions& opt_;
    SecretScrubber scrub_;
};

std::string fmt_bytes(std::uint64_t n) {
    char buf[32];
    if (n < 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    else if (n < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024.0);
    else std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / 1048576.0);
    return buf;
}

std::string fmt_num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

// Two horizontal bars (before, after) stacked by verdict, widths proportional to flow counts on a
// shared scale, so "all red before, all green after" reads at a glance.
std::string verdict_chart(const FlowDiff& d) {
    const double label_w = 70, bar_w = 820, bar_h = 34, gap = 18, top = 10;
    const double height = top + 2 * bar_h + gap + 34;
    const std::uint64_t scale = std::max<std::uint64_t>({d.before.flows, d.after.flows, 1});
    std::string svg = "<svg role=\"img\" aria-label=\"flows by verdict before and after\" "
                      "viewBox=\"0 0 " + fmt_num(label_w + bar_w + 80) + " " + fmt_num(height) +
                      "\" width=\"100%\" style=\"max-width:980px;display:block\">";
    const std::pair<const char*, const AuditTotals*> rows[] = {{"before", &d.before}, {"after", &d.after}};
    double y = top;
    for (const auto& [label, totals] : rows) {
        svg += "<text x=\"0\" y=\"" + fmt_num(y + bar_h / 2 + 5) +
               "\" font-size=\"14\" font-weight=\"600\" fill=\"#1d2330\">" + label + "</text>";
        double x = label_w;
        if (totals->flows == 0) {
            svg += "<rect x=\"" + fmt_num(x) + "\" y=\"" + fmt_num(y) + "\" width=\"" + fmt_num(bar_w) + "\" height=\"" +
                   fmt_num(bar_h) + "\" fill=\"none\" stroke=\"#c4cad4\" stroke-dasharray=\"4 3\"/>";
            svg += "<text x=\"" + fmt_num(x + 10) + "\" y=\"" + fmt_num(y + bar_h / 2 + 5) +
                   "\" font-size=\"13\" fill=\"#5b6475\">no TCP flows</text>";
        }
        for (Verdict v : kAllVerdicts) {
            const auto n = totals->count(v);
            if (!n) continue;
            const double w = bar_w * static_cast<double>(n) / static_cast<double>(scale);
            const auto st = style_of(v);
            const std::string title = std::string(label) + ": " + std::to_string(n) + " " + std::string(to_string(v)) +
                                      (n == 1 ? " flow" : " flows");
            svg += "<rect x=\"" + fmt_num(x) + "\" y=\"" + fmt_num(y) + "\" width=\"" + fmt_num(w) + "\" height=\"" +
                   fmt_num(bar_h) + "\" rx=\"3\" fill=\"" + st.color + "\" stroke=\"#fff\" stroke-width=\"1\"><title>" +
                   title + "</title></rect>";
            const std::string seg = std::string(to_string(v)) + " " + std::to_string(n);
            // Label inside when it fits (about 7 px per character at 12 px), count only otherwise.
            const std::string shown = w >= 7.0 * static_cast<double>(seg.size()) + 12 ? seg
                                      : w >= 22                                      ? std::to_string(n)
                                                                                     : std::string();
            if (!shown.empty()) {
                svg += "<text x=\"" + fmt_num(x + w / 2) + "\" y=\"" + fmt_num(y + bar_h / 2 + 4) +
                       "\" font-size=\"12\" font-weight=\"600\" fill=\"#fff\" text-anchor=\"middle\">" + shown + "</text>";
            }
            x += w;
        }
        svg += "<text x=\"" + fmt_num(label_w + bar_w + 8) + "\" y=\"" + fmt_num(y + bar_h / 2 + 5) +
               "\" font-size=\"13\" fill=\"#5b6475\">" + std::to_string(totals->flows) + " flows</text>";
        y += bar_h + gap;
    }
    // Axis: 0 .. scale flows.
    svg += "<line x1=\"" + fmt_num(label_w) + "\" x2=\"" + fmt_num(label_w + bar_w) + "\" y1=\"" + fmt_num(y - 6) +
           "\" y2=\"" + fmt_num(y - 6) + "\" stroke=\"#c4cad4\"/>";
    svg += "<text x=\"" + fmt_num(label_w) + "\" y=\"" + fmt_num(y + 10) + "\" font-size=\"11\" fill=\"#5b6475\">0</text>";
    svg += "<text x=\"" + fmt_num(label_w + bar_w) + "\" y=\"" + fmt_num(y + 10) +
           "\" font-size=\"11\" fill=\"#5b6475\" text-anchor=\"end\">" + std::to_string(scale) + " flows</text>";
    svg += "</svg>";
    std::string legend = "<div class=\"legend\">";
    for (Verdict v : kAllVerdicts) {
        if (!d.before.count(v) && !d.after.count(v)) continue;
        const auto st = style_of(v);
        legend += std::string("<span><i style=\"background:") + st.color + "\"></i><b>" + std::string(to_string(v)) +
                  "</b> <span class=\"muted\">" + html_escape(st.meaning) + "</span></span>";
    }
    legend += "</div>";
    return svg + legend;
}

std::string verdict_cell(const Page& page, const FlowGroupSide& side) {
    if (side.flows == 0) return "<span class=\"muted\">no flow</span>";
    std::string out;
    for (Verdict v : kAllVerdicts) {
        const auto n = side.count(v);
        if (!n) continue;
        if (!out.empty()) out += " ";
        out += page.badge(v) + (n > 1 ? " &times;" + std::to_string(n) : "");
    }
    return out;
}

std::string diff_table(const Page& page, const FlowDiff& d) {
    std::string out = "<div class=\"scroll\"><table><thead><tr><th>client &rarr; server</th><th>before</th><th>after</th><th>change</th>"
                      "<th>secrets in clear before</th></tr></thead><tbody>";
    for (const auto& g : d.groups) {
        out += "<tr><td class=\"mono ends\">" + page.text(g.key.client) + " &rarr; " + page.text(g.key.server) + ":" +
               std::to_string(g.key.server_port) + "<br><span class=\"muted\">" + page.text(g.client_address) +
               " &rarr; " + page.text(g.server_address) + "</span></td>";
        out += "<td>" + verdict_cell(page, g.before) + "</td><td>" + verdict_cell(page, g.after) + "</td>";
        out += std::string("<td><span class=\"chg ") + change_class(g.change) + "\">" + std::string(to_string(g.change)) +
               "</span></td><td>";
        if (g.before.secrets.empty()) out += "<span class=\"muted\">none</span>";
        for (const auto& s : g.before.secrets) out += "<div>" + page.secret(s) + "</div>";
        if (!g.after.secrets.empty()) {
            out += "<div><b>still in clear after:</b></div>";
            for (const auto& s : g.after.secrets) out += "<div>" + page.secret(s) + "</div>";
        }
        out += "</td></tr>";
    }
    if (d.groups.empty()) out += "<tr><td colspan=\"5\" class=\"muted\">no TCP flows in either capture</td></tr>";
    out += "</tbody></table></div>";
    return out;
}

std::string flow_table(const Page& page, const std::vector<FlowRecord>& flows) {
    if (flows.empty()) return "<p class=\"muted\">No TCP flow was captured.</p>";
    std::string out = "<div class=\"scroll\"><table><thead><tr><th>#</th><th>client &rarr; server</th><th>verdict</th><th>protocol</th>"
                      "<th>what the wire shows</th><th>evidence</th><th>bytes c&rarr;s / s&rarr;c</th></tr></thead><tbody>";
    std::size_t n = 0;
    for (const auto& f : flows) {
        ++n;
        out += "<tr><td class=\"num\">" + std::to_string(n) + "</td>";
        out += "<td class=\"mono ends\">" + page.name(f.client_ip) + " &rarr; " + page.name(f.server_ip) + "<br><span class=\"muted\">" +
               page.text(endpoint_to_string(f.client_ip, f.client_port)) + " &rarr; " +
               page.text(endpoint_to_string(f.server_ip, f.server_port)) + "</span></td>";
        out += "<td>" + page.badge(f.verdict) + (f.midstream ? "<br><span class=\"muted\">midstream</span>" : "") + "</td>";
        out += "<td class=\"mono ends\">" + page.text(f.protocol) + "</td>";
        out += "<td class=\"mono\">" + page.details(f);
        for (const auto& s : f.secrets) out += "<div>" + page.secret(s) + "</div>";
        out += "</td><td><ul class=\"ev\">";
        for (const auto& e : f.evidence) out += "<li>" + page.text(e) + "</li>";
        out += "</ul></td>";
        out += "<td class=\"num\">" + fmt_bytes(f.bytes[0]) + " / " + fmt_bytes(f.bytes[1]) + "</td></tr>";
    }
    out += "</tbody></table></div>";
    return out;
}

std::string card(const std::string& number, const std::string& label, const char* color = nullptr) {
    return std::string("<div class=\"card\"><div class=\"n\"") + (color ? std::string(" style=\"color:") + color + "\"" : "") +
           ">" + number + "</div><div class=\"l\">" + label + "</div></div>";
}

}  // namespace

std::string render_html_report(const std::vector<FlowRecord>& before, const std::vector<FlowRecord>& after,
                               const FlowDiff& diff, const HtmlReportOptions& opt) {
    Page page(opt, before, after);
    std::string out;
    out.reserve(16384 + 2048 * (before.size() + after.size()));
    out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
           "<title>" + page.text(opt.title) + "</title><style>" + kCss + "</style></head><body><main>\n";
    out += "<h1>" + page.text(opt.title) + "</h1><div class=\"facts\">";
    for (const auto& [k, v] : opt.facts) out += "<span><b>" + page.text(k) + ":</b> " + page.text(v) + "</span>";
    out += "</div>\n";

    const auto secured = diff.count(FlowChange::Secured);
    const auto still = diff.count(FlowChange::StillPlaintext);
    if (diff.passed()) {
        out += "<div class=\"banner pass\">No flow crosses the wire in clear after the change." 
               "<small>" + std::to_string(secured) + " of " + std::to_string(diff.groups.size()) +
               " client&rarr;server pairs moved from plaintext to mutual TLS; " + std::to_string(diff.secrets_gone.size()) +
               " secrets seen in clear before no longer cross the wire.</small></div>\n";
    } else {
        out += "<div class=\"banner fail\">" + std::to_string(still) +
               " client&rarr;server pair(s) still send readable data after the change."
               "<small>See the rows marked still-plaintext below.</small></div>\n";
    }

    out += "<div class=\"cards\">";
    out += card(std::to_string(diff.before.plaintext_flows()) + " / " + std::to_string(diff.before.flows),
                "flows in clear before", diff.before.plaintext_flows() ? "#c62828" : nullptr);
    out += card(std::to_string(diff.before.secrets), "secrets seen in clear before",
                diff.before.secrets ? "#c62828" : nullptr);
    out += card(std::to_string(diff.after.plaintext_flows()) + " / " + std::to_string(diff.after.flows),
                "flows in clear after", diff.after.plaintext_flows() ? "#c62828" : "#1b7f3b");
    out += card(std::to_string(diff.after.count(Verdict::IstioMtls)) + " / " + std::to_string(diff.after.flows),
                "istio-mtls flows after", diff.after.count(Verdict::IstioMtls) ? "#1b7f3b" : nullptr);
    out += "</div>\n";

    out += "<h2 id=\"chart\">Flows by verdict</h2><div class=\"panel\">" + verdict_chart(diff) + "</div>\n";
    out += "<h2 id=\"diff\">What changed, per client &rarr; server pair</h2>" + diff_table(page, diff) + "\n";
    out += "<h2 id=\"before\">Before: " + std::to_string(before.size()) + " TCP flows on the wire</h2>" + flow_table(page, before) + "\n";
    out += "<h2 id=\"after\">After: " + std::to_string(after.size()) + " TCP flows on the wire</h2>" + flow_table(page, after) + "\n";
    out += "<footer><p><b>How to read this.</b> Each row is one TCP connection seen on the wire. "
           "<b>plaintext-served</b> means a passive observer read the application data (and the secrets listed, shown "
           "here " + std::string(opt.show_secrets ? "in full because --show-secrets was given" : "redacted") +
           "). <b>istio-mtls</b> means the TLS ClientHello carried Istio's signature (an <span class=\"mono\">outbound_</span> "
           "SNI or <span class=\"mono\">istio</span> ALPN) or a SPIFFE client certificate; in TLS 1.3 the certificates "
           "themselves are encrypted, so the evidence column lists exactly which handshake fields decided. "
           "Check any row in Wireshark with the filter <span class=\"mono\">tcp.port == PORT</span>.</p>"
           "<p>Generated by meshproof. This page loads nothing from the network.</p></footer>\n";
    out += "</main></body></html>\n";
    return out;
}

}  // namespace meshproof::audit
