#include "audit/k8s/audit_policy.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "audit/k8s/cluster_snapshot.hpp"
#include "audit/verdict/verdict.hpp"

namespace meshproof::audit::k8s {

std::string_view to_string(Severity s) {
    switch (s) {
        case Severity::Info: return "info";
        case Severity::Warning: return "warning";
        case Severity::Violation: return "violation";
    }
    return "info";
}

std::optional<Severity> severity_from_string(std::string_view s) {
    if (s == "info") return Severity::Info;
    if (s == "warning") return Severity::Warning;
    if (s == "violation") return Severity::Violation;
    return std::nullopt;
}

Severity default_severity(std::string_view r) {
    if (r == rule::kStrictPlaintextServed || r == rule::kMeshedNotIstioMtls || r == rule::kSpiffeMismatch ||
        r == rule::kRequirementNotMet)
        return Severity::Violation;
    if (r == rule::kPermissivePlaintext || r == rule::kDisabledPlaintext) return Severity::Warning;
    return Severity::Info;  // legacy-client-refused, requirement-unverified
}

std::string_view to_string(Protection p) {
    switch (p) {
        case Protection::IstioMtls: return "istio-mtls";
        case Protection::Mtls: return "mtls";
        case Protection::Tls: return "tls";
        case Protection::Encrypted: return "encrypted";
    }
    return "istio-mtls";
}

std::optional<Protection> protection_from_string(std::string_view s) {
    if (s == "istio-mtls") return Protection::IstioMtls;
    if (s == "mtls") return Protection::Mtls;
    if (s == "tls") return Protection::Tls;
    if (s == "encrypted") return Protection::Encrypted;
    return std::nullopt;
}

bool satisfies(Verdict v, Protection p) {
    const bool mesh = v == Verdict::IstioMtls || v == Verdict::Hbone;  // HBONE is Istio mTLS (ambient)
    switch (p) {
        case Protection::IstioMtls: return mesh;
        case Protection::Mtls: return mesh || v == Verdict::Mtls;
        case Protection::Tls: return mesh || v == Verdict::Mtls || v == Verdict::Tls;
        case Protection::Encrypted: return is_encrypted(v);
    }
    return false;
}

bool Cidr::contains(const IpAddress& ip) const {
    if (ip.v6 != network.v6) return false;
    const unsigned full = prefix / 8, rest = prefix % 8;
    for (unsigned i = 0; i < full; ++i) {
        if (ip.bytes[i] != network.bytes[i]) return false;
    }
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
    return (ip.bytes[full] & mask) == (network.bytes[full] & mask);
}

std::optional<Cidr> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    const auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    Cidr c{*ip, ip->v6 ? 128u : 32u};
    if (slash != std::string_view::npos) {
        const std::string_view p = text.substr(slash + 1);
        if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
            return std::nullopt;
        const unsigned n = static_cast<unsigned>(std::stoul(std::string(p)));
        if (n > c.prefix) return std::nullopt;
        c.prefix = n;
    }
    return c;
}

std::optional<Severity> AuditPolicy::severity_of(std::string_view rule_id) const {
    const auto it = severities.find(rule_id);
    if (it != severities.end()) return it->second;
    return default_severity(rule_id);
}

namespace {

bool known_rule(std::string_view r) {
    return std::find(std::begin(kAllRules), std::end(kAllRules), r) != std::end(kAllRules);
}

std::string rule_list() {
    std::string s;
    for (auto r : kAllRules) {
        if (!s.empty()) s += ", ";
        s += r;
    }
    return s;
}

class Validator {
public:
    explicit Validator(std::string source) : source_(std::move(source)) {}

    void error(const YAML::Node& at, const std::string& msg) { error(at.Mark(), msg); }
    void error(const YAML::Mark& m, const std::string& msg) {
        errors_.push_back(source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + msg);
    }
    [[nodiscard]] PolicyErrors take() { return std::move(errors_); }
    [[nodiscard]] bool ok() const { return errors_.empty(); }

