// A playbook (`meshproof play FILE`): a declarative scenario of steps with asserts, the kuttl idea
// applied to meshproof (provision a lab, apply manifests, wait, drive a local namespace lab, audit,
// assert, diff, report, push). This is the validated model; YAML stays inside playbook_loader.cpp.
// docs/playbooks.md documents the format.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

namespace meshproof::play {

inline constexpr std::string_view kPlaybookApiVersion = "meshproof.dev/v1alpha1";
inline constexpr std::string_view kPlaybookKind = "Playbook";

// 1-based position in the playbook file (0 = unknown).
struct Location {
    int line = 0;
    int column = 0;
};

// One validation problem: "FILE:LINE:COL: step 3 'before' (audit): MESSAGE".
struct PlayError {
    std::string file;
    Location where;
    std::string step;  // "step 3 'before' (audit)", or "" outside the steps
    std::string message;
    [[nodiscard]] std::string to_string() const;
};
using PlayErrors = std::vector<PlayError>;

// ---------------------------------------------------------------------------- steps

enum class ProvisionAction : std::uint8_t { Up, Down, Status, Plan };
std::string_view to_string(ProvisionAction a);

struct ProvisionStep {
    ProvisionAction action = ProvisionAction::Up;
    std::string spec_file;    // resolved path; empty with no inline spec = the built-in default
    std::string inline_spec;  // YAML text of an inline `spec:` map (written to a temporary file to run)
    std::string state_dir;    // --state-dir; empty = the provisioner's default
    bool purge = false;       // down --purge
};

// kubectl apply --server-side (or delete) of manifest files or an inline manifest.
struct ApplyStep {
    std::vector<std::string> files;   // resolved paths, applied in order as one stdin
    std::string inline_manifest;
    std::string namespace_name;       // --namespace for objects without one
    bool remove = false;              // `delete: true`: kubectl delete --ignore-not-found
    std::chrono::milliseconds timeout{std::chrono::minutes(2)};
    // "Kind/namespace/name" of each object (shown by --dry-run and progress lines).
    std::vector<std::string> objects;
};

struct WaitStep {
    enum class Kind : std::uint8_t { Delay, Rollout, Condition };
    Kind kind = Kind::Delay;
    std::chrono::milliseconds delay{0};
    std::string resource;   // Rollout: "deployment/x"; Condition: "pods", "deployment/x", ...
    std::string condition;  // Condition: "Ready", "Available", ...
    std::string selector;   // Condition: -l (label selector)
    std::string namespace_name;
    std::chrono::milliseconds timeout{std::chrono::minutes(2)};
};

// kubectl rollout restart of workloads (pods are recreated, so newly injected sidecars appear).
struct RestartStep {
    std::vector<std::string> resources;  // "deployment/x", "statefulset/y", "daemonset/z"
    std::string namespace_name;
};

// The local namespace lab: the demo's miniature cluster (docs/demo.md): node namespace with br0,
// pods frontend 10.244.1.10, backend 10.244.2.20, db 10.244.3.30; apps db + backend (+ the
// frontend client, run by `traffic` and by lab audits); stunnel sidecars with a mesh CA.
enum class LabAction : std::uint8_t { Create, StartApps, StopApps, SidecarsOn, SidecarsOff, Traffic, Destroy };
std::string_view to_string(LabAction a);

struct LabStep {
    LabAction action = LabAction::Create;
    std::string prefix;                 // Create: namespace prefix (default mpdemo-PID, swept by `demo --cleanup`)
    std::vector<std::string> without;   // SidecarsOn: pods left out of the mesh (only "db" is possible)
    int rounds = 2;                     // Traffic: client rounds
};

struct AuditStep {
    enum class Source : std::uint8_t { Lab, Interface, Files };
    Source source = Source::Lab;
    std::string interface;              // Interface
    std::string filter;                 // Interface: BPF filter
    std::vector<std::string> files;     // Files: resolved capture paths
    int rounds = 2;                     // Lab: client rounds while capturing (0: capture `duration` only)
    std::chrono::milliseconds duration{0};  // Interface: required; Lab: at least this long
    std::string snapshot;               // resolved file path; empty = none
    bool snapshot_from_cluster = false; // `snapshot: cluster`: kubectl get ... now
    std::string policy;                 // resolved policy file; needs a snapshot
};

// What an assert expression reads.
enum class Metric : std::uint8_t {
    // audits
    Verdict,            // `verdict` below
    Plaintext,          // plaintext-served + plaintext-rejected
    Encrypted,          // every encrypted verdict
    Flows,
    Secrets,
    Packets,
    PolicyViolations,
    PolicyWarnings,
    PolicyInfo,
    PolicyFindings,
    // diffs
    Change,             // `change` below (FlowChange index)
    SecretsGone,
    Groups,
};

enum class CompareOp : std::uint8_t { Eq, Ne, Lt, Le, Gt, Ge };
std::string_view to_string(CompareOp op);

struct AssertExpr {
    std::string text;         // as written (after variable substitution)
    Metric metric = Metric::Flows;
    std::uint8_t index = 0;   // Verdict: audit::Verdict; Change: audit::FlowChange
    CompareOp op = CompareOp::Eq;
    std::uint64_t value = 0;
    Location where;
};

struct AssertStep {
    std::string audit;   // exactly one of audit / diff
    std::string diff;
    std::vector<AssertExpr> checks;
};

struct DiffStep {
    std::string before, after;  // audit names
};

struct ReportStep {
    std::string audit;      // jsonl, table
    std::string diff;       // html, json
    std::string jsonl, html, json;  // output paths (relative to the current directory)
    bool table = false;     // print the audit's flow table
    std::string title;
    bool show_secrets = false;
};

struct PushStep {
    std::string audit;
    std::string url;        // Pushgateway
    std::string textfile;   // node_exporter textfile collector path
    std::string job = "meshproof";
    std::string instance;   // empty: this host's name
};

enum class StepKind : std::uint8_t { Provision, Apply, Wait, Restart, Lab, Audit, Assert, Diff, Report, Push };
std::string_view to_string(StepKind k);
inline constexpr std::string_view kStepKinds[] = {"provision", "apply", "wait",  "restart", "lab",
                                                   "audit",     "assert", "diff", "report",  "push"};

using StepBody = std::variant<ProvisionStep, ApplyStep, WaitStep, RestartStep, LabStep, AuditStep, AssertStep,
                              DiffStep, ReportStep, PushStep>;

struct Step {
    StepKind kind = StepKind::Assert;
    std::size_t number = 0;  // 1-based position
    std::string name;        // given, else "<kind>-<number>"
    std::string description;
    Location where;
    StepBody body;

