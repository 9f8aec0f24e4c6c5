// Replays every committed fuzz input (tests/fuzz/regressions/<target>/: inputs that once crashed or
// broke an invariant; tests/fuzz/corpus/<target>/: the seeds) through the same entry points the
// libFuzzer targets use, without libFuzzer, so every build (and the ASan/UBSan CI job) re-checks
// them. A broken invariant aborts, which doctest reports as a crash of the test case.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/targets/certificate.hpp"
#include "tests/fuzz/targets/decode_frame.hpp"
#include "tests/fuzz/targets/engine_packets.hpp"
#include "tests/fuzz/targets/engine_pcap.hpp"
#include "tests/fuzz/targets/hpack.hpp"
#include "tests/fuzz/targets/keylog.hpp"
#include "tests/fuzz/targets/lab_spec.hpp"
#include "tests/fuzz/targets/pcapng_reader.hpp"
#include "tests/fuzz/targets/plaintext.hpp"
#include "tests/fuzz/targets/playbook.hpp"
#include "tests/fuzz/targets/tcp_stream.hpp"
#include "tests/fuzz/targets/tls_parser.hpp"

namespace fs = std::filesystem;
using namespace meshproof;

namespace {

const fs::path kFuzzDir = fs::path(MESHPROOF_SOURCE_DIR) / "tests" / "fuzz";

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Files of tests/fuzz/<kind>/<target>/, sorted so failures are reproducible.
std::vector<fs::path> inputs(const char* kind, const char* target) {
    std::vector<fs::path> out;
    const fs::path dir = kFuzzDir / kind / target;
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.is_regular_file()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

using Entry = int (*)(Bytes);
struct Target {
    const char* name;
    Entry run;
};
const Target kTargets[] = {
    {"decode_frame", fuzz::decode_frame_one},     {"tls_parser", fuzz::tls_parser_one},
    {"certificate", fuzz::certificate_one},       {"plaintext", fuzz::plaintext_one},
    {"hpack", fuzz::hpack_one},                   {"tcp_stream", fuzz::tcp_stream_one},
    {"keylog", fuzz::keylog_one},
    {"engine_pcap", fuzz::engine_pcap_one},       {"engine_packets", fuzz::engine_packets_one},
    {"pcapng_reader", fuzz::pcapng_reader_one},   {"lab_spec", fuzz::lab_spec_one},
    {"playbook", fuzz::playbook_one},
};

std::size_t replay(const char* kind, const Target& t) {
    std::size_t n = 0;
    for (const fs::path& p : inputs(kind, t.name)) {
        INFO("replaying " << p.string());
        const std::vector<std::uint8_t> bytes = read_bytes(p);
        CHECK(t.run(Bytes(bytes)) == 0);
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("fuzz regression inputs replay without a crash or a broken invariant") {
    for (const Target& t : kTargets) {
        SUBCASE(t.name) { replay("regressions", t); }
    }
}

TEST_CASE("fuzz seed corpora replay without a crash or a broken invariant") {
    for (const Target& t : kTargets) {
        SUBCASE(t.name) {
            // Every target has seeds: an empty corpus would silently make the fuzzer start from nothing.
            CHECK(replay("corpus", t) > 0);
        }
    }
}

TEST_CASE("the fuzz support code rejects what it must") {
    SUBCASE("strict UTF-8") {
        CHECK(fuzz::valid_utf8("plain ascii"));
        CHECK(fuzz::valid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x94\x92"));
        CHECK_FALSE(fuzz::valid_utf8("\xc0\xaf"));          // overlong '/'
        CHECK_FALSE(fuzz::valid_utf8("\xed\xa0\x80"));      // UTF-16 surrogate
        CHECK_FALSE(fuzz::valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
        CHECK_FALSE(fuzz::valid_utf8("\xe2\x80"));          // cut
    }
    SUBCASE("JSON syntax") {
        CHECK(fuzz::JsonChecker::valid(R"({"a":[1,-2.5e3,true,null,"x\u00e9\n"],"b":{}})"));
        CHECK_FALSE(fuzz::JsonChecker::valid(R"({"a":1,})"));
        CHECK_FALSE(fuzz::JsonChecker::valid("{\"a\":\"tab\tinside\"}"));
        CHECK_FALSE(fuzz::JsonChecker::valid(R"({"a":01})"));
        CHECK_FALSE(fuzz::JsonChecker::valid(R"({"a":"\x"})"));
        CHECK_FALSE(fuzz::JsonChecker::valid(R"({"a":1} {"b":2})"));
        CHECK(fuzz::valid_json_lines("{\"a\":1}\n{\"b\":2}\n"));
        CHECK_FALSE(fuzz::valid_json_lines("{\"a\":1}\n{\"b\":\n"));
    }
    SUBCASE("the TCP stream oracle sees a wrong byte") {
        // Two in-order segments of the oracle's stream: the reassembled prefix is the oracle itself.
        audit::TcpStream s;
        s.on_syn(99);
        std::vector<std::uint8_t> seg(300);
        for (std::size_t i = 0; i < seg.size(); ++i) seg[i] = fuzz::stream_byte(i);
        s.on_segment(100, Bytes(seg).first(100), 100);
        s.on_segment(200, Bytes(seg).subspan(100), 200);
        REQUIRE(s.data().size() == 300);
        CHECK(std::equal(seg.begin(), seg.end(), s.data().begin()));
        CHECK(fuzz::stream_byte(1) != fuzz::stream_byte(2));
    }
}

// Found by engine_pcap: a pcapng that mixes link types (read by our fallback reader) with if_tsresol
// 0 (1 s ticks) and a 64-bit timestamp of ~1.8e19 s made format_ts cast a double beyond the range of
// time_t (undefined behaviour; UBSan: "outside the range of representable values of type 'long'").
TEST_CASE("a timestamp beyond year 9999 is reported as a valid date or none") {
    const fs::path file = kFuzzDir / "regressions" / "engine_pcap" / "pcapng_fallback_timestamp_2e19.pcapng";
    REQUIRE(fs::exists(file));
    audit::Engine engine;
    CHECK(audit::read_capture_files({file.string()}, engine));
    engine.finish();
    REQUIRE(engine.records().size() == 1);
    const std::string first_seen = audit::format_ts(engine.records()[0].first_seen);
    INFO("first_seen = " << first_seen);
    // Either no date at all, or a real one: year 0001-9999, month 01-12, day 01-31.
    if (!first_seen.empty()) {
        REQUIRE(first_seen.size() >= 10);
        const int month = std::stoi(first_seen.substr(5, 2)), day = std::stoi(first_seen.substr(8, 2));
        CHECK(first_seen[4] == '-');
        CHECK(month >= 1);
        CHECK(month <= 12);
        CHECK(day >= 1);
        CHECK(day <= 31);
    }
}
