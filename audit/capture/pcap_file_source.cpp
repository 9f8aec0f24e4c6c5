// Capture files through libpcap (pcap in both byte orders, micro/nanosecond; pcapng; gzip or zstd
// compressed), falling back to our PcapngReader when a pcapng file mixes link types or snapshot
// lengths, which libpcap refuses.
#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <array>
#include <span>
#include <vector>

#include "audit/capture/compressed_file.hpp"
#include "audit/capture/packet_source.hpp"
#include "audit/capture/pcapng_reader.hpp"
#include "audit/decode/packet.hpp"

namespace meshproof::audit {

namespace {

std::string link_name(int dlt) {
    const char* n = pcap_datalink_val_to_name(dlt);
    return n ? std::string(n) + " (" + std::to_string(dlt) + ")" : std::to_string(dlt);
}

constexpr std::size_t kStdioBuffer = 1 << 20;  // one read() per MiB instead of one per 4 KiB

// Reads bytes at an offset of the (decompressed) capture without touching libpcap's FILE (rare:
// only when looking for a second capture file header). Keeps its own stream open, so the forward
// probes of a compressed file decompress it once, not once per probe.
class FileProbe {
public:
    explicit FileProbe(std::string path) : path_(std::move(path)) {}
    ~FileProbe() {
        if (file_) std::fclose(file_);
    }
    FileProbe(const FileProbe&) = delete;
    FileProbe& operator=(const FileProbe&) = delete;

    // Exactly out.size() bytes at `offset`.
    bool read_at(std::uint64_t offset, std::span<std::uint8_t> out) {
        if (!file_) file_ = open_capture_stream(path_);
        if (!file_) return false;
        std::clearerr(file_);
        return fseeko(file_, static_cast<off_t>(offset), SEEK_SET) == 0 &&
               std::fread(out.data(), 1, out.size(), file_) == out.size();
    }

private:
    std::string path_;
    std::FILE* file_ = nullptr;
};

// A classic pcap file header that libpcap would accept: a magic and major version 2.
bool pcap_file_header_at(FileProbe& probe, std::uint64_t offset) {
    std::array<std::uint8_t, 24> head{};
    if (!probe.read_at(offset, head)) return false;
    const Bytes b(head);
    if (capture_magic(b) != CaptureMagic::Pcap) return false;
    // The version's byte order follows the magic's: d4 c3 / 4d 3c first = little-endian.
    const bool little = head[0] == 0xD4 || head[0] == 0x4D;
    std::uint16_t major = 0;
    ByteReader r(b.subspan(4, 2));
    if (little) r.u16le(major);
    else r.u16(major);
    return major == 2;
}

// One capture file inside the file: usually the only one, more when files were glued (cat a b).
struct Segment {
    pcap_t* pcap = nullptr;
    Compression compression = Compression::None;
    std::unique_ptr<char[]> buffer;  // stdio buffer of the segment's FILE, freed after pcap_close
    ~Segment() {
        if (pcap) pcap_close(pcap);  // also closes the FILE, before buffer goes
    }
};

// Opens the capture that starts at `offset` of `path` through libpcap.
std::unique_ptr<Segment> open_segment(const std::string& path, std::uint64_t offset, SourceError& err) {
    errno = 0;
    Compression compression = Compression::None;
    FILE* file = open_capture_stream(path, &compression);
    if (!file) {
        err = SourceError{path + ": cannot open: " + std::strerror(errno), SourceError::Kind::Open};
        return nullptr;
    }
    auto seg = std::make_unique<Segment>();
    seg->compression = compression;
    seg->buffer = std::make_unique<char[]>(kStdioBuffer);
    std::setvbuf(file, seg->buffer.get(), _IOFBF, kStdioBuffer);
    if (offset > 0 && fseeko(file, static_cast<off_t>(offset), SEEK_SET) != 0) {
        std::fclose(file);
        err = SourceError{path + ": cannot seek to byte offset " + std::to_string(offset), SourceError::Kind::Open};
        return nullptr;
    }
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    seg->pcap = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!seg->pcap) {
        const auto damage = decompression_error(file);
        std::fclose(file);
        std::string msg = errbuf;
        if (damage) msg += " (" + *damage + ")";
        // A compressed file that breaks before its capture header is damage, not another format.
        const bool not_capture = !damage && (msg.find("unknown file format") != std::string::npos ||
                                 msg.find("truncated dump file") != std::string::npos ||
                                 msg.find("file is empty") != std::string::npos);
        const std::string where = "byte offset " + std::to_string(offset);
        const std::string what = compression == Compression::None ? "not a pcap/pcapng capture"
                                                                    : std::string("not a pcap/pcapng capture inside the ") + to_string(compression) + " compression";
        err = SourceError{path + ": " + (not_capture ? what + " (" + where + "): " : where + ": ") + msg,
                          not_capture ? SourceError::Kind::NotACapture : SourceError::Kind::Open};
        return nullptr;
    }
    const int dlt = pcap_datalink(seg->pcap);
    if (!is_supported_link_type(dlt)) {
        err = SourceError{path + ": unsupported link type " + link_name(dlt) +
                              (offset ? " in the capture starting at byte offset " + std::to_string(offset) : std::string()) +
                              " (supported: " + std::string(supported_link_types()) + ")",
                          SourceError::Kind::UnsupportedLinkType};
        return nullptr;
    }
    return seg;
}

// A pcapng section header with no interface description: libpcap refuses to open it, yet it is a
// well-formed capture of nothing (as a 24-byte classic pcap is).
class EmptySource final : public PacketSource {
public:
    SourceStatus next(RawPacket&) override { return SourceStatus::End; }
    [[nodiscard]] const std::optional<SourceError>& error() const override { return error_; }
    [[nodiscard]] std::string describe() const override { return "pcapng, no interfaces"; }

private:
    std::optional<SourceError> error_;
};

class PcapFileSource final : public PacketSource {
public:
    PcapFileSource(std::string path, std::unique_ptr<Segment> first, bool classic)
        : path_(std::move(path)), probe_(path_) {
        use_segment(std::move(first), 0, classic);
        first_description_ = segment_description();
    }

