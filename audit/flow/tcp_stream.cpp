#include "audit/flow/tcp_stream.hpp"

#include <algorithm>
#include <limits>

namespace meshproof::audit {

namespace {

constexpr std::uint64_t kNoCut = std::numeric_limits<std::uint64_t>::max();

std::uint32_t clamp32(std::size_t v) {
    return static_cast<std::uint32_t>(std::min<std::size_t>(v, std::numeric_limits<std::uint32_t>::max()));
}

}  // namespace

TcpStream::TcpStream(const StreamLimits& limits)
    : cut_at_(kNoCut),
      max_bytes_(clamp32(limits.max_bytes)),
      max_pending_segments_(clamp32(limits.max_pending_segments)),
      max_pending_bytes_(clamp32(limits.max_pending_bytes)) {}

void TcpStream::on_syn(std::uint32_t isn) {
    if (syn_seen_ || has_base_) return;
    syn_seen_ = true;
    isn_ = isn;
    has_base_ = true;
    base_seq_ = isn + 1;  // the SYN itself occupies one sequence number
}

std::optional<std::uint32_t> TcpStream::isn() const {
    if (!syn_seen_) return std::nullopt;
    return isn_;
}

std::optional<std::uint64_t> TcpStream::gap_offset() const {
    if (!gap_) return std::nullopt;
    return next_offset_;
}

std::int64_t TcpStream::offset_of(std::uint32_t seq) const {
    // Serial-number arithmetic (RFC 1982) around the highest byte seen: valid within +-2^31 of it,
    // which is far more than any window.
    const std::uint32_t reference = base_seq_ + static_cast<std::uint32_t>(max_end_);
    const auto delta = static_cast<std::int32_t>(seq - reference);
    return static_cast<std::int64_t>(max_end_) + delta;
}

std::uint64_t TcpStream::stored_prefix() const {
    if (released_) return 0;
    return std::min<std::uint64_t>(next_offset_, max_bytes_);
}

Bytes TcpStream::data() const {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(stored_prefix(), buffer_.size()));
    return Bytes(buffer_.data(), n);
}

std::size_t TcpStream::memory_bytes() const {
    return buffer_.capacity() + (pending_ ? sizeof(*pending_) + pending_->capacity() * sizeof(PendingRange) : 0);
}

std::size_t TcpStream::on_segment(std::uint32_t seq, Bytes payload, std::uint32_t wire_len) {
    if (payload.size() > wire_len) payload = payload.first(wire_len);  // link-layer padding
    if (wire_len == 0) return 0;
    ++data_segments_;
    wire_bytes_ += wire_len;
    if (!has_base_) {  // midstream: the first data segment defines offset 0
        has_base_ = true;
        base_seq_ = seq;
    }

    std::int64_t start = offset_of(seq);
    if (start < 0) {
        // Bytes from before the stream's origin (sent before the capture started, or bogus): old data.
        const auto before = static_cast<std::uint64_t>(-start);
        if (before >= wire_len) {
            retransmitted_bytes_ += wire_len;
            return 0;
        }
        retransmitted_bytes_ += before;
        payload = payload.subspan(static_cast<std::size_t>(std::min<std::uint64_t>(before, payload.size())));
        wire_len -= static_cast<std::uint32_t>(before);
        start = 0;
    }
    const auto begin = static_cast<std::uint64_t>(start);
    const std::uint64_t wire_end = begin + wire_len;
    const std::uint64_t captured_end = begin + payload.size();

    if (!inspecting()) {
        count_only(begin, wire_end);
        return 0;
    }

    const std::uint64_t prefix_before = stored_prefix();
    bool inconsistent = false;
    const bool out_of_order = begin > next_offset_;
    if (out_of_order) ++out_of_order_segments_;

    // Bytes already delivered: first data wins, but note a retransmission that disagrees.
    if (begin < next_offset_) {
        retransmitted_bytes_ += std::min(wire_end, next_offset_) - begin;
        const std::uint64_t compare_end = std::min(captured_end, next_offset_);
        if (compare_end > begin &&
            !same_as_stored(begin, payload.first(static_cast<std::size_t>(compare_end - begin)))) {
            inconsistent = true;
        }
    }

    // The snap length cut this segment: the bytes after the captured part were on the wire, we lost them.
    if (wire_end > captured_end) {
        const std::uint64_t lost_from = std::max(captured_end, next_offset_);
        if (wire_end > lost_from) cut_at_ = std::min(cut_at_, lost_from);
    }

    const std::uint64_t fresh_begin = std::max(begin, next_offset_);
    if (captured_end > fresh_begin) {
        const Bytes fresh = payload.subspan(static_cast<std::size_t>(fresh_begin - begin));
        if (fresh_begin == next_offset_ && (!has_pending() || captured_end < pending_->front().begin)) {
            // Hot path: in order, touches no pending range.
            store(fresh_begin, fresh);
            next_offset_ = captured_end;
        } else {
            add_range(fresh_begin, captured_end, fresh, out_of_order, inconsistent);
            deliver_front();
        }
    }
    if (inconsistent) ++inconsistent_retransmissions_;
    max_end_ = std::max(max_end_, wire_end);

    if (next_offset_ >= max_bytes_) {
        full_ = true;
        drop_pending();
        cut_at_ = kNoCut;
    } else if (cut_at_ != kNoCut && next_offset_ >= cut_at_) {
        if (next_offset_ == cut_at_) {
            declare_gap(cut_at_);
        } else {
            cut_at_ = kNoCut;  // another copy of the lost bytes filled it
        }
    } else if (pending_segments_ > max_pending_segments_ || pending_bytes_ > max_pending_bytes_) {
        declare_gap(next_offset_);
    }
    return static_cast<std::size_t>(stored_prefix() - prefix_before);
}

