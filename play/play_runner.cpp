#include "play/play_runner.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <prometheus/registry.h>

#include "audit/k8s/audit_policy.hpp"
#include "audit/k8s/cluster_snapshot.hpp"
#include "audit/k8s/policy_check.hpp"
#include "audit/k8s/snapshot_fetch.hpp"
#include "audit/k8s/workload_index.hpp"
#include "audit/metrics/audit_metrics.hpp"
#include "audit/metrics/metrics_export.hpp"
#include "audit/report/diff.hpp"
#include "audit/report/html_report.hpp"
#include "common/file_output.hpp"
#include "audit/report/report.hpp"
#include "demo/bridge_capture.hpp"
#include "demo/demo_runner.hpp"
#include "demo/process.hpp"
#include "play/assert_expr.hpp"
#include "play/kube_commands.hpp"
#include "play/local_lab.hpp"
#include "play/play_results.hpp"
#include "provision/plan.hpp"

namespace meshproof::play {

std::size_t PlayReport::failed_asserts() const {
    std::size_t n = 0;
    for (const auto& a : asserts) n += a.passed ? 0 : 1;
    return n;
}

namespace {

// The runner starts kubectl through $PATH (not the demo's extra sbin directories).
bool on_path(const std::string& name) {
    const char* env = std::getenv("PATH");
    std::istringstream dirs(env ? env : "");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    }
    return false;
}

}  // namespace

std::vector<std::string> preflight(const Playbook& pb) {
    std::vector<std::string> missing;
    if (pb.uses_lab()) {
        // The demo's own checks: root, ip, ss, stunnel4, python3.
        for (auto& m : demo::demo_preflight()) {
            const std::string from = "meshproof demo needs root";
            if (m.rfind(from, 0) == 0) m = "the playbook's lab needs root" + m.substr(from.size());
            missing.push_back(m);
        }
    } else if (pb.uses_live_capture() && geteuid() != 0) {
        missing.push_back("a live capture needs root (or CAP_NET_RAW): run it with sudo");
    }
    if (pb.uses_kubectl() && !on_path("kubectl"))
        missing.push_back("kubectl is not on PATH (apply, wait, restart and `snapshot: cluster` run it)");
    return missing;
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct StepFailed : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct Interrupted {};

std::string indent(const std::string& text, const std::string& pad = "      ") {
    std::string out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) out += pad + line + "\n";
    return out;
}

std::string first_line(const std::string& text) {
    const auto start = text.find_first_not_of(" \n");
    if (start == std::string::npos) return "";
    return text.substr(start, text.find('\n', start) - start);
}

std::string plural(std::size_t n, const std::string& word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

std::string hostname() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

void write_output(const std::string& path, const std::string& content) {
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) throw StepFailed("cannot create " + parent.string() + ": " + ec.message());
    if (auto ok = write_output_file(path, content, kReportFileMode); !ok) throw StepFailed("cannot write " + ok.error());
}

class Run {
public:
    Run(const Playbook& pb, const PlayOptions& opt, std::ostream& out, std::ostream& err, PlayEnvironment env)
        : pb_(pb), opt_(opt), out_(out), err_(err), env_(std::move(env)) {}
    ~Run() { teardown(); }
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;

    PlayReport run();

private:
    // ------------------------------------------------------------------ plumbing
    [[nodiscard]] bool stopping() const { return env_.stop != nullptr && env_.stop->load(); }
    void check_stop() const {
        if (stopping()) throw Interrupted{};
    }
    void note(const std::string& text) {
        out_ << indent(text);
        out_.flush();
    }
    const char* red() const { return opt_.color ? "\033[1;31m" : ""; }
    const char* green() const { return opt_.color ? "\033[1;32m" : ""; }
    const char* bold() const { return opt_.color ? "\033[1m" : ""; }
    const char* reset() const { return opt_.color ? "\033[0m" : ""; }

