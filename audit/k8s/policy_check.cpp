#include "audit/k8s/policy_check.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <tuple>

#include "common/json_writer.hpp"

namespace meshproof::audit::k8s {

namespace {

std::string iso_time(double ts) {
    const auto total_us = static_cast<long long>(std::llround(ts * 1e6));
    const auto secs = static_cast<std::time_t>(total_us / 1000000);
    const auto micros = static_cast<int>(total_us % 1000000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
    return buf;
}

bool contains(const std::vector<std::string>& list, std::string_view s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}
bool contains(const std::vector<std::uint16_t>& list, std::uint16_t p) {
    return std::find(list.begin(), list.end(), p) != list.end();
}

// The pods whose sidecar (or ztunnel) a PeerAuthentication would govern for this server.
std::vector<std::pair<const Pod*, std::uint16_t>> server_pods(const WorkloadIndex& index, const ResolvedEndpoint& e) {
    std::vector<std::pair<const Pod*, std::uint16_t>> out;
    if (e.kind == ResolvedEndpoint::Kind::Pod && !e.pod->host_network) out.emplace_back(e.pod, e.pod_port);
    if (e.kind == ResolvedEndpoint::Kind::Service) {
        const ServicePort* sp = nullptr;
        for (const auto& p : e.service->ports) {
            if (p.port == e.pod_port || (p.target_port == e.pod_port && p.target_port_name.empty())) sp = &p;
        }
        for (const Pod* p : e.backends) {
            if (p->host_network) continue;
            std::uint16_t port = e.pod_port;
            if (sp) {
                if (auto tp = index.target_port(*sp, *p)) port = *tp;
            }
            out.emplace_back(p, port);
        }
    }
    return out;
}

std::string namespace_of(const ResolvedEndpoint& e) {
    if (e.kind == ResolvedEndpoint::Kind::Pod) return e.pod->namespace_name;
    if (e.kind == ResolvedEndpoint::Kind::Service) return e.service->namespace_name;
    return {};
}

bool server_meshed(const WorkloadIndex& index, const ResolvedEndpoint& e) {
    if (e.kind == ResolvedEndpoint::Kind::Pod) return index.meshed(*e.pod);
    if (e.kind == ResolvedEndpoint::Kind::Service)
        return !e.backends.empty() &&
               std::all_of(e.backends.begin(), e.backends.end(), [&](const Pod* p) { return index.meshed(*p); });
    return false;
}

// traffic.sidecar.istio.io/excludeInboundPorts: "8080,9090" or "*".
bool port_excluded_from_sidecar(const Pod& pod, std::uint16_t port) {
    const auto it = pod.annotations.find("traffic.sidecar.istio.io/excludeInboundPorts");
    if (it == pod.annotations.end()) return false;
    std::string_view list = it->second;
    while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item == "*" || item == std::to_string(port)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

bool istio_plaintext_port(std::uint16_t port) {
    return std::find(kIstioPlaintextPorts.begin(), kIstioPlaintextPorts.end(), port) != kIstioPlaintextPorts.end();
}

std::optional<std::string> leaf_spiffe_id(const std::vector<CertSummary>& chain) {
    if (chain.empty()) return std::nullopt;
    for (const auto& uri : chain.front().uri_sans) {
        if (uri.rfind("spiffe://", 0) == 0) return uri;
    }
    return std::nullopt;
}

std::string expected_spiffe(const std::string& td, const Pod& p) {
    return "spiffe://" + td + "/ns/" + p.namespace_name + "/sa/" + p.service_account;
}

std::string secrets_note(const FlowRecord& f) {
    if (f.secrets.empty()) return {};
    return "; " + std::to_string(f.secrets.size()) + (f.secrets.size() == 1 ? " secret" : " secrets") +
           " seen in clear";
}

class Evaluator {
public:
    Evaluator(const WorkloadIndex& index, const AuditPolicy& policy)
        : index_(index), policy_(policy),
          trust_domain_(policy.trust_domain.value_or(index.snapshot().trust_domain)) {}

    void flow(const FlowRecord& f, std::size_t i, PolicyReport& report) {
        client_ = index_.resolve(f.client_ip, f.client_port);
        server_ = index_.resolve(f.server_ip, f.server_port);
        ref_ = {i, endpoint_to_string(f.client_ip, f.client_port), endpoint_to_string(f.server_ip, f.server_port),
                f.first_seen, f.verdict, f.protocol};
        workloads_ = {index_.describe(client_), index_.describe(server_)};
        ++report.flows_checked;
        if (workloads_.client || workloads_.server) ++report.flows_with_workload;
        flow_ = &f;
        report_ = &report;

        check_peer_authentication();
        check_meshed_pair();
        check_spiffe();
        check_requirements();
    }

private:
    void add(std::string_view rule_id, std::string message, std::optional<EffectiveMtls> declared = std::nullopt,
             std::string requirement = {}, std::optional<Severity> requirement_severity = std::nullopt) {
        for (const auto& ex : policy_.exceptions) {
            if (waives(ex, rule_id)) {
                ++report_->waived[ex.name];
                return;
            }
        }
        // Off in `severities` silences the rule; else a requirement's own severity wins over the
        // policy's override for the rule, which wins over the default.
        std::optional<Severity> sev = policy_.severity_of(rule_id);
        if (!sev) return;
        if (requirement_severity) sev = requirement_severity;
        Finding fd;
        fd.severity = *sev;
        fd.rule = std::string(rule_id);
        fd.message = std::move(message);
        fd.flow = ref_;
        fd.workloads = workloads_;
        fd.declared = std::move(declared);
        fd.requirement = std::move(requirement);
        ++report_->by_severity[static_cast<std::size_t>(fd.severity)];
        report_->findings.push_back(std::move(fd));
    }

    bool waives(const PolicyException& ex, std::string_view rule_id) const {
        if (!ex.rules.empty() && !contains(ex.rules, rule_id)) return false;
        if (!ex.ports.empty() && !contains(ex.ports, flow_->server_port) && !contains(ex.ports, server_.pod_port))
            return false;
        if (!ex.from_namespaces.empty() && !contains(ex.from_namespaces, namespace_of(client_))) return false;
        if (!ex.to_namespaces.empty() && !contains(ex.to_namespaces, namespace_of(server_))) return false;
        const auto in_any = [](const std::vector<Cidr>& list, const IpAddress& ip) {
            return std::any_of(list.begin(), list.end(), [&](const Cidr& c) { return c.contains(ip); });
        };
        if (!ex.from_cidrs.empty() && !in_any(ex.from_cidrs, flow_->client_ip)) return false;
        if (!ex.to_cidrs.empty() && !in_any(ex.to_cidrs, flow_->server_ip)) return false;
        if (ex.from_nodes) {
            const bool node = client_.kind == ResolvedEndpoint::Kind::Node ||
                              (client_.kind == ResolvedEndpoint::Kind::Pod && client_.pod->host_network) ||
                              index_.is_node_address(flow_->client_ip);
            if (!node) return false;
        }
        return true;
    }

    void check_peer_authentication() {
        const Verdict v = flow_->verdict;
        if (v != Verdict::PlaintextServed && v != Verdict::PlaintextRejected) return;
        if (istio_plaintext_port(server_.pod_port)) return;  // outside mTLS by design
        const auto declared = declared_mtls(index_, server_);
        if (!declared) return;
        const std::string what = flow_->protocol.empty() || flow_->protocol == "unknown" ? std::string("plaintext")
                                                                                          : "plaintext " + flow_->protocol;
        if (v == Verdict::PlaintextRejected) {
            if (declared->mode == MtlsMode::Strict)
                add(rule::kLegacyClientRefused,
                    "a client without mTLS was refused: " + declared->describe() + " reset its " + what +
                        " connection; its first bytes still crossed the wire in clear" + secrets_note(*flow_),
                    declared);
            return;
        }
        std::string notes;
        for (const auto& [pod, port] : server_pods(index_, server_)) {
            if (!index_.meshed(*pod)) {
                notes = "; the server pod " + pod->namespace_name + "/" + pod->name +
                        " has no sidecar and is not ambient, so nothing enforces the PeerAuthentication";
                break;
            }
            if (port_excluded_from_sidecar(*pod, port)) {
                notes = "; port " + std::to_string(port) + " bypasses the sidecar of " + pod->namespace_name + "/" +
                        pod->name + " (traffic.sidecar.istio.io/excludeInboundPorts)";
                break;
            }
        }
        switch (declared->mode) {
            case MtlsMode::Strict:
                add(rule::kStrictPlaintextServed,
                    declared->describe() + " declared, but " + what + " was served" + notes + secrets_note(*flow_),
                    declared);
                break;
            case MtlsMode::Permissive:
                add(rule::kPermissivePlaintext,
                    declared->describe() + " accepts plaintext, and " + what + " was served" + secrets_note(*flow_),
                    declared);
                break;
            case MtlsMode::Disable:
                add(rule::kDisabledPlaintext,
                    declared->describe() + ": mTLS is switched off, " + what + " was served" + secrets_note(*flow_),
                    declared);
                break;
            case MtlsMode::Unset: break;
        }
    }

    void check_meshed_pair() {
        const Verdict v = flow_->verdict;
        if (v == Verdict::Unknown || satisfies(v, Protection::IstioMtls)) return;
        if (client_.kind != ResolvedEndpoint::Kind::Pod || !index_.meshed(*client_.pod)) return;
        if (!server_meshed(index_, server_)) return;
        if (istio_plaintext_port(server_.pod_port)) return;
        add(rule::kMeshedNotIstioMtls,
            "both ends are in the mesh, but the flow is " + std::string(to_string(v)) +
                ", not Istio mTLS (sidecar bypassed, traffic excluded from capture, or auto-mTLS off)" +
                secrets_note(*flow_),
            declared_mtls(index_, server_));
    }

    void check_spiffe() {
        if (!flow_->tls) return;
        const TlsSummary& t = *flow_->tls;
        if (client_.kind == ResolvedEndpoint::Kind::Pod && !client_.pod->host_network) {
            if (auto id = leaf_spiffe_id(t.client_certs)) {
                const std::string want = expected_spiffe(trust_domain_, *client_.pod);
                if (*id != want)
                    add(rule::kSpiffeMismatch, "client certificate says " + *id + ", but the client pod " +
                                                   client_.pod->namespace_name + "/" + client_.pod->name + " runs as " +
                                                   want);
            }
        }
        const auto pods = server_pods(index_, server_);
        if (pods.empty()) return;
        if (auto id = leaf_spiffe_id(t.server_certs)) {
            const bool any = std::any_of(pods.begin(), pods.end(),
                                         [&](const auto& pp) { return expected_spiffe(trust_domain_, *pp.first) == *id; });
            if (!any)
                add(rule::kSpiffeMismatch, "server certificate says " + *id + ", but the server " +
                                               workload_label(workloads_.server) + " runs as " +
                                               expected_spiffe(trust_domain_, *pods.front().first));
        }
    }

    void check_requirements() {
        const std::string ns = namespace_of(server_);
        if (ns.empty()) return;
        const Verdict v = flow_->verdict;
        for (const auto& r : policy_.requirements) {
            if (!contains(r.namespaces, ns) && !contains(r.namespaces, "*")) continue;
            const auto port_in = [&](const std::vector<std::uint16_t>& ports) {
                return contains(ports, flow_->server_port) || contains(ports, server_.pod_port);
            };
            if (!r.ports.empty() && !port_in(r.ports)) continue;
            if (port_in(r.except_ports)) continue;
            if (v == Verdict::Unknown) {
                add(rule::kRequirementUnverified,
                    "'" + r.name + "' requires " + std::string(to_string(r.require)) +
                        ", but too little of this flow was captured to tell",
                    std::nullopt, r.name);
            } else if (v != Verdict::PlaintextRejected && !satisfies(v, r.require)) {
                add(rule::kRequirementNotMet,
                    "'" + r.name + "' requires " + std::string(to_string(r.require)) + " in namespace " + ns +
                        ", the flow is " + std::string(to_string(v)) + secrets_note(*flow_),
                    std::nullopt, r.name, r.severity);
            }
        }
    }

    const WorkloadIndex& index_;
    const AuditPolicy& policy_;
    std::string trust_domain_;
    ResolvedEndpoint client_, server_;
    FlowRef ref_;
    FlowWorkloads workloads_;
    const FlowRecord* flow_ = nullptr;
    PolicyReport* report_ = nullptr;
};

const char* severity_color(Severity s) {
    switch (s) {
        case Severity::Violation: return "\033[1;31m";
        case Severity::Warning: return "\033[33m";
        case Severity::Info: return "\033[36m";
    }
    return "";
}

}  // namespace

std::optional<EffectiveMtls> declared_mtls(const WorkloadIndex& index, const ResolvedEndpoint& server) {
    std::optional<EffectiveMtls> weakest;
    for (const auto& [pod, port] : server_pods(index, server)) {
        EffectiveMtls m = effective_mtls(index.snapshot(), *pod, port);
        if (!weakest || m.mode < weakest->mode) weakest = std::move(m);
    }
    return weakest;
}

PolicyReport evaluate(const std::vector<FlowRecord>& flows, const WorkloadIndex& index, const AuditPolicy& policy) {
    PolicyEvaluator ev(index, policy);
    for (const auto& f : flows) ev.observe(f);
    return ev.take_report();
}

class PolicyEvaluator::Impl : public Evaluator {
public:
    using Evaluator::Evaluator;
};

PolicyEvaluator::PolicyEvaluator(const WorkloadIndex& index, const AuditPolicy& policy)
    : impl_(std::make_unique<Impl>(index, policy)) {}

PolicyEvaluator::~PolicyEvaluator() = default;

std::size_t PolicyEvaluator::observe(const FlowRecord& flow) {
    const std::size_t before = report_.findings.size();
    impl_->flow(flow, next_index_++, report_);
    return report_.findings.size() - before;
}

PolicyReport PolicyEvaluator::take_report() {
    PolicyReport out = std::move(report_);
    report_ = PolicyReport{};
    next_index_ = 0;
    return out;
}

std::string finding_to_json(const Finding& f) {
    JsonWriter w;
    w.begin_object();
    w.field("type", "finding");
    w.field("severity", to_string(f.severity));
    w.field("rule", f.rule);
    w.field("message", f.message);
    w.key("flow").begin_object();
    w.field("index", static_cast<std::uint64_t>(f.flow.index));
    w.field("client", f.flow.client);
    w.field("server", f.flow.server);
    w.field("first_seen", iso_time(f.flow.first_seen));
    w.field("verdict", to_string(f.flow.verdict));
    w.field("protocol", f.flow.protocol);
    w.end_object();
    add_workload_json(w, f.workloads);
    if (f.declared) {
        w.key("declared_mtls").begin_object();
        w.field("mode", to_string(f.declared->mode));
        w.field("level", to_string(f.declared->level));
        w.key("policy");
        f.declared->policy.empty() ? w.null() : w.value(f.declared->policy);
        w.end_object();
    }
    if (!f.requirement.empty()) w.field("requirement", f.requirement);
    w.end_object();
    return w.take();
}

std::string policy_summary_to_json(const PolicyReport& r) {
    JsonWriter w;
    w.begin_object();
    w.field("type", "policy_summary");
    w.field("flows_checked", static_cast<std::uint64_t>(r.flows_checked));
    w.field("flows_with_workload", static_cast<std::uint64_t>(r.flows_with_workload));
    w.key("findings").begin_object();
    for (auto s : {Severity::Violation, Severity::Warning, Severity::Info})
        w.field(to_string(s), static_cast<std::uint64_t>(r.by_severity[static_cast<std::size_t>(s)]));
    w.end_object();
    w.key("waived").begin_object();
    for (const auto& [name, n] : r.waived) w.field(name, static_cast<std::uint64_t>(n));
    w.end_object();
    w.field("violations", r.has_violations());
    w.end_object();
    return w.take();
}

void write_findings_json(std::ostream& out, const PolicyReport& report) {
    for (const auto& f : report.findings) out << finding_to_json(f) << '\n';
    out << policy_summary_to_json(report) << '\n';
}

void write_findings_text(std::ostream& out, const PolicyReport& report, bool color) {
    struct Group {
        const Finding* first = nullptr;
        std::size_t count = 0;
    };
    using Key = std::tuple<int, std::string, std::string, std::string, std::string, std::string>;
    std::map<Key, Group> groups;
    for (const auto& f : report.findings) {
        const auto colon = f.flow.server.rfind(':');
        Key k{-static_cast<int>(f.severity), f.rule, workload_label(f.workloads.client),
              workload_label(f.workloads.server), f.flow.server.substr(colon == std::string::npos ? 0 : colon + 1),
              f.message};
        auto& g = groups[k];
        if (!g.first) g.first = &f;
        ++g.count;
    }
    const auto& n = report.by_severity;
    out << "policy: " << n[2] << (n[2] == 1 ? " violation, " : " violations, ") << n[1]
        << (n[1] == 1 ? " warning, " : " warnings, ") << n[0] << " info (" << report.flows_checked << " flows checked, "
        << report.flows_with_workload << " matched to workloads";
    if (!report.waived.empty()) {
        out << "; waived:";
        for (const auto& [name, count] : report.waived) out << ' ' << name << ' ' << count;
    }
    out << ")\n";
    const char* reset = color ? "\033[0m" : "";
    for (const auto& [key, g] : groups) {
        const Finding& f = *g.first;
        std::string sev(to_string(f.severity));
        for (auto& c : sev) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out << (color ? severity_color(f.severity) : "") << sev << reset << ' ' << f.rule << "  "
            << std::get<2>(key) << " -> " << std::get<3>(key) << " port " << std::get<4>(key) << "  "
            << to_string(f.flow.verdict);
        if (g.count > 1) out << "  x" << g.count;
        // 1-based, like the "#" column of the flow table.
        out << "\n    " << f.message << "\n    e.g. flow #" << f.flow.index + 1 << ' ' << f.flow.client << " -> "
            << f.flow.server << " at " << iso_time(f.flow.first_seen) << '\n';
    }
}

}  // namespace meshproof::audit::k8s