void TcpStream::count_only(std::uint64_t begin, std::uint64_t end) {
    // Without the pending ranges we can only compare with the highest byte seen: a segment that fills
    // an old hole counts as a retransmission here.
    if (begin < max_end_) {
        retransmitted_bytes_ += std::min(end, max_end_) - begin;
    } else if (begin > max_end_) {
        ++out_of_order_segments_;
    }
    max_end_ = std::max(max_end_, end);
}

void TcpStream::add_range(std::uint64_t begin, std::uint64_t end, Bytes bytes, bool out_of_order,
                          bool& inconsistent) {
    auto piece = [&](std::uint64_t from, std::uint64_t to) {
        return bytes.subspan(static_cast<std::size_t>(from - begin), static_cast<std::size_t>(to - from));
    };
    if (!pending_) pending_ = std::make_unique<std::vector<PendingRange>>();
    std::vector<PendingRange>& pending = *pending_;
    std::size_t first = 0;
    while (first < pending.size() && pending[first].end < begin) ++first;

    // Walk the ranges that overlap or touch [begin, end): store what is new, compare what we hold.
    std::uint64_t fresh = 0;
    std::uint64_t cursor = begin;
    std::size_t last = first;  // one past the last range to merge
    for (; last < pending.size() && pending[last].begin <= end; ++last) {
        const PendingRange& r = pending[last];
        if (r.begin > cursor) {
            store(cursor, piece(cursor, r.begin));
            fresh += r.begin - cursor;
        }
        const std::uint64_t held_begin = std::max(cursor, r.begin);
        const std::uint64_t held_end = std::min(end, r.end);
        if (held_end > held_begin) {
            retransmitted_bytes_ += held_end - held_begin;
            if (!same_as_stored(held_begin, piece(held_begin, held_end))) inconsistent = true;
        }
        cursor = std::max(cursor, held_end);
    }
    if (cursor < end) {
        store(cursor, piece(cursor, end));
        fresh += end - cursor;
    }

    const std::uint32_t added_segments = (out_of_order && fresh > 0) ? 1U : 0U;
    pending_segments_ += added_segments;
    if (first == last) {
        pending.insert(pending.begin() + static_cast<std::ptrdiff_t>(first), PendingRange{begin, end, added_segments});
        pending_bytes_ += end - begin;
        return;
    }
    PendingRange merged{std::min(begin, pending[first].begin), std::max(end, pending[last - 1].end), added_segments};
    for (std::size_t k = first; k < last; ++k) {
        merged.segments += pending[k].segments;
        pending_bytes_ -= pending[k].end - pending[k].begin;
    }
    pending_bytes_ += merged.end - merged.begin;
    pending[first] = merged;
    pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(first + 1),
                   pending.begin() + static_cast<std::ptrdiff_t>(last));
}

void TcpStream::deliver_front() {
    while (has_pending() && pending_->front().begin <= next_offset_) {
        const PendingRange r = pending_->front();
        next_offset_ = std::max(next_offset_, r.end);
        pending_segments_ -= r.segments;
        pending_bytes_ -= r.end - r.begin;
        pending_->erase(pending_->begin());
    }
}

void TcpStream::store(std::uint64_t offset, Bytes bytes) {
    if (offset >= max_bytes_) return;
    const auto at = static_cast<std::size_t>(offset);
    const std::size_t n = std::min<std::size_t>(bytes.size(), max_bytes_ - at);
    const std::size_t need = at + n;
    if (buffer_.size() < need) {
        if (buffer_.capacity() < need) {
            // Lazy, geometric, capped: a 100-byte flow costs ~100 bytes, never more than max_bytes.
            buffer_.reserve(std::min<std::size_t>(std::max(need, buffer_.capacity() * 2), max_bytes_));
        }
        buffer_.resize(need);
    }
    std::copy_n(bytes.begin(), n, buffer_.begin() + static_cast<std::ptrdiff_t>(at));
}

bool TcpStream::same_as_stored(std::uint64_t offset, Bytes bytes) const {
    if (offset >= max_bytes_) return true;  // not buffered: cannot tell
    const auto at = static_cast<std::size_t>(offset);
    const std::size_t n = std::min<std::size_t>(bytes.size(), max_bytes_ - at);
    if (at + n > buffer_.size()) return true;
    return std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n),
                      buffer_.begin() + static_cast<std::ptrdiff_t>(at));
}

void TcpStream::on_peer_ack(std::uint32_t ack) {
    if (!inspecting() || !has_base_) return;
    if (!has_pending() && cut_at_ == kNoCut) return;  // no hole: the bytes may still arrive
    if (offset_of(ack) > static_cast<std::int64_t>(next_offset_)) declare_gap(next_offset_);
}

void TcpStream::finish() {
    if (inspecting() && (has_pending() || cut_at_ != kNoCut)) declare_gap(next_offset_);
}

void TcpStream::declare_gap(std::uint64_t at) {
    gap_ = true;
    next_offset_ = at;  // stays there: gap_offset()
    cut_at_ = kNoCut;
    drop_pending();
}

void TcpStream::drop_pending() {
    pending_.reset();
    pending_segments_ = 0;
    pending_bytes_ = 0;
    // Out-of-order bytes beyond the prefix are no longer needed.
    if (buffer_.size() > stored_prefix()) buffer_.resize(static_cast<std::size_t>(stored_prefix()));
}

void TcpStream::release() {
    released_ = true;
    std::vector<std::uint8_t>().swap(buffer_);
    pending_.reset();
    pending_segments_ = 0;
    pending_bytes_ = 0;
    cut_at_ = kNoCut;
}

}  // namespace meshproof::audit
