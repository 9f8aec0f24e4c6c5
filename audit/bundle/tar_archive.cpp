#include "audit/bundle/tar_archive.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace meshproof::audit::bundle {

namespace {

constexpr std::size_t kChunk = 64 * 1024;

void put_octal(std::uint8_t* field, std::size_t width, std::uint64_t value) {
    // width-1 octal digits, zero-padded, then NUL.
    for (std::size_t i = width - 1; i-- > 0;) {
        field[i] = static_cast<std::uint8_t>('0' + (value & 7));
        value >>= 3;
    }
    field[width - 1] = 0;
}

void put_text(std::uint8_t* field, std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) field[i] = static_cast<std::uint8_t>(s[i]);
}

std::optional<std::uint64_t> parse_octal(Bytes field) {
    std::size_t i = 0;
    while (i < field.size() && field[i] == ' ') ++i;
    std::uint64_t v = 0;
    bool any = false;
    for (; i < field.size(); ++i) {
        const auto c = field[i];
        if (c == 0 || c == ' ') break;
        if (c < '0' || c > '7') return std::nullopt;
        if (v > (UINT64_MAX >> 3)) return std::nullopt;
        v = (v << 3) | (c - '0');
        any = true;
    }
    for (; i < field.size(); ++i) {
        if (field[i] != 0 && field[i] != ' ') return std::nullopt;  // digits after the terminator
    }
    if (!any) return 0;
    return v;
}

std::string c_string(Bytes field) {
    std::string s;
    for (auto b : field) {
        if (b == 0) break;
        s.push_back(static_cast<char>(b));
    }
    return s;
}

std::string zlib_error(gzFile f, const std::string& fallback) {
    int err = Z_OK;
    const char* msg = f ? gzerror(f, &err) : nullptr;
    if (err == Z_ERRNO) return fallback + ": " + std::strerror(errno);
    if (msg && *msg) return fallback + ": " + msg;
    return fallback;
}

}  // namespace

bool valid_member_name(std::string_view name) {
    if (name.empty() || name.size() > 100 || name.front() == '/' || name.back() == '/') return false;
    for (char c : name) {
        if (c < 0x21 || c > 0x7e || c == '\\') return false;  // printable ASCII, no spaces or backslashes
    }
    std::size_t start = 0;
    while (start <= name.size()) {
        const auto slash = name.find('/', start);
        const std::string_view part = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (part.empty() || part == "." || part == "..") return false;
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return true;
}

std::array<std::uint8_t, kTarBlock> make_tar_header(std::string_view name, std::uint64_t size, std::uint32_t mode,
                                                    std::int64_t mtime) {
    std::array<std::uint8_t, kTarBlock> h{};
    put_text(&h[0], name.substr(0, 100));
    put_octal(&h[100], 8, mode & 07777);
    put_octal(&h[108], 8, 0);  // uid
    put_octal(&h[116], 8, 0);  // gid
    put_octal(&h[124], 12, size);
    put_octal(&h[136], 12, static_cast<std::uint64_t>(mtime < 0 ? 0 : mtime));
    h[156] = '0';
    put_text(&h[257], std::string_view("ustar\0" "00", 8));
    put_text(&h[265], "meshproof");
    put_text(&h[297], "meshproof");
    put_octal(&h[329], 8, 0);
    put_octal(&h[337], 8, 0);
    std::memset(&h[148], ' ', 8);
    unsigned sum = 0;
    for (auto b : h) sum += b;
    put_octal(&h[148], 7, sum);  // six digits, NUL, then the space already there
    return h;
}

tl::expected<std::optional<TarEntry>, std::string> parse_tar_header(Bytes block) {
    if (block.size() != kTarBlock) return tl::unexpected(std::string("tar header: short block"));
    bool zero = true;
    for (auto b : block) zero = zero && b == 0;
    if (zero) return std::optional<TarEntry>();

    ByteReader r(block);
    Bytes name, mode, uid, gid, size, mtime, chksum, type, linkname, magic, version, uname, gname, devmajor, devminor,
        prefix;
    if (!r.bytes(100, name) || !r.bytes(8, mode) || !r.bytes(8, uid) || !r.bytes(8, gid) || !r.bytes(12, size) ||
        !r.bytes(12, mtime) || !r.bytes(8, chksum) || !r.bytes(1, type) || !r.bytes(100, linkname) ||
        !r.bytes(6, magic) || !r.bytes(2, version) || !r.bytes(32, uname) || !r.bytes(32, gname) ||
        !r.bytes(8, devmajor) || !r.bytes(8, devminor) || !r.bytes(155, prefix))
        return tl::unexpected(std::string("tar header: short block"));

    const std::string magic_text(magic.begin(), magic.end());
    if (magic_text != std::string("ustar\0", 6) && magic_text != "ustar ")
        return tl::unexpected(std::string("not a ustar archive (bad header magic)"));

    const auto stored = parse_octal(chksum);
    unsigned sum = 0;
    int signed_sum = 0;  // some old tars summed signed chars
    for (std::size_t i = 0; i < block.size(); ++i) {
        const std::uint8_t b = (i >= 148 && i < 156) ? ' ' : block[i];
        sum += b;
        signed_sum += static_cast<signed char>(b);
    }
    if (!stored || (*stored != sum && static_cast<std::int64_t>(*stored) != signed_sum))
        return tl::unexpected(std::string("tar header: checksum mismatch (damaged archive)"));

    TarEntry e;
    const auto sz = parse_octal(size);
    const auto md = parse_octal(mode);
    const auto mt = parse_octal(mtime);
    if (!sz) return tl::unexpected(std::string("tar header: unreadable size field"));
    if (!md || !mt) return tl::unexpected(std::string("tar header: unreadable mode or mtime field"));
    e.size = *sz;
    e.mode = static_cast<std::uint32_t>(*md & 07777);
    e.mtime = static_cast<std::int64_t>(*mt);
    e.type = type[0] == 0 ? '0' : static_cast<char>(type[0]);
    e.name = c_string(name);
    const std::string pre = magic_text == "ustar " ? std::string() : c_string(prefix);  // GNU uses it otherwise
    if (!pre.empty()) e.name = pre + "/" + e.name;
    return std::optional<TarEntry>(std::move(e));
}

struct TarWriter::Impl {
    gzFile gz = nullptr;
    int sync_fd = -1;
    std::filesystem::path final_path, tmp_path;
    unsigned mode = 0640;
    bool closed = false;
};

tl::expected<std::unique_ptr<TarWriter>, std::string> TarWriter::create(const std::filesystem::path& path, bool gzip,
                                                                        unsigned mode) {
    std::unique_ptr<TarWriter> w(new TarWriter());
    w->impl_ = std::make_unique<Impl>();
    Impl& im = *w->impl_;
    im.final_path = path;
    im.tmp_path = path.string() + ".tmp-" + std::to_string(::getpid());
    im.mode = mode;
    const int fd = ::open(im.tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) return tl::unexpected(im.tmp_path.string() + ": " + std::strerror(errno));
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || (im.sync_fd = ::dup(fd)) < 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        ::unlink(im.tmp_path.c_str());
        return tl::unexpected(im.tmp_path.string() + ": " + why);
    }
    im.gz = gzdopen(fd, gzip ? "wb6" : "wbT");
    if (!im.gz) {
        ::close(fd);
        ::unlink(im.tmp_path.c_str());
        return tl::unexpected(im.tmp_path.string() + ": cannot start the gzip stream");
    }
    gzbuffer(im.gz, 128 * 1024);
    return w;
}

