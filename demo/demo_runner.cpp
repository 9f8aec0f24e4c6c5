#include "demo/demo_runner.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

#include "audit/report/html_report.hpp"
#include "common/file_output.hpp"
#include "audit/report/report.hpp"
#include "demo/bridge_capture.hpp"
#include "demo/demo_apps.hpp"
#include "demo/mesh_ca.hpp"
#include "demo/netns_lab.hpp"
#include "demo/sidecar.hpp"

namespace meshproof::demo {

namespace {

using namespace std::chrono_literals;
using audit::FlowRecord;
using audit::Verdict;

// The miniature cluster: one node, three pods in the pod CIDR 10.244.0.0/16 (flannel's default).
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
constexpr int kPhases = 6;

struct StepFailed : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct Interrupted {};

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

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        out += v[i];
    }
    return out;
}

std::string hostname() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

// Reports are 0640 by default; keys are written 0600 from the first byte (never chmod'ed afterwards).
void write_file(const std::filesystem::path& path, std::string_view content, mode_t mode = kReportFileMode) {
    if (auto ok = write_output_file(path.string(), content, mode); !ok) throw StepFailed("cannot write " + ok.error());
}

class Demo {
public:
    Demo(const DemoOptions& opt, std::ostream& out, std::ostream& err, const std::atomic<bool>& stop)
        : opt_(opt), out_(out), err_(err), stop_(stop), lab_(opt.prefix) {
        names_ = {{parse_ipv4(kFrontend.ip), kFrontend.name},
                  {parse_ipv4(kBackend.ip), kBackend.name},
                  {parse_ipv4(kDb.ip), kDb.name}};
    }

    DemoOutcome run();

private:
    // ------------------------------------------------------------------------------ helpers
    void check_stop() const {
        if (stop_.load()) throw Interrupted{};
    }
    void phase(int n, const std::string& text) {
        check_stop();
        out_ << bold() << "[" << n << "/" << kPhases << "] " << reset() << text << std::endl;
    }
    void note(const std::string& text) { out_ << "      " << text << "\n"; }
    const char* bold() const { return opt_.color ? "\033[1m" : ""; }
    const char* reset() const { return opt_.color ? "\033[0m" : ""; }
    const char* red() const { return opt_.color ? "\033[1;31m" : ""; }
    const char* green() const { return opt_.color ? "\033[1;32m" : ""; }

    Environment app_env() const {
        return {{"MPDEMO_TOKEN", std::string(kDemoBearerToken)},
                {"MPDEMO_PASSWORD", std::string(kDemoPassword)},
                {"MPDEMO_DB_PASSWORD", std::string(kDemoDbPassword)},
                {"MPDEMO_SESSION", std::string(kDemoSessionCookie)},
                {"PYTHONDONTWRITEBYTECODE", "1"}};
    }
    std::string path(const std::string& name) const { return (workdir_ / name).string(); }

