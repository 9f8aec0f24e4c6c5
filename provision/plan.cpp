#include "provision/plan.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "provision/json.hpp"
#include "provision/manifests.hpp"
#include "provision/yaml_util.hpp"

namespace meshproof::provision {

const Step* Plan::find(std::string_view id) const {
    for (const auto& s : steps) {
        if (s.id == id) return &s;
    }
    return nullptr;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0xf];
    }
    return out;
}

namespace {

struct Repo {
    std::string name;
    std::string url;
};

const Repo kIstioRepo{"istio", "https://istio-release.storage.googleapis.com/charts"};
const Repo kMetallbRepo{"metallb", "https://metallb.github.io/metallb"};
const Repo kKialiRepo{"kiali", "https://kiali.org/helm-charts"};
const Repo kPrometheusRepo{"prometheus-community", "https://prometheus-community.github.io/helm-charts"};
const Repo kGrafanaRepo{"grafana", "https://grafana.github.io/helm-charts"};

class Builder {
public:
    explicit Builder(const LabSpec& spec) : spec_(spec) {}

    tl::expected<Plan, std::string> build();

private:
    std::vector<std::string> kubectl(std::vector<std::string> args) const {
        args.insert(args.begin(), "kubectl");
        if (!spec_.kube_context.empty()) {
            args.push_back("--context");
            args.push_back(spec_.kube_context);
        }
        return args;
    }
    std::vector<std::string> helm(std::vector<std::string> args) const {
        // Repositories are local helm configuration: no cluster, no context.
        const bool local = !args.empty() && args.front() == "repo";
        args.insert(args.begin(), "helm");
        if (!local && !spec_.kube_context.empty()) {
            args.push_back("--kube-context");
            args.push_back(spec_.kube_context);
        }
        return args;
    }

    std::string helm_timeout() const { return std::to_string(spec_.helm_timeout_seconds) + "s"; }

    void add_repo(const Repo& repo) {
        Step s;
        s.id = "repo-" + repo.name;
        s.title = "helm repository " + repo.name;
        s.argv = helm({"repo", "add", repo.name, repo.url, "--force-update"});
        s.timeout = std::chrono::seconds(120);
        s.check = CheckKind::RepoPresent;
        s.repo_name = repo.name;
        s.repo_url = repo.url;
        repo_names_.push_back(repo.name);
        steps_.push_back(std::move(s));
    }

    // helm upgrade --install with values on stdin (`-f -`) when there are any.
    Step& add_release(std::string id, std::vector<std::string> needs, const HelmRelease& rel, bool create_namespace,
                      const YAML::Node& ours, const std::string& user_values_yaml, std::string title) {
        YAML::Node values = YAML::Clone(ours);
        if (!user_values_yaml.empty()) values = detail::merge_values(values, YAML::Load(user_values_yaml));
        const std::string values_text = detail::emit_yaml(values);

        std::vector<std::string> args = {"upgrade", "--install", rel.name, rel.chart, "--namespace", rel.namespace_name};
        if (create_namespace) args.push_back("--create-namespace");
        args.insert(args.end(), {"--version", rel.version, "--wait", "--timeout", helm_timeout()});
        if (!values_text.empty()) args.insert(args.end(), {"-f", "-"});

        Step s;
        s.id = std::move(id);
        s.needs = std::move(needs);
        s.title = std::move(title);
        s.argv = helm(std::move(args));
        if (!values_text.empty()) s.stdin_text = values_text;
        s.timeout = std::chrono::seconds(spec_.helm_timeout_seconds + 60);
        s.check = CheckKind::ReleaseDeployed;
        s.release = rel;
        s.undo.push_back({helm({"uninstall", rel.name, "--namespace", rel.namespace_name, "--wait", "--timeout",
                                helm_timeout()}),
                          std::nullopt, false, ""});
        steps_.push_back(std::move(s));
        return steps_.back();
    }

