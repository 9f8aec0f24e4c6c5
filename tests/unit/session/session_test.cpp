// audit::Session: one audit from source to sinks, on the repository's own captures.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/bundle/evidence_bundle.hpp"
#include "audit/bundle/signing.hpp"
#include "audit/session/session.hpp"
#include "common/usage_error.hpp"
#include "tests/unit/bundle/bundle_test_helpers.hpp"

using namespace meshproof;
using namespace meshproof::audit;
using Report = SessionConfig::Report;

namespace {

const std::string kCaptures = std::string(MESHPROOF_SOURCE_DIR) + "/tests/captures/pcaps";
const std::string kSnapshot = std::string(MESHPROOF_SOURCE_DIR) + "/tests/data/k8s/netns-lab-snapshot.json";

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

using audit::bundle::testing::TempDir;
using audit::bundle::testing::read_text;

SessionConfig files_config(Report report, std::vector<std::string> files) {
    SessionConfig c;
    c.report = report;
    c.files = std::move(files);
    return c;
}

std::size_t count_type(const std::vector<std::string>& lines, const std::string& type) {
    const std::string tag = "{\"type\":\"" + type + "\"";
    return static_cast<std::size_t>(
        std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(tag, 0) == 0; }));
}

}  // namespace

TEST_CASE("records for the caller: nothing printed, every flow kept in order of first packet") {
    std::ostringstream out, err;
    Session s(files_config(Report::Records, expand_capture_inputs({kCaptures})), out, err);
    const SessionOutcome o = s.run(nullptr);
    CHECK_FALSE(o.not_started);
    CHECK_FALSE(o.unreadable_input);
    CHECK_FALSE(o.damaged_input);
    CHECK(out.str().empty());
    const auto records = s.take_records();
    REQUIRE(records.size() > 10);
    CHECK(records.size() == s.summary().flows);
    CHECK(std::is_sorted(records.begin(), records.end(),
                         [](const FlowRecord& a, const FlowRecord& b) { return a.first_seen < b.first_seen; }));
}

TEST_CASE("JSON streams as flows end and says the same as the sorted report") {
    const auto files = expand_capture_inputs({kCaptures});
    std::ostringstream streamed, err;
    Session s(files_config(Report::Json, files), streamed, err);
    CHECK(s.run(nullptr).fail_on_matched == false);

    std::ostringstream sorted;
    Session kept(files_config(Report::Records, files), sorted, err);
    kept.run(nullptr);
    const auto records = kept.take_records();
    std::vector<std::string> expected;
    for (const auto& f : records) expected.push_back(flow_to_json(f, ReportOptions{}));

    auto lines = lines_of(streamed.str());
    REQUIRE(lines.size() == records.size() + 1);
    CHECK(lines.back() == summary_to_json(kept.summary()));
    lines.pop_back();
    std::sort(lines.begin(), lines.end());
    std::sort(expected.begin(), expected.end());
    CHECK(lines == expected);
}

TEST_CASE("fail_on matches a verdict seen, and only then") {
    std::ostringstream out, err;
    auto c = files_config(Report::Json, {kCaptures + "/redis-auth.pcap"});
    c.fail_on = {Verdict::PlaintextServed};
    CHECK(Session(c, out, err).run(nullptr).fail_on_matched);
    c.fail_on = {Verdict::IstioMtls};
    CHECK_FALSE(Session(c, out, err).run(nullptr).fail_on_matched);
    c.report = Report::Table;
    c.fail_on = {Verdict::PlaintextServed};
    CHECK(Session(c, out, err).run(nullptr).fail_on_matched);
}

TEST_CASE("inputs that cannot be read, or are damaged part-way") {
    TempDir dir;
    const auto good = kCaptures + "/istio-mtls-tls12.pcap";
    const std::string bytes = read_text(good);
    const auto truncated = dir.path() / "truncated.pcap";
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() - 7);
    const auto junk = dir.path() / "junk.pcap";
    std::ofstream(junk, std::ios::binary) << "this is not a capture";

    std::ostringstream out, err;
    SUBCASE("damaged: the flows before the damage, the error on err") {
        const auto o = Session(files_config(Report::Json, {truncated.string()}), out, err).run(nullptr);
        CHECK(o.damaged_input);
        CHECK_FALSE(o.unreadable_input);
        CHECK(count_type(lines_of(out.str()), "flow") >= 1);
        CHECK(err.str().find(truncated.string()) != std::string::npos);
    }
    SUBCASE("unreadable, with a good file after it") {
        const auto o = Session(files_config(Report::Json, {junk.string(), good}), out, err).run(nullptr);
        CHECK(o.unreadable_input);
        CHECK(count_type(lines_of(out.str()), "flow") >= 1);
    }
}

