// The audit commands' flags -> SessionConfig, and SessionOutcome -> exit status.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/audit_flags.hpp"
#include "cli/commands.hpp"
#include "cli/compliance_commands.hpp"

using namespace meshproof;
using namespace meshproof::cli;
using Report = audit::SessionConfig::Report;
using Args = std::vector<std::string>;

TEST_CASE("audit read flags") {
    SUBCASE("defaults: a table, redacted, default bounds") {
        const auto inv = read_flags({"a.pcap"});
        const auto& c = inv.config;
        CHECK_FALSE(inv.help);
        CHECK(c.report == Report::Table);
        CHECK(c.files == Args{"a.pcap"});
        CHECK_FALSE(c.live);
        CHECK_FALSE(c.report_options.show_secrets);
        CHECK(c.engine.stream.max_bytes == 16 * 1024);
        CHECK(c.engine.max_flows == 262144);
        CHECK(c.fail_on.empty());
        CHECK_FALSE(c.metrics.any());
        CHECK_FALSE(c.compliance.any());
        CHECK(c.command_line == Args{"meshproof", "audit", "read", "a.pcap"});
    }
    SUBCASE("every report flag lands in the config") {
        const auto c = read_flags({"--json", "--show-secrets", "-v", "--fail-on", "plaintext-served,tls", "--color=never",
                                   "--stream-bytes", "4096", "--max-flows=10", "x.pcap", "y.pcapng"})
                           .config;
        CHECK(c.report == Report::Json);
        CHECK(c.report_options.show_secrets);
        CHECK(c.report_options.verbose);
        CHECK_FALSE(c.report_options.color);
        CHECK(c.fail_on == std::set<audit::Verdict>{audit::Verdict::PlaintextServed, audit::Verdict::Tls});
        CHECK(c.engine.stream.max_bytes == 4096);
        CHECK(c.engine.max_flows == 10);
        CHECK(c.files == Args{"x.pcap", "y.pcapng"});
    }
    SUBCASE("--json never colours, whatever --color says") {
        CHECK_FALSE(read_flags({"--json", "--color", "always", "a.pcap"}).config.report_options.color);
        CHECK(read_flags({"--color", "always", "a.pcap"}).config.report_options.color);
    }
    SUBCASE("metrics and compliance flags") {
        const auto c = read_flags({"--metrics-file", "/tmp/m.prom", "--push", "http://127.0.0.1:9091", "--push-job", "j",
                                   "--k8s-snapshot", "snap.json", "--policy", "p.yaml", "a.pcap"})
                           .config;
        REQUIRE(c.metrics.textfile);
        CHECK(*c.metrics.textfile == "/tmp/m.prom");
        REQUIRE(c.metrics.push_url);
        CHECK(c.metrics.job == "j");
        CHECK(c.compliance.k8s_snapshot == "snap.json");
        CHECK(c.compliance.policy == "p.yaml");
    }
    SUBCASE("a directory stands for its captures, sorted") {
        const auto dir = std::filesystem::temp_directory_path() / ("meshproof-cli-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        for (const char* name : {"b.pcap", "a.pcapng", "c.cap", "notes.txt"}) std::ofstream(dir / name) << "x";
        const auto c = read_flags({dir.string(), "z.pcap"}).config;
        CHECK(c.files == Args{(dir / "a.pcapng").string(), (dir / "b.pcap").string(), (dir / "c.cap").string(), "z.pcap"});
        std::filesystem::remove_all(dir);
    }
    SUBCASE("help runs nothing") { CHECK(read_flags({"--json", "--help"}).help); }
    SUBCASE("usage errors") {
        CHECK_THROWS_AS(read_flags({}), UsageError);
        CHECK_THROWS_AS(read_flags({"--json"}), UsageError);
        CHECK_THROWS_AS(read_flags({"--bogus", "a.pcap"}), UsageError);
        CHECK_THROWS_AS(read_flags({"--fail-on", "nonsense", "a.pcap"}), UsageError);
        CHECK_THROWS_AS(read_flags({"--color", "sometimes", "a.pcap"}), UsageError);
        CHECK_THROWS_AS(read_flags({"--stream-bytes", "12k", "a.pcap"}), UsageError);
        CHECK_THROWS_AS(read_flags({"--push", "ftp://x", "a.pcap"}), UsageError);
        CHECK_THROWS_AS(read_flags({"--metrics-file="}), UsageError);
        CHECK_THROWS_WITH_AS(read_flags({"--json"}), doctest::Contains("usage: meshproof audit read"), UsageError);
    }
}

TEST_CASE("audit capture flags") {
    SUBCASE("defaults: drop to nobody, idle timeout 300 s, a table") {
        const auto c = capture_flags({"-i", "br0"}).config;
        REQUIRE(c.live);
        CHECK(c.live->interface == "br0");
        REQUIRE(c.live->drop_to_user);
        CHECK(*c.live->drop_to_user == "nobody");
        CHECK(c.engine.idle_timeout == doctest::Approx(300));
        CHECK(c.report == Report::Table);
        CHECK_FALSE(c.duration);
        CHECK_FALSE(c.max_packets);
        CHECK_FALSE(c.evidence_path);
        CHECK(c.label.empty());
        CHECK(c.command_line == Args{"meshproof", "audit", "capture", "-i", "br0"});
    }
    SUBCASE("every live flag lands in the config") {
        const auto c = capture_flags({"--interface=eth0", "-f", "tcp port 443", "--duration", "5m", "--packets", "100",
                                      "--label", "node-1", "--write", "e.pcap", "--user", "root", "--idle-timeout", "500ms",
                                      "--snaplen", "128", "--buffer-size", "8", "--max-flows", "7", "--stream-bytes", "99",
                                      "--json", "-v"})
                           .config;
        REQUIRE(c.live);
        CHECK(c.live->bpf_filter == "tcp port 443");
        REQUIRE(c.duration);
        CHECK(*c.duration == doctest::Approx(300));
        REQUIRE(c.max_packets);
        CHECK(*c.max_packets == 100);
        CHECK(c.label == "node-1");
        REQUIRE(c.evidence_path);
        CHECK(*c.evidence_path == "e.pcap");
        CHECK(*c.live->drop_to_user == "root");
        CHECK(c.engine.idle_timeout == doctest::Approx(0.5));
        CHECK(c.live->snaplen == 128);
        CHECK(c.live->buffer_bytes == 8 * 1024 * 1024);
        CHECK(c.engine.max_flows == 7);
        CHECK(c.engine.stream.max_bytes == 99);
        CHECK(c.report == Report::Json);
        CHECK(c.verbose);
        CHECK(c.report_options.verbose);
    }
    SUBCASE("usage errors") {
        CHECK_THROWS_WITH_AS(capture_flags({}), doctest::Contains("no interface given"), UsageError);
        CHECK_THROWS_AS(capture_flags({"-i", "br0", "--packets", "0"}), UsageError);
        CHECK_THROWS_AS(capture_flags({"-i", "br0", "--max-flows", "0"}), UsageError);
        CHECK_THROWS_AS(capture_flags({"-i", "br0", "--snaplen", "10"}), UsageError);
        CHECK_THROWS_AS(capture_flags({"-i", "br0", "--buffer-size", "4096"}), UsageError);
        CHECK_THROWS_AS(capture_flags({"-i", "br0", "--duration", "-1s"}), UsageError);
        CHECK_THROWS_AS(capture_flags({"-i", "br0", "extra"}), UsageError);
    }
}

TEST_CASE("audit serve flags") {
    SUBCASE("defaults: Serve on 127.0.0.1:9464, idle timeout 60 s") {
        const auto c = serve_flags({"-i", "cni0"}).config;
        CHECK(c.report == Report::Serve);
        CHECK(c.listen == "127.0.0.1:9464");
        CHECK(c.engine.idle_timeout == doctest::Approx(60));
        CHECK(c.compliance.k8s_refresh == doctest::Approx(300));
    }
    SUBCASE("listen, refresh") {
        const auto c = serve_flags({"-i", "cni0", "--listen", "0.0.0.0:9999", "--k8s", "--k8s-refresh", "0"}).config;
        CHECK(c.listen == "0.0.0.0:9999");
        CHECK(c.compliance.k8s_live);
        CHECK(c.compliance.k8s_refresh == 0);
    }
    SUBCASE("usage errors") {
        CHECK_THROWS_AS(serve_flags({"-i", "cni0", "--listen", "9464"}), UsageError);
        CHECK_THROWS_AS(serve_flags({"-i", "cni0", "--listen", "host:"}), UsageError);
        CHECK_THROWS_AS(serve_flags({"-i", "cni0", "--bundle", "b.tar.gz"}), UsageError);
        CHECK_THROWS_AS(serve_flags({"-i", "cni0", "--k8s-refresh", "5"}), UsageError);
        CHECK_THROWS_AS(serve_flags({"-i", "cni0", "--json"}), UsageError);  // serve prints no report
        CHECK_THROWS_WITH_AS(serve_flags({}), doctest::Contains("usage: meshproof audit serve"), UsageError);
    }
}

TEST_CASE("durations") {
    CHECK(parse_duration("--duration", "30s") == doctest::Approx(30));
    CHECK(parse_duration("--duration", "1.5") == doctest::Approx(1.5));
    CHECK(parse_duration("--duration", "250ms") == doctest::Approx(0.25));
    CHECK(parse_duration("--duration", "2h") == doctest::Approx(7200));
    CHECK_THROWS_AS(parse_duration("--duration", "0"), UsageError);
    CHECK_THROWS_AS(parse_duration("--duration", "5d"), UsageError);
    CHECK_THROWS_AS(parse_duration("--duration", ""), UsageError);
}

TEST_CASE("session outcome -> exit status, in order of precedence") {
    audit::SessionOutcome o;
    CHECK(exit_status(o) == kExitOk);
    o.damaged_input = true;
    CHECK(exit_status(o) == kExitDamagedInput);
    o.policy_violations = true;
    CHECK(exit_status(o) == kExitPolicyViolations);
    o.output_failed = true;
    CHECK(exit_status(o) == kExitFailure);
    o.output_failed = false;
    o.unreadable_input = true;
    CHECK(exit_status(o) == kExitFailure);
    o.fail_on_matched = true;
    CHECK(exit_status(o) == kExitFailOn);
    o.not_started = true;
    CHECK(exit_status(o) == kExitFailure);
}
