// What every engine fuzz target checks once the engine has finished: the summary adds up, and every
// report writer (JSON lines, table, diff JSON, HTML) produces well-formed output without a raw
// secret in it.
#pragma once

#include <algorithm>
#include <cctype>
#include <numeric>
#include <sstream>
#include <string>

#include "audit/engine/engine.hpp"
#include "audit/report/diff.hpp"
#include "audit/report/html_report.hpp"
#include "audit/report/report.hpp"
#include "tests/fuzz/targets/fuzz_support.hpp"

namespace meshproof::fuzz {

// A value the report could only contain by leaking it (not short, not produced by redaction).
inline bool leak_checkable(const std::string& v) {
    return v.size() >= 8 && v.find("redacted") == std::string::npos &&
           std::all_of(v.begin(), v.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

inline void check_finished_engine(const audit::Engine& engine, bool keep_records) {
    using namespace meshproof::audit;
    const AuditSummary& s = engine.summary();
    const auto& records = engine.records();
    MESHPROOF_FUZZ_CHECK(engine.active_flows() == 0);
    MESHPROOF_FUZZ_CHECK(std::accumulate(s.verdict_flows.begin(), s.verdict_flows.end(), std::uint64_t{0}) == s.flows);
    MESHPROOF_FUZZ_CHECK(s.flows_evicted <= s.flows);
    MESHPROOF_FUZZ_CHECK(s.tcp_packets + s.udp_packets <= s.packets);
    if (!keep_records) return;
    MESHPROOF_FUZZ_CHECK(records.size() == s.flows);
    // No TCP packet is accounted twice (late ACKs of a flow already reported are in no record).
    std::uint64_t packets = 0, evicted = 0;
    for (const FlowRecord& r : records) {
        packets += r.packets[0] + r.packets[1] + r.duplicates;
        evicted += r.evicted ? 1 : 0;
    }
    MESHPROOF_FUZZ_CHECK(packets <= s.tcp_packets);
    MESHPROOF_FUZZ_CHECK(evicted == s.flows_evicted);
    MESHPROOF_FUZZ_CHECK(std::is_sorted(records.begin(), records.end(), [](const FlowRecord& a, const FlowRecord& b) {
        return a.first_seen < b.first_seen;
    }));

    ReportOptions opt;
    std::ostringstream json, table;
    write_json_lines(json, records, s, opt);
    write_table(table, records, s, opt);
    opt.verbose = true;
    write_table(table, records, s, opt);
    const std::string json_text = json.str();
    MESHPROOF_FUZZ_CHECK(valid_json_lines(json_text));
    // One line per flow plus the summary.
    MESHPROOF_FUZZ_CHECK(static_cast<std::size_t>(std::count(json_text.begin(), json_text.end(), '\n')) == records.size() + 1);

    const FlowDiff diff = diff_audits(records, records);
    const std::string diff_json = diff_to_json(diff, DiffOutputOptions{});
    MESHPROOF_FUZZ_CHECK(JsonChecker::valid(diff_json));
    std::ostringstream diff_text;
    write_diff_text(diff_text, diff, DiffOutputOptions{});
    const std::string html = render_html_report(records, records, diff, HtmlReportOptions{});
    MESHPROOF_FUZZ_CHECK(valid_utf8(html));

    const std::string table_text = table.str(), diff_out = diff_text.str();
    for (const FlowRecord& r : records) {
        for (const SecretFinding& sec : r.secrets) {
            // A location naming client-chosen text (a SASL mechanism) equal to the value is not a leak.
            if (!leak_checkable(sec.value) || sec.location.find(sec.value) != std::string::npos) continue;
            MESHPROOF_FUZZ_CHECK(json_text.find(sec.value) == std::string::npos);
            MESHPROOF_FUZZ_CHECK(table_text.find(sec.value) == std::string::npos);
            MESHPROOF_FUZZ_CHECK(diff_json.find(sec.value) == std::string::npos);
            MESHPROOF_FUZZ_CHECK(diff_out.find(sec.value) == std::string::npos);
            MESHPROOF_FUZZ_CHECK(html.find(sec.value) == std::string::npos);
        }
    }
}

}  // namespace meshproof::fuzz
