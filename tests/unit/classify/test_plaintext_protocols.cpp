#include <doctest/doctest.h>

#include "test_plaintext_builders.hpp"

using namespace plaintexttest;

TEST_CASE("plaintext redis: RESP and inline commands") {
    SUBCASE("AUTH password (RESP)") {
        const auto f = classify(cat({resp_command({"AUTH", "r3dis-pass"}), resp_command({"GET", "k"})}),
                                str("+OK\r\n$3\r\nabc\r\n"), 6379);
        CHECK(f.protocol == "redis");
        CHECK(f.first_line == "AUTH <redacted>");
        CHECK(has_evidence(f, "RESP array *2 AUTH"));
        CHECK(has_evidence(f, "server reply +OK"));
        const Secret* s = find_secret(f, "redis-auth");
        REQUIRE(s);
        CHECK(s->value == "r3dis-pass");
        CHECK(s->location == "Redis AUTH (RESP)");
        CHECK(f.client_readable);
        CHECK(f.server_readable);
        check_no_secret_leak(f);
    }
    SUBCASE("AUTH user password (ACL) and HELLO with AUTH") {
        const auto f = classify(cat({resp_command({"HELLO", "3", "AUTH", "default", "hello-pass"}),
                                     resp_command({"AUTH", "alice", "acl-pass-1"})}),
                                {}, 6379);
        REQUIRE(f.secrets.size() == 2);
        CHECK(f.secrets[0].value == "hello-pass");
        CHECK(f.secrets[0].location == "Redis HELLO AUTH (RESP)");
        CHECK(f.secrets[1].value == "acl-pass-1");
        check_no_secret_leak(f);
    }
    SUBCASE("inline AUTH, answered -WRONGPASS") {
        const auto f = classify(str("AUTH inline-secret\r\n"), str("-WRONGPASS invalid username-password pair\r\n"), 6379);
        CHECK(f.protocol == "redis");
        const Secret* s = find_secret(f, "redis-auth");
        REQUIRE(s);
        CHECK(s->value == "inline-secret");
        CHECK(s->location == "Redis AUTH (inline)");
        CHECK(has_evidence(f, "server reply -WRONGPASS"));
        check_no_secret_leak(f);
    }
    SUBCASE("CONFIG SET requirepass") {
        const auto f = classify(resp_command({"CONFIG", "SET", "requirepass", "new-pass-42"}), {}, 6379);
        REQUIRE(find_secret(f, "redis-auth"));
        CHECK(find_secret(f, "redis-auth")->location == "Redis CONFIG SET requirepass");
    }
    SUBCASE("a cut bulk string is NeedMore") {
        const Buf full = resp_command({"SET", "key", "a-long-value"});
        const auto f = classify(Buf(full.begin(), full.end() - 5), {}, 6379);
        CHECK(f.protocol == "redis");
        CHECK_FALSE(f.client_readable);
        REQUIRE_FALSE(f.outcomes.empty());
        CHECK(f.outcomes[0].outcome == ParseOutcome::NeedMore);
    }
    SUBCASE("RESP is recognised on any port") {
        const auto f = classify(resp_command({"PING"}), str("+PONG\r\n"), 12345);
        CHECK(f.protocol == "redis");
    }
}

