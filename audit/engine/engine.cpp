#include "audit/engine/engine.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <unordered_map>
#include <utility>

#include "audit/classify/plaintext.hpp"
#include "audit/classify/tls_parser.hpp"
#include "audit/decode/packet.hpp"
#include "audit/flow/flow_table.hpp"
#include "audit/flow/tcp_flow.hpp"
#include "audit/verdict/verdict.hpp"

namespace meshproof::audit {

namespace {

constexpr auto kC2S = Direction::ClientToServer;
constexpr auto kS2C = Direction::ServerToClient;
constexpr std::uint32_t kNoRecord = 0xffffffffu;

// Classifier state of a flow whose verdict is still open. Freed when the verdict is final, so a
// finished flow costs only its TcpFlow counters.
struct FlowAnalysis {
    enum class Mode : std::uint8_t { Undecided, Tls, Plaintext };
    Mode mode = Mode::Undecided;
    TlsParser tls;
    std::array<std::optional<std::size_t>, 2> tls_start{};  // stream offset where TLS starts, per direction
    std::optional<std::string> prelude;                     // plaintext upgrade before TLS
    std::size_t prelude_len[2] = {0, 0};
    std::size_t upgrade_scanned = 0;                        // client bytes already searched for a ClientHello
    bool tls_checked_server_side = false;
};

// What is left of a flow once its verdict is final: the TcpFlow and classifier state are freed, the
// counters live in the flow's FinalFlow, and this remembers just enough to count the remaining
// packets per direction, ignore duplicate frames and notice port reuse.
struct LastPacket {
    double ts = 0;
    std::uint32_t seq = 0, ack = 0, len = 0;
    std::uint16_t window = 0;  // tells a real duplicate ACK (window update) from the same frame twice
    std::uint8_t flags = 0;
    bool valid = false;
};

// The same frame captured twice (`-i any`: on the veth and on the bridge) within a millisecond.
bool is_duplicate(const LastPacket& last, const LastPacket& now) {
    return last.valid && last.seq == now.seq && last.ack == now.ack && last.len == now.len && last.flags == now.flags &&
           last.window == now.window && now.ts >= last.ts && now.ts - last.ts <= 0.001;
}

// A flow whose verdict is still open: its TCP state and, from the first payload byte, its classifier
// state (one pointer in FlowState for both: every tracked flow pays for it).
struct OpenFlow : TcpFlow {
    using TcpFlow::TcpFlow;
    std::unique_ptr<FlowAnalysis> analysis;
};

struct FlowState {
    std::unique_ptr<OpenFlow> tcp;            // until the verdict is final
    std::array<LastPacket, 2> last{};         // after the verdict: duplicate-frame filter
    std::uint32_t record = kNoRecord;         // index into Impl::finals once the verdict is final
    std::uint32_t vni = 0;
    std::uint32_t input = 0;
    std::array<bool, 2> fin{};                // after the verdict: FIN seen per direction
    // Closed (FIN both ways or RST) and already reported: the entry lingers until idle expiry only to
    // absorb the last ACKs, which would otherwise look like a new midstream flow.
    bool done = false;
    bool closed_by_rst = false;               // after the verdict
    bool client_is_a = true;                  // after the verdict: the client is the key's endpoint a
    Tunnel tunnel = Tunnel::None;
};

// A tracked flow whose verdict is final: what the verdict said (shared by every tracked flow that got
// exactly the same verdict, evidence and summaries: a mesh repeats the same handshake thousands of
// times) and the counters that still move. With the table entry this is the whole cost of such a flow.
struct FinalFlow {
    std::shared_ptr<const FlowRecord> verdict;  // endpoints, counters and times left empty
    std::array<std::uint64_t, 2> packets{}, bytes{};
    double first_seen = 0, last_seen = 0;
    std::uint64_t duplicates = 0, retransmitted_bytes = 0;
};

// The issue-6 bound (<= 256 bytes per tracked flow with a final verdict), kept by construction.
static_assert(sizeof(FinalFlow) <= 80, "FinalFlow grew: bytes per tracked flow with a final verdict");
static_assert(sizeof(FlowState) <= 80, "FlowState grew: every tracked flow pays for it");

void hash_combine(std::size_t& h, std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); }

// Hash of the fields a shared verdict holds; equal verdicts hash equal (same_verdict decides).
std::size_t verdict_hash(const FlowRecord& r) {
    const std::hash<std::string> hs;
    std::size_t h = static_cast<std::size_t>(r.verdict);
    hash_combine(h, hs(r.protocol));
    for (const auto& e : r.evidence) hash_combine(h, hs(e));
    if (r.tls) {
        if (r.tls->sni) hash_combine(h, hs(*r.tls->sni));
        hash_combine(h, hs(r.tls->ja4));
        hash_combine(h, hs(r.tls->ja3));
    }
    if (r.plaintext) hash_combine(h, hs(r.plaintext->first_line));
    for (const auto& sec : r.secrets) hash_combine(h, hs(sec.value));
    return h;
}

bool same_verdict(const FlowRecord& a, const FlowRecord& b) {
    return a.verdict == b.verdict && a.midstream == b.midstream && a.client_basis == b.client_basis &&
           a.gap == b.gap && a.protocol == b.protocol && a.evidence == b.evidence && a.tls == b.tls &&
           a.plaintext == b.plaintext && a.secrets == b.secrets;
}

}  // namespace