    void spawn(const std::string& label, const Pod& pod, const std::vector<std::string>& argv) {
        auto c = lab_.spawn(label, pod.name, argv, path(label + ".log"), app_env());
        if (!c) throw StepFailed(c.error());
    }
    void wait_listen(const std::string& label, const Pod& pod, const std::string& ip, std::uint16_t port) {
        if (lab_.wait_listen(pod.name, ip, port, 10s, &stop_)) return;
        check_stop();
        std::string why = label + " does not listen on " + ip + ":" + std::to_string(port) + " in pod " + pod.name;
        if (Child* c = lab_.child(label); c != nullptr && !c->running())
            why += " (it exited with status " + std::to_string(c->exit_code().value_or(-1)) + ")";
        throw StepFailed(why + "\n" + tail_file(path(label + ".log")));
    }
    void start_apps(const std::string& db_bind, const std::string& backend_bind, const std::string& db_target) {
        spawn("db", kDb, {python_, path("apps.py"), "db", "--bind", db_bind, "--port", std::to_string(kDbPort)});
        spawn("backend", kBackend,
              {python_, path("apps.py"), "backend", "--bind", backend_bind, "--port", std::to_string(kBackendPort), "--db",
               db_target});
        wait_listen("db", kDb, db_bind, kDbPort);
        wait_listen("backend", kBackend, backend_bind, kBackendPort);
    }
    void stop_apps() {
        lab_.stop("backend");
        lab_.stop("db");
    }
    // The frontend's rounds; throws with the client's words and the named logs when it failed.
    void run_client(const std::string& label, const std::string& url, const std::vector<std::string>& logs_on_error) {
        spawn(label, kFrontend,
              {python_, path("apps.py"), "client", "--url", url, "--host",
               std::string(kBackend.name) + "." + kNamespace + ".svc.cluster.local:" + std::to_string(kBackendPort),
               "--rounds", std::to_string(opt_.rounds)});
        Child* c = lab_.child(label);
        const bool done = c->wait(60s, &stop_);
        check_stop();
        if (!done) throw StepFailed("the frontend app did not finish within 60 s");
        if (c->exit_code().value_or(1) != 0) {
            std::string why = "the frontend app failed:\n" + tail_file(c->log_path(), 5);
            for (const auto& l : logs_on_error) why += "  " + l + ":\n" + tail_file(path(l), 8);
            throw StepFailed(why);
        }
        lab_.stop(label);
    }
    CaptureResult capture_while(const std::function<void()>& traffic) {
        auto cap = BridgeCapture::start(lab_.netns("node"), "br0");
        if (!cap) throw StepFailed(cap.error());
        traffic();
        // Let the last FIN/ACKs cross the bridge before stopping.
        sleep_for(400ms, nullptr);
        auto result = (*cap)->stop();
        if (!result.error.empty()) throw StepFailed("capture: " + result.error);
        return result;
    }
    std::string describe(const FlowRecord& f) const;
    void print_capture(const CaptureResult& r);

    void preflight_tools();
    void make_workdir();
    void build_lab();
    void before_phase();
    void mesh_phase();
    void after_phase();
    DemoOutcome diff_phase();
    void write_outputs(const audit::FlowDiff& diff);
    void teardown();

    const DemoOptions& opt_;
    std::ostream& out_;
    std::ostream& err_;
    const std::atomic<bool>& stop_;
    NetnsLab lab_;
    std::filesystem::path workdir_;
    std::string python_, stunnel_;
    audit::EndpointNames names_;
    CaptureResult before_, after_;
    bool torn_down_ = false;
};

std::string Demo::describe(const FlowRecord& f) const {
    std::vector<std::string> parts;
    if (f.tls) {
        const auto& t = *f.tls;
        if (t.version) parts.push_back("TLS " + *t.version);
        if (t.sni) parts.push_back("SNI " + *t.sni);
        if (!t.alpn_offered.empty()) parts.push_back("ALPN " + join(t.alpn_offered, ","));
        if (!t.client_cert_state.empty()) parts.push_back("client cert " + t.client_cert_state);
    } else if (f.plaintext) {
        parts.push_back(f.plaintext->first_line);
    }
    return join(parts, ", ");
}

void Demo::print_capture(const CaptureResult& r) {
    // The engine already keeps secret values out of evidence and first lines; this is the second
    // line of defence for the terminal.
    audit::SecretScrubber scrub;
    if (!opt_.show_secrets) scrub.add(r.records);
    const auto& s = r.summary;
    std::string verdicts;
    for (Verdict v : audit::kAllVerdicts) {
        const auto n = s.verdict_flows[static_cast<std::size_t>(v)];
        if (n) verdicts += (verdicts.empty() ? "" : ", ") + std::string(audit::to_string(v)) + " " + std::to_string(n);
    }
    note(std::to_string(s.packets) + " packets, " + std::to_string(r.records.size()) + " TCP flows" +
         (verdicts.empty() ? "" : ": " + verdicts) +
         (s.kernel_dropped ? ", " + std::to_string(s.kernel_dropped) + " dropped by the kernel" : ""));
    if (!s.secrets_by_kind.empty()) {
        std::string kinds;
        for (const auto& [k, n] : s.secrets_by_kind) kinds += (kinds.empty() ? "" : ", ") + k + " " + std::to_string(n);
        note("secrets readable on the wire: " + kinds + (opt_.show_secrets ? "" : " (values redacted)"));
    }
    for (const auto& f : r.records) {
        const bool clear = audit::is_plaintext(f.verdict);
        char head[160];
        std::snprintf(head, sizeof head, "%-17s %-26s %-5s ", std::string(audit::to_string(f.verdict)).c_str(),
                      (audit::endpoint_name(names_, f.client_ip) + " -> " + audit::endpoint_name(names_, f.server_ip) + ":" +
                       std::to_string(f.server_port))
                          .c_str(),
                      f.protocol.c_str());
        out_ << "        " << (clear ? red() : (audit::is_encrypted(f.verdict) ? green() : "")) << head << reset()
             << scrub.scrubbed(describe(f)) << "\n";
        const std::size_t shown = opt_.verbose ? f.evidence.size() : std::min<std::size_t>(f.evidence.size(), clear ? 0 : 1);
        for (std::size_t i = 0; i < shown; ++i) out_ << "          evidence: " << scrub.scrubbed(f.evidence[i]) << "\n";
        for (const auto& sec : f.secrets)
            out_ << "          secret: " << sec.kind << " in " << sec.location << ": "
                 << audit::secret_text(sec, opt_.show_secrets) << "\n";
    }
    out_.flush();
}

