// Where packets come from: a capture file (libpcap, with our own pcapng fallback for files that mix
// link types, which libpcap refuses) or a live interface. The engine only sees RawPacket.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/byte_reader.hpp"

namespace meshproof::audit {

struct RawPacket {
    double ts = 0;                 // seconds since the epoch, micro- or nanosecond precision
    int link_type = 0;             // DLT_ value of the interface this packet came from
    Bytes data{};                  // captured bytes (valid until the next call to next())
    std::uint32_t wire_len = 0;    // original length on the wire
    std::uint64_t number = 0;      // 1-based packet number in the source
    std::uint64_t file_offset = 0; // byte offset of the packet record in the file (0 for live)
};

// Timeout: a live read returned nothing within its timeout (lets callers check clocks and flags).
enum class SourceStatus { Packet, End, Error, Interrupted, Timeout };

// A damaged source reports what went wrong and where; packets before it were already delivered.
struct SourceError {
    std::string message;           // one line, names the file and the packet number / byte offset
    enum class Kind { Open, NotACapture, UnsupportedLinkType, Truncated, Corrupt, Live } kind = Kind::Corrupt;
};

class PacketSource {
public:
    virtual ~PacketSource() = default;
    virtual SourceStatus next(RawPacket& out) = 0;
    [[nodiscard]] virtual const std::optional<SourceError>& error() const = 0;
    [[nodiscard]] virtual std::string describe() const = 0;  // the format: "EN10MB (1), nanosecond timestamps"
    // What the reader noticed and worked around, one line each (e.g. a second capture file glued on
    // at a record boundary, read on with its own header); describe() ends with them.
    [[nodiscard]] virtual std::vector<std::string> notes() const { return {}; }
};

// Opens a capture file. On failure returns nullptr and fills `err`.
std::unique_ptr<PacketSource> open_capture_file(const std::string& path, SourceError& err);

}  // namespace meshproof::audit