struct Engine::Impl {
    EngineConfig cfg;
    FlowTable<FlowState> table;
    std::deque<FinalFlow> finals;          // tracked flows with a final verdict (a deque: no copy on growth)
    std::vector<std::uint32_t> free_slots; // in finals
    // Distinct verdicts of tracked flows, by verdict_hash; an entry goes when its last flow completes.
    std::unordered_multimap<std::size_t, std::shared_ptr<const FlowRecord>> verdicts;
    std::vector<FlowRecord> finished;      // completed flows, kept for the report (keep_records)
    std::vector<std::shared_ptr<const std::string>> input_names;  // FlowRecord::source, one per input
    AuditSummary summary;
    FlowSink sink;
    std::uint32_t input_index = 0;
    std::uint64_t input_packets = 0;
    Engine::PacketUse last_use = Engine::PacketUse::NotTcp;
    std::size_t lingering = 0;  // reported flows still in the table (done)

    explicit Impl(EngineConfig c) : cfg(c), table(c.max_flows) {
        table.set_eviction_handler([this](const FlowKey& key, FlowState& fs, EvictionReason why) {
            if (why == EvictionReason::Capacity && !fs.done) ++summary.flows_evicted;
            complete(key, fs, why == EvictionReason::Capacity);
            forget(fs);
        });
    }

    void count_decode(const DecodedPacket& d) {
        switch (d.status) {
            case DecodeStatus::Ok: break;
            case DecodeStatus::NotIp: ++summary.not_ip; break;
            case DecodeStatus::Fragment: ++summary.ip_fragments; break;
            case DecodeStatus::UnsupportedLinkType: ++summary.unsupported_link; break;
            case DecodeStatus::Truncated: ++summary.truncated_frames; break;
            case DecodeStatus::Malformed: ++summary.malformed_frames; break;
            case DecodeStatus::OtherTransport: ++summary.other_transport; break;
            case DecodeStatus::LinkEncrypted: ++summary.link_encrypted_frames; break;
        }
    }