TEST_CASE("plaintext postgresql") {
    SUBCASE("StartupMessage, cleartext password") {
        const Buf c2s = cat({pg_startup({{"user", "app"}, {"database", "orders"}}), pg_password("pg-clear-pw")});
        const Buf s2c = cat({pg_auth_request(3), pg_auth_request(0)});
        const auto f = classify(c2s, s2c, 5432);
        CHECK(f.protocol == "postgresql");
        CHECK(f.first_line == "StartupMessage 3.0 user=app database=orders");
        CHECK(has_evidence(f, "server asked for a cleartext password"));
        const Secret* s = find_secret(f, "postgresql-password");
        REQUIRE(s);
        CHECK(s->value == "pg-clear-pw");
        CHECK(f.server_readable);
        check_no_secret_leak(f);
    }
    SUBCASE("MD5 password hash") {
        const std::string md5 = "md5" + std::string(32, 'a');
        const auto f = classify(cat({pg_startup({{"user", "u"}}), pg_password(md5)}),
                                pg_auth_request(5, Buf{1, 2, 3, 4}), 5432);
        const Secret* s = find_secret(f, "postgresql-md5");
        REQUIRE(s);
        CHECK(s->value == md5);
    }
    SUBCASE("password message without the server side is told apart by content") {
        const auto f = classify(cat({pg_startup({{"user", "u"}}), pg_password("guessme-pw")}), {}, 5432);
        REQUIRE(find_secret(f, "postgresql-password"));
    }
    SUBCASE("SSLRequest answered S: TLS follows") {
        const auto f = classify(cat({pg_ssl_request(), Buf{0x16, 0x03, 0x01}}), Buf{'S', 0x16, 0x03}, 5432);
        CHECK(f.protocol == "postgresql");
        REQUIRE(f.tls_upgrade);
        CHECK(*f.tls_upgrade == "postgresql-sslrequest");
        CHECK(*f.upgrade_c2s_offset == 8);
        CHECK(*f.upgrade_s2c_offset == 1);
    }
    SUBCASE("SSLRequest answered N: the session continues in plaintext") {
        const Buf c2s = cat({pg_ssl_request(), pg_startup({{"user", "u"}}), pg_password("after-n-pw")});
        const Buf s2c = cat({Buf{'N'}, pg_auth_request(3)});
        const auto f = classify(c2s, s2c, 5432);
        CHECK_FALSE(f.tls_upgrade);
        CHECK(has_evidence(f, "answered 'N'"));
        REQUIRE(find_secret(f, "postgresql-password"));
        CHECK(f.first_line == "StartupMessage 3.0 user=u");
    }
    SUBCASE("password in a query") {
        Buf q = str("ALTER USER app PASSWORD 'sql-pass-77'");
        q.push_back(0);
        const auto f = classify(cat({pg_startup({{"user", "u"}}), pg_message('Q', q)}), {}, 5432);
        REQUIRE(find_secret(f, "password"));
        CHECK(find_secret(f, "password")->value == "sql-pass-77");
        check_no_secret_leak(f);
    }
}

TEST_CASE("plaintext mysql") {
    const Buf auth{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                   0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04};
    SUBCASE("greeting, handshake response with a scrambled password") {
        const auto f = classify(mysql_handshake_response("webapp", auth, kMyCaps, "shop"), mysql_greeting("8.0.36"), 3306);
        CHECK(f.protocol == "mysql");
        CHECK(f.first_line == "MySQL login user=webapp (server 8.0.36)");
        CHECK(has_evidence(f, "MySQL server greeting protocol 10, version 8.0.36"));
        CHECK(has_evidence(f, "MySQL login user=webapp db=shop"));
        const Secret* s = find_secret(f, "mysql-auth");
        REQUIRE(s);
        CHECK(s->value == "112233445566778899aabbccddeeff0001020304");
        CHECK(s->location == "MySQL HandshakeResponse auth data (mysql_native_password)");
        check_no_secret_leak(f);
    }
    SUBCASE("empty password is evidence, not a secret") {
        const auto f = classify(mysql_handshake_response("root", {}), mysql_greeting("5.7.44"), 3306);
        CHECK(f.secrets.empty());
        CHECK(has_evidence(f, "empty password"));
    }
    SUBCASE("CLIENT_SSL short handshake asks for TLS") {
        Buf ssl;
        put32le(ssl, kMyCaps | 0x800);
        put32le(ssl, 1u << 24);
        put8(ssl, 33);
        put(ssl, Buf(23, 0));
        const Buf greeting = mysql_greeting("8.0.28", 0x000faaffu);
        const auto f = classify(cat({mysql_packet(1, ssl), Buf{0x16, 0x03, 0x01}}), greeting, 3306);
        REQUIRE(f.tls_upgrade);
        CHECK(*f.tls_upgrade == "mysql-ssl");
        CHECK(*f.upgrade_c2s_offset == 36);
        CHECK(*f.upgrade_s2c_offset == greeting.size());
    }
    SUBCASE("auth switch to mysql_clear_password exposes the password") {
        Buf sw{0xfe};
        putz(sw, "mysql_clear_password");
        Buf clear = str("clear-text-pw");
        clear.push_back(0);
        const auto f = classify(cat({mysql_handshake_response("u", auth), mysql_packet(3, clear)}),
                                cat({mysql_greeting("8.0.36"), mysql_packet(2, sw), mysql_packet(4, Buf{0x00, 0, 0, 2, 0, 0, 0})}),
                                3306);
        bool found = false;
        for (const auto& s : f.secrets) found |= s.value == "clear-text-pw" && s.location == "MySQL AuthSwitchResponse (mysql_clear_password)";
        CHECK(found);
        CHECK(has_evidence(f, "server AuthSwitchRequest to mysql_clear_password"));
        check_no_secret_leak(f);
    }
    SUBCASE("greeting only: the server spoke first") {
        const auto f = classify({}, mysql_greeting("10.11.6-MariaDB"), 3306);
        CHECK(f.protocol == "mysql");
        CHECK(f.server_banner_only);
        CHECK_FALSE(f.client_readable);
    }
}

