#include "audit/report/diff.hpp"

#include <algorithm>
#include <cstdio>

#include "audit/report/report.hpp"
#include "common/json_writer.hpp"

namespace meshproof::audit {

std::string endpoint_name(const EndpointNames& names, const IpAddress& ip) {
    const auto it = names.find(ip);
    return it != names.end() ? it->second : to_string(ip);
}

std::string_view to_string(FlowChange c) {
    switch (c) {
        case FlowChange::Secured: return "secured";
        case FlowChange::Encrypted: return "encrypted";
        case FlowChange::StillPlaintext: return "still-plaintext";
        case FlowChange::Unchanged: return "unchanged";
        case FlowChange::New: return "new";
        case FlowChange::Vanished: return "vanished";
        case FlowChange::Inconclusive: return "inconclusive";
    }
    return "unchanged";
}

namespace {

constexpr std::array<FlowChange, kFlowChangeCount> kAllChanges = {
    FlowChange::Secured, FlowChange::Encrypted, FlowChange::StillPlaintext, FlowChange::Unchanged,
    FlowChange::New,     FlowChange::Vanished,  FlowChange::Inconclusive};

bool is_mutual(Verdict v) { return v == Verdict::IstioMtls || v == Verdict::Hbone || v == Verdict::Mtls; }

std::uint64_t plaintext_count(const std::array<std::uint64_t, kVerdictCount>& verdicts) {
    std::uint64_t n = 0;
    for (Verdict v : kAllVerdicts) {
        if (is_plaintext(v)) n += verdicts[static_cast<std::size_t>(v)];
    }
    return n;
}

bool same_secret_place(const SecretFinding& a, const SecretFinding& b) {
    return a.kind == b.kind && a.location == b.location && a.direction == b.direction;
}

void add_to_side(FlowGroupSide& side, const FlowRecord& f, std::size_t index) {
    ++side.flows;
    side.bytes += f.bytes[0] + f.bytes[1];
    ++side.verdicts[static_cast<std::size_t>(f.verdict)];
    if (std::find(side.protocols.begin(), side.protocols.end(), f.protocol) == side.protocols.end())
        side.protocols.push_back(f.protocol);
    for (const auto& s : f.secrets) {
        const bool seen = std::any_of(side.secrets.begin(), side.secrets.end(), [&](const SecretFinding& o) {
            return same_secret_place(o, s) && o.value == s.value;
        });
        if (!seen) side.secrets.push_back(s);
    }
    side.flow_indexes.push_back(index);
}

void add_totals(AuditTotals& t, const FlowRecord& f) {
    ++t.flows;
    t.bytes += f.bytes[0] + f.bytes[1];
    t.secrets += f.secrets.size();
    ++t.verdicts[static_cast<std::size_t>(f.verdict)];
}

FlowChange decide(const FlowGroupSide& before, const FlowGroupSide& after) {
    if (after.plaintext_flows() > 0) return FlowChange::StillPlaintext;
    if (after.flows == 0) return FlowChange::Vanished;
    const std::uint64_t known_after = after.flows - after.count(Verdict::Unknown);
    if (known_after == 0) return FlowChange::Inconclusive;
    if (before.flows == 0) return FlowChange::New;
    if (before.plaintext_flows() > 0) {
        std::uint64_t mutual = 0;
        for (Verdict v : kAllVerdicts) {
            if (is_mutual(v)) mutual += after.count(v);
        }
        return mutual == known_after ? FlowChange::Secured : FlowChange::Encrypted;
    }
    return FlowChange::Unchanged;
}

}  // namespace

std::uint64_t FlowGroupSide::plaintext_flows() const { return plaintext_count(verdicts); }
std::uint64_t AuditTotals::plaintext_flows() const { return plaintext_count(verdicts); }
std::uint64_t AuditTotals::encrypted_flows() const {
    std::uint64_t n = 0;
    for (Verdict v : kAllVerdicts) {
        if (is_encrypted(v)) n += verdicts[static_cast<std::size_t>(v)];
    }
    return n;
}

FlowDiff diff_audits(const std::vector<FlowRecord>& before, const std::vector<FlowRecord>& after,
                     const EndpointNames& names) {
    FlowDiff d;
    std::map<FlowGroupKey, FlowGroupDiff> groups;
    auto group_of = [&](const FlowRecord& f) -> FlowGroupDiff& {
        FlowGroupKey key{endpoint_name(names, f.client_ip), endpoint_name(names, f.server_ip), f.server_port};
        auto [it, inserted] = groups.try_emplace(key);
        if (inserted) {
            it->second.key = std::move(key);
            it->second.client_address = to_string(f.client_ip);
            it->second.server_address = to_string(f.server_ip);
        }
        return it->second;
    };
    for (std::size_t i = 0; i < before.size(); ++i) {
        add_to_side(group_of(before[i]).before, before[i], i);
        add_totals(d.before, before[i]);
    }
    for (std::size_t i = 0; i < after.size(); ++i) {
        add_to_side(group_of(after[i]).after, after[i], i);
        add_totals(d.after, after[i]);
    }
    d.groups.reserve(groups.size());
    for (auto& entry : groups) {  // no structured binding: clang-14 rejects capturing one in a lambda
        FlowGroupDiff& g = entry.second;
        g.change = decide(g.before, g.after);
        ++d.changes[static_cast<std::size_t>(g.change)];
        for (const auto& s : g.before.secrets) {
            const bool still = std::any_of(g.after.secrets.begin(), g.after.secrets.end(),
                                           [&](const SecretFinding& o) { return same_secret_place(o, s); });
            const bool listed = std::any_of(d.secrets_gone.begin(), d.secrets_gone.end(), [&](const SecretGone& o) {
                return o.key == g.key && same_secret_place(o.secret, s);
            });
            if (!still && !listed) d.secrets_gone.push_back(SecretGone{g.key, s});
        }
        d.groups.push_back(std::move(g));
    }
    return d;
}

// ---------------------------------------------------------------------------------------- scrubber

void SecretScrubber::add(std::string_view value) {
    if (value.size() < 4) return;  // shorter values would blank out ordinary words
    if (std::find(values_.begin(), values_.end(), value) != values_.end()) return;
    values_.emplace_back(value);
    std::stable_sort(values_.begin(), values_.end(),
                     [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void SecretScrubber::add(const std::vector<FlowRecord>& flows) {
    for (const auto& f : flows) {
        for (const auto& s : f.secrets) add(s.value);
    }
}

void SecretScrubber::scrub(std::string& text) const {
    for (const auto& v : values_) {
        std::size_t pos = 0;
        while ((pos = text.find(v, pos)) != std::string::npos) {
            text.replace(pos, v.size(), "<redacted>");
            pos += 10;
        }
    }
}

std::string SecretScrubber::scrubbed(std::string_view text) const {
    std::string out(text);
    scrub(out);
    return out;
}

// -------------------------------------------------------------------------------------------- JSON

namespace {

void write_verdicts(JsonWriter& w, const std::array<std::uint64_t, kVerdictCount>& verdicts, bool all) {
    w.begin_object();
    for (Verdict v : kAllVerdicts) {
        const auto n = verdicts[static_cast<std::size_t>(v)];
        if (all || n) w.field(to_string(v), n);
    }
    w.end_object();
}

void write_secret(JsonWriter& w, const SecretFinding& s, const DiffOutputOptions& opt) {
    w.field("kind", s.kind);
    w.field("location", s.location);
    w.field("direction", s.direction == Direction::ClientToServer ? "c2s" : "s2c");
    w.field(opt.show_secrets ? "value" : "redacted", secret_text(s, opt.show_secrets));
}

void write_key(JsonWriter& w, const FlowGroupKey& k, const SecretScrubber& scrub) {
    w.field("client", scrub.scrubbed(k.client));
    w.field("server", scrub.scrubbed(k.server));
    w.field("server_port", std::uint64_t{k.server_port});
}

void write_totals(JsonWriter& w, const AuditTotals& t) {
    w.begin_object();
    w.field("flows", t.flows);
    w.field("bytes", t.bytes);
    w.field("plaintext_flows", t.plaintext_flows());
    w.field("encrypted_flows", t.encrypted_flows());
    w.field("secrets", t.secrets);
    w.key("verdicts");
    write_verdicts(w, t.verdicts, true);
    w.end_object();
}

void write_side(JsonWriter& w, const FlowGroupSide& s, const DiffOutputOptions& opt, const SecretScrubber& scrub) {
    w.begin_object();
    w.field("flows", s.flows);
    w.field("bytes", s.bytes);
    w.key("verdicts");
    write_verdicts(w, s.verdicts, false);
    w.key("protocols").begin_array();
    for (const auto& p : s.protocols) w.value(scrub.scrubbed(p));
    w.end_array();
    w.key("secrets").begin_array();
    for (const auto& sec : s.secrets) {
        w.begin_object();
        write_secret(w, sec, opt);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

}  // namespace

std::string diff_to_json(const FlowDiff& d, const DiffOutputOptions& opt) {
    // Names come from the caller and protocols from the classifiers; neither should ever hold a
    // secret, but a report that is meant to be shared gets scrubbed anyway.
    SecretScrubber scrub;
    if (!opt.show_secrets) {
        for (const auto& g : d.groups) {
            for (const auto& s : g.before.secrets) scrub.add(s.value);
            for (const auto& s : g.after.secrets) scrub.add(s.value);
        }
    }
    JsonWriter w;
    w.begin_object();
    w.field("type", "diff");
    w.field("passed", d.passed());
    w.key("before");
    write_totals(w, d.before);
    w.key("after");
    write_totals(w, d.after);
    w.key("changes").begin_object();
    for (FlowChange c : kAllChanges) w.field(to_string(c), d.count(c));
    w.end_object();
    w.key("groups").begin_array();
    for (const auto& g : d.groups) {
        w.begin_object();
        write_key(w, g.key, scrub);
        w.field("client_address", g.client_address);
        w.field("server_address", g.server_address);
        w.field("change", to_string(g.change));
        w.key("before");
        write_side(w, g.before, opt, scrub);
        w.key("after");
        write_side(w, g.after, opt, scrub);
        w.end_object();
    }
    w.end_array();
    w.key("secrets_gone").begin_array();
    for (const auto& s : d.secrets_gone) {
        w.begin_object();
        write_key(w, s.key, scrub);
        write_secret(w, s.secret, opt);
        w.end_object();
    }
    w.end_array();
    w.key("still_in_clear").begin_array();
    for (const auto& g : d.groups) {
        if (g.change != FlowChange::StillPlaintext) continue;
        w.begin_object();
        write_key(w, g.key, scrub);
        w.key("verdicts");
        write_verdicts(w, g.after.verdicts, false);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    return w.take();
}

// -------------------------------------------------------------------------------------------- text

namespace {

std::string verdict_list(const std::array<std::uint64_t, kVerdictCount>& verdicts) {
    std::string out;
    for (Verdict v : kAllVerdicts) {
        const auto n = verdicts[static_cast<std::size_t>(v)];
        if (!n) continue;
        if (!out.empty()) out += ", ";
        out += std::string(to_string(v)) + " x" + std::to_string(n);
    }
    return out.empty() ? "-" : out;
}

std::string totals_line(const AuditTotals& t) {
    return std::to_string(t.flows) + " TCP flows, " + std::to_string(t.plaintext_flows()) + " in clear, " +
           std::to_string(t.encrypted_flows()) + " encrypted, " + std::to_string(t.secrets) +
           " secrets seen in clear" + (t.flows ? " (" + verdict_list(t.verdicts) + ")" : "");
}

const char* change_color(FlowChange c) {
    switch (c) {
        case FlowChange::Secured: return "\033[32m";
        case FlowChange::Encrypted: return "\033[36m";
        case FlowChange::StillPlaintext: return "\033[1;31m";
        case FlowChange::Inconclusive: return "\033[33m";
        case FlowChange::Unchanged:
        case FlowChange::New:
        case FlowChange::Vanished: break;
    }
    return "";
}

std::string group_label(const FlowGroupKey& k) { return k.client + " -> " + k.server + ":" + std::to_string(k.server_port); }

}  // namespace

void write_diff_text(std::ostream& out, const FlowDiff& d, const DiffOutputOptions& opt) {
    const char* reset = opt.color ? "\033[0m" : "";
    const char* bold = opt.color ? "\033[1m" : "";
    SecretScrubber scrub;
    if (!opt.show_secrets) {
        for (const auto& g : d.groups) {
            for (const auto& s : g.before.secrets) scrub.add(s.value);
        }
    }
    out << "  before: " << totals_line(d.before) << "\n";
    out << "  after:  " << totals_line(d.after) << "\n\n";
    std::size_t width = 20;
    for (const auto& g : d.groups) width = std::max(width, group_label(g.key).size());
    char line[512];
    std::snprintf(line, sizeof line, "  %-*s  %-28s %-28s %s", static_cast<int>(width), "CLIENT -> SERVER:PORT", "BEFORE",
                  "AFTER", "CHANGE");
    out << bold << line << reset << "\n";
    for (const auto& g : d.groups) {
        std::snprintf(line, sizeof line, "  %-*s  %-28s %-28s ", static_cast<int>(width),
                      scrub.scrubbed(group_label(g.key)).c_str(), verdict_list(g.before.verdicts).c_str(),
                      verdict_list(g.after.verdicts).c_str());
        out << line << (opt.color ? change_color(g.change) : "") << to_string(g.change) << reset << "\n";
    }
    out << "\n  secrets no longer on the wire: " << d.secrets_gone.size() << "\n";
    for (const auto& s : d.secrets_gone) {
        out << "    " << scrub.scrubbed(group_label(s.key)) << "  " << s.secret.kind << " in " << s.secret.location
            << ": " << secret_text(s.secret, opt.show_secrets) << "\n";
    }
    const auto still = d.count(FlowChange::StillPlaintext);
    out << "  still in clear after: " << (still ? std::to_string(still) + " group(s)" : std::string("none")) << "\n";
    for (const auto& g : d.groups) {
        if (g.change != FlowChange::StillPlaintext) continue;
        out << "    " << (opt.color ? change_color(g.change) : "") << scrub.scrubbed(group_label(g.key)) << ": "
            << verdict_list(g.after.verdicts) << reset << "\n";
        for (const auto& s : g.after.secrets) {
            out << "      secret: " << s.kind << " in " << s.location << ": " << secret_text(s, opt.show_secrets) << "\n";
        }
    }
}

}  // namespace meshproof::audit
