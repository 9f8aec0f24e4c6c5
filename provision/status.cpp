// `meshproof status`: what is installed and healthy, where it is reachable, and the warnings a
// homelab owner needs (Kiali anonymous and exposed, a pool nobody announces, PERMISSIVE mTLS, an IP
// that does not answer). Read-only.
#include <algorithm>
#include <set>

#include "provision/engine.hpp"
#include "provision/journal.hpp"
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

}  // namespace

int cmd_status(const CommandOptions& opts, Session& s) {
    auto lab_or = load_lab(opts, s, false);
    if (!lab_or) return lab_or.error();
    const Lab& lab = *lab_or;
    const Plan& plan = lab.plan;
    bool healthy = true;
    std::vector<std::string> warnings;

    std::string context = plan.kube_context;
    if (context.empty()) {
        auto r = run_command(s, {"kubectl", "config", "current-context"}, std::nullopt, std::chrono::seconds(30));
        if (r.result.spawn_failed) {
            s.err << "kubectl is not on PATH\n";
            return kExitFailure;
        }
        context = r.result.ok() ? first_line(r.result.out) : std::string("(none)");
    }
    s.out << "lab " << lab.spec.name << ", context " << context;
    if (auto j = load_journal(lab.state_dir); j && !j->state.empty())
        s.out << " (last up: " << j->state << ", " << j->updated_at << ")";
    s.out << "\n";

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

    s.out << "components:\n";
    for (const auto& step : plan.steps) {
        if (!step.release) continue;
        const auto& want = *step.release;
        auto it = std::find_if(releases.begin(), releases.end(), [&](const ReleaseInfo& r) {
            return r.name == want.name && r.namespace_name == want.namespace_name;
        });
        std::string line = "  " + pad(want.name, 15);
        if (it == releases.end()) {
            line += "not installed";
            healthy = false;
        } else {
            line += pad(it->status, 10) + pad(it->chart, 22);
            if (it->status != "deployed") healthy = false;
            if (it->chart != chart_label(want)) line += "(spec: " + chart_label(want) + ") ";
            for (const auto& w : workloads) {
                if (w.release != want.name || w.namespace_name != want.namespace_name) continue;
                line += w.name + " " + std::to_string(w.ready) + "/" + std::to_string(w.wanted) + "  ";
                if (w.ready < w.wanted) healthy = false;
            }
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        s.out << line << "\n";
    }

    // Gateway address and whether it answers.
    std::string ip;
    if (lab.spec.ingress.service_type == ServiceType::LoadBalancer) {
        std::string why;
        ip = gateway_address(s, plan, &why);
        if (ip.empty()) {
            s.out << "gateway: no LoadBalancer address (" << why << ")\n";
            healthy = false;
        } else {
            const auto r = s.prober.http_get(ip, 15021, "", "/healthz/ready", std::chrono::seconds(3));
            if (r.answered && r.status == 200) {
                s.out << "gateway: " << ip << " (answers on 15021)\n";
            } else {
                s.out << "gateway: " << ip << " (does not answer: " << (r.answered ? "HTTP " + std::to_string(r.status) : r.error)
                      << ")\n";
                warnings.push_back("the gateway IP " + ip +
                                   " does not answer from here: MetalLB may assign it without announcing it "
                                   "(L2Advertisement, interfaces, the nodes' LAN)");
                healthy = false;
            }
        }
    } else {
        s.out << "gateway: Service type " << to_string(lab.spec.ingress.service_type) << " (no LoadBalancer IP)\n";
    }
    const auto urls = exposed_urls(lab.spec);
    if (!urls.empty()) {
        s.out << "urls:\n";
        std::string hosts;
        for (const auto& u : urls) {
            s.out << "  " << pad(u.addon + ":", 12) << u.url << "\n";
            const auto start = u.url.find("://") + 3;
            hosts += " " + u.url.substr(start, u.url.find_first_of(":/", start) - start);
        }
        if (!ip.empty()) s.out << "  (/etc/hosts: " << ip << hosts << ")\n";
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
        if (mesh_mode.empty()) {
            s.out << "mTLS: PERMISSIVE (no mesh-wide PeerAuthentication: Istio's default)\n";
            warnings.push_back("mTLS is PERMISSIVE: workloads still accept plaintext, which a sniffer can read");
        } else {
            s.out << "mTLS: " << mesh_mode << " (mesh-wide PeerAuthentication in istio-system)\n";
            if (mesh_mode == "PERMISSIVE" || mesh_mode == "DISABLE" || mesh_mode == "UNSET")
                warnings.push_back("mTLS is " + mesh_mode + ": workloads still accept plaintext, which a sniffer can read");
        }
        for (const auto& w : weaker) warnings.push_back("PeerAuthentication " + w + " weakens the mesh-wide mode");
    } else {
        s.out << "mTLS: unknown (Istio CRDs not installed?)\n";
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
            if (pools.empty()) s.out << "metallb: no IPAddressPool\n";
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
        if (!strategy.empty()) s.out << "kiali: auth strategy " << strategy << (routed ? ", exposed through the gateway" : "") << "\n";
        if (strategy == "anonymous" && routed)
            warnings.push_back("Kiali uses anonymous auth and is exposed through the gateway: anyone on the LAN can see "
                               "and change the mesh (set addons.kiali.auth: token)");
    }

    if (!warnings.empty()) {
        s.out << "warnings:\n";
        for (const auto& w : warnings) s.out << "  - " << w << "\n";
    }
    s.out << (healthy ? "healthy\n" : "not healthy\n");
    return healthy ? kExitOk : kExitFailure;
}

}  // namespace meshproof::provision