TEST_CASE("plaintext dns over tcp") {
    const auto f = classify(cat({dns_tcp_message(0x1234, false, "db.default.svc.cluster.local", 1),
                                 dns_tcp_message(0x1235, false, "db.default.svc.cluster.local", 28)}),
                            dns_tcp_message(0x1234, true, "db.default.svc.cluster.local", 1, 1,
                                            Buf{0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 5}),
                            53);
    CHECK(f.protocol == "dns");
    CHECK(f.first_line == "query A db.default.svc.cluster.local");
    CHECK(has_evidence(f, "2 DNS queries"));
    CHECK(has_evidence(f, "DNS response NOERROR, 1 answers"));
    CHECK(f.client_readable);
    CHECK(f.server_readable);
}

TEST_CASE("plaintext mqtt") {
    SUBCASE("CONNECT 3.1.1 with user name and password") {
        const auto f = classify(mqtt_connect("sensor-7", "device", "mqtt-pw-123"), Buf{0x20, 0x02, 0x00, 0x00}, 1883);
        CHECK(f.protocol == "mqtt");
        CHECK(f.first_line == "CONNECT MQTT level 4 client_id=sensor-7 user=device");
        CHECK(has_evidence(f, "CONNACK return code 0 (accepted)"));
        const Secret* s = find_secret(f, "mqtt-password");
        REQUIRE(s);
        CHECK(s->value == "mqtt-pw-123");
        check_no_secret_leak(f);
    }
    SUBCASE("CONNECT 5.0 refused") {
        const auto f = classify(mqtt_connect("c", "u", "mqtt5-secret", "MQTT", 5), Buf{0x20, 0x03, 0x00, 0x86, 0x00}, 1883);
        REQUIRE(find_secret(f, "mqtt-password"));
        CHECK(has_evidence(f, "bad user name or password"));
    }
    SUBCASE("mid-session packets on the MQTT port") {
        const Buf publish = cat({Buf{0x30}, mqtt_remaining_length(2 + 5 + 2), mqtt_string("topic"), str("hi")});
        const auto f = classify(cat({publish, Buf{0xc0, 0x00}}), Buf{0xd0, 0x00}, 1883);
        CHECK(f.protocol == "mqtt");
        CHECK(has_evidence(f, "without CONNECT"));
    }
}

TEST_CASE("plaintext smtp") {
    SUBCASE("AUTH PLAIN with an initial response") {
        const auto f = classify(str("EHLO client.local\r\nAUTH PLAIN AGJvYgBodW50ZXIy\r\nMAIL FROM:<bob@x>\r\n"),
                                str("220 mail.local ESMTP Postfix\r\n250-mail.local\r\n250 AUTH PLAIN LOGIN\r\n235 2.7.0 Authentication successful\r\n"),
                                25);
        CHECK(f.protocol == "smtp");
        CHECK(f.first_line == "220 mail.local ESMTP Postfix");
        const Secret* s = find_secret(f, "smtp-auth");
        REQUIRE(s);
        CHECK(s->value == "AGJvYgBodW50ZXIy");
        CHECK(s->location == "SMTP AUTH PLAIN");
        CHECK(has_evidence(f, "credentials for user bob"));
        check_no_secret_leak(f);
    }
    SUBCASE("AUTH as the very first command keeps its mechanism and initial response") {
        // A client that skips EHLO (seen from scripts): the first-command evidence must not eat the mechanism.
        const auto f = classify(str("AUTH PLAIN AGJvYgBodW50ZXIy\r\nQUIT\r\n"), str("220 mail.local ESMTP\r\n"), 25);
        const Secret* s = find_secret(f, "smtp-auth");
        REQUIRE(s);
        CHECK(s->value == "AGJvYgBodW50ZXIy");
        CHECK(s->location == "SMTP AUTH PLAIN");
        CHECK(has_evidence(f, "client AUTH PLAIN"));
        check_no_secret_leak(f);
    }
    SUBCASE("AUTH LOGIN over three lines") {
        const auto f = classify(str("EHLO c\r\nAUTH LOGIN\r\nYWxpY2U=\r\nczNjcjN0LXB3\r\nQUIT\r\n"), str("220 smtp ready\r\n"), 587);
        const Secret* s = find_secret(f, "smtp-auth");
        REQUIRE(s);
        CHECK(s->value == "czNjcjN0LXB3");
        CHECK(s->location == "SMTP AUTH LOGIN password");
        CHECK(has_evidence(f, "SMTP AUTH LOGIN user alice"));
    }
    SUBCASE("STARTTLS: offsets where TLS starts") {
        const std::string c = "EHLO c\r\nSTARTTLS\r\n";
        const std::string s = "220 mx ESMTP\r\n250 STARTTLS\r\n220 2.0.0 Ready to start TLS\r\n";
        const auto f = classify(cat({str(c), Buf{0x16, 0x03, 0x01}}), cat({str(s), Buf{0x16, 0x03, 0x03}}), 25);
        REQUIRE(f.tls_upgrade);
        CHECK(*f.tls_upgrade == "smtp-starttls");
        CHECK(*f.upgrade_c2s_offset == c.size());
        REQUIRE(f.upgrade_s2c_offset);
        CHECK(*f.upgrade_s2c_offset == s.size());
    }
    SUBCASE("banner only") {
        const auto f = classify({}, str("220 mx.example.com ESMTP\r\n"), 25);
        CHECK(f.protocol == "smtp");
        CHECK(f.server_banner_only);
        CHECK(has_evidence(f, "server banner 220 mx.example.com ESMTP"));
    }
    SUBCASE("message content after DATA is not parsed as commands") {
        const auto f = classify(str("HELO c\r\nDATA\r\nSubject: hi\r\n\r\nAUTH PLAIN bm90LWEtc2VjcmV0\r\n.\r\nQUIT\r\n"),
                                str("220 x SMTP\r\n"), 25);
        CHECK(f.secrets.empty());
        CHECK(f.outcomes.back().outcome == ParseOutcome::Ok);
    }
}

