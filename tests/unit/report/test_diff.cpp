#include <doctest/doctest.h>

#include <sstream>

#include "audit/report/diff.hpp"
#include "tests/unit/report/test_diff_builders.hpp"

using namespace meshproof::audit;
using namespace meshproof::audit::test;

namespace {

const FlowGroupDiff* find_group(const FlowDiff& d, const std::string& client, const std::string& server,
                                std::uint16_t port) {
    for (const auto& g : d.groups) {
        if (g.key.client == client && g.key.server == server && g.key.server_port == port) return &g;
    }
    return nullptr;
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("diff: the demo's before/after moves every pair from plaintext to mutual TLS") {
    const FlowDiff d = diff_audits(before_flows(), after_flows(), demo_names());

    SUBCASE("totals per side") {
        CHECK(d.before.flows == 3);
        CHECK(d.before.plaintext_flows() == 3);
        CHECK(d.before.encrypted_flows() == 0);
        CHECK(d.before.secrets == 7);
        CHECK(d.before.count(Verdict::PlaintextServed) == 3);
        CHECK(d.after.flows == 3);
        CHECK(d.after.plaintext_flows() == 0);
        CHECK(d.after.count(Verdict::IstioMtls) == 3);
        CHECK(d.after.secrets == 0);
        CHECK(d.before.bytes == 3 * 700);
    }
    SUBCASE("groups are keyed by names and server port, not client port") {
        REQUIRE(d.groups.size() == 2);
        const auto* http = find_group(d, "frontend", "backend", 8080);
        REQUIRE(http != nullptr);
        CHECK(http->before.flows == 2);
        CHECK(http->after.flows == 2);
        CHECK(http->change == FlowChange::Secured);
        CHECK(http->client_address == "10.244.1.10");
        CHECK(http->server_address == "10.244.2.20");
        REQUIRE(http->before.protocols.size() == 1);
        CHECK(http->before.protocols[0] == "http");
        REQUIRE(http->after.protocols.size() == 1);
        CHECK(http->after.protocols[0] == "tls");
        // The same two secrets on both HTTP flows are listed once.
        CHECK(http->before.secrets.size() == 3);
        CHECK(http->before.flow_indexes == std::vector<std::size_t>{0, 1});
        CHECK(http->after.flow_indexes == std::vector<std::size_t>{0, 1});
        const auto* redis = find_group(d, "backend", "db", 6379);
        REQUIRE(redis != nullptr);
        CHECK(redis->change == FlowChange::Secured);
    }
    SUBCASE("change counts, secrets gone, pass") {
        CHECK(d.count(FlowChange::Secured) == 2);
        CHECK(d.count(FlowChange::StillPlaintext) == 0);
        CHECK(d.count(FlowChange::New) == 0);
        CHECK(d.count(FlowChange::Vanished) == 0);
        CHECK(d.secrets_gone.size() == 4);
        CHECK(d.passed());
    }
}

TEST_CASE("diff: classification of each kind of change") {
    SUBCASE("plaintext still in clear after is a failure") {
        auto after = after_flows();
        after.push_back(plaintext_redis(52000));  // one Redis connection bypassed the sidecar
        const FlowDiff d = diff_audits(before_flows(), after, demo_names());
        const auto* redis = find_group(d, "backend", "db", 6379);
        REQUIRE(redis != nullptr);
        CHECK(redis->change == FlowChange::StillPlaintext);
        CHECK(redis->after.count(Verdict::IstioMtls) == 1);
        CHECK(redis->after.count(Verdict::PlaintextServed) == 1);
        CHECK_FALSE(d.passed());
        CHECK(d.count(FlowChange::StillPlaintext) == 1);
        // The Redis AUTH still crosses the wire: not "gone".
        for (const auto& s : d.secrets_gone) CHECK(s.secret.kind != "redis-auth");
    }
    SUBCASE("a new plaintext pair after is a failure too") {
        const FlowDiff d = diff_audits({}, {plaintext_http(1234)}, demo_names());
        REQUIRE(d.groups.size() == 1);
        CHECK(d.groups[0].change == FlowChange::StillPlaintext);
        CHECK_FALSE(d.passed());
    }
    SUBCASE("plaintext-rejected after (STRICT reset) still counts as readable bytes on the wire") {
        auto rejected = plaintext_http(1);
        rejected.verdict = Verdict::PlaintextRejected;
        const FlowDiff d = diff_audits(before_flows(), {rejected}, demo_names());
        CHECK(find_group(d, "frontend", "backend", 8080)->change == FlowChange::StillPlaintext);
    }
    SUBCASE("plaintext to TLS without visible client auth is encrypted, not secured") {
        auto tls = istio_mtls(kFrontend, 1, kBackend, 8080, "backend");
        tls.verdict = Verdict::Tls;
        const FlowDiff d = diff_audits(before_flows(), {tls}, demo_names());
        const auto* g = find_group(d, "frontend", "backend", 8080);
        REQUIRE(g != nullptr);
        CHECK(g->change == FlowChange::Encrypted);
        CHECK(d.passed());
    }
    SUBCASE("mixed mutual verdicts after are secured; one plain tls flow makes it encrypted") {
        auto hbone = istio_mtls(kFrontend, 2, kBackend, 8080, "backend");
        hbone.verdict = Verdict::Hbone;
        auto mtls = istio_mtls(kFrontend, 3, kBackend, 8080, "backend");
        mtls.verdict = Verdict::Mtls;
        const FlowDiff both = diff_audits(before_flows(), {hbone, mtls}, demo_names());
        CHECK(find_group(both, "frontend", "backend", 8080)->change == FlowChange::Secured);
        auto tls = mtls;
        tls.verdict = Verdict::Tls;
        const FlowDiff d = diff_audits(before_flows(), {hbone, tls}, demo_names());
        CHECK(find_group(d, "frontend", "backend", 8080)->change == FlowChange::Encrypted);
    }
    SUBCASE("unknown flows after: inconclusive alone, ignored next to known ones") {
        auto unknown = make_flow(kFrontend, 5, kBackend, 8080, Verdict::Unknown, "unknown");
        FlowDiff d = diff_audits(before_flows(), {unknown}, demo_names());
        CHECK(find_group(d, "frontend", "backend", 8080)->change == FlowChange::Inconclusive);
        CHECK(d.passed());
        d = diff_audits(before_flows(), {unknown, istio_mtls(kFrontend, 6, kBackend, 8080, "backend")}, demo_names());
        CHECK(find_group(d, "frontend", "backend", 8080)->change == FlowChange::Secured);
    }
    SUBCASE("new and vanished pairs; encrypted before and after is unchanged") {
        const auto mesh = istio_mtls(kFrontend, 7, kDb, 6379, "db");
        const FlowDiff d = diff_audits({plaintext_redis(9), mesh}, {mesh, istio_mtls(kDb, 8, kFrontend, 9090, "frontend")},
                                       demo_names());
        REQUIRE(d.groups.size() == 3);
        CHECK(find_group(d, "backend", "db", 6379)->change == FlowChange::Vanished);
        CHECK(find_group(d, "frontend", "db", 6379)->change == FlowChange::Unchanged);
        CHECK(find_group(d, "db", "frontend", 9090)->change == FlowChange::New);
        CHECK(d.count(FlowChange::Vanished) == 1);
        CHECK(d.count(FlowChange::New) == 1);
        CHECK(d.count(FlowChange::Unchanged) == 1);
        // A vanished group's secrets no longer cross the wire either.
        REQUIRE(d.secrets_gone.size() == 1);
        CHECK(d.secrets_gone[0].secret.kind == "redis-auth");
    }
    SUBCASE("without names, addresses are the keys") {
        const FlowDiff d = diff_audits(before_flows(), after_flows());
        CHECK(find_group(d, "10.244.1.10", "10.244.2.20", 8080) != nullptr);
        CHECK(find_group(d, "10.244.2.20", "10.244.3.30", 6379) != nullptr);
    }
    SUBCASE("empty inputs") {
        const FlowDiff d = diff_audits({}, {});
        CHECK(d.groups.empty());
        CHECK(d.before.flows == 0);
        CHECK(d.passed());
    }
}

TEST_CASE("diff: JSON and text outputs") {
    const FlowDiff d = diff_audits(before_flows(), after_flows(), demo_names());

    SUBCASE("JSON carries the counts and redacts every secret") {
        const std::string json = diff_to_json(d, {});
        CHECK(json.front() == '{');
        CHECK(json.back() == '}');
        CHECK(contains(json, R"("type":"diff")"));
        CHECK(contains(json, R"("passed":true)"));
        CHECK(contains(json, R"("secured":2)"));
        CHECK(contains(json, R"("still-plaintext":0)"));
        CHECK(contains(json, R"("client":"frontend","server":"backend","server_port":8080)"));
        CHECK(contains(json, R"("plaintext-served":2)"));
        CHECK(contains(json, R"("istio-mtls":2)"));
        CHECK(contains(json, R"("still_in_clear":[])"));
        CHECK(contains(json, R"("kind":"redis-auth")"));
        CHECK(contains(json, R"("redacted":)"));
        CHECK_FALSE(contains(json, R"("value":)"));
        CHECK_FALSE(contains(json, kPlantedPassword));
        CHECK_FALSE(contains(json, kPlantedToken));
    }
    SUBCASE("JSON shows values only when asked") {
        const std::string json = diff_to_json(d, {.show_secrets = true});
        CHECK(contains(json, kPlantedPassword));
        CHECK(contains(json, R"("value":)"));
    }
    SUBCASE("JSON of a failure lists the pair still in clear") {
        auto after = after_flows();
        after.push_back(plaintext_http(44444));
        const std::string json = diff_to_json(diff_audits(before_flows(), after, demo_names()), {});
        CHECK(contains(json, R"("passed":false)"));
        CHECK(contains(json, R"("still_in_clear":[{"client":"frontend","server":"backend","server_port":8080)"));
        CHECK_FALSE(contains(json, kPlantedPassword));
        CHECK_FALSE(contains(json, kPlantedToken));
    }
    SUBCASE("text: one row per pair, secrets redacted") {
        std::ostringstream out;
        write_diff_text(out, d, {});
        const std::string text = out.str();
        CHECK(contains(text, "frontend -> backend:8080"));
        CHECK(contains(text, "backend -> db:6379"));
        CHECK(contains(text, "plaintext-served x2"));
        CHECK(contains(text, "istio-mtls x2"));
        CHECK(contains(text, "secured"));
        CHECK(contains(text, "secrets no longer on the wire: 4"));
        CHECK(contains(text, "still in clear after: none"));
        CHECK_FALSE(contains(text, kPlantedPassword));
        CHECK_FALSE(contains(text, kPlantedToken));
        CHECK_FALSE(contains(text, "\033["));
    }
    SUBCASE("text in color marks a failure red") {
        auto after = after_flows();
        after.push_back(plaintext_redis(3));
        std::ostringstream out;
        write_diff_text(out, diff_audits(before_flows(), after, demo_names()), {.color = true});
        CHECK(contains(out.str(), "\033[1;31mstill-plaintext"));
        CHECK(contains(out.str(), "still in clear after: 1 group(s)"));
        CHECK_FALSE(contains(out.str(), kPlantedPassword));
    }
}

TEST_CASE("diff: the secret scrubber") {
    SecretScrubber s;
    SUBCASE("replaces every occurrence, longest value first") {
        s.add("abcd");
        s.add("abcdefgh");
        CHECK(s.scrubbed("x abcdefgh y abcd z") == "x <redacted> y <redacted> z");
    }
    SUBCASE("ignores values too short to be told from ordinary text") {
        s.add("abc");
        CHECK(s.empty());
        CHECK(s.scrubbed("abc") == "abc");
    }
    SUBCASE("takes the values of flows") {
        s.add(before_flows());
        CHECK(s.scrubbed("token " + kPlantedToken) == "token <redacted>");
        CHECK(s.scrubbed("Bearer " + kPlantedToken) == "<redacted>");
    }
}
