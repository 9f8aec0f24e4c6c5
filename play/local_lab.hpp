// The playbooks' local namespace lab: the miniature cluster of `meshproof demo` (docs/demo.md) built
// from the demo's pieces (NetnsLab, the embedded apps, the mesh CA, stunnel sidecars), but driven
// step by step: create, apps start/stop, sidecars on/off, client traffic, destroy.
//
//   node namespace PREFIX-node with bridge br0
//   pod frontend 10.244.1.10 (the client), backend 10.244.2.20:8080 (HTTP), db 10.244.3.30:6379 (Redis)
//
// Work files (apps.py, keys, configs, logs) live in /tmp/PREFIX.XXXXXX with the demo's marker file,
// so `meshproof demo --cleanup` also sweeps what a killed playbook left (default prefix mpdemo-PID).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "audit/report/diff.hpp"
#include "demo/netns_lab.hpp"

namespace meshproof::play {

using LabStatus = tl::expected<void, std::string>;

class LocalLab {
public:
    // Empty prefix: mpdemo-PID. Nothing happens until create().
    explicit LocalLab(std::string prefix);
    ~LocalLab();
    LocalLab(const LocalLab&) = delete;
    LocalLab& operator=(const LocalLab&) = delete;

    LabStatus create(const std::atomic<bool>* stop);
    LabStatus start_apps(const std::atomic<bool>* stop);
    void stop_apps();
    // A fresh mesh CA and workload certificates, stunnel sidecars; running apps move to the pods'
    // loopback so the sidecars are the only way in. `without`: pods left out of the mesh ("db").
    LabStatus sidecars_on(const std::vector<std::string>& without, const std::atomic<bool>* stop);
    LabStatus sidecars_off(const std::atomic<bool>* stop);
    // The frontend's client: `rounds` keep-alive connections; fails with the client's words and logs.
    LabStatus traffic(int rounds, const std::atomic<bool>* stop);

    // Stops every process, deletes the namespaces and the work directory. Safe to call twice.
    std::string destroy();

    [[nodiscard]] bool created() const { return created_; }
    [[nodiscard]] bool apps_running() const { return apps_; }
    [[nodiscard]] bool sidecars() const { return sidecars_; }
    [[nodiscard]] const std::string& prefix() const { return prefix_; }
    // The node namespace and its bridge, where audits capture.
    [[nodiscard]] std::string node_netns() const { return lab_.netns("node"); }
    static constexpr const char* kBridge = "br0";
    // Pod IP -> pod name, for diffs and reports.
    [[nodiscard]] audit::EndpointNames names() const;
    // "node mpdemo-123-node (br0), pods frontend 10.244.1.10, backend 10.244.2.20, db 10.244.3.30"
    [[nodiscard]] std::string describe() const;
    // One line about the mesh state for progress output.
    [[nodiscard]] std::string mesh_note() const;

private:
    LabStatus spawn(const std::string& label, const std::string& pod, const std::vector<std::string>& argv);
    LabStatus wait_listen(const std::string& label, const std::string& pod, const std::string& ip, std::uint16_t port,
                          const std::atomic<bool>* stop);
    LabStatus launch_apps(const std::atomic<bool>* stop);
    LabStatus write_file(const std::string& name, std::string_view content, unsigned mode);
    [[nodiscard]] std::string path(const std::string& name) const { return workdir_ + "/" + name; }
    [[nodiscard]] bool db_meshed() const { return sidecars_ && !db_out_; }

    std::string prefix_;
    demo::NetnsLab lab_;
    std::string workdir_, python_, stunnel_;
    bool created_ = false, apps_ = false, sidecars_ = false, db_out_ = false;
    int clients_ = 0;
};

}  // namespace meshproof::play