    void sleep_for(std::chrono::milliseconds d) {
        check_stop();
        if (env_.provision.sleep) {
            // Tests: an instant (or recording) sleep.
            env_.provision.sleep(d);
            return;
        }
        const auto until = Clock::now() + d;
        while (Clock::now() < until) {
            check_stop();
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
            std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(100)));
        }
        check_stop();
    }
    provision::Runner& runner();
    provision::CommandResult run_kubectl(provision::Command cmd, const Step& step);
    std::string work_dir();

    // ------------------------------------------------------------------ steps
    std::string headline(const Step& s) const;
    void run_step(const Step& s);
    void dry_step(const Step& s);
    void do_provision(const Step& s, const ProvisionStep& p, bool dry);
    std::vector<std::string> provision_args(const ProvisionStep& p, ProvisionAction action);
    void do_apply(const Step& s, const ApplyStep& a);
    void do_wait(const Step& s, const WaitStep& w);
    void do_restart(const Step& s, const RestartStep& r);
    void do_lab(const LabStep& l);
    void do_audit(const Step& s, const AuditStep& a);
    void do_assert(const Step& s, const AssertStep& a);
    void do_diff(const Step& s, const DiffStep& d);
    void do_report(const ReportStep& r);
    void do_push(const PushStep& p);
    void print_audit(const AuditResult& a);
    void teardown();
    void summary(PlayReport& rep);

    const Playbook& pb_;
    const PlayOptions& opt_;
    std::ostream& out_;
    std::ostream& err_;
    PlayEnvironment env_;
    std::unique_ptr<provision::Runner> own_runner_;
    std::unique_ptr<LocalLab> lab_;
    std::string work_dir_;
    std::map<std::string, AuditResult, std::less<>> audits_;
    std::map<std::string, DiffResult, std::less<>> diffs_;
    PlayReport report_;
    bool torn_down_ = false;
};

provision::Runner& Run::runner() {
    if (env_.provision.runner == nullptr) {
        own_runner_ = provision::make_process_runner(env_.stop);
        env_.provision.runner = own_runner_.get();
    }
    return *env_.provision.runner;
}

provision::CommandResult Run::run_kubectl(provision::Command cmd, const Step& step) {
    // MESHPROOF_STEP marks the commands of a step, as the provisioner does (logs, fake failures).
    cmd.env.emplace_back("MESHPROOF_STEP", step.name);
    auto sleep = [this](std::chrono::milliseconds d) { sleep_for(d); };
    const auto outcome = provision::run_with_retry(runner(), cmd, env_.provision.retry, sleep,
                                                   [this](int attempt, std::chrono::milliseconds delay, const provision::CommandResult& r) {
                                                       note("retry " + std::to_string(attempt) + " in " +
                                                            format_duration(delay) + ": " + first_line(r.err));
                                                   });
    if (outcome.result.interrupted) throw Interrupted{};
    check_stop();
    if (!outcome.result.ok()) throw StepFailed(provision::describe_failure(cmd, outcome.result));
    return outcome.result;
}

std::string Run::work_dir() {
    if (work_dir_.empty()) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "meshproof-play.XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw StepFailed("mkdtemp " + tmpl + ": " + std::strerror(errno));
        work_dir_ = tmpl;
    }
    return work_dir_;
}