    // Checks the map's keys: each allowed, none repeated. Returns false when `node` is not a map.
    bool keys(const YAML::Node& node, const std::vector<std::string_view>& allowed, const std::string& what) {
        if (!node.IsMap()) {
            error(node, what + ": expected a mapping");
            return false;
        }
        std::set<std::string> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
            const std::string k = it->first.IsScalar() ? it->first.Scalar() : std::string("?");
            if (!seen.insert(k).second) error(it->first, what + ": '" + k + "' appears twice");
            if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
                std::string list;
                for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
                error(it->first, what + ": unknown key '" + k + "' (expected one of: " + list + ")");
            }
        }
        return true;
    }

    std::optional<std::string> scalar(const YAML::Node& node, const std::string& what) {
        if (!node.IsScalar() || node.Scalar().empty()) {
            error(node, what + ": expected a non-empty string");
            return std::nullopt;
        }
        return node.Scalar();
    }

    std::vector<std::string> strings(const YAML::Node& node, const std::string& what) {
        std::vector<std::string> out;
        if (!node.IsSequence()) {
            error(node, what + ": expected a list, e.g. [demo, payments]");
            return out;
        }
        for (const auto& item : node) {
            if (auto s = scalar(item, what + " item")) out.push_back(*s);
        }
        return out;
    }

    std::vector<std::uint16_t> ports(const YAML::Node& node, const std::string& what) {
        std::vector<std::uint16_t> out;
        if (!node.IsSequence()) {
            error(node, what + ": expected a list of ports, e.g. [53, 8080]");
            return out;
        }
        for (const auto& item : node) {
            const std::string s = item.IsScalar() ? item.Scalar() : std::string();
            const bool digits = !s.empty() && s.size() <= 5 &&
                                std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
            const unsigned long v = digits ? std::stoul(s) : 0;
            if (v < 1 || v > 65535) {
                error(item, what + ": '" + s + "' is not a port (1-65535)");
                continue;
            }
            out.push_back(static_cast<std::uint16_t>(v));
        }
        return out;
    }

    std::vector<Cidr> cidrs(const YAML::Node& node, const std::string& what) {
        std::vector<Cidr> out;
        if (!node.IsSequence()) {
            error(node, what + ": expected a list of CIDRs, e.g. [10.42.0.0/16]");
            return out;
        }
        for (const auto& item : node) {
            const std::string s = item.IsScalar() ? item.Scalar() : std::string();
            if (auto c = parse_cidr(s)) out.push_back(*c);
            else error(item, what + ": '" + s + "' is not an address or CIDR");
        }
        return out;
    }

    std::optional<bool> boolean(const YAML::Node& node, const std::string& what) {
        if (node.IsScalar() && (node.Scalar() == "true" || node.Scalar() == "false")) return node.Scalar() == "true";
        error(node, what + ": expected true or false");
        return std::nullopt;
    }

    std::optional<Severity> severity(const YAML::Node& node, const std::string& what, bool allow_off) {
        const std::string s = node.IsScalar() ? node.Scalar() : std::string();
        if (auto sev = severity_from_string(s)) return sev;
        if (allow_off && s == "off") return std::nullopt;
        error(node, what + ": '" + s + "' is not a severity (info, warning, violation" +
                        (allow_off ? ", off)" : ")"));
        return std::nullopt;
    }

private:
    std::string source_;
    PolicyErrors errors_;
};

YAML::Node get(const YAML::Node& map, const char* key) {
    const YAML::Node& c = map;
    return c[key];
}

Requirement parse_requirement(const YAML::Node& node, std::size_t index, Validator& v) {
    Requirement r;
    r.name = "requirement " + std::to_string(index + 1);
    r.line = node.Mark().line + 1;
    const std::string what = "requirements[" + std::to_string(index) + "]";
    if (!v.keys(node, {"name", "namespaces", "ports", "exceptPorts", "require", "severity"}, what)) return r;
    if (auto n = get(node, "name")) {
        if (auto s = v.scalar(n, what + ".name")) r.name = *s;
    }
    if (auto n = get(node, "namespaces")) {
        r.namespaces = v.strings(n, what + ".namespaces");
        if (n.IsSequence() && n.size() == 0) v.error(n, what + ".namespaces: empty (use [\"*\"] for every namespace)");
    } else {
        v.error(node, what + ": 'namespaces' is required (use [\"*\"] for every namespace)");
    }
    if (auto n = get(node, "ports")) r.ports = v.ports(n, what + ".ports");
    if (auto n = get(node, "exceptPorts")) r.except_ports = v.ports(n, what + ".exceptPorts");
    if (auto n = get(node, "require")) {
        const std::string s = n.IsScalar() ? n.Scalar() : std::string();
        if (auto p = protection_from_string(s)) r.require = *p;
        else v.error(n, what + ".require: '" + s + "' is not one of istio-mtls, mtls, tls, encrypted");
    } else {
        v.error(node, what + ": 'require' is required (istio-mtls, mtls, tls or encrypted)");
    }
    if (auto n = get(node, "severity")) {
        if (auto s = v.severity(n, what + ".severity", false)) r.severity = *s;
    }
    return r;
}