TarWriter::~TarWriter() {
    if (impl_ && !impl_->closed) {
        if (impl_->gz) gzclose(impl_->gz);
        if (impl_->sync_fd >= 0) ::close(impl_->sync_fd);
        ::unlink(impl_->tmp_path.c_str());  // never leave half an archive behind
    }
}

tl::expected<void, std::string> TarWriter::write(Bytes data) {
    while (!data.empty()) {
        const auto n = static_cast<unsigned>(std::min<std::size_t>(data.size(), kChunk));
        if (gzwrite(impl_->gz, data.data(), n) != static_cast<int>(n))
            return tl::unexpected(zlib_error(impl_->gz, impl_->tmp_path.string() + ": write failed"));
        data = data.subspan(n);
    }
    return {};
}

tl::expected<void, std::string> TarWriter::pad(std::uint64_t size) {
    static const std::array<std::uint8_t, kTarBlock> zeros{};
    const std::size_t rest = static_cast<std::size_t>(size % kTarBlock);
    if (rest == 0) return {};
    return write(Bytes(zeros.data(), kTarBlock - rest));
}

tl::expected<void, std::string> TarWriter::add(std::string_view name, Bytes data, std::int64_t mtime) {
    if (!valid_member_name(name)) return tl::unexpected("invalid bundle member name '" + std::string(name) + "'");
    const auto header = make_tar_header(name, data.size(), 0640, mtime);
    if (auto r = write(Bytes(header)); !r) return r;
    if (auto r = write(data); !r) return r;
    return pad(data.size());
}

tl::expected<std::uint64_t, std::string> TarWriter::add_file(std::string_view name, const std::filesystem::path& source,
                                                             std::int64_t mtime,
                                                             const std::function<void(Bytes)>& on_data) {
    if (!valid_member_name(name)) return tl::unexpected("invalid bundle member name '" + std::string(name) + "'");
    std::ifstream in(source, std::ios::binary);
    if (!in) return tl::unexpected(source.string() + ": cannot open (" + std::strerror(errno) + ")");
    std::error_code ec;
    const auto size = std::filesystem::file_size(source, ec);
    if (ec) return tl::unexpected(source.string() + ": " + ec.message());
    if (size > kTarMaxSize) return tl::unexpected(source.string() + ": larger than 8 GiB, too large for a bundle member");
    const auto header = make_tar_header(name, size, 0640, mtime);
    if (auto r = write(Bytes(header)); !r) return tl::unexpected(r.error());
    std::vector<char> buf(kChunk);
    std::uint64_t done = 0;
    while (done < size) {
        const auto want = static_cast<std::streamsize>(std::min<std::uint64_t>(buf.size(), size - done));
        in.read(buf.data(), want);
        if (in.gcount() != want)
            return tl::unexpected(source.string() + ": changed or unreadable while being bundled");
        const Bytes chunk(reinterpret_cast<const std::uint8_t*>(buf.data()), static_cast<std::size_t>(want));
        if (on_data) on_data(chunk);
        if (auto r = write(chunk); !r) return tl::unexpected(r.error());
        done += static_cast<std::uint64_t>(want);
    }
    if (auto r = pad(size); !r) return tl::unexpected(r.error());
    return size;
}

