// Evidence capture: a pcap file a person opens in Wireshark to check a verdict. It stays small: each
// TCP connection contributes at most a budget of packets (its handshake and first exchanges, which is
// what decided the verdict) and the whole file is capped.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/capture/packet_source.hpp"

namespace meshproof::audit {

struct EvidenceLimits {
    std::uint32_t packets_per_flow = 64;           // TCP packets kept per connection by offer()
    std::uint64_t max_file_bytes = 256ull << 20;   // headers included; nothing is written past it
    std::uint32_t tracked_flows = 65536;           // slots of the per-connection budget table (power of 2)
};

struct EvidenceStats {
    std::uint64_t written_packets = 0, written_bytes = 0;  // bytes include the file header
    std::uint64_t over_budget = 0;                         // skipped: the connection used its budget
    std::uint64_t over_cap = 0;                            // skipped: the file reached max_file_bytes
    std::uint64_t not_tcp = 0;                             // skipped by offer(): not a TCP segment
    std::uint64_t write_failed = 0;  // not written: the file system refused an earlier write (disk full)
};

class PcapWriter {
public:
    // Creates (truncates) `path` as a pcap file of `link_type` (the capture's DLT). nullptr + err on failure.
    static std::unique_ptr<PcapWriter> open(const std::string& path, int link_type, int snaplen,
                                            const EvidenceLimits& limits, std::string& err);
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    // Writes the packet unless the file cap is reached. For callers that know the packet matters
    // (the engine was still inspecting its flow).
    bool write(const RawPacket& p);
    // Writes a TCP packet while its connection is within packets_per_flow (the writer's own choice
    // when the engine cannot say which packets decided the verdict). Non-TCP frames are skipped.
    bool offer(const RawPacket& p);
    // Spends one unit of the packet's connection budget and says whether it was available, without
    // writing (for callers mixing write() and a budget).
    bool take_budget(const RawPacket& p);

    // Pushes buffered records to the file; false + err when the disk said no.
    bool flush(std::string& err);
    // Flushes and closes; false + err when a write failed. After a failed write (disk full) the file
    // is cut back to its last whole record, so it stays a valid pcap of the packets before the
    // failure. Called by the destructor otherwise.
    bool close(std::string& err);

    // Disk full (or any write error): the writer stops for good at the first failure, and every later
    // write() counts in stats().write_failed instead. The audit itself is not affected: the caller
    // warns once (write_error()) and goes on. write_error() says what failed and after how many packets.
    [[nodiscard]] bool failed() const { return write_error_.has_value(); }
    [[nodiscard]] const std::optional<std::string>& write_error() const { return write_error_; }

    [[nodiscard]] const EvidenceStats& stats() const { return stats_; }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    PcapWriter() = default;
    struct Slot {
        std::uint64_t tag = 0;     // connection hash (0 = empty)
        std::uint32_t used = 0;    // packets counted against the budget
    };
    struct Handles;

    std::unique_ptr<Handles> handles_;
    std::string path_;
    int link_type_ = 0;
    EvidenceLimits limits_{};
    EvidenceStats stats_{};
    std::vector<Slot> slots_;
    std::optional<std::string> write_error_;
    void note_failure(int err_no);
};

}  // namespace meshproof::audit
