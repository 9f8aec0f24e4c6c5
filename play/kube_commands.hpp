// The kubectl commands of playbook steps (argv only, never a shell), built here so the runner, the
// dry run and the tests agree on them. They run through the provisioner's Runner.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "play/playbook.hpp"
#include "provision/runner.hpp"

namespace meshproof::play {

// Field manager of everything playbooks apply (server-side apply keeps ownership per manager, so
// applying the same object again with fewer fields removes them).
inline constexpr const char* kFieldManager = "meshproof-play";

// apply: kubectl apply --server-side --field-manager=meshproof-play --force-conflicts [-n NS] -f -
// (delete: kubectl delete --ignore-not-found [-n NS] -f -), the manifests on stdin.
provision::Command apply_command(const ApplyStep& step, const std::string& manifest_text, const std::string& context);

// wait (rollout): kubectl rollout status RES [-n NS] --timeout=Ns
// wait (condition): kubectl wait --for=condition=C RES [-l SEL] [-n NS] --timeout=Ns
// The child's own timeout is the step's plus a margin, so kubectl reports the timeout itself.
provision::Command wait_command(const WaitStep& step, const std::string& context);

// restart: kubectl rollout restart RES... [-n NS]
provision::Command restart_command(const RestartStep& step, const std::string& context);

// The manifest text an apply step sends: its files (or inline manifest), joined as YAML documents.
// Errors name the file that could not be read.
tl::expected<std::string, std::string> manifest_text(const ApplyStep& step);

// The argv as one line for progress output (shell-quoted for display only).
std::string display(const provision::Command& cmd);

}  // namespace meshproof::play