    // "step 3 'before' (audit)"
    [[nodiscard]] std::string label() const;
    template <class T>
    [[nodiscard]] const T& as() const {
        return std::get<T>(body);
    }
};

struct Playbook {
    std::string file;       // as given
    std::string base_dir;   // inputs (specs, manifests, captures, policies) are relative to it
    std::string name;
    std::string description;
    std::string kube_context;
    std::map<std::string, std::string, std::less<>> vars;  // after --var overrides
    std::vector<Step> steps;

    [[nodiscard]] bool uses_lab() const;
    [[nodiscard]] bool uses_live_capture() const;  // lab or interface audits
    [[nodiscard]] bool uses_kubectl() const;       // apply, wait (not delay), restart, snapshot: cluster
};

// --var NAME=VALUE, in order.
using VarOverrides = std::vector<std::pair<std::string, std::string>>;
// "k=v" -> {k, v}; nullopt when there is no '=' or the name is empty.
std::optional<std::pair<std::string, std::string>> parse_var_assignment(std::string_view text);

// Parses and validates everything (variables, keys, values, references between steps, files named
// by the steps: lab specs, manifests, captures, policies, snapshots). All problems come back at once.
tl::expected<Playbook, PlayErrors> parse_playbook(std::string_view yaml_text, const std::string& file,
                                                  const std::string& base_dir, const VarOverrides& vars);
// Reads FILE; base_dir is its directory.
tl::expected<Playbook, PlayErrors> load_playbook(const std::string& file, const VarOverrides& vars);

// "500ms", "5s", "2m", "1h", or a bare number of seconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);

}  // namespace meshproof::play