void Demo::preflight_tools() {
    python_ = find_program("python3").value_or("python3");
    stunnel_ = find_program("stunnel4").value_or(find_program("stunnel").value_or("stunnel4"));
}

void Demo::make_workdir() {
    std::string tmpl = "/tmp/" + opt_.prefix + ".XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw StepFailed("mkdtemp " + tmpl + ": " + std::strerror(errno));
    workdir_ = tmpl;  // mode 0700: it holds the private keys
    write_file(workdir_ / ".meshproof-demo", "work directory of a meshproof demo run; removed at its end\n", 0600);
    write_file(workdir_ / "apps.py", demo_apps_python(), 0700);
}

void Demo::build_lab() {
    phase(1, "lab: node namespace " + lab_.netns("node") + " with bridge br0, pods " + kFrontend.name + " " + kFrontend.ip +
                 ", " + kBackend.name + " " + kBackend.ip + ", " + kDb.name + " " + kDb.ip +
                 " (10.244.0.0/16, no default route)");
    make_workdir();
    if (auto s = lab_.create(); !s) throw StepFailed(s.error());
    for (const Pod& p : {kFrontend, kBackend, kDb}) {
        check_stop();
        if (auto s = lab_.add_pod(p.name, std::string(p.ip) + "/16"); !s) throw StepFailed(s.error());
    }
}

void Demo::before_phase() {
    phase(2, "before: capturing plaintext traffic on br0 (frontend -> backend:8080 HTTP, backend -> db:6379 Redis) ...");
    start_apps(kDb.ip, kBackend.ip, std::string(kDb.ip) + ":" + std::to_string(kDbPort));
    before_ = capture_while([&] {
        run_client("client-before", "http://" + std::string(kBackend.ip) + ":" + std::to_string(kBackendPort), {"backend.log"});
    });
    stop_apps();
    print_capture(before_);
}

