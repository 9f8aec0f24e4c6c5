#include <doctest/doctest.h>

#include "test_plaintext_builders.hpp"

using namespace plaintexttest;

TEST_CASE("plaintext http1: request line, Host and secrets in headers") {
    SUBCASE("Authorization Basic") {
        const auto f = classify(str("GET /api/v1/items HTTP/1.1\r\nHost: shop.local\r\n"
                                    "Authorization: Basic dXNlcjpwYXNzd29yZA==\r\nAccept: */*\r\n\r\n"),
                                str("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"), 8080);
        CHECK(f.protocol == "http");
        CHECK(f.first_line == "GET /api/v1/items HTTP/1.1");
        REQUIRE(f.http_host);
        CHECK(*f.http_host == "shop.local");
        REQUIRE(f.http_method);
        CHECK(*f.http_method == "GET");
        REQUIRE(f.http_path);
        CHECK(*f.http_path == "/api/v1/items");
        REQUIRE(f.http_status);
        CHECK(*f.http_status == 200);
        CHECK(f.client_readable);
        CHECK(f.server_readable);
        CHECK(has_evidence(f, "HTTP/1.1 request GET /api/v1/items"));
        const Secret* s = find_secret(f, "authorization");
        REQUIRE(s);
        CHECK(s->location == "HTTP header Authorization (Basic)");
        CHECK(s->value == "Basic dXNlcjpwYXNzd29yZA==");
        check_no_secret_leak(f);
    }
    SUBCASE("Bearer, Proxy-Authorization, Cookie and api keys, header names in any case") {
        const auto f = classify(str("POST /x HTTP/1.1\r\nhost: a\r\nAUTHORIZATION: Bearer eyJ0eXAi.eyJzdWIi.sig\r\n"
                                    "proxy-authorization: Basic cHJveHk6cHc=\r\ncOoKiE: sid=0123456789abcdef\r\n"
                                    "X-Api-Key: key-live-123456\r\nContent-Length: 0\r\n\r\n"),
                                {}, 80);
        REQUIRE(find_secret(f, "authorization"));
        CHECK(find_secret(f, "authorization")->location == "HTTP header AUTHORIZATION (Bearer)");
        REQUIRE(find_secret(f, "proxy-authorization"));
        REQUIRE(find_secret(f, "cookie"));
        CHECK(find_secret(f, "cookie")->value == "sid=0123456789abcdef");
        REQUIRE(find_secret(f, "api-key"));
        CHECK(find_secret(f, "api-key")->value == "key-live-123456");
        CHECK_FALSE(f.server_readable);
        check_no_secret_leak(f);
    }
    SUBCASE("Set-Cookie in the response is a server-to-client secret") {
        const auto f = classify(str("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                                str("HTTP/1.1 302 Found\r\nSet-Cookie: session=deadbeefcafe; HttpOnly\r\nLocation: /\r\n"
                                    "Content-Length: 0\r\n\r\n"),
                                80);
        const Secret* s = find_secret(f, "set-cookie");
        REQUIRE(s);
        CHECK(s->direction == meshproof::Direction::ServerToClient);
        CHECK(s->value == "session=deadbeefcafe");
        CHECK(s->location == "HTTP header Set-Cookie (session)");
        CHECK(*f.http_status == 302);
    }
}

