#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/flow/tcp_stream.hpp"

using meshproof::Bytes;
using meshproof::audit::StreamLimits;
using meshproof::audit::TcpStream;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

// Distinct, position-dependent bytes so a misplaced byte is visible.
std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t salt = 0) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + salt + (i >> 8));
    return v;
}

std::string text(Bytes b) { return {b.begin(), b.end()}; }

// Feeds a whole segment (captured == on the wire).
std::size_t feed(TcpStream& s, std::uint32_t seq, std::string_view payload) {
    const auto v = bytes_of(payload);
    return s.on_segment(seq, Bytes(v), static_cast<std::uint32_t>(v.size()));
}
std::size_t feed(TcpStream& s, std::uint32_t seq, const std::vector<std::uint8_t>& v) {
    return s.on_segment(seq, Bytes(v), static_cast<std::uint32_t>(v.size()));
}
// Feeds v[from, to) at base + from.
std::size_t feed_part(TcpStream& s, std::uint32_t base, const std::vector<std::uint8_t>& v, std::size_t from,
                      std::size_t to) {
    const Bytes part = Bytes(v).subspan(from, to - from);
    return s.on_segment(base + static_cast<std::uint32_t>(from), part, static_cast<std::uint32_t>(part.size()));
}

bool equals(Bytes got, const std::vector<std::uint8_t>& want) {
    return std::equal(got.begin(), got.end(), want.begin(), want.end());
}

}  // namespace

TEST_CASE("TcpStream: in-order segments append") {
    SUBCASE("after a SYN") {
        TcpStream s;
        s.on_syn(1000);
        REQUIRE(s.started());
        REQUIRE(s.isn().has_value());
        CHECK(*s.isn() == 1000U);
        CHECK(feed(s, 1001, "hello ") == 6);
        CHECK(feed(s, 1007, "world") == 5);
        CHECK(text(s.data()) == "hello world");
        CHECK(s.wire_bytes() == 11);
        CHECK(s.data_segments() == 2);
        CHECK(s.retransmitted_bytes() == 0);
        CHECK(s.out_of_order_segments() == 0);
        CHECK(s.inspecting());
        CHECK_FALSE(s.full());
        CHECK_FALSE(s.has_gap());
        CHECK_FALSE(s.gap_offset().has_value());
    }
    SUBCASE("midstream: the first data segment starts the stream") {
        TcpStream s;
        CHECK_FALSE(s.started());
        CHECK(feed(s, 5000, "GET / ") == 6);
        CHECK(feed(s, 5006, "HTTP/1.1") == 8);
        CHECK(text(s.data()) == "GET / HTTP/1.1");
        CHECK_FALSE(s.syn_seen());
        CHECK_FALSE(s.isn().has_value());
        // A SYN after data cannot move the origin any more.
        s.on_syn(1);
        CHECK_FALSE(s.syn_seen());
        CHECK(feed(s, 5014, "!") == 1);
        CHECK(text(s.data()) == "GET / HTTP/1.1!");
    }
    SUBCASE("empty segments change nothing") {
        TcpStream s;
        s.on_syn(7);
        CHECK(s.on_segment(8, Bytes{}, 0) == 0);
        CHECK(s.data_segments() == 0);
        CHECK(s.wire_bytes() == 0);
        CHECK(s.data().empty());
    }
    SUBCASE("captured bytes beyond the wire length are padding") {
        TcpStream s;
        s.on_syn(0);
        const auto v = bytes_of("abc\0\0\0");
        CHECK(s.on_segment(1, Bytes(v), 3) == 3);
        CHECK(text(s.data()) == "abc");
        CHECK(s.wire_bytes() == 3);
    }
    SUBCASE("bytes before the stream origin are old data") {
        TcpStream s;
        s.on_syn(100);
        CHECK(feed(s, 96, "xxxxxhello") == 5);  // seq 96..100 precede isn+1 = 101
        CHECK(text(s.data()) == "hello");
        CHECK(s.retransmitted_bytes() == 5);
        CHECK(feed(s, 90, "zzz") == 0);
        CHECK(s.retransmitted_bytes() == 8);
        CHECK(text(s.data()) == "hello");
    }
}

