#include "demo/netns_lab.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace meshproof::demo {

namespace {

std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

std::string first_line(const std::string& text) {
    const auto nl = text.find('\n');
    return nl == std::string::npos ? text : text.substr(0, nl);
}

// PIDs of the processes in a namespace (`ip netns pids`).
std::vector<pid_t> netns_pids(const std::string& ns) {
    std::vector<pid_t> pids;
    const auto r = run_command({"ip", "netns", "pids", ns}, std::chrono::seconds(10));
    if (!r.ok()) return pids;
    for (const auto& w : split_words(r.output)) {
        try {
            const long v = std::stol(w);
            if (v > 1 && v != getpid()) pids.push_back(static_cast<pid_t>(v));
        } catch (...) {
        }
    }
    return pids;
}

std::size_t kill_netns_processes(const std::string& ns) {
    std::size_t n = 0;
    for (pid_t pid : netns_pids(ns)) {
        if (kill(pid, SIGKILL) == 0) ++n;
    }
    return n;
}

bool netns_exists(const std::string& ns) {
    std::error_code ec;
    return std::filesystem::exists("/run/netns/" + ns, ec);
}

}  // namespace

bool valid_lab_prefix(const std::string& prefix) {
    // [a-z0-9][a-z0-9.-]{0,30}: safe in a namespace name, a /tmp path and a pgrep pattern.
    if (prefix.empty() || prefix.size() > 31) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(prefix[0])) return false;
    return std::all_of(prefix.begin(), prefix.end(), [&](char c) { return alnum(c) || c == '.' || c == '-'; });
}

NetnsLab::NetnsLab(std::string prefix) : prefix_(std::move(prefix)) {}

NetnsLab::~NetnsLab() { destroy(); }

std::vector<std::string> NetnsLab::in_pod(const std::string& pod, const std::vector<std::string>& argv) const {
    std::vector<std::string> out{"ip", "netns", "exec", netns(pod)};
    out.insert(out.end(), argv.begin(), argv.end());
    // `ip netns exec` looks the program up in $PATH, which for root is not always complete.
    if (!argv.empty() && argv[0].find('/') == std::string::npos) {
        if (auto full = find_program(argv[0])) out[4] = *full;
    }
    return out;
}

Status NetnsLab::ip(const std::string& ns, const std::vector<std::string>& args, bool best_effort) {
    std::vector<std::string> argv{"ip", "netns", "exec", ns, find_program("ip").value_or("ip")};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_command(argv, std::chrono::seconds(15));
    if (r.ok() || best_effort) return {};
    std::string cmd;
    for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
    return tl::unexpected("in " + ns + ": ip " + cmd + ": " + first_line(r.output));
}

Status NetnsLab::new_netns(const std::string& ns) {
    if (netns_exists(ns)) return tl::unexpected("namespace " + ns + " already exists (run: meshproof demo --cleanup)");
    const auto r = run_command({"ip", "netns", "add", ns}, std::chrono::seconds(15));
    if (!r.ok()) return tl::unexpected("ip netns add " + ns + ": " + first_line(r.output));
    namespaces_.push_back(ns);
    created_ = true;
    if (auto s = ip(ns, {"link", "set", "dev", "lo", "up"}); !s) return s;
    // Quiet namespace: no IPv6 (no router solicitations or MLD in the captures). Best effort.
    for (const char* key : {"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"})
        run_command({"ip", "netns", "exec", ns, find_program("sysctl").value_or("sysctl"), "-qw", key},
                    std::chrono::seconds(5));
    return {};
}