tl::expected<void, std::string> TarWriter::close() {
    Impl& im = *impl_;
    static const std::array<std::uint8_t, 2 * kTarBlock> end{};
    if (auto r = write(Bytes(end)); !r) return r;
    const int rc = gzclose(im.gz);
    im.gz = nullptr;
    const bool synced = ::fsync(im.sync_fd) == 0;
    ::close(im.sync_fd);
    im.sync_fd = -1;
    if (rc != Z_OK || !synced) return tl::unexpected(im.tmp_path.string() + ": write failed");
    if (::rename(im.tmp_path.c_str(), im.final_path.c_str()) != 0)
        return tl::unexpected(im.final_path.string() + ": " + std::strerror(errno));
    im.closed = true;
    return {};
}

struct TarReader::Impl {
    gzFile gz = nullptr;
    std::string path;
    std::uint64_t remaining = 0;  // unread data of the current member
    std::uint64_t padding = 0;
    bool ended = false;
};

tl::expected<std::unique_ptr<TarReader>, std::string> TarReader::open(const std::filesystem::path& path) {
    std::unique_ptr<TarReader> r(new TarReader());
    r->impl_ = std::make_unique<Impl>();
    r->impl_->path = path.string();
    errno = 0;
    r->impl_->gz = gzopen(path.c_str(), "rb");
    if (!r->impl_->gz)
        return tl::unexpected(path.string() + ": cannot open" + (errno ? std::string(" (") + std::strerror(errno) + ")" : ""));
    gzbuffer(r->impl_->gz, 128 * 1024);
    return r;
}

TarReader::~TarReader() {
    if (impl_ && impl_->gz) gzclose(impl_->gz);
}

tl::expected<void, std::string> TarReader::read_exact(std::uint8_t* out, std::size_t n, const char* what) {
    std::size_t done = 0;
    while (done < n) {
        const auto want = static_cast<unsigned>(std::min<std::size_t>(n - done, kChunk));
        const int got = gzread(impl_->gz, out + done, want);
        if (got < 0) return tl::unexpected(zlib_error(impl_->gz, impl_->path + ": damaged compressed data") + " " + what);
        if (got == 0) return tl::unexpected(impl_->path + ": truncated " + what);
        done += static_cast<std::size_t>(got);
    }
    return {};
}

tl::expected<std::optional<TarEntry>, std::string> TarReader::next() {
    Impl& im = *impl_;
    if (im.ended) return std::optional<TarEntry>();
    std::array<std::uint8_t, kChunk> skip{};
    std::uint64_t to_skip = im.remaining + im.padding;
    while (to_skip > 0) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(to_skip, skip.size()));
        if (auto r = read_exact(skip.data(), n, "(inside a member's data)"); !r) return tl::unexpected(r.error());
        to_skip -= n;
    }
    im.remaining = im.padding = 0;
    std::array<std::uint8_t, kTarBlock> block{};
    if (auto r = read_exact(block.data(), block.size(), "(no end-of-archive marker)"); !r) return tl::unexpected(r.error());
    auto entry = parse_tar_header(Bytes(block));
    if (!entry) return tl::unexpected(im.path + ": " + entry.error());
    if (!*entry) {
        im.ended = true;
        // Reading to the end makes zlib check the gzip trailer (CRC-32 and length) as well.
        std::array<std::uint8_t, kTarBlock> rest{};
        while (true) {
            const int got = gzread(im.gz, rest.data(), static_cast<unsigned>(rest.size()));
            if (got < 0) return tl::unexpected(zlib_error(im.gz, im.path + ": damaged compressed data"));
            if (got == 0) break;
        }
        return std::optional<TarEntry>();
    }
    im.remaining = (*entry)->size;
    im.padding = (kTarBlock - im.remaining % kTarBlock) % kTarBlock;
    return entry;
}

tl::expected<void, std::string> TarReader::read_data(const std::function<void(Bytes)>& sink) {
    Impl& im = *impl_;
    std::vector<std::uint8_t> buf(kChunk);
    while (im.remaining > 0) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(im.remaining, buf.size()));
        if (auto r = read_exact(buf.data(), n, "(inside a member's data)"); !r) return r;
        sink(Bytes(buf.data(), n));
        im.remaining -= n;
    }
    return {};
}

}  // namespace meshproof::audit::bundle
