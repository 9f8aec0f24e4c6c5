// The provisioner's CLI against the fake cluster (tests/unit/fake_cluster.hpp): a fake HTTP prober,
// `meshproof <verb> ... --state-dir <state>` run in-process, and helpers shared by cli_fakes_test.cpp
// and faults_test.cpp.
#pragma once

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "provision/journal.hpp"
#include "provision/provision_cli.hpp"
#include "provision/yaml_util.hpp"
#include "tests/unit/fake_cluster.hpp"

namespace meshproof::provision_test {

using namespace meshproof::provision;
using namespace std::chrono_literals;

using meshproof::test_support::FakeCall;
using meshproof::test_support::mutating_steps;
using meshproof::test_support::read_file;
inline const std::string& kFakes = meshproof::test_support::kFakesDir;

class FakeProber final : public Prober {
public:
    bool answer = true;
    int fail_port = 0;  // only this port does not answer
    int status = 200;
    std::vector<std::string> calls;
    ProbeResult http_get(const std::string& ip, int port, const std::string& host, const std::string& path,
                         std::chrono::milliseconds) override {
        calls.push_back(ip + ":" + std::to_string(port) + host + path);
        if (!answer || port == fail_port) return {false, 0, "connect: No route to host"};
        return {true, status, ""};
    }
};

struct Result {
    int code = -1;
    std::string out;
    std::string err;
};

// One fake cluster (tests/unit/fake_cluster.hpp) plus the lab's state directory and the fake prober;
// run() is `meshproof <args> --state-dir <state>` in-process.
class FakeCluster : public meshproof::test_support::FakeClusterBase {
public:
    FakeCluster() : FakeClusterBase("meshproof-fakes") {}

    Result run(std::vector<std::string> args) {
        if (args[0] != "init") args.insert(args.end(), {"--state-dir", state});
        ProvisionEnvironment env;
        env.prober = &prober;
        env.interrupt = &interrupt;
        env.retry = RetryPolicy{5, 1ms, 4ms};
        env.poll_interval = 5ms;
        env.in = &no_input_;
        env.interactive = false;
        env.step_timeout_cap = timeout_cap;
        std::ostringstream out, err;
        Result r;
        r.code = run_provision_command(args, out, err, env);
        r.out = out.str();
        r.err = err.str();
        return r;
    }

    Journal journal() const {
        auto j = load_journal(state);
        REQUIRE(j);
        return *j;
    }

    FakeProber prober;
    std::atomic<bool> interrupt{false};
    std::chrono::milliseconds timeout_cap{0};

private:
    std::istringstream no_input_;
};

inline std::vector<std::string> plan_step_ids(FakeCluster& fc, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"plan", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Result r = fc.run(args);
    REQUIRE(r.code == 0);
    auto node = meshproof::provision::detail::parse_json(r.out);
    REQUIRE(node);
    std::vector<std::string> ids;
    for (const auto& s : (*node)["steps"]) ids.push_back(s["id"].Scalar());
    return ids;
}

inline bool pid_dead(const std::string& pid_file) {
    long pid = 0;
    std::ifstream(pid_file) >> pid;
    if (pid <= 0) return false;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string p, comm, st;
    stat >> p >> comm >> st;
    return st == "Z";  // killed, waiting to be reaped by init
}

inline void wait_for_file(const std::string& path) {
    for (int i = 0; i < 500 && !std::filesystem::exists(path); ++i) std::this_thread::sleep_for(10ms);
}

}  // namespace meshproof::provision_test