    SourceStatus next(RawPacket& out) override {
        while (true) {
            if (error_) return SourceStatus::Error;
            if (fallback_) {
                const SourceStatus s = fallback_->next(out);
                if (s == SourceStatus::Packet) {
                    delivered_ = out.number;
                    note_unsupported_link_type(out);
                }
                if (s != SourceStatus::End || !fallback_->next_capture_at()) return s;
                const std::uint64_t at = *fallback_->next_capture_at();
                fallback_.reset();
                if (!start_next_capture(at)) return SourceStatus::Error;
                continue;
            }
            // Classic pcap: records follow each other, so the offset is arithmetic (an ftell per
            // packet is an lseek system call). pcapng blocks are not visible through libpcap: ask the FILE.
            const long offset = classic_ ? static_cast<long>(next_offset_) : std::ftell(pcap_file(seg_->pcap));
            const std::uint64_t at = offset < 0 ? 0 : static_cast<std::uint64_t>(offset);
            pcap_pkthdr* hdr = nullptr;
            const u_char* data = nullptr;
            const int rc = pcap_next_ex(seg_->pcap, &hdr, &data);
            if (rc == 1) {
                // A second classic file header reads as a record of length 0 whose time is the magic.
                if (hdr->caplen == 0 && classic_ && looks_like_magic(hdr) && pcap_file_header_at(probe_, at)) {
                    if (!start_next_capture(at)) return SourceStatus::Error;
                    continue;
                }
                out.ts = static_cast<double>(hdr->ts.tv_sec) +
                         static_cast<double>(hdr->ts.tv_usec) * (nano_ ? 1e-9 : 1e-6);
                out.link_type = link_type_;
                out.data = Bytes(data, hdr->caplen);
                out.wire_len = hdr->len;
                out.number = ++delivered_;
                out.file_offset = at;
                next_offset_ += 16 + hdr->caplen;
                return SourceStatus::Packet;
            }
            if (rc == PCAP_ERROR_BREAK) {
                // A compressed stream cut inside its trailer (or between records) ends cleanly for
                // libpcap; the decompressor knows it was cut.
                const auto damage = decompression_error(pcap_file(seg_->pcap));
                if (!damage) return SourceStatus::End;
                error_ = SourceError{path_ + ": packet " + std::to_string(delivered_ + 1) + " at byte offset " +
                                         std::to_string(at) + ": the capture ends inside its compressed stream (" + *damage + ")",
                                     SourceError::Kind::Truncated};
                return SourceStatus::Error;
            }
            std::string msg = pcap_geterr(seg_->pcap);
            // libpcap reads a pcapng file only when every interface has the first one's link type
            // and snapshot length; ours reads the rest.
            if (msg.find("different from the type of the first interface") != std::string::npos ||
                msg.find("different from the snapshot length of the first interface") != std::string::npos) {
                if (switch_to_fallback()) continue;
                return SourceStatus::Error;
            }
            if (const auto next_capture = glued_capture_after(at)) {
                if (!start_next_capture(*next_capture)) return SourceStatus::Error;
                continue;
            }
            // A compressed stream that ended early or failed its checksum says so: that is the damage.
            const auto damage = decompression_error(pcap_file(seg_->pcap));
            if (damage) msg += " (" + *damage + ")";
            const bool truncated = msg.find("truncated") != std::string::npos;
            error_ = SourceError{path_ + ": packet " + std::to_string(delivered_ + 1) + " at byte offset " +
                                     std::to_string(at) + ": " + msg,
                                 truncated ? SourceError::Kind::Truncated : SourceError::Kind::Corrupt};
            return SourceStatus::Error;
        }
    }

