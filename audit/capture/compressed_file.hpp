// Capture files compressed with gzip or zstd, recognised by their magic (not their name), as tshark
// reads them: the file is opened as a stdio FILE* that yields the decompressed bytes, so libpcap and
// our PcapngReader read it as they read any capture, and byte offsets are offsets in the
// decompressed capture. Seeking forward decompresses up to the target; backward starts over (rare:
// only when probing for a glued capture or handing over to the pcapng reader).
#pragma once

#include <cstdio>
#include <optional>
#include <string>

namespace meshproof::audit {

enum class Compression { None, Gzip, Zstd };

const char* to_string(Compression c);

// Opens `path` for reading: plainly, or through the decompressor its first bytes name. nullptr
// (errno set) when it cannot be opened.
std::FILE* open_capture_stream(const std::string& path, Compression* kind = nullptr);

// What the decompressor behind a stream from open_capture_stream() stopped on (a compressed stream
// that ends early, a bad checksum, data that is not what its magic says), with the compressed byte
// offset; nullopt for plain files and streams without trouble.
std::optional<std::string> decompression_error(std::FILE* stream);

}  // namespace meshproof::audit