TEST_CASE("plaintext imap, pop3, ftp") {
    SUBCASE("IMAP LOGIN with quoted strings") {
        const auto f = classify(str("a001 CAPABILITY\r\na002 LOGIN \"bob\" \"imap \\\"pw\\\"\"\r\n"),
                                str("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"), 143);
        CHECK(f.protocol == "imap");
        const Secret* s = find_secret(f, "imap-password");
        REQUIRE(s);
        CHECK(s->value == "imap \"pw\"");
        CHECK(has_evidence(f, "IMAP LOGIN user bob"));
        check_no_secret_leak(f);
    }
    SUBCASE("IMAP LOGIN with a literal password") {
        const auto f = classify(str("A1 LOGIN alice {11}\r\nliteral-pwd\r\n"), str("* OK IMAP ready\r\n"), 143);
        REQUIRE(find_secret(f, "imap-password"));
        CHECK(find_secret(f, "imap-password")->value == "literal-pwd");
    }
    SUBCASE("IMAP STARTTLS") {
        const auto f = classify(cat({str("a STARTTLS\r\n"), Buf{0x16, 0x03}}),
                                cat({str("* OK ready\r\na OK Begin TLS negotiation now\r\n"), Buf{0x16, 0x03}}), 143);
        REQUIRE(f.tls_upgrade);
        CHECK(*f.tls_upgrade == "imap-starttls");
        CHECK(*f.upgrade_c2s_offset == 12);
    }
    SUBCASE("POP3 USER/PASS and STLS") {
        const auto f = classify(str("USER carol\r\nPASS pop-secret-9\r\nSTAT\r\n"), str("+OK POP3 server ready\r\n"), 110);
        CHECK(f.protocol == "pop3");
        REQUIRE(find_secret(f, "pop3-password"));
        CHECK(find_secret(f, "pop3-password")->value == "pop-secret-9");
        const auto g = classify(str("CAPA\r\nSTLS\r\n"), str("+OK Dovecot ready.\r\n"), 110);
        REQUIRE(g.tls_upgrade);
        CHECK(*g.tls_upgrade == "pop3-stls");
    }
    SUBCASE("POP3 APOP as the first command: user and digest") {
        const auto f = classify(str("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nSTAT\r\n"),
                                str("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"), 110);
        const Secret* s = find_secret(f, "pop3-apop");
        REQUIRE(s);
        CHECK(s->value == "c4c9334bac560ecc979e58001b3e22fb");
        CHECK(has_evidence(f, "POP3 APOP user mrose"));
        check_no_secret_leak(f);
    }
    SUBCASE("POP3 banner wins over Redis for a shared verb") {
        const auto f = classify(str("AUTH PLAIN AGNhcm9sAHBvcC1wbGFpbg==\r\n"), str("+OK POP3 ready\r\n"), 110);
        CHECK(f.protocol == "pop3");
        REQUIRE(find_secret(f, "pop3-auth"));
    }
    SUBCASE("FTP USER/PASS and AUTH TLS") {
        const auto f = classify(str("USER ftpuser\r\nPASS ftp-pass-1\r\nSYST\r\n"), str("220 (vsFTPd 3.0.3)\r\n"), 21);
        CHECK(f.protocol == "ftp");
        REQUIRE(find_secret(f, "ftp-password"));
        CHECK(find_secret(f, "ftp-password")->location == "FTP PASS");
        const auto g = classify(str("AUTH TLS\r\n"), str("220 FTP ready\r\n234 AUTH TLS OK.\r\n"), 21);
        REQUIRE(g.tls_upgrade);
        CHECK(*g.tls_upgrade == "ftp-auth-tls");
    }
    SUBCASE("a bare 220 banner: the port breaks the tie") {
        CHECK(classify({}, str("220 welcome\r\n"), 21).protocol == "ftp");
        CHECK(classify({}, str("220 welcome\r\n"), 25).protocol == "smtp");
    }
}

