#include "audit/capture/pcapng_reader.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "audit/capture/compressed_file.hpp"

namespace meshproof::audit {

namespace {
constexpr std::uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr std::uint32_t kInterfaceDescription = 1;
constexpr std::uint32_t kObsoletePacket = 2;
constexpr std::uint32_t kSimplePacket = 3;
constexpr std::uint32_t kEnhancedPacket = 6;
constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr std::uint16_t kOptionEnd = 0;
constexpr std::uint16_t kOptionTsResol = 9;
}  // namespace

CaptureMagic capture_magic(Bytes head) {
    ByteReader r(head);
    std::uint32_t m = 0;
    if (!r.u32(m)) return CaptureMagic::None;
    switch (m) {
        case 0xA1B2C3D4: case 0xD4C3B2A1: case 0xA1B23C4D: case 0x4D3CB2A1: return CaptureMagic::Pcap;
        case 0x0A0D0D0A: return CaptureMagic::Pcapng;
        default: return CaptureMagic::None;
    }
}

ParseOutcome parse_pcapng_block_header(Bytes head, bool big_endian, PcapngBlockHeader& out) {
    ByteReader r(head);
    if (r.remaining() < 12) return ParseOutcome::NeedMore;
    std::uint32_t type_le = 0, magic_le = 0;
    ByteReader(head).u32le(type_le);
    out.section_header = type_le == kSectionHeader;
    if (out.section_header) {
        ByteReader(head.subspan(8, 4)).u32le(magic_le);
        if (magic_le == kByteOrderMagic) big_endian = false;
        else if (magic_le == 0x4D3C2B1A) big_endian = true;
        else return ParseOutcome::Malformed;
    }
    out.big_endian = big_endian;
    if (big_endian) {
        r.u32(out.type);
        r.u32(out.total_length);
    } else {
        r.u32le(out.type);
        r.u32le(out.total_length);
    }
    if (out.total_length < 12 || out.total_length % 4 != 0) return ParseOutcome::Malformed;
    if (out.total_length > kPcapngMaxBlock) return ParseOutcome::TooLarge;
    return ParseOutcome::Ok;
}

PcapngReader::PcapngReader(std::FILE* file, std::uint64_t start_offset, std::uint64_t packets_before, std::string name)
    : file_(file), pos_(start_offset), name_(std::move(name)), packet_number_(packets_before) {
    // A regular file's size bounds every block before it is read. A decompressing stream (or a
    // pipe) has none: its end shows as a short read, and blocks grow only as their bytes arrive.
    struct stat st{};
    const int fd = file_ ? fileno(file_) : -1;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        end_ = std::max(static_cast<std::uint64_t>(st.st_size), start_offset);
    } else {
        end_ = std::numeric_limits<std::uint64_t>::max();
        size_known_ = false;
    }
}

PcapngReader::PcapngReader(std::vector<std::uint8_t> file_bytes, std::string name)
    : memory_(std::move(file_bytes)), end_(memory_.size()), name_(std::move(name)) {}

PcapngReader::~PcapngReader() {
    if (file_) std::fclose(file_);
}

std::size_t PcapngReader::read_some(std::uint8_t* dst, std::size_t n) {
    if (file_) return std::fread(dst, 1, n, file_);
    const Bytes all(memory_);
    const std::size_t at = static_cast<std::size_t>(std::min<std::uint64_t>(memory_pos_, all.size()));
    const Bytes src = all.subspan(at, std::min(n, all.size() - at));
    std::copy(src.begin(), src.end(), dst);
    memory_pos_ += src.size();
    return src.size();
}

std::uint32_t PcapngReader::rd32(Bytes b) const {
    ByteReader r(b);
    std::uint32_t v = 0;
    if (big_endian_) r.u32(v);
    else r.u32le(v);
    return v;
}

std::uint16_t PcapngReader::rd16(Bytes b) const {
    ByteReader r(b);
    std::uint16_t v = 0;
    if (big_endian_) r.u16(v);
    else r.u16le(v);
    return v;
}

