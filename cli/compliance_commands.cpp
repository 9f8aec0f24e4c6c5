// `meshproof keygen`, `meshproof verify`, and the compliance flags of the audit commands.
#include "cli/compliance_commands.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
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
#include "cli/commands.hpp"
#include "common/json_writer.hpp"
#include "provision/runner.hpp"

namespace meshproof::cli {

namespace {

namespace k8s = audit::k8s;
namespace bundle = audit::bundle;

const char* kKeygenUsage = R"(usage: meshproof keygen --out DIR [--force]

Creates an Ed25519 key pair for signing evidence bundles (audit ... --bundle OUT --key KEY):
  DIR/meshproof-signing.key   private key, PEM, mode 0600: keep it secret (e.g. a Kubernetes Secret)
  DIR/meshproof-signing.pub   public key, PEM: give it to whoever checks bundles (verify --pub)
options:
  --out DIR   where to write the keys (created with mode 0700 if missing)
  --force     replace an existing key pair
)";

const char* kVerifyUsage = R"(usage: meshproof verify BUNDLE [--pub KEY] [--json]

Checks an evidence bundle: the Ed25519 signature over manifest.json, then every member's size and
SHA-256. Any modified, missing or added member fails, and is named.
options:
  --pub KEY   the signer's public key (meshproof-signing.pub). Without it the bundle's own signer.pub
              is used: that proves the bundle is intact, not who made it.
  --json      one JSON object instead of text
exit status: 0 verified, 1 verification failed or unreadable bundle, 2 usage error
)";

const char* kComplianceFlags = R"(kubernetes and compliance (docs/compliance.md):
  --k8s-snapshot FILE    map addresses to pods/services/nodes from `kubectl get pods,services,namespaces,
                         nodes,peerauthentications.security.istio.io -A -o json` saved to FILE
  --k8s                  the same, live, with kubectl (--kube-context NAME picks the context)
  --policy FILE          check flows against PeerAuthentications and an audit policy; print findings;
                         exit 5 when a finding is a violation
  --bundle OUT.tar.gz    write a signed evidence bundle (verdicts, findings, captures, snapshot, policy)
  --key FILE             Ed25519 private key for --bundle (default: $MESHPROOF_SIGNING_KEY)
)";

const char* kServeComplianceFlags = R"(kubernetes and compliance (docs/compliance.md):
  --k8s-snapshot FILE    map addresses to pods/services/nodes (kubectl get ... -o json saved to FILE):
                         meshproof_flows_total gets src_namespace/dst_namespace
  --k8s                  the same, live, with kubectl (--kube-context NAME picks the context)
  --k8s-refresh S        with --k8s: fetch the snapshot again every S seconds, in the background
                         (default 300; 0 = only at start)
  --policy FILE          check every flow against PeerAuthentications and the audit policy:
                         meshproof_policy_findings_total{rule,severity,src_namespace,dst_namespace}
  (--bundle is refused: a bundle is signed over a finished run; use audit capture --duration)
)";

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

// ---------------------------------------------------------------------------------------------- keygen

int keygen_main(const std::vector<std::string>& args) {
    ArgParser p(args);
    std::string out;
    bool force = false;
    while (p.more()) {
        if (p.option("--out", out)) {}
        else if (p.flag("--force")) force = true;
        else if (p.flag("-h") || p.flag("--help")) {
            std::cout << kKeygenUsage;
            return kExitOk;
        } else throw UsageError("keygen: unexpected argument '" + p.positional() + "'\n" + kKeygenUsage);
    }
    if (out.empty()) throw UsageError(std::string("keygen: --out DIR is required\n") + kKeygenUsage);
    auto files = bundle::generate_key_files(out, force);
    if (!files) {
        std::cerr << "meshproof: keygen: " << files.error() << "\n";
        return kExitFailure;
    }
    std::cout << "private key: " << files->private_key.string() << " (mode 0600: keep it secret)\n"
              << "public key:  " << files->public_key.string() << " (for meshproof verify --pub)\n"
              << "fingerprint: " << files->fingerprint << "\n";
    return kExitOk;
}

// ---------------------------------------------------------------------------------------------- verify

