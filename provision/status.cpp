// `meshproof status`: what is installed and healthy, where it is reachable, and the warnings a
// homelab owner needs (Kiali anonymous and exposed, a pool nobody announces, PERMISSIVE mTLS, an IP
// that does not answer). Read-only.
#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

#include "provision/engine.hpp"
#include "provision/journal.hpp"
#include "provision/json.hpp"
#include "provision/yaml_util.hpp"

namespace meshproof::provision {

namespace {

std::optional<YAML::Node> get_json(Session& s, const std::vector<std::string>& argv, std::string* error = nullptr) {
    auto r = run_command(s, argv, std::nullopt, std::chrono::seconds(60));
    if (!r.result.ok()) {
        if (error != nullptr) *error = first_line(r.result.err.empty() ? r.result.out : r.result.err);
        return std::nullopt;
    }
    auto node = detail::parse_json(r.result.out);
    if (!node) {
        if (error != nullptr) *error = node.error();
        return std::nullopt;
    }
    return *node;
}

struct Workload {
    std::string kind;
    std::string name;
    std::string namespace_name;
    std::string release;  // meta.helm.sh/release-name
    long ready = 0;
    long wanted = 0;
};

long as_long(const std::string& s) { return s.empty() ? 0 : std::strtol(s.c_str(), nullptr, 10); }

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}


// Everything `status` found; rendered as text or (--json) as one JSON object.
struct ReleaseStatus {
    std::string step;
    std::string name;
    std::string namespace_name;
    std::string want_chart;
    bool installed = false;
    std::string status;  // helm's: deployed, failed, pending-install, ...
    std::string chart;
    std::vector<Workload> workloads;
};

struct StatusReport {
    std::string lab;
    std::string context;
    std::optional<Journal> journal;
    std::string journal_error;
    std::vector<ReleaseStatus> releases;
    bool load_balancer = true;
    std::string gateway_ip;
    std::string gateway_error;
    std::optional<bool> gateway_answers;
    std::string gateway_probe_error;
    std::vector<Endpoint> urls;
    std::string mtls_mode;  // "" unknown
    std::string mtls_source;
    std::string kiali_auth;
    bool kiali_routed = false;
    std::vector<std::string> warnings;
    bool healthy = true;
};

std::string status_json(const StatusReport& r, const Plan& plan) {
    std::string o = "{\n  \"lab\": " + json_quote(r.lab) + ",\n  \"context\": " + json_quote(r.context) + ",\n";
    o += "  \"healthy\": " + std::string(r.healthy ? "true" : "false") + ",\n";
    o += "  \"journal\": ";
    if (r.journal) {
        o += "{\"state\": " + json_quote(r.journal->state) + ", \"updated_at\": " + json_quote(r.journal->updated_at) + "}";
    } else {
        o += "{\"error\": " + json_quote(r.journal_error) + "}";
    }
    o += ",\n  \"steps\": [";
    bool first = true;
    for (const auto& st : plan.steps) {
        o += first ? "\n" : ",\n";
        first = false;
        o += "    {\"id\": " + json_quote(st.id) + ", \"layer\": " + std::to_string(st.layer) + ", \"status\": ";
        const StepRecord* rec = nullptr;
        if (r.journal) {
            const auto it = r.journal->steps.find(st.id);
            if (it != r.journal->steps.end()) rec = &it->second;
        }
        if (rec == nullptr) {
            o += "\"pending\"";
        } else {
            // "changed": done for an older spec; `up` would run it again.
            const bool current = rec->fingerprint == step_fingerprint(st);
            o += json_quote(rec->status == StepStatus::Done && !current ? "changed" : std::string(to_string(rec->status)));
            o += ", \"finished_at\": " + json_quote(rec->finished_at);
            if (!rec->message.empty()) o += ", \"message\": " + json_quote(rec->message);
        }
        o += "}";
    }
    o += first ? "],\n" : "\n  ],\n";
    o += "  \"releases\": [";
    first = true;
    for (const auto& rel : r.releases) {
        o += first ? "\n" : ",\n";
        first = false;
        o += "    {\"step\": " + json_quote(rel.step) + ", \"name\": " + json_quote(rel.name) +
             ", \"namespace\": " + json_quote(rel.namespace_name) + ", \"status\": " +
             json_quote(rel.installed ? rel.status : std::string("not-installed")) +
             ", \"chart\": " + json_quote(rel.chart) + ", \"wanted_chart\": " + json_quote(rel.want_chart) +
             ", \"workloads\": [";
        for (std::size_t i = 0; i < rel.workloads.size(); ++i) {
            const auto& w = rel.workloads[i];
            o += (i ? ", " : "") + std::string("{\"kind\": ") + json_quote(w.kind) + ", \"name\": " + json_quote(w.name) +
                 ", \"ready\": " + std::to_string(w.ready) + ", \"wanted\": " + std::to_string(w.wanted) + "}";
        }
        o += "]}";
    }
    o += first ? "],\n" : "\n  ],\n";
    o += "  \"gateway\": {\"address\": " + json_quote(r.gateway_ip);
    if (!r.load_balancer) o += ", \"load_balancer\": false";
    if (!r.gateway_error.empty()) o += ", \"error\": " + json_quote(r.gateway_error);
    if (r.gateway_answers) o += ", \"answers\": " + std::string(*r.gateway_answers ? "true" : "false");
    if (!r.gateway_probe_error.empty()) o += ", \"probe_error\": " + json_quote(r.gateway_probe_error);
    o += "},\n  \"urls\": {";
    for (std::size_t i = 0; i < r.urls.size(); ++i)
        o += (i ? ", " : "") + json_quote(r.urls[i].addon) + ": " + json_quote(r.urls[i].url);
    o += "},\n  \"mtls\": " + json_quote(r.mtls_mode.empty() ? "unknown" : r.mtls_mode) + ",\n";
    o += "  \"kiali\": {\"auth\": " + json_quote(r.kiali_auth) + ", \"exposed\": " + (r.kiali_routed ? "true" : "false") +
         "},\n";
    o += "  \"warnings\": " + json_string_array(r.warnings) + "\n}\n";
    return o;
}

}  // namespace

