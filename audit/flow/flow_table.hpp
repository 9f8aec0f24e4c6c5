// Bidirectional flow key and a bounded connection table (LRU + idle eviction), so a SYN flood or a port
// scan costs at most max_flows entries.
//
// Layout: entries live in fixed-size chunks (stable addresses, no moves, no allocation per insert once a
// chunk exists) and are linked into hash chains and one LRU list by 32-bit indices. Per entry the table
// adds 64 bytes (key 40, hash + links 16, last_seen 8) plus std::optional's flag and ~4-8 bytes of bucket
// array, on top of sizeof(V).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "audit/decode/packet.hpp"

namespace meshproof::audit {

// Two endpoints + transport, in canonical order (endpoint a <= endpoint b), so both directions of a
// connection produce the same key.
struct FlowKey {
    IpAddress addr_a, addr_b;
    std::uint16_t port_a = 0, port_b = 0;
    Transport transport = Transport::None;

    friend bool operator==(const FlowKey&, const FlowKey&) = default;

    static FlowKey make(const IpAddress& src, std::uint16_t src_port, const IpAddress& dst, std::uint16_t dst_port,
                        Transport transport) {
        FlowKey k;
        k.transport = transport;
        const bool src_first = std::tie(src, src_port) <= std::tie(dst, dst_port);
        k.addr_a = src_first ? src : dst;
        k.port_a = src_first ? src_port : dst_port;
        k.addr_b = src_first ? dst : src;
        k.port_b = src_first ? dst_port : src_port;
        return k;
    }
    static FlowKey from_packet(const DecodedPacket& p) {
        return make(p.src, p.src_port, p.dst, p.dst_port, p.transport);
    }
    // Whether (addr, port) is endpoint a (the canonical first one).
    [[nodiscard]] bool is_endpoint_a(const IpAddress& addr, std::uint16_t port) const {
        return addr == addr_a && port == port_a;
    }
};

namespace detail {
inline std::uint64_t load64(const std::array<std::uint8_t, 16>& b, std::size_t at) {
    std::uint64_t w = 0;
    std::memcpy(&w, b.data() + at, sizeof w);  // at is 0 or 8: inside the array
    return w;
}
// SplitMix64's finalizer: every input bit affects every output bit.
inline std::uint64_t mix64(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}
}  // namespace detail

// 64-bit hash of the key's fields (never of padding). The seed lets a table pick a random one so chain
// lengths are not predictable from outside (it is not SipHash: a costly defence, not a proof).
inline std::uint64_t hash_flow_key(const FlowKey& k, std::uint64_t seed = 0) {
    const std::uint64_t words[5] = {
        detail::load64(k.addr_a.bytes, 0),
        detail::load64(k.addr_a.bytes, 8),
        detail::load64(k.addr_b.bytes, 0),
        detail::load64(k.addr_b.bytes, 8),
        (std::uint64_t{k.port_a} << 48) | (std::uint64_t{k.port_b} << 32) |
            (std::uint64_t{static_cast<std::uint8_t>(k.transport)} << 16) |
            (std::uint64_t{k.addr_a.v6} << 8) | std::uint64_t{k.addr_b.v6},
    };
    std::uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;
    for (const std::uint64_t w : words) {
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    return detail::mix64(h);
}

struct FlowKeyHash {
    std::uint64_t seed = 0;
    std::size_t operator()(const FlowKey& k) const { return static_cast<std::size_t>(hash_flow_key(k, seed)); }
};

enum class EvictionReason : std::uint8_t {
    Capacity,  // the table was full and this was the least recently used flow
    Idle,      // expire_idle(): no packet for idle_timeout
};

inline constexpr std::size_t kDefaultMaxFlows = 262144;

template <class V>
class FlowTable {
public:
    // Called with the flow just before it is destroyed, so the engine can still report it.
    // It must not call back into the table.
    using EvictionHandler = std::function<void(const FlowKey&, V&, EvictionReason)>;

    struct Result {
        V* value;       // stable until this entry is erased, evicted or expired
        bool inserted;  // false: an existing flow was found
    };

    explicit FlowTable(std::size_t max_flows = kDefaultMaxFlows, std::uint64_t hash_seed = 0)
        : max_flows_(static_cast<std::uint32_t>(std::clamp<std::size_t>(max_flows, 1, kNil - 1))),
          hasher_{hash_seed} {}
    ~FlowTable() { clear(); }
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    void set_eviction_handler(EvictionHandler handler) { on_evict_ = std::move(handler); }

    // Finds the flow and marks it most recently used, or creates it with make() (a callable returning V),
    // evicting the least recently used flow first when the table is full.
    template <class Make>
    Result find_or_insert(const FlowKey& key, double now, Make&& make) {
        const auto hash = static_cast<std::uint32_t>(hasher_(key));
        if (const std::uint32_t found = lookup(key, hash); found != kNil) {
            touch(found, now);
            return {&*slot(found).value, false};
        }
        if (size_ >= max_flows_) evict(tail_, EvictionReason::Capacity);
        const std::uint32_t idx = allocate();
        Slot& s = slot(idx);
        try {
            s.value.emplace(Construct<Make>{make});
        } catch (...) {
            free_slot(idx);
            throw;
        }
        s.key = key;
        s.hash = hash;
        s.last_seen = now;
        ++size_;
        ++inserted_;
        grow_buckets_if_needed();
        link_bucket(idx);
        push_front(idx);
        return {&*s.value, true};
    }
    Result find_or_insert(const FlowKey& key, double now)
        requires std::default_initializable<V>
    {
        return find_or_insert(key, now, [] { return V{}; });
    }

    // Finds and marks most recently used; nullptr if absent.
    V* find(const FlowKey& key, double now) {
        const std::uint32_t idx = lookup(key, static_cast<std::uint32_t>(hasher_(key)));
        if (idx == kNil) return nullptr;
        touch(idx, now);
        return &*slot(idx).value;
    }
    // Finds without touching the LRU order.
    [[nodiscard]] const V* peek(const FlowKey& key) const {
        const std::uint32_t idx = lookup(key, static_cast<std::uint32_t>(hasher_(key)));
        return idx == kNil ? nullptr : &*slot(idx).value;
    }

    // Removes a flow the engine has finished with (not an eviction: no handler, not counted).
    bool erase(const FlowKey& key) {
        const std::uint32_t idx = lookup(key, static_cast<std::uint32_t>(hasher_(key)));
        if (idx == kNil) return false;
        remove(idx);
        return true;
    }

    // Evicts flows idle for at least idle_timeout, walking from the least recently used end and stopping
    // at the first recent one (O(expired)). Returns how many were expired.
    std::size_t expire_idle(double now, double idle_timeout) {
        std::size_t n = 0;
        while (tail_ != kNil && now - slot(tail_).last_seen >= idle_timeout) {
            evict(tail_, EvictionReason::Idle);
            ++n;
        }
        return n;
    }

    // f(const FlowKey&, V&) for every flow, most recently used first. f must not modify the table.
    template <class F>
    void for_each(F&& f) {
        for (std::uint32_t i = head_; i != kNil; i = slot(i).lru_next) f(slot(i).key, *slot(i).value);
    }
    // Hands every flow to f(const FlowKey&, V&) (least recently used first) and empties the table.
    template <class F>
    void drain(F&& f) {
        while (tail_ != kNil) {
            const std::uint32_t i = tail_;
            f(slot(i).key, *slot(i).value);
            remove(i);
        }
    }
    // Destroys every flow without calling the eviction handler; keeps the allocated chunks for reuse.
    void clear() {
        while (tail_ != kNil) remove(tail_);
    }

    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] bool empty() const { return size_ == 0; }
    [[nodiscard]] std::size_t max_flows() const { return max_flows_; }
    [[nodiscard]] std::uint64_t evicted() const { return evicted_capacity_ + expired_idle_; }
    [[nodiscard]] std::uint64_t evicted_capacity() const { return evicted_capacity_; }
    [[nodiscard]] std::uint64_t expired_idle() const { return expired_idle_; }
    [[nodiscard]] std::uint64_t inserted() const { return inserted_; }
    // Heap the table itself owns (slots and buckets; not what V allocates on its own).
    [[nodiscard]] std::size_t memory_bytes() const {
        return chunks_.size() * kChunkSlots * sizeof(Slot) + chunks_.capacity() * sizeof(chunks_[0]) +
               buckets_.capacity() * sizeof(std::uint32_t);
    }
    static constexpr std::size_t slot_bytes() { return sizeof(Slot); }

private:
    static constexpr std::uint32_t kNil = std::numeric_limits<std::uint32_t>::max();
    static constexpr std::uint32_t kChunkShift = 8;
    static constexpr std::uint32_t kChunkSlots = 1U << kChunkShift;
    static constexpr std::size_t kMinBuckets = 256;

    struct Slot {
        FlowKey key;
        std::uint32_t hash = 0;
        std::uint32_t chain_next = kNil;  // hash chain; the free list reuses it
        std::uint32_t lru_prev = kNil;
        std::uint32_t lru_next = kNil;
        double last_seen = 0;
        std::optional<V> value;
    };

    // Lets optional::emplace build V in place from make()'s prvalue (guaranteed elision, no move).
    template <class Make>
    struct Construct {
        Make& make;
        operator V() const { return make(); }  // NOLINT(google-explicit-constructor)
    };

    Slot& slot(std::uint32_t i) { return chunks_[i >> kChunkShift][i & (kChunkSlots - 1)]; }
    const Slot& slot(std::uint32_t i) const { return chunks_[i >> kChunkShift][i & (kChunkSlots - 1)]; }

    [[nodiscard]] std::uint32_t lookup(const FlowKey& key, std::uint32_t hash) const {
        if (buckets_.empty()) return kNil;
        for (std::uint32_t i = buckets_[hash & (buckets_.size() - 1)]; i != kNil; i = slot(i).chain_next) {
            const Slot& s = slot(i);
            if (s.hash == hash && s.key == key) return i;
        }
        return kNil;
    }

    std::uint32_t allocate() {
        if (free_head_ != kNil) {
            const std::uint32_t i = free_head_;
            free_head_ = slot(i).chain_next;
            return i;
        }
        if (next_unused_ == chunks_.size() * kChunkSlots) chunks_.push_back(std::make_unique<Slot[]>(kChunkSlots));
        return next_unused_++;
    }
    void free_slot(std::uint32_t i) {
        slot(i).chain_next = free_head_;
        free_head_ = i;
    }

    void grow_buckets_if_needed() {
        // Load factor <= 1, bucket count a power of two, never beyond what max_flows needs.
        const std::size_t cap = std::bit_ceil(static_cast<std::size_t>(max_flows_));
        if (!buckets_.empty() && (size_ <= buckets_.size() || buckets_.size() >= cap)) return;
        const std::size_t n = std::min(std::max(kMinBuckets, buckets_.size() * 2), std::max(cap, kMinBuckets));
        if (n == buckets_.size()) return;
        buckets_.assign(n, kNil);
        for (std::uint32_t i = head_; i != kNil; i = slot(i).lru_next) link_bucket(i);
    }
    void link_bucket(std::uint32_t i) {
        std::uint32_t& head = buckets_[slot(i).hash & (buckets_.size() - 1)];
        slot(i).chain_next = head;
        head = i;
    }
    void unlink_bucket(std::uint32_t i) {
        std::uint32_t* link = &buckets_[slot(i).hash & (buckets_.size() - 1)];
        while (*link != i) link = &slot(*link).chain_next;
        *link = slot(i).chain_next;
    }

    void push_front(std::uint32_t i) {
        Slot& s = slot(i);
        s.lru_prev = kNil;
        s.lru_next = head_;
        if (head_ != kNil) slot(head_).lru_prev = i;
        head_ = i;
        if (tail_ == kNil) tail_ = i;
    }
    void unlink_lru(std::uint32_t i) {
        Slot& s = slot(i);
        if (s.lru_prev != kNil) slot(s.lru_prev).lru_next = s.lru_next; else head_ = s.lru_next;
        if (s.lru_next != kNil) slot(s.lru_next).lru_prev = s.lru_prev; else tail_ = s.lru_prev;
    }
    void touch(std::uint32_t i, double now) {
        Slot& s = slot(i);
        s.last_seen = std::max(s.last_seen, now);  // captures may interleave slightly out of order
        if (head_ == i) return;
        unlink_lru(i);
        push_front(i);
    }

    void evict(std::uint32_t i, EvictionReason reason) {
        if (reason == EvictionReason::Capacity) ++evicted_capacity_; else ++expired_idle_;
        if (on_evict_) on_evict_(slot(i).key, *slot(i).value, reason);
        remove(i);
    }
    void remove(std::uint32_t i) {
        unlink_bucket(i);
        unlink_lru(i);
        slot(i).value.reset();
        free_slot(i);
        --size_;
    }

    std::vector<std::unique_ptr<Slot[]>> chunks_;
    std::vector<std::uint32_t> buckets_;
    std::uint32_t max_flows_;
    std::uint32_t size_ = 0;
    std::uint32_t next_unused_ = 0;
    std::uint32_t free_head_ = kNil;
    std::uint32_t head_ = kNil;  // most recently used
    std::uint32_t tail_ = kNil;  // least recently used
    std::uint64_t evicted_capacity_ = 0;
    std::uint64_t expired_idle_ = 0;
    std::uint64_t inserted_ = 0;
    FlowKeyHash hasher_;
    EvictionHandler on_evict_;
};

}  // namespace meshproof::audit
