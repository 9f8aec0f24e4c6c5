// `meshproof audit capture` (live capture, one report) and `meshproof audit serve` (continuous
// auditing behind a Prometheus /metrics endpoint), plus the metrics flags that `audit read` shares.
#pragma once

#include <string>
#include <vector>

#include "audit/metrics/metrics_export.hpp"
#include "cli/arg_parser.hpp"

namespace meshproof::audit {
class Engine;
}

namespace meshproof::cli {

int audit_capture(const std::vector<std::string>& args);  // args after "audit capture"
int audit_serve(const std::vector<std::string>& args);    // args after "audit serve"

// Consumes one of --push URL, --metrics-file PATH, --push-job NAME, --push-instance NAME.
bool parse_metrics_flag(ArgParser& p, audit::MetricsOutputs& out);
// Usage lines for those flags (to append to a command's help).
const char* metrics_flags_usage();
// After Engine::finish(): writes/pushes what was asked. kExitOk, or kExitFailure with the reason on
// stderr.
int export_run_metrics(const audit::Engine& engine, const audit::MetricsOutputs& out);

}  // namespace meshproof::cli
