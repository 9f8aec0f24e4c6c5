#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_output.hpp"

using namespace meshproof;

namespace {
unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}
std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
struct Umask {
    explicit Umask(mode_t m) : old(::umask(m)) {}
    ~Umask() { ::umask(old); }
    mode_t old;
};
}  // namespace

TEST_CASE("output files get exactly their mode, whatever the umask or an older file") {
    const std::string path = "/tmp/meshproof-file-output-" + std::to_string(::getpid());
    ::unlink(path.c_str());
    SUBCASE("a permissive umask does not widen a report") {
        Umask u(0);
        REQUIRE(write_output_file(path, "report\n", kReportFileMode));
        CHECK(mode_of(path) == 0640u);
        CHECK(slurp(path) == "report\n");
    }
    SUBCASE("an existing world-readable file is narrowed and truncated") {
        {
            std::ofstream old(path);
            old << "an older, longer content";
        }
        ::chmod(path.c_str(), 0644);
        REQUIRE(write_output_file(path, "key", kPrivateFileMode));
        CHECK(mode_of(path) == 0600u);
        CHECK(slurp(path) == "key");
    }
    SUBCASE("a strict umask does not narrow it either") {
        Umask u(077);
        REQUIRE(write_output_file(path, "", kReportFileMode));
        CHECK(mode_of(path) == 0640u);
    }
    SUBCASE("errors name the file and the reason") {
        const auto r = write_output_file("/nonexistent-dir/x.json", "x", kReportFileMode);
        REQUIRE_FALSE(r);
        CHECK(r.error().find("/nonexistent-dir/x.json: cannot create: No such file or directory") == 0);
    }
    SUBCASE("a full disk is reported") {
        if (::access("/dev/full", W_OK) != 0) return;  // not every container has it
        const auto r = write_output_file("/dev/full", std::string(4096, 'x'), kReportFileMode);
        REQUIRE_FALSE(r);
        CHECK(r.error().find("No space left on device") != std::string::npos);
    }
    ::unlink(path.c_str());
}
