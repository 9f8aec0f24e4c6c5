// Live capture with libpcap. The handle runs non-blocking and we poll its descriptor ourselves:
// with TPACKET_V3 libpcap's own blocking read waits in poll(-1) for the kernel to retire a ring block,
// and the kernel never retires an empty one, so on a quiet interface a blocking pcap_next_ex() would
// never return to look at the stop flag or the clock.
#include "audit/capture/live_source.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>

#include "audit/decode/packet.hpp"

namespace meshproof::audit {

namespace {

using Clock = std::chrono::steady_clock;

std::string link_name(int dlt) {
    const char* n = pcap_datalink_val_to_name(dlt);
    return n ? std::string(n) : "link type " + std::to_string(dlt);
}

// One line that says what is wrong and what to do about it.
std::string activate_error(int rc, const std::string& iface, pcap_t* p) {
    const std::string detail = pcap_geterr(p);
    switch (rc) {
        case PCAP_ERROR_NO_SUCH_DEVICE:
            return "interface '" + iface + "' not found (list interfaces with `ip link`): " + detail;
        case PCAP_ERROR_PERM_DENIED:
            return "capture on '" + iface + "' not permitted: run as root or give the binary CAP_NET_RAW "
                   "(setcap cap_net_raw,cap_net_admin=p): " + detail;
        case PCAP_ERROR_PROMISC_PERM_DENIED:
            return "promiscuous mode on '" + iface + "' not permitted: " + detail;
        case PCAP_ERROR_IFACE_NOT_UP:
            return "interface '" + iface + "' is down (ip link set " + iface + " up)";
        case PCAP_ERROR_RFMON_NOTSUP:
            return "interface '" + iface + "' does not support monitor mode";
        default:
            return "cannot capture on '" + iface + "': " + (detail.empty() ? pcap_statustostr(rc) : detail);
    }
}

std::string activate_warning(int rc, pcap_t* p) {
    const std::string detail = pcap_geterr(p);
    switch (rc) {
        case PCAP_WARNING_PROMISC_NOTSUP:
            return "promiscuous mode not supported: only this host's packets are seen (" + detail + ")";
        case PCAP_WARNING_TSTAMP_TYPE_NOTSUP: return "time stamp type not supported, using the default";
        default: return detail.empty() ? pcap_statustostr(rc) : detail;
    }
}

// The process's capability sets through the raw syscalls (no libcap): version 3 = two 32-bit words.
struct CapabilitySets {
    std::uint64_t effective = 0, permitted = 0, inheritable = 0;
};

bool read_capabilities(CapabilitySets& out) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0) return false;
    auto join = [](std::uint32_t lo, std::uint32_t hi) { return (std::uint64_t{hi} << 32) | lo; };
    out.effective = join(data[0].effective, data[1].effective);
    out.permitted = join(data[0].permitted, data[1].permitted);
    out.inheritable = join(data[0].inheritable, data[1].inheritable);
    return true;
}

// A binary given its capabilities as permitted only (setcap cap_net_raw,cap_net_admin=p: the kernel
// then never refuses to exec it where the pod lacks them) must raise them itself before activation.
void raise_permitted_capabilities() {
    CapabilitySets now;
    if (geteuid() == 0 || !read_capabilities(now) || now.permitted == 0 || now.effective == now.permitted) return;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    for (int i = 0; i < 2; ++i) {
        const auto word = [i](std::uint64_t v) { return static_cast<std::uint32_t>(v >> (32 * i)); };
        data[i].effective = word(now.permitted);
        data[i].permitted = word(now.permitted);
        data[i].inheritable = word(now.inheritable);
    }
    // On failure activation says "not permitted", which is the message that helps.
    syscall(SYS_capset, &header, data);
}

// Empties the effective, permitted and inheritable sets (and the ambient set), then checks they are empty.
bool drop_all_capabilities(std::string& err) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    // EINVAL on kernels without ambient capabilities (< 4.3): nothing to clear there.
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (syscall(SYS_capset, &header, data) != 0) {
        err = std::string("cannot drop capabilities: ") + std::strerror(errno);
        return false;
    }
    CapabilitySets now;
    if (!read_capabilities(now) || now.effective || now.permitted || now.inheritable) {
        err = "capabilities still held after dropping them; refusing to go on";
        return false;
    }
    return true;
}

