#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>

#include "audit/report/html_report.hpp"
#include "tests/unit/report/test_diff_builders.hpp"

using namespace meshproof::audit;
using namespace meshproof::audit::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

std::size_t occurrences(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + needle.size())) ++n;
    return n;
}

std::string render(const std::vector<FlowRecord>& before, const std::vector<FlowRecord>& after, bool show = false) {
    HtmlReportOptions opt;
    opt.names = demo_names();
    opt.show_secrets = show;
    opt.facts = {{"host", "test-node"}, {"interface", "br0"}};
    return render_html_report(before, after, diff_audits(before, after, opt.names), opt);
}

}  // namespace

TEST_CASE("html report: content of the demo's story") {
    const auto before = before_flows();
    const auto after = after_flows();
    const std::string html = render(before, after);

    SUBCASE("a complete document with a passing banner and the facts") {
        CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
        CHECK(contains(html, "</html>"));
        CHECK(contains(html, "banner pass"));
        CHECK_FALSE(contains(html, "banner fail"));
        CHECK(contains(html, "<b>host:</b> test-node"));
        CHECK(contains(html, "2 of 2 client&rarr;server pairs moved from plaintext to mutual TLS"));
    }
    SUBCASE("an inline SVG chart with one segment per verdict and side") {
        REQUIRE(contains(html, "<svg"));
        CHECK(occurrences(html, "<svg") == 1);
        CHECK(contains(html, "<title>before: 3 plaintext-served flows</title>"));
        CHECK(contains(html, "<title>after: 3 istio-mtls flows</title>"));
        // Legend only for verdicts present.
        CHECK(contains(html, "<b>plaintext-served</b>"));
        CHECK(contains(html, "<b>istio-mtls</b>"));
        CHECK_FALSE(contains(html, "<b>hbone</b>"));
    }
    SUBCASE("one table row per flow, plus one per pair in the diff table") {
        // 3 before + 3 after flow rows + 2 pair rows, each starts with <tr><td
        CHECK(occurrences(html, "<tr><td") == 8);
        CHECK(contains(html, "<h2 id=\"before\">Before: 3 TCP flows on the wire</h2>"));
        CHECK(contains(html, "<h2 id=\"after\">After: 3 TCP flows on the wire</h2>"));
        CHECK(contains(html, "10.244.1.10:40001 &rarr; 10.244.2.20:8080"));
        CHECK(contains(html, "frontend &rarr; backend:8080"));
        CHECK(occurrences(html, "class=\"chg good\">secured<") == 2);
    }
    SUBCASE("evidence per flow and the TLS facts") {
        CHECK(contains(html, "SNI outbound_.8080_._.backend.demo.svc.cluster.local has Istio&#39;s outbound_ form"));
        CHECK(contains(html, "TLS 1.3"));
        CHECK(contains(html, "client certificate: encrypted"));
        CHECK(contains(html, "HTTP/1.1 request in clear: POST /login"));
    }
    SUBCASE("secrets are listed redacted, and their values appear nowhere") {
        CHECK(contains(html, "form field password"));
        CHECK(contains(html, "HTTP header Authorization (Bearer)"));
        CHECK(contains(html, "&lt;redacted&gt;"));  // scrubbed out of the evidence and the first line
        CHECK_FALSE(contains(html, kPlantedPassword));
        CHECK_FALSE(contains(html, kPlantedToken));
        // Not even a long piece of it.
        CHECK_FALSE(contains(html, kPlantedPassword.substr(4, 12)));
        CHECK_FALSE(contains(html, kPlantedToken.substr(6, 14)));
    }
    SUBCASE("--show-secrets shows them") {
        const std::string shown = render(before, after, true);
        CHECK(contains(shown, kPlantedPassword));
        CHECK(contains(shown, "in full because --show-secrets was given"));
    }
    SUBCASE("self-contained: nothing to fetch") {
        CHECK_FALSE(contains(html, "<script"));
        CHECK_FALSE(contains(html, "<link"));
        CHECK_FALSE(contains(html, "<img"));
        CHECK_FALSE(contains(html, "@import"));
        CHECK_FALSE(contains(html, "url("));
        CHECK_FALSE(contains(html, "http://"));
        CHECK_FALSE(contains(html, "https://"));
        std::string lower = html;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        CHECK_FALSE(contains(lower, "src="));
        CHECK_FALSE(contains(lower, "href="));
        CHECK(contains(html, "default-src 'none'"));
    }
}

TEST_CASE("html report: failures, empty captures and hostile text") {
    SUBCASE("plaintext after shows a failing banner and the still-plaintext row") {
        auto after = after_flows();
        after.push_back(plaintext_redis(50002));
        const std::string html = render(before_flows(), after);
        CHECK(contains(html, "banner fail"));
        CHECK(contains(html, "1 client&rarr;server pair(s) still send readable data"));
        CHECK(contains(html, "class=\"chg bad\">still-plaintext<"));
        CHECK(contains(html, "<b>still in clear after:</b>"));
        CHECK_FALSE(contains(html, kPlantedPassword));
    }
    SUBCASE("no flows at all") {
        const std::string html = render({}, {});
        CHECK(contains(html, "No TCP flow was captured."));
        CHECK(contains(html, "no TCP flows in either capture"));
        CHECK(contains(html, "no TCP flows</text>"));
    }
    SUBCASE("wire text is escaped: no markup can be injected") {
        auto f = plaintext_http(1);
        f.plaintext->first_line = "GET /<script>alert(1)</script> HTTP/1.1";
        f.evidence = {"Host \"evil\" & 'co' <b>"};
        f.protocol = "<img>";
        const std::string html = render({f}, {});
        CHECK_FALSE(contains(html, "<script>"));
        CHECK_FALSE(contains(html, "<img>"));
        CHECK(contains(html, "GET /&lt;script&gt;alert(1)&lt;/script&gt; HTTP/1.1"));
        CHECK(contains(html, "Host &quot;evil&quot; &amp; &#39;co&#39; &lt;b&gt;"));
    }
}

TEST_CASE("html_escape") {
    SUBCASE("markup characters") { CHECK(html_escape("<a href='x'>&\"</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"); }
    SUBCASE("valid UTF-8 is kept, invalid bytes become U+FFFD, control bytes dots") {
        CHECK(html_escape("caf\xc3\xa9") == "caf\xc3\xa9");
        CHECK(html_escape("a\xff" "b") == "a\xef\xbf\xbd" "b");
        CHECK(html_escape("\xc3") == "\xef\xbf\xbd");          // cut sequence
        CHECK(html_escape("\xe0\x80\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // overlong
        CHECK(html_escape(std::string("a\0b\x1b", 4)) == "a.b.");
        CHECK(html_escape("line\nnext") == "line\nnext");
    }
}