    Step& add_apply(std::string id, std::vector<std::string> needs, std::string manifest, std::string title,
                    std::string namespace_flag = {}) {
        std::vector<std::string> args = {"apply", "--server-side", "--field-manager=meshproof-" + id, "--force-conflicts"};
        std::vector<std::string> del = {"delete", "--ignore-not-found", "--wait=false"};
        if (!namespace_flag.empty()) {
            args.insert(args.end(), {"--namespace", namespace_flag});
            del.insert(del.end(), {"--namespace", namespace_flag});
        }
        args.insert(args.end(), {"-f", "-"});
        del.insert(del.end(), {"-f", "-"});
        Step s;
        s.id = std::move(id);
        s.needs = std::move(needs);
        s.title = std::move(title);
        s.argv = kubectl(std::move(args));
        s.stdin_text = manifest;
        s.timeout = std::chrono::seconds(90);
        s.check = CheckKind::ObjectsExist;
        s.apply_namespace = namespace_flag;
        s.undo.push_back({kubectl(std::move(del)), redact_secrets(manifest), false, ""});
        steps_.push_back(std::move(s));
        return steps_.back();
    }

    tl::expected<std::string, std::string> render(std::string_view path, const TemplateValues& v) {
        auto text = manifest_template(path);
        if (!text) return tl::unexpected(text.error());
        return render_template(path, *text, v);
    }

    // Concatenates rendered documents with "---" separators.
    tl::expected<std::string, std::string> render_all(const std::vector<std::pair<std::string, TemplateValues>>& docs) {
        std::string out;
        for (const auto& [path, values] : docs) {
            auto text = render(path, values);
            if (!text) return tl::unexpected(text.error());
            if (!out.empty()) out += "---\n";
            out += *text;
            if (!out.empty() && out.back() != '\n') out += '\n';
        }
        return out;
    }