TEST_CASE("plaintext ssh and socks") {
    SUBCASE("SSH banners then KEXINIT") {
        Buf kex;
        put32(kex, 60);
        put8(kex, 8);
        put8(kex, 20);
        put(kex, Buf(58, 0));
        const auto f = classify(cat({str("SSH-2.0-OpenSSH_9.6\r\n"), kex}), cat({str("SSH-2.0-dropbear_2022.83\r\n"), kex}), 2222);
        CHECK(f.protocol == "ssh");
        CHECK(f.first_line == "SSH-2.0-OpenSSH_9.6");
        CHECK(f.encrypted_after_banner);
        CHECK(has_evidence(f, "SSH_MSG_KEXINIT"));
        CHECK(has_evidence(f, "server banner SSH-2.0-dropbear_2022.83"));
    }
    SUBCASE("server banner only, with pre-banner lines") {
        const auto f = classify({}, str("Welcome\r\nSSH-2.0-OpenSSH_8.7\r\n"), 22);
        CHECK(f.protocol == "ssh");
        CHECK(f.server_banner_only);
        CHECK_FALSE(f.encrypted_after_banner);
    }
    SUBCASE("SOCKS5 with username/password, then tunnelled bytes") {
        const Buf c2s = cat({Buf{5, 1, 2}, Buf{1, 4}, str("user"), Buf{11}, str("socks-pw-12"),
                             Buf{5, 1, 0, 3, 11}, str("example.org"), Buf{0x01, 0xbb}, Buf{0x16, 0x03, 0x01}});
        const Buf s2c = cat({Buf{5, 2}, Buf{1, 0}, Buf{5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90}, Buf{0x16, 0x03, 0x03}});
        const auto f = classify(c2s, s2c, 1080);
        CHECK(f.protocol == "socks");
        CHECK(f.first_line == "SOCKS5 CONNECT example.org:443");
        REQUIRE(find_secret(f, "socks-password"));
        CHECK(find_secret(f, "socks-password")->value == "socks-pw-12");
        REQUIRE(f.tls_upgrade);
        CHECK(*f.tls_upgrade == "socks");
        CHECK(*f.upgrade_c2s_offset == c2s.size() - 3);
        CHECK(*f.upgrade_s2c_offset == s2c.size() - 3);
        check_no_secret_leak(f);
    }
    SUBCASE("SOCKS4a") {
        const Buf c2s = cat({Buf{4, 1, 0, 80, 0, 0, 0, 1}, str("me"), Buf{0}, str("host.example"), Buf{0}});
        const auto f = classify(c2s, Buf{0, 0x5a, 0, 0, 0, 0, 0, 0}, 1080);
        CHECK(f.protocol == "socks");
        CHECK(f.first_line == "SOCKS4 CONNECT host.example:80");
        CHECK(f.server_readable);
        CHECK_FALSE(f.tls_upgrade);  // nothing follows yet
    }
}

TEST_CASE("plaintext: nothing recognisable") {
    SUBCASE("empty flow") {
        const auto f = classify({}, {}, 80);
        CHECK(f.protocol.empty());
        CHECK(f.outcomes.empty());
    }
    SUBCASE("TLS records are not plaintext") {
        const auto f = classify(Buf{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03}, {}, 443);
        CHECK(f.protocol.empty());
        CHECK_FALSE(f.client_readable);
    }
    SUBCASE("outcome_counts sums the runs") {
        const auto f = classify(str("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), str("garbage\r\n"), 80);
        const auto counts = f.outcome_counts();
        CHECK(counts.get(ParseOutcome::Ok) == 1);
        CHECK(counts.get(ParseOutcome::NotThisProtocol) == 1);
    }
}
