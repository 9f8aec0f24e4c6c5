// A self-contained HTML page for a before/after audit: summary, an inline SVG chart of flows by
// verdict, the per-group diff and every flow with its evidence. No external resource of any kind
// (no scripts, fonts, images or links to fetch), so it can be mailed or attached to a ticket, and
// secrets are redacted unless show_secrets.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/report/diff.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit {

struct HtmlReportOptions {
    std::string title = "meshproof: before / after";
    // Shown under the title as "name: value" (host, time, interface, ...).
    std::vector<std::pair<std::string, std::string>> facts;
    EndpointNames names;           // the same names given to diff_audits
    bool show_secrets = false;
};

std::string render_html_report(const std::vector<FlowRecord>& before, const std::vector<FlowRecord>& after,
                               const FlowDiff& diff, const HtmlReportOptions& opt);

// &, <, >, " and ' as entities; bytes that are not printable ASCII or valid UTF-8 as U+FFFD.
std::string html_escape(std::string_view text);

}  // namespace meshproof::audit
