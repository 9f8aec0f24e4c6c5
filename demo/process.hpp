// Running programs for the demo with fork/exec (argv, never a shell). Every child gets its own
// process group (so the terminal's Ctrl-C reaches only meshproof, which then stops them in order),
// stdin from /dev/null, no inherited descriptors, and SIGKILL if meshproof itself dies.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace meshproof::demo {

struct CommandResult {
    // Exit status; 128+N when killed by signal N; 124 on timeout; 127 when it could not be started.
    int exit_code = 127;
    std::string output;  // stdout and stderr interleaved, at most 64 KiB (the rest is dropped)
    [[nodiscard]] bool ok() const { return exit_code == 0; }
};

using Environment = std::vector<std::pair<std::string, std::string>>;

// Runs to completion. `extra_env` is added to (and overrides) meshproof's environment.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const Environment& extra_env = {});

// A background process; stopped (its whole process group) by stop() or the destructor.
class Child {
public:
    // stdout and stderr go to `log_path` (created/truncated, mode 0600).
    static tl::expected<Child, std::string> spawn(const std::vector<std::string>& argv, const std::string& log_path,
                                                  const Environment& extra_env = {});
    Child() = default;
    ~Child();
    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] const std::string& log_path() const { return log_path_; }
    // False once it exited (reaped; exit_code() then says how).
    bool running();
    [[nodiscard]] std::optional<int> exit_code() const { return exit_code_; }
    // Waits for it to exit by itself; false on timeout or when `cancel` was set.
    bool wait(std::chrono::milliseconds timeout, const std::atomic<bool>* cancel = nullptr);
    // Sends `sig` to its process group (SIGINT lets tcpdump-like tools flush), waits up to `grace`,
    // then SIGKILLs the group. Safe to call when already stopped.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(2), int sig = 15 /* SIGTERM */);

private:
    pid_t pid_ = -1;
    std::string name_, log_path_;
    std::optional<int> exit_code_;
};

// Full path of an executable found in $PATH (or the standard sbin directories, which root's
// non-login shells sometimes lack), nullopt when missing.
std::optional<std::string> find_program(const std::string& name);

// Last `max_lines` lines of a text file (for error messages that point at a log).
std::string tail_file(const std::string& path, std::size_t max_lines = 12);

// Sleeps in small steps; false when `cancel` was set before the time was up.
bool sleep_for(std::chrono::milliseconds d, const std::atomic<bool>* cancel);

}  // namespace meshproof::demo
