#include "common/file_output.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace meshproof {
namespace {
std::string failure(const std::string& path, const char* what, int err) {
    return path + ": " + what + ": " + std::strerror(err);
}
}  // namespace

tl::expected<int, std::string> create_output_file(const std::string& path, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return tl::unexpected(failure(path, "cannot create", errno));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) != mode && ::fchmod(fd, mode) != 0) {
        const int err = errno;
        ::close(fd);
        return tl::unexpected(failure(path, "cannot set its mode", err));
    }
    return fd;
}

tl::expected<void, std::string> write_output_file(const std::string& path, std::string_view content, mode_t mode) {
    const auto fd = create_output_file(path, mode);
    if (!fd) return tl::unexpected(fd.error());
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(*fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : EIO;
            ::close(*fd);
            return tl::unexpected(failure(path, "cannot write", err));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::close(*fd) != 0) return tl::unexpected(failure(path, "cannot write", errno));
    return {};
}

}  // namespace meshproof
