// Fuzz target: the playbook loader (YAML -> validated Playbook: variables, steps, references between
// steps, assert expressions, durations) of `meshproof play`. Any text gives a playbook or errors
// that name the file, never an exception or a crash.
//
// Input: [mode][text]. mode 0-239: the text is a playbook (file "fuzz.yaml" in an empty directory, so
// relative inputs do not exist); 240-247: an assert expression over an audit, 248-255: over a diff;
// both also go through parse_duration and parse_var_assignment.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "play/assert_expr.hpp"
#include "play/playbook.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

// An empty directory, made once per process and removed at exit, as the playbook's base directory.
struct PlaybookFuzzDir {
    std::string path;
    PlaybookFuzzDir() {
        std::string templ = (std::filesystem::temp_directory_path() / "meshproof-fuzz-play-XXXXXX").string();
        const char* made = ::mkdtemp(templ.data());
        path = made ? made : "/nonexistent-meshproof-fuzz";
    }
    ~PlaybookFuzzDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    PlaybookFuzzDir(const PlaybookFuzzDir&) = delete;
    PlaybookFuzzDir& operator=(const PlaybookFuzzDir&) = delete;
};
inline const std::string& playbook_fuzz_dir() {
    static const PlaybookFuzzDir dir;
    return dir.path;
}

inline int playbook_one(Bytes input) {
    using namespace meshproof::play;
    FuzzInput in(input);
    const std::uint8_t mode = in.u8();
    const std::string_view text = as_chars(in.rest());
    if (mode < 240) {
        const auto parsed = parse_playbook(text, "fuzz.yaml", playbook_fuzz_dir(), VarOverrides{{"fuzz", "1"}});
        if (!parsed) {
            MESHPROOF_FUZZ_CHECK(!parsed.error().empty());
            for (const PlayError& e : parsed.error()) MESHPROOF_FUZZ_CHECK(e.to_string().find("fuzz.yaml") != std::string::npos);
            return 0;
        }
        for (std::size_t i = 0; i < parsed->steps.size(); ++i) {
            MESHPROOF_FUZZ_CHECK(parsed->steps[i].number == i + 1);
            MESHPROOF_FUZZ_CHECK(!parsed->steps[i].label().empty());
        }
        (void)parsed->uses_lab();
        (void)parsed->uses_kubectl();
        return 0;
    }
    const auto target = mode < 248 ? AssertTarget::Audit : AssertTarget::Diff;
    if (const auto expr = parse_assert_expr(text, target); !expr) MESHPROOF_FUZZ_CHECK(!expr.error().empty());
    if (const auto d = parse_duration(text)) {
        // What we print, we read back the same.
        const auto again = parse_duration(format_duration(*d));
        MESHPROOF_FUZZ_CHECK(again && *again == *d);
    }
    if (const auto kv = parse_var_assignment(text)) MESHPROOF_FUZZ_CHECK(!kv->first.empty());
    return 0;
}

}  // namespace meshproof::fuzz
