// AuditMetrics and the exporters, from synthetic FlowRecords/summaries and from real captures.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "audit/engine/engine.hpp"
#include "audit/metrics/audit_metrics.hpp"
#include "audit/metrics/metrics_export.hpp"

using namespace meshproof;
using namespace meshproof::audit;

namespace {

IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress ip;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
}

// A flow with everything a label must never carry: addresses, SNI, fingerprints, SPIFFE IDs, secrets.
FlowRecord make_flow(Verdict verdict, std::string protocol, std::uint64_t c2s_bytes = 100, std::uint64_t s2c_bytes = 50) {
    FlowRecord f;
    f.client_ip = v4(10, 244, 7, 77);
    f.server_ip = v4(10, 244, 9, 99);
    f.client_port = 51515;
    f.server_port = 8443;
    f.verdict = verdict;
    f.protocol = std::move(protocol);
    f.bytes = {c2s_bytes, s2c_bytes};
    f.packets = {5, 4};
    if (f.protocol == "tls") {
        TlsSummary t;
        t.sni = "outbound_.8443_._.payments.prod.svc.cluster.local";
        t.ja3 = "771,4865-4866,0-23-65281,29-23,0";
        t.ja4 = "t13d0203h2_aaaaaaaaaaaa_bbbbbbbbbbbb";
        t.spiffe_ids = {"spiffe://cluster.local/ns/prod/sa/payments"};
        f.tls = t;
    }
    return f;
}

// Parsed exposition: "name{labels}" -> value, labels as written by the serializer (sorted by name).
std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        REQUIRE(space != std::string::npos);
        const std::string value = line.substr(space + 1);
        out[line.substr(0, space)] = (value == "Nan" || value == "NaN") ? std::nan("") : std::stod(value);
    }
    return out;
}

double sum_of(const std::map<std::string, double>& s, const std::string& name) {
    double total = 0;
    for (const auto& [key, value] : s) {
        if (key == name || key.rfind(name + "{", 0) == 0) total += value;
    }
    return total;
}

std::size_t series_count(const std::map<std::string, double>& s, const std::string& name) {
    std::size_t n = 0;
    for (const auto& [key, value] : s) {
        if (key == name || key.rfind(name + "{", 0) == 0) ++n;
    }
    return n;
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/meshproof-metrics-test.XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("flows_total: one count per flow, by verdict and protocol") {
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry);
    const std::vector<FlowRecord> flows = {
        make_flow(Verdict::IstioMtls, "tls"),         make_flow(Verdict::IstioMtls, "tls"),
        make_flow(Verdict::Tls, "tls"),               make_flow(Verdict::PlaintextServed, "http"),
        make_flow(Verdict::PlaintextServed, "http"),  make_flow(Verdict::PlaintextServed, "redis"),
        make_flow(Verdict::PlaintextRejected, "http"), make_flow(Verdict::Unknown, "unknown"),
        make_flow(Verdict::PlaintextServed, "gopher"),  // not in the closed list
    };
    for (const auto& f : flows) m.on_flow(f);
    const auto s = samples(exposition_text(*registry));

    SUBCASE("the sum over all labels equals the number of flows") {
        CHECK(sum_of(s, "meshproof_flows_total") == doctest::Approx(static_cast<double>(flows.size())));
        CHECK(m.flows_counted() == flows.size());
    }
    SUBCASE("each verdict/protocol pair is its own series") {
        CHECK(s.at(R"(meshproof_flows_total{protocol="tls",verdict="istio-mtls"})") == 2);
        CHECK(s.at(R"(meshproof_flows_total{protocol="tls",verdict="tls"})") == 1);
        CHECK(s.at(R"(meshproof_flows_total{protocol="http",verdict="plaintext-served"})") == 2);
        CHECK(s.at(R"(meshproof_flows_total{protocol="redis",verdict="plaintext-served"})") == 1);
        CHECK(s.at(R"(meshproof_flows_total{protocol="http",verdict="plaintext-rejected"})") == 1);
        CHECK(s.at(R"(meshproof_flows_total{protocol="unknown",verdict="unknown"})") == 1);
    }
    SUBCASE("a protocol outside the closed list is counted as other") {
        CHECK(s.at(R"(meshproof_flows_total{protocol="other",verdict="plaintext-served"})") == 1);
        CHECK(s.count(R"(meshproof_flows_total{protocol="gopher",verdict="plaintext-served"})") == 0);
    }
    SUBCASE("every verdict x protocol series exists from the start, at 0 when unused") {
        CHECK(series_count(s, "meshproof_flows_total") == kVerdictCount * kProtocolLabelCount);
        CHECK(s.at(R"(meshproof_flows_total{protocol="mysql",verdict="hbone"})") == 0);
    }
    SUBCASE("bytes_total adds both directions per verdict") {
        CHECK(s.at(R"(meshproof_bytes_total{verdict="istio-mtls"})") == 300);
        CHECK(s.at(R"(meshproof_bytes_total{verdict="plaintext-served"})") == 600);
        CHECK(s.at(R"(meshproof_bytes_total{verdict="mtls"})") == 0);
    }
}

