// Human and machine reports of an audit: JSON lines (one object per flow, then a summary) and a
// readable terminal table. Secrets are redacted unless show_secrets.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "audit/report/audit_summary.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit {

struct ReportOptions {
    bool show_secrets = false;
    bool color = false;
    bool verbose = false;   // table: print every evidence line and certificate
};

std::string flow_to_json(const FlowRecord& f, const ReportOptions& opt);
std::string summary_to_json(const AuditSummary& s);
void write_json_lines(std::ostream& out, const std::vector<FlowRecord>& flows, const AuditSummary& s,
                      const ReportOptions& opt);
void write_table(std::ostream& out, const std::vector<FlowRecord>& flows, const AuditSummary& s,
                 const ReportOptions& opt);

// The one place a secret becomes text: redacted, or raw when the user asked.
std::string secret_text(const SecretFinding& s, bool show_secrets);
std::string format_ts(double ts);   // ISO 8601 UTC with microseconds

}  // namespace meshproof::audit
