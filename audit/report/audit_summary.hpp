// Totals for one audit run (all inputs), filled by the engine, printed by the reports and exported by
// the metrics layer.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "audit/verdict/flow_record.hpp"
#include "common/parse_outcome.hpp"

namespace meshproof::audit {

struct InputSummary {
    std::string name;            // file path or interface
    std::string description;     // format / link type
    std::uint64_t packets = 0;
    std::optional<std::string> error;  // one line; the packets before it were analysed
    std::string error_kind;      // "open", "not-a-capture", "unsupported-link-type", "truncated", "corrupt", "live"
};

// The `--write` evidence capture of a live run, so a JSON reader knows whether it is complete.
struct EvidenceSummary {
    std::string path;
    std::uint64_t packets = 0, bytes = 0;           // written (bytes include the file header)
    std::uint64_t over_budget = 0, over_cap = 0;    // left out by design: per-flow budget, file cap
    std::uint64_t not_written = 0;                  // lost after a write failed (a full disk)
    std::optional<std::string> error;               // why writing stopped
};

struct AuditSummary {
    std::vector<InputSummary> inputs;
    std::uint64_t packets = 0, bytes = 0;
    std::uint64_t tcp_packets = 0, udp_packets = 0, other_transport = 0, not_ip = 0;
    std::uint64_t ip_fragments = 0;          // counted, not reassembled
    std::uint64_t truncated_frames = 0, malformed_frames = 0, unsupported_link = 0;
    std::uint64_t link_encrypted_frames = 0;  // 802.11 protected (WEP/WPA) frames: no IP to see
    std::uint64_t tunnelled_packets = 0;     // decapsulated VXLAN/Geneve
    std::uint64_t duplicate_packets = 0;
    std::uint64_t flows = 0, flows_evicted = 0, midstream_flows = 0;
    std::uint64_t flows_active = 0;          // still open at the time of the summary (live)
    std::array<std::uint64_t, kVerdictCount> verdict_flows{}, verdict_bytes{};
    std::map<std::string, std::uint64_t> secrets_by_kind;
    std::map<std::string, OutcomeCounts> parse_outcomes;  // parser name -> outcome counts
    std::uint64_t kernel_dropped = 0, interface_dropped = 0;
    double first_ts = 0, last_ts = 0;
    bool interrupted = false;
    std::optional<EvidenceSummary> evidence;  // live runs with --write
};

}  // namespace meshproof::audit
