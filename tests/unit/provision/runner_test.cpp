// The runner: real processes (argv only, stdin, env, timeout and interruption ending the whole
// process group), failure descriptions, and retries only for transient failures.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "provision/runner.hpp"

using namespace meshproof::provision;
using namespace std::chrono_literals;

namespace {

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// Waits until `path` holds a pid (written by the command under test) and returns it.
pid_t wait_for_pid_file(const std::string& path) {
    for (int i = 0; i < 200; ++i) {
        std::ifstream in(path);
        long pid = 0;
        if (in >> pid && pid > 0) return static_cast<pid_t>(pid);
        std::this_thread::sleep_for(10ms);
    }
    return 0;
}

// A zombie (killed, not yet reaped by init) counts as dead.
bool dead_or_zombie(pid_t pid) {
    if (!process_alive(pid)) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_s, comm, state;
    stat >> pid_s >> comm >> state;
    return state == "Z";
}

// A fresh directory under /tmp, removed when the test binary exits.
std::string temp_dir() {
    static std::vector<std::string> made;
    static const bool registered = [] {
        std::atexit([] {
            std::error_code ec;
            for (const auto& d : made) std::filesystem::remove_all(d, ec);
        });
        return true;
    }();
    (void)registered;
    char tmpl[] = "/tmp/meshproof-runner-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    REQUIRE(d != nullptr);
    made.emplace_back(d);
    return d;
}

CommandResult failed(int code, std::string err) {
    CommandResult r;
    r.exit_code = code;
    r.err = std::move(err);
    return r;
}

}  // namespace

TEST_CASE("process runner: argv, stdin, env, exit status") {
    auto runner = make_process_runner(nullptr);
    SUBCASE("stdin reaches the child, stdout comes back") {
        const auto r = runner->run({{"cat"}, std::string("kind: Namespace\n"), 5s, {}});
        CHECK(r.ok());
        CHECK(r.out == "kind: Namespace\n");
    }
    SUBCASE("arguments are not interpreted by a shell") {
        const auto r = runner->run({{"printf", "%s|", "a b", "$HOME", "*;rm -rf /"}, std::nullopt, 5s, {}});
        REQUIRE(r.ok());
        CHECK(r.out == "a b|$HOME|*;rm -rf /|");
    }
    SUBCASE("environment additions") {
        const auto r = runner->run({{"sh", "-c", "printf %s \"$MESHPROOF_STEP\""}, std::nullopt, 5s, {{"MESHPROOF_STEP", "istiod"}}});
        CHECK(r.out == "istiod");
    }
    SUBCASE("exit status and stderr") {
        const auto r = runner->run({{"sh", "-c", "echo partial; echo 'Error: boom' >&2; exit 3"}, std::nullopt, 5s, {}});
        CHECK_FALSE(r.ok());
        CHECK(r.exit_code == 3);
        CHECK(r.out == "partial\n");
        CHECK(r.err == "Error: boom\n");
        CHECK_FALSE(r.timed_out);
    }
    SUBCASE("a child that ignores a large stdin does not hang or kill us (SIGPIPE)") {
        const auto r = runner->run({{"true"}, std::string(4 << 20, 'x'), 5s, {}});
        CHECK(r.exit_code == 0);
    }
    SUBCASE("large output is captured whole") {
        const auto r = runner->run({{"head", "-c", "3000000", "/dev/zero"}, std::nullopt, 10s, {}});
        CHECK(r.ok());
        CHECK(r.out.size() == 3000000);
    }
    SUBCASE("a program that is not on PATH") {
        const auto r = runner->run({{"meshproof-no-such-program"}, std::nullopt, 5s, {}});
        CHECK(r.spawn_failed);
        CHECK_FALSE(r.ok());
        CHECK(r.err.find("not found on PATH") != std::string::npos);
    }
}

TEST_CASE("process runner: a timeout kills the child's whole process group") {
    const std::string dir = temp_dir();
    auto runner = make_process_runner(nullptr, 200ms);
    // The child starts a grandchild in its own (inherited) group, then both sleep.
    const std::string script = "sleep 60 & echo $! > " + dir + "/grandchild; echo $$ > " + dir + "/child; wait";
    const auto start = std::chrono::steady_clock::now();
    const auto r = runner->run({{"sh", "-c", script}, std::nullopt, 500ms, {}});
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(r.timed_out);
    CHECK_FALSE(r.ok());
    CHECK(r.exit_code == -1);
    CHECK(took < 5s);
    const pid_t grandchild = wait_for_pid_file(dir + "/grandchild");
    REQUIRE(grandchild > 0);
    std::this_thread::sleep_for(100ms);
    CHECK(dead_or_zombie(grandchild));
    CHECK(describe_failure({{"sh", "-c", "..."}, std::nullopt, 500ms, {}}, r).find("timed out") != std::string::npos);
}