TEST_CASE("labels never carry addresses, SNI, fingerprints, SPIFFE IDs or secret values") {
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry);
    FlowRecord leaky = make_flow(Verdict::PlaintextServed, "http");
    leaky.secrets.push_back({"authorization", "HTTP header Authorization (Basic)", Direction::ClientToServer,
                             "Basic c2VjcmV0OnZhbHVl"});
    leaky.plaintext = PlaintextSummary{"http", "GET /admin?token=abc HTTP/1.1", "admin.internal", 200};
    m.on_flow(leaky);
    m.on_flow(make_flow(Verdict::IstioMtls, "tls"));
    AuditSummary summary;
    summary.inputs.push_back({"/captures/node-10.244.7.77.pcap", "interface br0", 10, std::nullopt, ""});
    m.update_from_summary(summary, 1.7e9);
    const std::string text = exposition_text(*registry);

    for (const char* forbidden : {"10.244.", "51515", "8443", "outbound_", "payments", "771,4865", "t13d",
                                  "spiffe", "c2VjcmV0", "admin", "token=abc", "br0", ".pcap"}) {
        CAPTURE(forbidden);
        CHECK(text.find(forbidden) == std::string::npos);
    }
    // The only label names in use.
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto open = line.find('{');
        if (open == std::string::npos) continue;
        const std::string labels = line.substr(open + 1, line.find('}') - open - 1);
        std::size_t pos = 0;
        while (pos < labels.size()) {
            const auto eq = labels.find('=', pos);
            REQUIRE(eq != std::string::npos);
            const std::string name = labels.substr(pos, eq - pos);
            CAPTURE(line);
            CHECK((name == "verdict" || name == "protocol" || name == "kind" || name == "where" || name == "parser" ||
                   name == "outcome" || name == "version"));
            const auto close_quote = labels.find('"', eq + 2);
            REQUIRE(close_quote != std::string::npos);
            pos = close_quote + 2;  // past '",'
        }
    }
}

