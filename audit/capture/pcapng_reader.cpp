#include "audit/capture/pcapng_reader.hpp"

#include <cmath>
#include <utility>

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
constexpr std::size_t kMaxBlock = 256 * 1024 * 1024;
}  // namespace

PcapngReader::PcapngReader(std::vector<std::uint8_t> file_bytes, std::string name)
    : bytes_(std::move(file_bytes)), name_(std::move(name)) {}

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
    error_ = SourceError{name_ + ": packet " + std::to_string(packet_number_ + 1) + " at byte offset " +
                             std::to_string(block_start_) + ": " + what,
                         kind};
    return false;
}

SourceStatus PcapngReader::next(RawPacket& out) {
    if (error_) return SourceStatus::Error;
    Bytes all(bytes_);
    while (true) {
        if (pos_ == bytes_.size()) return SourceStatus::End;
        block_start_ = pos_;  // errors name the block they are about
        ByteReader r(all.subspan(pos_));
        if (r.remaining() < 12) {
            fail(SourceError::Kind::Truncated, "truncated pcapng block header");
            return SourceStatus::Error;
        }
        Bytes head;
        r.bytes(8, head);
        std::uint32_t type_le = 0;
        ByteReader(head).u32le(type_le);
        if (type_le == kSectionHeader) {
            // The byte-order magic decides how to read everything in this section.
            Bytes magic;
            r.bytes(4, magic);
            std::uint32_t m = 0;
            ByteReader(magic).u32le(m);
            if (m == kByteOrderMagic) big_endian_ = false;
            else if (m == 0x4D3C2B1A) big_endian_ = true;
            else {
                fail(SourceError::Kind::Corrupt, "bad pcapng byte-order magic");
                return SourceStatus::Error;
            }
            interfaces_.clear();
            seen_section_ = true;
        } else if (!seen_section_) {
            fail(SourceError::Kind::NotACapture, "not a pcapng file (no section header)");
            return SourceStatus::Error;
        }
        const std::uint32_t type = rd32(head.first(4));
        const std::uint32_t total = rd32(head.subspan(4, 4));
        if (total < 12 || total % 4 != 0 || total > kMaxBlock) {
            fail(SourceError::Kind::Corrupt, "impossible pcapng block length " + std::to_string(total));
            return SourceStatus::Error;
        }
        if (bytes_.size() - pos_ < total) {
            fail(SourceError::Kind::Truncated, "truncated pcapng block (" + std::to_string(total) + " bytes announced, " +
                                                   std::to_string(bytes_.size() - pos_) + " present)");
            return SourceStatus::Error;
        }
        const std::size_t block_start = pos_;
        Bytes body = all.subspan(block_start + 8, total - 12);
        pos_ += total;

        if (type == kInterfaceDescription) {
            ByteReader b(body);
            Bytes lt, rest;
            if (!b.bytes(2, lt) || !b.skip(2) || !b.skip(4)) {
                fail(SourceError::Kind::Corrupt, "short interface description block");
                return SourceStatus::Error;
            }
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
            continue;
        }
        if (type == kEnhancedPacket || type == kObsoletePacket) {
            ByteReader b(body);
            Bytes f;
            if (!b.bytes(20, f)) {
                fail(SourceError::Kind::Corrupt, "short packet block");
                return SourceStatus::Error;
            }
            const std::uint32_t itf_id = type == kEnhancedPacket ? rd32(f.first(4)) : rd16(f.first(2));
            const std::uint64_t ts = (std::uint64_t{rd32(f.subspan(4, 4))} << 32) | rd32(f.subspan(8, 4));
            const std::uint32_t caplen = rd32(f.subspan(12, 4));
            const std::uint32_t wirelen = rd32(f.subspan(16, 4));
            Bytes data;
            if (itf_id >= interfaces_.size()) {
                fail(SourceError::Kind::Corrupt, "packet block names interface " + std::to_string(itf_id) + " which was never described");
                return SourceStatus::Error;
            }
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
            out.file_offset = block_start;
            return SourceStatus::Packet;
        }
        if (type == kSimplePacket) {
            ByteReader b(body);
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
            out.file_offset = block_start;
            return SourceStatus::Packet;
        }
        // Name resolution, interface statistics, decryption secrets, custom blocks: not needed.
    }
}

}  // namespace meshproof::audit