    [[nodiscard]] const std::optional<SourceError>& error() const override {
        return fallback_ && fallback_->error() ? fallback_->error() : error_;
    }
    [[nodiscard]] std::string describe() const override {
        std::string d = captures_ > 1 ? first_description_ : segment_description();
        for (const auto& n : notes_) d += "; " + n;
        return d;
    }
    [[nodiscard]] std::vector<std::string> notes() const override { return notes_; }

private:
    void use_segment(std::unique_ptr<Segment> seg, std::uint64_t start, bool classic) {
        seg_ = std::move(seg);
        segment_start_ = start;
        segment_first_packet_ = delivered_;
        classic_ = classic;
        next_offset_ = start + 24;
        link_type_ = pcap_datalink(seg_->pcap);
        nano_ = pcap_get_tstamp_precision(seg_->pcap) == PCAP_TSTAMP_PRECISION_NANO;
        big_endian_ = false;
        if (!classic) {
            std::array<std::uint8_t, 12> shb{};
            big_endian_ = probe_.read_at(start, shb) && shb[8] == 0x1A;
        }
        ++captures_;
    }
    [[nodiscard]] std::string segment_description() const {
        const std::string compressed = seg_ && seg_->compression != Compression::None
                                           ? std::string(", ") + to_string(seg_->compression) + "-compressed"
                                           : std::string();
        if (fallback_)
            return "pcapng, " + std::to_string(fallback_->interface_count()) +
                   " interfaces, mixed link types or snapshot lengths" + compressed;
        return link_name(link_type_) + (nano_ ? ", nanosecond timestamps" : "") + compressed;
    }

    // One note per link type we cannot decode, naming the first packet that has it (its frames are
    // counted as unsupported_link_frames).
    void note_unsupported_link_type(const RawPacket& p) {
        if (is_supported_link_type(p.link_type) || noted_link_types_.size() >= 16) return;
        for (const int dlt : noted_link_types_) {
            if (dlt == p.link_type) return;
        }
        noted_link_types_.push_back(p.link_type);
        notes_.push_back("packet " + std::to_string(p.number) + " at byte offset " + std::to_string(p.file_offset) +
                         " and every later one on an interface with link type " + link_name(p.link_type) +
                         ": not decoded (unsupported link type; supported: " + std::string(supported_link_types()) + ")");
    }

    static bool looks_like_magic(const pcap_pkthdr* hdr) {
        // libpcap reads the field as a signed 32-bit value: compare its low 32 bits.
        const auto sec = static_cast<std::uint32_t>(hdr->ts.tv_sec);
        return sec == 0xA1B2C3D4 || sec == 0xD4C3B2A1 || sec == 0xA1B23C4D || sec == 0x4D3CB2A1;
    }

    // libpcap stopped at `at`. If the bytes there (classic pcap), or after the intact pcapng blocks
    // from there, are another capture file header, returns its offset.
    std::optional<std::uint64_t> glued_capture_after(std::uint64_t at) {
        if (classic_) {
            std::array<std::uint8_t, 4> head{};
            if (!probe_.read_at(at, head)) return std::nullopt;
            const CaptureMagic m = capture_magic(Bytes(head));
            if (m == CaptureMagic::Pcapng || (m == CaptureMagic::Pcap && pcap_file_header_at(probe_, at))) return at;
            return std::nullopt;
        }
        std::uint64_t pos = at;
        for (int blocks = 0; blocks < 4096; ++blocks) {
            std::array<std::uint8_t, 12> head{};
            if (!probe_.read_at(pos, head)) return std::nullopt;
            const CaptureMagic m = capture_magic(Bytes(head));
            if (m == CaptureMagic::Pcap) return pcap_file_header_at(probe_, pos) ? std::optional(pos) : std::nullopt;
            if (m == CaptureMagic::Pcapng && pos > segment_start_) return pos;  // libpcap refused this section
            PcapngBlockHeader h;
            if (parse_pcapng_block_header(Bytes(head), big_endian_, h) != ParseOutcome::Ok) return std::nullopt;
            pos += h.total_length;
        }
        return std::nullopt;
    }

