// Where a playbook's audit steps get their flows: a live interface for a duration, or capture files,
// each an audit::Session that keeps its records for the step. The lab bridge is captured by the
// runner with demo::BridgeCapture while the lab's client talks.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "audit/report/audit_summary.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::play {

struct CapturedFlows {
    std::vector<audit::FlowRecord> records;
    audit::AuditSummary summary;
    std::string warning;  // e.g. "a capture file was damaged; the flows before the damage are kept"
};

struct InterfaceCapture {
    std::string interface;
    std::string filter;  // BPF
    std::chrono::milliseconds duration{0};
};

// Captures on a host interface until `duration` passed (or *stop). Keeps root (later steps need it).
using InterfaceCaptureFn =
    std::function<tl::expected<CapturedFlows, std::string>(const InterfaceCapture&, const std::atomic<bool>* stop)>;
tl::expected<CapturedFlows, std::string> capture_interface(const InterfaceCapture& req, const std::atomic<bool>* stop);

// Reads the files in order; a damaged file is a warning (its flows up to the damage are kept).
tl::expected<CapturedFlows, std::string> read_files(const std::vector<std::string>& files, const std::atomic<bool>* stop);

}  // namespace meshproof::play