    const LabSpec& spec_;
    std::vector<Step> steps_;
    std::vector<std::string> repo_names_;
};

tl::expected<Plan, std::string> Builder::build() {
    const auto& spec = spec_;
    const bool ambient = spec.istio.mode == MeshMode::Ambient;
    const bool lb = spec.ingress.service_type == ServiceType::LoadBalancer;

    struct Exposed {
        std::string addon;
        std::string host;
        std::string service;
        int port;
    };
    std::vector<Exposed> exposed;
    if (spec.exposure.enabled) {
        if (spec.addons.kiali.enabled && !spec.addons.kiali.host.empty())
            exposed.push_back({"kiali", spec.addons.kiali.host, "kiali", 20001});
        if (spec.addons.prometheus.enabled && !spec.addons.prometheus.host.empty())
            exposed.push_back({"prometheus", spec.addons.prometheus.host, "prometheus-server", 80});
        if (spec.addons.grafana.enabled && !spec.addons.grafana.host.empty())
            exposed.push_back({"grafana", spec.addons.grafana.host, "grafana", 80});
    }

    // --- helm repositories
    if (spec.metallb.enabled) add_repo(kMetallbRepo);
    add_repo(kIstioRepo);
    if (spec.addons.kiali.enabled) add_repo(kKialiRepo);
    if (spec.addons.prometheus.enabled) add_repo(kPrometheusRepo);
    if (spec.addons.grafana.enabled) add_repo(kGrafanaRepo);
    {
        Step s;
        s.id = "repo-update";
        s.title = "refresh the chart indexes";
        for (const auto& n : repo_names_) s.needs.push_back("repo-" + n);
        std::vector<std::string> args = {"repo", "update"};
        args.insert(args.end(), repo_names_.begin(), repo_names_.end());
        s.argv = helm(std::move(args));
        s.timeout = std::chrono::seconds(180);
        steps_.push_back(std::move(s));
    }

    // --- MetalLB
    std::vector<std::string> ingress_needs = {"istiod"};
    if (spec.metallb.enabled) {
        auto ns = render("metallb/namespace.yaml", {});
        if (!ns) return tl::unexpected(ns.error());
        Step& nss = add_apply("metallb-namespace", {}, *ns, "metallb-system namespace (privileged pod security)");
        nss.undo.front().purge_only = true;
        nss.undo.front().kept_note = "namespace metallb-system kept (holds the kept metallb release)";

        YAML::Node none(YAML::NodeType::Map);
        Step& m = add_release("metallb", {"repo-update", "metallb-namespace"},
                              {"metallb", "metallb-system", "metallb/metallb", spec.charts.metallb}, false, none,
                              spec.metallb.values_yaml, "MetalLB controller and speaker");
        // The chart templates the MetalLB CRDs: uninstalling it deletes them (and every pool).
        m.undo.front().purge_only = true;
        m.undo.front().kept_note = "metallb release kept: its chart owns the MetalLB CRDs (use --purge)";

        Step r;
        r.id = "metallb-ready";
        r.needs = {"metallb"};
        r.title = "wait for the MetalLB controller (it serves the validating webhook)";
        r.argv = kubectl({"rollout", "status", "deployment/metallb-controller", "--namespace", "metallb-system",
                          "--timeout=180s"});
        r.timeout = std::chrono::seconds(200);
        steps_.push_back(std::move(r));

        TemplateValues pv;
        pv.scalars["POOL_NAME"] = spec.metallb.pool_name;
        pv.lists["ADDRESS"] = spec.metallb.addresses;
        TemplateValues lv;
        lv.scalars["POOL_NAME"] = spec.metallb.pool_name;
        lv.lists["INTERFACE"] = spec.metallb.interfaces;
        if (!spec.metallb.interfaces.empty()) lv.flags.insert("INTERFACES");
        std::vector<std::pair<std::string, TemplateValues>> docs = {{"metallb/ip-address-pool.yaml", pv}};
        if (spec.metallb.l2_advertisement) docs.emplace_back("metallb/l2-advertisement.yaml", lv);
        auto pool = render_all(docs);
        if (!pool) return tl::unexpected(pool.error());
        add_apply("metallb-pool", {"metallb-ready"}, *pool,
                  spec.metallb.l2_advertisement ? "IPAddressPool + L2Advertisement" : "IPAddressPool (no L2Advertisement)");
        if (lb) ingress_needs.push_back("metallb-pool");
    }

    // --- Istio
    {
        YAML::Node base_values;
        base_values["defaultRevision"] = "default";
        Step& b = add_release("istio-base", {"repo-update"}, {"istio-base", "istio-system", "istio/base", spec.charts.istio},
                              true, base_values, spec.istio.base_values_yaml, "Istio CRDs and cluster roles");
        b.undo.front().purge_only = true;
        b.undo.front().kept_note = "istio-base release kept: it owns the Istio CRDs (use --purge)";

        YAML::Node istiod_values(YAML::NodeType::Map);
        if (ambient) istiod_values["profile"] = "ambient";
        add_release("istiod", {"istio-base"}, {"istiod", "istio-system", "istio/istiod", spec.charts.istio}, false,
                    istiod_values, spec.istio.istiod_values_yaml, "Istio control plane");
        if (ambient) {
            YAML::Node cni_values;
            cni_values["profile"] = "ambient";
            add_release("istio-cni", {"istiod"}, {"istio-cni", "istio-system", "istio/cni", spec.charts.istio}, false,
                        cni_values, spec.istio.cni_values_yaml, "Istio CNI node agent (ambient)");
            YAML::Node none(YAML::NodeType::Map);
            add_release("ztunnel", {"istio-cni"}, {"ztunnel", "istio-system", "istio/ztunnel", spec.charts.istio}, false,
                        none, spec.istio.ztunnel_values_yaml, "ztunnel node proxy (ambient)");
        }
    }

    // --- ingress gateway
    {
        YAML::Node gw;
        gw["service"]["type"] = std::string(to_string(spec.ingress.service_type));
        YAML::Node ports(YAML::NodeType::Sequence);
        auto port = [](const std::string& name, int p, int target) {
            YAML::Node n;
            n["name"] = name;
            n["port"] = p;
            n["protocol"] = "TCP";
            n["targetPort"] = target;
            return n;
        };
        ports.push_back(port("status-port", 15021, 15021));
        ports.push_back(port("http2", spec.ingress.http.port, spec.ingress.http.target_port));
        ports.push_back(port("https", spec.ingress.https.port, spec.ingress.https.target_port));
        gw["service"]["ports"] = ports;
        Step& g = add_release("istio-ingress", ingress_needs,
                              {spec.ingress.release, spec.ingress.namespace_name, "istio/gateway", spec.charts.istio}, true,
                              gw, spec.ingress.values_yaml,
                              "ingress gateway (" + std::string(to_string(spec.ingress.service_type)) + ")");
        g.undo.push_back({kubectl({"delete", "namespace", spec.ingress.namespace_name, "--ignore-not-found",
                                   "--wait=false"}),
                          std::nullopt, true, ""});

        if (lb) {
            Step w;
            w.id = "gateway-ip";
            w.needs = {"istio-ingress"};
            w.kind = StepKind::WaitIp;
            w.title = "wait for the gateway's LoadBalancer IP";
            w.argv = kubectl({"get", "service", spec.ingress.release, "--namespace", spec.ingress.namespace_name, "-o",
                              "json"});
            w.timeout = std::chrono::seconds(180);
            w.check = CheckKind::GatewayIp;
            w.probe = ProbeSpec{spec.ingress.namespace_name, spec.ingress.release, 0, "", "", 0};
            steps_.push_back(std::move(w));

            Step p;
            p.id = "gateway-answers";
            p.needs = {"gateway-ip"};
            p.kind = StepKind::Probe;
            p.title = "check that the IP answers (gateway health port)";
            p.probe = ProbeSpec{spec.ingress.namespace_name, spec.ingress.release, 15021, "", "/healthz/ready", 200};
            p.argv = {"meshproof", "probe", "--service", spec.ingress.namespace_name + "/" + spec.ingress.release,
                      "--port", "15021", "--path", "/healthz/ready", "--expect", "200"};
            p.timeout = std::chrono::seconds(60);
            p.check = CheckKind::Probe;
            steps_.push_back(std::move(p));
        }
    }

    // --- addons
    std::vector<std::string> route_needs = {"istio-ingress"};
    if (spec.addons.prometheus.enabled) {
        YAML::Node v;
        v["alertmanager"]["enabled"] = false;
        v["kube-state-metrics"]["enabled"] = false;
        v["prometheus-node-exporter"]["enabled"] = false;
        v["prometheus-pushgateway"]["enabled"] = false;
        v["server"]["persistentVolume"]["enabled"] = false;
        v["server"]["global"]["scrape_interval"] = "15s";
        add_release("prometheus", {"repo-update", "istiod"},
                    {"prometheus", "istio-system", "prometheus-community/prometheus", spec.charts.prometheus}, false, v,
                    spec.addons.prometheus.values_yaml, "Prometheus (scrapes the mesh's annotated pods)");
        route_needs.push_back("prometheus");
    }
    if (spec.addons.kiali.enabled) {
        YAML::Node v;
        v["auth"]["strategy"] = std::string(to_string(spec.addons.kiali_auth));
        v["deployment"]["ingress"]["enabled"] = false;
        v["external_services"]["prometheus"]["url"] = "http://prometheus-server.istio-system.svc:80";
        v["external_services"]["tracing"]["enabled"] = false;
        if (spec.addons.grafana.enabled) {
            v["external_services"]["grafana"]["enabled"] = true;
            v["external_services"]["grafana"]["internal_url"] = "http://grafana.istio-system.svc:80";
            if (spec.exposure.enabled && !spec.addons.grafana.host.empty())
                v["external_services"]["grafana"]["external_url"] =
                    std::string(spec.exposure.tls ? "https://" : "http://") + spec.addons.grafana.host;
        } else {
            v["external_services"]["grafana"]["enabled"] = false;
        }
        v["server"]["web_root"] = "/kiali";
        add_release("kiali", {"repo-update", "istiod"},
                    {"kiali", "istio-system", "kiali/kiali-server", spec.charts.kiali}, false, v,
                    spec.addons.kiali.values_yaml,
                    "Kiali (auth strategy: " + std::string(to_string(spec.addons.kiali_auth)) + ")");
        route_needs.push_back("kiali");
    }
    if (spec.addons.grafana.enabled) {
        YAML::Node ds;
        ds["name"] = "Prometheus";
        ds["type"] = "prometheus";
        ds["access"] = "proxy";
        ds["url"] = "http://prometheus-server.istio-system.svc:80";
        ds["isDefault"] = true;
        YAML::Node v;
        v["datasources"]["datasources.yaml"]["apiVersion"] = 1;
        v["datasources"]["datasources.yaml"]["datasources"].push_back(ds);
        add_release("grafana", {"repo-update", "istiod"},
                    {"grafana", "istio-system", "grafana/grafana", spec.charts.grafana}, false, v,
                    spec.addons.grafana.values_yaml, "Grafana (Prometheus data source)");
        route_needs.push_back("grafana");
    }

    // --- in-cluster auditor (manifests/audit), after Prometheus so its first scrape finds the DaemonSet
    if (spec.auditor.enabled) {
        auto base = render_all({{"audit/namespace.yaml", {}}, {"audit/rbac.yaml", {}}});
        if (!base) return tl::unexpected(base.error());
        add_apply("auditor-namespace", {spec.addons.prometheus.enabled ? "prometheus" : "istiod"}, *base,
                  "meshproof-system namespace + read-only RBAC for the auditor");

        // Values are rendered bare: validation keeps quotes and backslashes out of them.
        TemplateValues v;
        v.scalars["AUDITOR_IMAGE"] = "\"" + spec.auditor.image + "\"";
        v.scalars["AUDITOR_SCHEDULE"] = "\"" + spec.auditor.schedule + "\"";
        v.scalars["PUSHGATEWAY"] = "\"" + spec.auditor.pushgateway + "\"";
        std::vector<std::pair<std::string, TemplateValues>> docs = {{"audit/daemonset.yaml", v}};
        if (!spec.auditor.schedule.empty()) docs.emplace_back("audit/cronjob.yaml", v);
        auto workloads = render_all(docs);
        if (!workloads) return tl::unexpected(workloads.error());
        std::string text = *workloads;
        if (!spec.auditor.schedule.empty()) {
            // kustomization.yaml's configMapGenerator, done here: the CronJob mounts the policy as policy.yaml.
            auto policy = manifest_template("audit/audit-policy.yaml");
            if (!policy) return tl::unexpected(policy.error());
            text += "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: meshproof-policy\n"
                    "  namespace: meshproof-system\n  labels:\n    app.kubernetes.io/name: meshproof\n"
                    "data:\n  policy.yaml: |\n";
            std::size_t pos = 0;
            while (pos < policy->size()) {
                const auto nl = policy->find('\n', pos);
                const std::string line = policy->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
                text += (line.empty() ? "" : "    ") + line + "\n";
                if (nl == std::string::npos) break;
                pos = nl + 1;
            }
        }
        add_apply("auditor", {"auditor-namespace"}, text,
                  spec.auditor.schedule.empty()
                      ? "auditor DaemonSet (" + spec.auditor.image + ")"
                      : "auditor DaemonSet + CronJob '" + spec.auditor.schedule + "' (" + spec.auditor.image + ")");
    }

    // --- exposure: optional TLS Secret, Gateway + VirtualServices
    if (!exposed.empty()) {
        std::vector<std::string> hosts;
        for (const auto& e : exposed) hosts.push_back(e.host);
        if (spec.exposure.tls) {
            TemplateValues tv;
            tv.scalars["TLS_SECRET"] = spec.exposure.tls_secret;
            tv.scalars["INGRESS_NAMESPACE"] = spec.ingress.namespace_name;
            std::string csv;
            for (const auto& h : hosts) csv += (csv.empty() ? "" : ",") + h;
            tv.scalars["HOSTS_CSV"] = csv;
            auto secret = render("exposure/tls-secret.yaml", tv);
            if (!secret) return tl::unexpected(secret.error());
            add_apply("ingress-tls", {"istio-ingress"}, *secret, "self-signed certificate for the gateway (Secret)");
            route_needs.push_back("ingress-tls");
        }
        TemplateValues gv;
        gv.scalars["INGRESS_NAMESPACE"] = spec.ingress.namespace_name;
        gv.scalars["HTTP_PORT"] = std::to_string(spec.ingress.http.port);
        gv.scalars["HTTPS_PORT"] = std::to_string(spec.ingress.https.port);
        gv.scalars["TLS_SECRET"] = spec.exposure.tls_secret;
        gv.lists["HOST"] = hosts;
        if (spec.exposure.tls) gv.flags.insert("TLS");
        std::vector<std::pair<std::string, TemplateValues>> docs = {{"exposure/gateway.yaml", gv}};
        for (const auto& e : exposed) {
            TemplateValues vv;
            vv.scalars["ADDON"] = e.addon;
            vv.scalars["HOST"] = e.host;
            vv.scalars["INGRESS_NAMESPACE"] = spec.ingress.namespace_name;
            vv.scalars["SERVICE"] = e.service;
            vv.scalars["SERVICE_PORT"] = std::to_string(e.port);
            docs.emplace_back("exposure/virtual-service.yaml", vv);
        }
        auto routes = render_all(docs);
        if (!routes) return tl::unexpected(routes.error());
        std::string names;
        for (const auto& e : exposed) names += (names.empty() ? "" : ", ") + e.addon;
        add_apply("routes", route_needs, *routes, "Gateway + VirtualServices for " + names);

        if (lb) {
            Step p;
            p.id = "routes-answer";
            p.needs = {"routes", "gateway-answers"};
            p.kind = StepKind::Probe;
            p.title = "check that the gateway answers for " + exposed.front().host;
            p.probe = ProbeSpec{spec.ingress.namespace_name, spec.ingress.release, spec.ingress.http.port,
                                exposed.front().host, "/", 0};
            p.argv = {"meshproof", "probe", "--service", spec.ingress.namespace_name + "/" + spec.ingress.release,
                      "--port", std::to_string(spec.ingress.http.port), "--host", exposed.front().host, "--path", "/"};
            p.timeout = std::chrono::seconds(60);
            p.check = CheckKind::Probe;
            steps_.push_back(std::move(p));
        }
    }

    // --- namespaces in the mesh (and the demo namespace)
    std::vector<std::string> mesh_namespaces = spec.injection_namespaces;
    const bool demo_in_list = std::find(mesh_namespaces.begin(), mesh_namespaces.end(), spec.demo.namespace_name) !=
                              mesh_namespaces.end();
    const std::string label_key = ambient ? "istio.io/dataplane-mode" : "istio-injection";
    const std::string label_value = ambient ? "ambient" : "enabled";
    std::vector<std::pair<std::string, TemplateValues>> ns_docs;
    auto ns_values = [&](const std::string& name, bool labelled) {
        TemplateValues v;
        v.scalars["NAMESPACE"] = name;
        v.scalars["MESH_LABEL_KEY"] = label_key;
        v.scalars["MESH_LABEL_VALUE"] = label_value;
        if (labelled) v.flags.insert("MESH_LABEL");
        return v;
    };
    for (const auto& n : mesh_namespaces) ns_docs.emplace_back("istio/namespace.yaml", ns_values(n, true));
    if (spec.demo.enabled && !demo_in_list)
        ns_docs.emplace_back("istio/namespace.yaml", ns_values(spec.demo.namespace_name, spec.demo.inject));
    if (!ns_docs.empty()) {
        auto text = render_all(ns_docs);
        if (!text) return tl::unexpected(text.error());
        std::vector<std::string> ns_needs = {"istiod"};
        if (ambient) ns_needs.push_back("ztunnel");
        Step& s = add_apply("namespaces", ns_needs, *text,
                            "namespaces in the mesh (" + label_key + "=" + label_value + ")");
        // Server-side apply owns only our label: down removes it and deletes only the demo namespace.
        s.undo.clear();
        for (const auto& n : mesh_namespaces)
            s.undo.push_back({kubectl({"label", "namespace", n, label_key + "-"}), std::nullopt, false, ""});
        if (spec.demo.enabled && !demo_in_list) {
            s.undo.push_back({kubectl({"delete", "namespace", spec.demo.namespace_name, "--ignore-not-found",
                                       "--wait=false"}),
                              std::nullopt, false, ""});
        } else if (spec.demo.enabled) {
            // listed in injection.namespaces: unlabelled above, not deleted
        }
    }

    // --- demo apps
    if (spec.demo.enabled) {
        auto text = render_all({{"demo/echo-server.yaml", {}}, {"demo/client.yaml", {}}});
        if (!text) return tl::unexpected(text.error());
        add_apply("demo-apps", {"namespaces"}, *text, "demo client + echo server in " + spec.demo.namespace_name,
                  spec.demo.namespace_name);
    }

    // --- mesh-wide mTLS last: workloads are in the mesh before STRICT applies to them
    {
        TemplateValues v;
        v.scalars["MTLS_MODE"] = std::string(to_string(spec.istio.mtls));
        auto text = render("istio/peer-authentication.yaml", v);
        if (!text) return tl::unexpected(text.error());
        std::vector<std::string> needs = {"istiod"};
        if (!ns_docs.empty()) needs.push_back("namespaces");
        if (spec.demo.enabled) needs.push_back("demo-apps");
        add_apply("peer-authentication", needs, *text,
                  "mesh-wide PeerAuthentication (" + std::string(to_string(spec.istio.mtls)) + ")");
    }

    // --- order by dependency layer, declaration order within a layer
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
        if (!index.emplace(steps_[i].id, i).second) return tl::unexpected("duplicate step id " + steps_[i].id);
    }
    for (std::size_t i = 0; i < steps_.size(); ++i) {
        int layer = 1;
        for (const auto& n : steps_[i].needs) {
            const auto it = index.find(n);
            if (it == index.end()) return tl::unexpected("step " + steps_[i].id + " needs unknown step " + n);
            if (it->second >= i) return tl::unexpected("step " + steps_[i].id + " needs later step " + n);
            layer = std::max(layer, steps_[it->second].layer + 1);
        }
        steps_[i].layer = layer;
    }
    std::stable_sort(steps_.begin(), steps_.end(), [](const Step& a, const Step& b) { return a.layer < b.layer; });

