// Per-lab journal: which steps finished (with the fingerprint of what they ran) and the plan hash,
// so `up` resumes at the failed step and does nothing but read-only checks on an unchanged lab.
// Stored as JSON in <state dir>/journal.json, written atomically (temp file + rename), mode 0600.
#pragma once

#include <map>
#include <string>

#include <tl/expected.hpp>

namespace meshproof::provision {

enum class StepStatus { Done, Failed, Interrupted };
std::string_view to_string(StepStatus s);

struct StepRecord {
    StepStatus status = StepStatus::Done;
    std::string fingerprint;  // step_fingerprint() of what ran
    double seconds = 0;
    std::string finished_at;  // UTC, ISO 8601
    std::string message;      // failure summary (failed/interrupted)
};

struct Journal {
    int version = 1;
    std::string lab;
    std::string kube_context;  // as resolved at preflight
    std::string spec_hash;     // plan_hash() of the last `up`
    std::string state;         // "running", "complete", "failed", "interrupted", "down"
    std::string updated_at;
    std::map<std::string, StepRecord> steps;
};

// <dir>/journal.json; a missing file is an empty journal, an unreadable one an error naming the
// file and the line ("<dir>/journal.json:5:3: ...").
tl::expected<Journal, std::string> load_journal(const std::string& state_dir);
tl::expected<void, std::string> save_journal(const std::string& state_dir, const Journal& journal);

std::string journal_to_json(const Journal& journal);
tl::expected<Journal, std::string> journal_from_json(std::string_view text);

// $MESHPROOF_STATE_DIR/<lab>, else $XDG_STATE_HOME/meshproof/<lab>, else ~/.local/state/meshproof/<lab>.
std::string default_state_dir(const std::string& lab);
// mkdir -p with mode 0700 for what we create.
tl::expected<void, std::string> ensure_private_dir(const std::string& dir);
// Atomic replace with the given mode (temp file in the same directory, fsync, rename, fsync dir).
tl::expected<void, std::string> write_file_atomic(const std::string& path, std::string_view data, unsigned mode);

std::string utc_now_iso8601();

// strerror plus the errno's name: "Read-only file system (EROFS)".
std::string errno_text(int err);
// mkdir -p, then create and remove a file in it: the only test that a read-only mount fails for root.
tl::expected<void, std::string> check_state_dir_writable(const std::string& state_dir);
// journal.json.tmp.* of writers that crashed before their rename (not ours).
void remove_stale_temp_files(const std::string& state_dir);
// What to do about an unreadable journal: `meshproof status`, then move it away.
std::string journal_recovery_hint(const std::string& state_dir);

}  // namespace meshproof::provision