bool PcapngReader::fail(SourceError::Kind kind, const std::string& what) {
    std::string detail = what;
    if (file_) {
        if (const auto damage = decompression_error(file_)) detail += " (" + *damage + ")";
    }
    error_ = SourceError{name_ + ": packet " + std::to_string(packet_number_ + 1) + " at byte offset " +
                             std::to_string(block_start_) + ": " + detail,
                         kind};
    return false;
}

std::size_t PcapngReader::read_block_rest(std::size_t have, std::size_t total) {
    // In steps, so a block length that lies costs no more memory than the bytes really there.
    constexpr std::size_t kStep = 1 << 20;
    while (have < total) {
        const std::size_t want = std::min(kStep, total - have);
        if (block_.size() < have + want) block_.resize(have + want);
        const std::size_t got = read_some(block_.data() + have, want);
        have += got;
        if (got < want) break;
    }
    return have;
}

SourceStatus PcapngReader::next(RawPacket& out) {
    if (error_ || next_capture_at_) return error_ ? SourceStatus::Error : SourceStatus::End;
    while (true) {
        if (pos_ >= end_) return SourceStatus::End;
        block_start_ = pos_;  // errors name the block they are about
        const std::uint64_t left = end_ - pos_;
        if (left < 12) {
            fail(SourceError::Kind::Truncated, "truncated pcapng block header");
            return SourceStatus::Error;
        }
        if (block_.size() < 12) block_.resize(12);
        const std::size_t head_got = read_some(block_.data(), 12);
        if (head_got == 0 && !size_known_ && (!file_ || !std::ferror(file_)) && !(file_ && decompression_error(file_)))
            return SourceStatus::End;
        if (head_got != 12) {
            fail(SourceError::Kind::Truncated, size_known_ ? "truncated pcapng block header (read failed)"
                                                           : "truncated pcapng block header (" + std::to_string(head_got) + " of 12 bytes)");
            return SourceStatus::Error;
        }
        const Bytes head = Bytes(block_).first(12);
        // Another capture file glued on at a block boundary (cat a.pcapng b.pcap): our caller goes
        // on with it. (A second pcapng section is ordinary pcapng and read below.)
        if (seen_section_ && capture_magic(head) == CaptureMagic::Pcap) {
            next_capture_at_ = block_start_;
            return SourceStatus::End;
        }
        PcapngBlockHeader h;
        const ParseOutcome o = parse_pcapng_block_header(head, big_endian_, h);
        outcomes_.add(o);
        if (!seen_section_ && !h.section_header) {
            fail(SourceError::Kind::NotACapture, "not a pcapng file (no section header)");
            return SourceStatus::Error;
        }
        if (o == ParseOutcome::Malformed && h.section_header && h.type == 0) {  // stopped at the magic
            fail(SourceError::Kind::Corrupt, "bad pcapng byte-order magic");
            return SourceStatus::Error;
        }
        if (o == ParseOutcome::TooLarge) {
            fail(SourceError::Kind::Corrupt, "pcapng block length " + std::to_string(h.total_length) +
                                                 " exceeds the " + std::to_string(kPcapngMaxBlock >> 20) + " MiB bound");
            return SourceStatus::Error;
        }
        if (o != ParseOutcome::Ok) {
            fail(SourceError::Kind::Corrupt, "impossible pcapng block length " + std::to_string(h.total_length));
            return SourceStatus::Error;
        }
        if (left < h.total_length) {
            fail(SourceError::Kind::Truncated, "truncated pcapng block (" + std::to_string(h.total_length) +
                                                   " bytes announced, " + std::to_string(left) + " present)");
            return SourceStatus::Error;
        }
        // Bounded by kPcapngMaxBlock and by the bytes the file really has (checked above, or read).
        pos_ += 12;
        const std::size_t have = read_block_rest(12, h.total_length);
        if (have != h.total_length) {
            fail(SourceError::Kind::Truncated, size_known_ ? "truncated pcapng block (read failed)"
                                                           : "truncated pcapng block (" + std::to_string(h.total_length) +
                                                                 " bytes announced, " + std::to_string(have) + " present)");
            return SourceStatus::Error;
        }
        pos_ += h.total_length - 12;
        const Bytes blk = Bytes(block_).first(h.total_length);
        if (h.section_header) {
            big_endian_ = h.big_endian;
            interfaces_.clear();
            seen_section_ = true;
        }
        if (rd32(blk.last(4)) != h.total_length) {
            fail(SourceError::Kind::Corrupt, "pcapng block trailer length " + std::to_string(rd32(blk.last(4))) +
                                                 " differs from its header length " + std::to_string(h.total_length));
            return SourceStatus::Error;
        }
        const Bytes body = blk.subspan(8, h.total_length - 12);
        if (h.type == kInterfaceDescription) {
            if (body.size() < 8) {
                fail(SourceError::Kind::Corrupt, "short interface description block");
                return SourceStatus::Error;
            }
            interface_block(body);
            continue;
        }
        if (h.type == kEnhancedPacket || h.type == kObsoletePacket || h.type == kSimplePacket) {
            const SourceStatus s = packet_block(h.type, body, out);
            if (s == SourceStatus::Packet) out.file_offset = block_start_;
            return s;
        }
        // Name resolution, interface statistics, decryption secrets, custom blocks: not needed.
    }
}