    Plan plan;
    plan.lab = spec.name;
    plan.kube_context = spec.kube_context;
    plan.gateway_namespace = spec.ingress.namespace_name;
    plan.gateway_service = spec.ingress.release;
    for (const auto& s : steps_) plan.layers = std::max(plan.layers, s.layer);
    plan.steps = std::move(steps_);
    return plan;
}

bool is_secret_word(std::string_view s) {
    std::string l(s);
    for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* w : {"password", "passwd", "token", "secret", "apikey", "api-key", "api_key", "private-key",
                          "privatekey", "credential"}) {
        if (l.find(w) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

tl::expected<Plan, std::string> build_plan(const LabSpec& spec) {
    try {
        return Builder(spec).build();
    } catch (const YAML::Exception& e) {
        return tl::unexpected("chart values: " + e.msg);
    }
}

std::vector<std::string> redact_argv(const std::vector<std::string>& argv) {
    std::vector<std::string> out;
    out.reserve(argv.size());
    bool redact_next = false;
    for (const auto& a : argv) {
        if (redact_next) {
            // "--set key=value": keep the key, hide the value; "--token value": hide it all.
            const auto eq = a.find('=');
            out.push_back(eq != std::string::npos && is_secret_word(a.substr(0, eq)) ? a.substr(0, eq + 1) + "<redacted>"
                          : eq != std::string::npos                                 ? a
                                                                                    : "<redacted>");
            redact_next = false;
            continue;
        }
        if (a.rfind("--", 0) == 0) {
            const auto eq = a.find('=');
            const std::string flag = a.substr(0, eq);
            if (flag == "--set" || flag == "--set-string" || flag == "--set-json") {
                if (eq == std::string::npos) {
                    redact_next = true;  // the value follows; redacted by key
                    out.push_back(a);
                    continue;
                }
            }
            if (is_secret_word(flag)) {
                if (eq != std::string::npos) {
                    out.push_back(flag + "=<redacted>");
                } else {
                    out.push_back(a);
                    redact_next = true;
                }
                continue;
            }
            // --set-style key=value after the flag's own '='
            if (eq != std::string::npos) {
                const std::string rest = a.substr(eq + 1);
                const auto eq2 = rest.find('=');
                if (eq2 != std::string::npos && is_secret_word(rest.substr(0, eq2))) {
                    out.push_back(flag + "=" + rest.substr(0, eq2 + 1) + "<redacted>");
                    continue;
                }
            }
        }
        out.push_back(a);
    }
    return out;
}

std::string format_argv(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) out += ' ';
        const bool plain = !a.empty() && std::all_of(a.begin(), a.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_-./:=@%+,{}[]").find(c) != std::string_view::npos;
        });
        if (plain) {
            out += a;
            continue;
        }
        out += '\'';
        for (const char c : a) {
            if (c == '\'') out += "'\\''";
            else out += c;
        }
        out += '\'';
    }
    return out;
}