void Demo::mesh_phase() {
    phase(3, "mesh: mesh CA and workload certificates (EC P-256, empty subject, SPIFFE URI SAN), stunnel sidecars "
             "(mutual TLS 1.3, Istio SNI) ...");
    const auto ca = make_mesh_ca();
    if (!ca) throw StepFailed("mesh CA: " + ca.error());
    std::filesystem::create_directories(workdir_ / "certs");
    write_file(workdir_ / "certs" / "mesh-ca.pem", ca->cert_pem, 0644);
    struct Workload {
        Pod pod;
        std::vector<InboundRoute> inbound;
        std::vector<OutboundRoute> outbound;
    };
    // --without-sidecar db: the db pod is left out of the mesh (a pod without injection), so the
    // backend talks to it in clear; the proof must then fail.
    const bool db_meshed = !opt_.without_db_sidecar;
    std::vector<Workload> workloads = {
        {kFrontend, {}, {{kOutboundPort, kBackend.ip, kBackendPort, istio_sni(kBackendPort, kBackend.name, kNamespace)}}},
        {kBackend, {{kBackend.ip, kBackendPort}}, {}},
    };
    if (db_meshed) {
        workloads[1].outbound.push_back({kOutboundPort, kDb.ip, kDbPort, istio_sni(kDbPort, kDb.name, kNamespace)});
        workloads.push_back({kDb, {{kDb.ip, kDbPort}}, {}});
    }
    std::vector<std::string> ids;
    for (const auto& w : workloads) {
        const std::string id = spiffe_id("cluster.local", kNamespace, w.pod.name);
        const auto cert = make_workload_cert(*ca, id, 1h);
        if (!cert) throw StepFailed("workload certificate for " + id + ": " + cert.error());
        ids.push_back(id);
        const std::string base = std::string(w.pod.name);
        write_file(workdir_ / "certs" / (base + ".pem"), cert->cert_pem, 0644);
        write_file(workdir_ / "certs" / (base + "-key.pem"), cert->key_pem, 0600);
        SidecarConfig cfg;
        cfg.log_path = path("sidecar-" + base + ".stunnel.log");
        cfg.files = {path("certs/" + base + ".pem"), path("certs/" + base + "-key.pem"), path("certs/mesh-ca.pem")};
        cfg.inbound = w.inbound;
        cfg.outbound = w.outbound;
        write_file(workdir_ / ("sidecar-" + base + ".conf"), stunnel_config(cfg), 0600);
    }
    note("mesh CA O=cluster.local; workload identities " + join(ids, ", "));
    // The meshed apps now listen on the pod's loopback only, and the backend reaches db through its
    // sidecar: the only way between meshed pods is the sidecars' mutual TLS.
    if (db_meshed) start_apps("127.0.0.1", "127.0.0.1", "127.0.0.1:" + std::to_string(kOutboundPort));
    else start_apps(kDb.ip, "127.0.0.1", std::string(kDb.ip) + ":" + std::to_string(kDbPort));
    for (const auto& w : workloads) {
        const std::string label = "sidecar-" + std::string(w.pod.name);
        spawn(label, w.pod, {stunnel_, path(label + ".conf")});
    }
    for (const auto& w : workloads) {
        const std::string label = "sidecar-" + std::string(w.pod.name);
        for (const auto& in : w.inbound) wait_listen(label, w.pod, in.listen_ip, in.port);
        for (const auto& o : w.outbound) wait_listen(label, w.pod, "127.0.0.1", o.local_port);
    }
    if (db_meshed) {
        note("sidecars: frontend 127.0.0.1:15001 -> " + istio_sni(kBackendPort, kBackend.name, kNamespace) +
             "; backend 127.0.0.1:15001 -> " + istio_sni(kDbPort, kDb.name, kNamespace) +
             "; inbound backend:8080, db:6379 require a client certificate from the mesh CA");
    } else {
        note("sidecars: frontend 127.0.0.1:15001 -> " + istio_sni(kBackendPort, kBackend.name, kNamespace) +
             "; inbound backend:8080 requires a client certificate from the mesh CA");
        note("db has no sidecar (--without-sidecar db): backend -> db:6379 stays in clear");
    }
}

void Demo::after_phase() {
    phase(4, "after: capturing the same apps' traffic through the mTLS sidecars on br0 ...");
    after_ = capture_while([&] {
        run_client("client-after", "http://127.0.0.1:" + std::to_string(kOutboundPort),
                   {"sidecar-frontend.stunnel.log", "sidecar-backend.stunnel.log", "sidecar-db.stunnel.log", "backend.log"});
    });
    print_capture(after_);
}

void Demo::write_outputs(const audit::FlowDiff& diff) {
    const std::filesystem::path dir(*opt_.output_dir);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw StepFailed("cannot create " + dir.string() + ": " + ec.message());
    const audit::ReportOptions ropt{opt_.show_secrets, false, false};
    std::ostringstream before, after;
    audit::write_json_lines(before, before_.records, before_.summary, ropt);
    audit::write_json_lines(after, after_.records, after_.summary, ropt);
    write_file(dir / "before.jsonl", before.str());
    write_file(dir / "after.jsonl", after.str());
    write_file(dir / "diff.json", audit::diff_to_json(diff, {opt_.show_secrets, false}) + "\n");
    audit::HtmlReportOptions hopt;
    hopt.title = "meshproof demo: before / after mutual TLS";
    hopt.names = names_;
    hopt.show_secrets = opt_.show_secrets;
    hopt.facts = {{"host", hostname()},
                  {"generated", utc_now()},
                  {"node", "bridge br0, pods frontend / backend / db on 10.244.0.0/16"},
                  {"after", "stunnel sidecars, mutual TLS 1.3, SNI outbound_.PORT_._.SERVICE.demo.svc.cluster.local"},
                  {"capture", "live on br0 (libpcap)"}};
    write_file(dir / "report.html", audit::render_html_report(before_.records, after_.records, diff, hopt));
    note("wrote " + (dir / "before.jsonl").string() + ", after.jsonl, diff.json, report.html");
}

