#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "audit/classify/secrets.hpp"

using meshproof::Direction;
using namespace meshproof::audit;

namespace {
constexpr std::string_view kEllipsis = "\xe2\x80\xa6";

const Secret* only(const std::vector<Secret>& v) { return v.size() == 1 ? &v[0] : nullptr; }
}  // namespace

TEST_CASE("secrets: redact keeps at most 4 characters and the length") {
    SUBCASE("long values show 4 characters") {
        const std::string r = redact("Basic dXNlcjpwYXNzd29yZA==");
        CHECK(r == std::string("Basi") + std::string(kEllipsis) + " (len 26)");
    }
    SUBCASE("values of 8 characters or fewer show at most one") {
        CHECK(redact("hunter22") == std::string("h") + std::string(kEllipsis) + " (len 8)");
        CHECK(redact("abcd") == std::string("a") + std::string(kEllipsis) + " (len 4)");
        CHECK(redact("abc") == std::string(kEllipsis) + " (len 3)");
        CHECK(redact("") == std::string(kEllipsis) + " (len 0)");
    }
    SUBCASE("the shape never grows with the value and hides the rest") {
        const std::string value = "s3cr3t-" + std::string(500, 'x');
        const std::string r = redact(value);
        CHECK(r.find("xxxx") == std::string::npos);
        CHECK(r.find("(len 507)") != std::string::npos);
        CHECK(r.size() < 30);
    }
    SUBCASE("non-printable prefix bytes are shown as dots") {
        CHECK(redact(std::string("\x01\x02\x03\x04secret", 10)) == std::string("....") + std::string(kEllipsis) + " (len 10)");
    }
    SUBCASE("describe_secret prints the value only when asked") {
        const Secret s{"authorization", "HTTP header Authorization (Basic)", Direction::ClientToServer, "Basic Zm9vOmJhcg=="};
        CHECK(describe_secret(s, false) == "authorization at HTTP header Authorization (Basic): " + redact(s.value));
        CHECK(describe_secret(s, true) == "authorization at HTTP header Authorization (Basic): Basic Zm9vOmJhcg==");
    }
}

TEST_CASE("secrets: field and header names") {
    SUBCASE("parameter names, any case and separator") {
        CHECK(sensitive_field_kind("password") == "password");
        CHECK(sensitive_field_kind("PASSWD") == "password");
        CHECK(sensitive_field_kind("pwd") == "password");
        CHECK(sensitive_field_kind("new_password") == "password");
        CHECK(sensitive_field_kind("access_token") == "token");
        CHECK(sensitive_field_kind("Access-Token") == "token");
        CHECK(sensitive_field_kind("refresh_token") == "token");
        CHECK(sensitive_field_kind("token") == "token");
        CHECK(sensitive_field_kind("api_key") == "api-key");
        CHECK(sensitive_field_kind("apiKey") == "api-key");
        CHECK(sensitive_field_kind("client_secret") == "secret");
        CHECK(sensitive_field_kind("secret") == "secret");
    }
    SUBCASE("ordinary names are not secrets") {
        CHECK(sensitive_field_kind("user").empty());
        CHECK(sensitive_field_kind("page_token").empty());
        CHECK(sensitive_field_kind("passenger").empty());
        CHECK(sensitive_field_kind("").empty());
        CHECK(sensitive_field_kind(std::string(100, 'p') + "password").empty());
    }
    SUBCASE("headers") {
        CHECK(sensitive_header_kind("Authorization") == "authorization");
        CHECK(sensitive_header_kind("proxy-authorization") == "proxy-authorization");
        CHECK(sensitive_header_kind("COOKIE") == "cookie");
        CHECK(sensitive_header_kind("Set-Cookie") == "set-cookie");
        CHECK(sensitive_header_kind("X-Api-Key") == "api-key");
        CHECK(sensitive_header_kind("X-Auth-Token") == "token");
        CHECK(sensitive_header_kind("Private-Token") == "token");
        CHECK(sensitive_header_kind("X-CSRF-Token").empty());
        CHECK(sensitive_header_kind("Content-Type").empty());
    }
}

