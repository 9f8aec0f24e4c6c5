// A small pcapng block reader for what libpcap refuses: files whose interfaces have different link
// types (libpcap stops with "an interface has a type N different from the type of the first
// interface"). Pure: reads blocks from a byte buffer, bounded by a ByteReader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/capture/packet_source.hpp"

namespace meshproof::audit {

class PcapngReader {
public:
    explicit PcapngReader(std::vector<std::uint8_t> file_bytes, std::string name);
    SourceStatus next(RawPacket& out);
    [[nodiscard]] const std::optional<SourceError>& error() const { return error_; }
    [[nodiscard]] std::size_t interface_count() const { return interfaces_.size(); }

private:
    struct Interface {
        int link_type = 0;
        double ts_unit = 1e-6;  // seconds per timestamp tick (if_tsresol)
    };
    bool fail(SourceError::Kind kind, const std::string& what);
    std::uint32_t rd32(Bytes b) const;
    std::uint16_t rd16(Bytes b) const;

    std::vector<std::uint8_t> bytes_;
    std::string name_;
    std::size_t pos_ = 0;
    std::size_t block_start_ = 0;
    bool big_endian_ = false;
    bool seen_section_ = false;
    std::vector<Interface> interfaces_;
    std::uint64_t packet_number_ = 0;
    std::optional<SourceError> error_;
};

}  // namespace meshproof::audit
