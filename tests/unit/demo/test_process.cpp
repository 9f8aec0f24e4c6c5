// fork/exec helpers: exit codes, output, timeouts, environment, process groups, stop.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "demo/process.hpp"

using namespace meshproof::demo;
using namespace std::chrono_literals;

namespace {

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("mpdemo-test-" + std::to_string(getpid()) + "-" + name)).string();
}

// Running (a zombie waiting to be reaped by someone else does not count).
bool alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    const auto close_paren = line.rfind(')');
    return close_paren != std::string::npos && close_paren + 2 < line.size() && line[close_paren + 2] != 'Z';
}

}  // namespace

TEST_CASE("process: run_command") {
    SUBCASE("exit status and interleaved output") {
        const auto r = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
        CHECK(r.exit_code == 3);
        CHECK_FALSE(r.ok());
        CHECK(r.output.find("out\n") != std::string::npos);
        CHECK(r.output.find("err\n") != std::string::npos);
    }
    SUBCASE("argv is passed as is, no shell in between") {
        const auto r = run_command({"printf", "%s|", "a b", "$HOME", ";ls"});
        REQUIRE(r.ok());
        CHECK(r.output == "a b|$HOME|;ls|");
    }
    SUBCASE("extra environment overrides meshproof's") {
        setenv("MPDEMO_TEST_VAR", "outer", 1);
        const auto r = run_command({"sh", "-c", "printf %s \"$MPDEMO_TEST_VAR/$MPDEMO_OTHER\""}, 10s,
                                   {{"MPDEMO_TEST_VAR", "inner"}, {"MPDEMO_OTHER", "x"}});
        REQUIRE(r.ok());
        CHECK(r.output == "inner/x");
        unsetenv("MPDEMO_TEST_VAR");
    }
    SUBCASE("stdin is /dev/null") {
        const auto r = run_command({"cat"}, 5s);
        CHECK(r.ok());
        CHECK(r.output.empty());
    }
    SUBCASE("a missing program is 127") {
        const auto r = run_command({"/nonexistent/mpdemo-no-such-program"});
        CHECK(r.exit_code == 127);
    }
    SUBCASE("timeout kills it and says 124") {
        const auto start = std::chrono::steady_clock::now();
        const auto r = run_command({"sleep", "30"}, 300ms);
        CHECK(r.exit_code == 124);
        CHECK(std::chrono::steady_clock::now() - start < 5s);
    }
    SUBCASE("killed by a signal is 128+N") {
        const auto r = run_command({"sh", "-c", "kill -TERM $$"});
        CHECK(r.exit_code == 128 + SIGTERM);
    }
    SUBCASE("runs in its own process group") {
        // Field 5 of /proc/PID/stat is the process group ("sh" has no space in its name).
        const auto r = run_command({"sh", "-c", "cut -d' ' -f5 /proc/$$/stat; echo $$"});
        REQUIRE(r.ok());
        std::istringstream in(r.output);
        long pgid = 0, pid = 0;
        in >> pgid >> pid;
        CHECK(pgid == pid);
        CHECK(pgid != getpgrp());
    }
    SUBCASE("output is bounded") {
        const auto r = run_command({"sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x"});
        CHECK(r.ok());
        CHECK(r.output.size() == 64 * 1024);
    }
}

TEST_CASE("process: Child") {
    const std::string log = temp_path("child.log");

    SUBCASE("output goes to the log, exit code is kept") {
        auto c = Child::spawn({"sh", "-c", "echo hello; exit 7"}, log);
        REQUIRE(c.has_value());
        CHECK(c->wait(5s));
        CHECK_FALSE(c->running());
        REQUIRE(c->exit_code().has_value());
        CHECK(*c->exit_code() == 7);
        std::ifstream in(log);
        std::string line;
        std::getline(in, line);
        CHECK(line == "hello");
        CHECK(std::filesystem::status(log).permissions() == std::filesystem::perms(0600));
    }
    SUBCASE("stop() ends it and every process of its group") {
        const std::string pidfile = temp_path("grandchild.pid");
        auto c = Child::spawn({"sh", "-c", "sleep 60 & echo $! > " + pidfile + "; wait"}, log);
        REQUIRE(c.has_value());
        const pid_t pid = c->pid();
        pid_t grandchild = 0;
        for (int i = 0; i < 200 && grandchild == 0; ++i) {
            std::ifstream in(pidfile);
            long v = 0;
            if (in >> v) grandchild = static_cast<pid_t>(v);
            else std::this_thread::sleep_for(10ms);
        }
        REQUIRE(grandchild > 0);
        CHECK(c->running());
        c->stop(1s);
        CHECK_FALSE(alive(pid));
        bool gone = false;
        for (int i = 0; i < 100 && !gone; ++i) {
            gone = !alive(grandchild);
            if (!gone) std::this_thread::sleep_for(10ms);
        }
        CHECK(gone);
        std::filesystem::remove(pidfile);
    }
    SUBCASE("a process that ignores SIGTERM is killed after the grace period") {
        auto c = Child::spawn({"sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"}, log);
        REQUIRE(c.has_value());
        std::this_thread::sleep_for(100ms);
        const auto start = std::chrono::steady_clock::now();
        c->stop(300ms);
        CHECK(std::chrono::steady_clock::now() - start < 5s);
        CHECK_FALSE(c->running());
    }
    SUBCASE("wait() gives up on cancel") {
        auto c = Child::spawn({"sleep", "30"}, log);
        REQUIRE(c.has_value());
        std::atomic<bool> cancel{true};
        CHECK_FALSE(c->wait(10s, &cancel));
        CHECK(c->running());
    }
    SUBCASE("the destructor stops it") {
        pid_t pid = 0;
        {
            auto c = Child::spawn({"sleep", "30"}, log);
            REQUIRE(c.has_value());
            pid = c->pid();
            CHECK(alive(pid));
        }
        CHECK_FALSE(alive(pid));
    }
    SUBCASE("moving keeps one owner") {
        auto c = Child::spawn({"sleep", "30"}, log);
        REQUIRE(c.has_value());
        Child moved = std::move(*c);
        CHECK(c->pid() == -1);
        CHECK(moved.running());
        moved.stop(1s);
        CHECK_FALSE(moved.running());
    }
    std::filesystem::remove(log);
}

TEST_CASE("process: helpers") {
    SUBCASE("find_program") {
        const auto sh = find_program("sh");
        REQUIRE(sh.has_value());
        CHECK(sh->front() == '/');
        CHECK_FALSE(find_program("mpdemo-no-such-program").has_value());
        CHECK_FALSE(find_program("").has_value());
    }
    SUBCASE("tail_file keeps the last lines, indented") {
        const std::string path = temp_path("tail.txt");
        {
            std::ofstream out(path);
            for (int i = 1; i <= 20; ++i) out << "line " << i << "\n";
        }
        CHECK(tail_file(path, 2) == "    line 19\n    line 20\n");
        CHECK(tail_file(path + ".missing").empty());
        std::filesystem::remove(path);
    }
    SUBCASE("sleep_for stops early on cancel") {
        std::atomic<bool> cancel{true};
        const auto start = std::chrono::steady_clock::now();
        CHECK_FALSE(sleep_for(5s, &cancel));
        CHECK(std::chrono::steady_clock::now() - start < 1s);
        CHECK(sleep_for(10ms, nullptr));
    }
}
