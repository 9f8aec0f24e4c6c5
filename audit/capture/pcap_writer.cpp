// Evidence pcap through libpcap's dumper on a "dead" handle of the live link type.
#include "audit/capture/pcap_writer.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "audit/decode/packet.hpp"
#include "common/file_output.hpp"

namespace meshproof::audit {

namespace {

constexpr std::uint64_t kFileHeaderBytes = 24;
constexpr std::uint64_t kRecordHeaderBytes = 16;

std::uint64_t mix(std::uint64_t h, std::uint64_t w) {
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 32);
}

std::uint64_t load64(const std::array<std::uint8_t, 16>& b, std::size_t at) {
    std::uint64_t w = 0;
    std::memcpy(&w, b.data() + at, sizeof w);  // at is 0 or 8: inside the array
    return w;
}

// Same value for both directions of a connection: endpoints in canonical order. Never 0 (0 = empty slot).
std::uint64_t connection_hash(const DecodedPacket& d) {
    const bool src_first = std::tie(d.src, d.src_port) <= std::tie(d.dst, d.dst_port);
    const IpAddress& a = src_first ? d.src : d.dst;
    const IpAddress& b = src_first ? d.dst : d.src;
    const std::uint16_t pa = src_first ? d.src_port : d.dst_port;
    const std::uint16_t pb = src_first ? d.dst_port : d.src_port;
    std::uint64_t h = 0x9e3779b97f4a7c15ULL;
    h = mix(h, load64(a.bytes, 0));
    h = mix(h, load64(a.bytes, 8));
    h = mix(h, load64(b.bytes, 0));
    h = mix(h, load64(b.bytes, 8));
    h = mix(h, (std::uint64_t{pa} << 16) | pb);
    return h | 1;
}

}  // namespace

struct PcapWriter::Handles {
    pcap_t* dead = nullptr;
    pcap_dumper_t* dumper = nullptr;
    // A second, readable descriptor of the file, opened with it (before any privilege drop), to cut
    // the file back to whole records after a failed write.
    int trim_fd = -1;
    ~Handles() {
        if (dumper) pcap_dump_close(dumper);
        if (dead) pcap_close(dead);
        if (trim_fd >= 0) ::close(trim_fd);
    }
};

std::unique_ptr<PcapWriter> PcapWriter::open(const std::string& path, int link_type, int snaplen,
                                             const EvidenceLimits& limits, std::string& err) {
    std::unique_ptr<PcapWriter> w(new PcapWriter());
    w->handles_ = std::make_unique<Handles>();
    w->handles_->dead = pcap_open_dead_with_tstamp_precision(link_type, snaplen, PCAP_TSTAMP_PRECISION_MICRO);
    if (!w->handles_->dead) {
        err = path + ": cannot prepare a pcap writer for link type " + std::to_string(link_type);
        return nullptr;
    }
    if (path == "-") {
        w->handles_->dumper = pcap_dump_open(w->handles_->dead, path.c_str());  // stdout
    } else {
        // Created 0640 by us rather than by libpcap's fopen (0666 & ~umask): the file holds the wire's
        // plaintext, secrets included.
        const auto fd = create_output_file(path, kReportFileMode);
        if (!fd) {
            err = fd.error();
            return nullptr;
        }
        std::FILE* f = ::fdopen(*fd, "wb");
        if (f == nullptr) {
            ::close(*fd);
            err = path + ": cannot create the evidence capture: " + std::strerror(errno);
            return nullptr;
        }
        w->handles_->dumper = pcap_dump_fopen(w->handles_->dead, f);
        if (!w->handles_->dumper) std::fclose(f);
    }
    if (!w->handles_->dumper) {
        err = path + ": cannot create the evidence capture: " + pcap_geterr(w->handles_->dead);
        return nullptr;
    }
    w->handles_->trim_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);  // -1 (no trim) for e.g. a FIFO
    w->path_ = path;
    w->link_type_ = link_type;
    w->limits_ = limits;
    w->slots_.resize(std::bit_ceil(std::max<std::uint32_t>(limits.tracked_flows, 1)));
    w->stats_.written_bytes = kFileHeaderBytes;
    return w;
}

PcapWriter::~PcapWriter() = default;

void PcapWriter::note_failure(int err_no) {
    if (write_error_) return;
    write_error_ = path_ + ": writing the evidence capture failed (" + std::strerror(err_no ? err_no : EIO) +
                   "): evidence stopped, the audit went on";
}