void PcapngReader::interface_block(Bytes body) {
    ByteReader b(body);
    Bytes lt;
    b.bytes(2, lt);
    b.skip(6);  // reserved, snaplen
    Interface itf;
    itf.link_type = rd16(lt);
    // Options: look for if_tsresol.
    while (b.remaining() >= 4) {
        Bytes oh;
        b.bytes(4, oh);
        const std::uint16_t code = rd16(oh.first(2));
        const std::uint16_t len = rd16(oh.subspan(2, 2));
        Bytes val;
        if (code == kOptionEnd || !b.bytes(len, val)) break;
        b.skip((4 - len % 4) % 4);
        if (code == kOptionTsResol && len >= 1) {
            const std::uint8_t v = val[0];
            itf.ts_unit = (v & 0x80) ? std::pow(2.0, -static_cast<double>(v & 0x7f))
                                     : std::pow(10.0, -static_cast<double>(v & 0x7f));
        }
    }
    interfaces_.push_back(itf);
}

SourceStatus PcapngReader::packet_block(std::uint32_t type, Bytes body, RawPacket& out) {
    ByteReader b(body);
    if (type == kSimplePacket) {
        Bytes f;
        if (!b.bytes(4, f) || interfaces_.empty()) {
            fail(SourceError::Kind::Corrupt, "bad simple packet block");
            return SourceStatus::Error;
        }
        const std::uint32_t wirelen = rd32(f);
        out.ts = 0;
        out.link_type = interfaces_[0].link_type;
        out.data = b.rest().first(std::min<std::size_t>(b.remaining(), wirelen));
        out.wire_len = wirelen;
        out.number = ++packet_number_;
        return SourceStatus::Packet;
    }
    Bytes f;
    if (!b.bytes(20, f)) {
        fail(SourceError::Kind::Corrupt, "short packet block");
        return SourceStatus::Error;
    }
    const std::uint32_t itf_id = type == kEnhancedPacket ? rd32(f.first(4)) : rd16(f.first(2));
    const std::uint64_t ts = (std::uint64_t{rd32(f.subspan(4, 4))} << 32) | rd32(f.subspan(8, 4));
    const std::uint32_t caplen = rd32(f.subspan(12, 4));
    const std::uint32_t wirelen = rd32(f.subspan(16, 4));
    if (itf_id >= interfaces_.size()) {
        fail(SourceError::Kind::Corrupt, "packet block names interface " + std::to_string(itf_id) + " which was never described");
        return SourceStatus::Error;
    }
    Bytes data;
    if (!b.bytes(caplen, data)) {
        fail(SourceError::Kind::Corrupt, "packet block captured length " + std::to_string(caplen) + " exceeds its block");
        return SourceStatus::Error;
    }
    const Interface& itf = interfaces_[itf_id];
    out.ts = static_cast<double>(ts) * itf.ts_unit;
    out.link_type = itf.link_type;
    out.data = data;
    out.wire_len = wirelen;
    out.number = ++packet_number_;
    return SourceStatus::Packet;
}

}  // namespace meshproof::audit