std::string Run::headline(const Step& s) const {
    switch (s.kind) {
        case StepKind::Provision: {
            const auto& p = s.as<ProvisionStep>();
            return "meshproof " + std::string(to_string(p.action)) + " with " +
                   (!p.inline_spec.empty() ? std::string("the inline lab spec")
                    : p.spec_file.empty()  ? std::string("the built-in lab spec")
                                           : p.spec_file);
        }
        case StepKind::Apply: {
            const auto& a = s.as<ApplyStep>();
            std::string objs;
            for (const auto& o : a.objects) objs += (objs.empty() ? "" : ", ") + o;
            return std::string(a.remove ? "delete " : "apply ") + objs;
        }
        case StepKind::Wait: {
            const auto& w = s.as<WaitStep>();
            if (w.kind == WaitStep::Kind::Delay) return "wait " + format_duration(w.delay);
            if (w.kind == WaitStep::Kind::Rollout)
                return "wait for the rollout of " + w.resource + " (timeout " + format_duration(w.timeout) + ")";
            return "wait for " + w.resource + (w.selector.empty() ? "" : " -l " + w.selector) + " to be " + w.condition +
                   " (timeout " + format_duration(w.timeout) + ")";
        }
        case StepKind::Restart: {
            std::string r;
            for (const auto& x : s.as<RestartStep>().resources) r += (r.empty() ? "" : ", ") + x;
            return "restart " + r;
        }
        case StepKind::Lab: {
            const auto& l = s.as<LabStep>();
            switch (l.action) {
                case LabAction::Create: return "lab create: the node (bridge br0) and pods frontend, backend, db";
                case LabAction::StartApps: return "lab apps start: db and backend";
                case LabAction::StopApps: return "lab apps stop";
                case LabAction::SidecarsOn:
                    return std::string("lab sidecars on: mesh CA, workload certificates, stunnel sidecars") +
                           (l.without.empty() ? "" : " (db left out of the mesh)");
                case LabAction::SidecarsOff: return "lab sidecars off";
                case LabAction::Traffic: return "lab traffic: the client runs " + plural(static_cast<std::size_t>(l.rounds), "round");
                case LabAction::Destroy: return "lab destroy";
            }
            return "lab";
        }
        case StepKind::Audit: {
            const auto& a = s.as<AuditStep>();
            std::string what;
            if (a.source == AuditStep::Source::Lab) {
                what = "capture on the lab bridge br0";
                if (a.rounds > 0) what += " while the client runs " + plural(static_cast<std::size_t>(a.rounds), "round");
                if (a.duration.count() > 0) what += (a.rounds > 0 ? ", at least " : " for ") + format_duration(a.duration);
            } else if (a.source == AuditStep::Source::Interface) {
                what = "capture on " + a.interface + " for " + format_duration(a.duration) +
                       (a.filter.empty() ? "" : " (filter '" + a.filter + "')");
            } else {
                what = "read " + (a.files.size() == 1 ? a.files[0] : plural(a.files.size(), "capture file"));
            }
            if (a.snapshot_from_cluster) what += ", workloads from the cluster";
            else if (!a.snapshot.empty()) what += ", workloads from " + a.snapshot;
            if (!a.policy.empty()) what += ", policy " + a.policy;
            return what;
        }
        case StepKind::Assert: {
            const auto& a = s.as<AssertStep>();
            return "check " + (a.audit.empty() ? "diff '" + a.diff + "'" : "audit '" + a.audit + "'") + ": " +
                   plural(a.checks.size(), "assert");
        }
        case StepKind::Diff: {
            const auto& d = s.as<DiffStep>();
            return "compare '" + d.before + "' (before) with '" + d.after + "' (after)";
        }
        case StepKind::Report: {
            const auto& r = s.as<ReportStep>();
            std::string files;
            for (const auto* f : {&r.jsonl, &r.html, &r.json}) {
                if (!f->empty()) files += (files.empty() ? "" : ", ") + *f;
            }
            if (r.table) files += std::string(files.empty() ? "" : ", ") + "the flow table";
            return "report: " + files;
        }
        case StepKind::Push: {
            const auto& p = s.as<PushStep>();
            std::string where;
            if (!p.url.empty()) where = "Pushgateway " + p.url + " (job " + p.job + ")";
            if (!p.textfile.empty()) where += (where.empty() ? "" : " and ") + std::string("textfile ") + p.textfile;
            return "push the metrics of '" + p.audit + "' to " + where;
        }
    }
    return "";
}

// ---------------------------------------------------------------------- provision, apply, wait, restart

std::vector<std::string> Run::provision_args(const ProvisionStep& p, ProvisionAction action) {
    std::vector<std::string> args = {std::string(to_string(action))};
    std::string spec = p.spec_file;
    if (!p.inline_spec.empty()) {
        spec = work_dir() + "/lab-spec.yaml";
        if (!std::filesystem::exists(spec)) {
            write_output(spec, p.inline_spec);
            ::chmod(spec.c_str(), 0600);
        }
    }
    if (!spec.empty()) args.insert(args.end(), {"-f", spec});
    if (action == ProvisionAction::Plan) args.push_back("--offline");
    // The playbook is the confirmation: nobody is there to answer a prompt.
    if (action == ProvisionAction::Up || action == ProvisionAction::Down) args.push_back("--yes");
    if (p.purge) args.push_back("--purge");
    if (!p.state_dir.empty() && action != ProvisionAction::Plan) args.insert(args.end(), {"--state-dir", p.state_dir});
    if (!pb_.kube_context.empty() && action != ProvisionAction::Plan) args.insert(args.end(), {"--kube-context", pb_.kube_context});
    return args;
}