    void on_packet(const RawPacket& p) {
        last_use = Engine::PacketUse::NotTcp;
        ++summary.packets;
        ++input_packets;
        summary.bytes += p.wire_len;
        if (summary.first_ts == 0 || p.ts < summary.first_ts) summary.first_ts = p.ts;
        summary.last_ts = std::max(summary.last_ts, p.ts);

        const DecodedPacket d = decode_frame(static_cast<LinkType>(p.link_type), p.data);
        count_decode(d);
        if (d.status != DecodeStatus::Ok) return;
        if (d.tunnel != Tunnel::None) ++summary.tunnelled_packets;
        if (d.transport == Transport::Udp) {
            ++summary.udp_packets;
            return;
        }
        if (d.transport != Transport::Tcp) return;
        ++summary.tcp_packets;

        const FlowKey key = FlowKey::from_packet(d);
        auto make = [&] {
            FlowState fs;
            fs.tcp = std::make_unique<OpenFlow>(d, p.ts, cfg.stream);
            fs.tunnel = d.tunnel;
            fs.vni = d.tunnel_vni;
            fs.input = input_index;
            return fs;
        };
        auto res = table.find_or_insert(key, p.ts, make);
        if (!res.inserted && starts_new_connection(*res.value, d)) {
            // Port reuse: the old connection is over, a new one starts on the same 4-tuple.
            complete(key, *res.value, false);
            forget(*res.value);
            table.erase(key);
            res = table.find_or_insert(key, p.ts, make);
        }
        FlowState& fs = *res.value;
        if (fs.done) {
            last_use = Engine::PacketUse::AfterVerdictEncrypted;  // a late ACK of a reported flow
            for (const LastPacket& last : fs.last) {
                if (is_duplicate(last, LastPacket{p.ts, d.seq, d.ack, d.wire_payload_len, d.window, d.tcp_flags, true})) {
                    ++summary.duplicate_packets;
                    break;
                }
            }
            return;
        }
        if (!fs.tcp) {
            last_use = is_plaintext(finals[fs.record].verdict->verdict) ? Engine::PacketUse::AfterVerdictPlaintext
                                                                         : Engine::PacketUse::AfterVerdictEncrypted;
            // FIN both ways earlier: this is the last ACK; count it, then report the flow.
            const bool fin_closed = fs.fin[0] && fs.fin[1];
            if (count_final(key, fs, d, p.ts) && (fin_closed || fs.closed_by_rst)) complete(key, fs, false);
            return;
        }
        last_use = Engine::PacketUse::Inspected;
        const std::uint64_t dups = fs.tcp->duplicates();
        const Direction dir = fs.tcp->on_packet(d, p.ts);
        if (fs.tcp->duplicates() != dups) {
            ++summary.duplicate_packets;
            return;
        }
        if (!d.payload.empty() || (d.tcp_flags & (tcp_flags::Fin | tcp_flags::Rst))) analyze(key, fs);
        // The verdict became final on this packet: a second copy of it must still count as a duplicate.
        if (!fs.tcp) {
            fs.last[index(dir)] = LastPacket{p.ts, d.seq, d.ack, d.wire_payload_len, d.window, d.tcp_flags, true};
            // Report a reset flow now (dashboards should not wait for the idle timeout); a flow closed
            // by FINs is reported with its last ACK (count_final above).
            if (fs.closed_by_rst) complete(key, fs, false);
        }
    }

    void forget(FlowState& fs) {
        if (fs.done) --lingering;
        fs.done = false;
    }

    bool starts_new_connection(const FlowState& fs, const DecodedPacket& d) const {
        if (fs.tcp && !fs.done) return fs.tcp->starts_new_connection(d);
        // After the verdict (there was payload), a pure SYN can only open a new connection.
        return (d.tcp_flags & (tcp_flags::Syn | tcp_flags::Ack)) == tcp_flags::Syn;
    }

    // The hot path once a verdict is final: a direction test, a duplicate test and counters.
    // Returns false for a duplicate frame (not counted).
    bool count_final(const FlowKey& key, FlowState& fs, const DecodedPacket& d, double ts) {
        FinalFlow& ff = finals[fs.record];
        const Direction dir = key.is_endpoint_a(d.src, d.src_port) == fs.client_is_a ? kC2S : kS2C;
        LastPacket& last = fs.last[index(dir)];
        const LastPacket now{ts, d.seq, d.ack, d.wire_payload_len, d.window, d.tcp_flags, true};
        if (is_duplicate(last, now)) {
            ++summary.duplicate_packets;
            ++ff.duplicates;
            return false;
        }
        last = now;
        ++ff.packets[index(dir)];
        ff.bytes[index(dir)] += d.wire_payload_len;
        ff.last_seen = std::max(ff.last_seen, ts);
        if (d.tcp_flags & tcp_flags::Rst) fs.closed_by_rst = true;
        if (d.tcp_flags & tcp_flags::Fin) fs.fin[index(dir)] = true;
        return true;
    }

