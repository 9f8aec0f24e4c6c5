// Provisioning faults against the fake helm/kubectl: a helm SIGKILLed mid-install (its release left
// pending), a kubectl that hangs, an API server answering errors, a read-only state directory (a real
// read-only bind mount in a private mount namespace: root ignores mode bits), a torn journal. Each
// time: the journal stays valid, the user is told what happened and what to run, the next `up`
// converges. Also `status --json`.
#include <doctest/doctest.h>

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

#include "tests/unit/provision/provision_fakes.hpp"

using namespace meshproof::provision;
using namespace meshproof::provision_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<std::string> mutating_lines(const std::vector<FakeCall>& calls) {
    std::vector<std::string> out;
    for (const auto& c : calls) {
        if (c.mutating()) out.push_back(c.line().substr(0, c.line().find(" --")));
    }
    return out;
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("helm SIGKILLed mid-install: pending-install is found, uninstalled, installed again") {
    FakeCluster fc;
    fc.fail_rules(R"([{"step": "istiod", "match": "upgrade --install", "times": 1, "kill": true,
                      "stderr": "creating 3 resource(s)\nbeginning wait for 3 resources with timeout of 5m0s"}])");
    const Result r = fc.run({"up", "--yes"});
    INFO(r.out << r.err);
    REQUIRE(r.code == 1);
    CHECK(has(r.out, "] istiod ... FAILED"));
    CHECK(has(r.err, "command: helm upgrade --install istiod istio/istiod --namespace istio-system --version 1.30.3 "
                     "--wait --timeout 300s\nkilled by signal 9 (SIGKILL) before it finished\n"));
    CHECK(has(r.err, "stderr (last lines):\n  creating 3 resource(s)\n  beginning wait for 3 resources"));
    CHECK(has(r.err, "the release may be left pending-install or pending-upgrade"));
    CHECK(has(r.err, "run `meshproof up` again to resume at istiod"));
    // The fake left what a killed helm leaves; the journal is whole and says where it stopped.
    CHECK(fc.fake_state()["releases"]["istio-system/istiod"]["status"].Scalar() == "pending-install");
    Journal j = fc.journal();
    CHECK(j.state == "failed");
    CHECK(j.steps["istiod"].status == StepStatus::Failed);
    CHECK(has(j.steps["istiod"].message, "killed by signal 9 (SIGKILL)"));
    CHECK(j.steps["istio-base"].status == StepStatus::Done);

    // status says so too
    const Result st = fc.run({"status"});
    CHECK(st.code == 1);
    CHECK(has(st.out, "istiod         pending-install"));
    CHECK(has(st.out, "release istiod is pending-install: a helm operation never finished"));

    fc.clear_calls();
    const Result again = fc.run({"up", "--yes"});
    INFO(again.out << again.err);
    REQUIRE(again.code == 0);
    CHECK(has(again.out, "preflight: release istiod in istio-system is pending-install: an earlier helm did not finish"));
    CHECK(has(again.out, "repair: release istiod in istio-system is pending-install (a helm killed or interrupted "
                         "mid-operation leaves it so, and helm refuses to upgrade it): uninstalling it, then installing\n"));
    const auto lines = mutating_lines(fc.calls());
    REQUIRE(lines.size() >= 2);
    CHECK(lines[0] == "helm uninstall istiod");
    CHECK(lines[1] == "helm upgrade");
    const YAML::Node rel = fc.fake_state()["releases"]["istio-system/istiod"];
    CHECK(rel["status"].Scalar() == "deployed");
    CHECK(rel["revision"].as<int>() == 1);  // a fresh install
    CHECK(fc.journal().state == "complete");
    CHECK(fc.run({"status"}).code == 0);
}

