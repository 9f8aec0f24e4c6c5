// Real first bytes from the shared captures (test_plaintext_capture_bytes.hpp), checked against
// what tshark shows for the same streams.
#include <doctest/doctest.h>

#include "test_plaintext_builders.hpp"
#include "test_plaintext_capture_bytes.hpp"

using namespace plaintexttest;
namespace cap = plaintexttest::captures;

TEST_CASE("plaintext captures: get-to-ssh-server.pcap is HTTP sent to sshd") {
    const auto f = classify(from_array(cap::kGetToSshServerC2s), from_array(cap::kGetToSshServerS2c), 22);
    CHECK(f.protocol == "http");
    CHECK(f.first_line == "GET / HTTP/1.1");
    REQUIRE(f.http_host);
    CHECK(*f.http_host == "128.3.50.246");
    CHECK(f.server_protocol == "ssh");
    CHECK(has_evidence(f, "server answered with an SSH banner: SSH-2.0-OpenSSH_8.7"));
    CHECK(f.client_readable);
    CHECK_FALSE(f.http_status);
}

TEST_CASE("plaintext captures: mysql.pcap login") {
    const auto f = classify(from_array(cap::kMysqlLoginC2s), from_array(cap::kMysqlLoginS2c), 3306);
    CHECK(f.protocol == "mysql");
    CHECK(f.first_line == "MySQL login user=tfoerste (server 5.0.54)");
    CHECK(has_evidence(f, "MySQL server greeting protocol 10, version 5.0.54"));
    CHECK(has_evidence(f, "server OK after login"));
    CHECK(has_evidence(f, "MySQL query: select @@version_comment limit 1"));
    const Secret* s = find_secret(f, "mysql-auth");
    REQUIRE(s);
    CHECK(s->value.size() == 40);  // 20-byte scramble as hex
    CHECK(s->value.rfind("eefd6d55", 0) == 0);
    check_no_secret_leak(f);
}

TEST_CASE("plaintext captures: psql-login.pcap (SSLRequest refused, SCRAM login)") {
    const auto f = classify(from_array(cap::kPsqlLoginC2s), from_array(cap::kPsqlLoginS2c), 5432);
    CHECK(f.protocol == "postgresql");
    CHECK(f.first_line == "StartupMessage 3.0 user=zeek database=zeek application_name=psql");
    CHECK_FALSE(f.tls_upgrade);
    CHECK(has_evidence(f, "server answered 'N'"));
    CHECK(has_evidence(f, "server asked for SASL authentication (SCRAM-SHA-256)"));
    CHECK(has_evidence(f, "server AuthenticationOk"));
    CHECK(has_evidence(f, "server_version 14.5"));
    const Secret* s = find_secret(f, "postgresql-scram-proof");
    REQUIRE(s);
    CHECK(s->value == "GH3bmxWpEq87ExY6MaHJLRRIgqlaqIlPc9Ri+xxl65Y=");
    check_no_secret_leak(f);
}

TEST_CASE("plaintext captures: psql-aws-ssl-require.pcap asks for TLS") {
    const Buf c2s = from_array(cap::kPsqlSslRequireC2s);
    const auto f = classify(c2s, from_array(cap::kPsqlSslRequireS2c), 5432);
    CHECK(f.protocol == "postgresql");
    REQUIRE(f.tls_upgrade);
    CHECK(*f.tls_upgrade == "postgresql-sslrequest");
    REQUIRE(f.upgrade_c2s_offset);
    CHECK(c2s[*f.upgrade_c2s_offset] == 0x16);  // the ClientHello record starts there
    CHECK(*f.upgrade_s2c_offset == 1);
}

TEST_CASE("plaintext captures: tls-12-amazon-rds.pcap (MySQL then TLS)") {
    const Buf c2s = from_array(cap::kMysqlThenTlsC2s);
    const Buf s2c = from_array(cap::kMysqlThenTlsS2c);
    const auto f = classify(c2s, s2c, 3306);
    CHECK(f.protocol == "mysql");
    REQUIRE(f.tls_upgrade);
    CHECK(*f.tls_upgrade == "mysql-ssl");
    CHECK(c2s[*f.upgrade_c2s_offset] == 0x16);
    REQUIRE(f.upgrade_s2c_offset);
    CHECK(s2c[*f.upgrade_s2c_offset] == 0x16);
    CHECK(has_evidence(f, "version 8.0.28, auth plugin mysql_native_password, offers SSL"));
    CHECK(f.secrets.empty());
}

TEST_CASE("plaintext captures: pipelining-example.pcap (Redis inline PINGs)") {
    const auto f = classify(from_array(cap::kRedisPipeliningC2s), from_array(cap::kRedisPipeliningS2c), 6379);
    CHECK(f.protocol == "redis");
    CHECK(f.first_line == "PING");
    CHECK(has_evidence(f, "3 Redis commands"));
    CHECK(has_evidence(f, "server reply +PONG"));
    CHECK(f.server_readable);
}

TEST_CASE("plaintext captures: dns-tcp-multi.pcap") {
    const auto f = classify(from_array(cap::kDnsTcpMultiC2s), from_array(cap::kDnsTcpMultiS2c), 53);
    CHECK(f.protocol == "dns");
    CHECK(f.first_line == "query A details.deepflow-ebpf-istio-demo.svc.cluster.local");
    CHECK(has_evidence(f, "id 0xe831"));
    CHECK(has_evidence(f, "2 DNS queries"));
    CHECK(f.outcomes.size() == 2);
    for (const auto& r : f.outcomes) CHECK(r.outcome == ParseOutcome::Ok);
}

