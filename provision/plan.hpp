// The plan: ordered steps in dependency layers, each an exact argv (no shell) with the manifest or
// chart values it feeds on stdin. Built from a validated LabSpec without touching a cluster.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "provision/spec.hpp"

namespace meshproof::provision {

enum class StepKind : std::uint8_t {
    Command,  // run argv once (transient failures retried)
    WaitIp,   // run argv (kubectl get service -o json) until the LoadBalancer has an address
    Probe,    // in-process HTTP request to the gateway IP (argv[0] == "meshproof": documents it)
};

// What `up` checks, read-only, for a step the journal already has as done.
enum class CheckKind : std::uint8_t {
    None,             // nothing cheap to verify (waits); trusted from the journal
    RepoPresent,      // helm repo list has `repo_name`
    ReleaseDeployed,  // helm list has the release, deployed, at the chart version
    ObjectsExist,     // kubectl get -f - -o name finds every object of the stdin manifest
    GatewayIp,        // the gateway Service has a LoadBalancer address
    Probe,            // the probe answers
};

struct HelmRelease {
    std::string name;
    std::string namespace_name;
    std::string chart;    // "istio/istiod"
    std::string version;  // "1.27.3"
};

struct ProbeSpec {
    std::string service_namespace;
    std::string service_name;
    int port = 0;
    std::string host_header;  // empty = the IP
    std::string path = "/";
    int expect_status = 0;  // 0 = any HTTP answer
};

// One command `down` runs for a step (reverse order).
struct UndoAction {
    std::vector<std::string> argv;
    std::optional<std::string> stdin_text;
    bool purge_only = false;  // only with --purge (CRD owners, namespaces)
    std::string kept_note;    // shown when skipped without --purge: why it stays
};

struct Step {
    std::string id;
    std::vector<std::string> needs;
    std::vector<std::string> argv;
    std::optional<std::string> stdin_text;  // may hold {{SECRET:...}} placeholders (filled at run time)
    StepKind kind = StepKind::Command;
    std::string title;  // what the step does, for `plan`
    std::chrono::seconds timeout{60};
    int layer = 0;  // 1-based dependency layer

    CheckKind check = CheckKind::None;
    std::string repo_name;  // RepoPresent
    std::string repo_url;
    std::optional<HelmRelease> release;  // helm steps
    std::string apply_namespace;         // ObjectsExist: -n for manifests without a namespace
    std::optional<ProbeSpec> probe;      // Probe / WaitIp (service only)

    std::vector<UndoAction> undo;
};

struct Plan {
    std::string lab;
    std::string kube_context;  // from the spec (or --kube-context)
    std::vector<Step> steps;   // execution order: by layer, then declaration order
    int layers = 0;
    std::string gateway_namespace;
    std::string gateway_service;

    [[nodiscard]] const Step* find(std::string_view id) const;
};

tl::expected<Plan, std::string> build_plan(const LabSpec& spec);

// Exactly {"steps":[{"id":..,"needs":[..],"argv":[..],"stdin":"..."|null}, ...]} (one step per line),
// with argv and stdin redacted.
std::string plan_to_json(const Plan& plan);

// Human-readable, grouped by layer.
std::string plan_to_text(const Plan& plan);

// argv with secret-looking values (--password=..., --token x, ...) replaced by <redacted>.
std::vector<std::string> redact_argv(const std::vector<std::string>& argv);
// Shell-quoted, for display only (nothing ever runs through a shell).
std::string format_argv(const std::vector<std::string>& argv);

// SHA-256 (hex) of what the step would run: its redacted argv and stdin.
std::string step_fingerprint(const Step& step);
// SHA-256 (hex) of the whole plan (the "spec hash" in the journal): any change re-plans.
std::string plan_hash(const Plan& plan);

std::string sha256_hex(std::string_view data);

}  // namespace meshproof::provision