TEST_CASE("TcpStream: retransmissions") {
    TcpStream s;
    s.on_syn(0);
    REQUIRE(feed(s, 1, "abcdef") == 6);

    SUBCASE("same bytes: ignored, counted") {
        CHECK(feed(s, 1, "abcdef") == 0);
        CHECK(feed(s, 3, "cd") == 0);
        CHECK(text(s.data()) == "abcdef");
        CHECK(s.retransmitted_bytes() == 8);
        CHECK(s.inconsistent_retransmissions() == 0);
        CHECK(s.wire_bytes() == 14);
    }
    SUBCASE("different bytes: first data wins, inconsistency counted") {
        CHECK(feed(s, 1, "abXdef") == 0);
        CHECK(text(s.data()) == "abcdef");
        CHECK(s.retransmitted_bytes() == 6);
        CHECK(s.inconsistent_retransmissions() == 1);
    }
    SUBCASE("different bytes over out-of-order data we hold") {
        REQUIRE(feed(s, 11, "KLMN") == 0);  // hole at 6..10
        CHECK(feed(s, 11, "KLmN") == 0);
        CHECK(s.inconsistent_retransmissions() == 1);
        CHECK(s.retransmitted_bytes() == 4);
        CHECK(feed(s, 7, "ghij") == 8);
        CHECK(text(s.data()) == "abcdefghijKLMN");
    }
}

TEST_CASE("TcpStream: partial overlaps") {
    TcpStream s;
    s.on_syn(0);
    REQUIRE(feed(s, 1, "abcdef") == 6);

    SUBCASE("overlapping the delivered tail (front of the segment is old)") {
        CHECK(feed(s, 4, "defGHI") == 3);
        CHECK(text(s.data()) == "abcdefGHI");
        CHECK(s.retransmitted_bytes() == 3);
        CHECK(s.inconsistent_retransmissions() == 0);
    }
    SUBCASE("old front disagrees: new tail still appended") {
        CHECK(feed(s, 4, "dXfGHI") == 3);
        CHECK(text(s.data()) == "abcdefGHI");
        CHECK(s.inconsistent_retransmissions() == 1);
    }
    SUBCASE("overlapping the front of a pending range (back of the segment is held)") {
        REQUIRE(feed(s, 11, "klmn") == 0);  // pending [10, 14)
        CHECK(s.pending_segments() == 1);
        CHECK(s.pending_bytes() == 4);
        CHECK(feed(s, 7, "ghijkl") == 8);   // [6, 12): 2 bytes overlap the pending range
        CHECK(text(s.data()) == "abcdefghijklmn");
        CHECK(s.retransmitted_bytes() == 2);
        CHECK(s.pending_segments() == 0);
        CHECK(s.pending_bytes() == 0);
    }
    SUBCASE("one segment spanning a pending range and both of its sides") {
        REQUIRE(feed(s, 13, "mn") == 0);    // pending [12, 14)
        REQUIRE(feed(s, 18, "rs") == 0);    // pending [17, 19)
        CHECK(s.pending_segments() == 2);
        CHECK(feed(s, 10, "jklmnop") == 0); // [9, 16): hole at 6..9 stays, merges with [12, 14)
        CHECK(s.pending_bytes() == 9);      // [9, 16) + [17, 19)
        CHECK(feed(s, 7, "ghi") == 10);     // fills [6, 9): delivered up to 16
        CHECK(text(s.data()) == "abcdefghijklmnop");
        CHECK(s.retransmitted_bytes() == 2);
        CHECK(s.pending_segments() == 1);
        CHECK(feed(s, 17, "q") == 3);
        CHECK(text(s.data()) == "abcdefghijklmnopqrs");
        CHECK(s.pending_segments() == 0);
    }
}

