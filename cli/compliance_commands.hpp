// Compliance commands: `meshproof keygen`, `meshproof verify`, and the flags `audit read` (and
// `audit capture`) share for Kubernetes enrichment, policy checks and signed evidence bundles:
//   --k8s-snapshot FILE | --k8s [--kube-context NAME]   workloads for each flow address
//   --policy FILE                                       findings; exit 5 on violations
//   --bundle OUT.tar.gz --key FILE                      signed evidence bundle
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "audit/session/compliance.hpp"
#include "cli/arg_parser.hpp"

namespace meshproof::cli {

// `audit read/capture --policy`: a finding of severity violation (after exceptions and severities).
inline constexpr int kExitPolicyViolations = 5;

int keygen_main(const std::vector<std::string>& args);  // args after "keygen"
int verify_main(const std::vector<std::string>& args);  // args after "verify"

// Consumes one of the flags above (and --k8s-refresh SECONDS when `serve` is true); false when the
// next argument is not one of them.
bool parse_compliance_flag(ArgParser& p, audit::ComplianceOptions& out, bool serve);
bool parse_compliance_flag(ArgParser& p, audit::ComplianceOptions& out);
// Their usage lines, to append to a command's help.
const char* compliance_flags_usage();
// `audit serve`'s (no --bundle, --k8s-refresh added).
const char* serve_compliance_flags_usage();

}  // namespace meshproof::cli