TEST_CASE("plaintext captures: mqtt.pcap CONNECT MQIsdp") {
    const auto f = classify(from_array(cap::kMqttConnectC2s), from_array(cap::kMqttConnectS2c), 1883);
    CHECK(f.protocol == "mqtt");
    CHECK(f.first_line == "CONNECT MQIsdp level 3 client_id=paho/34AAE54A75D839566E");
    CHECK(has_evidence(f, "CONNACK return code 0 (accepted)"));
    CHECK(has_evidence(f, "SUBSCRIBE x1"));
    CHECK(f.secrets.empty());  // no user name or password flag in this capture
}

TEST_CASE("plaintext captures: smtp-starttls.pcap") {
    const Buf c2s = from_array(cap::kSmtpStarttlsC2s);
    const Buf s2c = from_array(cap::kSmtpStarttlsS2c);
    const auto f = classify(c2s, s2c, 25);
    CHECK(f.protocol == "smtp");
    CHECK(f.first_line == "220 mx.google.com ESMTP hf10si4097299icc.190 - gsmtp");
    REQUIRE(f.tls_upgrade);
    CHECK(*f.tls_upgrade == "smtp-starttls");
    CHECK(*f.upgrade_c2s_offset == 35);
    CHECK(*f.upgrade_s2c_offset == 224);
    CHECK(c2s[35] == 0x16);
    CHECK(s2c[224] == 0x16);
}

TEST_CASE("plaintext captures: socks-with-ssl.pcap") {
    const Buf c2s = from_array(cap::kSocksWithSslC2s);
    const auto f = classify(c2s, from_array(cap::kSocksWithSslS2c), 1080);
    CHECK(f.protocol == "socks");
    CHECK(f.first_line == "SOCKS5 CONNECT www.google.com:443");
    REQUIRE(f.tls_upgrade);
    CHECK(*f.tls_upgrade == "socks");
    CHECK(*f.upgrade_c2s_offset == 24);
    CHECK(*f.upgrade_s2c_offset == 12);
    CHECK(c2s[24] == 0x16);
}

TEST_CASE("plaintext captures: grpc-service-name.pcap (h2c prior knowledge, gRPC)") {
    const Buf c2s = from_array(cap::kGrpcServiceNameC2s);
    const auto f = classify(c2s, from_array(cap::kGrpcServiceNameS2c), 38888);
    CHECK(f.protocol == "grpc");
    CHECK(*f.http_method == "POST");
    CHECK(*f.http_path == "/StreamingService/ClientStreamRPC");
    CHECK(*f.http_host == "10.1.23.22:38888");
    CHECK(*f.http_status == 200);
    CHECK(f.server_readable);

    SUBCASE("the HPACK decoder agrees with tshark on the request headers") {
        // tshark -d tcp.port==38888,http2 -T fields -e http2.header.name -e http2.header.value
        meshproof::ByteReader r(Bytes(c2s).subspan(kH2Preface.size()));
        std::vector<meshproof::audit::HpackHeader> headers;
        while (!r.empty()) {
            std::uint32_t len = 0, stream = 0;
            std::uint8_t type = 0, flags = 0;
            meshproof::ByteReader payload;
            REQUIRE((r.u24(len) && r.u8(type) && r.u8(flags) && r.u32(stream) && r.child(len, payload)));
            if (type != 1) continue;
            meshproof::audit::HpackDecoder d;
            REQUIRE(d.decode(payload.rest(), headers) == ParseOutcome::Ok);
            break;
        }
        std::vector<std::pair<std::string, std::string>> got;
        for (const auto& h : headers) got.emplace_back(h.name, h.value);
        const std::vector<std::pair<std::string, std::string>> tshark{
            {":method", "POST"},          {":scheme", "http"},
            {":path", "/StreamingService/ClientStreamRPC"}, {":authority", "10.1.23.22:38888"},
            {"content-type", "application/grpc"}, {"user-agent", "grpc-go/1.64.0"},
            {"te", "trailers"}};
        CHECK(got == tshark);
    }
}

TEST_CASE("plaintext captures: http2.pcapng (h2c prior knowledge, JSON API)") {
    const auto f = classify(from_array(cap::kHttp2PriorKnowledgeC2s), from_array(cap::kHttp2PriorKnowledgeS2c), 29518);
    CHECK(f.protocol == "h2c");
    CHECK(f.first_line == "POST /namf-comm/v1/subscriptions HTTP/2");
    CHECK(*f.http_status == 201);
    for (const auto& r : f.outcomes) CHECK(r.outcome == ParseOutcome::Ok);
}

TEST_CASE("plaintext captures: http2-range.pcap stream 0 (Upgrade: h2c)") {
    const auto f = classify(from_array(cap::kHttp2RangeUpgradeC2s), from_array(cap::kHttp2RangeUpgradeS2c), 8080);
    CHECK(f.protocol == "h2c");
    CHECK(f.first_line == "GET /eicar HTTP/1.1");
    CHECK(*f.http_status == 206);
    CHECK(has_evidence(f, "Upgrade: h2c answered 101 Switching Protocols"));
    CHECK(has_evidence(f, "HTTP/2 response :status 206 on stream 1"));
}

TEST_CASE("plaintext captures: pipelined-requests.pcap") {
    const auto f = classify(from_array(cap::kPipelinedHttpC2s), from_array(cap::kPipelinedHttpS2c), 80);
    CHECK(f.protocol == "http");
    CHECK(f.first_line == "GET /style/enhanced.css HTTP/1.1");
    CHECK(*f.http_host == "www.mozilla.org");
    CHECK(has_evidence(f, "5 HTTP/1.x requests"));
    const Secret* s = find_secret(f, "cookie");
    REQUIRE(s);  // the later requests carry Google Analytics cookies
    CHECK(s->value.rfind("__utma=", 0) == 0);
    check_no_secret_leak(f);
}