DemoOutcome Demo::diff_phase() {
    phase(5, "diff: matching flows by (client pod, server pod, server port) ...");
    const auto diff = audit::diff_audits(before_.records, after_.records, names_);
    audit::write_diff_text(out_, diff, {opt_.show_secrets, opt_.color});
    if (opt_.output_dir) write_outputs(diff);
    const auto failures = proof_failures(diff);
    teardown();
    if (failures.empty()) {
        out_ << green() << "PASS" << reset() << ": readable before (" << diff.before.plaintext_flows() << " plaintext flows, "
             << diff.before.secrets << " secrets), mutual TLS after (" << diff.after.count(Verdict::IstioMtls)
             << " istio-mtls flows, nothing in clear)\n";
        return DemoOutcome::Passed;
    }
    out_ << red() << "FAIL" << reset() << ": " << join(failures, "; ") << "\n";
    return DemoOutcome::Failed;
}

void Demo::teardown() {
    if (torn_down_) return;
    torn_down_ = true;
    out_ << bold() << "[6/" << kPhases << "] " << reset() << "cleanup: ";
    out_.flush();
    out_ << lab_.destroy() << "\n";
    if (!workdir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(workdir_, ec);
    }
    out_.flush();
}

DemoOutcome Demo::run() {
    try {
        preflight_tools();
        build_lab();
        before_phase();
        mesh_phase();
        after_phase();
        return diff_phase();
    } catch (const Interrupted&) {
        out_ << "\ninterrupted: tearing the lab down\n";
        teardown();
        return DemoOutcome::Interrupted;
    } catch (const StepFailed& e) {
        err_ << "meshproof demo: " << e.what() << "\n";
        teardown();
        return stop_.load() ? DemoOutcome::Interrupted : DemoOutcome::Error;
    } catch (const std::exception& e) {
        err_ << "meshproof demo: " << e.what() << "\n";
        teardown();
        return DemoOutcome::Error;
    }
}

}  // namespace

std::vector<std::string> proof_failures(const audit::FlowDiff& diff) {
    std::vector<std::string> out;
    if (diff.before.plaintext_flows() == 0) out.push_back("the before capture shows no plaintext flow: nothing was proven");
    else if (diff.before.secrets == 0) out.push_back("no secret was detected in the plaintext before");
    if (!diff.passed()) {
        out.push_back(std::to_string(diff.count(audit::FlowChange::StillPlaintext)) +
                      " client->server pair(s) still in clear after");
    }
    if (diff.after.count(Verdict::IstioMtls) == 0) out.push_back("no istio-mtls flow after");
    return out;
}

std::vector<std::string> demo_preflight() {
    std::vector<std::string> missing;
    if (geteuid() != 0)
        missing.push_back("meshproof demo needs root (network namespaces, a bridge, live capture): run it with sudo");
    const char* install = "apt-get install iproute2 stunnel4";
    if (!find_program("ip")) missing.push_back(std::string("`ip` not found: ") + install);
    if (!find_program("ss")) missing.push_back(std::string("`ss` not found: ") + install);
    if (!find_program("stunnel4") && !find_program("stunnel"))
        missing.push_back(std::string("stunnel4 not found (it plays the sidecars): ") + install);
    if (!find_program("python3")) missing.push_back("python3 not found (it runs the demo apps): apt-get install python3");
    return missing;
}

DemoOutcome run_demo(const DemoOptions& opt, std::ostream& out, std::ostream& err, const std::atomic<bool>& stop) {
    DemoOptions o = opt;
    if (o.prefix.empty()) o.prefix = std::string(kDemoPrefixBase) + "-" + std::to_string(getpid());
    if (!valid_lab_prefix(o.prefix)) {
        err << "meshproof demo: bad --prefix '" << o.prefix << "' (lowercase letters, digits, '.', '-'; at most 31)\n";
        return DemoOutcome::Error;
    }
    if (o.rounds < 1) o.rounds = 1;
    Demo demo(o, out, err, stop);
    return demo.run();
}

}  // namespace meshproof::demo
