// Kubernetes enrichment, policy findings and the signed evidence bundle of one audit session.
#include "audit/session/compliance.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <set>
#include <sstream>

#include "audit/bundle/evidence_bundle.hpp"
#include "audit/k8s/audit_policy.hpp"
#include "audit/k8s/cluster_snapshot.hpp"
#include "audit/k8s/policy_check.hpp"
#include "audit/k8s/snapshot_fetch.hpp"
#include "audit/k8s/workload_index.hpp"
#include "audit/metrics/audit_metrics.hpp"
#include "common/json_writer.hpp"
#include "common/usage_error.hpp"
#include "provision/runner.hpp"

namespace meshproof::audit {

namespace {

std::string read_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open the " + what);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw std::runtime_error(path + ": read error");
    return ss.str();
}

std::string now_iso() {
    const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

struct ComplianceRun::State {
    struct Refreshed {
        std::string json;
        std::unique_ptr<k8s::WorkloadIndex> index;
        std::vector<std::string> warnings;
    };

    ComplianceOptions opt;
    std::unique_ptr<k8s::WorkloadIndex> index;
    std::string snapshot_text, snapshot_member;
    std::optional<k8s::AuditPolicy> policy;
    std::string policy_text;
    std::optional<bundle::SigningKey> key;

    // Streaming (observe()).
    std::unique_ptr<k8s::PolicyEvaluator> evaluator;
    AuditMetrics* metrics = nullptr;
    bool keep_findings = true;
    std::size_t observed = 0;
    std::uint64_t violations = 0;

    // --k8s refresh: one kubectl run at a time, off the capture thread.
    std::future<tl::expected<Refreshed, std::string>> pending;
    std::atomic<bool> stop_fetch{false};
    std::optional<double> next_refresh;

    ~State() {
        stop_fetch.store(true);  // the runner ends kubectl; the future's destructor then returns
        if (pending.valid()) pending.wait();
    }

    void reset_evaluator() {
        evaluator.reset();
        if (policy && index) evaluator = std::make_unique<k8s::PolicyEvaluator>(*index, *policy);
        observed = 0;
    }
};

ComplianceRun::ComplianceRun(ComplianceOptions opt, std::ostream& err) : state_(std::make_unique<State>()) {
    State& st = *state_;
    st.opt = std::move(opt);
    const ComplianceOptions& o = st.opt;
    if (!o.k8s_snapshot.empty() && o.k8s_live) throw UsageError("--k8s-snapshot and --k8s: use one of them");
    if (!o.kube_context.empty() && !o.k8s_live) throw UsageError("--kube-context goes with --k8s");
    if (!o.policy.empty() && o.k8s_snapshot.empty() && !o.k8s_live)
        throw UsageError("--policy needs the cluster: add --k8s-snapshot FILE or --k8s");
    if (!o.key.empty() && o.bundle.empty()) throw UsageError("--key signs a --bundle: add --bundle OUT.tar.gz");

    // The key first: a missing key should not surface after an hour of capture.
    if (!o.bundle.empty()) {
        std::string key_path = o.key;
        if (key_path.empty()) {
            const char* env = std::getenv("MESHPROOF_SIGNING_KEY");
            key_path = env ? env : "";
        }
        if (key_path.empty())
            throw UsageError("--bundle needs a signing key: --key FILE or MESHPROOF_SIGNING_KEY (meshproof keygen makes one)");
        auto key = bundle::SigningKey::load_private(key_path);
        if (!key) throw std::runtime_error(key.error());
        st.key = std::move(*key);
        std::error_code ec;
        const auto parent = std::filesystem::absolute(o.bundle, ec).parent_path();
        if (!std::filesystem::is_directory(parent, ec))
            throw std::runtime_error(o.bundle + ": directory " + parent.string() + " does not exist");
        if (::access(parent.c_str(), W_OK) != 0) throw std::runtime_error(o.bundle + ": cannot write into " + parent.string());
    }

    std::optional<k8s::ClusterSnapshot> snapshot;
    if (!o.k8s_snapshot.empty()) {
        st.snapshot_text = read_file(o.k8s_snapshot, "cluster snapshot");
        auto s = k8s::parse_cluster_snapshot(st.snapshot_text, o.k8s_snapshot);
        if (!s) throw std::runtime_error(s.error());
        snapshot = std::move(*s);
    } else if (o.k8s_live) {
        auto runner = provision::make_process_runner(nullptr);
        k8s::FetchOptions fo;
        fo.context = o.kube_context;
        auto s = k8s::fetch_cluster_snapshot(*runner, fo);
        if (!s) throw std::runtime_error(s.error());
        st.snapshot_text = std::move(s->json);
        snapshot = std::move(s->snapshot);
    }
    if (snapshot) {
        const auto first = st.snapshot_text.find_first_not_of(" \t\r\n");
        st.snapshot_member = first != std::string::npos && st.snapshot_text[first] == '{' ? "cluster-snapshot.json"
                                                                                        : "cluster-snapshot.yaml";
        const auto& warnings = snapshot->warnings;
        for (std::size_t i = 0; i < warnings.size() && i < 5; ++i) err << "meshproof: snapshot: " << warnings[i] << "\n";
        if (warnings.size() > 5) err << "meshproof: snapshot: (" << warnings.size() - 5 << " more warnings)\n";
        st.index = std::make_unique<k8s::WorkloadIndex>(std::move(*snapshot));
    }
    if (!o.policy.empty()) {
        st.policy_text = read_file(o.policy, "policy file");
        auto p = k8s::parse_audit_policy(st.policy_text, o.policy);
        if (!p) {
            std::string all;
            for (const auto& e : p.error()) all += (all.empty() ? "" : "\n") + e;
            throw std::runtime_error("invalid policy:\n" + all);
        }
        st.policy = std::move(*p);
    }
    st.reset_evaluator();
}

ComplianceRun::~ComplianceRun() = default;

bool ComplianceRun::enriches() const { return state_->index != nullptr; }
bool ComplianceRun::checks_policy() const { return state_->policy && state_->index; }
bool ComplianceRun::writes_bundle() const { return !state_->opt.bundle.empty(); }

void ComplianceRun::attach_metrics(AuditMetrics* metrics) { state_->metrics = metrics; }
void ComplianceRun::keep_findings(bool keep) { state_->keep_findings = keep; }
std::uint64_t ComplianceRun::violations() const { return state_->violations; }

std::size_t ComplianceRun::observe(const FlowRecord& f) {
    State& st = *state_;
    ++st.observed;
    if (!st.index) {
        if (st.metrics) st.metrics->on_flow(f);
        return 0;
    }
    std::size_t added = 0;
    if (st.evaluator) {
        added = st.evaluator->observe(f);
        const auto& findings = st.evaluator->report().findings;
        for (std::size_t i = findings.size() - added; i < findings.size(); ++i) {
            const k8s::Finding& fd = findings[i];
            if (fd.severity == k8s::Severity::Violation) ++st.violations;
            if (st.metrics)
                st.metrics->on_finding(fd.rule, k8s::to_string(fd.severity), k8s::namespace_label(fd.workloads.client),
                                       k8s::namespace_label(fd.workloads.server));
        }
        if (!st.keep_findings) st.evaluator->clear_findings();
    }
    if (st.metrics) {
        // The finding carries the workloads already; a flow without findings is resolved here.
        const k8s::FlowWorkloads w = st.index->enrich(f);
        st.metrics->on_flow(f, k8s::namespace_label(w.client), k8s::namespace_label(w.server));
    }
    return added;
}

void ComplianceRun::refresh_if_due(double now, std::ostream& err) {
    State& st = *state_;
    if (!st.opt.k8s_live || st.opt.k8s_refresh <= 0) return;
    if (st.pending.valid()) {
        if (st.pending.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
        auto got = st.pending.get();
        if (!got) {
            err << "meshproof: snapshot refresh failed, keeping the previous one: " << got.error() << "\n";
            return;
        }
        for (const auto& w : got->warnings) err << "meshproof: snapshot: " << w << "\n";
        st.snapshot_text = std::move(got->json);
        st.index = std::move(got->index);
        // Findings counted so far are in the metrics; flow positions only matter for a report.
        st.reset_evaluator();
        return;
    }
    if (!st.next_refresh) {
        st.next_refresh = now + st.opt.k8s_refresh;
        return;
    }
    if (now < *st.next_refresh) return;
    st.next_refresh = now + st.opt.k8s_refresh;
    k8s::FetchOptions fo;
    fo.context = st.opt.kube_context;
    st.pending = std::async(std::launch::async, [fo, stop = &st.stop_fetch]() -> tl::expected<State::Refreshed, std::string> {
        auto runner = provision::make_process_runner(stop);
        auto s = k8s::fetch_cluster_snapshot(*runner, fo);
        if (!s) return tl::unexpected(s.error());
        State::Refreshed r;
        r.json = std::move(s->json);
        r.warnings = s->snapshot.warnings;
        if (r.warnings.size() > 5) r.warnings.resize(5);
        r.index = std::make_unique<k8s::WorkloadIndex>(std::move(s->snapshot));
        return r;
    });
}

bool ComplianceRun::bundle_writable(std::string& err) const {
    const std::string& out = state_->opt.bundle;
    if (out.empty()) return true;
    std::error_code ec;
    const auto parent = std::filesystem::absolute(out, ec).parent_path();
    if (::access(parent.c_str(), W_OK | X_OK) == 0) return true;
    err = out + ": cannot write into " + parent.string() + " as uid " + std::to_string(::geteuid());
    return false;
}

std::string ComplianceRun::flow_json(const FlowRecord& f, const ReportOptions& opt) const {
    std::string line = flow_to_json(f, opt);
    if (!state_->index) return line;
    return k8s::with_workloads(std::move(line), state_->index->enrich(f));
}

void ComplianceRun::write_json_lines(std::ostream& out, const std::vector<FlowRecord>& flows,
                                    const AuditSummary& s, const ReportOptions& opt) const {
    for (const auto& f : flows) out << flow_json(f, opt) << '\n';
    out << summary_to_json(s) << '\n';
}

ComplianceResult ComplianceRun::finish(const std::vector<FlowRecord>& flows, const AuditSummary& s,
                          const ReportOptions& opt, bool json, const std::vector<std::string>& evidence_files,
                          const std::vector<std::string>& command_line, std::ostream& out, std::ostream& err) {
    State& st = *state_;
    std::optional<k8s::PolicyReport> report;
    if (st.policy && st.index) {
        // observe() already saw these flows (same count, report order): its findings are theirs. No
        // flows at all after observe() saw some: they were streamed and not kept (audit read --json).
        const bool streamed = flows.empty() && st.observed > 0;
        const std::size_t seen = streamed ? st.observed : flows.size();
        if (st.evaluator && st.keep_findings && st.observed == seen && st.evaluator->report().flows_checked == seen)
            report = st.evaluator->take_report();
        else
            report = k8s::evaluate(flows, *st.index, *st.policy);
        if (json) {
            k8s::write_findings_json(out, *report);
        } else {
            out << "\n";
            k8s::write_findings_text(out, *report, opt.color);
        }
        out.flush();
    }

    if (!st.opt.bundle.empty()) {
        std::vector<bundle::BundleMember> members;
        std::ostringstream verdicts;
        // The bundle keeps secrets redacted whatever the terminal showed.
        ReportOptions bundle_opt = opt;
        bundle_opt.show_secrets = false;
        bundle_opt.color = false;
        write_json_lines(verdicts, flows, s, bundle_opt);
        members.push_back({"verdicts.jsonl", std::nullopt, verdicts.str()});
        if (report) {
            std::ostringstream findings;
            k8s::write_findings_json(findings, *report);
            members.push_back({"findings.jsonl", std::nullopt, findings.str()});
        }
        std::set<std::string> used;
        for (std::size_t i = 0; i < evidence_files.size(); ++i) {
            std::error_code ec;
            if (!std::filesystem::is_regular_file(evidence_files[i], ec)) {
                err << "meshproof: bundle: " << evidence_files[i] << " is not a readable file, left out\n";
                continue;
            }
            std::string name = bundle::member_name_for("captures", evidence_files[i]);
            if (!used.insert(name).second)
                name = bundle::member_name_for("captures", std::to_string(i + 1) + "-" +
                                                               std::filesystem::path(evidence_files[i]).filename().string());
            used.insert(name);
            members.push_back({name, std::filesystem::path(evidence_files[i]), {}});
        }
        if (!st.snapshot_text.empty()) members.push_back({st.snapshot_member, std::nullopt, st.snapshot_text});
        if (st.policy) members.push_back({"policy.yaml", std::nullopt, st.policy_text});

        JsonWriter v;
        v.begin_object();
        v.field("tool", "meshproof");
        v.field("version", MESHPROOF_VERSION);
        v.field("created", now_iso());
        char host[256] = {};
        if (::gethostname(host, sizeof host - 1) == 0) v.field("host", std::string(host));
        v.field("command", command_line);
        v.field("flows", static_cast<std::uint64_t>(flows.size()));
        if (report) v.field("policy_violations", report->has_violations());
        v.end_object();
        members.push_back({"version.json", std::nullopt, v.str() + "\n"});

        bundle::BundleOptions bo;
        bo.tool = std::string("meshproof ") + MESHPROOF_VERSION;
        const std::string& outp = st.opt.bundle;
        bo.gzip = !(outp.size() >= 4 && outp.compare(outp.size() - 4, 4, ".tar") == 0);
        auto manifest = bundle::write_bundle(outp, members, *st.key, bo);
        if (!manifest) {
            err << "meshproof: bundle: " << manifest.error() << "\n";
            return ComplianceResult{true, false};
        }
        err << "meshproof: evidence bundle " << outp << ": " << manifest->members.size() << " members, signed by "
            << manifest->key_fingerprint << "\n";
    }
    return ComplianceResult{false, report && report->has_violations()};
}

}  // namespace meshproof::audit