    // Decide, as bytes arrive, which classifier owns the flow; finalize as soon as nothing more can
    // be learned (the nDPI/Zeek cutoff), so the rest of the flow costs a lookup and counters.
    void analyze(const FlowKey& key, FlowState& fs) {
        if (!fs.tcp->analysis) fs.tcp->analysis = std::make_unique<FlowAnalysis>();
        FlowAnalysis& a = *fs.tcp->analysis;
        TcpFlow& tcp = *fs.tcp;
        if (a.mode == FlowAnalysis::Mode::Undecided) {
            const Bytes c2s = tcp.stream(kC2S).data();
            const Bytes s2c = tcp.stream(kS2C).data();
            if (!c2s.empty()) {
                const ParseOutcome o = sniff_tls(c2s);
                if (o == ParseOutcome::Ok) {
                    a.mode = FlowAnalysis::Mode::Tls;
                    a.tls_start[index(kC2S)] = 0;
                } else if (o == ParseOutcome::NotThisProtocol) {
                    a.mode = FlowAnalysis::Mode::Plaintext;
                }
            } else if (!s2c.empty()) {
                const ParseOutcome o = sniff_tls(s2c);
                if (o == ParseOutcome::Ok) {
                    // A ClientHello from the side the port heuristic called the server: fix the roles.
                    if (tcp.midstream() && find_tls_start(s2c, true, 1) == std::size_t{0}) tcp.swap_roles();
                    a.mode = FlowAnalysis::Mode::Tls;
                } else if (o == ParseOutcome::NotThisProtocol) {
                    a.mode = FlowAnalysis::Mode::Plaintext;  // server speaks first (SMTP, MySQL, SSH)
                }
            }
        }
        if (a.mode == FlowAnalysis::Mode::Plaintext) look_for_tls_upgrade(fs);
        if (a.mode == FlowAnalysis::Mode::Tls) {
            feed_tls(fs);
            const TlsFacts& t = a.tls.facts();
            const bool both_failed = a.tls.failed(kC2S) && a.tls.failed(kS2C);
            if (t.handshake_visible_complete || both_failed) return finalize(key, fs);
        }
        if (tcp.closed()) return finalize(key, fs);
        if (a.mode == FlowAnalysis::Mode::Plaintext && (!tcp.stream(kC2S).inspecting() || !tcp.stream(kS2C).inspecting()))
            return finalize(key, fs);
        if (a.mode == FlowAnalysis::Mode::Tls && !tcp.stream(kC2S).inspecting() && !tcp.stream(kS2C).inspecting())
            return finalize(key, fs);
    }

    void feed_tls(FlowState& fs) {
        FlowAnalysis& a = *fs.tcp->analysis;
        for (Direction d : {kC2S, kS2C}) {
            const Bytes data = fs.tcp->stream(d).data();
            auto& start = a.tls_start[index(d)];
            if (!start && !data.empty()) {
                // The other side's TLS: at byte 0 normally; after a prelude for STARTTLS-style upgrades.
                if (sniff_tls(data) == ParseOutcome::Ok) start = 0;
                else if (auto off = find_tls_start(data, d == kC2S)) start = *off;
            }
            if (start && *start <= data.size()) a.tls.feed(d, data.subspan(*start));
        }
    }

    // Plaintext that turns into TLS (SMTP STARTTLS, PostgreSQL SSLRequest, MySQL CLIENT_SSL, SOCKS).
    void look_for_tls_upgrade(FlowState& fs) {
        FlowAnalysis& a = *fs.tcp->analysis;
        const Bytes c2s = fs.tcp->stream(kC2S).data();
        constexpr std::size_t kMaxPrelude = 4096;
        // Search only bytes not searched before (a download grows s2c, not c2s), backing up a few
        // bytes so a record + handshake header (11 bytes) split across two calls is still found.
        if (c2s.size() <= a.upgrade_scanned || a.upgrade_scanned >= kMaxPrelude) return;
        const std::size_t from = a.upgrade_scanned > 16 ? a.upgrade_scanned - 16 : 0;
        a.upgrade_scanned = c2s.size();
        const auto rel = find_tls_start(c2s.subspan(from), true, kMaxPrelude - from);
        if (!rel) return;
        const std::optional<std::size_t> off = from + *rel;
        if (*off == 0) return;
        a.mode = FlowAnalysis::Mode::Tls;
        a.tls_start[index(kC2S)] = *off;
        a.prelude_len[index(kC2S)] = *off;
        const Bytes s2c = fs.tcp->stream(kS2C).data();
        if (auto soff = find_tls_start(s2c, false)) {
            a.tls_start[index(kS2C)] = *soff;
            a.prelude_len[index(kS2C)] = *soff;
        }
    }