// No execve from here on can gain privileges (setuid binaries, file capabilities).
void forbid_new_privileges() { prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

bool lookup_user(const std::string& user, uid_t& uid, gid_t& gid, std::string& err) {
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    const int rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || !found) {
        err = "--user " + user + ": no such user" + (rc ? std::string(" (") + std::strerror(rc) + ")" : "");
        return false;
    }
    uid = pw.pw_uid;
    gid = pw.pw_gid;
    return true;
}

// The evidence file is created 0640 before the drop; like tcpdump -Z, hand it to the user the
// capture runs as, so that user (writing a bundle, say) can read it back.
bool hand_file_to_user(const std::string& path, const std::string& user, std::string& err) {
    if (geteuid() != 0 || path == "-") return true;
    uid_t uid = 0;
    gid_t gid = 0;
    if (!lookup_user(user, uid, gid, err)) return false;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return true;
    if (::chown(path.c_str(), uid, gid) != 0) {
        err = path + ": cannot hand the evidence file to " + user + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

// Started as root: setgroups/setgid/setuid to `user`, then check it took and cannot be undone (as
// tcpdump -Z does). Started non-root (file capabilities): drop every capability, keep the uid.
bool drop_privileges(const std::string& user, std::string& note, std::string& err) {
    if (geteuid() != 0) {
        CapabilitySets before;
        const bool had = read_capabilities(before) && (before.effective || before.permitted);
        if (!drop_all_capabilities(err)) return false;
        forbid_new_privileges();
        note = "not started as root: running as uid " + std::to_string(getuid()) +
               (had ? ", all capabilities dropped" : ", no capabilities held");
        return true;
    }
    uid_t uid = 0;
    gid_t gid = 0;
    if (!lookup_user(user, uid, gid, err)) return false;
    if (uid == 0) {
        note = "kept root privileges (--user " + user + ")";
        return true;
    }
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        err = "cannot drop privileges to user " + user + ": " + std::strerror(errno);
        return false;
    }
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
        err = "privilege drop to user " + user + " did not take effect";
        return false;
    }
    if (setuid(0) == 0) {
        err = "privilege drop to user " + user + " can be undone (setuid(0) succeeded); refusing to go on";
        return false;
    }
    // setuid away from root clears the capability sets unless SECBIT_KEEP_CAPS was set: make sure.
    if (!drop_all_capabilities(err)) return false;
    forbid_new_privileges();
    note = "dropped privileges to uid " + std::to_string(uid) + " (" + user + "), gid " + std::to_string(gid);
    return true;
}

class PcapLiveSource final : public LiveSource {
public:
    PcapLiveSource(pcap_t* p, const LiveOptions& opt) : pcap_(p), opt_(opt) {}
    // After pcap_activate: what only an active handle can tell.
    void on_activated() {
        link_type_ = pcap_datalink(pcap_);
        fd_ = pcap_get_selectable_fd(pcap_);
    }
    ~PcapLiveSource() override {
        evidence_.reset();
        if (pcap_) pcap_close(pcap_);
    }
    PcapLiveSource(const PcapLiveSource&) = delete;
    PcapLiveSource& operator=(const PcapLiveSource&) = delete;

    SourceStatus next(RawPacket& out) override {
        if (error_) return SourceStatus::Error;
        if (ended_) return end_status_;
        if (!draining_ && stop_flag_ && stop_flag_->load(std::memory_order_relaxed)) begin_drain(SourceStatus::Interrupted);
        // Two tries: what the ring already holds, then again after waiting for the kernel.
        for (int attempt = 0; attempt < 2; ++attempt) {
            pcap_pkthdr* hdr = nullptr;
            const u_char* data = nullptr;
            const int rc = pcap_next_ex(pcap_, &hdr, &data);
            if (rc == 1) {
                out.ts = static_cast<double>(hdr->ts.tv_sec) + static_cast<double>(hdr->ts.tv_usec) * 1e-6;
                out.link_type = link_type_;
                out.data = Bytes(data, hdr->caplen);
                out.wire_len = hdr->len;
                out.number = ++delivered_;
                out.file_offset = 0;
                return SourceStatus::Packet;
            }
            if (rc < 0 && rc != PCAP_ERROR_BREAK) return fail(rc);
            if (attempt == 1) break;
            if (!wait_readable()) break;
        }
        if (draining_ && Clock::now() >= drain_deadline_) {
            ended_ = true;
            return end_status_;
        }
        return SourceStatus::Timeout;
    }

