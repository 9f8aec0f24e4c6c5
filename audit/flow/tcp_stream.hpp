// One direction of a TCP connection: the first bytes in sequence order, as Zeek's TCP reassembler
// keeps them, but bounded (max_bytes) and without the rest of the stream.
//
// Offsets are 64-bit positions in the byte stream (0 = the byte after the SYN, or the first data byte
// seen when the capture started mid-stream). Sequence numbers are turned into offsets with serial-number
// arithmetic relative to the highest byte seen, so wraparound at 2^32 is invisible to callers.
//
// Inspection of a direction stops (and later segments only update the counters) when:
//   - full():      the in-order prefix reached max_bytes;
//   - has_gap():   bytes we will never see are missing (pending limits exceeded, the peer acknowledged bytes
//                  we never saw while we hold a hole, the snap length cut a segment, or finish() with holes);
//   - released():  the flow's verdict is final and the engine gave the memory back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/byte_reader.hpp"

namespace meshproof::audit {

struct StreamLimits {
    std::size_t max_bytes = 16 * 1024;          // in-order prefix kept for the classifiers
    std::size_t max_pending_segments = 64;      // out-of-order segments held while a hole is open
    std::size_t max_pending_bytes = 32 * 1024;  // bytes those segments cover (beyond max_bytes too)
};

class TcpStream {
public:
    explicit TcpStream(const StreamLimits& limits = {});
    TcpStream(TcpStream&&) noexcept = default;
    TcpStream& operator=(TcpStream&&) noexcept = default;

    // The SYN's sequence number: the stream starts at isn + 1. Ignored once data started the stream
    // (midstream) or a SYN was already seen (first SYN wins; a new ISN is a new connection, the engine's job).
    void on_syn(std::uint32_t isn);

    // One segment's payload. `payload` holds the captured bytes and `wire_len` the length the IP/TCP headers
    // announce: payload.size() < wire_len means the snap length cut it (captured bytes beyond wire_len are
    // link padding and are ignored). Returns how many bytes were newly appended to data() (including
    // out-of-order bytes this segment made contiguous).
    std::size_t on_segment(std::uint32_t seq, Bytes payload, std::uint32_t wire_len);

    // The peer acknowledged everything before `ack`. If that covers bytes we never saw while we hold
    // a hole (out-of-order data waiting, or a snap-length cut ahead), those bytes are lost: gap.
    void on_peer_ack(std::uint32_t ack);

    // No more segments will come (close, eviction, end of capture): an open hole becomes a gap.
    void finish();

    // Frees the buffers (the verdict is final); later segments only update counters.
    void release();

    // The contiguous in-order prefix (at most max_bytes; empty after release()). Valid until the next
    // non-const call.
    [[nodiscard]] Bytes data() const;
    [[nodiscard]] bool full() const { return full_; }
    [[nodiscard]] bool has_gap() const { return gap_; }
    [[nodiscard]] std::optional<std::uint64_t> gap_offset() const;
    [[nodiscard]] bool released() const { return released_; }
    // Still assembling bytes for the classifiers (not full, no gap, not released).
    [[nodiscard]] bool inspecting() const { return !full_ && !gap_ && !released_; }
    // The stream's origin is known (a SYN or a first data segment was seen).
    [[nodiscard]] bool started() const { return has_base_; }
    [[nodiscard]] bool syn_seen() const { return syn_seen_; }
    [[nodiscard]] std::optional<std::uint32_t> isn() const;

    // Counters, kept for every segment even after full(), a gap or release().
    // Payload bytes the headers announce (all of them, retransmissions included).
    [[nodiscard]] std::uint64_t wire_bytes() const { return wire_bytes_; }
    [[nodiscard]] std::uint64_t data_segments() const { return data_segments_; }
    // Bytes we already had (exact while inspecting; afterwards: bytes at or below the highest byte seen).
    [[nodiscard]] std::uint64_t retransmitted_bytes() const { return retransmitted_bytes_; }
    // Segments that started beyond the next expected byte.
    [[nodiscard]] std::uint64_t out_of_order_segments() const { return out_of_order_segments_; }
    // Segments that re-sent bytes we hold with different content (first data wins; only checkable while
    // the bytes are buffered, i.e. below max_bytes and before release()).
    [[nodiscard]] std::uint64_t inconsistent_retransmissions() const { return inconsistent_retransmissions_; }
    // Out-of-order state currently held.
    [[nodiscard]] std::size_t pending_segments() const { return pending_segments_; }
    [[nodiscard]] std::uint64_t pending_bytes() const { return pending_bytes_; }
    // Heap bytes owned (buffer and pending-range capacity).
    [[nodiscard]] std::size_t memory_bytes() const;

private:
    // A run of bytes received beyond a hole; its bytes below max_bytes live in buffer_ at their offsets.
    struct PendingRange {
        std::uint64_t begin;
        std::uint64_t end;
        std::uint32_t segments;  // out-of-order segments merged into it (for max_pending_segments)
    };

    // Offset of `seq`, relative to the highest byte seen; negative = before the stream's start.
    [[nodiscard]] std::int64_t offset_of(std::uint32_t seq) const;
    void count_only(std::uint64_t begin, std::uint64_t end);
    // Adds [begin, end) (captured bytes from `bytes`, which starts at `begin`) to the pending ranges,
    // storing the new bytes and comparing the ones we already hold.
    void add_range(std::uint64_t begin, std::uint64_t end, Bytes bytes, bool out_of_order, bool& inconsistent);
    void deliver_front();
    void store(std::uint64_t offset, Bytes bytes);
    [[nodiscard]] bool same_as_stored(std::uint64_t offset, Bytes bytes) const;
    void declare_gap(std::uint64_t at);
    void drop_pending();
    [[nodiscard]] bool has_pending() const { return pending_ && !pending_->empty(); }
    [[nodiscard]] std::uint64_t stored_prefix() const;

    std::vector<std::uint8_t> buffer_;   // offsets [0, max_bytes); grows on demand
    // Sorted, disjoint, non-adjacent, all beyond next_offset_. Behind a pointer: most flows never reorder.
    std::unique_ptr<std::vector<PendingRange>> pending_;
    std::uint64_t next_offset_ = 0;      // end of the contiguous prefix (the gap's offset once has_gap())
    std::uint64_t max_end_ = 0;          // highest offset seen + 1
    std::uint64_t cut_at_;               // first byte a snap-length cut lost (kNoCut if none)
    std::uint64_t wire_bytes_ = 0;
    std::uint64_t retransmitted_bytes_ = 0;
    std::uint64_t pending_bytes_ = 0;
    std::uint64_t data_segments_ = 0;
    std::uint64_t out_of_order_segments_ = 0;
    std::uint64_t inconsistent_retransmissions_ = 0;
    std::uint32_t max_bytes_;
    std::uint32_t max_pending_segments_;
    std::uint32_t max_pending_bytes_;
    std::uint32_t pending_segments_ = 0;
    std::uint32_t base_seq_ = 0;  // sequence number of offset 0
    std::uint32_t isn_ = 0;
    bool has_base_ = false;
    bool syn_seen_ = false;
    bool full_ = false;
    bool gap_ = false;
    bool released_ = false;
};

}  // namespace meshproof::audit
