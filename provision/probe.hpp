// "Does the gateway IP answer?": one HTTP request straight to an IP:port (optionally with a Host
// header), from where meshproof runs. A fake in tests, since no cluster IP is reachable there.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace meshproof::provision {

struct ProbeResult {
    bool answered = false;  // an HTTP status line came back
    int status = 0;
    std::string error;      // why not (connection refused, timeout, ...)
};

class Prober {
public:
    virtual ~Prober() = default;
    virtual ProbeResult http_get(const std::string& ip, int port, const std::string& host_header,
                                 const std::string& path, std::chrono::milliseconds timeout) = 0;
};

std::unique_ptr<Prober> make_http_prober();

}  // namespace meshproof::provision