void Run::do_provision(const Step& s, const ProvisionStep& p, bool dry) {
    (void)s;
    provision::ProvisionEnvironment penv = env_.provision;
    penv.interrupt = env_.stop;
    if (!dry) penv.runner = &runner();
    if (dry) {
        const auto args = provision_args(p, p.action);
        note("would run: meshproof " + provision::format_argv(args));
        if (p.action != ProvisionAction::Up) return;
        // What `up` would install: the offline plan needs no cluster and runs no command.
        std::ostringstream plan_out, plan_err;
        auto plan_args = provision_args(p, ProvisionAction::Plan);
        penv.runner = &runner();
        const int rc = provision::run_provision_command(plan_args, plan_out, plan_err, penv);
        if (rc != 0) throw StepFailed("meshproof plan --offline exited with " + std::to_string(rc) + ":\n" + plan_err.str());
        // The steps and their commands; the manifests and values they send only with -v.
        std::string plan;
        std::istringstream lines(plan_out.str());
        for (std::string line; std::getline(lines, line);) {
            const auto text = line.find_first_not_of(' ');
            const bool stdin_line = text != std::string::npos && (line.compare(text, 6, "stdin:") == 0 || line[text] == '|');
            if (opt_.verbose || !stdin_line) plan += line + "\n";
        }
        note(plan);
        return;
    }
    const auto args = provision_args(p, p.action);
    note("$ meshproof " + provision::format_argv(args));
    const int rc = provision::run_provision_command(args, out_, err_, penv);
    out_.flush();
    if (rc == 130 || stopping()) throw Interrupted{};
    if (rc != 0) throw StepFailed("meshproof " + std::string(to_string(p.action)) + " exited with " + std::to_string(rc));
}

void Run::do_apply(const Step& s, const ApplyStep& a) {
    auto text = manifest_text(a);
    if (!text) throw StepFailed(text.error());
    auto cmd = apply_command(a, *text, pb_.kube_context);
    note("$ " + display(cmd) + "  (" + plural(a.objects.size(), "object") + " on stdin)");
    const auto r = run_kubectl(cmd, s);
    if (!r.out.empty()) note(r.out);
}

void Run::do_wait(const Step& s, const WaitStep& w) {
    if (w.kind == WaitStep::Kind::Delay) {
        sleep_for(w.delay);
        return;
    }
    auto cmd = wait_command(w, pb_.kube_context);
    note("$ " + display(cmd));
    const auto r = run_kubectl(cmd, s);
    if (!r.out.empty()) note(r.out);
}

void Run::do_restart(const Step& s, const RestartStep& r) {
    auto cmd = restart_command(r, pb_.kube_context);
    note("$ " + display(cmd));
    const auto res = run_kubectl(cmd, s);
    if (!res.out.empty()) note(res.out);
}

// ---------------------------------------------------------------------- lab

void Run::do_lab(const LabStep& l) {
    auto check = [&](const LabStatus& st) {
        if (stopping()) throw Interrupted{};
        if (!st) throw StepFailed(st.error());
    };
    switch (l.action) {
        case LabAction::Create:
            lab_ = std::make_unique<LocalLab>(l.prefix);
            check(lab_->create(env_.stop));
            note(lab_->describe());
            return;
        case LabAction::StartApps:
            check(lab_->start_apps(env_.stop));
            note(lab_->mesh_note());
            return;
        case LabAction::StopApps: lab_->stop_apps(); return;
        case LabAction::SidecarsOn:
            check(lab_->sidecars_on(l.without, env_.stop));
            note(lab_->mesh_note());
            return;
        case LabAction::SidecarsOff:
            check(lab_->sidecars_off(env_.stop));
            note(lab_->mesh_note());
            return;
        case LabAction::Traffic: check(lab_->traffic(l.rounds, env_.stop)); return;
        case LabAction::Destroy:
            note(lab_->destroy());
            lab_.reset();
            return;
    }
}

// ---------------------------------------------------------------------- audit

