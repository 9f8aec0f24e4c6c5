// Every TCP conversation of the shared captures, through the whole engine, against tshark's
// truth.tsv: TLS version, SNI, offered and chosen ALPN, CertificateRequest, client Certificate,
// plus the verdict the row's facts imply. Known, explained disagreements live in
// truth_expectations.tsv (file, client port, field, our value, reason); everything else must match.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "audit/classify/tls_facts.hpp"
#include "audit/engine/engine.hpp"

using namespace meshproof::audit;

namespace {

const std::string kPcaps = std::string(MESHPROOF_SHARED_TESTDATA) + "/pcaps";

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, sep)) out.push_back(cur);
    if (!s.empty() && s.back() == sep) out.emplace_back();
    return out;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
    return out;
}

struct TruthRow {
    std::map<std::string, std::string> f;
    const std::string& operator[](const std::string& k) const { return f.at(k); }
};

std::vector<TruthRow> load_truth() {
    std::ifstream in(kPcaps + "/truth.tsv");
    REQUIRE_MESSAGE(in.good(), "cannot read " << kPcaps << "/truth.tsv");
    std::string line;
    std::getline(in, line);
    const auto header = split(line, '\t');
    std::vector<TruthRow> rows;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto cells = split(line, '\t');
        cells.resize(header.size());
        TruthRow r;
        for (std::size_t i = 0; i < header.size(); ++i) r.f[header[i]] = cells[i];
        rows.push_back(r);
    }
    return rows;
}

// file \t client_port \t field \t our value \t reason
std::map<std::string, std::string> load_expectations() {
    std::ifstream in(std::string(MESHPROOF_SOURCE_DIR) + "/tests/integration/truth_expectations.tsv");
    std::map<std::string, std::string> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto c = split(line, '\t');
        REQUIRE_MESSAGE(c.size() >= 5, "bad expectations line: " << line);
        out[c[0] + "|" + c[1] + "|" + c[2]] = c[3];
    }
    return out;
}

std::string tls_version_cell(const std::string& hex) {
    if (hex.empty()) return "";
    return tls_version_name(static_cast<std::uint16_t>(std::stoul(hex, nullptr, 16)));
}

std::string expected_verdict(const TruthRow& r) {
    const std::string& kind = r["kind"];
    if (kind == "tls") return r["client_cert"] == "yes" ? "mtls" : "tls";
    if (kind == "tls-nohello") return "tls";
    if (kind == "none" || kind == "tcp") return "unknown";
    if (kind == "ssh") return "encrypted-unknown";
    return "plaintext-served";
}

struct Audit {
    std::vector<FlowRecord> flows;
    AuditSummary summary;
};

const Audit& audit_file(const std::string& file) {
    static std::map<std::string, Audit> cache;
    auto it = cache.find(file);
    if (it != cache.end()) return it->second;
    Engine engine;
    read_capture_files({kPcaps + "/" + file}, engine);
    engine.finish();
    return cache[file] = Audit{engine.records(), engine.summary()};
}

const FlowRecord* find_flow(const Audit& a, const TruthRow& r) {
    for (const auto& f : a.flows) {
        const std::string c = to_string(f.client_ip), s = to_string(f.server_ip);
        const auto cp = std::to_string(f.client_port), sp = std::to_string(f.server_port);
        if ((c == r["client_ip"] && cp == r["client_port"] && s == r["server_ip"] && sp == r["server_port"]) ||
            (s == r["client_ip"] && sp == r["client_port"] && c == r["server_ip"] && cp == r["server_port"]))
            return &f;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("every TCP conversation in truth.tsv agrees with tshark on the TLS facts and implied verdict") {
    const auto rows = load_truth();
    REQUIRE(rows.size() >= 40);
    const auto expect = load_expectations();
    std::set<std::string> used_expectations;
    int compared = 0, mismatches = 0, explained = 0;

    auto check = [&](const TruthRow& r, const std::string& field, const std::string& ours, const std::string& truth) {
        ++compared;
        if (ours == truth) return;
        const std::string key = r["file"] + "|" + r["client_port"] + "|" + field;
        auto it = expect.find(key);
        if (it != expect.end() && it->second == ours) {
            ++explained;
            used_expectations.insert(key);
            return;
        }
        ++mismatches;
        FAIL_CHECK(r["file"] << " " << r["client_ip"] << ":" << r["client_port"] << " " << field << ": ours '" << ours
                                 << "' tshark '" << truth << "'");
    };

    for (const auto& r : rows) {
        CAPTURE(r["file"]);
        const Audit& a = audit_file(r["file"]);
        const FlowRecord* f = find_flow(a, r);
        if (!f) {
            check(r, "flow", "missing", "present");
            continue;
        }
        check(r, "client", to_string(f->client_ip) + ":" + std::to_string(f->client_port),
              r["client_ip"] + ":" + r["client_port"]);
        check(r, "verdict", std::string(to_string(f->verdict)), expected_verdict(r));
        const TlsSummary empty_tls;
        const TlsSummary& t = f->tls ? *f->tls : empty_tls;
        check(r, "tls_version", t.version.value_or(""), tls_version_cell(r["tls_version"]));
        check(r, "sni", t.sni.value_or(""), r["sni"]);
        check(r, "alpn_offered", join(t.alpn_offered), r["alpn_offered"]);
        std::string chosen = t.alpn_chosen.value_or("");
        if (!t.alpn_chosen && t.cert_request_state == "encrypted" && t.version && *t.version != "ssl2") chosen = "encrypted";
        check(r, "alpn_chosen", chosen, r["alpn_chosen"]);
        check(r, "cert_request", t.cert_request_state, r["cert_request"]);
        check(r, "client_cert", t.client_cert_state, r["client_cert"]);
        if (!r["http1_request"].empty()) {
            const std::string ours = f->plaintext ? f->plaintext->first_line.substr(0, f->plaintext->first_line.find(' ')) + " " +
                                                        f->plaintext->host.value_or("")
                                                  : "";
            check(r, "http1_request", ours, r["http1_request"]);
        }
        if (r["h2_preface"] == "yes") check(r, "h2", f->protocol == "h2c" || f->protocol == "grpc" ? "yes" : f->protocol, "yes");
        if (r["grpc"] == "yes") check(r, "grpc", f->protocol, "grpc");
    }
    MESSAGE("compared " << compared << " fields, " << explained << " explained disagreements, " << mismatches << " unexplained");
    for (const auto& [key, value] : expect) {
        if (!used_expectations.count(key)) FAIL_CHECK("stale expectation (now agrees or flow gone): " << key);
    }
    CHECK(mismatches == 0);
}

TEST_CASE("no shared capture yields more flows than tshark has conversations") {
    const auto rows = load_truth();
    std::map<std::string, std::size_t> per_file;
    for (const auto& r : rows) ++per_file[r["file"]];
    // Not a structured binding: CAPTURE's lambda cannot capture one in clang-14 (the sanitizer build).
    for (const auto& entry : per_file) {
        const std::string& file = entry.first;
        CAPTURE(file);
        CHECK(audit_file(file).flows.size() == entry.second);
    }
}

TEST_CASE("every shared capture reads to the end without an input error") {
    for (const auto& e : std::filesystem::directory_iterator(kPcaps)) {
        const auto ext = e.path().extension().string();
        if (ext != ".pcap" && ext != ".pcapng") continue;
        const std::string name = e.path().filename().string();
        CAPTURE(name);
        const Audit& a = audit_file(name);
        REQUIRE(a.summary.inputs.size() == 1);
        CHECK_FALSE(a.summary.inputs[0].error.has_value());
    }
}
