// Fuzz target: the whole pipeline on a capture file (pcap or pcapng, libpcap and our pcapng
// fallback), exactly as `meshproof audit read` runs it: the bytes go to an anonymous in-memory file
// (memfd) read through its /proc/self/fd path, then every report writer runs on the result.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "tests/fuzz/targets/engine_checks.hpp"

namespace meshproof::fuzz {

inline int engine_pcap_one(Bytes input) {
    using namespace meshproof::audit;
    const int fd = memfd_create("meshproof-fuzz", 0);
    if (fd < 0) return 0;
    std::size_t done = 0;
    while (done < input.size()) {
        const ssize_t n = ::write(fd, input.data() + done, input.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    EngineConfig cfg;
    cfg.max_flows = 8;  // small, so eviction runs too
    Engine engine(cfg);
    const bool ok = read_capture_files({path}, engine);
    engine.finish();
    ::close(fd);
    const AuditSummary& s = engine.summary();
    MESHPROOF_FUZZ_CHECK(s.inputs.size() == 1);
    // A failed input says so in one line that names the file.
    MESHPROOF_FUZZ_CHECK(ok == !s.inputs[0].error.has_value());
    if (s.inputs[0].error) {
        MESHPROOF_FUZZ_CHECK(s.inputs[0].error->find(path) != std::string::npos);
        MESHPROOF_FUZZ_CHECK(s.inputs[0].error->find('\n') == std::string::npos);
        MESHPROOF_FUZZ_CHECK(!s.inputs[0].error_kind.empty());
    }
    check_finished_engine(engine, true);
    return 0;
}

}  // namespace meshproof::fuzz