std::string step_fingerprint(const Step& step) {
    std::string data;
    for (const auto& a : redact_argv(step.argv)) {
        data += a;
        data += '\0';
    }
    data += '\n';
    if (step.stdin_text) data += redact_secrets(*step.stdin_text);
    return sha256_hex(data);
}

std::string plan_to_json(const Plan& plan) {
    std::string out = "{\"steps\":[\n";
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
        const auto& s = plan.steps[i];
        out += "{\"id\":" + json_quote(s.id) + ",\"needs\":" + json_string_array(s.needs) +
               ",\"argv\":" + json_string_array(redact_argv(s.argv)) + ",\"stdin\":" +
               (s.stdin_text ? json_quote(redact_secrets(*s.stdin_text)) : std::string("null")) + "}";
        out += i + 1 < plan.steps.size() ? ",\n" : "\n";
    }
    out += "]}\n";
    return out;
}

std::string plan_hash(const Plan& plan) {
    return sha256_hex(plan.lab + "\n" + plan.kube_context + "\n" + plan_to_json(plan));
}

std::string plan_to_text(const Plan& plan) {
    std::string out = "Plan for lab \"" + plan.lab + "\": " + std::to_string(plan.steps.size()) + " steps in " +
                      std::to_string(plan.layers) + " dependency layers.\n";
    int layer = 0;
    std::size_t n = 0;
    for (const auto& s : plan.steps) {
        ++n;
        if (s.layer != layer) {
            layer = s.layer;
            out += "\nlayer " + std::to_string(layer) + "\n";
        }
        out += "  [" + std::to_string(n) + "/" + std::to_string(plan.steps.size()) + "] " + s.id + ": " + s.title;
        if (!s.needs.empty()) {
            out += "  (after";
            for (const auto& d : s.needs) out += " " + d;
            out += ")";
        }
        out += "\n      $ " + format_argv(redact_argv(s.argv)) + "\n";
        if (s.stdin_text) {
            const std::string text = redact_secrets(*s.stdin_text);
            out += "      stdin:\n";
            std::size_t pos = 0;
            while (pos < text.size()) {
                const auto nl = text.find('\n', pos);
                out += "      | " + text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos) + "\n";
                if (nl == std::string::npos) break;
                pos = nl + 1;
            }
        }
    }
    return out;
}

}  // namespace meshproof::provision
