#include "audit/capture/compressed_file.hpp"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace meshproof::audit {

namespace {

constexpr std::array<unsigned char, 2> kGzipMagic{0x1F, 0x8B};
constexpr std::array<unsigned char, 4> kZstdMagic{0x28, 0xB5, 0x2F, 0xFD};

// A decompressing stream behind a FILE* (glibc fopencookie). `pos` is the decompressed offset.
class Decompressor {
public:
    explicit Decompressor(std::string path) : path_(std::move(path)) {}
    virtual ~Decompressor() = default;
    // Decompressed bytes into dst; 0 at the end (also at a premature end: error() says so), -1 on error.
    virtual ssize_t read(char* dst, std::size_t n) = 0;
    virtual bool rewind() = 0;
    [[nodiscard]] std::uint64_t pos() const { return pos_; }
    [[nodiscard]] const std::optional<std::string>& error() const { return error_; }

    // Forward by decompressing and dropping; backward by starting over.
    bool seek_to(std::uint64_t target) {
        if (target < pos_ && !rewind()) return false;
        std::array<char, 16384> sink{};
        while (pos_ < target) {
            const ssize_t got = read(sink.data(), static_cast<std::size_t>(std::min<std::uint64_t>(sink.size(), target - pos_)));
            if (got <= 0) return false;
        }
        return true;
    }

protected:
    std::string path_;
    std::uint64_t pos_ = 0;
    std::optional<std::string> error_;
};

class GzipStream final : public Decompressor {
public:
    using Decompressor::Decompressor;
    ~GzipStream() override {
        if (gz_) gzclose(gz_);
    }
    bool open() {
        gz_ = gzopen(path_.c_str(), "rb");
        // 32 KiB in, 64 KiB out: what decompressed before a damaged spot is lost in 64 KiB pieces
        // at most (zlib reports an error for its whole output buffer).
        if (gz_) gzbuffer(gz_, 1 << 15);
        return gz_ != nullptr;
    }
    // In pieces, so the bytes decompressed before a damaged spot reach the reader before the error.
    ssize_t read(char* dst, std::size_t n) override {
        if (failed_) {
            errno = EIO;
            return -1;
        }
        constexpr std::size_t kPiece = 16384;
        std::size_t have = 0;
        while (have < n) {
            const auto want = static_cast<unsigned>(std::min(kPiece, n - have));
            const int got = gzread(gz_, dst + have, want);
            if (got > 0) have += static_cast<std::size_t>(got);
            int code = Z_OK;
            const char* msg = gzerror(gz_, &code);
            if (got < 0 || (got == 0 && code == Z_BUF_ERROR)) {
                // Z_BUF_ERROR at the end: the input ended in the middle of a gzip stream (truncated).
                const std::string what = code == Z_BUF_ERROR ? "the compressed data ends early (truncated .gz)" : strip_path(msg);
                error_ = "gzip: " + what + ", after " + std::to_string(gzoffset(gz_)) + " compressed bytes";
                failed_ = got < 0;
                break;
            }
            if (static_cast<unsigned>(got) < want) break;  // the end
        }
        pos_ += have;
        if (have == 0 && failed_) {
            errno = EIO;
            return -1;
        }
        return static_cast<ssize_t>(have);
    }
    bool rewind() override {
        if (gzrewind(gz_) != 0) return false;
        pos_ = 0;
        error_.reset();
        failed_ = false;
        return true;
    }

private:
    // zlib's messages start with the file name; ours already name it.
    std::string strip_path(const char* msg) const {
        std::string m = msg ? msg : "error";
        if (m.rfind(path_ + ": ", 0) == 0) m.erase(0, path_.size() + 2);
        return m;
    }
    gzFile gz_ = nullptr;
    bool failed_ = false;
};

class ZstdStream final : public Decompressor {
public:
    using Decompressor::Decompressor;
    ~ZstdStream() override {
        if (dctx_) ZSTD_freeDCtx(dctx_);
        if (file_) std::fclose(file_);
    }
    bool open() {
        file_ = std::fopen(path_.c_str(), "rb");
        dctx_ = ZSTD_createDCtx();
        in_buf_.resize(ZSTD_DStreamInSize());
        return file_ && dctx_;
    }
    ssize_t read(char* dst, std::size_t n) override {
        ZSTD_outBuffer out{dst, n, 0};
        while (out.pos == 0) {
            if (in_.pos == in_.size) {
                in_.size = std::fread(in_buf_.data(), 1, in_buf_.size(), file_);
                in_.pos = 0;
                in_.src = in_buf_.data();
                if (in_.size == 0) {
                    if (std::ferror(file_)) return fail(std::strerror(errno));
                    // Input over: fine between frames, truncated inside one.
                    if (frame_open_) error_ = "zstd: the compressed data ends early (truncated .zst), after " +
                                               std::to_string(consumed_) + " compressed bytes";
                    return 0;
                }
            }
            const std::size_t before = in_.pos;
            const std::size_t rc = ZSTD_decompressStream(dctx_, &out, &in_);
            consumed_ += in_.pos - before;
            if (ZSTD_isError(rc)) return fail(ZSTD_getErrorName(rc));
            frame_open_ = rc != 0;  // 0: a frame was completely decoded and flushed
        }
        pos_ += out.pos;
        return static_cast<ssize_t>(out.pos);
    }
    bool rewind() override {
        if (std::fseek(file_, 0, SEEK_SET) != 0) return false;
        ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_only);
        in_ = ZSTD_inBuffer{nullptr, 0, 0};
        pos_ = consumed_ = 0;
        frame_open_ = false;
        error_.reset();
        return true;
    }

private:
    ssize_t fail(const char* what) {
        error_ = std::string("zstd: ") + what + ", after " + std::to_string(consumed_) + " compressed bytes";
        errno = EIO;
        return -1;
    }
    std::FILE* file_ = nullptr;
    ZSTD_DCtx* dctx_ = nullptr;
    std::vector<char> in_buf_;
    ZSTD_inBuffer in_{nullptr, 0, 0};
    std::uint64_t consumed_ = 0;
    bool frame_open_ = false;
};

