// `audit read|capture|serve` flags -> an audit::SessionConfig (the session does the rest), and the
// session's outcome -> the exit status. UsageError for a bad flag or combination.
#pragma once

#include <string>
#include <vector>

#include "audit/session/session.hpp"
#include "cli/arg_parser.hpp"

namespace meshproof::cli {

struct AuditInvocation {
    audit::SessionConfig config;
    bool help = false;  // -h/--help: print the usage, run nothing
};

AuditInvocation read_flags(const std::vector<std::string>& args);     // args after "audit read"
AuditInvocation capture_flags(const std::vector<std::string>& args);  // args after "audit capture"
AuditInvocation serve_flags(const std::vector<std::string>& args);    // args after "audit serve"

// The commands' usage texts (cli/audit_command.cpp), appended to a usage error.
const char* read_usage();
const char* capture_usage();
const char* serve_usage();

// Consumes one of --push URL, --metrics-file PATH, --push-job NAME, --push-instance NAME.
bool parse_metrics_flag(ArgParser& p, audit::MetricsOutputs& out);
// "30s", "5m", "1h", "250ms", "1.5" (seconds) -> seconds; UsageError naming `flag` otherwise.
double parse_duration(const std::string& flag, const std::string& text);

// 3 --fail-on matched, 1 nothing started / an input unreadable / an output failed, 5 a policy
// violation, 4 an input damaged part-way, else 0 (docs/cli.md).
int exit_status(const audit::SessionOutcome& o);

}  // namespace meshproof::cli