TEST_CASE("TcpStream: reordering gives the same bytes in every order") {
    const auto payload = pattern(3000, 3);
    // Three segments; the second pair overlaps to exercise merging too.
    const std::array<std::array<std::size_t, 2>, 3> segments = {{{0, 1000}, {1000, 2200}, {1800, 3000}}};
    std::array<int, 3> order = {0, 1, 2};
    int permutations = 0;
    do {
        CAPTURE(order[0]);
        CAPTURE(order[1]);
        CAPTURE(order[2]);
        TcpStream s;
        s.on_syn(4000);
        std::size_t appended = 0;
        for (const int i : order) {
            appended += feed_part(s, 4001, payload, segments[static_cast<std::size_t>(i)][0],
                                  segments[static_cast<std::size_t>(i)][1]);
        }
        CHECK(appended == 3000);
        CHECK(equals(s.data(), payload));
        CHECK(s.pending_segments() == 0);
        CHECK(s.pending_bytes() == 0);
        CHECK(s.retransmitted_bytes() == 400);  // the overlap, whichever copy came second
        CHECK(s.inconsistent_retransmissions() == 0);
        CHECK_FALSE(s.has_gap());
        if (order[0] != 0) CHECK(s.out_of_order_segments() >= 1);
        ++permutations;
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(permutations == 6);
}

TEST_CASE("TcpStream: sequence wraparound near 2^32") {
    const auto payload = pattern(300, 9);
    SUBCASE("SYN just below 2^32, data crosses zero") {
        TcpStream s;
        s.on_syn(0xFFFFFF9CU);  // stream starts at 2^32 - 99
        CHECK(feed_part(s, 0xFFFFFF9DU, payload, 0, 100) == 100);  // ends at seq 1
        CHECK(feed_part(s, 0xFFFFFF9DU, payload, 100, 300) == 200);
        CHECK(equals(s.data(), payload));
        CHECK(s.out_of_order_segments() == 0);
    }
    SUBCASE("out of order across the wrap") {
        TcpStream s;
        s.on_syn(0xFFFFFF9CU);
        CHECK(feed_part(s, 0xFFFFFF9DU, payload, 200, 300) == 0);   // seq 101: after the wrap
        CHECK(feed_part(s, 0xFFFFFF9DU, payload, 50, 200) == 0);    // straddles 0
        CHECK(s.out_of_order_segments() == 2);
        CHECK(feed_part(s, 0xFFFFFF9DU, payload, 0, 50) == 300);
        CHECK(equals(s.data(), payload));
        // A retransmission from before the wrap is old data, not a segment 4 GB ahead.
        CHECK(feed_part(s, 0xFFFFFF9DU, payload, 0, 10) == 0);
        CHECK(s.retransmitted_bytes() == 10);
        CHECK_FALSE(s.has_gap());
    }
    SUBCASE("midstream start at 2^32 - 2") {
        TcpStream s;
        CHECK(feed_part(s, 0xFFFFFFFEU, payload, 0, 2) == 2);
        CHECK(feed_part(s, 0xFFFFFFFEU, payload, 2, 300) == 298);
        CHECK(equals(s.data(), payload));
    }
}

TEST_CASE("TcpStream: gap when pending limits are exceeded") {
    SUBCASE("too many out-of-order segments") {
        StreamLimits limits;
        limits.max_pending_segments = 4;
        TcpStream s(limits);
        s.on_syn(0);
        REQUIRE(feed(s, 1, "0123456789") == 10);
        // Hole at offset 10; five adjacent segments beyond it.
        for (std::uint32_t i = 0; i < 4; ++i) REQUIRE(feed(s, 21 + i * 5, "abcde") == 0);
        CHECK(s.pending_segments() == 4);
        CHECK_FALSE(s.has_gap());
        CHECK(feed(s, 41, "abcde") == 0);
        CHECK(s.has_gap());
        REQUIRE(s.gap_offset().has_value());
        CHECK(*s.gap_offset() == 10);
        CHECK(s.pending_segments() == 0);
        CHECK(text(s.data()) == "0123456789");
        // Inspection stopped: the hole's bytes arriving late are not appended, only counted.
        CHECK(feed(s, 11, "ABCDEFGHIJ") == 0);
        CHECK(text(s.data()) == "0123456789");
        CHECK(s.wire_bytes() == 10 + 25 + 10);
    }
    SUBCASE("too many pending bytes") {
        StreamLimits limits;
        limits.max_pending_bytes = 100;
        TcpStream s(limits);
        s.on_syn(0);
        REQUIRE(feed(s, 1, "abc") == 3);
        REQUIRE(feed(s, 11, pattern(100)) == 0);
        CHECK_FALSE(s.has_gap());
        CHECK(feed(s, 111, "x") == 0);
        CHECK(s.has_gap());
        REQUIRE(s.gap_offset().has_value());
        CHECK(*s.gap_offset() == 3);
    }
}

TEST_CASE("TcpStream: gap when the peer acknowledges bytes we never saw") {
    TcpStream s;
    s.on_syn(999);  // offset 0 = seq 1000
    REQUIRE(feed(s, 1000, "0123456789") == 10);

    SUBCASE("ack into the hole while data waits beyond it") {
        REQUIRE(feed(s, 1020, "klmnopqrst") == 0);  // hole [10, 20)
        s.on_peer_ack(1010);                       // acks exactly what we have: fine
        CHECK_FALSE(s.has_gap());
        s.on_peer_ack(1015);
        CHECK(s.has_gap());
        REQUIRE(s.gap_offset().has_value());
        CHECK(*s.gap_offset() == 10);
        CHECK(text(s.data()) == "0123456789");
    }
    SUBCASE("ack beyond our data without a hole: the bytes may still arrive") {
        s.on_peer_ack(1030);
        CHECK_FALSE(s.has_gap());
        CHECK(feed(s, 1010, "abc") == 3);
        CHECK(text(s.data()) == "0123456789abc");
    }
    SUBCASE("finish() with a hole open") {
        REQUIRE(feed(s, 1020, "k") == 0);
        s.finish();
        CHECK(s.has_gap());
        REQUIRE(s.gap_offset().has_value());
        CHECK(*s.gap_offset() == 10);
    }
    SUBCASE("finish() without a hole") {
        s.finish();
        CHECK_FALSE(s.has_gap());
    }
}

TEST_CASE("TcpStream: gap where the snap length cut a segment") {
    const auto payload = pattern(200, 1);
    SUBCASE("in order") {
        TcpStream s;
        s.on_syn(0);
        CHECK(s.on_segment(1, Bytes(payload).first(60), 100) == 60);
        CHECK(s.has_gap());
        REQUIRE(s.gap_offset().has_value());
        CHECK(*s.gap_offset() == 60);
        CHECK(s.wire_bytes() == 100);
        CHECK(equals(s.data(), std::vector<std::uint8_t>(payload.begin(), payload.begin() + 60)));
        CHECK(feed_part(s, 1, payload, 100, 200) == 0);
        CHECK(s.data().size() == 60);
    }
    SUBCASE("out of order: the gap waits until the hole before it fills") {
        TcpStream s;
        s.on_syn(0);
        CHECK(s.on_segment(101, Bytes(payload).subspan(100, 50), 100) == 0);
        CHECK_FALSE(s.has_gap());
        CHECK(feed_part(s, 1, payload, 0, 100) == 150);
        CHECK(s.has_gap());
        REQUIRE(s.gap_offset().has_value());
        CHECK(*s.gap_offset() == 150);
        CHECK(equals(s.data(), std::vector<std::uint8_t>(payload.begin(), payload.begin() + 150)));
    }
    SUBCASE("headers only captured (no payload at all)") {
        TcpStream s;
        s.on_syn(0);
        REQUIRE(feed_part(s, 1, payload, 0, 10) == 10);
        CHECK(s.on_segment(11, Bytes{}, 90) == 0);
        CHECK(s.has_gap());
        REQUIRE(s.gap_offset().has_value());
        CHECK(*s.gap_offset() == 10);
    }
    SUBCASE("a cut copy of bytes we already hold is harmless") {
        TcpStream s;
        s.on_syn(0);
        REQUIRE(feed_part(s, 1, payload, 0, 100) == 100);
        CHECK(s.on_segment(1, Bytes(payload).first(40), 100) == 0);
        CHECK_FALSE(s.has_gap());
        CHECK(s.retransmitted_bytes() == 100);
    }
}

TEST_CASE("TcpStream: max_bytes caps the buffer, counters keep counting") {
    StreamLimits limits;
    limits.max_bytes = 100;
    TcpStream s(limits);
    s.on_syn(0);
    const auto payload = pattern(250, 5);
    CHECK(feed_part(s, 1, payload, 0, 60) == 60);
    CHECK_FALSE(s.full());
    CHECK(feed_part(s, 1, payload, 60, 150) == 40);
    CHECK(s.full());
    CHECK_FALSE(s.inspecting());
    CHECK(feed_part(s, 1, payload, 150, 250) == 0);
    CHECK(s.data().size() == 100);
    CHECK(equals(s.data(), std::vector<std::uint8_t>(payload.begin(), payload.begin() + 100)));
    CHECK(s.wire_bytes() == 250);
    CHECK(s.data_segments() == 3);
    // After full, retransmissions are still counted (against the highest byte seen).
    CHECK(feed_part(s, 1, payload, 200, 250) == 0);
    CHECK(s.retransmitted_bytes() == 50);
    CHECK(s.wire_bytes() == 300);
    CHECK(s.memory_bytes() <= 100);
    // A full stream has no gap to report, even at finish().
    s.finish();
    CHECK_FALSE(s.has_gap());
}

TEST_CASE("TcpStream: memory is reserved lazily and released") {
    TcpStream s;  // default max_bytes = 16 KiB
    s.on_syn(0);
    CHECK(s.memory_bytes() == 0);
    REQUIRE(feed(s, 1, pattern(100)) == 100);
    CHECK(s.memory_bytes() >= 100);
    CHECK(s.memory_bytes() < 1024);

    SUBCASE("release frees the buffer; later segments only count") {
        REQUIRE(feed(s, 201, pattern(50)) == 0);  // pending range too
        CHECK(s.memory_bytes() > 100);
        s.release();
        CHECK(s.released());
        CHECK_FALSE(s.inspecting());
        CHECK(s.memory_bytes() == 0);
        CHECK(s.data().empty());
        CHECK(s.pending_segments() == 0);
        CHECK(feed(s, 101, pattern(100)) == 0);
        CHECK(s.memory_bytes() == 0);
        CHECK(s.wire_bytes() == 250);
        CHECK(s.data_segments() == 3);
        // Without the pending ranges, filling the old hole [100, 200) also counts as retransmitted:
        // after release() the counter compares with the highest byte seen (documented approximation).
        CHECK(s.retransmitted_bytes() == 100);
        CHECK(feed(s, 1, pattern(10)) == 0);
        CHECK(s.retransmitted_bytes() == 110);
        s.on_peer_ack(100000);
        s.finish();
        CHECK_FALSE(s.has_gap());
    }
    SUBCASE("a full 16 KiB stream never holds more than max_bytes") {
        const auto big = pattern(40000, 2);
        for (std::size_t off = 0; off < big.size(); off += 1448) {
            feed_part(s, 1, big, off, std::min(big.size(), off + 1448));
        }
        CHECK(s.full());
        CHECK(s.data().size() == 16 * 1024);
        CHECK(s.memory_bytes() <= 16 * 1024);
        CHECK(s.wire_bytes() == 100 + 40000);
    }
}

TEST_CASE("TcpStream: random segmentation, order and retransmission rebuild the same bytes") {
    std::uint64_t state = 0x9e3779b97f4a7c15ULL;
    auto next = [&state](std::uint64_t bound) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state % bound;
    };
    for (int round = 0; round < 300; ++round) {
        CAPTURE(round);
        const std::size_t size = 1 + next(6000);
        const auto payload = pattern(size, static_cast<std::uint8_t>(round));
        // Random pieces that together cover everything, some overlapping, some repeated.
        std::vector<std::array<std::size_t, 2>> pieces;
        for (std::size_t at = 0; at < size;) {
            const std::size_t len = 1 + next(1500);
            const std::size_t from = at > 0 && next(4) == 0 ? at - std::min(at, next(300)) : at;  // overlap back
            pieces.push_back({from, std::min(size, at + len)});
            at += len;
        }
        const std::size_t extra = next(4);
        for (std::size_t i = 0; i < extra; ++i) pieces.push_back(pieces[next(pieces.size())]);
        for (std::size_t i = pieces.size(); i > 1; --i) std::swap(pieces[i - 1], pieces[next(i)]);

        StreamLimits limits;
        limits.max_bytes = 4096;  // some rounds go past it
        limits.max_pending_segments = 1000;
        limits.max_pending_bytes = 1 << 20;
        TcpStream s(limits);
        const auto isn = static_cast<std::uint32_t>(next(1ULL << 32));
        s.on_syn(isn);
        std::size_t appended = 0;
        for (const auto& p : pieces) appended += feed_part(s, isn + 1, payload, p[0], p[1]);
        const std::size_t expect = std::min<std::size_t>(size, limits.max_bytes);
        CHECK(appended == expect);
        CHECK(s.data().size() == expect);
        CHECK(equals(s.data(), std::vector<std::uint8_t>(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(expect))));
        CHECK_FALSE(s.has_gap());
        CHECK(s.inconsistent_retransmissions() == 0);
        if (!s.full()) {
            CHECK(s.pending_segments() == 0);
            CHECK(s.pending_bytes() == 0);
        }
        CHECK(s.memory_bytes() <= limits.max_bytes + 64 * 1024);
    }
}