// Streams by FILE*, so decompression_error() can find the decompressor behind one.
std::mutex g_streams_mutex;
std::unordered_map<std::FILE*, Decompressor*>& streams() {
    static std::unordered_map<std::FILE*, Decompressor*> m;
    return m;
}

ssize_t cookie_read(void* cookie, char* buf, std::size_t size) { return static_cast<Decompressor*>(cookie)->read(buf, size); }

int cookie_seek(void* cookie, off64_t* offset, int whence) {
    auto* d = static_cast<Decompressor*>(cookie);
    std::int64_t target = *offset;
    if (whence == SEEK_CUR) target += static_cast<std::int64_t>(d->pos());
    else if (whence != SEEK_SET) return -1;  // SEEK_END would mean decompressing everything
    if (target < 0 || !d->seek_to(static_cast<std::uint64_t>(target))) return -1;
    *offset = static_cast<off64_t>(d->pos());
    return 0;
}

int cookie_close(void* cookie) {
    auto* d = static_cast<Decompressor*>(cookie);
    {
        const std::lock_guard<std::mutex> lock(g_streams_mutex);
        for (auto it = streams().begin(); it != streams().end(); ++it) {
            if (it->second == d) {
                streams().erase(it);
                break;
            }
        }
    }
    delete d;
    return 0;
}

Compression sniff(const std::string& path) {
    std::array<unsigned char, 4> head{};
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return Compression::None;
    const std::size_t n = std::fread(head.data(), 1, head.size(), f);
    std::fclose(f);
    if (n >= 2 && std::equal(kGzipMagic.begin(), kGzipMagic.end(), head.begin())) return Compression::Gzip;
    if (n >= 4 && std::equal(kZstdMagic.begin(), kZstdMagic.end(), head.begin())) return Compression::Zstd;
    return Compression::None;
}

template <typename Stream>
std::FILE* open_through(const std::string& path) {
    auto d = std::make_unique<Stream>(path);
    if (!d->open()) return nullptr;
    const cookie_io_functions_t io{cookie_read, nullptr, cookie_seek, cookie_close};
    std::FILE* f = fopencookie(d.get(), "rb", io);
    if (!f) return nullptr;
    const std::lock_guard<std::mutex> lock(g_streams_mutex);
    streams()[f] = d.release();
    return f;
}

}  // namespace

const char* to_string(Compression c) {
    switch (c) {
        case Compression::Gzip: return "gzip";
        case Compression::Zstd: return "zstd";
        case Compression::None: break;
    }
    return "none";
}

std::FILE* open_capture_stream(const std::string& path, Compression* kind) {
    const Compression c = sniff(path);
    if (kind) *kind = c;
    switch (c) {
        case Compression::Gzip: return open_through<GzipStream>(path);
        case Compression::Zstd: return open_through<ZstdStream>(path);
        case Compression::None: break;
    }
    return std::fopen(path.c_str(), "rb");
}

std::optional<std::string> decompression_error(std::FILE* stream) {
    const std::lock_guard<std::mutex> lock(g_streams_mutex);
    const auto it = streams().find(stream);
    if (it == streams().end()) return std::nullopt;
    return it->second->error();
}

}  // namespace meshproof::audit
