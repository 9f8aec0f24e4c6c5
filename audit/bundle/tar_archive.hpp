// POSIX ustar archives, gzip-compressed through zlib (or plain: zlib reads plain files transparently).
// Only regular files: the bundle format needs nothing else, and a reader that refuses links,
// devices and directories cannot be tricked into writing outside its target.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "common/byte_reader.hpp"

namespace meshproof::audit::bundle {

inline constexpr std::size_t kTarBlock = 512;
// The largest member the 11 octal digits of a ustar size field can describe (8 GiB - 1).
inline constexpr std::uint64_t kTarMaxSize = 077777777777ULL;

struct TarEntry {
    std::string name;
    std::uint64_t size = 0;
    char type = '0';       // '0' (or NUL) regular file, '5' directory, '2' symlink, 'x' pax, ...
    std::uint32_t mode = 0;
    std::int64_t mtime = 0;
};

// A member name we accept in bundles: relative, '/'-separated, no "." or ".." parts, printable ASCII,
// at most 100 bytes (the ustar name field).
bool valid_member_name(std::string_view name);

// One ustar header block for a regular file. `name` must satisfy valid_member_name.
std::array<std::uint8_t, kTarBlock> make_tar_header(std::string_view name, std::uint64_t size, std::uint32_t mode,
                                                    std::int64_t mtime);
// Parses one header block (checksum, octal fields, magic). An all-zero block is "end of archive":
// nullopt.
tl::expected<std::optional<TarEntry>, std::string> parse_tar_header(Bytes block);

class TarWriter {
public:
    // Writes to `path` + a temporary suffix; close() renames it into place with exactly `mode`.
    static tl::expected<std::unique_ptr<TarWriter>, std::string> create(const std::filesystem::path& path, bool gzip,
                                                                        unsigned mode);
    ~TarWriter();
    TarWriter(const TarWriter&) = delete;
    TarWriter& operator=(const TarWriter&) = delete;

    tl::expected<void, std::string> add(std::string_view name, Bytes data, std::int64_t mtime);
    // Streams a file into the archive; `on_data` sees every byte written (for hashing).
    tl::expected<std::uint64_t, std::string> add_file(std::string_view name, const std::filesystem::path& source,
                                                      std::int64_t mtime, const std::function<void(Bytes)>& on_data);
    tl::expected<void, std::string> close();

private:
    TarWriter() = default;
    tl::expected<void, std::string> write(Bytes data);
    tl::expected<void, std::string> pad(std::uint64_t size);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class TarReader {
public:
    static tl::expected<std::unique_ptr<TarReader>, std::string> open(const std::filesystem::path& path);
    ~TarReader();
    TarReader(const TarReader&) = delete;
    TarReader& operator=(const TarReader&) = delete;

    // The next member's header (its data unread is skipped); nullopt at the end of the archive.
    tl::expected<std::optional<TarEntry>, std::string> next();
    // The current member's data, in chunks.
    tl::expected<void, std::string> read_data(const std::function<void(Bytes)>& sink);

private:
    TarReader() = default;
    tl::expected<void, std::string> read_exact(std::uint8_t* out, std::size_t n, const char* what);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace meshproof::audit::bundle