void Run::print_audit(const AuditResult& a) {
    const auto& s = a.summary;
    std::string verdicts;
    std::array<std::uint64_t, audit::kVerdictCount> counts{};
    for (const auto& f : a.records) ++counts[static_cast<std::size_t>(f.verdict)];
    for (audit::Verdict v : audit::kAllVerdicts) {
        if (const auto n = counts[static_cast<std::size_t>(v)])
            verdicts += (verdicts.empty() ? "" : ", ") + std::string(audit::to_string(v)) + " " + std::to_string(n);
    }
    note(std::to_string(s.packets) + " packets, " + plural(a.records.size(), "TCP flow") +
         (verdicts.empty() ? "" : ": " + verdicts) +
         (s.kernel_dropped ? ", " + std::to_string(s.kernel_dropped) + " dropped by the kernel" : ""));
    if (!s.secrets_by_kind.empty()) {
        std::string kinds;
        for (const auto& [k, n] : s.secrets_by_kind) kinds += (kinds.empty() ? "" : ", ") + k + " " + std::to_string(n);
        note("secrets readable on the wire: " + kinds + (opt_.show_secrets ? "" : " (values redacted)"));
    }
    if (opt_.verbose) {
        std::ostringstream table;
        audit::write_table(table, a.records, a.summary, {opt_.show_secrets, opt_.color, false});
        note(table.str());
    }
    if (a.policy) {
        const auto& p = *a.policy;
        using audit::k8s::Severity;
        note("policy: " + plural(p.by_severity[static_cast<std::size_t>(Severity::Violation)], "violation") + ", " +
             plural(p.by_severity[static_cast<std::size_t>(Severity::Warning)], "warning") + ", " +
             std::to_string(p.by_severity[static_cast<std::size_t>(Severity::Info)]) + " info (" +
             plural(p.flows_checked, "flow") + " checked, " + std::to_string(p.flows_with_workload) + " with a known workload)");
        if (!p.findings.empty()) {
            std::ostringstream text;
            audit::k8s::write_findings_text(text, p, opt_.color);
            note(text.str());
        }
    }
}

void Run::do_audit(const Step& s, const AuditStep& a) {
    AuditResult result;
    result.name = s.name;
    if (a.source == AuditStep::Source::Lab) {
        if (!lab_) throw StepFailed("there is no lab");
        auto cap = demo::BridgeCapture::start(lab_->node_netns(), LocalLab::kBridge);
        if (!cap) throw StepFailed(cap.error());
        const auto started = Clock::now();
        if (a.rounds > 0) {
            if (auto t = lab_->traffic(a.rounds, env_.stop); !t) {
                (*cap)->stop();
                if (stopping()) throw Interrupted{};
                throw StepFailed(t.error());
            }
        }
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        if (a.duration > elapsed) sleep_for(a.duration - elapsed);
        // Let the last FIN/ACKs cross the bridge before stopping.
        sleep_for(400ms);
        auto captured = (*cap)->stop();
        if (!captured.error.empty()) throw StepFailed("capture: " + captured.error);
        result.records = std::move(captured.records);
        result.summary = std::move(captured.summary);
        result.names = lab_->names();
        result.source = "lab bridge br0";
    } else {
        tl::expected<CapturedFlows, std::string> captured;
        if (a.source == AuditStep::Source::Interface) {
            const InterfaceCapture req{a.interface, a.filter, a.duration};
            captured = env_.capture_interface ? env_.capture_interface(req, env_.stop) : capture_interface(req, env_.stop);
            result.source = "interface " + a.interface;
        } else {
            captured = read_files(a.files, env_.stop);
            result.source = plural(a.files.size(), "capture file");
        }
        check_stop();
        if (!captured) throw StepFailed(captured.error());
        if (!captured->warning.empty()) note("warning: " + captured->warning);
        result.records = std::move(captured->records);
        result.summary = std::move(captured->summary);
    }
    check_stop();

    if (a.snapshot_from_cluster || !a.snapshot.empty()) {
        tl::expected<audit::k8s::ClusterSnapshot, std::string> snapshot = tl::unexpected(std::string());
        if (a.snapshot_from_cluster) {
            audit::k8s::FetchOptions fo;
            fo.context = pb_.kube_context;
            note("$ " + provision::format_argv(audit::k8s::snapshot_command(fo, true)));
            auto fetched = audit::k8s::fetch_cluster_snapshot(runner(), fo);
            check_stop();
            if (!fetched) throw StepFailed("cluster snapshot: " + fetched.error());
            snapshot = std::move(fetched->snapshot);
        } else {
            snapshot = audit::k8s::load_cluster_snapshot(a.snapshot);
            if (!snapshot) throw StepFailed(snapshot.error());
        }
        for (std::size_t i = 0; i < snapshot->warnings.size() && i < 3; ++i) note("snapshot: " + snapshot->warnings[i]);
        auto index = std::make_shared<audit::k8s::WorkloadIndex>(std::move(*snapshot));
        // Workload names (not pod IPs) for diffs: restarted pods get new addresses.
        for (const auto& f : result.records) {
            const auto w = index->enrich(f);
            auto name_of = [](const audit::k8s::WorkloadInfo& i) {
                if (i.kind == "node") return "node/" + i.node;
                const std::string& what = i.workload.empty() ? i.service : i.workload;
                return i.namespace_name + "/" + what;
            };
            if (w.client) result.names.emplace(f.client_ip, name_of(*w.client));
            if (w.server) result.names.emplace(f.server_ip, name_of(*w.server));
        }
        if (!a.policy.empty()) {
            auto policy = audit::k8s::load_audit_policy(a.policy);
            if (!policy) {
                std::string all;
                for (const auto& e : policy.error()) all += (all.empty() ? "" : "\n") + e;
                throw StepFailed("policy:\n" + all);
            }
            result.policy = audit::k8s::evaluate(result.records, *index, *policy);
        }
        result.index = std::move(index);
    }
    print_audit(result);
    audits_[s.name] = std::move(result);
}

