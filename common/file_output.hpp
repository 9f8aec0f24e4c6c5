// Files meshproof writes for people and tools: reports, evidence captures, keys. Each is created with
// its final mode from the first moment (open(2) with the mode, then fchmod, so neither the umask nor
// an older file's mode decides), which matters for evidence pcaps: they hold the wire's plaintext,
// secrets included.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

#include <tl/expected.hpp>

namespace meshproof {

inline constexpr mode_t kReportFileMode = 0640;   // reports, verdicts, evidence (issue #6: reports 0640)
inline constexpr mode_t kPrivateFileMode = 0600;  // keys, state, journals

// Creates or truncates `path` for writing with exactly `mode` (a regular file; FIFOs and devices keep
// theirs). Returns the descriptor (O_CLOEXEC), or "PATH: reason".
tl::expected<int, std::string> create_output_file(const std::string& path, mode_t mode);

// create_output_file + write everything + close; "PATH: reason" on any failure (ENOSPC included).
tl::expected<void, std::string> write_output_file(const std::string& path, std::string_view content, mode_t mode);

}  // namespace meshproof