    SourceStatus dispatch(int max_packets, PacketSink& sink) override {
        if (error_) return SourceStatus::Error;
        if (ended_) return end_status_;
        if (!draining_ && stop_flag_ && stop_flag_->load(std::memory_order_relaxed)) begin_drain(SourceStatus::Interrupted);
        DispatchContext ctx{this, &sink, {}, 0};
        ctx.packet.link_type = link_type_;
        for (int attempt = 0; attempt < 2; ++attempt) {
            // libpcap hands each ring block back to the kernel once its packets went through the
            // callback, so the sink sees the bytes in place and nothing is copied.
            const int rc = pcap_dispatch(pcap_, max_packets, &DispatchContext::on_packet,
                                         static_cast<u_char*>(static_cast<void*>(&ctx)));
            if (ctx.delivered > 0) return SourceStatus::Packet;  // also after a breakloop from the sink
            if (rc < 0 && rc != PCAP_ERROR_BREAK) return fail(rc);
            if (attempt == 1) break;
            if (!wait_readable()) break;
        }
        if (draining_ && Clock::now() >= drain_deadline_) {
            ended_ = true;
            return end_status_;
        }
        return SourceStatus::Timeout;
    }

    [[nodiscard]] const std::optional<SourceError>& error() const override { return error_; }
    [[nodiscard]] std::string describe() const override {
        std::string d = "interface " + opt_.interface + " (" + link_name(link_type_);
        if (!opt_.bpf_filter.empty()) d += ", filter '" + opt_.bpf_filter + "'";
        return d + ")";
    }

    void set_stop_flag(const std::atomic<bool>* stop) override { stop_flag_ = stop; }
    void stop() override {
        if (!draining_) begin_drain(SourceStatus::End);
    }

    LiveStats stats() override {
        pcap_stat ps{};
        if (!error_ && pcap_stats(pcap_, &ps) == 0) {
            // libpcap keeps these cumulative on Linux (PACKET_STATISTICS reset on read, summed by libpcap).
            last_stats_.received = ps.ps_recv;
            last_stats_.kernel_dropped = ps.ps_drop;
            last_stats_.interface_dropped = ps.ps_ifdrop;
        }
        return last_stats_;
    }
    int link_type() const override { return link_type_; }
    std::string privilege_note() const override { return privilege_note_; }
    const std::vector<std::string>& warnings() const override { return warnings_; }
    PcapWriter* evidence() override { return evidence_.get(); }

private:
    friend std::unique_ptr<LiveSource> LiveSource::open(const LiveOptions&, SourceError&);

    // What pcap_dispatch's callback needs; passed through libpcap's u_char* user argument.
    struct DispatchContext {
        PcapLiveSource* self;
        PacketSink* sink;
        RawPacket packet;
        std::uint64_t delivered;

        static void on_packet(u_char* user, const pcap_pkthdr* hdr, const u_char* data) {
            auto* ctx = static_cast<DispatchContext*>(static_cast<void*>(user));
            RawPacket& p = ctx->packet;
            p.ts = static_cast<double>(hdr->ts.tv_sec) + static_cast<double>(hdr->ts.tv_usec) * 1e-6;
            p.data = Bytes(data, hdr->caplen);
            p.wire_len = hdr->len;
            p.number = ++ctx->self->delivered_;
            ++ctx->delivered;
            if (!ctx->sink->on_packet(p)) pcap_breakloop(ctx->self->pcap_);
        }
    };

    void begin_drain(SourceStatus why) {
        draining_ = true;
        end_status_ = why;
        // The kernel retires a partly filled ring block after timeout_ms: wait that long (twice, for
        // the block that was just opened) for the packets that arrived before the stop.
        drain_deadline_ = Clock::now() + std::chrono::milliseconds(2 * opt_.timeout_ms + 50);
    }