    // The verdict is final: keep the flow as a FinalFlow (counters + shared verdict) until it ends.
    void finalize(const FlowKey& key, FlowState& fs) {
        if (!fs.tcp) return;
        FlowRecord rec = judge(fs);
        fs.client_is_a = key.is_endpoint_a(rec.client_ip, rec.client_port);
        fs.closed_by_rst = rec.closed_by_rst;
        FinalFlow ff;
        ff.packets = rec.packets;
        ff.bytes = rec.bytes;
        ff.first_seen = rec.first_seen;
        ff.last_seen = rec.last_seen;
        ff.duplicates = rec.duplicates;
        ff.retransmitted_bytes = rec.retransmitted_bytes;
        ff.verdict = share_verdict(std::move(rec));
        if (!free_slots.empty()) {
            fs.record = free_slots.back();
            free_slots.pop_back();
            finals[fs.record] = std::move(ff);
        } else {
            fs.record = static_cast<std::uint32_t>(finals.size());
            finals.push_back(std::move(ff));
        }
    }

    // The shared copy of this verdict (endpoints and counters cleared), made on first sight.
    std::shared_ptr<const FlowRecord> share_verdict(FlowRecord rec) {
        rec.client_ip = rec.server_ip = IpAddress{};
        rec.client_port = rec.server_port = 0;
        rec.packets = rec.bytes = {};
        rec.first_seen = rec.last_seen = 0;
        rec.duplicates = rec.retransmitted_bytes = 0;
        rec.closed_by_rst = false;
        const std::size_t h = verdict_hash(rec);
        auto [it, end] = verdicts.equal_range(h);
        for (; it != end; ++it) {
            if (same_verdict(*it->second, rec)) return it->second;
        }
        return verdicts.emplace(h, std::make_shared<const FlowRecord>(std::move(rec)))->second;
    }

    // Drops a FinalFlow's verdict, and the shared copy with it when this was its last flow.
    void release_verdict(FinalFlow& ff) {
        if (ff.verdict.use_count() == 2) {  // this flow and the verdicts map
            auto [it, end] = verdicts.equal_range(verdict_hash(*ff.verdict));
            for (; it != end; ++it) {
                if (it->second == ff.verdict) {
                    verdicts.erase(it);
                    break;
                }
            }
        }
        ff.verdict.reset();
    }

    // The flow's whole record from its TcpFlow and classifier state, which are freed.
    FlowRecord judge(FlowState& fs) {
        if (!fs.tcp->analysis) fs.tcp->analysis = std::make_unique<FlowAnalysis>();  // no payload ever came
        FlowAnalysis& a = *fs.tcp->analysis;
        TcpFlow& tcp = *fs.tcp;
        tcp.finish();
        if (a.mode == FlowAnalysis::Mode::Tls) feed_tls(fs);

        FlowObservations obs;
        obs.server_port = tcp.server_port();
        obs.syn_seen = tcp.syn_seen();
        obs.synack_seen = tcp.synack_seen();
        obs.midstream = tcp.midstream();
        obs.client_fin = tcp.fin_from(kC2S);
        obs.server_fin = tcp.fin_from(kS2C);
        obs.client_rst = tcp.rst_from(kC2S);
        obs.server_rst = tcp.rst_from(kS2C);
        for (Direction d : {kC2S, kS2C}) {
            const auto i = index(d);
            obs.payload_bytes[i] = tcp.stats(d).wire_payload_bytes;
            obs.first_bytes[i] = tcp.stream(d).data();
            obs.payload_cut[i] = tcp.stream(d).has_gap();
        }
        std::optional<PlaintextFacts> plain;
        if (a.mode == FlowAnalysis::Mode::Tls) {
            const TlsFacts& t = a.tls.facts();
            obs.tls = &t;
            // TLS mode was entered on a valid record header: without a hello the flow is still TLS.
            obs.tls_records_only = !t.client_hello && !t.server_hello;
            if (a.prelude_len[0] > 0) {
                const Bytes c2s = obs.first_bytes[0].first(std::min(a.prelude_len[0], obs.first_bytes[0].size()));
                const Bytes s2c = obs.first_bytes[1].first(std::min(a.prelude_len[1], obs.first_bytes[1].size()));
                plain = classify_plaintext(c2s, s2c, obs.server_port);
                obs.tls_prelude = plain->tls_upgrade ? *plain->tls_upgrade
                                                     : (plain->protocol.empty() ? std::string("plaintext prelude") : plain->protocol);
                obs.plaintext = &*plain;
            }
            add_outcomes("tls", a.tls.outcomes());
        } else {
            plain = classify_plaintext(obs.first_bytes[0], obs.first_bytes[1], obs.server_port);
            obs.plaintext = &*plain;
        }
        if (plain) {
            for (const auto& run : plain->outcomes) summary.parse_outcomes[std::string(run.parser)].add(run.outcome);
        }
        FlowRecord rec;
        decide(obs, rec);
        rec.client_ip = tcp.client_address();
        rec.server_ip = tcp.server_address();
        rec.client_port = tcp.client_port();
        rec.server_port = tcp.server_port();
        rec.midstream = tcp.midstream();
        rec.client_basis = to_string(tcp.client_basis());
        for (Direction d : {kC2S, kS2C}) {
            const auto i = index(d);
            rec.gap[i] = tcp.stream(d).has_gap();
            rec.packets[i] = tcp.stats(d).packets;
            rec.bytes[i] = tcp.stats(d).wire_payload_bytes;
            fs.fin[i] = tcp.fin_from(d);
        }
        rec.first_seen = tcp.first_seen();
        rec.last_seen = tcp.last_seen();
        rec.duplicates = tcp.duplicates();
        rec.retransmitted_bytes = tcp.stream(kC2S).retransmitted_bytes() + tcp.stream(kS2C).retransmitted_bytes();
        rec.closed_by_rst = tcp.rst_seen();

        // From here on the flow costs only counters (count_final).
        fs.tcp.reset();
        return rec;
    }