TEST_CASE("process runner: Ctrl-C (the interrupt flag) ends the child's group") {
    const std::string dir = temp_dir();
    std::atomic<bool> interrupt{false};
    auto runner = make_process_runner(&interrupt, 200ms);
    std::thread ctrl_c([&] {
        wait_for_pid_file(dir + "/child");
        interrupt.store(true);
    });
    const std::string script = "sleep 60 & echo $! > " + dir + "/grandchild; echo $$ > " + dir + "/child; wait";
    const auto r = runner->run({{"sh", "-c", script}, std::nullopt, 30s, {}});
    ctrl_c.join();
    CHECK(r.interrupted);
    CHECK_FALSE(r.timed_out);
    CHECK(r.elapsed < 10s);
    const pid_t grandchild = wait_for_pid_file(dir + "/grandchild");
    REQUIRE(grandchild > 0);
    std::this_thread::sleep_for(100ms);
    CHECK(dead_or_zombie(grandchild));
}

TEST_CASE("process runner: a child that ignores SIGTERM gets SIGKILL after the grace period") {
    auto runner = make_process_runner(nullptr, 200ms);
    const auto r = runner->run({{"sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"}, std::nullopt, 300ms, {}});
    CHECK(r.timed_out);
    CHECK(r.elapsed < 5s);
}

TEST_CASE("transient failures are told from real errors") {
    CHECK(is_transient_failure(failed(1, "The connection to the server 10.0.0.1:6443 was refused - connection refused")));
    CHECK(is_transient_failure(failed(1, "Error: Kubernetes cluster unreachable: Get \"https://x/version\": dial tcp: i/o timeout")));
    CHECK(is_transient_failure(failed(1, "Unable to connect to the server: net/http: TLS handshake timeout")));
    CHECK(is_transient_failure(failed(1, "Error from server (ServiceUnavailable): the server is currently unable to handle the request")));
    CHECK(is_transient_failure(failed(1, "Internal error occurred: failed calling webhook \"x\": no endpoints available for service \"metallb-webhook-service\"")));
    CHECK_FALSE(is_transient_failure(failed(1, "Error: INSTALLATION FAILED: chart \"istiod\" version \"9.9.9\" not found")));
    CHECK_FALSE(is_transient_failure(failed(1, "Error from server (Forbidden): namespaces is forbidden")));
    CHECK_FALSE(is_transient_failure(failed(0, "")));
    CommandResult timed_out = failed(-1, "connection refused");
    timed_out.timed_out = true;  // the step's own timeout: never retried
    CHECK_FALSE(is_transient_failure(timed_out));
    CommandResult interrupted = failed(-1, "connection refused");
    interrupted.interrupted = true;
    CHECK_FALSE(is_transient_failure(interrupted));
}

TEST_CASE("retries with backoff only for transient failures") {
    RecordingRunner runner;
    int calls = 0;
    std::vector<std::chrono::milliseconds> sleeps;
    const SleepFn sleep = [&](std::chrono::milliseconds d) { sleeps.push_back(d); };
    RetryPolicy policy;
    policy.max_attempts = 5;
    policy.initial_backoff = 1000ms;
    policy.max_backoff = 3000ms;
    SUBCASE("flaky twice, then fine") {
        runner.on([](const Command&) { return true; },
                  [&](const Command&) {
                      ++calls;
                      if (calls <= 2) return failed(1, "dial tcp 10.96.0.1:443: connect: connection refused");
                      CommandResult ok;
                      ok.exit_code = 0;
                      return ok;
                  });
        const auto o = run_with_retry(runner, {{"kubectl", "apply"}, std::nullopt, 1s, {}}, policy, sleep);
        CHECK(o.result.ok());
        CHECK(o.attempts == 3);
        CHECK(sleeps == std::vector<std::chrono::milliseconds>{1000ms, 2000ms});
    }
    SUBCASE("always transient: gives up after max attempts, backoff capped") {
        runner.on([](const Command&) { return true; },
                  [&](const Command&) { return ++calls, failed(1, "i/o timeout"); });
        const auto o = run_with_retry(runner, {{"helm", "list"}, std::nullopt, 1s, {}}, policy, sleep);
        CHECK_FALSE(o.result.ok());
        CHECK(o.attempts == 5);
        CHECK(calls == 5);
        CHECK(sleeps == std::vector<std::chrono::milliseconds>{1000ms, 2000ms, 3000ms, 3000ms});
    }
    SUBCASE("a real error is not retried") {
        runner.on([](const Command&) { return true; },
                  [&](const Command&) { return ++calls, failed(1, "Error: UPGRADE FAILED: values don't meet the specifications"); });
        const auto o = run_with_retry(runner, {{"helm", "upgrade"}, std::nullopt, 1s, {}}, policy, sleep);
        CHECK(o.attempts == 1);
        CHECK(calls == 1);
        CHECK(sleeps.empty());
    }
}