TEST_CASE("plaintext secrets are counted by kind") {
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry);

    SUBCASE("known kinds exist at 0 before any leak") {
        const auto s = samples(exposition_text(*registry));
        CHECK(s.at(R"(meshproof_plaintext_secrets_total{kind="authorization"})") == 0);
        CHECK(s.at(R"(meshproof_plaintext_secrets_total{kind="redis-auth"})") == 0);
    }
    SUBCASE("each finding counts once, new and odd kinds included") {
        FlowRecord f = make_flow(Verdict::PlaintextServed, "http");
        f.secrets.push_back({"authorization", "HTTP header", Direction::ClientToServer, "Basic x"});
        f.secrets.push_back({"password", "form field password", Direction::ClientToServer, "hunter2"});
        f.secrets.push_back({"vault-token", "HTTP header X-Vault-Token", Direction::ClientToServer, "s.abc"});
        f.secrets.push_back({"Bad Kind!", "somewhere", Direction::ClientToServer, "zzz"});
        m.on_flow(f);
        m.on_flow(f);
        const auto s = samples(exposition_text(*registry));
        CHECK(s.at(R"(meshproof_plaintext_secrets_total{kind="authorization"})") == 2);
        CHECK(s.at(R"(meshproof_plaintext_secrets_total{kind="password"})") == 2);
        CHECK(s.at(R"(meshproof_plaintext_secrets_total{kind="vault-token"})") == 2);
        CHECK(s.at(R"(meshproof_plaintext_secrets_total{kind="other"})") == 2);
        CHECK(sum_of(s, "meshproof_plaintext_secrets_total") == 8);
    }
}

TEST_CASE("label helpers") {
    CHECK(protocol_label("tls") == "tls");
    CHECK(protocol_label("postgresql") == "postgresql");
    CHECK(protocol_label("unknown") == "unknown");
    CHECK(protocol_label("") == "other");
    CHECK(protocol_label("TLS") == "other");
    CHECK(protocol_label("http/1.1") == "other");
    CHECK(safe_label_value("redis-auth") == "redis-auth");
    CHECK(safe_label_value("tls_records") == "tls_records");
    CHECK(safe_label_value("") == "other");
    CHECK(safe_label_value("10.0.0.1") == "other");
    CHECK(safe_label_value(std::string(41, 'a')) == "other");
}

TEST_CASE("summary counters advance by what changed, never backwards") {
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry);
    AuditSummary s;
    s.packets = 100;
    s.kernel_dropped = 3;
    s.interface_dropped = 1;
    s.flows_evicted = 2;
    s.flows_active = 7;
    s.parse_outcomes["tls"].add(ParseOutcome::Ok);
    s.parse_outcomes["tls"].add(ParseOutcome::Ok);
    s.parse_outcomes["tls"].add(ParseOutcome::Malformed);
    s.parse_outcomes["http"].add(ParseOutcome::NeedMore);
    m.update_from_summary(s, 1700000000.5);

    SUBCASE("first update copies the totals") {
        const auto x = samples(exposition_text(*registry));
        CHECK(x.at("meshproof_capture_packets_total") == 100);
        CHECK(x.at(R"(meshproof_capture_dropped_packets_total{where="kernel"})") == 3);
        CHECK(x.at(R"(meshproof_capture_dropped_packets_total{where="interface"})") == 1);
        CHECK(x.at("meshproof_flows_evicted_total") == 2);
        CHECK(x.at("meshproof_flows_active") == 7);
        CHECK(x.at(R"(meshproof_parse_outcomes_total{outcome="ok",parser="tls"})") == 2);
        CHECK(x.at(R"(meshproof_parse_outcomes_total{outcome="malformed",parser="tls"})") == 1);
        CHECK(x.at(R"(meshproof_parse_outcomes_total{outcome="too_large",parser="tls"})") == 0);
        CHECK(x.at(R"(meshproof_parse_outcomes_total{outcome="need_more",parser="http"})") == 1);
        CHECK(x.at("meshproof_audit_last_run_timestamp_seconds") == doctest::Approx(1700000000.5));
    }
    SUBCASE("later totals add only the difference") {
        s.packets = 250;
        s.kernel_dropped = 10;
        s.flows_active = 2;
        s.parse_outcomes["tls"].add(ParseOutcome::Ok);
        m.update_from_summary(s, 1700000060.0);
        const auto x = samples(exposition_text(*registry));
        CHECK(x.at("meshproof_capture_packets_total") == 250);
        CHECK(x.at(R"(meshproof_capture_dropped_packets_total{where="kernel"})") == 10);
        CHECK(x.at("meshproof_flows_active") == 2);
        CHECK(x.at(R"(meshproof_parse_outcomes_total{outcome="ok",parser="tls"})") == 3);
        CHECK(x.at("meshproof_audit_last_run_timestamp_seconds") == doctest::Approx(1700000060.0));
    }
    SUBCASE("a smaller total (another engine) does not decrease a counter") {
        s.packets = 40;
        m.update_from_summary(s, 1700000060.0);
        CHECK(samples(exposition_text(*registry)).at("meshproof_capture_packets_total") == 100);
    }
}

