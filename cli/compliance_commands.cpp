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

bool parse_compliance_flag(ArgParser& p, audit::ComplianceOptions& out) {
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

bool parse_compliance_flag(ArgParser& p, audit::ComplianceOptions& out, bool serve) {
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

}  // namespace meshproof::cli