int cmd_status(const CommandOptions& opts, Session& s) {
    auto lab_or = load_lab(opts, s, false);
    if (!lab_or) return lab_or.error();
    const Lab& lab = *lab_or;
    const Plan& plan = lab.plan;
    StatusReport rep;
    rep.lab = lab.spec.name;
    bool& healthy = rep.healthy;
    std::vector<std::string>& warnings = rep.warnings;
    // Text goes to `out` as before; --json collects the same facts and prints them at the end.
    std::ostringstream discard;
    std::ostream& out = opts.json ? discard : s.out;

    std::string context = plan.kube_context;
    if (context.empty()) {
        auto r = run_command(s, {"kubectl", "config", "current-context"}, std::nullopt, std::chrono::seconds(30));
        if (r.result.spawn_failed) {
            s.err << "kubectl is not on PATH\n";
            return kExitFailure;
        }
        context = r.result.ok() ? first_line(r.result.out) : std::string("(none)");
    }
    rep.context = context;
    out << "lab " << lab.spec.name << ", context " << context;
    if (auto j = load_journal(lab.state_dir)) {
        rep.journal = *j;
        if (!j->state.empty()) out << " (last up: " << j->state << ", " << j->updated_at << ")";
    } else {
        rep.journal_error = j.error();
        s.err << "warning: journal: " << j.error() << "\n";
    }
    out << "\n";

    bool listed = false;
    const auto releases = list_releases(s, plan, &listed);
    if (!listed) {
        s.err << "cannot list helm releases: is the cluster reachable? (context " << context << ")\n";
        return kExitFailure;
    }
    std::vector<Workload> workloads;
    if (auto node = get_json(s, with_context({"kubectl", "get", "deployments,daemonsets", "--all-namespaces", "-o", "json"}, plan))) {
        for (const auto& item : detail::at(*node, {"items"})) {
            Workload w;
            w.kind = detail::scalar_at(item, {"kind"});
            w.name = detail::scalar_at(item, {"metadata", "name"});
            w.namespace_name = detail::scalar_at(item, {"metadata", "namespace"});
            w.release = detail::scalar_at(item, {"metadata", "annotations", "meta.helm.sh/release-name"});
            if (w.kind == "DaemonSet") {
                w.ready = as_long(detail::scalar_at(item, {"status", "numberReady"}));
                w.wanted = as_long(detail::scalar_at(item, {"status", "desiredNumberScheduled"}));
            } else {
                w.ready = as_long(detail::scalar_at(item, {"status", "readyReplicas"}));
                const std::string replicas = detail::scalar_at(item, {"spec", "replicas"});
                w.wanted = replicas.empty() ? 1 : as_long(replicas);
            }
            workloads.push_back(std::move(w));
        }
    }

    out << "components:\n";
    for (const auto& step : plan.steps) {
        if (!step.release) continue;
        const auto& want = *step.release;
        auto it = std::find_if(releases.begin(), releases.end(), [&](const ReleaseInfo& r) {
            return r.name == want.name && r.namespace_name == want.namespace_name;
        });
        ReleaseStatus& rs = rep.releases.emplace_back();
        rs.step = step.id;
        rs.name = want.name;
        rs.namespace_name = want.namespace_name;
        rs.want_chart = chart_label(want);
        std::string line = "  " + pad(want.name, 15);
        if (it == releases.end()) {
            line += "not installed";
            healthy = false;
        } else {
            rs.installed = true;
            rs.status = it->status;
            rs.chart = it->chart;
            line += pad(it->status, 10) + pad(it->chart, 22);
            if (it->status != "deployed") healthy = false;
            if (is_stuck_status(it->status))
                warnings.push_back("release " + want.name + " is " + it->status +
                                   ": a helm operation never finished; `meshproof up` clears it (rollback or uninstall) "
                                   "and installs again");
            if (it->chart != chart_label(want)) line += "(spec: " + chart_label(want) + ") ";
            for (const auto& w : workloads) {
                if (w.release != want.name || w.namespace_name != want.namespace_name) continue;
                rs.workloads.push_back(w);
                line += w.name + " " + std::to_string(w.ready) + "/" + std::to_string(w.wanted) + "  ";
                if (w.ready < w.wanted) healthy = false;
            }
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out << line << "\n";
    }

    // Gateway address and whether it answers.
    std::string ip;
    if (lab.spec.ingress.service_type == ServiceType::LoadBalancer) {
        std::string why;
        ip = gateway_address(s, plan, &why);
        rep.gateway_ip = ip;
        if (ip.empty()) {
            rep.gateway_error = why;
            out << "gateway: no LoadBalancer address (" << why << ")\n";
            healthy = false;
        } else {
            const auto r = s.prober.http_get(ip, 15021, "", "/healthz/ready", std::chrono::seconds(3));
            rep.gateway_answers = r.answered && r.status == 200;
            if (r.answered && r.status == 200) {
                out << "gateway: " << ip << " (answers on 15021)\n";
            } else {
                rep.gateway_probe_error = r.answered ? "HTTP " + std::to_string(r.status) : r.error;
                out << "gateway: " << ip << " (does not answer: " << rep.gateway_probe_error << ")\n";
                warnings.push_back("the gateway IP " + ip +
                                   " does not answer from here: MetalLB may assign it without announcing it "
                                   "(L2Advertisement, interfaces, the nodes' LAN)");
                healthy = false;
            }
        }
    } else {
        rep.load_balancer = false;
        out << "gateway: Service type " << to_string(lab.spec.ingress.service_type) << " (no LoadBalancer IP)\n";
    }
    const auto urls = exposed_urls(lab.spec);
    rep.urls = urls;
    if (!urls.empty()) {
        out << "urls:\n";
        std::string hosts;
        for (const auto& u : urls) {
            out << "  " << pad(u.addon + ":", 12) << u.url << "\n";
            const auto start = u.url.find("://") + 3;
            hosts += " " + u.url.substr(start, u.url.find_first_of(":/", start) - start);
        }
        if (!ip.empty()) out << "  (/etc/hosts: " << ip << hosts << ")\n";
    }

    // mTLS mode, from the PeerAuthentications actually in the cluster.
    if (auto node = get_json(s, with_context({"kubectl", "get", "peerauthentications.security.istio.io", "--all-namespaces", "-o",
                                     "json"},
                                    plan))) {
        std::string mesh_mode;
        std::vector<std::string> weaker;
        for (const auto& item : detail::at(*node, {"items"})) {
            const std::string ns = detail::scalar_at(item, {"metadata", "namespace"});
            const std::string name = detail::scalar_at(item, {"metadata", "name"});
            std::string mode = detail::scalar_at(item, {"spec", "mtls", "mode"});
            if (mode.empty()) mode = "UNSET";
            const bool has_selector = static_cast<bool>(detail::at(item, {"spec", "selector"}));
            if (ns == "istio-system" && !has_selector) mesh_mode = mode;
            else if (mode == "PERMISSIVE" || mode == "DISABLE") weaker.push_back(ns + "/" + name + " " + mode);
        }
        rep.mtls_mode = mesh_mode.empty() ? "PERMISSIVE" : mesh_mode;
        if (mesh_mode.empty()) {
            out << "mTLS: PERMISSIVE (no mesh-wide PeerAuthentication: Istio's default)\n";
            warnings.push_back("mTLS is PERMISSIVE: workloads still accept plaintext, which a sniffer can read");
        } else {
            out << "mTLS: " << mesh_mode << " (mesh-wide PeerAuthentication in istio-system)\n";
            if (mesh_mode == "PERMISSIVE" || mesh_mode == "DISABLE" || mesh_mode == "UNSET")
                warnings.push_back("mTLS is " + mesh_mode + ": workloads still accept plaintext, which a sniffer can read");
        }
        for (const auto& w : weaker) warnings.push_back("PeerAuthentication " + w + " weakens the mesh-wide mode");
    } else {
        out << "mTLS: unknown (Istio CRDs not installed?)\n";
    }

    // MetalLB: a pool nobody announces is the classic "IP assigned but unreachable".
    if (lab.spec.metallb.enabled) {
        if (auto node = get_json(s, with_context({"kubectl", "get",
                                         "ipaddresspools.metallb.io,l2advertisements.metallb.io,bgpadvertisements.metallb.io",
                                         "--all-namespaces", "-o", "json"},
                                        plan))) {
            std::vector<std::string> pools;
            bool announce_all = false;
            std::set<std::string> announced;
            for (const auto& item : detail::at(*node, {"items"})) {
                const std::string kind = detail::scalar_at(item, {"kind"});
                if (kind == "IPAddressPool") {
                    pools.push_back(detail::scalar_at(item, {"metadata", "name"}));
                    continue;
                }
                const YAML::Node names = detail::at(item, {"spec", "ipAddressPools"});
                const YAML::Node selectors = detail::at(item, {"spec", "ipAddressPoolSelectors"});
                if ((!names || names.size() == 0) && (!selectors || selectors.size() == 0)) announce_all = true;
                if (names && names.IsSequence()) {
                    for (const auto& n : names) announced.insert(n.Scalar());
                }
                // Selector-based advertisements: assume they cover (we do not evaluate label selectors).
                if (selectors && selectors.size() > 0) announce_all = true;
            }
            for (const auto& p : pools) {
                if (!announce_all && announced.count(p) == 0)
                    warnings.push_back("MetalLB pool " + p +
                                       " has no L2Advertisement (or BGPAdvertisement): its IPs are assigned but never "
                                       "announced");
            }
            if (pools.empty()) out << "metallb: no IPAddressPool\n";
        }
    }

    // Kiali: anonymous auth on a Kiali reachable through the gateway is the whole mesh, on the LAN.
    if (lab.spec.addons.kiali.enabled) {
        std::string strategy;
        if (auto cm = get_json(s, with_context({"kubectl", "get", "configmap", "kiali", "--namespace", "istio-system", "-o", "json"},
                                      plan))) {
            const std::string config = detail::scalar_at(*cm, {"data", "config.yaml"});
            if (auto cfg = detail::parse_json(config)) strategy = detail::scalar_at(*cfg, {"auth", "strategy"});
        }
        bool routed = false;
        if (auto vs = get_json(s, with_context({"kubectl", "get", "virtualservices.networking.istio.io", "--all-namespaces", "-o",
                                       "json"},
                                      plan))) {
            for (const auto& item : detail::at(*vs, {"items"})) {
                for (const auto& http : detail::at(item, {"spec", "http"})) {
                    for (const auto& route : detail::at(http, {"route"})) {
                        const std::string host = detail::scalar_at(route, {"destination", "host"});
                        if (host == "kiali" || host.rfind("kiali.", 0) == 0) routed = true;
                    }
                }
            }
        }
        rep.kiali_auth = strategy;
        rep.kiali_routed = routed;
        if (!strategy.empty()) out << "kiali: auth strategy " << strategy << (routed ? ", exposed through the gateway" : "") << "\n";
        if (strategy == "anonymous" && routed)
            warnings.push_back("Kiali uses anonymous auth and is exposed through the gateway: anyone on the LAN can see "
                               "and change the mesh (set addons.kiali.auth: token)");
    }

    if (!warnings.empty()) {
        out << "warnings:\n";
        for (const auto& w : warnings) out << "  - " << w << "\n";
    }
    out << (healthy ? "healthy\n" : "not healthy\n");
    if (opts.json) s.out << status_json(rep, plan);
    return healthy ? kExitOk : kExitFailure;
}

}  // namespace meshproof::provision