Status NetnsLab::create() {
    if (!valid_lab_prefix(prefix_)) return tl::unexpected("bad lab prefix '" + prefix_ + "'");
    const std::string ns = netns("node");
    if (auto s = new_netns(ns); !s) return s;
    if (auto s = ip(ns, {"link", "add", "br0", "type", "bridge"}); !s) return s;
    // No STP and no forwarding delay: frames pass as soon as ports are up. No multicast snooping:
    // the bridge would send IGMP queries into the captures.
    ip(ns, {"link", "set", "dev", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"}, true);
    ip(ns, {"link", "set", "dev", "br0", "type", "bridge", "mcast_snooping", "0"}, true);
    return ip(ns, {"link", "set", "dev", "br0", "up"});
}

Status NetnsLab::add_pod(const std::string& name, const std::string& cidr) {
    const std::string node_ns = netns("node"), ns = netns(name);
    if (auto s = new_netns(ns); !s) return s;
    const std::string peer = "veth" + std::to_string(next_veth_++);
    // Made inside the node namespace, then one end moved into the pod: the host never holds either.
    if (auto s = ip(node_ns, {"link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", ns}); !s) return s;
    if (auto s = ip(node_ns, {"link", "set", "dev", peer, "master", "br0"}); !s) return s;
    // Offloads off, so the capture shows wire-sized segments as a NIC would send them.
    const bool have_ethtool = find_program("ethtool").has_value();
    for (const auto& [where, dev] : {std::pair{node_ns, peer}, std::pair{ns, std::string("eth0")}}) {
        if (have_ethtool) {
            run_command({"ip", "netns", "exec", where, *find_program("ethtool"), "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso",
                         "off", "gro", "off"},
                        std::chrono::seconds(10));
        } else {
            ip(where, {"link", "set", "dev", dev, "gso_max_size", "1500", "gso_max_segs", "1"}, true);
        }
    }
    if (auto s = ip(node_ns, {"link", "set", "dev", peer, "up"}); !s) return s;
    if (auto s = ip(ns, {"addr", "add", cidr, "dev", "eth0"}); !s) return s;
    return ip(ns, {"link", "set", "dev", "eth0", "up"});
}

CommandResult NetnsLab::exec(const std::string& pod, const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout, const Environment& env) {
    return run_command(in_pod(pod, argv), timeout, env);
}

tl::expected<Child*, std::string> NetnsLab::spawn(const std::string& name, const std::string& pod,
                                                  const std::vector<std::string>& argv, const std::string& log_path,
                                                  const Environment& env) {
    auto c = Child::spawn(in_pod(pod, argv), log_path, env);
    if (!c) return tl::unexpected(name + ": " + c.error());
    children_.emplace_back(name, std::make_unique<Child>(std::move(*c)));
    return children_.back().second.get();
}

Child* NetnsLab::child(const std::string& name) {
    for (auto& [n, c] : children_) {
        if (n == name) return c.get();
    }
    return nullptr;
}

void NetnsLab::stop(const std::string& name, std::chrono::milliseconds grace, int sig) {
    for (auto it = children_.begin(); it != children_.end(); ++it) {
        if (it->first == name) {
            it->second->stop(grace, sig);
            children_.erase(it);
            return;
        }
    }
}

bool NetnsLab::wait_listen(const std::string& pod, const std::string& ip, std::uint16_t port,
                           std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    const std::string where = ip + ":" + std::to_string(port);
    while (std::chrono::steady_clock::now() < end) {
        const auto r = exec(pod, {"ss", "-Hltn", "src", where}, std::chrono::seconds(5));
        if (r.ok() && r.output.find_first_not_of(" \t\r\n") != std::string::npos) return true;
        if (!sleep_for(std::chrono::milliseconds(50), cancel)) return false;
    }
    return false;
}

std::string NetnsLab::destroy() {
    if (!created_ && children_.empty()) return "nothing to remove";
    std::size_t stopped = 0, killed = 0, deleted = 0;
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
        it->second->stop(std::chrono::milliseconds(1500));
        ++stopped;
    }
    children_.clear();
    // Also namespaces named PREFIX-* that were not recorded (a failure between `ip netns add` and
    // the bookkeeping): the prefix is ours alone.
    std::vector<std::string> all = namespaces_;
    for (const auto& ns : list_namespaces(prefix_ + "-")) {
        if (std::find(all.begin(), all.end(), ns) == all.end()) all.push_back(ns);
    }
    for (const auto& ns : all) {
        if (netns_exists(ns)) killed += kill_netns_processes(ns);
    }
    for (const auto& ns : all) {
        if (!netns_exists(ns)) continue;
        if (run_command({"ip", "netns", "del", ns}, std::chrono::seconds(15)).ok()) ++deleted;
    }
    namespaces_.clear();
    created_ = false;
    return "stopped " + std::to_string(stopped) + " processes" + (killed ? " (+" + std::to_string(killed) + " killed)" : "") +
           ", deleted " + std::to_string(deleted) + " namespaces (and with them br0 and the veths)";
}

std::vector<std::string> list_namespaces(const std::string& prefix) {
    std::vector<std::string> out;
    // /run/netns holds one bind mount per named namespace (what `ip netns list` reads).
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) == 0) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

CleanupResult cleanup_leftovers(const std::string& prefix) {
    CleanupResult res;
    // Default names are "mpdemo-PID-...": the PID of the meshproof that made them.
    auto running_demo = [](const std::string& ns) {
        const std::string head = "mpdemo-";
        if (ns.rfind(head, 0) != 0) return false;
        const auto end = ns.find('-', head.size());
        if (end == std::string::npos || end == head.size()) return false;
        const std::string pid = ns.substr(head.size(), end - head.size());
        if (pid.find_first_not_of("0123456789") != std::string::npos) return false;
        if (pid == std::to_string(getpid())) return false;
        std::ifstream comm("/proc/" + pid + "/comm");
        std::string name;
        return comm && std::getline(comm, name) && name == "meshproof";
    };
    for (const auto& ns : list_namespaces(prefix)) {
        if (running_demo(ns)) {
            res.skipped.push_back(ns);
            continue;
        }
        res.processes_killed += kill_netns_processes(ns);
        const auto r = run_command({"ip", "netns", "del", ns}, std::chrono::seconds(15));
        if (r.ok()) res.removed.push_back(ns);
        else res.errors.push_back("ip netns del " + ns + ": " + first_line(r.output));
    }
    // Work directories: /tmp/PREFIX....XXXXXX with our marker file inside.
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/tmp", ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) != 0 || !e.is_directory(ec)) continue;
        if (!std::filesystem::exists(e.path() / ".meshproof-demo", ec)) continue;
        if (running_demo(name.substr(0, name.find('.')) + "-x")) continue;
        std::filesystem::remove_all(e.path(), ec);
        if (ec) res.errors.push_back("rm -r " + e.path().string() + ": " + ec.message());
    }
    return res;
}

}  // namespace meshproof::demo
