#include "play/local_lab.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/file_output.hpp"
#include "demo/demo_apps.hpp"
#include "demo/demo_runner.hpp"
#include "demo/mesh_ca.hpp"
#include "demo/sidecar.hpp"

namespace meshproof::play {

namespace {

using namespace std::chrono_literals;

struct Pod {
    const char* name;
    const char* ip;
};
constexpr Pod kFrontend{"frontend", "10.244.1.10"};
constexpr Pod kBackend{"backend", "10.244.2.20"};
constexpr Pod kDb{"db", "10.244.3.30"};
constexpr std::uint16_t kBackendPort = 8080;
constexpr std::uint16_t kDbPort = 6379;
constexpr const char* kNamespace = "demo";  // the Kubernetes namespace in SPIFFE IDs and SNI

audit::IpAddress parse_ipv4(const char* text) {
    audit::IpAddress ip;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (std::sscanf(text, "%u.%u.%u.%u", &a, &b, &c, &d) == 4) {
        ip.bytes[0] = static_cast<std::uint8_t>(a);
        ip.bytes[1] = static_cast<std::uint8_t>(b);
        ip.bytes[2] = static_cast<std::uint8_t>(c);
        ip.bytes[3] = static_cast<std::uint8_t>(d);
    }
    return ip;
}

demo::Environment app_env() {
    return {{"MPDEMO_TOKEN", std::string(demo::kDemoBearerToken)},
            {"MPDEMO_PASSWORD", std::string(demo::kDemoPassword)},
            {"MPDEMO_DB_PASSWORD", std::string(demo::kDemoDbPassword)},
            {"MPDEMO_SESSION", std::string(demo::kDemoSessionCookie)},
            {"PYTHONDONTWRITEBYTECODE", "1"}};
}

bool stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

const LabStatus kInterrupted = tl::unexpected(std::string("interrupted"));

}  // namespace

LocalLab::LocalLab(std::string prefix)
    : prefix_(prefix.empty() ? std::string(demo::kDemoPrefixBase) + "-" + std::to_string(getpid()) : std::move(prefix)),
      lab_(prefix_) {}

LocalLab::~LocalLab() { destroy(); }

LabStatus LocalLab::write_file(const std::string& name, std::string_view content, unsigned mode) {
    // The mode from the first byte: some of these are private keys.
    if (auto ok = write_output_file(path(name), content, static_cast<mode_t>(mode)); !ok)
        return tl::unexpected("cannot write " + ok.error());
    return {};
}

LabStatus LocalLab::create(const std::atomic<bool>* stop) {
    if (created_) return tl::unexpected(std::string("the lab already exists"));
    python_ = demo::find_program("python3").value_or("python3");
    stunnel_ = demo::find_program("stunnel4").value_or(demo::find_program("stunnel").value_or("stunnel4"));
    std::string tmpl = "/tmp/" + prefix_ + ".XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return tl::unexpected("mkdtemp " + tmpl + ": " + std::strerror(errno));
    workdir_ = tmpl;  // mode 0700: it will hold private keys
    created_ = true;  // from here on destroy() has something to remove
    // The demo's marker: `meshproof demo --cleanup` recognises (and sweeps) this directory.
    if (auto s = write_file(".meshproof-demo", "work directory of a meshproof playbook lab; removed at its end\n", 0600); !s)
        return s;
    if (auto s = write_file("apps.py", demo::demo_apps_python(), 0700); !s) return s;
    if (auto s = lab_.create(); !s) return s;
    for (const Pod& p : {kFrontend, kBackend, kDb}) {
        if (stopped(stop)) return kInterrupted;
        if (auto s = lab_.add_pod(p.name, std::string(p.ip) + "/16"); !s) return s;
    }
    return {};
}

LabStatus LocalLab::spawn(const std::string& label, const std::string& pod, const std::vector<std::string>& argv) {
    auto c = lab_.spawn(label, pod, argv, path(label + ".log"), app_env());
    if (!c) return tl::unexpected(c.error());
    return {};
}

LabStatus LocalLab::wait_listen(const std::string& label, const std::string& pod, const std::string& ip,
                                std::uint16_t port, const std::atomic<bool>* stop) {
    if (lab_.wait_listen(pod, ip, port, 10s, stop)) return {};
    if (stopped(stop)) return kInterrupted;
    std::string why = label + " does not listen on " + ip + ":" + std::to_string(port) + " in pod " + pod;
    if (demo::Child* c = lab_.child(label); c != nullptr && !c->running())
        why += " (it exited with status " + std::to_string(c->exit_code().value_or(-1)) + ")";
    return tl::unexpected(why + "\n" + demo::tail_file(path(label + ".log")));
}

LabStatus LocalLab::launch_apps(const std::atomic<bool>* stop) {
    // Meshed apps listen on the pod's loopback only, and the backend reaches a meshed db through its
    // own sidecar: between meshed pods the sidecars' mutual TLS is the only way.
    const std::string db_bind = db_meshed() ? "127.0.0.1" : kDb.ip;
    const std::string backend_bind = sidecars_ ? "127.0.0.1" : kBackend.ip;
    const std::string db_target = db_meshed() ? "127.0.0.1:" + std::to_string(demo::kOutboundPort)
                                              : std::string(kDb.ip) + ":" + std::to_string(kDbPort);
    if (auto s = spawn("db", kDb.name, {python_, path("apps.py"), "db", "--bind", db_bind, "--port", std::to_string(kDbPort)}); !s)
        return s;
    if (auto s = spawn("backend", kBackend.name,
                       {python_, path("apps.py"), "backend", "--bind", backend_bind, "--port",
                        std::to_string(kBackendPort), "--db", db_target});
        !s)
        return s;
    apps_ = true;
    if (auto s = wait_listen("db", kDb.name, db_bind, kDbPort, stop); !s) return s;
    return wait_listen("backend", kBackend.name, backend_bind, kBackendPort, stop);
}

LabStatus LocalLab::start_apps(const std::atomic<bool>* stop) {
    if (apps_) return {};
    return launch_apps(stop);
}

void LocalLab::stop_apps() {
    lab_.stop("backend");
    lab_.stop("db");
    apps_ = false;
}

LabStatus LocalLab::sidecars_on(const std::vector<std::string>& without, const std::atomic<bool>* stop) {
    if (sidecars_) return tl::unexpected(std::string("the sidecars are already on (lab: {sidecars: off} first)"));
    const bool restart_apps = apps_;
    if (restart_apps) stop_apps();
    db_out_ = std::find(without.begin(), without.end(), "db") != without.end();

    std::error_code ec;
    std::filesystem::create_directories(path("certs"), ec);
    if (ec) return tl::unexpected("cannot create " + path("certs") + ": " + ec.message());
    const auto ca = demo::make_mesh_ca();
    if (!ca) return tl::unexpected("mesh CA: " + ca.error());
    if (auto s = write_file("certs/mesh-ca.pem", ca->cert_pem, 0644); !s) return s;

    struct Workload {
        Pod pod;
        std::vector<demo::InboundRoute> inbound;
        std::vector<demo::OutboundRoute> outbound;
    };
    std::vector<Workload> workloads = {
        {kFrontend, {}, {{demo::kOutboundPort, kBackend.ip, kBackendPort, demo::istio_sni(kBackendPort, kBackend.name, kNamespace)}}},
        {kBackend, {{kBackend.ip, kBackendPort}}, {}},
    };
    if (!db_out_) {
        workloads[1].outbound.push_back({demo::kOutboundPort, kDb.ip, kDbPort, demo::istio_sni(kDbPort, kDb.name, kNamespace)});
        workloads.push_back({kDb, {{kDb.ip, kDbPort}}, {}});
    }
    for (const auto& w : workloads) {
        const std::string base = w.pod.name;
        const auto cert = demo::make_workload_cert(*ca, demo::spiffe_id("cluster.local", kNamespace, base), 1h);
        if (!cert) return tl::unexpected("workload certificate for " + base + ": " + cert.error());
        if (auto s = write_file("certs/" + base + ".pem", cert->cert_pem, 0644); !s) return s;
        if (auto s = write_file("certs/" + base + "-key.pem", cert->key_pem, 0600); !s) return s;
        demo::SidecarConfig cfg;
        cfg.log_path = path("sidecar-" + base + ".stunnel.log");
        cfg.files = {path("certs/" + base + ".pem"), path("certs/" + base + "-key.pem"), path("certs/mesh-ca.pem")};
        cfg.inbound = w.inbound;
        cfg.outbound = w.outbound;
        if (auto s = write_file("sidecar-" + base + ".conf", demo::stunnel_config(cfg), 0600); !s) return s;
    }
    sidecars_ = true;
    if (restart_apps) {
        if (auto s = launch_apps(stop); !s) return s;
    }
    for (const auto& w : workloads) {
        const std::string label = "sidecar-" + std::string(w.pod.name);
        if (auto s = spawn(label, w.pod.name, {stunnel_, path(label + ".conf")}); !s) return s;
    }
    for (const auto& w : workloads) {
        const std::string label = "sidecar-" + std::string(w.pod.name);
        for (const auto& in : w.inbound) {
            if (auto s = wait_listen(label, w.pod.name, in.listen_ip, in.port, stop); !s) return s;
        }
        for (const auto& o : w.outbound) {
            if (auto s = wait_listen(label, w.pod.name, "127.0.0.1", o.local_port, stop); !s) return s;
        }
    }
    return {};
}

LabStatus LocalLab::sidecars_off(const std::atomic<bool>* stop) {
    if (!sidecars_) return {};
    const bool restart_apps = apps_;
    if (restart_apps) stop_apps();
    for (const Pod& p : {kFrontend, kBackend, kDb}) lab_.stop("sidecar-" + std::string(p.name));
    sidecars_ = false;
    db_out_ = false;
    if (restart_apps) return launch_apps(stop);
    return {};
}

LabStatus LocalLab::traffic(int rounds, const std::atomic<bool>* stop) {
    if (!apps_) return tl::unexpected(std::string("the apps are not running"));
    const std::string label = "client-" + std::to_string(++clients_);
    // The frontend is always meshed when sidecars are on: it calls its own sidecar.
    const std::string url = sidecars_ ? "http://127.0.0.1:" + std::to_string(demo::kOutboundPort)
                                      : "http://" + std::string(kBackend.ip) + ":" + std::to_string(kBackendPort);
    const std::string host = std::string(kBackend.name) + "." + kNamespace + ".svc.cluster.local:" + std::to_string(kBackendPort);
    if (auto s = spawn(label, kFrontend.name,
                       {python_, path("apps.py"), "client", "--url", url, "--host", host, "--rounds", std::to_string(rounds)});
        !s)
        return s;
    demo::Child* c = lab_.child(label);
    const bool done = c->wait(60s, stop);
    if (stopped(stop)) return kInterrupted;
    if (!done) {
        lab_.stop(label);
        return tl::unexpected(std::string("the frontend client did not finish within 60 s"));
    }
    if (c->exit_code().value_or(1) != 0) {
        std::string why = "the frontend client failed:\n" + demo::tail_file(c->log_path(), 5);
        std::vector<std::string> logs = {"backend.log"};
        if (sidecars_) logs.insert(logs.begin(), {"sidecar-frontend.stunnel.log", "sidecar-backend.stunnel.log"});
        for (const auto& l : logs) why += "  " + l + ":\n" + demo::tail_file(path(l), 8);
        lab_.stop(label);
        return tl::unexpected(why);
    }
    lab_.stop(label);
    return {};
}

std::string LocalLab::destroy() {
    if (!created_) return "nothing to remove";
    std::string account = lab_.destroy();
    if (!workdir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(workdir_, ec);
        if (ec) account += "; could not remove " + workdir_ + ": " + ec.message();
        else account += ", removed " + workdir_;
        workdir_.clear();
    }
    created_ = apps_ = sidecars_ = db_out_ = false;
    return account;
}

audit::EndpointNames LocalLab::names() const {
    return {{parse_ipv4(kFrontend.ip), kFrontend.name}, {parse_ipv4(kBackend.ip), kBackend.name}, {parse_ipv4(kDb.ip), kDb.name}};
}

std::string LocalLab::describe() const {
    return "node " + lab_.netns("node") + " (bridge br0), pods " + kFrontend.name + " " + kFrontend.ip + ", " +
           kBackend.name + " " + kBackend.ip + ", " + kDb.name + " " + kDb.ip + " (10.244.0.0/16, no default route)";
}

std::string LocalLab::mesh_note() const {
    if (!sidecars_) return "no sidecars: frontend -> backend:8080 and backend -> db:6379 go direct";
    if (db_out_)
        return "sidecars on frontend and backend (mutual TLS 1.3, SNI " + demo::istio_sni(kBackendPort, kBackend.name, kNamespace) +
               "); db left out of the mesh: backend -> db:6379 stays direct";
    return "sidecars on frontend, backend and db (mutual TLS 1.3, SNI outbound_.PORT_._.SERVICE.demo.svc.cluster.local, "
           "SPIFFE workload certificates from a mesh CA)";
}

}  // namespace meshproof::play