PolicyException parse_exception(const YAML::Node& node, std::size_t index, Validator& v) {
    PolicyException e;
    e.line = node.Mark().line + 1;
    const std::string what = "exceptions[" + std::to_string(index) + "]";
    if (!v.keys(node, {"name", "ports", "fromNamespaces", "toNamespaces", "fromCidrs", "toCidrs", "fromNodes", "rules"},
                what))
        return e;
    if (auto n = get(node, "name")) {
        if (auto s = v.scalar(n, what + ".name")) e.name = *s;
    } else {
        v.error(node, what + ": 'name' is required (findings waived by it are counted under that name)");
    }
    bool any_condition = false;
    if (auto n = get(node, "ports")) {
        e.ports = v.ports(n, what + ".ports");
        any_condition = true;
    }
    if (auto n = get(node, "fromNamespaces")) {
        e.from_namespaces = v.strings(n, what + ".fromNamespaces");
        any_condition = true;
    }
    if (auto n = get(node, "toNamespaces")) {
        e.to_namespaces = v.strings(n, what + ".toNamespaces");
        any_condition = true;
    }
    if (auto n = get(node, "fromCidrs")) {
        e.from_cidrs = v.cidrs(n, what + ".fromCidrs");
        any_condition = true;
    }
    if (auto n = get(node, "toCidrs")) {
        e.to_cidrs = v.cidrs(n, what + ".toCidrs");
        any_condition = true;
    }
    if (auto n = get(node, "fromNodes")) {
        e.from_nodes = v.boolean(n, what + ".fromNodes").value_or(false);
        any_condition = any_condition || e.from_nodes;
    }
    if (auto n = get(node, "rules")) {
        e.rules = v.strings(n, what + ".rules");
        for (const auto& item : n) {
            if (item.IsScalar() && !known_rule(item.Scalar()))
                v.error(item, what + ".rules: unknown rule '" + item.Scalar() + "' (rules: " + rule_list() + ")");
        }
    }
    if (!any_condition)
        v.error(node, what + ": no condition (ports, fromNamespaces, toNamespaces, fromCidrs, toCidrs, fromNodes): "
                             "it would waive everything");
    return e;
}

}  // namespace

tl::expected<AuditPolicy, PolicyErrors> parse_audit_policy(std::string_view yaml_text, std::string_view source) {
    Validator v{std::string(source)};
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        v.error(e.mark, "not valid YAML: " + e.msg);
        return tl::unexpected(v.take());
    }
    AuditPolicy policy;
    policy.source = std::string(source);
    if (!root || root.IsNull()) {
        v.error(YAML::Mark(), "empty policy (at least: version: 1)");
        return tl::unexpected(v.take());
    }
    if (!v.keys(root, {"version", "trustDomain", "requirements", "exceptions", "severities"}, "policy"))
        return tl::unexpected(v.take());

    if (auto n = get(root, "version")) {
        if (!n.IsScalar() || n.Scalar() != "1") v.error(n, "version: only version 1 exists");
    } else {
        v.error(root, "policy: 'version: 1' is required");
    }
    if (auto n = get(root, "trustDomain")) {
        if (auto s = v.scalar(n, "trustDomain")) {
            if (s->find('/') != std::string::npos || s->find(':') != std::string::npos)
                v.error(n, "trustDomain: a bare domain such as cluster.local (no spiffe:// or path)");
            else policy.trust_domain = *s;
        }
    }
    if (auto n = get(root, "requirements")) {
        if (!n.IsSequence()) v.error(n, "requirements: expected a list");
        else
            for (std::size_t i = 0; i < n.size(); ++i) policy.requirements.push_back(parse_requirement(n[i], i, v));
    }
    if (auto n = get(root, "exceptions")) {
        if (!n.IsSequence()) {
            v.error(n, "exceptions: expected a list");
        } else {
            std::set<std::string> names;
            for (std::size_t i = 0; i < n.size(); ++i) {
                policy.exceptions.push_back(parse_exception(n[i], i, v));
                const std::string& name = policy.exceptions.back().name;
                if (!name.empty() && !names.insert(name).second)
                    v.error(n[i], "exceptions[" + std::to_string(i) + "]: name '" + name + "' is used twice");
            }
        }
    }
    if (auto n = get(root, "severities")) {
        if (!n.IsMap()) {
            v.error(n, "severities: expected a mapping of rule: severity");
        } else {
            for (auto it = n.begin(); it != n.end(); ++it) {
                const std::string r = it->first.IsScalar() ? it->first.Scalar() : std::string();
                if (!known_rule(r)) {
                    v.error(it->first, "severities: unknown rule '" + r + "' (rules: " + rule_list() + ")");
                    continue;
                }
                if (policy.severities.count(r)) v.error(it->first, "severities: '" + r + "' appears twice");
                const std::string s = it->second.IsScalar() ? it->second.Scalar() : std::string();
                if (s == "off") policy.severities[r] = std::nullopt;
                else if (auto sev = v.severity(it->second, "severities." + r, true)) policy.severities[r] = *sev;
            }
        }
    }
    if (!v.ok()) return tl::unexpected(v.take());
    return policy;
}

tl::expected<AuditPolicy, PolicyErrors> load_audit_policy(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return tl::unexpected(PolicyErrors{path + ": cannot open the policy file"});
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_audit_policy(ss.str(), path);
}

}  // namespace meshproof::audit::k8s