// ---------------------------------------------------------------------- assert, diff, report, push

void Run::do_assert(const Step& s, const AssertStep& a) {
    for (const auto& e : a.checks) {
        AssertOutcome o;
        o.step = s.number;
        o.step_label = s.label();
        o.where = e.where;
        o.text = e.text;
        if (!a.audit.empty()) o.actual = metric_value(e, audits_.at(a.audit));
        else o.actual = metric_value(e, diffs_.at(a.diff));
        o.passed = o.actual && compare(*o.actual, e.op, e.value);
        note(std::string(o.passed ? green() : red()) + (o.passed ? "PASS " : "FAIL ") + reset() + e.text + "  (" +
             (o.actual ? std::to_string(*o.actual) : std::string("no value")) + ")");
        report_.asserts.push_back(std::move(o));
    }
}

void Run::do_diff(const Step& s, const DiffStep& d) {
    const auto& before = audits_.at(d.before);
    const auto& after = audits_.at(d.after);
    DiffResult r;
    r.name = s.name;
    r.before = d.before;
    r.after = d.after;
    r.names = before.names;
    for (const auto& [ip, name] : after.names) r.names.emplace(ip, name);
    r.diff = audit::diff_audits(before.records, after.records, r.names);
    std::ostringstream text;
    audit::write_diff_text(text, r.diff, {opt_.show_secrets, opt_.color});
    note(text.str());
    diffs_[s.name] = std::move(r);
}

void Run::do_report(const ReportStep& r) {
    if (!r.audit.empty()) {
        const auto& a = audits_.at(r.audit);
        const audit::ReportOptions ropt{r.show_secrets, false, false};
        if (!r.jsonl.empty()) {
            std::ostringstream lines;
            for (const auto& f : a.records) {
                std::string line = audit::flow_to_json(f, ropt);
                if (a.index) line = audit::k8s::with_workloads(std::move(line), a.index->enrich(f));
                lines << line << '\n';
            }
            lines << audit::summary_to_json(a.summary) << '\n';
            if (a.policy) audit::k8s::write_findings_json(lines, *a.policy);
            write_output(r.jsonl, lines.str());
            note("wrote " + r.jsonl);
        }
        if (r.table) {
            std::ostringstream table;
            audit::write_table(table, a.records, a.summary, {opt_.show_secrets, opt_.color, opt_.verbose});
            note(table.str());
        }
    }
    if (!r.diff.empty()) {
        const auto& d = diffs_.at(r.diff);
        if (!r.json.empty()) {
            write_output(r.json, audit::diff_to_json(d.diff, {r.show_secrets, false}) + "\n");
            note("wrote " + r.json);
        }
        if (!r.html.empty()) {
            const auto& before = audits_.at(d.before);
            const auto& after = audits_.at(d.after);
            audit::HtmlReportOptions hopt;
            hopt.title = r.title.empty() ? "meshproof play " + pb_.name + ": " + d.before + " / " + d.after : r.title;
            hopt.names = d.names;
            hopt.show_secrets = r.show_secrets;
            hopt.facts = {{"playbook", pb_.file},
                          {"host", hostname()},
                          {"generated", utc_now()},
                          {"before", d.before + " (" + before.source + ")"},
                          {"after", d.after + " (" + after.source + ")"}};
            write_output(r.html, audit::render_html_report(before.records, after.records, d.diff, hopt));
            note("wrote " + r.html);
        }
    }
}

