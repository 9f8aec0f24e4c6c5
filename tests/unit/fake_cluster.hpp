// A fake cluster for tests that run the real provisioner against tests/fakes (helm, kubectl: Python
// programs that keep their state in a directory and fail on demand, see tests/fakes/fakek8s.py).
// Shared by tests/unit/provision and tests/unit/play: a temp directory, the fakes first on PATH,
// their knobs cleared, and readers for what the fakes recorded (calls.log, state.json).
#pragma once

#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "provision/yaml_util.hpp"

namespace meshproof::test_support {

inline const std::string kFakesDir = MESHPROOF_SOURCE_DIR "/tests/fakes";

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// One invocation of a fake, from calls.log.
struct FakeCall {
    std::string tool;
    std::vector<std::string> argv;
    std::string step;  // $MESHPROOF_STEP
    std::string stdin_text;

    [[nodiscard]] std::string line() const {
        std::string s = tool;
        for (const auto& a : argv) s += " " + a;
        return s;
    }
    // Changes the cluster (or helm's local repository list).
    [[nodiscard]] bool mutating() const {
        auto has = [&](std::size_t i, const char* w) { return argv.size() > i && argv[i] == w; };
        if (tool == "helm")
            return has(0, "upgrade") || has(0, "install") || has(0, "uninstall") || has(0, "rollback") ||
                   (has(0, "repo") && (has(1, "add") || has(1, "update")));
        return has(0, "apply") || has(0, "delete") || has(0, "label") || has(0, "create") || has(0, "patch");
    }
};

// The temp directory (root), the fakes' state (k8s) and the lab's state directory (state); PATH and
// every FAKE_* knob are restored when it goes away.
class FakeClusterBase {
public:
    // `name` prefixes the temp directory, /tmp/<name>-XXXXXX.
    explicit FakeClusterBase(const std::string& name) {
        std::string tmpl_text = "/tmp/" + name + "-XXXXXX";
        std::vector<char> tmpl(tmpl_text.begin(), tmpl_text.end());
        tmpl.push_back('\0');
        const char* d = ::mkdtemp(tmpl.data());
        REQUIRE(d != nullptr);
        root = d;
        k8s = root + "/k8s";
        state = root + "/state";
        std::filesystem::create_directories(k8s);
        static const std::string original_path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
        path_ = original_path;
        set_env("PATH", kFakesDir + ":" + original_path);
        set_env("FAKE_K8S_STATE", k8s);
        for (const char* knob : {"FAKE_FAIL_STEP", "FAKE_HANG_STEP", "FAKE_LB_POLLS", "FAKE_WEBHOOK_WARMUP", "FAKE_NO_CLUSTER",
                                 "FAKE_NODES_NOT_READY", "FAKE_SERVICE_CIDR", "FAKE_HELM_VERSION", "FAKE_KUBECTL_VERSION",
                                 "FAKE_SERVER_VERSION", "FAKE_CONTEXT", "FAKE_NO_CONTEXT", "MESHPROOF_MANIFESTS_DIR"})
            ::unsetenv(knob);
    }
    ~FakeClusterBase() {
        for (const auto& k : set_) ::unsetenv(k.c_str());
        ::setenv("PATH", path_.c_str(), 1);
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }
    FakeClusterBase(const FakeClusterBase&) = delete;
    FakeClusterBase& operator=(const FakeClusterBase&) = delete;

    void set_env(const std::string& k, const std::string& v) {
        ::setenv(k.c_str(), v.c_str(), 1);
        set_.push_back(k);
    }

    // A directory of shims searched before the fakes.
    void put_first_on_path(const std::string& dir) {
        const char* now = std::getenv("PATH");
        set_env("PATH", dir + ":" + (now != nullptr ? now : ""));
    }

    [[nodiscard]] std::vector<FakeCall> calls() const {
        std::vector<FakeCall> out;
        std::istringstream in(read_file(k8s + "/calls.log"));
        std::string line;
        while (std::getline(in, line)) {
            auto node = provision::detail::parse_json(line);
            REQUIRE(node);
            FakeCall c;
            c.tool = (*node)["tool"].Scalar();
            for (const auto& a : (*node)["argv"]) c.argv.push_back(a.Scalar());
            c.step = (*node)["step"].Scalar();
            if ((*node)["stdin"].IsScalar()) c.stdin_text = (*node)["stdin"].Scalar();
            out.push_back(std::move(c));
        }
        return out;
    }
    void clear_calls() const { std::ofstream(k8s + "/calls.log", std::ios::trunc); }

    // tests/fakes/fakek8s.py documents the rules (step, match, times, exit, stderr, hang, kill).
    void fail_rules(const std::string& json) const { std::ofstream(k8s + "/fail.json") << json; }

    [[nodiscard]] YAML::Node fake_state() const {
        auto node = provision::detail::parse_json(read_file(k8s + "/state.json"));
        REQUIRE(node);
        return *node;
    }

    std::string root, k8s, state;

private:
    std::string path_;
    std::vector<std::string> set_;
};

// The steps (in order) of the mutating calls.
inline std::vector<std::string> mutating_steps(const std::vector<FakeCall>& calls) {
    std::vector<std::string> out;
    for (const auto& c : calls) {
        if (c.mutating()) out.push_back(c.step);
    }
    return out;
}

}  // namespace meshproof::test_support
