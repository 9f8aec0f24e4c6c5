// Every parser against cut, corrupted and random input: no crash (run under ASan/UBSan with
// -DMESHPROOF_SANITIZE=ON), a cut is NeedMore and never Malformed, and no secret value ever
// reaches first_line or evidence.
#include <doctest/doctest.h>

#include <set>

#include "test_plaintext_builders.hpp"
#include "test_plaintext_capture_bytes.hpp"

using namespace plaintexttest;
namespace cap = plaintexttest::captures;

namespace {

struct Sample {
    std::string name;
    Buf c2s;
    Buf s2c;
    std::uint16_t port;
};

std::vector<Sample> corpus() {
    std::vector<Sample> v;
    const std::string form = "user=a&password=form-secret-1";
    v.push_back({"http form", str("POST /login?token=query-secret-2 HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YTpiY2RlZmc=\r\n"
                                  "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                                  std::to_string(form.size()) + "\r\n\r\n" + form +
                                  "GET /b HTTP/1.1\r\nCookie: c=cookie-secret-3\r\n\r\n"),
                 str("HTTP/1.1 200 OK\r\nSet-Cookie: s=setcookie-secret-4; Path=/\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
                 80});
    v.push_back({"http chunked json", str("POST /t HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                         "1b\r\n{\"password\":\"json-secret5\"}\r\n0\r\n\r\n"),
                 {}, 80});
    v.push_back({"http connect", str("CONNECT h:443 HTTP/1.1\r\nProxy-Authorization: Basic cHJveHktc2VjcmV0\r\n\r\n\x16\x03\x01"),
                 str("HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03"), 3128});
    {
        Buf block = cat({hpack_indexed(3), hpack_indexed(6), hpack_literal_indexed_name(4, "/x?api_key=h2-secret-6", true),
                         hpack_literal("authorization", "Bearer h2-secret-7", true),
                         hpack_literal("content-type", "application/grpc", false)});
        v.push_back({"h2c grpc", cat({kH2Preface, h2_settings({{1, 4096}}), h2_frame(1, 0x4, 1, block),
                                      h2_frame(0, 0x1, 1, Buf{0, 0, 0, 0, 2, 8, 1})}),
                     cat({h2_settings(), h2_frame(1, 0x4, 1, hpack_indexed(8))}), 50051});
    }
    v.push_back({"h2c upgrade", cat({str("GET / HTTP/1.1\r\nHost: u\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"), kH2Preface, h2_settings()}),
                 cat({str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"), h2_settings()}), 80});
    v.push_back({"redis resp", cat({resp_command({"AUTH", "redis-secret-8"}), resp_command({"HELLO", "3", "AUTH", "u", "redis-secret-9"})}),
                 str("+OK\r\n%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), 6379});
    v.push_back({"redis inline", str("AUTH inline-secret-10\r\nPING\r\n"), str("+OK\r\n+PONG\r\n"), 6379});
    v.push_back({"postgresql cleartext", cat({pg_ssl_request(), pg_startup({{"user", "u"}, {"database", "d"}}), pg_password("pg-secret-11"),
                                              pg_message('Q', str(std::string("ALTER USER u PASSWORD 'pg-secret-12'") + '\0'))}),
                 cat({Buf{'N'}, pg_auth_request(3), pg_auth_request(0)}), 5432});
    v.push_back({"postgresql md5", cat({pg_startup({{"user", "u"}}), pg_password("md5" + std::string(32, 'b'))}),
                 pg_auth_request(5, Buf{9, 9, 9, 9}), 5432});
    v.push_back({"mysql", mysql_handshake_response("u", Buf(20, 0x5a), kMyCaps, "db"), mysql_greeting("8.0.36"), 3306});
    v.push_back({"dns", cat({dns_tcp_message(1, false, "a.b.example", 1), dns_tcp_message(2, false, "c.example", 28)}),
                 dns_tcp_message(1, true, "a.b.example", 1), 53});
    v.push_back({"mqtt", cat({mqtt_connect("cid", "user", "mqtt-secret-13"), Buf{0xc0, 0x00}}), Buf{0x20, 0x02, 0x00, 0x00, 0xd0, 0x00}, 1883});
    v.push_back({"mqtt5", mqtt_connect("cid", "user", "mqtt-secret-14", "MQTT", 5), Buf{0x20, 0x03, 0x00, 0x00, 0x00}, 1883});
    v.push_back({"smtp", str("EHLO c\r\nAUTH PLAIN AHUAc210cC1zZWNyZXQ=\r\nAUTH LOGIN\r\ndQ==\r\nc210cC1zZWNyZXQtMTY=\r\nSTARTTLS\r\n\x16\x03"),
                 str("220 mx ESMTP\r\n250-mx\r\n250 AUTH PLAIN\r\n235 ok\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n220 go\r\n\x16\x03"), 25});
    v.push_back({"imap", str("a1 LOGIN bob {15}\r\nimap-secret-017\r\na2 AUTHENTICATE PLAIN\r\nAGJvYgBpbWFwLXNlY3JldC0xOA==\r\na3 STARTTLS\r\n"),
                 str("* OK IMAP4rev1 ready\r\n+ go\r\na1 OK\r\n"), 143});
    v.push_back({"pop3", str("USER u\r\nPASS pop3-secret-19\r\nAPOP u 0123456789abcdef0123456789abcdef\r\nSTLS\r\n"),
                 str("+OK POP3 ready\r\n+OK\r\n+OK\r\n"), 110});
    v.push_back({"ftp", str("USER u\r\nPASS ftp-secret-20\r\nAUTH TLS\r\n"), str("220 FTP ready\r\n331 pw\r\n230 ok\r\n234 tls\r\n"), 21});
    v.push_back({"ssh", str("SSH-2.0-OpenSSH_9.6\r\n\x00\x00\x00\x1c\x04\x14xxxxxxxxxxxxxxxxxxxxxxxxxx"), str("SSH-2.0-OpenSSH_8.7\r\n"), 22});
    v.push_back({"socks5", cat({Buf{5, 1, 2, 1, 1}, str("u"), Buf{15}, str("socks-secret-21"), Buf{5, 1, 0, 1, 10, 0, 0, 1, 0, 80}, str("GET")}),
                 Buf{5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 1080});
    v.push_back({"socks4a", cat({Buf{4, 1, 0, 80, 0, 0, 0, 9}, str("id"), Buf{0}, str("h.example"), Buf{0}, str("data")}),
                 Buf{0, 0x5a, 0, 0, 0, 0, 0, 0}, 1080});
    v.push_back({"capture get-to-ssh", from_array(cap::kGetToSshServerC2s), from_array(cap::kGetToSshServerS2c), 22});
    v.push_back({"capture mysql", from_array(cap::kMysqlLoginC2s), from_array(cap::kMysqlLoginS2c), 3306});
    v.push_back({"capture psql", from_array(cap::kPsqlLoginC2s), from_array(cap::kPsqlLoginS2c), 5432});
    v.push_back({"capture dns", from_array(cap::kDnsTcpMultiC2s), from_array(cap::kDnsTcpMultiS2c), 53});
    v.push_back({"capture mqtt", from_array(cap::kMqttConnectC2s), from_array(cap::kMqttConnectS2c), 1883});
    v.push_back({"capture smtp", from_array(cap::kSmtpStarttlsC2s), from_array(cap::kSmtpStarttlsS2c), 25});
    v.push_back({"capture socks", from_array(cap::kSocksWithSslC2s), from_array(cap::kSocksWithSslS2c), 1080});
    v.push_back({"capture grpc", from_array(cap::kGrpcServiceNameC2s), from_array(cap::kGrpcServiceNameS2c), 38888});
    v.push_back({"capture h2c upgrade", from_array(cap::kHttp2RangeUpgradeC2s), from_array(cap::kHttp2RangeUpgradeS2c), 8080});
    v.push_back({"capture http2", from_array(cap::kHttp2PriorKnowledgeC2s), from_array(cap::kHttp2PriorKnowledgeS2c), 29518});
    v.push_back({"capture mysql tls", from_array(cap::kMysqlThenTlsC2s), from_array(cap::kMysqlThenTlsS2c), 3306});
    return v;
}

// The parsers that speak for a protocol's bytes.
std::set<std::string_view> parsers_of(std::string_view protocol) {
    if (protocol == "http") return {"http1"};
    if (protocol == "h2c" || protocol == "grpc") return {"http1", "http2", "hpack"};
    return {protocol};
}

void check_cut(const PlaintextFacts& full, const PlaintextFacts& cut, Direction cut_side) {
    check_no_secret_leak(cut);
    if (cut.protocol != full.protocol) return;
    const auto parsers = parsers_of(cut.protocol);
    for (const auto& run : cut.outcomes) {
        if (run.direction != cut_side || !parsers.count(run.parser)) continue;
        INFO("parser " << run.parser << " outcome " << meshproof::to_string(run.outcome));
        CHECK(run.outcome != ParseOutcome::Malformed);
        CHECK(run.outcome != ParseOutcome::TooLarge);
    }
}

}  // namespace

TEST_CASE("plaintext robustness: the corpus is what it claims") {
    // Guards the other robustness tests: a sample nobody recognises would test nothing.
    for (const Sample& s : corpus()) {
        INFO(s.name);
        const auto f = classify(s.c2s, s.s2c, s.port);
        CHECK_FALSE(f.protocol.empty());
        CHECK(f.client_readable);
        check_no_secret_leak(f);
        for (const auto& run : f.outcomes) {
            if (!parsers_of(f.protocol).count(run.parser)) continue;
            INFO("parser " << run.parser << " dir " << static_cast<int>(run.direction));
            CHECK(run.outcome != ParseOutcome::Malformed);
        }
    }
}

TEST_CASE("plaintext robustness: every cut of either direction is NeedMore, never Malformed") {
    for (const Sample& s : corpus()) {
        INFO(s.name);
        const auto full = classify(s.c2s, s.s2c, s.port);
        for (std::size_t n = 0; n < s.c2s.size(); ++n) {
            INFO("c2s cut at " << n);
            check_cut(full, classify(Buf(s.c2s.begin(), s.c2s.begin() + static_cast<std::ptrdiff_t>(n)), s.s2c, s.port),
                      Direction::ClientToServer);
        }
        for (std::size_t n = 0; n < s.s2c.size(); ++n) {
            INFO("s2c cut at " << n);
            check_cut(full, classify(s.c2s, Buf(s.s2c.begin(), s.s2c.begin() + static_cast<std::ptrdiff_t>(n)), s.port),
                      Direction::ServerToClient);
        }
    }
}

TEST_CASE("plaintext robustness: single-byte corruptions never crash or leak") {
    for (const Sample& s : corpus()) {
        INFO(s.name);
        for (std::size_t i = 0; i < std::min<std::size_t>(s.c2s.size(), 300); ++i) {
            for (const std::uint8_t v : std::initializer_list<std::uint8_t>{0x00, 0x0a, 0x7f, 0xff}) {
                Buf c = s.c2s;
                c[i] = v;
                check_no_secret_leak(classify(c, s.s2c, s.port));
            }
        }
        for (std::size_t i = 0; i < std::min<std::size_t>(s.s2c.size(), 120); ++i) {
            Buf sv = s.s2c;
            sv[i] = static_cast<std::uint8_t>(sv[i] ^ 0x80);
            check_no_secret_leak(classify(s.c2s, sv, s.port));
        }
    }
}

TEST_CASE("plaintext robustness: random bytes behind each protocol's first byte") {
    std::uint64_t x = 0x243f6a8885a308d3ull;
    auto next = [&x]() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    const std::vector<Buf> starts{str("GET "), kH2Preface, str("*2\r\n$4\r\n"), Buf{0, 0, 0, 8}, Buf{0x10}, Buf{5, 1},
                                  Buf{4, 1}, str("SSH-2.0-"), str("EHLO "), str("a1 LOGIN "), str("USER "), Buf{0, 0x20}};
    const std::vector<std::uint16_t> ports{80, 22, 25, 53, 110, 143, 1080, 1883, 3306, 5432, 6379, 0};
    std::size_t recognised = 0;
    for (int round = 0; round < 3000; ++round) {
        Buf c = starts[next() % starts.size()];
        const std::size_t len = next() % 200;
        for (std::size_t i = 0; i < len; ++i) c.push_back(static_cast<std::uint8_t>(next()));
        Buf sv;
        const std::size_t slen = next() % 64;
        for (std::size_t i = 0; i < slen; ++i) sv.push_back(static_cast<std::uint8_t>(next()));
        const auto f = classify(c, sv, ports[next() % ports.size()]);
        check_no_secret_leak(f);
        recognised += f.protocol.empty() ? 0 : 1;
    }
    CHECK(recognised > 0);  // the prefixes do steer the input into the parsers
}