TEST_CASE("helm SIGKILLed mid-upgrade: pending-upgrade is rolled back to the last good revision, then upgraded") {
    FakeCluster fc;
    REQUIRE(fc.run({"up", "--yes"}).code == 0);
    const std::string lab = fc.root + "/lab.yaml";
    std::ofstream(lab) << "charts:\n  kiali: 2.14.0\n";
    fc.fail_rules(R"([{"step": "kiali", "match": "upgrade --install", "times": 1, "kill": true}])");
    const Result r = fc.run({"up", "--yes", "-f", lab});
    INFO(r.out << r.err);
    REQUIRE(r.code == 1);
    CHECK(has(r.err, "killed by signal 9 (SIGKILL)"));
    CHECK(fc.fake_state()["releases"]["istio-system/kiali"]["status"].Scalar() == "pending-upgrade");

    SUBCASE("status --json reports the stuck release") {
        const Result s = fc.run({"status", "--json", "-f", lab});
        auto node = meshproof::provision::detail::parse_json(s.out);
        REQUIRE(node);
        bool found = false;
        for (const auto& rel : (*node)["releases"]) {
            if (rel["name"].Scalar() != "kiali") continue;
            found = true;
            CHECK(rel["status"].Scalar() == "pending-upgrade");
            CHECK(rel["chart"].Scalar() == "kiali-server-2.14.0");
            CHECK(rel["wanted_chart"].Scalar() == "kiali-server-2.14.0");
        }
        CHECK(found);
        CHECK((*node)["healthy"].as<bool>() == false);
    }
    SUBCASE("the next up rolls back, then upgrades") {
        fc.clear_calls();
        const Result again = fc.run({"up", "--yes", "-f", lab});
        INFO(again.out << again.err);
        REQUIRE(again.code == 0);
        CHECK(has(again.out, "repair: release kiali in istio-system is pending-upgrade"));
        CHECK(has(again.out, "rolling it back to revision 1, then installing"));
        CHECK(mutating_lines(fc.calls()) == std::vector<std::string>{"helm rollback kiali 1", "helm upgrade"});
        const YAML::Node rel = fc.fake_state()["releases"]["istio-system/kiali"];
        CHECK(rel["status"].Scalar() == "deployed");
        CHECK(rel["chart"].Scalar() == "kiali-server-2.14.0");
        CHECK(rel["revision"].as<int>() == 4);  // 1 install, 2 killed upgrade, 3 rollback, 4 upgrade
    }
}

TEST_CASE("kubectl that hangs: killed at the timeout, the user is told what to check and to run up again") {
    FakeCluster fc;
    fc.set_env("FAKE_HANG_STEP", "metallb-pool");
    fc.timeout_cap = 2000ms;
    const Result r = fc.run({"up", "--yes"});
    INFO(r.out << r.err);
    REQUIRE(r.code == 1);
    CHECK(has(r.out, "metallb-pool ... FAILED"));
    CHECK(has(r.err, "command: kubectl apply --server-side"));
    CHECK(has(r.err, "timed out after 2s; its process group was killed"));
    CHECK(has(r.err, "the command did not finish in time: the API server or the nodes may be slow or unreachable"));
    CHECK(has(r.err, "kubectl get --raw='/readyz?verbose'"));
    CHECK(has(r.err, "run `meshproof up` again to resume at metallb-pool"));
    std::this_thread::sleep_for(200ms);
    CHECK(pid_dead(fc.k8s + "/hang.pid"));
    CHECK(pid_dead(fc.k8s + "/hang-child.pid"));
    CHECK(fc.journal().steps["metallb-pool"].status == StepStatus::Failed);
    ::unsetenv("FAKE_HANG_STEP");
    fc.timeout_cap = 0ms;
    const Result again = fc.run({"up", "--yes"});
    CHECK(again.code == 0);
    CHECK(has(again.out, "starting at metallb-pool"));
}

TEST_CASE("API server errors: transient ones retried with backoff, permanent ones not, and the message says which") {
    struct Case {
        const char* name;
        const char* stderr_text;
        int times;
        int calls;        // invocations of the step's kubectl apply
        int code;         // of `up`
        const char* says; // in stdout (retries) or stderr (failure)
    };
    const Case cases[] = {
        {"unable to connect", "Unable to connect to the server: dial tcp 192.168.1.10:6443: connect: no route to host", 2, 3,
         0, "transient error (Unable to connect to the server: dial tcp 192.168.1.10:6443: connect: no route to host), retry 2/5"},
        {"internal error", "Error from server (InternalError): an error on the server (\"\") has prevented the request from succeeding",
         1, 2, 0, "transient error (Error from server (InternalError)"},
        {"unavailable", "Error from server (ServiceUnavailable): the server is currently unable to handle the request", 3, 4,
         0, "retry 4/5"},
        {"forbidden", "Error from server (Forbidden): error when creating \"STDIN\": namespaces is forbidden: User \"lab\" "
                      "cannot create resource \"namespaces\" in API group \"\" at the cluster scope", -1, 1, 1,
         "not retried: the API server answered Forbidden, which a retry does not fix"},
        {"invalid", "The Namespace \"meshproof-demo\" is invalid: metadata.labels: Invalid value", -1, 1, 1,
         "exit status 1\nstderr (last lines):\n  The Namespace \"meshproof-demo\" is invalid"},
        {"never recovers", "Error from server (InternalError): Internal error occurred: etcdserver: leader changed", -1, 5, 1,
         "(gave up after 5 attempts with transient errors)\nthe API server kept failing with transient errors"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        FakeCluster fc;
        fc.fail_rules(std::string(R"([{"step": "namespaces", "tool": "kubectl", "match": "apply", "times": )") +
                      std::to_string(c.times) + R"(, "exit": 1, "stderr": ")" +
                      std::regex_replace(c.stderr_text, std::regex("\""), "\\\"") + "\"}]");
        const Result r = fc.run({"up", "--yes"});
        INFO(r.out << r.err);
        CHECK(r.code == c.code);
        int applies = 0;
        for (const auto& call : fc.calls()) applies += call.step == "namespaces" && call.mutating() ? 1 : 0;
        CHECK(applies == c.calls);
        CHECK(has(c.code == 0 ? r.out : r.err, c.says));
        if (c.code != 0) {
            CHECK(has(r.err, "run `meshproof up` again to resume at namespaces"));
            CHECK(fc.journal().steps["namespaces"].status == StepStatus::Failed);
            fs::remove(fc.k8s + "/fail.json");
            CHECK(fc.run({"up", "--yes"}).code == 0);
        }
    }
}