    void add_outcomes(const std::string& parser, const OutcomeCounts& c) {
        auto& dst = summary.parse_outcomes[parser];
        for (std::size_t i = 0; i < kParseOutcomeCount; ++i) dst.n[i] += c.n[i];
    }

    // The flow is over (closed and expired, evicted, or the capture ended): its counters are final.
    void complete(const FlowKey& key, FlowState& fs, bool evicted) {
        if (fs.done) return;
        FlowRecord rec;
        if (fs.tcp) {
            rec = judge(fs);  // never tracked with a final verdict: no shared copy needed
        } else {
            FinalFlow& ff = finals[fs.record];
            rec = *ff.verdict;
            release_verdict(ff);
            const bool a = fs.client_is_a;
            rec.client_ip = a ? key.addr_a : key.addr_b;
            rec.client_port = a ? key.port_a : key.port_b;
            rec.server_ip = a ? key.addr_b : key.addr_a;
            rec.server_port = a ? key.port_b : key.port_a;
            rec.packets = ff.packets;
            rec.bytes = ff.bytes;
            rec.first_seen = ff.first_seen;
            rec.last_seen = ff.last_seen;
            rec.duplicates = ff.duplicates;
            rec.retransmitted_bytes = ff.retransmitted_bytes;
            rec.closed_by_rst = fs.closed_by_rst;
            free_slots.push_back(fs.record);
            fs.record = kNoRecord;
        }
        rec.closed_by_fin = fs.fin[0] && fs.fin[1];
        rec.evicted = evicted;
        rec.tunnel = fs.tunnel;
        rec.vlan_or_vni = fs.vni;
        if (fs.input < input_names.size()) rec.source = input_names[fs.input];

        ++summary.flows;
        if (rec.midstream) ++summary.midstream_flows;
        const auto vi = static_cast<std::size_t>(rec.verdict);
        ++summary.verdict_flows[vi];
        summary.verdict_bytes[vi] += rec.bytes[0] + rec.bytes[1];
        for (const auto& sec : rec.secrets) ++summary.secrets_by_kind[sec.kind];
        if (sink) sink(rec);
        if (cfg.keep_records) finished.push_back(std::move(rec));
        fs.done = true;
        ++lingering;
    }
};

Engine::Engine(EngineConfig cfg) : impl_(std::make_unique<Impl>(cfg)) {}
Engine::~Engine() = default;

void Engine::set_sink(FlowSink sink) { impl_->sink = std::move(sink); }

void Engine::begin_input(const std::string& name, const std::string& description) {
    impl_->input_index = static_cast<std::uint32_t>(impl_->summary.inputs.size());
    impl_->summary.inputs.push_back(InputSummary{name, description, 0, std::nullopt, ""});
    impl_->input_names.push_back(std::make_shared<const std::string>(name));
    impl_->input_packets = 0;
}

void Engine::describe_input(const std::string& description) {
    if (!impl_->summary.inputs.empty()) impl_->summary.inputs.back().description = description;
}

Engine::PacketUse Engine::on_packet(const RawPacket& p) {
    impl_->on_packet(p);
    return impl_->last_use;
}

