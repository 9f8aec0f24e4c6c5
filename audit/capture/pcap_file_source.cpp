// Capture files through libpcap (pcap in both byte orders, micro/nanosecond; pcapng), falling back to
// our PcapngReader when a pcapng file mixes link types, which libpcap refuses.
#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "audit/capture/packet_source.hpp"
#include "audit/capture/pcapng_reader.hpp"
#include "audit/decode/packet.hpp"

namespace meshproof::audit {

namespace {

std::string link_name(int dlt) {
    const char* n = pcap_datalink_val_to_name(dlt);
    return n ? std::string(n) + " (" + std::to_string(dlt) + ")" : std::to_string(dlt);
}

class PcapFileSource final : public PacketSource {
public:
    PcapFileSource(pcap_t* p, std::string path, bool classic, std::unique_ptr<char[]> buffer)
        : pcap_(p), path_(std::move(path)), classic_(classic), buffer_(std::move(buffer)) {
        link_type_ = pcap_datalink(pcap_);
        nano_ = pcap_get_tstamp_precision(pcap_) == PCAP_TSTAMP_PRECISION_NANO;
    }
    ~PcapFileSource() override {
        if (pcap_) pcap_close(pcap_);  // also closes the FILE, before buffer_ goes
    }
    PcapFileSource(const PcapFileSource&) = delete;
    PcapFileSource& operator=(const PcapFileSource&) = delete;

    SourceStatus next(RawPacket& out) override {
        if (fallback_) return next_fallback(out);
        if (error_) return SourceStatus::Error;
        // Classic pcap: records follow each other, so the offset is arithmetic (an ftell per packet is
        // an lseek system call). pcapng blocks are not visible through libpcap: ask the FILE.
        const long offset = classic_ ? static_cast<long>(next_offset_) : std::ftell(pcap_file(pcap_));
        pcap_pkthdr* hdr = nullptr;
        const u_char* data = nullptr;
        const int rc = pcap_next_ex(pcap_, &hdr, &data);
        if (rc == 1) {
            out.ts = static_cast<double>(hdr->ts.tv_sec) +
                     static_cast<double>(hdr->ts.tv_usec) * (nano_ ? 1e-9 : 1e-6);
            out.link_type = link_type_;
            out.data = Bytes(data, hdr->caplen);
            out.wire_len = hdr->len;
            out.number = ++delivered_;
            out.file_offset = offset < 0 ? 0 : static_cast<std::uint64_t>(offset);
            next_offset_ += 16 + hdr->caplen;
            return SourceStatus::Packet;
        }
        if (rc == PCAP_ERROR_BREAK) return SourceStatus::End;
        std::string msg = pcap_geterr(pcap_);
        if (msg.find("different from the type of the first interface") != std::string::npos && switch_to_fallback()) {
            return next_fallback(out);
        }
        const bool truncated = msg.find("truncated") != std::string::npos;
        error_ = SourceError{path_ + ": packet " + std::to_string(delivered_ + 1) + " at byte offset " +
                                 std::to_string(offset < 0 ? 0 : offset) + ": " + msg,
                             truncated ? SourceError::Kind::Truncated : SourceError::Kind::Corrupt};
        return SourceStatus::Error;
    }

    [[nodiscard]] const std::optional<SourceError>& error() const override {
        return fallback_ ? fallback_->error() : error_;
    }
    [[nodiscard]] std::string describe() const override {
        return fallback_ ? "pcapng, " + std::to_string(fallback_->interface_count()) + " interfaces, mixed link types"
                         : link_name(link_type_) + (nano_ ? ", nanosecond timestamps" : "");
    }

private:
    // libpcap cannot go on; re-read the file with our reader and skip what was already delivered.
    bool switch_to_fallback() {
        std::ifstream in(path_, std::ios::binary);
        if (!in) return false;
        std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        fallback_ = std::make_unique<PcapngReader>(std::move(bytes), path_);
        RawPacket skip;
        for (std::uint64_t i = 0; i < delivered_; ++i) {
            if (fallback_->next(skip) != SourceStatus::Packet) return false;
        }
        return true;
    }
    SourceStatus next_fallback(RawPacket& out) {
        const SourceStatus s = fallback_->next(out);
        if (s == SourceStatus::Packet) delivered_ = out.number;
        return s;
    }

    pcap_t* pcap_ = nullptr;
    std::string path_;
    bool classic_ = false;
    std::uint64_t next_offset_ = 24;  // classic pcap: after the file header
    std::unique_ptr<char[]> buffer_;  // stdio buffer of the capture FILE
    int link_type_ = 0;
    bool nano_ = false;
    std::uint64_t delivered_ = 0;
    std::optional<SourceError> error_;
    std::unique_ptr<PcapngReader> fallback_;
};

}  // namespace

std::unique_ptr<PacketSource> open_capture_file(const std::string& path, SourceError& err) {
    errno = 0;
    FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) {
        err = SourceError{path + ": cannot open: " + std::strerror(errno), SourceError::Kind::Open};
        return nullptr;
    }
    // A 1 MiB stdio buffer: one read() per MiB instead of one per 4 KiB.
    constexpr std::size_t kBuffer = 1 << 20;
    auto buffer = std::make_unique<char[]>(kBuffer);
    std::setvbuf(file, buffer.get(), _IOFBF, kBuffer);
    unsigned char magic[4] = {};
    const bool have_magic = std::fread(magic, 1, 4, file) == 4;
    std::rewind(file);
    const bool classic = have_magic && !(magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a);
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) {
        std::fclose(file);
        std::string msg = errbuf;
        const bool not_capture = msg.find("unknown file format") != std::string::npos ||
                                 msg.find("truncated dump file") != std::string::npos ||
                                 msg.find("file is empty") != std::string::npos;
        err = SourceError{path + ": " + (not_capture ? "not a pcap/pcapng capture (byte offset 0): " : "") + msg,
                          not_capture ? SourceError::Kind::NotACapture : SourceError::Kind::Open};
        return nullptr;
    }
    const int dlt = pcap_datalink(p);
    if (!is_supported_link_type(dlt)) {
        err = SourceError{path + ": unsupported link type " + link_name(dlt) +
                              " (supported: Ethernet, Linux cooked SLL/SLL2, raw IPv4/IPv6, BSD loopback)",
                          SourceError::Kind::UnsupportedLinkType};
        pcap_close(p);
        return nullptr;
    }
    return std::make_unique<PcapFileSource>(p, path, classic, std::move(buffer));
}

}  // namespace meshproof::audit
