#include "provision/probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "provision/net.hpp"

namespace meshproof::provision {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    [[nodiscard]] int get() const { return fd_; }

private:
    int fd_;
};

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

class HttpProber final : public Prober {
public:
    ProbeResult http_get(const std::string& ip, int port, const std::string& host_header, const std::string& path,
                         std::chrono::milliseconds timeout) override {
        ProbeResult r;
        const auto deadline = Clock::now() + timeout;
        auto addr = parse_ip(ip);
        if (!addr) {
            r.error = addr.error();
            return r;
        }
        sockaddr_storage ss{};
        socklen_t len = 0;
        if (addr->family == IpFamily::V4) {
            sockaddr_in sin{};
            sin.sin_family = AF_INET;
            sin.sin_port = htons(static_cast<std::uint16_t>(port));
            std::memcpy(&sin.sin_addr, addr->bytes.data(), 4);
            std::memcpy(&ss, &sin, sizeof sin);
            len = sizeof sin;
        } else {
            sockaddr_in6 sin6{};
            sin6.sin6_family = AF_INET6;
            sin6.sin6_port = htons(static_cast<std::uint16_t>(port));
            std::memcpy(&sin6.sin6_addr, addr->bytes.data(), 16);
            std::memcpy(&ss, &sin6, sizeof sin6);
            len = sizeof sin6;
        }
        Fd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (fd.get() < 0) {
            r.error = std::string("socket: ") + std::strerror(errno);
            return r;
        }
        // sockaddr_storage is designed to be passed as a sockaddr (POSIX).
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
            r.error = std::string("connect: ") + std::strerror(errno);
            return r;
        }
        pollfd p{fd.get(), POLLOUT, 0};
        if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
            r.error = "connect: timed out";
            return r;
        }
        int so_error = 0;
        socklen_t so_len = sizeof so_error;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &so_len);
        if (so_error != 0) {
            r.error = std::string("connect: ") + std::strerror(so_error);
            return r;
        }
        const std::string request = "GET " + (path.empty() ? std::string("/") : path) + " HTTP/1.1\r\nHost: " +
                                    (host_header.empty() ? ip : host_header) +
                                    "\r\nUser-Agent: meshproof-probe\r\nConnection: close\r\n\r\n";
        std::size_t sent = 0;
        while (sent < request.size()) {
            const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    pollfd w{fd.get(), POLLOUT, 0};
                    if (::poll(&w, 1, remaining_ms(deadline)) <= 0) {
                        r.error = "send: timed out";
                        return r;
                    }
                    continue;
                }
                r.error = std::string("send: ") + std::strerror(errno);
                return r;
            }
            sent += static_cast<std::size_t>(n);
        }
        std::string head;
        while (head.find("\r\n") == std::string::npos && head.size() < 512) {
            pollfd rd{fd.get(), POLLIN, 0};
            if (::poll(&rd, 1, remaining_ms(deadline)) <= 0) {
                r.error = "no answer before the timeout";
                return r;
            }
            char buf[256];
            const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
            if (n <= 0) {
                r.error = n == 0 ? "closed without an answer" : std::string("recv: ") + std::strerror(errno);
                return r;
            }
            head.append(buf, static_cast<std::size_t>(n));
        }
        // "HTTP/1.1 200 OK"
        if (head.rfind("HTTP/", 0) != 0 || head.size() < 12) {
            r.error = "not an HTTP answer";
            return r;
        }
        const auto sp = head.find(' ');
        if (sp == std::string::npos || sp + 4 > head.size()) {
            r.error = "not an HTTP answer";
            return r;
        }
        int status = 0;
        for (std::size_t i = sp + 1; i < sp + 4; ++i) {
            if (head[i] < '0' || head[i] > '9') {
                r.error = "not an HTTP status";
                return r;
            }
            status = status * 10 + (head[i] - '0');
        }
        r.answered = true;
        r.status = status;
        return r;
    }
};

}  // namespace

std::unique_ptr<Prober> make_http_prober() { return std::make_unique<HttpProber>(); }

}  // namespace meshproof::provision