TEST_CASE("encrypted_flow_ratio and build_info") {
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry);
    SUBCASE("NaN before any judged flow (an alert on < 1 stays quiet)") {
        m.on_flow(make_flow(Verdict::Unknown, "unknown"));
        CHECK(std::isnan(samples(exposition_text(*registry)).at("meshproof_encrypted_flow_ratio")));
    }
    SUBCASE("encrypted / (encrypted + plaintext); unknown flows do not count") {
        m.on_flow(make_flow(Verdict::IstioMtls, "tls"));
        m.on_flow(make_flow(Verdict::Hbone, "tls"));
        m.on_flow(make_flow(Verdict::EncryptedUnknown, "unknown"));
        m.on_flow(make_flow(Verdict::PlaintextRejected, "http"));
        m.on_flow(make_flow(Verdict::Unknown, "unknown"));
        CHECK(samples(exposition_text(*registry)).at("meshproof_encrypted_flow_ratio") == doctest::Approx(0.75));
    }
    SUBCASE("build_info carries the version") {
        const auto s = samples(exposition_text(*registry));
        CHECK(s.at(std::string("meshproof_build_info{version=\"") + MESHPROOF_VERSION + "\"}") == 1);
    }
}

TEST_CASE("write_textfile: atomic, 0644, exactly the exposition") {
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry);
    m.on_flow(make_flow(Verdict::Tls, "tls"));
    TempDir dir;
    const auto path = dir.path / "meshproof.prom";
    std::string err;

    SUBCASE("mode 0644 even under a strict umask, no temporary file left") {
        const mode_t old = umask(077);
        const bool ok = write_textfile(*registry, path.string(), err);
        umask(old);
        REQUIRE_MESSAGE(ok, err);
        struct stat st {};
        REQUIRE(stat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0644);
        CHECK(slurp(path) == exposition_text(*registry));
        std::size_t entries = 0;
        for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) ++entries;
        CHECK(entries == 1);
    }
    SUBCASE("replaces an existing file") {
        { std::ofstream(path) << "old content\n"; }
        REQUIRE_MESSAGE(write_textfile(*registry, path.string(), err), err);
        const std::string text = slurp(path);
        CHECK(text.find("old content") == std::string::npos);
        CHECK(text.find(R"(meshproof_flows_total{protocol="tls",verdict="tls"} 1)") != std::string::npos);
    }
    SUBCASE("a missing directory is a clear error") {
        CHECK_FALSE(write_textfile(*registry, (dir.path / "no/such/dir/m.prom").string(), err));
        CHECK(err.find("no/such/dir") != std::string::npos);
        CHECK_FALSE(textfile_writable((dir.path / "no/such/dir/m.prom").string(), err));
    }
}

