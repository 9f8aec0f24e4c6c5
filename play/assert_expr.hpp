// Assert expressions of playbooks: "METRIC OP NUMBER", e.g. `plaintext-served == 0`,
// `istio-mtls >= 1`, `policy violations == 0` (over an audit) or `still-plaintext == 0` (over a diff).
// Parsing is pure and happens at validation time; evaluation reads an AuditResult / DiffResult.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "play/playbook.hpp"

namespace meshproof::play {

enum class AssertTarget : std::uint8_t { Audit, Diff };

// Every metric name an expression may use on that target, in documentation order.
std::vector<std::string> metric_names(AssertTarget target);

// The error says what is wrong and suggests the nearest metric name for typos.
tl::expected<AssertExpr, std::string> parse_assert_expr(std::string_view text, AssertTarget target);

[[nodiscard]] bool compare(std::uint64_t actual, CompareOp op, std::uint64_t expected);

// True for the policy-* metrics (they need an audit with a policy).
[[nodiscard]] bool is_policy_metric(Metric m);

}  // namespace meshproof::play