int verify_main(const std::vector<std::string>& args) {
    ArgParser p(args);
    std::string pub_path, path;
    bool json = false;
    while (p.more()) {
        if (p.option("--pub", pub_path)) {}
        else if (p.flag("--json")) json = true;
        else if (p.flag("-h") || p.flag("--help")) {
            std::cout << kVerifyUsage;
            return kExitOk;
        } else {
            const std::string a = p.positional();
            if (!path.empty()) throw UsageError("verify: one bundle at a time ('" + path + "', '" + a + "')");
            path = a;
        }
    }
    if (path.empty()) throw UsageError(std::string("verify: no bundle given\n") + kVerifyUsage);
    std::optional<bundle::SigningKey> trusted;
    if (!pub_path.empty()) {
        auto k = bundle::SigningKey::load_public(pub_path);
        if (!k) {
            std::cerr << "meshproof: verify: " << k.error() << "\n";
            return kExitFailure;
        }
        trusted = std::move(*k);
    }
    const auto r = bundle::verify_bundle(path, trusted ? &*trusted : nullptr);

    if (json) {
        JsonWriter w;
        w.begin_object();
        w.field("bundle", path);
        w.field("ok", r.ok);
        w.field("authenticated", r.authenticated);
        w.field("key", r.key_fingerprint);
        if (r.manifest) {
            w.field("created", r.manifest->created);
            w.field("tool", r.manifest->tool);
            w.key("members").begin_array();
            for (const auto& m : r.manifest->members) {
                w.begin_object().field("name", m.name).field("size", m.size).field("sha256", m.sha256).end_object();
            }
            w.end_array();
        }
        w.field("problems", r.problems);
        w.end_object();
        std::cout << w.str() << "\n";
        return r.ok ? kExitOk : kExitFailure;
    }

    std::cout << "bundle:  " << path << "\n";
    if (r.manifest) std::cout << "signed:  " << r.manifest->created << " by " << r.manifest->tool << "\n";
    if (!r.key_fingerprint.empty()) {
        std::cout << "key:     " << r.key_fingerprint
                  << (r.authenticated ? " (matches --pub)"
                                      : " (the bundle's own signer.pub: proves integrity, not who signed; use --pub)")
                  << "\n";
    }
    if (r.manifest) {
        std::cout << "members:\n";
        for (const auto& m : r.manifest->members)
            std::cout << "  " << m.sha256.substr(0, 16) << "  " << m.size << "\t" << m.name << "\n";
    }
    if (r.ok) {
        std::cout << "OK: signature valid, " << r.manifest->members.size() << " members intact\n";
        return kExitOk;
    }
    std::cout.flush();
    std::cerr << "FAILED: " << r.problems.size() << (r.problems.size() == 1 ? " problem" : " problems") << "\n";
    for (const auto& problem : r.problems) std::cerr << "  " << problem << "\n";
    return kExitFailure;
}

// ------------------------------------------------------------------------------------ audit flags

bool parse_compliance_flag(ArgParser& p, ComplianceOptions& out) {
    if (p.option("--k8s-snapshot", out.k8s_snapshot)) {
        if (out.k8s_snapshot.empty()) throw UsageError("--k8s-snapshot needs a file");
        return true;
    }
    if (p.flag("--k8s")) {
        out.k8s_live = true;
        return true;
    }
    if (p.option("--kube-context", out.kube_context)) return true;
    if (p.option("--policy", out.policy)) {
        if (out.policy.empty()) throw UsageError("--policy needs a file");
        return true;
    }
    if (p.option("--bundle", out.bundle)) {
        if (out.bundle.empty()) throw UsageError("--bundle needs an output file");
        return true;
    }
    return p.option("--key", out.key);
}

bool parse_compliance_flag(ArgParser& p, ComplianceOptions& out, bool serve) {
    std::string v;
    if (serve && p.option("--k8s-refresh", v)) {
        std::size_t used = 0;
        double seconds = -1;
        try {
            seconds = std::stod(v, &used);
        } catch (...) {
            used = 0;
        }
        if (used == 0 || used != v.size() || !std::isfinite(seconds) || seconds < 0 || (seconds > 0 && seconds < 10))
            throw UsageError("--k8s-refresh: expected seconds, 0 (never) or at least 10, got '" + v + "'");
        out.k8s_refresh = seconds;
        return true;
    }
    return parse_compliance_flag(p, out);
}

const char* compliance_flags_usage() { return kComplianceFlags; }
const char* serve_compliance_flags_usage() { return kServeComplianceFlags; }

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
    audit::AuditMetrics* metrics = nullptr;
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

void ComplianceRun::attach_metrics(audit::AuditMetrics* metrics) { state_->metrics = metrics; }
void ComplianceRun::keep_findings(bool keep) { state_->keep_findings = keep; }
std::uint64_t ComplianceRun::violations() const { return state_->violations; }

std::size_t ComplianceRun::observe(const audit::FlowRecord& f) {
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

std::string ComplianceRun::flow_json(const audit::FlowRecord& f, const audit::ReportOptions& opt) const {
    std::string line = audit::flow_to_json(f, opt);
    if (!state_->index) return line;
    return k8s::with_workloads(std::move(line), state_->index->enrich(f));
}

void ComplianceRun::write_json_lines(std::ostream& out, const std::vector<audit::FlowRecord>& flows,
                                    const audit::AuditSummary& s, const audit::ReportOptions& opt) const {
    for (const auto& f : flows) out << flow_json(f, opt) << '\n';
    out << audit::summary_to_json(s) << '\n';
}

int ComplianceRun::finish(const std::vector<audit::FlowRecord>& flows, const audit::AuditSummary& s,
                          const audit::ReportOptions& opt, bool json, const std::vector<std::string>& evidence_files,
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
        audit::ReportOptions bundle_opt = opt;
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
            return kExitFailure;
        }
        err << "meshproof: evidence bundle " << outp << ": " << manifest->members.size() << " members, signed by "
            << manifest->key_fingerprint << "\n";
    }
    return report && report->has_violations() ? kExitPolicyViolations : kExitOk;
}

}  // namespace meshproof::cli
