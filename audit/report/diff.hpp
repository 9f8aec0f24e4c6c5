// Before/after comparison of two audits (e.g. without and with a mesh): flows are grouped by
// (client, server, server port), where client and server are workload names when known (the demo's
// pods) and IP addresses otherwise, so the ephemeral client port does not matter. Pure: records in,
// a FlowDiff out; the text and JSON writers redact secrets unless asked not to.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit {

// IP address -> workload name ("frontend"); addresses without a name are shown as themselves.
using EndpointNames = std::map<IpAddress, std::string>;
std::string endpoint_name(const EndpointNames& names, const IpAddress& ip);

struct FlowGroupKey {
    std::string client, server;
    std::uint16_t server_port = 0;
    friend auto operator<=>(const FlowGroupKey&, const FlowGroupKey&) = default;
    friend bool operator==(const FlowGroupKey&, const FlowGroupKey&) = default;
};

// What happened to one group between the two audits. Decided in this order: any plaintext flow
// after is StillPlaintext (a failure, also for a new group); no flow after is Vanished; only
// `unknown` flows after is Inconclusive; no flow before is New; plaintext before and only mutual
// TLS after (istio-mtls, hbone, mtls) is Secured, plaintext before and other encryption after is
// Encrypted; the rest (encrypted before and after) is Unchanged.
enum class FlowChange : std::uint8_t { Secured, Encrypted, StillPlaintext, Unchanged, New, Vanished, Inconclusive };
inline constexpr std::size_t kFlowChangeCount = 7;
std::string_view to_string(FlowChange c);

// One side (before or after) of a group.
struct FlowGroupSide {
    std::uint64_t flows = 0, bytes = 0;
    std::array<std::uint64_t, kVerdictCount> verdicts{};
    std::vector<std::string> protocols;      // distinct, in order of first appearance
    std::vector<SecretFinding> secrets;      // distinct (kind, location, direction, value); raw values
    std::vector<std::size_t> flow_indexes;   // positions in the records given to diff_audits
    [[nodiscard]] std::uint64_t count(Verdict v) const { return verdicts[static_cast<std::size_t>(v)]; }
    [[nodiscard]] std::uint64_t plaintext_flows() const;
};

struct FlowGroupDiff {
    FlowGroupKey key;
    std::string client_address, server_address;  // IPs of the first flow seen ("10.244.1.10")
    FlowGroupSide before, after;
    FlowChange change = FlowChange::Unchanged;
};

// A secret kind/location seen in clear before that no flow of the same group carries after.
struct SecretGone {
    FlowGroupKey key;
    SecretFinding secret;
};

struct AuditTotals {
    std::uint64_t flows = 0, bytes = 0, secrets = 0;
    std::array<std::uint64_t, kVerdictCount> verdicts{};
    [[nodiscard]] std::uint64_t count(Verdict v) const { return verdicts[static_cast<std::size_t>(v)]; }
    [[nodiscard]] std::uint64_t plaintext_flows() const;
    [[nodiscard]] std::uint64_t encrypted_flows() const;
};

struct FlowDiff {
    std::vector<FlowGroupDiff> groups;   // sorted by key
    AuditTotals before, after;
    std::array<std::uint64_t, kFlowChangeCount> changes{};
    std::vector<SecretGone> secrets_gone;
    [[nodiscard]] std::uint64_t count(FlowChange c) const { return changes[static_cast<std::size_t>(c)]; }
    // No plaintext flow remains after (the one hard failure of a before/after proof).
    [[nodiscard]] bool passed() const { return count(FlowChange::StillPlaintext) == 0; }
};

FlowDiff diff_audits(const std::vector<FlowRecord>& before, const std::vector<FlowRecord>& after,
                     const EndpointNames& names = {});

struct DiffOutputOptions {
    bool show_secrets = false;
    bool color = false;
};

// One JSON object (no trailing newline): totals, changes, groups, secrets gone, passed.
std::string diff_to_json(const FlowDiff& d, const DiffOutputOptions& opt);
// The human summary printed at the end of `meshproof demo`.
void write_diff_text(std::ostream& out, const FlowDiff& d, const DiffOutputOptions& opt);

// The last line of defence for text derived from flows (evidence, first lines, SNI, ...): every raw
// secret value of 4 characters or more seen in the added flows is replaced with "<redacted>".
class SecretScrubber {
public:
    void add(const std::vector<FlowRecord>& flows);
    void add(std::string_view value);
    void scrub(std::string& text) const;
    [[nodiscard]] std::string scrubbed(std::string_view text) const;
    [[nodiscard]] bool empty() const { return values_.empty(); }

private:
    std::vector<std::string> values_;  // longest first, so a value containing another goes first
};

}  // namespace meshproof::audit