namespace {

// Runs `up` in a child process whose mount namespace has `dir` bind-mounted read-only: chmod 0555
// does not stop root, a read-only mount does. Returns nullopt when namespaces are not allowed here.
std::optional<Result> run_with_read_only_dir(FakeCluster& fc, const std::string& dir, std::vector<std::string> args) {
    const std::string out_file = fc.root + "/child.out";
    const std::string err_file = fc.root + "/child.err";
    const std::string code_file = fc.root + "/child.code";
    std::cout.flush();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = -2;
        if (::unshare(CLONE_NEWNS) == 0 && ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
            ::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) == 0 &&
            ::mount(nullptr, dir.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) == 0) {
            const Result r = fc.run(std::move(args));
            std::ofstream(out_file) << r.out;
            std::ofstream(err_file) << r.err;
            code = r.code;
        }
        std::ofstream(code_file) << code;
        ::_exit(0);  // no destructors: the parent owns the temp directory
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    int code = -3;
    std::ifstream(code_file) >> code;
    if (code == -2) return std::nullopt;
    Result r;
    r.code = code;
    r.out = meshproof::test_support::read_file(out_file);
    r.err = meshproof::test_support::read_file(err_file);
    return r;
}

}  // namespace

TEST_CASE("read-only state directory: up and down refuse before changing anything (exit 3), naming path and errno") {
    FakeCluster fc;
    fc.set_env("FAKE_FAIL_STEP", "istiod");
    REQUIRE(fc.run({"up", "--yes"}).code == 1);  // a journal with work left to do
    ::unsetenv("FAKE_FAIL_STEP");
    const std::string journal_before = meshproof::test_support::read_file(fc.state + "/journal.json");
    fc.clear_calls();
    for (const char* verb : {"up", "down"}) {
        CAPTURE(verb);
        const auto r = run_with_read_only_dir(fc, fc.state, {verb, "--yes"});
        if (!r) {
            MESSAGE("mount namespaces not permitted here: read-only test skipped");
            return;
        }
        INFO(r->out << r->err);
        CHECK(r->code == 3);
        CHECK(has(r->err, "state directory: cannot write in " + fc.state + ": Read-only file system (EROFS)"));
        CHECK(has(r->err, "nothing was changed"));
        CHECK(fc.calls().empty());  // not even preflight ran
    }
    CHECK(meshproof::test_support::read_file(fc.state + "/journal.json") == journal_before);
    CHECK(fc.run({"up", "--yes"}).code == 0);  // writable again: resumes
}

