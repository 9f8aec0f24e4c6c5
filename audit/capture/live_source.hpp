// Live capture from an interface with libpcap (pcap_create/pcap_activate, large kernel buffer, the
// default TPACKET_V3 ring, optional BPF filter), then privileges dropped. Implemented in live_source.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/capture/packet_source.hpp"
#include "audit/capture/pcap_writer.hpp"

namespace meshproof::audit {

struct LiveOptions {
    std::string interface;                 // "eth0", "br0", "any"
    std::string bpf_filter;                // empty = everything
    int snaplen = 262144;
    int buffer_bytes = 64 * 1024 * 1024;   // kernel ring size
    int timeout_ms = 100;                  // so next() returns regularly to check stop/duration
    bool promiscuous = true;
    std::optional<std::string> drop_to_user;  // "nobody" by default when root; nullopt = keep privileges
    // Evidence pcap: opened with the interface's link type after activation and *before* the privilege
    // drop (so root may name any path); which packets go there is the caller's choice (evidence()).
    std::optional<std::string> write_path;
    EvidenceLimits evidence_limits{};
};

struct LiveStats {
    std::uint64_t received = 0, kernel_dropped = 0, interface_dropped = 0;
};

class LiveSource : public PacketSource {
public:
    // Opens and activates the capture; on failure returns nullptr with a clear message in err
    // (missing interface, not permitted, bad filter, unknown --user, failed privilege drop).
    static std::unique_ptr<LiveSource> open(const LiveOptions& opt, SourceError& err);
    // next() returns Packet, Timeout when nothing arrived within timeout_ms (so callers can check
    // clocks), Error when the interface went away (error() says so), and once the stop flag is set or
    // stop() was called it first drains what the kernel already captured, then returns Interrupted
    // (flag) or End (stop()).
    virtual void set_stop_flag(const std::atomic<bool>* stop) = 0;
    virtual void stop() = 0;
    // Cumulative counters from pcap_stats (the last good values once the interface is gone).
    virtual LiveStats stats() = 0;
    virtual int link_type() const = 0;
    // Privilege drop that happened after activation (for verbose output), e.g. "uid 65534 (nobody)".
    virtual std::string privilege_note() const = 0;
    // pcap_activate warnings (promiscuous mode not supported, ...), for verbose output.
    virtual const std::vector<std::string>& warnings() const = 0;
    // The evidence writer when write_path was given, else nullptr.
    virtual PcapWriter* evidence() = 0;
};

}  // namespace meshproof::audit