    // Goes on with the capture file whose header is at `at`, noting it; false (error_ set) if it
    // cannot be read.
    bool start_next_capture(std::uint64_t at) {
        std::array<std::uint8_t, 4> head{};
        const bool classic = probe_.read_at(at, head) && capture_magic(Bytes(head)) == CaptureMagic::Pcap;
        SourceError err;
        auto seg = open_segment(path_, at, err);
        if (!seg) {
            std::string detail = err.message;
            if (detail.rfind(path_ + ": ", 0) == 0) detail.erase(0, path_.size() + 2);
            error_ = SourceError{path_ + ": packet " + std::to_string(delivered_ + 1) + " at byte offset " +
                                     std::to_string(at) + ": another capture file starts here but cannot be read: " + detail,
                                 SourceError::Kind::Corrupt};  // part-way: the packets before were read
            return false;
        }
        fallback_.reset();
        use_segment(std::move(seg), at, classic);
        notes_.push_back("another capture file starts at byte offset " + std::to_string(at) + " (after packet " +
                         std::to_string(delivered_) + "), read on as " + segment_description());
        return true;
    }

    // libpcap cannot go on (mixed link types); re-read this capture with our streaming reader and
    // skip what was already delivered.
    bool switch_to_fallback() {
        std::FILE* f = open_capture_stream(path_);
        if (!f || fseeko(f, static_cast<off_t>(segment_start_), SEEK_SET) != 0) {
            if (f) std::fclose(f);
            error_ = SourceError{path_ + ": cannot reopen for the pcapng reader", SourceError::Kind::Open};
            return false;
        }
        fallback_ = std::make_unique<PcapngReader>(f, segment_start_, segment_first_packet_, path_);
        RawPacket skip;
        while (skip.number < delivered_) {
            if (fallback_->next(skip) != SourceStatus::Packet) {
                if (!fallback_->error())
                    error_ = SourceError{path_ + ": packet " + std::to_string(delivered_ + 1) + ": pcapng reader lost its place",
                                         SourceError::Kind::Corrupt};
                return false;
            }
        }
        return true;
    }

    std::string path_;
    FileProbe probe_;
    std::unique_ptr<Segment> seg_;
    std::uint64_t segment_start_ = 0;
    std::uint64_t segment_first_packet_ = 0;  // packets delivered before this segment
    bool classic_ = false;
    bool big_endian_ = false;                 // pcapng segment: its first section's byte order
    std::uint64_t next_offset_ = 24;          // classic pcap: the next record
    int link_type_ = 0;
    bool nano_ = false;
    std::uint64_t delivered_ = 0;
    int captures_ = 0;
    std::string first_description_;
    std::vector<std::string> notes_;
    std::vector<int> noted_link_types_;
    std::optional<SourceError> error_;
    std::unique_ptr<PcapngReader> fallback_;
};

// Just a pcapng section header (and maybe blocks that describe no interface): nothing to read.
bool pcapng_without_interfaces(const std::string& path) {
    std::FILE* f = open_capture_stream(path);
    if (!f) return false;
    PcapngReader reader(f, 0, 0, path);
    RawPacket p;
    return reader.next(p) == SourceStatus::End && !reader.error() && reader.interface_count() == 0 &&
           !reader.next_capture_at();
}

}  // namespace

std::unique_ptr<PacketSource> open_capture_file(const std::string& path, SourceError& err) {
    std::array<std::uint8_t, 4> magic{};
    FileProbe probe(path);
    const bool have_magic = probe.read_at(0, magic);
    const bool classic = have_magic && capture_magic(Bytes(magic)) != CaptureMagic::Pcapng;
    auto seg = open_segment(path, 0, err);
    if (!seg) {
        if (have_magic && !classic && pcapng_without_interfaces(path))
            return std::make_unique<EmptySource>();
        return nullptr;
    }
    return std::make_unique<PcapFileSource>(path, std::move(seg), classic);
}

}  // namespace meshproof::audit
