// Every capture of ../shared/testdata/pcaps-more, through the whole engine: as many TCP flows per
// file as tshark has conversations in its truth.tsv (the link layers, encapsulations and file
// formats of that set: NFLOG, MPLS in VLANs, radiotap, PPP/Cisco HDLC, CAPWAP, GRE/ERSPAN, Geneve/GRE,
// TSO/BIG TCP, gzip, pcapng with mixed snapshot lengths), read to the end without an input error.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "audit/engine/engine.hpp"

using namespace meshproof::audit;

namespace {

const std::string kMore = std::string(MESHPROOF_SHARED_TESTDATA) + "/pcaps-more";

// Where tshark's count of conversations is not the number of TCP connections (README there).
const std::map<std::string, std::size_t> kReviewed{
    // One connection; with heuristics first tshark 4.0 splits it into two tcp.streams.
    {"00-vnc-openwall-3.7.pcap", 1},
};

}  // namespace

TEST_CASE("pcaps-more: flows per file equal tshark's conversations, every file read without error") {
    std::map<std::string, std::size_t> truth;
    std::ifstream in(kMore + "/truth.tsv");
    REQUIRE_MESSAGE(in.good(), "cannot read " << kMore << "/truth.tsv");
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
        if (!line.empty()) ++truth[line.substr(0, line.find('\t'))];
    }
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(kMore)) {
        const std::string name = e.path().filename().string();
        if (name.ends_with(".tsv") || name.ends_with(".md")) continue;
        CAPTURE(name);
        ++files;
        Engine engine;
        read_capture_files({e.path().string()}, engine);
        engine.finish();
        const AuditSummary& s = engine.summary();
        REQUIRE(s.inputs.size() == 1);
        CHECK_MESSAGE(!s.inputs[0].error.has_value(), s.inputs[0].error.value_or(""));
        CHECK(s.unsupported_link == 0);
        CHECK(s.malformed_frames == 0);
        const auto reviewed = kReviewed.find(name);
        const std::size_t want = reviewed != kReviewed.end() ? reviewed->second : truth[name];
        CHECK(engine.records().size() == want);
        if (name == "radiotap.pcap" || name == "gopacket-test004.pcapng") CHECK(s.udp_packets > 0);  // UDP only
    }
    CHECK(files >= 32);
}
