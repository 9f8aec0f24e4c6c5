// Read a whole file, but never more than a bound: a config path may name /dev/zero or a FIFO, and
// "read until EOF" would then never stop.
#pragma once

#include <fstream>
#include <optional>
#include <string>

namespace meshproof {

enum class BoundedRead { Ok, CannotOpen, TooLarge };

// Reads at most max_bytes + 1 bytes; TooLarge when the file had more than max_bytes.
inline BoundedRead read_file_bounded(const std::string& path, std::size_t max_bytes, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return BoundedRead::CannotOpen;
    out.assign(max_bytes + 1, '\0');
    in.read(out.data(), static_cast<std::streamsize>(out.size()));
    out.resize(static_cast<std::size_t>(in.gcount()));
    if (out.size() > max_bytes) {
        out.clear();
        return BoundedRead::TooLarge;
    }
    return BoundedRead::Ok;
}

}  // namespace meshproof
