// Fuzz target: the lab-spec loader (YAML -> LabSpec, validation, "did you mean" suggestions). Any
// text must give a spec or errors that name the file, never an exception or a crash.
#pragma once

#include <string_view>

#include "provision/spec.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

inline int lab_spec_one(Bytes input) {
    using namespace meshproof::provision;
    const auto parsed = parse_spec(as_chars(input), "fuzz.yaml");
    if (!parsed) {
        MESHPROOF_FUZZ_CHECK(!parsed.error().empty());
        for (const SpecError& e : parsed.error()) {
            MESHPROOF_FUZZ_CHECK(e.file == "fuzz.yaml");
            MESHPROOF_FUZZ_CHECK(e.line >= 0 && e.column >= 0);
            MESHPROOF_FUZZ_CHECK(e.to_string().rfind("fuzz.yaml", 0) == 0);
        }
        return 0;
    }
    // A valid spec checks against any cluster ranges without throwing.
    (void)check_pool_against_cluster(parsed->spec, {"10.42.0.0/16"}, {"10.43.0.0/16"});
    return 0;
}

}  // namespace meshproof::fuzz