TEST_CASE("torn journal: a clear error with file and line, what to run; nothing changes until it is moved away") {
    FakeCluster fc;
    fc.set_env("FAKE_FAIL_STEP", "kiali");
    REQUIRE(fc.run({"up", "--yes"}).code == 1);
    ::unsetenv("FAKE_FAIL_STEP");
    const std::string path = fc.state + "/journal.json";
    const std::string whole = meshproof::test_support::read_file(path);
    CHECK(mode_of(path) == 0600);
    CHECK(mode_of(fc.state) == 0700);

    SUBCASE("cut in the middle") {
        std::ofstream(path, std::ios::trunc) << whole.substr(0, whole.size() / 2);
        fc.clear_calls();
        const Result r = fc.run({"up", "--yes"});
        INFO(r.err);
        CHECK(r.code == 3);
        CHECK(std::regex_search(r.err, std::regex("journal: " + fc.state + "/journal\\.json:[0-9]+:[0-9]+: ")));
        CHECK(has(r.err, "meshproof status --state-dir " + fc.state));
        CHECK(has(r.err, "mv " + path + " " + path + ".broken && meshproof up"));
        CHECK(fc.calls().empty());
        // status still works and says the journal is unreadable
        const Result s = fc.run({"status", "--json"});
        auto node = meshproof::provision::detail::parse_json(s.out);
        REQUIRE(node);
        CHECK(has((*node)["journal"]["error"].Scalar(), path + ":"));
        // as told: move it away; up adopts what is installed and finishes
        fs::rename(path, path + ".broken");
        const Result again = fc.run({"up", "--yes"});
        INFO(again.out << again.err);
        CHECK(again.code == 0);
        CHECK(has(again.out, "preflight: adopting the existing release istiod"));
        CHECK(fc.journal().state == "complete");
    }
    SUBCASE("cut to nothing") {
        std::ofstream(path, std::ios::trunc).flush();
        const Result r = fc.run({"up", "--yes"});
        CHECK(r.code == 3);
        CHECK(has(r.err, path + ":1:1: empty: the file was cut short"));
    }
    SUBCASE("a crash between write and rename leaves only a temp file: the journal is intact, the temp removed") {
        const std::string tmp = path + ".tmp.999999";
        std::ofstream(tmp) << whole.substr(0, 40);
        const Result r = fc.run({"up", "--yes"});
        INFO(r.out << r.err);
        CHECK(r.code == 0);
        CHECK(has(r.out, "starting at kiali"));
        CHECK_FALSE(fs::exists(tmp));
        CHECK(mode_of(path) == 0600);
    }
}

TEST_CASE("status --json: per step and per release, machine-readable") {
    FakeCluster fc;
    SUBCASE("nothing installed") {
        const Result s = fc.run({"status", "--json"});
        CHECK(s.code == 1);
        auto node = meshproof::provision::detail::parse_json(s.out);
        REQUIRE(node);
        CHECK((*node)["healthy"].as<bool>() == false);
        REQUIRE((*node)["steps"].size() == 21);
        CHECK((*node)["steps"][0]["status"].Scalar() == "pending");
        CHECK((*node)["releases"][0]["status"].Scalar() == "not-installed");
        CHECK((*node)["mtls"].Scalar() == "unknown");
        CHECK_FALSE(has(s.out, "components:"));  // JSON only
    }
    SUBCASE("after up") {
        REQUIRE(fc.run({"up", "--yes"}).code == 0);
        const Result s = fc.run({"status", "--json"});
        INFO(s.out << s.err);
        CHECK(s.code == 0);
        auto node = meshproof::provision::detail::parse_json(s.out);
        REQUIRE(node);
        const YAML::Node& n = *node;
        CHECK(n["lab"].Scalar() == "homelab");
        CHECK(n["context"].Scalar() == "fake-lab");
        CHECK(n["healthy"].as<bool>());
        CHECK(n["journal"]["state"].Scalar() == "complete");
        REQUIRE(n["steps"].size() == 21);
        for (const auto& st : n["steps"]) {
            CAPTURE(st["id"].Scalar());
            CHECK(st["status"].Scalar() == "done");
        }
        bool istiod = false;
        for (const auto& rel : n["releases"]) {
            CHECK(rel["status"].Scalar() == "deployed");
            if (rel["name"].Scalar() != "istiod") continue;
            istiod = true;
            CHECK(rel["namespace"].Scalar() == "istio-system");
            CHECK(rel["chart"].Scalar() == "istiod-1.30.3");
            REQUIRE(rel["workloads"].size() == 1);
            CHECK(rel["workloads"][0]["name"].Scalar() == "istiod");
            CHECK(rel["workloads"][0]["ready"].as<int>() == 1);
        }
        CHECK(istiod);
        CHECK(n["gateway"]["address"].Scalar() == "192.168.1.240");
        CHECK(n["gateway"]["answers"].as<bool>());
        CHECK(n["urls"]["kiali"].Scalar() == "http://kiali.home.arpa/kiali/");
        CHECK(n["mtls"].Scalar() == "STRICT");
        CHECK(n["kiali"]["auth"].Scalar() == "token");
        CHECK(n["warnings"].size() == 0);

        // A changed spec: the steps it changes read "changed".
        const std::string lab = fc.root + "/lab.yaml";
        std::ofstream(lab) << "istio:\n  mtls: PERMISSIVE\n";
        auto changed = meshproof::provision::detail::parse_json(fc.run({"status", "--json", "-f", lab}).out);
        REQUIRE(changed);
        for (const auto& st : (*changed)["steps"]) {
            if (st["id"].Scalar() == "peer-authentication") CHECK(st["status"].Scalar() == "changed");
            if (st["id"].Scalar() == "istiod") CHECK(st["status"].Scalar() == "done");
        }
    }
}
