// Getting metrics out of a one-shot audit: the text exposition written atomically for node_exporter's
// textfile collector, or pushed to a Prometheus Pushgateway (grouped by job and instance).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <prometheus/registry.h>

namespace meshproof::audit {

class Engine;

// Prometheus text format (version 0.0.4) of everything in the registry.
std::string exposition_text(const prometheus::Registry& registry);

// Writes the exposition to `path` atomically: a temporary file in the same directory (a name the
// textfile collector ignores), fsync, mode 0644, rename over `path`. false + err on failure.
bool write_textfile(const prometheus::Registry& registry, const std::string& path, std::string& err);

// http[s]://host[:port][/path] split the way prometheus::Gateway wants it.
struct PushUrl {
    std::string scheme_host;   // "http://127.0.0.1"
    std::string port;          // "9091" (the Pushgateway's default when the URL has none)
    std::string path;          // "" or "/prefix" (a Pushgateway behind a path prefix)
};
std::optional<PushUrl> parse_push_url(std::string_view url, std::string& err);

// PUT of the whole registry to URL/metrics/job/JOB/instance/INSTANCE (replaces that group).
bool push_to_gateway(const std::shared_ptr<prometheus::Registry>& registry, const std::string& url,
                     const std::string& job, const std::string& instance, std::string& err);

// What a one-shot audit was asked to export (--push URL, --metrics-file PATH, --job, --instance).
struct MetricsOutputs {
    std::optional<std::string> push_url;
    std::optional<std::string> textfile;
    std::string job = "meshproof";
    std::string instance;   // empty: this host's name
    [[nodiscard]] bool any() const { return push_url || textfile; }
};

// This host's name (the default Pushgateway instance).
std::string default_instance();

// Metrics of a finished run (after Engine::finish(): every record, plus the summary) to each requested
// output. Both outputs are attempted; false + err (one line per failure) if any failed.
bool export_metrics(const Engine& engine, const MetricsOutputs& out, std::string& err);
// The same for a registry the caller filled (e.g. an AuditMetrics with namespace labels and policy
// findings).
bool export_registry(const std::shared_ptr<prometheus::Registry>& registry, const MetricsOutputs& out, std::string& err);

// Checks early (before a long capture) that the textfile's directory is writable by this process.
bool textfile_writable(const std::string& path, std::string& err);

}  // namespace meshproof::audit