void Run::do_push(const PushStep& p) {
    const auto& a = audits_.at(p.audit);
    auto registry = std::make_shared<prometheus::Registry>();
    audit::AuditMetrics metrics(registry);
    for (const auto& f : a.records) metrics.on_flow(f);
    metrics.update_from_summary(a.summary);
    std::string err;
    if (!p.textfile.empty()) {
        if (!audit::write_textfile(*registry, p.textfile, err)) throw StepFailed("textfile " + p.textfile + ": " + err);
        note("wrote " + p.textfile);
    }
    if (!p.url.empty()) {
        const std::string instance = p.instance.empty() ? audit::default_instance() : p.instance;
        if (!audit::push_to_gateway(registry, p.url, p.job, instance, err))
            throw StepFailed("push to " + p.url + ": " + err);
        note("pushed to " + p.url + "/metrics/job/" + p.job + "/instance/" + instance);
    }
}

// ---------------------------------------------------------------------- the run

void Run::dry_step(const Step& s) {
    switch (s.kind) {
        case StepKind::Provision: do_provision(s, s.as<ProvisionStep>(), true); break;
        case StepKind::Apply: {
            const auto& a = s.as<ApplyStep>();
            note("would run: " + display(apply_command(a, "", pb_.kube_context)) + "  (" +
                 plural(a.objects.size(), "object") + " on stdin)");
            break;
        }
        case StepKind::Wait:
            if (s.as<WaitStep>().kind != WaitStep::Kind::Delay)
                note("would run: " + display(wait_command(s.as<WaitStep>(), pb_.kube_context)));
            break;
        case StepKind::Restart: note("would run: " + display(restart_command(s.as<RestartStep>(), pb_.kube_context))); break;
        case StepKind::Audit:
            if (s.as<AuditStep>().snapshot_from_cluster) {
                audit::k8s::FetchOptions fo;
                fo.context = pb_.kube_context;
                note("would run: " + provision::format_argv(audit::k8s::snapshot_command(fo, true)));
            }
            break;
        case StepKind::Assert:
            for (const auto& e : s.as<AssertStep>().checks) note("would check: " + e.text);
            break;
        default: break;
    }
}

void Run::run_step(const Step& s) {
    switch (s.kind) {
        case StepKind::Provision: do_provision(s, s.as<ProvisionStep>(), false); break;
        case StepKind::Apply: do_apply(s, s.as<ApplyStep>()); break;
        case StepKind::Wait: do_wait(s, s.as<WaitStep>()); break;
        case StepKind::Restart: do_restart(s, s.as<RestartStep>()); break;
        case StepKind::Lab: do_lab(s.as<LabStep>()); break;
        case StepKind::Audit: do_audit(s, s.as<AuditStep>()); break;
        case StepKind::Assert: do_assert(s, s.as<AssertStep>()); break;
        case StepKind::Diff: do_diff(s, s.as<DiffStep>()); break;
        case StepKind::Report: do_report(s.as<ReportStep>()); break;
        case StepKind::Push: do_push(s.as<PushStep>()); break;
    }
}

void Run::teardown() {
    if (torn_down_) return;
    torn_down_ = true;
    if (lab_) {
        out_ << bold() << "[teardown] " << reset() << "lab: ";
        out_.flush();
        out_ << lab_->destroy() << "\n";
        lab_.reset();
    }
    if (!work_dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(work_dir_, ec);
        work_dir_.clear();
    }
    out_.flush();
}

