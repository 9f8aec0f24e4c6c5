// Live audit of one interface inside a named network namespace (the demo's node bridge br0): a
// thread enters the namespace (setns affects only the calling thread) and runs an audit session there,
// records kept, until stopped. Privileges are kept: a setuid() in one thread would drop them for the
// whole process, which still has a lab to tear down.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <tl/expected.hpp>

#include "audit/report/audit_summary.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::demo {

struct CaptureResult {
    std::vector<audit::FlowRecord> records;
    audit::AuditSummary summary;
    std::string error;  // non-empty when the capture ended on an error (the flows before it are kept)
};

class BridgeCapture {
public:
    // Returns once the capture is active (no packet sent after this is missed), or the reason it
    // could not start.
    static tl::expected<std::unique_ptr<BridgeCapture>, std::string> start(const std::string& netns,
                                                                           const std::string& interface);
    ~BridgeCapture();
    BridgeCapture(const BridgeCapture&) = delete;
    BridgeCapture& operator=(const BridgeCapture&) = delete;

    // Stops, drains what the kernel already captured, judges every flow and returns them.
    CaptureResult stop();

    struct State;  // shared with the capture thread (defined in the .cpp)

private:
    BridgeCapture() = default;
    std::shared_ptr<State> state_;
    std::thread thread_;
};

}  // namespace meshproof::demo