TEST_CASE("TcpStream: arbitrary sequence numbers never break its bounds") {
    std::uint64_t state = 12345;
    auto next = [&state](std::uint64_t bound) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (state >> 33) % bound;
    };
    const auto junk = pattern(3000, 77);
    for (int round = 0; round < 200; ++round) {
        CAPTURE(round);
        StreamLimits limits;
        limits.max_bytes = 2048;
        TcpStream s(limits);
        if (next(2) == 0) s.on_syn(static_cast<std::uint32_t>(next(1ULL << 32)));
        const auto anchor = static_cast<std::uint32_t>(next(1ULL << 32));
        for (int i = 0; i < 200; ++i) {
            const std::size_t len = next(1600);
            const auto seq = next(8) == 0 ? static_cast<std::uint32_t>(next(1ULL << 32))
                                          : anchor + static_cast<std::uint32_t>(next(20000));
            const auto wire = static_cast<std::uint32_t>(len + (next(10) == 0 ? next(500) : 0));
            s.on_segment(seq, Bytes(junk).first(len), wire);
            if (next(5) == 0) s.on_peer_ack(anchor + static_cast<std::uint32_t>(next(20000)));
            REQUIRE(s.data().size() <= limits.max_bytes);
            REQUIRE(s.pending_segments() <= limits.max_pending_segments);
            REQUIRE(s.pending_bytes() <= limits.max_pending_bytes);
            REQUIRE(s.memory_bytes() <= limits.max_bytes + 64 * 1024);
        }
        s.finish();
        CHECK((s.full() || s.has_gap() || s.pending_segments() == 0));
    }
}
