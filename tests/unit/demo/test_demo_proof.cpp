// What the demo calls a proof, from synthetic audits (the live demo is tests/system/demo_e2e.sh).
#include <doctest/doctest.h>

#include "demo/demo_runner.hpp"
#include "demo/netns_lab.hpp"
#include "tests/unit/report/test_diff_builders.hpp"

using namespace meshproof;
using namespace meshproof::audit::test;

namespace {

bool mentions(const std::vector<std::string>& reasons, const std::string& text) {
    for (const auto& r : reasons) {
        if (r.find(text) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("demo: proof_failures") {
    SUBCASE("plaintext with secrets before, istio-mtls only after: proven") {
        CHECK(demo::proof_failures(audit::diff_audits(before_flows(), after_flows(), demo_names())).empty());
    }
    SUBCASE("something still in clear after") {
        auto after = after_flows();
        after.push_back(plaintext_redis(5));
        const auto reasons = demo::proof_failures(audit::diff_audits(before_flows(), after, demo_names()));
        REQUIRE(reasons.size() == 1);
        CHECK(mentions(reasons, "1 client->server pair(s) still in clear after"));
    }
    SUBCASE("encrypted after but not Istio-shaped") {
        auto after = after_flows();
        for (auto& f : after) f.verdict = audit::Verdict::Tls;
        const auto reasons = demo::proof_failures(audit::diff_audits(before_flows(), after, demo_names()));
        REQUIRE(reasons.size() == 1);
        CHECK(mentions(reasons, "no istio-mtls flow after"));
    }
    SUBCASE("nothing in clear before proves nothing") {
        const auto reasons = demo::proof_failures(audit::diff_audits(after_flows(), after_flows(), demo_names()));
        CHECK(mentions(reasons, "the before capture shows no plaintext flow"));
    }
    SUBCASE("plaintext before without a detected secret") {
        auto before = before_flows();
        for (auto& f : before) f.secrets.clear();
        const auto reasons = demo::proof_failures(audit::diff_audits(before, after_flows(), demo_names()));
        REQUIRE(reasons.size() == 1);
        CHECK(mentions(reasons, "no secret was detected"));
    }
    SUBCASE("empty captures") {
        const auto reasons = demo::proof_failures(audit::diff_audits({}, {}, {}));
        CHECK(mentions(reasons, "no plaintext flow"));
        CHECK(mentions(reasons, "no istio-mtls flow after"));
    }
}

TEST_CASE("demo: lab prefixes") {
    CHECK(demo::valid_lab_prefix("mpdemo-1234"));
    CHECK(demo::valid_lab_prefix("mpdemo-e2e.7"));
    CHECK_FALSE(demo::valid_lab_prefix(""));
    CHECK_FALSE(demo::valid_lab_prefix("-leading-dash"));
    CHECK_FALSE(demo::valid_lab_prefix("Upper"));
    CHECK_FALSE(demo::valid_lab_prefix("has space"));
    CHECK_FALSE(demo::valid_lab_prefix("../escape"));
    CHECK_FALSE(demo::valid_lab_prefix(std::string(32, 'a')));
    CHECK(demo::valid_lab_prefix(std::string(31, 'a')));
}

TEST_CASE("demo: lab commands run inside the pod's namespace") {
    demo::NetnsLab lab("mpdemo-unit");
    CHECK(lab.netns("node") == "mpdemo-unit-node");
    CHECK(lab.netns("frontend") == "mpdemo-unit-frontend");
    const auto argv = lab.in_pod("db", {"ss", "-Hltn"});
    REQUIRE(argv.size() == 6);
    CHECK(std::vector<std::string>(argv.begin(), argv.begin() + 4) ==
          std::vector<std::string>{"ip", "netns", "exec", "mpdemo-unit-db"});
    // The program is resolved to a full path when found (ip netns exec's own $PATH may lack sbin).
    CHECK((argv[4] == "ss" || argv[4].ends_with("/ss")));
    CHECK(argv[5] == "-Hltn");
    CHECK(lab.in_pod("db", {"/bin/true"})[4] == "/bin/true");
    // Never created: destroying touches nothing.
    CHECK(lab.destroy() == "nothing to remove");
}