// After a failed write the file may end inside a record: cut it back to the last whole one. The
// dumper wrote the headers in host byte order.
namespace {
// Returns the whole records kept (nullopt when the file could not be read back).
std::optional<std::uint64_t> trim_to_whole_records(int fd) {
    if (fd < 0) return std::nullopt;
    std::uint64_t records = 0;
    struct stat st{};
    if (fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(kFileHeaderBytes)) {
        const auto size = static_cast<std::uint64_t>(st.st_size);
        std::uint64_t pos = kFileHeaderBytes;
        std::array<std::uint8_t, kRecordHeaderBytes> head{};
        while (pos + kRecordHeaderBytes <= size &&
               pread(fd, head.data(), head.size(), static_cast<off_t>(pos)) == static_cast<ssize_t>(head.size())) {
            ByteReader r(Bytes(head).subspan(8, 4));
            std::uint32_t caplen = 0;
            if constexpr (std::endian::native == std::endian::little) r.u32le(caplen);
            else r.u32(caplen);
            if (pos + kRecordHeaderBytes + caplen > size) break;
            pos += kRecordHeaderBytes + caplen;
            ++records;
        }
        if (pos < size && ftruncate(fd, static_cast<off_t>(pos)) != 0) return std::nullopt;
    } else if (st.st_size < static_cast<off_t>(kFileHeaderBytes)) {
        (void)ftruncate(fd, 0);  // not even the file header made it: an empty file, not a broken one
    }
    return records;
}
}  // namespace

bool PcapWriter::write(const RawPacket& p) {
    if (!handles_ || !handles_->dumper) return false;
    if (write_error_) {
        ++stats_.write_failed;
        return false;
    }
    const std::uint64_t record = kRecordHeaderBytes + p.data.size();
    if (stats_.written_bytes + record > limits_.max_file_bytes) {
        ++stats_.over_cap;
        return false;
    }
    pcap_pkthdr hdr{};
    double whole = 0;
    const double frac = std::modf(p.ts, &whole);
    auto sec = static_cast<long>(whole);
    auto usec = static_cast<long>(std::lround(frac * 1e6));
    if (usec >= 1000000) {
        ++sec;
        usec -= 1000000;
    }
    hdr.ts.tv_sec = sec;
    hdr.ts.tv_usec = usec;
    hdr.caplen = static_cast<bpf_u_int32>(p.data.size());
    hdr.len = std::max<bpf_u_int32>(p.wire_len, hdr.caplen);
    // pcap_dump's first argument is the dumper passed as u_char*, by libpcap's callback convention.
    errno = 0;
    pcap_dump(reinterpret_cast<u_char*>(handles_->dumper), &hdr, p.data.data());
    // pcap_dump returns nothing: a full disk shows as the stream's error flag (when stdio flushes).
    if (std::ferror(pcap_dump_file(handles_->dumper))) {
        note_failure(errno);
        ++stats_.write_failed;
        return false;
    }
    ++stats_.written_packets;
    stats_.written_bytes += record;
    return true;
}

bool PcapWriter::take_budget(const RawPacket& p) {
    const DecodedPacket d = decode_frame(static_cast<LinkType>(p.link_type), p.data);
    if (d.status != DecodeStatus::Ok || d.transport != Transport::Tcp) {
        ++stats_.not_tcp;
        return false;
    }
    const std::uint64_t tag = connection_hash(d);
    Slot& s = slots_[static_cast<std::size_t>(tag) & (slots_.size() - 1)];
    if (s.tag != tag) {
        // Empty, or another connection hashed here: the newcomer takes the slot (bounded memory; an
        // evicted connection that comes back gets a fresh budget, which only makes the file larger).
        s.tag = tag;
        s.used = 0;
    }
    if (s.used >= limits_.packets_per_flow) {
        ++stats_.over_budget;
        return false;
    }
    ++s.used;
    return true;
}

bool PcapWriter::offer(const RawPacket& p) { return take_budget(p) && write(p); }

bool PcapWriter::flush(std::string& err) {
    if (!handles_ || !handles_->dumper) return true;
    if (!write_error_ && pcap_dump_flush(handles_->dumper) != 0) note_failure(errno);
    if (write_error_) {
        err = *write_error_;
        return false;
    }
    return true;
}

bool PcapWriter::close(std::string& err) {
    if (!handles_ || !handles_->dumper) return true;
    std::string flush_err;
    flush(flush_err);
    FILE* f = pcap_dump_file(handles_->dumper);
    if (f && std::ferror(f)) note_failure(errno);
    errno = 0;
    pcap_dump_close(handles_->dumper);  // fclose: the last buffered bytes may fail here too
    handles_->dumper = nullptr;
    if (errno == ENOSPC || errno == EIO || errno == EDQUOT) note_failure(errno);
    if (!write_error_) return true;
    // Records stdio accepted but the disk did not are lost too: count them as not written.
    if (const auto kept = trim_to_whole_records(handles_->trim_fd); kept && *kept < stats_.written_packets) {
        stats_.write_failed += stats_.written_packets - *kept;
        stats_.written_packets = *kept;
    }
    err = *write_error_ + " (" + std::to_string(stats_.written_packets) + " packets kept, " +
          std::to_string(stats_.write_failed) + " packets not written)";
    return false;
}

}  // namespace meshproof::audit
