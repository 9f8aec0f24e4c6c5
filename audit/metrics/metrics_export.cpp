#include "audit/metrics/metrics_export.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <prometheus/gateway.h>
#include <prometheus/text_serializer.h>

#include "audit/engine/engine.hpp"
#include "audit/metrics/audit_metrics.hpp"

namespace meshproof::audit {

namespace {

std::string errno_text() { return std::strerror(errno); }

bool write_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// A Pushgateway grouping-key value goes into the URL path: no '/', not empty.
bool valid_group_value(const std::string& v) { return !v.empty() && v.find('/') == std::string::npos; }

}  // namespace

std::string exposition_text(const prometheus::Registry& registry) {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry.Collect());
    return out.str();
}

bool write_textfile(const prometheus::Registry& registry, const std::string& path, std::string& err) {
    const std::string text = exposition_text(registry);
    const std::filesystem::path target(path);
    const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    // "NAME.tmp.XXXXXX": node_exporter reads only *.prom, so it never sees a half-written file.
    std::string tmpl = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
    const int fd = mkstemp(tmpl.data());
    if (fd < 0) {
        err = path + ": cannot create a temporary file in " + dir.string() + ": " + errno_text();
        return false;
    }
    bool ok = fchmod(fd, 0644) == 0 && write_all(fd, text) && fsync(fd) == 0;
    std::string why = ok ? "" : errno_text();
    if (::close(fd) != 0 && ok) {
        ok = false;
        why = errno_text();
    }
    if (ok && std::rename(tmpl.c_str(), path.c_str()) != 0) {
        ok = false;
        why = errno_text();
    }
    if (!ok) {
        ::unlink(tmpl.c_str());
        err = path + ": cannot write the metrics file: " + why;
    }
    return ok;
}

std::optional<PushUrl> parse_push_url(std::string_view url, std::string& err) {
    PushUrl out;
    std::string_view rest;
    if (url.rfind("http://", 0) == 0) {
        rest = url.substr(7);
        out.scheme_host = "http://";
    } else if (url.rfind("https://", 0) == 0) {
        rest = url.substr(8);
        out.scheme_host = "https://";
    } else {
        err = "--push: expected http://HOST[:PORT][/PATH], got '" + std::string(url) + "'";
        return std::nullopt;
    }
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        std::string_view path = rest.substr(slash);
        while (!path.empty() && path.back() == '/') path.remove_suffix(1);
        out.path = std::string(path);
    }
    if (authority.find('@') != std::string_view::npos) {
        err = "--push: credentials in the URL are not supported";
        return std::nullopt;
    }
    std::string_view host = authority, port;
    if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            err = "--push: unterminated IPv6 address in '" + std::string(url) + "'";
            return std::nullopt;
        }
        host = authority.substr(0, close + 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') {
                err = "--push: bad address in '" + std::string(url) + "'";
                return std::nullopt;
            }
            port = authority.substr(close + 2);
        }
    } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) {
        err = "--push: no host in '" + std::string(url) + "'";
        return std::nullopt;
    }
    if (port.empty()) port = "9091";
    unsigned long n = 0;
    for (const char c : port) {
        if (c < '0' || c > '9' || n > 65535) {
            n = 0;
            break;
        }
        n = n * 10 + static_cast<unsigned long>(c - '0');
    }
    if (n == 0 || n > 65535) {
        err = "--push: bad port '" + std::string(port) + "'";
        return std::nullopt;
    }
    out.scheme_host += std::string(host);
    out.port = std::string(port);
    return out;
}

bool push_to_gateway(const std::shared_ptr<prometheus::Registry>& registry, const std::string& url,
                     const std::string& job, const std::string& instance, std::string& err) {
    auto target = parse_push_url(url, err);
    if (!target) return false;
    if (!valid_group_value(job) || !valid_group_value(instance)) {
        err = "--push: job and instance must be non-empty and contain no '/'";
        return false;
    }
    // Gateway builds SCHEME_HOST + ":" + PORT + "/metrics/job/..."; a path prefix rides on the port.
    prometheus::Gateway gateway(target->scheme_host, target->port + target->path, job, {{"instance", instance}});
    gateway.RegisterCollectable(registry);
    const int status = gateway.Push();
    if (status >= 200 && status < 300) return true;
    err = "push to " + url + " failed: " +
          (status < 0 ? std::string("could not connect") : "HTTP status " + std::to_string(status));
    return false;
}

std::string default_instance() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    return name;
}

bool textfile_writable(const std::string& path, std::string& err) {
    const std::filesystem::path target(path);
    const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
    if (access(dir.c_str(), W_OK | X_OK) != 0) {
        err = "--metrics-file: directory " + dir + " is not writable by uid " + std::to_string(geteuid()) + ": " +
              errno_text();
        return false;
    }
    return true;
}

bool export_metrics(const Engine& engine, const MetricsOutputs& out, std::string& err) {
    if (!out.any()) return true;
    auto registry = std::make_shared<prometheus::Registry>();
    AuditMetrics metrics(registry);
    for (const auto& f : engine.records()) metrics.on_flow(f);
    metrics.update_from_summary(engine.summary());
    return export_registry(registry, out, err);
}

bool export_registry(const std::shared_ptr<prometheus::Registry>& registry, const MetricsOutputs& out, std::string& err) {
    if (!out.any()) return true;
    bool ok = true;
    std::string e;
    if (out.textfile && !write_textfile(*registry, *out.textfile, e)) {
        ok = false;
        err += e;
    }
    if (out.push_url) {
        e.clear();
        const std::string instance = out.instance.empty() ? default_instance() : out.instance;
        if (!push_to_gateway(registry, *out.push_url, out.job, instance, e)) {
            if (!ok) err += "\n";
            ok = false;
            err += e;
        }
    }
    return ok;
}

}  // namespace meshproof::audit