TEST_CASE("secrets: HTTP headers") {
    std::vector<Secret> out;
    SUBCASE("Authorization Basic keeps the whole value and names the scheme") {
        find_header_secrets("Authorization", "Basic dXNlcjpwYXNzd29yZA==", Direction::ClientToServer, "HTTP", out);
        const Secret* s = only(out);
        REQUIRE(s);
        CHECK(s->kind == "authorization");
        CHECK(s->location == "HTTP header Authorization (Basic)");
        CHECK(s->value == "Basic dXNlcjpwYXNzd29yZA==");
        CHECK(s->direction == Direction::ClientToServer);
    }
    SUBCASE("Bearer over HTTP/2") {
        find_header_secrets("authorization", "Bearer eyJhbGciOi.x.y", Direction::ClientToServer, "HTTP/2", out);
        const Secret* s = only(out);
        REQUIRE(s);
        CHECK(s->location == "HTTP/2 header authorization (Bearer)");
    }
    SUBCASE("Set-Cookie: the cookie pair, named in the location, attributes dropped") {
        find_header_secrets("Set-Cookie", "sessionid=abc123def456; Path=/; HttpOnly", Direction::ServerToClient, "HTTP", out);
        const Secret* s = only(out);
        REQUIRE(s);
        CHECK(s->kind == "set-cookie");
        CHECK(s->location == "HTTP header Set-Cookie (sessionid)");
        CHECK(s->value == "sessionid=abc123def456");
        CHECK(s->direction == Direction::ServerToClient);
    }
    SUBCASE("non-sensitive headers add nothing") {
        find_header_secrets("Accept", "text/html", Direction::ClientToServer, "HTTP", out);
        CHECK(out.empty());
    }
}

TEST_CASE("secrets: urlencoded pairs, targets and redaction") {
    std::vector<Secret> out;
    SUBCASE("query parameters are percent-decoded") {
        find_target_secrets("/login?user=bob&password=p%40ss+word&next=%2F", Direction::ClientToServer, out);
        const Secret* s = only(out);
        REQUIRE(s);
        CHECK(s->kind == "password");
        CHECK(s->location == "query parameter password");
        CHECK(s->value == "p@ss word");
    }
    SUBCASE("userinfo in an absolute-form target") {
        find_target_secrets("http://alice:s3cret@proxy.example/x?token=abc", Direction::ClientToServer, out);
        REQUIRE(out.size() == 2);
        CHECK(out[0].kind == "basic-auth");
        CHECK(out[0].value == "s3cret");
        CHECK(out[1].kind == "token");
        CHECK(out[1].value == "abc");
    }
    SUBCASE("redact_target keeps everything but the values") {
        CHECK(redact_target("/login?user=bob&password=hunter2&x=1") == "/login?user=bob&password=<redacted>&x=1");
        CHECK(redact_target("http://alice:s3cret@h/p?api_key=k#frag") == "http://alice:<redacted>@h/p?api_key=<redacted>#frag");
        CHECK(redact_target("/plain/path") == "/plain/path");
        CHECK(redact_target("/a?flag&x=") == "/a?flag&x=");
    }
    SUBCASE("a form body cut by the capture drops its unfinished last pair") {
        find_urlencoded_secrets("password=complete&token=cu", Direction::ClientToServer, "form field", out, false);
        const Secret* s = only(out);
        REQUIRE(s);
        CHECK(s->value == "complete");
    }
    SUBCASE("the same secret found twice is one finding") {
        find_urlencoded_secrets("token=abc&token=abc", Direction::ClientToServer, "form field", out);
        CHECK(out.size() == 1);
    }
}

