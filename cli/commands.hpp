// The meshproof command line: argv -> subcommand. Logic lives in the libraries; this only parses
// flags and wires inputs to outputs. Configuration errors are exceptions caught in run().
#pragma once

#include <string>
#include <vector>

#include "common/usage_error.hpp"

namespace meshproof::cli {

// Exit codes (docs/cli.md): 0 ok, 1 runtime failure, 2 usage error, 3 --fail-on matched,
// 4 an input was damaged (truncated/corrupt/unreadable; flows before the damage were reported),
// 5 --policy found a violation (kExitPolicyViolations, cli/compliance_commands.hpp).
inline constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitFailOn = 3, kExitDamagedInput = 4;

using meshproof::UsageError;

int run(int argc, char** argv);
int run(const std::vector<std::string>& args);

int audit_main(const std::vector<std::string>& args);  // args after "audit"
int demo_main(const std::vector<std::string>& args);   // args after "demo"
int play_main(const std::vector<std::string>& args);   // args after "play"

}  // namespace meshproof::cli
