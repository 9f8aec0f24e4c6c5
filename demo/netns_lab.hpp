// A throw-away "node with pods" made of network namespaces, the C++ twin of tests/lib/netns_lab.sh:
// namespace PREFIX-node holds bridge br0; each pod is namespace PREFIX-NAME whose eth0 is a veth
// into br0. Every command runs through `ip netns exec` inside a namespace this lab created; the
// host's interfaces, routes and sysctls are never touched and no namespace gets a default route.
// Deleting the namespaces deletes their veths and the bridge.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "demo/process.hpp"

namespace meshproof::demo {

using Status = tl::expected<void, std::string>;

class NetnsLab {
public:
    // Nothing happens until create(). PREFIX must match [a-z0-9][a-z0-9.-]{0,30}.
    explicit NetnsLab(std::string prefix);
    ~NetnsLab();  // destroy()
    NetnsLab(const NetnsLab&) = delete;
    NetnsLab& operator=(const NetnsLab&) = delete;

    // The node namespace with br0 (up, no address, no STP, no multicast snooping).
    Status create();
    // Pod namespace PREFIX-NAME, eth0 = veth whose peer is a port of br0, address CIDR ("10.244.1.10/16").
    Status add_pod(const std::string& name, const std::string& cidr);

    [[nodiscard]] const std::string& prefix() const { return prefix_; }
    // Namespace of a pod ("node" for the node namespace).
    [[nodiscard]] std::string netns(const std::string& pod) const { return prefix_ + "-" + pod; }
    [[nodiscard]] const std::vector<std::string>& namespaces() const { return namespaces_; }
    // {"ip", "netns", "exec", NS, argv...}
    [[nodiscard]] std::vector<std::string> in_pod(const std::string& pod, const std::vector<std::string>& argv) const;

    CommandResult exec(const std::string& pod, const std::vector<std::string>& argv,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30), const Environment& env = {});
    // A long-running process in a pod (it must stay in the foreground); stopped by destroy() or by
    // stop(name). `name` is a label for stop() and error messages.
    tl::expected<Child*, std::string> spawn(const std::string& name, const std::string& pod,
                                            const std::vector<std::string>& argv, const std::string& log_path,
                                            const Environment& env = {});
    void stop(const std::string& name, std::chrono::milliseconds grace = std::chrono::seconds(2), int sig = 15);
    Child* child(const std::string& name);
    // Polls `ss` in the pod until a TCP socket listens on ip:port (passive: makes no connection that
    // a capture would see). False on timeout or cancel.
    bool wait_listen(const std::string& pod, const std::string& ip, std::uint16_t port,
                     std::chrono::milliseconds timeout, const std::atomic<bool>* cancel);

    // Stops every process started (latest first), kills whatever else runs in our namespaces and
    // deletes them. Safe to call twice. Returns a one-line account.
    std::string destroy();

private:
    Status new_netns(const std::string& ns);
    Status ip(const std::string& ns, const std::vector<std::string>& args, bool best_effort = false);

    std::string prefix_;
    std::vector<std::string> namespaces_;
    std::vector<std::pair<std::string, std::unique_ptr<Child>>> children_;
    int next_veth_ = 0;
    bool created_ = false;
};

// Network namespaces whose name starts with `prefix`.
std::vector<std::string> list_namespaces(const std::string& prefix);

struct CleanupResult {
    std::vector<std::string> removed;    // namespaces deleted
    std::vector<std::string> skipped;    // in use by a demo that is still running
    std::size_t processes_killed = 0;
    std::vector<std::string> errors;
};

// `meshproof demo --cleanup`: for every namespace named PREFIX* kill the processes inside and delete
// it; also removes leftover work directories /tmp/PREFIX*. A namespace "mpdemo-PID-..." whose PID is
// a running meshproof is left alone.
CleanupResult cleanup_leftovers(const std::string& prefix);

bool valid_lab_prefix(const std::string& prefix);

}  // namespace meshproof::demo