TEST_CASE("secrets: JSON fields") {
    std::vector<Secret> out;
    SUBCASE("nested objects and escapes") {
        find_json_secrets(R"({"user":"bob","auth":{"password":"p\"w\u0041"},"list":["password","x"]})",
                          Direction::ClientToServer, out);
        const Secret* s = only(out);
        REQUIRE(s);
        CHECK(s->kind == "password");
        CHECK(s->location == "JSON field password");
        CHECK(s->value == "p\"wA");
    }
    SUBCASE("OAuth token response") {
        find_json_secrets("{\n  \"access_token\" : \"ya29.abc\",\n  \"expires_in\": 3599,\n  \"refresh_token\":\"1//0g\"\n}",
                          Direction::ServerToClient, out);
        REQUIRE(out.size() == 2);
        CHECK(out[0].value == "ya29.abc");
        CHECK(out[1].value == "1//0g");
    }
    SUBCASE("non-string values and keys used as values are ignored") {
        find_json_secrets(R"({"password": null, "token": 12345, "a": "password", "b": ["token", "x"]})",
                          Direction::ClientToServer, out);
        CHECK(out.empty());
    }
    SUBCASE("a document cut inside a string keeps what came before") {
        find_json_secrets(R"({"api_key":"k-123","secret":"unfini)", Direction::ClientToServer, out);
        const Secret* s = only(out);
        REQUIRE(s);
        CHECK(s->kind == "api-key");
    }
}

TEST_CASE("secrets: SQL password literals") {
    std::vector<Secret> out;
    SUBCASE("PostgreSQL ALTER ROLE ... PASSWORD") {
        find_sql_secrets("ALTER ROLE app WITH LOGIN PASSWORD 'it''s secret';", Direction::ClientToServer,
                         "PostgreSQL query", out);
        const Secret* s = only(out);
        REQUIRE(s);
        CHECK(s->value == "it's secret");
        CHECK(s->location == "PostgreSQL query password literal");
    }
    SUBCASE("MySQL IDENTIFIED BY and SET PASSWORD") {
        find_sql_secrets("CREATE USER 'u'@'%' IDENTIFIED BY \"abc123\"", Direction::ClientToServer, "MySQL query", out);
        find_sql_secrets("set password = PASSWORD('zzz999')", Direction::ClientToServer, "MySQL query", out);
        REQUIRE(out.size() == 2);
        CHECK(out[0].value == "abc123");
        CHECK(out[1].value == "zzz999");
    }
    SUBCASE("column names that only contain the word do not match") {
        find_sql_secrets("SELECT password_hash FROM users WHERE id = '5'", Direction::ClientToServer, "q", out);
        find_sql_secrets("SELECT 1 -- password", Direction::ClientToServer, "q", out);
        CHECK(out.empty());
    }
}

TEST_CASE("secrets: text helpers") {
    SUBCASE("base64") {
        REQUIRE(base64_decode("dXNlcjpwYXNzd29yZA=="));
        CHECK(*base64_decode("dXNlcjpwYXNzd29yZA==") == "user:password");
        CHECK(*base64_decode("AGJvYgBodW50ZXIy") == std::string("\0bob\0hunter2", 12));
        CHECK_FALSE(base64_decode("not base64!"));
        CHECK_FALSE(base64_decode("A"));
        CHECK(*base64_decode("") == "");
    }
    SUBCASE("percent decoding") {
        CHECK(percent_decode("a%20b+c", false) == "a b+c");
        CHECK(percent_decode("a%20b+c", true) == "a b c");
        CHECK(percent_decode("bad%zz%4", false) == "bad%zz%4");
    }
    SUBCASE("printable excerpts are bounded") {
        CHECK(printable_excerpt("ab\x01" "c", 10) == "ab.c");
        CHECK(printable_excerpt(std::string(300, 'x'), 200).size() == 200);
        CHECK(printable_excerpt("abcdef", 5) == "ab...");
    }
    SUBCASE("scrub replaces every occurrence of long enough values") {
        std::vector<Secret> secrets{{"password", "x", Direction::ClientToServer, "hunter2"},
                                    {"password", "y", Direction::ClientToServer, "abc"}};
        std::string text = "login hunter2 then hunter2 abc";
        scrub_secrets(text, secrets);
        CHECK(text == "login <redacted> then <redacted> abc");
    }
}