TEST_CASE("parse_push_url") {
    std::string err;
    SUBCASE("host and port") {
        const auto u = parse_push_url("http://127.0.0.1:9091", err);
        REQUIRE(u);
        CHECK(u->scheme_host == "http://127.0.0.1");
        CHECK(u->port == "9091");
        CHECK(u->path.empty());
    }
    SUBCASE("default port, path prefix, trailing slash") {
        const auto u = parse_push_url("https://push.example/gateway/", err);
        REQUIRE(u);
        CHECK(u->scheme_host == "https://push.example");
        CHECK(u->port == "9091");
        CHECK(u->path == "/gateway");
    }
    SUBCASE("IPv6") {
        const auto u = parse_push_url("http://[::1]:9191", err);
        REQUIRE(u);
        CHECK(u->scheme_host == "http://[::1]");
        CHECK(u->port == "9191");
    }
    SUBCASE("refused") {
        for (const char* bad : {"127.0.0.1:9091", "ftp://h:1", "http://", "http://:9091", "http://h:0",
                                "http://h:65536", "http://h:12ab", "http://u:p@h:9091", "http://[::1"}) {
            CAPTURE(bad);
            err.clear();
            CHECK_FALSE(parse_push_url(bad, err));
            CHECK_FALSE(err.empty());
        }
    }
}

TEST_CASE("push_to_gateway reports a gateway that is not there") {
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry);
    std::string err;
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    CHECK_FALSE(push_to_gateway(registry, "http://127.0.0.1:1", "meshproof", "test", err));
    CHECK(err.find("could not connect") != std::string::npos);
    CHECK_FALSE(push_to_gateway(registry, "http://127.0.0.1:1", "job/with/slash", "test", err));
    CHECK(err.find("no '/'") != std::string::npos);
}

TEST_CASE("real captures: the metrics agree with the report") {
    const std::string dir = std::string(MESHPROOF_SOURCE_DIR) + "/tests/captures/pcaps";
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() == ".pcap") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() >= 5);
    Engine engine;
    REQUIRE(read_capture_files(files, engine));
    engine.finish();
    REQUIRE(engine.records().size() > 5);

    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry);
    for (const auto& f : engine.records()) m.on_flow(f);
    m.update_from_summary(engine.summary());
    const auto s = samples(exposition_text(*registry));

    CHECK(sum_of(s, "meshproof_flows_total") == static_cast<double>(engine.records().size()));
    CHECK(sum_of(s, "meshproof_flows_total") == static_cast<double>(engine.summary().flows));
    for (const Verdict v : kAllVerdicts) {
        CAPTURE(to_string(v));
        double verdict_sum = 0;
        for (const auto& [key, value] : s) {
            if (key.rfind("meshproof_flows_total{", 0) == 0 &&
                key.find("verdict=\"" + std::string(to_string(v)) + "\"") != std::string::npos)
                verdict_sum += value;
        }
        CHECK(verdict_sum == static_cast<double>(engine.summary().verdict_flows[static_cast<std::size_t>(v)]));
        CHECK(s.at("meshproof_bytes_total{verdict=\"" + std::string(to_string(v)) + "\"}") ==
              static_cast<double>(engine.summary().verdict_bytes[static_cast<std::size_t>(v)]));
    }
    std::uint64_t secrets = 0;
    for (const auto& [kind, n] : engine.summary().secrets_by_kind) secrets += n;
    CHECK(secrets > 0);
    CHECK(sum_of(s, "meshproof_plaintext_secrets_total") == static_cast<double>(secrets));
    CHECK(s.at("meshproof_capture_packets_total") == static_cast<double>(engine.summary().packets));
    CHECK(s.at(R"(meshproof_flows_total{protocol="tls",verdict="istio-mtls"})") >= 2);
    CHECK(s.at(R"(meshproof_flows_total{protocol="http",verdict="plaintext-served"})") >= 1);
    CHECK(s.at(R"(meshproof_parse_outcomes_total{outcome="ok",parser="tls"})") > 0);

    SUBCASE("export_metrics writes the same numbers to the textfile") {
        TempDir tmp;
        MetricsOutputs out;
        out.textfile = (tmp.path / "audit.prom").string();
        std::string err;
        REQUIRE_MESSAGE(export_metrics(engine, out, err), err);
        const auto f = samples(slurp(tmp.path / "audit.prom"));
        CHECK(sum_of(f, "meshproof_flows_total") == static_cast<double>(engine.records().size()));
    }
}

