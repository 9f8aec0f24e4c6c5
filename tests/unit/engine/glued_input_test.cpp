// Two captures glued together (cat a.pcap b.pcap): read_capture_files reports both files' flows and
// says in the input's description where the second one starts.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

#include "audit/engine/engine.hpp"

using namespace meshproof::audit;

namespace {
std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::size_t flows_in(const std::string& path) {
    Engine e;
    REQUIRE(read_capture_files({path}, e));
    e.finish();
    return e.records().size();
}
}  // namespace

TEST_CASE("glued captures: both files' flows, and the input says where the second begins") {
    const std::string dir = std::string(MESHPROOF_SOURCE_DIR) + "/tests/captures/pcaps/";
    const std::string a = dir + "http-plaintext-secrets.pcap", b = dir + "istio-mtls-tls13.pcap";
    const std::string first = slurp(a);
    REQUIRE(!first.empty());
    const std::string glued = "/tmp/meshproof-glued-" + std::to_string(::getpid()) + ".pcap";
    {
        std::ofstream out(glued, std::ios::binary);
        out << first << slurp(b);
    }
    Engine e;
    const bool ok = read_capture_files({glued}, e);
    e.finish();
    std::remove(glued.c_str());
    CHECK(ok);
    CHECK(e.records().size() == flows_in(a) + flows_in(b));
    REQUIRE(e.summary().inputs.size() == 1);
    const std::string& description = e.summary().inputs[0].description;
    CAPTURE(description);
    CHECK(description.find("another capture file starts at byte offset " + std::to_string(first.size())) !=
          std::string::npos);
    CHECK_FALSE(e.summary().inputs[0].error);
}
