// The audit policy file (YAML; schema in docs/compliance.md): required encryption per namespace and
// port, exceptions (DNS, kubelet probes, ...), and severity overrides for the built-in rules. Parsing
// validates everything and reports every problem as "FILE:LINE:COL: message".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "audit/decode/packet.hpp"
#include "audit/verdict/flow_record.hpp"

namespace meshproof::audit::k8s {

enum class Severity : std::uint8_t { Info, Warning, Violation };
std::string_view to_string(Severity s);
std::optional<Severity> severity_from_string(std::string_view s);

// Rule ids of findings (docs/compliance.md explains each).
namespace rule {
inline constexpr std::string_view kStrictPlaintextServed = "strict-plaintext-served";
inline constexpr std::string_view kLegacyClientRefused = "legacy-client-refused";
inline constexpr std::string_view kPermissivePlaintext = "permissive-plaintext";
inline constexpr std::string_view kDisabledPlaintext = "mtls-disabled-plaintext";
inline constexpr std::string_view kMeshedNotIstioMtls = "meshed-not-istio-mtls";
inline constexpr std::string_view kSpiffeMismatch = "spiffe-identity-mismatch";
inline constexpr std::string_view kRequirementNotMet = "requirement-not-met";
inline constexpr std::string_view kRequirementUnverified = "requirement-unverified";
}  // namespace rule
inline constexpr std::string_view kAllRules[] = {
    rule::kStrictPlaintextServed, rule::kLegacyClientRefused, rule::kPermissivePlaintext,
    rule::kDisabledPlaintext,     rule::kMeshedNotIstioMtls,  rule::kSpiffeMismatch,
    rule::kRequirementNotMet,     rule::kRequirementUnverified};
Severity default_severity(std::string_view rule_id);

// What a requirement accepts, weakest last: each level accepts the verdicts of the ones before it.
enum class Protection : std::uint8_t { IstioMtls, Mtls, Tls, Encrypted };
std::string_view to_string(Protection p);
std::optional<Protection> protection_from_string(std::string_view s);
bool satisfies(Verdict v, Protection p);

struct Cidr {
    IpAddress network;
    unsigned prefix = 0;
    [[nodiscard]] bool contains(const IpAddress& ip) const;
};
std::optional<Cidr> parse_cidr(std::string_view text);  // "10.0.0.0/8", "fd00::/8", or a bare address

struct Requirement {
    std::string name;
    std::vector<std::string> namespaces;   // server namespaces; "*" = any namespace
    std::vector<std::uint16_t> ports;      // server (pod) ports; empty = all
    std::vector<std::uint16_t> except_ports;
    Protection require = Protection::IstioMtls;
    std::optional<Severity> severity;      // unset: severities[requirement-not-met], else violation
    int line = 0;                          // where it is declared, for messages
};

// A finding matching every condition given here is waived (counted, not reported).
struct PolicyException {
    std::string name;
    std::vector<std::uint16_t> ports;            // server ports
    std::vector<std::string> from_namespaces, to_namespaces;
    std::vector<Cidr> from_cidrs, to_cidrs;
    bool from_nodes = false;                     // client is a node address (kubelet probes, hostNetwork)
    std::vector<std::string> rules;              // empty = every rule
    int line = 0;
};

struct AuditPolicy {
    std::string source;                          // file name
    std::optional<std::string> trust_domain;     // overrides the snapshot's
    std::vector<Requirement> requirements;
    std::vector<PolicyException> exceptions;
    std::map<std::string, std::optional<Severity>, std::less<>> severities;  // nullopt = "off"

    // The severity a rule's findings get (nullopt: the rule is off).
    [[nodiscard]] std::optional<Severity> severity_of(std::string_view rule_id) const;
};

// Every validation problem, one "SOURCE:LINE:COL: message" line each.
using PolicyErrors = std::vector<std::string>;
tl::expected<AuditPolicy, PolicyErrors> parse_audit_policy(std::string_view yaml_text, std::string_view source);
tl::expected<AuditPolicy, PolicyErrors> load_audit_policy(const std::string& path);

}  // namespace meshproof::audit::k8s