void Engine::end_input(std::uint64_t packets, const std::optional<SourceError>& error) {
    if (impl_->summary.inputs.empty()) return;
    InputSummary& in = impl_->summary.inputs.back();
    in.packets = packets;
    if (error) {
        in.error = error->message;
        switch (error->kind) {
            case SourceError::Kind::Open: in.error_kind = "open"; break;
            case SourceError::Kind::NotACapture: in.error_kind = "not-a-capture"; break;
            case SourceError::Kind::UnsupportedLinkType: in.error_kind = "unsupported-link-type"; break;
            case SourceError::Kind::Truncated: in.error_kind = "truncated"; break;
            case SourceError::Kind::Corrupt: in.error_kind = "corrupt"; break;
            case SourceError::Kind::Live: in.error_kind = "live"; break;
        }
    }
}

void Engine::expire(double now) { impl_->table.expire_idle(now, impl_->cfg.idle_timeout); }

void Engine::finish() {
    auto& f = impl_->finished;
    if (impl_->cfg.keep_records) f.reserve(f.size() + impl_->table.size());
    impl_->table.drain([this](const FlowKey& key, FlowState& fs) {
        impl_->complete(key, fs, false);
        impl_->forget(fs);
    });
    std::deque<FinalFlow>().swap(impl_->finals);  // every slot is free now
    impl_->free_slots.clear();
    impl_->verdicts.clear();
    // Sort by first packet: order 4-byte indices, then permute in place (sorting FlowRecords
    // directly would need a second buffer of them at the run's memory peak).
    std::vector<std::uint32_t> order(f.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return f[a].first_seen < f[b].first_seen; });
    for (std::size_t i = 0; i < order.size(); ++i) {
        // Cycle-follow: position i takes the record at order[i]; mark done by order[j] == j.
        std::size_t j = i;
        while (order[j] != i) {
            const std::size_t k = order[j];
            std::swap(f[j], f[k]);
            order[j] = static_cast<std::uint32_t>(j);
            j = k;
        }
        order[j] = static_cast<std::uint32_t>(j);
    }
}

const AuditSummary& Engine::summary() const {
    impl_->summary.flows_active = impl_->table.size() - impl_->lingering;
    return impl_->summary;
}
void Engine::note_drops(std::uint64_t kernel_dropped, std::uint64_t interface_dropped) {
    impl_->summary.kernel_dropped = kernel_dropped;
    impl_->summary.interface_dropped = interface_dropped;
}
void Engine::note_interrupted() { impl_->summary.interrupted = true; }
void Engine::note_evidence(EvidenceSummary evidence) { impl_->summary.evidence = std::move(evidence); }
const std::vector<FlowRecord>& Engine::records() const { return impl_->finished; }
std::vector<FlowRecord> Engine::take_records() { return std::exchange(impl_->finished, {}); }
std::size_t Engine::active_flows() const { return impl_->table.size() - impl_->lingering; }
std::size_t Engine::final_flow_bytes() {
    // Slot + one bucket index (load factor <= 1) + the FinalFlow + its free-list index when reused.
    return FlowTable<FlowState>::slot_bytes() + sizeof(std::uint32_t) + sizeof(FinalFlow) + sizeof(std::uint32_t);
}
std::size_t Engine::shared_verdicts() const { return impl_->verdicts.size(); }

bool read_capture_files(const std::vector<std::string>& paths, Engine& engine, const std::atomic<bool>* stop) {
    bool ok = true;
    for (const auto& path : paths) {
        SourceError err;
        auto src = open_capture_file(path, err);
        if (!src) {
            engine.begin_input(path, "unreadable");
            engine.end_input(0, err);
            ok = false;
            continue;
        }
        engine.begin_input(path, src->describe());
        RawPacket pkt;
        std::uint64_t n = 0;
        SourceStatus st;
        while ((st = src->next(pkt)) == SourceStatus::Packet) {
            engine.on_packet(pkt);
            ++n;
            if (stop && (n & 0x3ff) == 0 && stop->load(std::memory_order_relaxed)) {
                engine.note_interrupted();
                break;
            }
        }
        // Again at the end: what the source learned while reading (a second capture glued on) shows up.
        engine.describe_input(src->describe());
        engine.end_input(n, src->error());
        if (src->error()) ok = false;
        if (engine.summary().interrupted) break;
    }
    return ok;
}

}  // namespace meshproof::audit