TEST_CASE("recording runner records and answers") {
    RecordingRunner runner;
    CommandResult ok;
    ok.exit_code = 0;
    ok.out = "v3.15.4";
    runner.on_prefix({"helm", "version"}, ok);
    CHECK(runner.run({{"helm", "version", "--template", "{{.Version}}"}, std::nullopt, 1s, {}}).out == "v3.15.4");
    const auto other = runner.run({{"kubectl", "get", "nodes"}, std::nullopt, 1s, {}});
    CHECK(other.exit_code == 127);
    REQUIRE(runner.calls().size() == 2);
    CHECK(runner.calls()[1].argv[1] == "get");
}

TEST_CASE("failure description: command (secrets stripped), status, stderr tail") {
    std::string err;
    for (int i = 1; i <= 20; ++i) err += "line " + std::to_string(i) + "\n";
    const auto text = describe_failure({{"helm", "upgrade", "--install", "grafana", "--set", "adminPassword=hunter2"}, std::nullopt, 1s, {}},
                                       failed(1, err), 3);
    CHECK(text.find("command: helm upgrade --install grafana --set 'adminPassword=<redacted>'\n") == 0);
    CHECK(text.find("hunter2") == std::string::npos);
    CHECK(text.find("exit status 1\n") != std::string::npos);
    CHECK(text.find("  line 18\n  line 19\n  line 20\n") != std::string::npos);
    CHECK(text.find("line 17") == std::string::npos);
    CommandResult spawn;
    spawn.spawn_failed = true;
    spawn.err = "helm: not found on PATH";
    CHECK(describe_failure({{"helm"}, std::nullopt, 1s, {}}, spawn).find("could not start: helm: not found on PATH") !=
          std::string::npos);
}

TEST_CASE("failure description of a child killed by a signal (secrets stripped); a real SIGKILLed child") {
    CommandResult killed = failed(-1, "creating 12 resource(s)\n");
    killed.term_signal = SIGKILL;
    const auto text = describe_failure(
        {{"helm", "upgrade", "--install", "grafana", "--set", "adminPassword=hunter2"}, std::nullopt, 1s, {}}, killed);
    CHECK(text.find("command: helm upgrade --install grafana --set 'adminPassword=<redacted>'\n") == 0);
    CHECK(text.find("hunter2") == std::string::npos);
    CHECK(text.find("killed by signal 9 (SIGKILL) before it finished\n") != std::string::npos);
    CHECK(text.find("  creating 12 resource(s)\n") != std::string::npos);
    CHECK(signal_name(SIGTERM) == "SIGTERM");
    CHECK(signal_name(64) == "signal 64");

    auto runner = make_process_runner(nullptr);
    const auto r = runner->run({{"sh", "-c", "echo partial >&2; kill -9 $$"}, std::nullopt, 10s, {}});
    CHECK_FALSE(r.ok());
    CHECK(r.term_signal == SIGKILL);
    CHECK_FALSE(r.timed_out);
    CHECK(r.err == "partial\n");
    CHECK_FALSE(is_transient_failure(r));
}

TEST_CASE("API server errors: the reason is read, and which of them are transient") {
    CHECK(api_error_reason(failed(1, "Error from server (Forbidden): namespaces is forbidden")) == "Forbidden");
    CHECK(api_error_reason(failed(1, "Error: UPGRADE FAILED: Error from server (InternalError): etcd")) == "InternalError");
    CHECK(api_error_reason(failed(1, "Error from server (NotFound")).empty());  // no closing parenthesis
    CHECK(api_error_reason(failed(1, "error: no objects passed to apply")).empty());
    CHECK(is_transient_failure(failed(1, "Error from server (InternalError): an error on the server (\"\") has prevented the request from succeeding")));
    CHECK(is_transient_failure(failed(1, "Error from server (Timeout): the server was unable to return a response in the time allotted")));
    CHECK(is_transient_failure(failed(1, "Error from server (TooManyRequests): the server has received too many requests")));
    CHECK(is_transient_failure(failed(1, "Unable to connect to the server: dial tcp 10.0.0.1:6443: connect: no route to host")));
    CHECK_FALSE(is_transient_failure(failed(1, "Error from server (BadRequest): error when creating \"STDIN\": bad")));
    CHECK_FALSE(is_transient_failure(failed(1, "Error from server (Invalid): error when creating \"STDIN\": invalid")));
    CHECK_FALSE(is_transient_failure(failed(1, "Error from server (Unauthorized): the server has asked for the client to provide credentials")));
}
