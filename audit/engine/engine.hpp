// The audit pipeline for one run: RawPacket -> decode -> flow table -> streams -> classifiers ->
// verdict -> FlowRecord. Sources (files, live) push packets in; reports and metrics read records out.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/capture/packet_source.hpp"
#include "audit/flow/tcp_stream.hpp"
#include "audit/report/audit_summary.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit {

struct EngineConfig {
    StreamLimits stream{};                 // bytes kept per direction for the classifiers (16 KiB)
    std::size_t max_flows = 262144;        // flow table bound; the least recently used flow is evicted
    double idle_timeout = 300;             // seconds without a packet before a flow is expired (expire())
    // Keep every finished FlowRecord for records() (a sorted report). false: the sink sees each flow
    // as it finishes and nothing is kept, so memory is bounded by the flow table, not the capture.
    bool keep_records = true;
};

class Engine {
public:
    using FlowSink = std::function<void(const FlowRecord&)>;

    explicit Engine(EngineConfig cfg = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Called once per finished flow (closed and expired, evicted, or flushed by finish()).
    void set_sink(FlowSink sink);

    // What on_packet() did with its packet, so the evidence writer (--write) keeps the packets that
    // decided each verdict: Inspected = the flow's verdict was still open.
    enum class PacketUse : std::uint8_t { NotTcp, Inspected, AfterVerdictPlaintext, AfterVerdictEncrypted };

    void begin_input(const std::string& name, const std::string& description);
    // The current input's description, again (a file source learns more while reading it).
    void describe_input(const std::string& description);
    PacketUse on_packet(const RawPacket& p);
    void end_input(std::uint64_t packets, const std::optional<SourceError>& error);

    // Expire flows idle since before now - idle_timeout (live capture; files flush at finish()).
    void expire(double now);
    // Every remaining flow is judged and handed to the sink.
    void finish();

    // What the source knows and the packets do not show, for the summary: drops counted by the kernel
    // and the interface (live), a run ended by a signal, what the evidence pcap holds.
    void note_drops(std::uint64_t kernel_dropped, std::uint64_t interface_dropped);
    void note_interrupted();
    void note_evidence(EvidenceSummary evidence);

    [[nodiscard]] const AuditSummary& summary() const;
    // Finished flows in order of first packet (after finish()); empty when keep_records is false.
    [[nodiscard]] const std::vector<FlowRecord>& records() const;
    // The same, moved out (the engine keeps none after this).
    std::vector<FlowRecord> take_records();
    [[nodiscard]] std::size_t active_flows() const;

    // Bytes a tracked flow costs once its verdict is final, by sizeof accounting: its flow-table slot,
    // its share of the table's buckets and its counters. Its verdict, evidence and summaries are
    // shared with every tracked flow that has exactly the same ones (not counted here).
    static std::size_t final_flow_bytes();
    // Distinct verdicts currently shared by tracked flows (memory accounting and tests).
    [[nodiscard]] std::size_t shared_verdicts() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Reads every file into the engine, in order. Returns false when any input had an error (the packets
// before the error were analysed). `stop` (optional) interrupts between packets.
bool read_capture_files(const std::vector<std::string>& paths, Engine& engine, const std::atomic<bool>* stop = nullptr);

}  // namespace meshproof::audit