TEST_CASE("namespace labels on flows_total (enriched runs)") {
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry, AuditMetricsOptions{true, false});
    m.on_flow(make_flow(Verdict::PlaintextServed, "http"), "legacy", "payments");
    m.on_flow(make_flow(Verdict::PlaintextServed, "http"), "legacy", "payments");
    m.on_flow(make_flow(Verdict::IstioMtls, "tls"), "demo", "payments");
    m.on_flow(make_flow(Verdict::Tls, "tls"), kNamespaceNode, kNamespaceExternal);
    m.on_flow(make_flow(Verdict::Tls, "tls"));  // no namespaces given
    const auto s = samples(exposition_text(*registry));

    SUBCASE("one series per verdict, protocol and namespace pair, created when first used") {
        CHECK(s.at(R"(meshproof_flows_total{dst_namespace="payments",protocol="http",src_namespace="legacy",verdict="plaintext-served"})") == 2);
        CHECK(s.at(R"(meshproof_flows_total{dst_namespace="payments",protocol="tls",src_namespace="demo",verdict="istio-mtls"})") == 1);
        CHECK(s.at(R"(meshproof_flows_total{dst_namespace="_external",protocol="tls",src_namespace="_node",verdict="tls"})") == 1);
        CHECK(s.at(R"(meshproof_flows_total{dst_namespace="_external",protocol="tls",src_namespace="_external",verdict="tls"})") == 1);
        CHECK(series_count(s, "meshproof_flows_total") == 4);
        CHECK(sum_of(s, "meshproof_flows_total") == 5);
        CHECK(m.flows_counted() == 5);
    }
    SUBCASE("the other families keep their labels") {
        CHECK(s.at(R"(meshproof_bytes_total{verdict="plaintext-served"})") == 300);
        CHECK(s.at("meshproof_encrypted_flow_ratio") == doctest::Approx(3.0 / 5.0));
    }
    SUBCASE("no policy family unless asked") { CHECK(series_count(s, "meshproof_policy_findings_total") == 0); }
}

TEST_CASE("namespace label values stay bounded") {
    SUBCASE("namespace_label_value keeps DNS-1123 labels and our '_' values") {
        CHECK(namespace_label_value("kube-system") == "kube-system");
        CHECK(namespace_label_value("a1") == "a1");
        CHECK(namespace_label_value("_node") == "_node");
        CHECK(namespace_label_value("_external") == "_external");
        CHECK(namespace_label_value("") == "_other");
        CHECK(namespace_label_value("_anything") == "_other");
        CHECK(namespace_label_value("Payments") == "_other");
        CHECK(namespace_label_value("10.244.1.20") == "_other");
        CHECK(namespace_label_value("-lead") == "_other");
        CHECK(namespace_label_value(std::string(64, 'a')) == "_other");
        CHECK(namespace_label_value(std::string(63, 'a')) == std::string(63, 'a'));
    }
    SUBCASE("past kMaxNamespaceLabels distinct namespaces, new ones are _other") {
        auto registry = std::make_shared<prometheus::Registry>();
        AuditMetrics m(registry, AuditMetricsOptions{true, true});
        for (std::size_t i = 0; i < kMaxNamespaceLabels + 50; ++i) {
            const std::string ns = "ns-" + std::to_string(i);
            m.on_flow(make_flow(Verdict::PlaintextServed, "http"), ns, "payments");
            m.on_finding("permissive-plaintext", "warning", ns, "payments");
        }
        const auto s = samples(exposition_text(*registry));
        // "payments" is one of the kept values, so kMaxNamespaceLabels - 1 client namespaces + _other.
        CHECK(series_count(s, "meshproof_flows_total") == kMaxNamespaceLabels);
        CHECK(series_count(s, "meshproof_policy_findings_total") == kMaxNamespaceLabels);
        CHECK(s.at(R"(meshproof_flows_total{dst_namespace="payments",protocol="http",src_namespace="_other",verdict="plaintext-served"})") == 51);
        CHECK(s.at(R"(meshproof_policy_findings_total{dst_namespace="payments",rule="permissive-plaintext",severity="warning",src_namespace="_other"})") == 51);
        CHECK(sum_of(s, "meshproof_flows_total") == static_cast<double>(kMaxNamespaceLabels + 50));
    }
}

