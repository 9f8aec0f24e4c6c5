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
    // "nobody" by default when root; when not root, any value means "drop every capability";
    // nullopt = keep privileges (callers that still need them, e.g. `meshproof play`).
    std::optional<std::string> drop_to_user;
    // Evidence pcap: opened with the interface's link type after activation and *before* the privilege
    // drop (so root may name any path); which packets go there is the caller's choice (evidence()).
    std::optional<std::string> write_path;
    EvidenceLimits evidence_limits{};
};

// Receives packets in place from LiveSource::dispatch: no copy out of the kernel ring.
class PacketSink {
public:
    virtual ~PacketSink() = default;
    // `p.data` points into the capture ring and is valid only during this call. false ends the batch
    // (the packets after this one stay in the ring for the next call).
    virtual bool on_packet(const RawPacket& p) = 0;
};

// A PacketSink from a callable `bool(const RawPacket&)`, for a sink that lives on the caller's stack.
template <class F>
class FunctionSink final : public PacketSink {
public:
    explicit FunctionSink(F& f) : f_(f) {}
    bool on_packet(const RawPacket& p) override { return f_(p); }

private:
    F& f_;
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
    // dispatch() is next() without the copy (pcap_dispatch): up to max_packets packets the ring holds
    // go to `sink` in place; returns Packet when at least one was delivered, otherwise what next()
    // would have returned (Timeout, End, Interrupted, Error). Stop flag, stop() and the drain behave
    // as for next(). next() copies each packet (pcap_next_ex) and suits callers that keep a packet
    // past the next call; both may be mixed.
    virtual SourceStatus dispatch(int max_packets, PacketSink& sink) = 0;
    virtual void set_stop_flag(const std::atomic<bool>* stop) = 0;
    virtual void stop() = 0;
    // Cumulative counters from pcap_stats (the last good values once the interface is gone).
    virtual LiveStats stats() = 0;
    virtual int link_type() const = 0;
    // Privilege drop that happened after activation (for verbose output), e.g. "uid 65534 (nobody)".
    // Started as root: setuid to drop_to_user. Started non-root with capabilities (file capabilities,
    // setcap cap_net_raw,cap_net_admin=ep): every capability is dropped (CapEff = CapPrm = 0).
    // Either way no_new_privs is set so no later execve can regain privileges.
    virtual std::string privilege_note() const = 0;
    // pcap_activate warnings (promiscuous mode not supported, ...), for verbose output.
    virtual const std::vector<std::string>& warnings() const = 0;
    // The evidence writer when write_path was given, else nullptr.
    virtual PcapWriter* evidence() = 0;
};

}  // namespace meshproof::audit
