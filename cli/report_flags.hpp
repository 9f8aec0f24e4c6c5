// Flags shared by every command that prints an audit report (read, capture, serve).
#pragma once

#include <set>
#include <string>

#include "audit/verdict/flow_record.hpp"

namespace meshproof::cli {

// "plaintext-served,plaintext-rejected" -> verdicts; UsageError on an unknown name.
std::set<audit::Verdict> parse_fail_on(const std::string& list);
// --color auto|always|never; auto = stdout is a terminal and NO_COLOR is unset.
bool want_color(const std::string& when);

}  // namespace meshproof::cli