    // Waits up to timeout_ms (less when draining) for a retired block or an error; false on timeout or
    // a signal (so the caller sees the stop flag at once).
    bool wait_readable() {
        int wait_ms = opt_.timeout_ms;
        if (draining_) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(drain_deadline_ - Clock::now()).count();
            if (left <= 0) return false;
            wait_ms = static_cast<int>(std::min<long long>(left, wait_ms));
        }
        if (fd_ < 0) return false;
        pollfd pfd{fd_, POLLIN, 0};
        return poll(&pfd, 1, wait_ms) > 0;
    }

    SourceStatus fail(int rc) {
        stats();
        const std::string detail = pcap_geterr(pcap_);
        const bool gone = rc == PCAP_ERROR_IFACE_NOT_UP || detail.find("went down") != std::string::npos ||
                          detail.find("disappeared") != std::string::npos || detail.find("ENETDOWN") != std::string::npos ||
                          detail.find("Network is down") != std::string::npos;
        std::string msg = opt_.interface + ": capture stopped after " + std::to_string(delivered_) + " packets: ";
        msg += gone ? "the interface went down or disappeared (" + detail + ")" : detail;
        error_ = SourceError{msg, SourceError::Kind::Live};
        return SourceStatus::Error;
    }

    pcap_t* pcap_ = nullptr;
    LiveOptions opt_;
    int link_type_ = 0;
    int fd_ = -1;
    std::uint64_t delivered_ = 0;
    const std::atomic<bool>* stop_flag_ = nullptr;
    bool draining_ = false, ended_ = false;
    SourceStatus end_status_ = SourceStatus::End;
    Clock::time_point drain_deadline_{};
    LiveStats last_stats_{};
    std::optional<SourceError> error_;
    // Filled in by open().
    std::vector<std::string> warnings_;
    std::string privilege_note_;
    std::unique_ptr<PcapWriter> evidence_;
};

}  // namespace

std::unique_ptr<LiveSource> LiveSource::open(const LiveOptions& opt, SourceError& err) {
    auto fail = [&](std::string msg) -> std::unique_ptr<LiveSource> {
        err = SourceError{std::move(msg), SourceError::Kind::Open};
        return nullptr;
    };
    if (opt.interface.empty()) return fail("no interface given");
    raise_permitted_capabilities();
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* raw = pcap_create(opt.interface.c_str(), errbuf);
    if (!raw) return fail("cannot capture on '" + opt.interface + "': " + errbuf);
    // Owned by the source from here on, so every early return closes it.
    auto source = std::make_unique<PcapLiveSource>(raw, opt);

    pcap_set_snaplen(raw, opt.snaplen);
    pcap_set_promisc(raw, opt.promiscuous ? 1 : 0);
    pcap_set_timeout(raw, opt.timeout_ms);
    pcap_set_buffer_size(raw, opt.buffer_bytes);
    const int rc = pcap_activate(raw);
    if (rc < 0) return fail(activate_error(rc, opt.interface, raw));
    if (rc > 0) source->warnings_.push_back(activate_warning(rc, raw));
    source->on_activated();
    if (!is_supported_link_type(source->link_type()))
        return fail("interface '" + opt.interface + "' has link type " + link_name(source->link_type()) +
                    ", which meshproof does not decode (supported: Ethernet, Linux cooked, raw IP)");

    if (!opt.bpf_filter.empty()) {
        bpf_program prog{};
        if (pcap_compile(raw, &prog, opt.bpf_filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
            return fail("bad capture filter '" + opt.bpf_filter + "': " + pcap_geterr(raw));
        const int set = pcap_setfilter(raw, &prog);
        pcap_freecode(&prog);
        if (set != 0) return fail("cannot install capture filter '" + opt.bpf_filter + "': " + pcap_geterr(raw));
    }
    // Non-blocking: next() polls the descriptor with its own timeout (see the top of this file).
    if (pcap_setnonblock(raw, 1, errbuf) != 0) return fail("cannot capture on '" + opt.interface + "': " + errbuf);

    if (opt.write_path) {
        std::string werr;
        source->evidence_ = PcapWriter::open(*opt.write_path, source->link_type(), opt.snaplen, opt.evidence_limits, werr);
        if (!source->evidence_) return fail(werr);
    }
    // The capture socket and the evidence file are open: from here on no privilege is needed.
    if (opt.drop_to_user) {
        std::string derr;
        if ((opt.write_path && !hand_file_to_user(*opt.write_path, *opt.drop_to_user, derr)) ||
            !drop_privileges(*opt.drop_to_user, source->privilege_note_, derr)) {
            if (opt.write_path) {
                source->evidence_.reset();
                std::remove(opt.write_path->c_str());  // nothing was captured into it
            }
            return fail(derr);
        }
    }
    return source;
}

}  // namespace meshproof::audit