TEST_CASE("metrics after the run: the textfile counts every flow, streamed or kept") {
    TempDir dir;
    for (const Report report : {Report::Json, Report::Table}) {
        CAPTURE(static_cast<int>(report));
        std::ostringstream out, err;
        auto c = files_config(report, {kCaptures});
        c.files = expand_capture_inputs(c.files);
        c.metrics.textfile = (dir.path() / "m.prom").string();
        const auto o = Session(c, out, err).run(nullptr);
        CHECK_FALSE(o.output_failed);
        const std::string text = read_text(dir.path() / "m.prom");
        CHECK(text.find("meshproof_flows_total{") != std::string::npos);
        CHECK(text.find("verdict=\"plaintext-served\"") != std::string::npos);
    }
    SUBCASE("a textfile that cannot be written fails the run, after the report") {
        std::ostringstream out, err;
        auto c = files_config(Report::Json, {kCaptures + "/redis-auth.pcap"});
        c.metrics.textfile = (dir.path() / "missing" / "m.prom").string();
        const auto o = Session(c, out, err).run(nullptr);
        CHECK(o.output_failed);
        CHECK(count_type(lines_of(out.str()), "summary") == 1);
    }
}

TEST_CASE("snapshot and policy: workloads on flow lines, findings after the summary, violations") {
    TempDir dir;
    const auto policy = dir.path() / "policy.yaml";
    std::ofstream(policy) << "version: 1\n";
    for (const Report report : {Report::Json, Report::Table}) {
        CAPTURE(static_cast<int>(report));
        std::ostringstream out, err;
        auto c = files_config(report, expand_capture_inputs({kCaptures}));
        c.compliance.k8s_snapshot = kSnapshot;
        c.compliance.policy = policy.string();
        c.metrics.textfile = (dir.path() / "m.prom").string();
        const auto o = Session(c, out, err).run(nullptr);
        CHECK(o.policy_violations);
        const std::string text = read_text(dir.path() / "m.prom");
        CHECK(text.find("meshproof_policy_findings_total{") != std::string::npos);
        CHECK(text.find("src_namespace=\"demo\"") != std::string::npos);
        if (report == Report::Json) {
            const auto lines = lines_of(out.str());
            CHECK(count_type(lines, "finding") > 0);
            CHECK(lines.back().rfind("{\"type\":\"policy_summary\"", 0) == 0);
            for (const auto& l : lines) {
                if (l.rfind("{\"type\":\"flow\"", 0) == 0) CHECK(l.find("\"src_workload\"") != std::string::npos);
            }
        } else {
            CHECK(out.str().find("strict-plaintext-served") != std::string::npos);
        }
    }
    SUBCASE("configuration errors come at construction, before any input is read") {
        std::ostringstream out, err;
        auto c = files_config(Report::Json, {kCaptures});
        c.compliance.policy = policy.string();  // no snapshot
        CHECK_THROWS_AS(Session(c, out, err), UsageError);
        c.compliance.k8s_snapshot = (dir.path() / "missing.json").string();
        CHECK_THROWS_AS(Session(c, out, err), std::runtime_error);
    }
}

TEST_CASE("a bundle keeps the records, sorted, and is signed") {
    TempDir dir;
    REQUIRE(bundle::generate_key_files(dir.path() / "keys", false));
    std::ostringstream out, err;
    auto c = files_config(Report::Json, {kCaptures + "/redis-auth.pcap", kCaptures + "/istio-mtls-tls12.pcap"});
    c.compliance.bundle = (dir.path() / "b.tar.gz").string();
    c.compliance.key = (dir.path() / "keys" / "meshproof-signing.key").string();
    const auto o = Session(c, out, err).run(nullptr);
    CHECK_FALSE(o.output_failed);
    CHECK(std::filesystem::file_size(dir.path() / "b.tar.gz") > 0);
    const auto r = bundle::verify_bundle((dir.path() / "b.tar.gz").string(), nullptr);
    CHECK(r.ok);
    CHECK(count_type(lines_of(out.str()), "flow") == 2);
}

TEST_CASE("a live source that cannot open: not started, the reason said") {
    SessionConfig c;
    LiveOptions live;
    live.interface = "nosuch" + std::to_string(::getpid() % 100000);
    live.drop_to_user = std::nullopt;
    c.live = live;
    c.report = Report::Json;
    std::ostringstream out, err;
    Session s(c, out, err);
    CHECK_FALSE(s.open());
    CHECK_FALSE(s.start_error().empty());
    CHECK(err.str().find(s.start_error()) != std::string::npos);
    CHECK(s.run(nullptr).not_started);
    CHECK(out.str().empty());
}
