// The journal: JSON round trip, atomic 0600 writes, state directory resolution, and the
// self-signed gateway certificate kept next to it.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "provision/journal.hpp"
#include "provision/tls_cert.hpp"

using namespace meshproof::provision;

namespace {

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
    char tmpl[] = "/tmp/meshproof-journal-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    REQUIRE(d != nullptr);
    made.emplace_back(d);
    return d;
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("journal round trip") {
    Journal j;
    j.lab = "homelab";
    j.kube_context = "kind-\"lab\"";
    j.spec_hash = "abc123";
    j.state = "failed";
    j.updated_at = "2025-01-01T00:00:00Z";
    j.steps["istiod"] = {StepStatus::Done, "f1", 41.25, "2025-01-01T00:00:00Z", ""};
    j.steps["istio-ingress"] = {StepStatus::Failed, "f2", 3.0, "2025-01-01T00:01:00Z", "exit status 1\twith a tab"};
    j.steps["kiali"] = {StepStatus::Interrupted, "f3", 0.5, "2025-01-01T00:02:00Z", "interrupted"};
    auto back = journal_from_json(journal_to_json(j));
    REQUIRE(back);
    CHECK(back->lab == "homelab");
    CHECK(back->kube_context == "kind-\"lab\"");
    CHECK(back->spec_hash == "abc123");
    CHECK(back->state == "failed");
    REQUIRE(back->steps.size() == 3);
    CHECK(back->steps["istiod"].status == StepStatus::Done);
    CHECK(back->steps["istiod"].fingerprint == "f1");
    CHECK(back->steps["istiod"].seconds == doctest::Approx(41.2).epsilon(0.01));
    CHECK(back->steps["istio-ingress"].status == StepStatus::Failed);
    CHECK(back->steps["istio-ingress"].message == "exit status 1\twith a tab");
    CHECK(back->steps["kiali"].status == StepStatus::Interrupted);
}

TEST_CASE("journal rejects what it cannot trust") {
    CHECK_FALSE(journal_from_json("[1, 2]"));
    CHECK_FALSE(journal_from_json("{\"version\": 2}"));
    CHECK_FALSE(journal_from_json("{\"version\": 1, \"steps\": {\"x\": {\"status\": \"maybe\"}}}"));
    CHECK_FALSE(journal_from_json("{\"version\": 1, \"steps\": {\"x\": "));
    auto empty = journal_from_json("{}");
    REQUIRE(empty);
    CHECK(empty->steps.empty());
}

TEST_CASE("journal files: missing is empty, written atomically with mode 0600") {
    const std::string dir = temp_dir() + "/state/homelab";
    auto missing = load_journal(dir);
    REQUIRE(missing);
    CHECK(missing->steps.empty());

    Journal j;
    j.lab = "homelab";
    j.steps["repo-istio"] = {StepStatus::Done, "fp", 0.1, "t", ""};
    ::umask(0);  // a permissive umask must not widen the journal's mode
    auto saved = save_journal(dir, j);
    ::umask(022);
    REQUIRE(saved);
    CHECK(mode_of(dir + "/journal.json") == 0600);
    CHECK(mode_of(dir) == 0700);
    // no temp file left behind
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        (void)e;
        ++files;
    }
    CHECK(files == 1);
    auto loaded = load_journal(dir);
    REQUIRE(loaded);
    CHECK(loaded->steps.count("repo-istio") == 1);

    std::ofstream(dir + "/journal.json") << "{ not json";
    CHECK_FALSE(load_journal(dir));
}

TEST_CASE("state directory resolution") {
    const char* old_state = std::getenv("MESHPROOF_STATE_DIR");
    const std::string saved = old_state != nullptr ? old_state : "";
    const char* old_home = std::getenv("HOME");
    const std::string saved_home = old_home != nullptr ? old_home : "";
    ::setenv("MESHPROOF_STATE_DIR", "/srv/meshproof", 1);
    CHECK(default_state_dir("lab1") == "/srv/meshproof/lab1");
    ::unsetenv("MESHPROOF_STATE_DIR");
    ::setenv("XDG_STATE_HOME", "/x/state", 1);
    CHECK(default_state_dir("lab1") == "/x/state/meshproof/lab1");
    ::unsetenv("XDG_STATE_HOME");
    ::setenv("HOME", "/home/u", 1);
    CHECK(default_state_dir("lab1") == "/home/u/.local/state/meshproof/lab1");
    if (!saved.empty()) ::setenv("MESHPROOF_STATE_DIR", saved.c_str(), 1);
    if (!saved_home.empty()) ::setenv("HOME", saved_home.c_str(), 1);
}