TEST_CASE("plaintext http1: query, form and JSON bodies") {
    SUBCASE("?password= is a secret and is redacted from path and first line") {
        const auto f = classify(str("GET /login?user=bob&password=hunter2hunter2 HTTP/1.1\r\nHost: a\r\n\r\n"), {}, 80);
        const Secret* s = find_secret(f, "password");
        REQUIRE(s);
        CHECK(s->value == "hunter2hunter2");
        CHECK(s->location == "query parameter password");
        CHECK(*f.http_path == "/login?user=bob&password=<redacted>");
        CHECK(f.first_line == "GET /login?user=bob&password=<redacted> HTTP/1.1");
        check_no_secret_leak(f);
    }
    SUBCASE("form body with Content-Length") {
        const std::string body = "username=alice&password=S3cr3t%21&remember=1";
        const auto f = classify(str("POST /session HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body),
                                {}, 80);
        const Secret* s = find_secret(f, "password");
        REQUIRE(s);
        CHECK(s->value == "S3cr3t!");
        CHECK(s->location == "form field password");
        check_no_secret_leak(f);
    }
    SUBCASE("chunked JSON body") {
        const auto f = classify(str("POST /oauth/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"
                                    "10\r\n{\"client_secret\"\r\n"
                                    "10\r\n:\"cs-9876543210\"\r\n"
                                    "1\r\n}\r\n0\r\n\r\n"),
                                {}, 80);
        const Secret* s = find_secret(f, "secret");
        REQUIRE(s);
        CHECK(s->value == "cs-9876543210");
        CHECK(s->location == "JSON field client_secret");
        REQUIRE_FALSE(f.outcomes.empty());
        CHECK(f.outcomes.front().outcome == ParseOutcome::Ok);
    }
    SUBCASE("JSON token in the response body") {
        const std::string body = R"({"access_token":"at-1234567890","token_type":"bearer"})";
        const auto f = classify(str("POST /token HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
                                str("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n" + body),
                                80);
        const Secret* s = find_secret(f, "token");
        REQUIRE(s);
        CHECK(s->direction == meshproof::Direction::ServerToClient);
        CHECK(s->value == "at-1234567890");
    }
    SUBCASE("a body cut by the capture is NeedMore and its complete pairs still count") {
        const auto f = classify(str("POST /s HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                    "Content-Length: 500\r\n\r\npassword=first-one&token=cut-he"),
                                {}, 80);
        REQUIRE(find_secret(f, "password"));
        CHECK(find_secret(f, "token") == nullptr);
        REQUIRE(f.outcomes.size() == 1);
        CHECK(f.outcomes[0].parser == "http1");
        CHECK(f.outcomes[0].outcome == ParseOutcome::NeedMore);
    }
    SUBCASE("a compressed body is not scanned") {
        const auto f = classify(str("POST /s HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                                    "Content-Length: 20\r\n\r\n{\"password\":\"abcde\"}"),
                                {}, 80);
        CHECK(f.secrets.empty());
    }
}

TEST_CASE("plaintext http1: pipelining and response framing") {
    SUBCASE("a secret in the third pipelined request is found") {
        const auto f = classify(str("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                                    "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                                    "GET /c HTTP/1.1\r\nHost: h\r\nX-Auth-Token: tok-abcdef123\r\n\r\n"),
                                {}, 80);
        CHECK(*f.http_path == "/a");
        CHECK(has_evidence(f, "3 HTTP/1.x requests"));
        REQUIRE(find_secret(f, "token"));
        CHECK(find_secret(f, "token")->value == "tok-abcdef123");
    }
    SUBCASE("responses to HEAD have no body; 100 Continue precedes the real status") {
        const auto f = classify(str("HEAD /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
                                str("HTTP/1.1 100 Continue\r\n\r\n"
                                    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                                    "HTTP/1.1 404 Not Found\r\nSet-Cookie: b=second-response\r\nContent-Length: 0\r\n\r\n"),
                                80);
        CHECK(*f.http_status == 200);
        REQUIRE(find_secret(f, "set-cookie"));  // found only if HEAD's 200 was framed without a body
        CHECK(f.outcomes.back().outcome == ParseOutcome::Ok);
    }
    SUBCASE("a cut request line is still HTTP, without client_readable") {
        const auto f = classify(str("GET /very/long/path/that/the/capt"), {}, 80);
        CHECK(f.protocol == "http");
        CHECK_FALSE(f.client_readable);
        REQUIRE(f.outcomes.size() == 1);
        CHECK(f.outcomes[0].outcome == ParseOutcome::NeedMore);
    }
    SUBCASE("server bytes only") {
        const auto f = classify({}, str("HTTP/1.0 503 Service Unavailable\r\n\r\n"), 80);
        CHECK(f.protocol == "http");
        CHECK(f.server_readable);
        CHECK_FALSE(f.client_readable);
        CHECK(*f.http_status == 503);
    }
}

TEST_CASE("plaintext http1: port is not protocol") {
    SUBCASE("HTTP sent to port 22, answered with an SSH banner") {
        const auto f = classify(str("GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n"), str("SSH-2.0-OpenSSH_9.3\r\n"), 22);
        CHECK(f.protocol == "http");
        CHECK(f.server_protocol == "ssh");
        CHECK(has_evidence(f, "server answered with an SSH banner: SSH-2.0-OpenSSH_9.3"));
        CHECK(f.client_readable);
    }
    SUBCASE("HTTP on port 5432 is still HTTP") {
        const auto f = classify(str("GET /health HTTP/1.1\r\nHost: db\r\n\r\n"), {}, 5432);
        CHECK(f.protocol == "http");
    }
}

TEST_CASE("plaintext http1: CONNECT, proxies and upgrades") {
    SUBCASE("CONNECT tunnel: the caller gets the offsets where the tunnel starts") {
        const std::string req = "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
                                "Proxy-Authorization: Basic YWxpY2U6cHJveHlwdw==\r\n\r\n";
        const std::string resp = "HTTP/1.1 200 Connection established\r\n\r\n";
        const auto f = classify(cat({str(req), Buf{0x16, 0x03, 0x01, 0x00, 0x05}}), cat({str(resp), Buf{0x16, 0x03, 0x03}}), 3128);
        REQUIRE(f.tls_upgrade);
        CHECK(*f.tls_upgrade == "http-connect");
        REQUIRE(f.upgrade_c2s_offset);
        CHECK(*f.upgrade_c2s_offset == req.size());
        REQUIRE(f.upgrade_s2c_offset);
        CHECK(*f.upgrade_s2c_offset == resp.size());
        REQUIRE(find_secret(f, "proxy-authorization"));
        CHECK(has_evidence(f, "HTTP CONNECT tunnel to api.example.com:443"));
    }
    SUBCASE("absolute-form target with userinfo") {
        const auto f = classify(str("GET http://bob:pr0xyPass@example.com/x HTTP/1.1\r\n\r\n"), {}, 3128);
        const Secret* s = find_secret(f, "basic-auth");
        REQUIRE(s);
        CHECK(s->value == "pr0xyPass");
        CHECK(*f.http_host == "example.com");
        CHECK(*f.http_path == "http://bob:<redacted>@example.com/x");
        check_no_secret_leak(f);
    }
}

namespace {

// A client HEADERS block: GET /path with authority, plus extra literal fields.
Buf h2_request_block(std::string_view path, std::initializer_list<std::pair<std::string_view, std::string_view>> extra,
                     bool huffman) {
    Buf b = cat({hpack_indexed(3), hpack_indexed(6)});  // :method POST, :scheme http
    put(b, hpack_literal_indexed_name(4, path, huffman));                 // :path
    put(b, hpack_literal_indexed_name(1, "svc.default:8080", huffman));   // :authority
    for (const auto& [n, v] : extra) put(b, hpack_literal(n, v, huffman));
    return b;
}

}  // namespace

TEST_CASE("plaintext h2c: prior knowledge, HPACK and gRPC") {
    SUBCASE("authorization and cookie inside Huffman-coded HEADERS") {
        const Buf block = h2_request_block("/v1/orders?api_key=ak-555", {{"authorization", "Bearer h2-token-value"},
                                                                         {"cookie", "sid=h2cookievalue"}},
                                           true);
        const Buf c2s = cat({kH2Preface, h2_settings({{3, 100}}), h2_frame(1, 0x5, 1, block)});
        const Buf s2c = cat({h2_settings(), h2_frame(4, 1, 0, {}),
                             h2_frame(1, 0x4, 1, cat({hpack_indexed(8)}))});  // :status 200
        const auto f = classify(c2s, s2c, 8080);
        CHECK(f.protocol == "h2c");
        CHECK(f.client_readable);
        CHECK(f.server_readable);
        CHECK(*f.http_method == "POST");
        CHECK(*f.http_path == "/v1/orders?api_key=<redacted>");
        CHECK(*f.http_host == "svc.default:8080");
        CHECK(*f.http_status == 200);
        CHECK(f.first_line == "POST /v1/orders?api_key=<redacted> HTTP/2");
        CHECK(has_evidence(f, "HTTP/2 connection preface"));
        REQUIRE(find_secret(f, "authorization"));
        CHECK(find_secret(f, "authorization")->value == "Bearer h2-token-value");
        CHECK(find_secret(f, "authorization")->location == "HTTP/2 header authorization (Bearer)");
        REQUIRE(find_secret(f, "cookie"));
        REQUIRE(find_secret(f, "api-key"));
        check_no_secret_leak(f);
    }
    SUBCASE("content-type application/grpc makes it gRPC") {
        const Buf block = h2_request_block("/helloworld.Greeter/SayHello", {{"content-type", "application/grpc"}, {"te", "trailers"}}, false);
        const auto f = classify(cat({kH2Preface, h2_settings(), h2_frame(1, 0x4, 1, block)}), {}, 50051);
        CHECK(f.protocol == "grpc");
        CHECK(has_evidence(f, "gRPC: HEADERS carry content-type application/grpc"));
    }
    SUBCASE("HEADERS padded with priority, continued in CONTINUATION") {
        const Buf block = h2_request_block("/p", {{"x-api-key", "continued-key-123"}}, true);
        const std::size_t half = block.size() / 2;
        Buf headers_payload{3};                             // pad length
        put(headers_payload, Buf{0x80, 0, 0, 0, 16});       // priority: exclusive, stream 0, weight
        put(headers_payload, Buf(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(half)));
        put(headers_payload, Buf(3, 0));                    // padding
        const Buf c2s = cat({kH2Preface, h2_settings(), h2_frame(1, 0x8 | 0x20, 1, headers_payload),
                             h2_frame(9, 0x4, 1, Buf(block.begin() + static_cast<std::ptrdiff_t>(half), block.end()))});
        const auto f = classify(c2s, {}, 80);
        REQUIRE(find_secret(f, "api-key"));
        CHECK(find_secret(f, "api-key")->value == "continued-key-123");
    }
    SUBCASE("JSON DATA after a JSON content-type") {
        const Buf block = h2_request_block("/login", {{"content-type", "application/json"}}, false);
        const Buf c2s = cat({kH2Preface, h2_settings(), h2_frame(1, 0x4, 1, block),
                             h2_frame(0, 0x1, 1, str(R"({"user":"u","password":"h2-data-pass"})"))});
        const auto f = classify(c2s, {}, 80);
        REQUIRE(find_secret(f, "password"));
        CHECK(find_secret(f, "password")->location == "JSON field password");
    }
    SUBCASE("a bad header block is counted, not fatal") {
        const Buf c2s = cat({kH2Preface, h2_settings(), h2_frame(1, 0x4, 1, Buf{0x80})});  // index 0
        const auto f = classify(c2s, {}, 80);
        CHECK(f.protocol == "h2c");
        bool hpack_malformed = false;
        for (const auto& r : f.outcomes) hpack_malformed |= r.parser == "hpack" && r.outcome == ParseOutcome::Malformed;
        CHECK(hpack_malformed);
    }
    SUBCASE("frames after the preface that are not SETTINGS") {
        const auto f = classify(cat({kH2Preface, h2_frame(0, 0, 1, str("x"))}), {}, 80);
        CHECK(f.protocol == "h2c");
        REQUIRE_FALSE(f.outcomes.empty());
        CHECK(f.outcomes[0].outcome == ParseOutcome::NotThisProtocol);
    }
    SUBCASE("a cut preface") {
        const auto f = classify(str("PRI * HTTP/2"), {}, 80);
        CHECK(f.protocol == "h2c");
        CHECK_FALSE(f.client_readable);
        CHECK(has_evidence(f, "preface cut"));
    }
}

TEST_CASE("plaintext h2c: Upgrade from HTTP/1.1") {
    const std::string req = "GET /data HTTP/1.1\r\nHost: up.local\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                            "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    const Buf c2s = cat({str(req), kH2Preface, h2_settings(),
                         h2_frame(1, 0x4, 3, h2_request_block("/second", {{"authorization", "Basic dXBncmFkZWQ6cHc="}}, true))});
    const Buf s2c = cat({str("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
                         h2_settings(), h2_frame(1, 0x4, 1, hpack_indexed(13))});  // :status 404
    const auto f = classify(c2s, s2c, 80);
    CHECK(f.protocol == "h2c");
    CHECK(*f.http_path == "/data");
    CHECK(*f.http_status == 404);
    CHECK(has_evidence(f, "Upgrade: h2c answered 101"));
    REQUIRE(find_secret(f, "authorization"));
    CHECK(f.server_readable);
}