void Run::summary(PlayReport& rep) {
    const std::size_t failed = rep.failed_asserts();
    if (opt_.dry_run && !rep.failed_step && !rep.interrupted) {
        std::size_t checks = 0;
        for (const auto& s : pb_.steps) {
            if (s.kind == StepKind::Assert) checks += s.as<AssertStep>().checks.size();
        }
        out_ << bold() << "summary: " << reset() << "dry run of " << plural(pb_.steps.size(), "step") << " and "
             << plural(checks, "assert") << "; nothing was run\n";
        out_.flush();
        rep.exit_code = kPlayOk;
        return;
    }
    out_ << bold() << "summary: " << reset() << rep.steps_run << "/" << pb_.steps.size() << " steps run, "
         << plural(rep.asserts.size(), "assert") << ": " << rep.asserts.size() - failed << " passed, " << failed << " failed\n";
    for (const auto& a : rep.asserts) {
        if (a.passed) continue;
        out_ << "  " << red() << "FAIL" << reset() << " " << pb_.file << ":" << a.where.line << ":" << a.where.column << ": "
             << a.step_label << ": " << a.text << " (got " << (a.actual ? std::to_string(*a.actual) : "no value") << ")\n";
    }
    if (rep.interrupted) {
        out_ << red() << "INTERRUPTED" << reset() << (rep.failed_step ? " in step " + std::to_string(*rep.failed_step) : "")
             << "\n";
        rep.exit_code = kPlayInterrupted;
    } else if (rep.failed_step) {
        out_ << red() << "FAILED" << reset() << ": " << pb_.steps[*rep.failed_step - 1].label() << ": " << rep.failure
             << "\n";
        rep.exit_code = kPlayFailure;
    } else if (failed > 0) {
        out_ << red() << "FAILED" << reset() << ": " << plural(failed, "assert") << " failed\n";
        rep.exit_code = kPlayAssertFailed;
    } else {
        out_ << green() << "PASSED" << reset() << "\n";
        rep.exit_code = kPlayOk;
    }
    out_.flush();
}

PlayReport Run::run() {
    const std::size_t total = pb_.steps.size();
    out_ << bold() << "playbook " << pb_.name << reset() << " (" << pb_.file << "): " << plural(total, "step")
         << (opt_.dry_run ? ", dry run" : "") << "\n";
    if (!pb_.description.empty()) out_ << indent(pb_.description, "  ");
    for (const auto& s : pb_.steps) {
        if (stopping()) {
            report_.interrupted = true;
            report_.failed_step = s.number;
            break;
        }
        out_ << bold() << "[" << s.number << "/" << total << "] " << reset() << s.name << ": " << headline(s) << "\n";
        if (!s.description.empty()) note("(" + s.description + ")");
        out_.flush();
        try {
            if (opt_.dry_run) dry_step(s);
            else run_step(s);
            ++report_.steps_run;
        } catch (const Interrupted&) {
            report_.interrupted = true;
            report_.failed_step = s.number;
            note("interrupted");
            break;
        } catch (const std::exception& e) {
            if (stopping()) {
                report_.interrupted = true;
                report_.failed_step = s.number;
                note("interrupted");
                break;
            }
            report_.failed_step = s.number;
            report_.failure = e.what();
            err_ << "meshproof play: " << s.label() << " failed:\n" << indent(e.what(), "  ");
            err_.flush();
            note(std::string(red()) + "failed" + reset() +
                 (s.number < total ? "; skipping steps " + std::to_string(s.number + 1) + "-" + std::to_string(total) : ""));
            break;
        }
    }
    teardown();
    summary(report_);
    return report_;
}

}  // namespace

PlayReport run_playbook(const Playbook& pb, const PlayOptions& opt, std::ostream& out, std::ostream& err,
                        PlayEnvironment env) {
    if (!opt.dry_run && !env.skip_preflight) {
        const auto missing = preflight(pb);
        if (!missing.empty()) {
            for (const auto& m : missing) err << "meshproof play: " << m << "\n";
            PlayReport rep;
            rep.exit_code = kPlayFailure;
            rep.failure = "preflight";
            return rep;
        }
    }
    Run run(pb, opt, out, err, std::move(env));
    return run.run();
}

}  // namespace meshproof::play