TEST_CASE("gateway certificate: generated once, reused, remade when the hosts change") {
    const std::string dir = temp_dir();
    auto a = load_or_make_cert(dir, {"kiali.home.arpa", "prometheus.home.arpa"});
    REQUIRE(a);
    CHECK(a->cert_pem.rfind("-----BEGIN CERTIFICATE-----", 0) == 0);
    CHECK(a->key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
    CHECK(cert_dns_names(a->cert_pem) == std::vector<std::string>{"kiali.home.arpa", "prometheus.home.arpa"});
    CHECK(mode_of(dir + "/ingress-tls.key") == 0600);
    auto b = load_or_make_cert(dir, {"prometheus.home.arpa", "kiali.home.arpa"});
    REQUIRE(b);
    CHECK(b->cert_pem == a->cert_pem);  // same hosts: same certificate, so the Secret does not change
    auto c = load_or_make_cert(dir, {"kiali.home.arpa"});
    REQUIRE(c);
    CHECK(c->cert_pem != a->cert_pem);
    CHECK(cert_dns_names(c->cert_pem) == std::vector<std::string>{"kiali.home.arpa"});
    CHECK_FALSE(make_self_signed_cert({}));
}

TEST_CASE("base64") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode(std::string("\xff\x00\x10", 3)) == "/wAQ");
}

TEST_CASE("a torn journal names the line; errno names; writability is tested by writing") {
    Journal j;
    j.lab = "homelab";
    j.steps["istiod"] = {StepStatus::Done, "f1", 1.0, "t", ""};
    j.steps["kiali"] = {StepStatus::Failed, "f2", 1.0, "t", "exit status 1"};
    const std::string whole = journal_to_json(j);
    SUBCASE("cut inside a string: line and column of the damage") {
        const auto cut = whole.find("\"kiali\"") + 3;
        const std::string torn = whole.substr(0, cut);
        auto r = journal_from_json(torn);
        REQUIRE_FALSE(r);
        const auto line = std::to_string(std::count(torn.begin(), torn.end(), '\n') + 1);
        CHECK(r.error().rfind(line + ":", 0) == 0);
        CHECK(r.error().find("not valid JSON") != std::string::npos);
    }
    SUBCASE("cut at every length: never accepted") {
        for (std::size_t n = 0; n + 1 < whole.size(); ++n) {
            CAPTURE(n);
            auto r = journal_from_json(whole.substr(0, n));
            CHECK_FALSE(r);
            if (!r) CHECK(std::isdigit(static_cast<unsigned char>(r.error().front())));
        }
        CHECK(journal_from_json(whole));
    }
    SUBCASE("the file name goes in front: path:line:col") {
        const std::string dir = temp_dir();
        std::ofstream(dir + "/journal.json") << whole.substr(0, whole.size() / 2);
        auto r = load_journal(dir);
        REQUIRE_FALSE(r);
        CHECK(r.error().rfind(dir + "/journal.json:", 0) == 0);
        CHECK(std::isdigit(static_cast<unsigned char>(r.error()[dir.size() + 14])));
    }
    SUBCASE("errno_text and check_state_dir_writable") {
        CHECK(errno_text(EROFS) == "Read-only file system (EROFS)");
        CHECK(errno_text(EACCES) == "Permission denied (EACCES)");
        CHECK(errno_text(ENOSPC).find("(ENOSPC)") != std::string::npos);
        const std::string dir = temp_dir();
        CHECK(check_state_dir_writable(dir + "/new/lab"));
        CHECK(mode_of(dir + "/new/lab") == 0700);
        int files = 0;
        for (const auto& e : std::filesystem::directory_iterator(dir + "/new/lab")) {
            (void)e;
            ++files;
        }
        CHECK(files == 0);  // the probe file is gone
        std::ofstream(dir + "/file") << "x";
        auto not_dir = check_state_dir_writable(dir + "/file/lab");
        REQUIRE_FALSE(not_dir);
        CHECK(not_dir.error().find("Not a directory (ENOTDIR)") != std::string::npos);
    }
    SUBCASE("stale temp files of a crashed writer are removed by the next save") {
        const std::string dir = temp_dir();
        REQUIRE(save_journal(dir, j));
        std::ofstream(dir + "/journal.json.tmp.1") << "{\"version\": 1, \"la";
        std::ofstream(dir + "/other.tmp.1") << "not ours";
        auto loaded = load_journal(dir);  // the temp file never counts
        REQUIRE(loaded);
        CHECK(loaded->steps.size() == 2);
        REQUIRE(save_journal(dir, j));
        CHECK_FALSE(std::filesystem::exists(dir + "/journal.json.tmp.1"));
        CHECK(std::filesystem::exists(dir + "/other.tmp.1"));
    }
}