TEST_CASE("policy_findings_total by rule, severity and namespaces") {
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry, AuditMetricsOptions{true, true});
    m.on_finding("strict-plaintext-served", "violation", "legacy", "payments");
    m.on_finding("strict-plaintext-served", "violation", "legacy", "payments");
    m.on_finding("meshed-not-istio-mtls", "violation", "demo", "payments");
    m.on_finding("legacy-client-refused", "info", kNamespaceExternal, "payments");
    m.on_finding("Bad Rule!", "violation", "demo", "10.0.0.1");  // guarded, never verbatim
    const std::string text = exposition_text(*registry);
    const auto s = samples(text);
    CHECK(s.at(R"(meshproof_policy_findings_total{dst_namespace="payments",rule="strict-plaintext-served",severity="violation",src_namespace="legacy"})") == 2);
    CHECK(s.at(R"(meshproof_policy_findings_total{dst_namespace="payments",rule="meshed-not-istio-mtls",severity="violation",src_namespace="demo"})") == 1);
    CHECK(s.at(R"(meshproof_policy_findings_total{dst_namespace="payments",rule="legacy-client-refused",severity="info",src_namespace="_external"})") == 1);
    CHECK(s.at(R"(meshproof_policy_findings_total{dst_namespace="_other",rule="other",severity="violation",src_namespace="demo"})") == 1);
    CHECK(series_count(s, "meshproof_policy_findings_total") == 4);
    CHECK(m.findings_counted() == 5);
    CHECK(text.find("10.0.0.1") == std::string::npos);
    CHECK(text.find("# TYPE meshproof_policy_findings_total counter") != std::string::npos);

    SUBCASE("without policy_findings, findings are ignored") {
        auto r2 = std::make_shared<prometheus::Registry>();
        AuditMetrics plain(r2);
        plain.on_finding("strict-plaintext-served", "violation", "legacy", "payments");
        CHECK(plain.findings_counted() == 0);
        CHECK(exposition_text(*r2).find("meshproof_policy_findings_total") == std::string::npos);
    }
    SUBCASE("without namespace_labels, flows keep two labels whatever namespaces are passed") {
        auto r3 = std::make_shared<prometheus::Registry>();
        AuditMetrics plain(r3);
        plain.on_flow(make_flow(Verdict::Tls, "tls"), "demo", "payments");
        const auto s3 = samples(exposition_text(*r3));
        CHECK(s3.at(R"(meshproof_flows_total{protocol="tls",verdict="tls"})") == 1);
        CHECK(series_count(s3, "meshproof_flows_total") == kVerdictCount * kProtocolLabelCount);
    }
}

TEST_CASE("export_registry writes what the caller counted") {
    TempDir dir;
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics m(registry, AuditMetricsOptions{true, true});
    m.on_finding("strict-plaintext-served", "violation", "legacy", "payments");
    MetricsOutputs out;
    out.textfile = (dir.path / "meshproof.prom").string();
    std::string err;
    REQUIRE(export_registry(registry, out, err));
    const auto s = samples(slurp(dir.path / "meshproof.prom"));
    CHECK(s.at(R"(meshproof_policy_findings_total{dst_namespace="payments",rule="strict-plaintext-served",severity="violation",src_namespace="legacy"})") == 1);
    CHECK(export_registry(registry, MetricsOutputs{}, err));  // nothing asked: nothing to fail
}
