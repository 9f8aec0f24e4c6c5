// The embedded demo apps, run for real on this machine's loopback (no namespaces, no root): the
// client's rounds succeed with the right secrets and fail with a wrong one.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "demo/demo_apps.hpp"
#include "demo/process.hpp"

using namespace meshproof::demo;
using namespace std::chrono_literals;

namespace {

std::uint16_t free_loopback_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    std::uint16_t port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

bool listening(std::uint16_t port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
}

bool wait_listening(std::uint16_t port) {
    for (int i = 0; i < 200; ++i) {
        if (listening(port)) return true;
        std::this_thread::sleep_for(25ms);
    }
    return false;
}

Environment secrets() {
    return {{"MPDEMO_TOKEN", std::string(kDemoBearerToken)},
            {"MPDEMO_PASSWORD", std::string(kDemoPassword)},
            {"MPDEMO_DB_PASSWORD", std::string(kDemoDbPassword)},
            {"MPDEMO_SESSION", std::string(kDemoSessionCookie)},
            {"PYTHONDONTWRITEBYTECODE", "1"}};
}

}  // namespace

TEST_CASE("demo apps: the embedded script") {
    const auto script = demo_apps_python();
    CHECK(script.rfind("#!/usr/bin/env python3\n", 0) == 0);
    CHECK(script.find("def run_client") != std::string_view::npos);
    // The secrets reach the apps through the environment only.
    CHECK(script.find(kDemoPassword) == std::string_view::npos);
    CHECK(script.find(kDemoBearerToken) == std::string_view::npos);
    CHECK(script.find(kDemoDbPassword) == std::string_view::npos);
}

TEST_CASE("demo apps: client -> backend -> db on loopback") {
    const auto python = find_program("python3");
    if (!python) {
        MESSAGE("python3 not installed: skipped");
        return;
    }
    const auto dir = std::filesystem::temp_directory_path() / ("mpdemo-apps-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string script = (dir / "apps.py").string();
    {
        std::ofstream out(script);
        out << demo_apps_python();
    }
    const std::uint16_t db_port = free_loopback_port(), web_port = free_loopback_port();
    REQUIRE(db_port != 0);
    REQUIRE(web_port != 0);
    auto db = Child::spawn({*python, script, "db", "--bind", "127.0.0.1", "--port", std::to_string(db_port)},
                           (dir / "db.log").string(), secrets());
    REQUIRE(db.has_value());
    auto web = Child::spawn({*python, script, "backend", "--bind", "127.0.0.1", "--port", std::to_string(web_port), "--db",
                             "127.0.0.1:" + std::to_string(db_port)},
                            (dir / "backend.log").string(), secrets());
    REQUIRE(web.has_value());
    REQUIRE(wait_listening(db_port));
    REQUIRE(wait_listening(web_port));
    const std::vector<std::string> client{*python, script, "client", "--url", "http://127.0.0.1:" + std::to_string(web_port),
                                          "--host", "backend.demo.svc.cluster.local:8080", "--rounds", "2"};

    SUBCASE("with the right secrets every round succeeds") {
        const auto r = run_command(client, 30s, secrets());
        CHECK(r.exit_code == 0);
        CHECK(r.output.find("ok: 2 rounds") != std::string::npos);
    }
    SUBCASE("a wrong password is refused") {
        auto env = secrets();
        env[1].second = "wrong-password";
        const auto r = run_command(client, 30s, env);
        CHECK(r.exit_code != 0);
        CHECK(r.output.find("POST /login answered 403") != std::string::npos);
    }
    SUBCASE("a wrong token is refused") {
        auto env = secrets();
        env[0].second = "wrong-token";
        const auto r = run_command(client, 30s, env);
        CHECK(r.exit_code != 0);
        CHECK(r.output.find("GET /api/orders answered 401") != std::string::npos);
    }
    SUBCASE("the backend reports a db that refuses its password") {
        web->stop(1s);
        auto env = secrets();
        env[2].second = "wrong-db-password";
        auto bad = Child::spawn({*python, script, "backend", "--bind", "127.0.0.1", "--port", std::to_string(web_port), "--db",
                                 "127.0.0.1:" + std::to_string(db_port)},
                                (dir / "backend2.log").string(), env);
        REQUIRE(bad.has_value());
        REQUIRE(wait_listening(web_port));
        const auto r = run_command(client, 30s, secrets());
        CHECK(r.exit_code != 0);
        CHECK(r.output.find("answered 502") != std::string::npos);
    }
    web->stop(1s);
    db->stop(1s);
    std::filesystem::remove_all(dir);
}
