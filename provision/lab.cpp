#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <cstring>

#include "provision/engine.hpp"
#include "provision/journal.hpp"
#include "provision/manifests.hpp"
#include "provision/net.hpp"
#include "provision/yaml_util.hpp"

namespace meshproof::provision {

namespace {

constexpr std::array<int, 3> kMinHelm{3, 8, 0};
constexpr std::array<int, 3> kMinKubectl{1, 28, 0};

std::string version_string(const std::array<int, 3>& v) {
    return std::to_string(v[0]) + "." + std::to_string(v[1]) + "." + std::to_string(v[2]);
}

std::string short_error(const CommandResult& r) {
    if (r.spawn_failed) return r.err;
    if (r.timed_out) return "timed out";
    std::string e = first_line(r.err.empty() ? r.out : r.err);
    return e.empty() ? "exit status " + std::to_string(r.exit_code) : e;
}

// "istiod-1.27.3" -> "istiod"
std::string chart_name_of(const std::string& chart_label_text) {
    const auto dash = chart_label_text.rfind('-');
    if (dash != std::string::npos && dash + 1 < chart_label_text.size() &&
        std::isdigit(static_cast<unsigned char>(chart_label_text[dash + 1]))) {
        // versions with a pre-release ("1.27.0-beta.1") contain '-': find the first "-<digit>" after the name
        for (std::size_t i = 0; i + 1 < chart_label_text.size(); ++i) {
            if (chart_label_text[i] == '-' && std::isdigit(static_cast<unsigned char>(chart_label_text[i + 1])))
                return chart_label_text.substr(0, i);
        }
    }
    return chart_label_text;
}

}  // namespace

bool is_stuck_status(std::string_view helm_status) {
    return helm_status.rfind("pending-", 0) == 0 || helm_status == "uninstalling";
}

std::vector<std::string> with_context(std::vector<std::string> argv, const Plan& plan) {
    if (!plan.kube_context.empty()) {
        argv.push_back(argv.front() == "helm" ? "--kube-context" : "--context");
        argv.push_back(plan.kube_context);
    }
    return argv;
}

std::string first_line(std::string_view text) {
    while (!text.empty() && (text.front() == '\n' || text.front() == ' ')) text.remove_prefix(1);
    return std::string(text.substr(0, text.find('\n')));
}

std::optional<std::array<int, 3>> parse_version(std::string_view text) {
    while (!text.empty() && (text.front() == 'v' || text.front() == ' ' || text.front() == '"')) text.remove_prefix(1);
    std::array<int, 3> v{0, 0, 0};
    for (std::size_t i = 0; i < 3; ++i) {
        const auto* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, v[i]);
        if (ec != std::errc()) return i >= 2 ? std::optional(v) : std::nullopt;
        text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
        if (i < 2) {
            if (text.empty() || text.front() != '.') return i >= 1 ? std::optional(v) : std::nullopt;
            text.remove_prefix(1);
        }
    }
    return v;
}

std::string chart_label(const HelmRelease& r) {
    const auto slash = r.chart.find('/');
    return (slash == std::string::npos ? r.chart : r.chart.substr(slash + 1)) + "-" + r.version;
}

void CommandLog::write(std::string_view text) const {
    if (path_.empty()) return;
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;  // the log is best effort; the command's own output already went to the user
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            break;
        }
        written += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

CommandResult LoggingRunner::run(const Command& cmd) {
    std::string head = "\n=== " + utc_now_iso8601();
    for (const auto& [k, v] : cmd.env) {
        if (k == "MESHPROOF_STEP") head += " step=" + v;
    }
    head += "\n$ " + format_argv(redact_argv(cmd.argv)) + "\n";
    if (cmd.stdin_text) head += "--- stdin\n" + redact_secrets(*cmd.stdin_text);
    log_.write(head);
    CommandResult r = inner_.run(cmd);
    std::string tail;
    if (!r.out.empty()) tail += "--- stdout\n" + r.out + (r.out.back() == '\n' ? "" : "\n");
    if (!r.err.empty()) tail += "--- stderr\n" + r.err + (r.err.back() == '\n' ? "" : "\n");
    tail += "--- ";
    if (r.spawn_failed) tail += "not started";
    else if (r.timed_out) tail += "timed out";
    else if (r.interrupted) tail += "interrupted";
    else if (r.term_signal) tail += "signal " + std::to_string(r.term_signal);
    else tail += "exit " + std::to_string(r.exit_code);
    tail += " after " + std::to_string(r.elapsed.count()) + " ms\n";
    log_.write(tail);
    return r;
}

RetryOutcome run_command(Session& s, const std::vector<std::string>& argv, const std::optional<std::string>& stdin_text,
                         std::chrono::milliseconds timeout, const std::string& step,
                         const std::function<void(int, std::chrono::milliseconds, const CommandResult&)>& on_retry) {
    Command cmd{argv, stdin_text, s.capped(timeout), {}};
    if (!step.empty()) cmd.env.emplace_back("MESHPROOF_STEP", step);
    auto sleep = [&s](std::chrono::milliseconds d) {
        // Sleep in slices so Ctrl-C is not held up by a backoff.
        const auto until = std::chrono::steady_clock::now() + d;
        while (!s.interrupted() && std::chrono::steady_clock::now() < until) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            s.sleep(std::min(left, std::chrono::milliseconds(100)));
        }
    };
    RetryPolicy policy = s.retry;
    return run_with_retry(s.runner, cmd, policy, sleep, on_retry);
}

tl::expected<Lab, int> load_lab(const CommandOptions& opts, Session& s, bool print_warnings) {
    auto parsed = load_spec(opts.file);
    if (!parsed) {
        for (const auto& e : parsed.error()) s.err << e.to_string() << "\n";
        s.err << parsed.error().size() << (parsed.error().size() == 1 ? " error" : " errors") << " in the lab spec\n";
        return tl::unexpected(kExitUsage);
    }
    if (print_warnings) {
        for (const auto& w : parsed->warnings) s.err << "warning: " << w.field << ": " << w.message << "\n";
    }
    Lab lab;
    lab.spec = std::move(parsed->spec);
    if (!opts.kube_context.empty()) lab.spec.kube_context = opts.kube_context;
    auto plan = build_plan(lab.spec);
    if (!plan) {
        s.err << "cannot build the plan: " << plan.error() << "\n";
        return tl::unexpected(kExitFailure);
    }
    lab.plan = std::move(*plan);
    lab.state_dir = opts.state_dir.empty() ? default_state_dir(lab.spec.name) : opts.state_dir;
    return lab;
}

std::vector<ReleaseInfo> list_releases(Session& s, const Plan& plan, bool* ok) {
    std::vector<ReleaseInfo> out;
    auto r = run_command(s, with_context({"helm", "list", "--all-namespaces", "--all", "-o", "json"}, plan), std::nullopt,
                         std::chrono::seconds(60));
    if (ok != nullptr) *ok = r.result.ok();
    if (!r.result.ok()) return out;
    auto node = detail::parse_json(r.result.out);
    if (!node || !node->IsSequence()) {
        if (ok != nullptr) *ok = false;
        return out;
    }
    for (const auto& item : *node) {
        out.push_back({detail::scalar_at(item, {"name"}), detail::scalar_at(item, {"namespace"}),
                       detail::scalar_at(item, {"chart"}), detail::scalar_at(item, {"status"}),
                       detail::scalar_at(item, {"app_version"})});
    }
    return out;
}

std::string gateway_address(Session& s, const Plan& plan, std::string* error) {
    const Step* w = plan.find("gateway-ip");
    std::vector<std::string> argv =
        w != nullptr ? w->argv
                     : with_context({"kubectl", "get", "service", plan.gateway_service, "--namespace",
                                     plan.gateway_namespace, "-o", "json"},
                                    plan);
    auto r = run_command(s, argv, std::nullopt, std::chrono::seconds(30), "gateway-ip");
    if (!r.result.ok()) {
        if (error != nullptr) *error = short_error(r.result);
        return {};
    }
    auto node = detail::parse_json(r.result.out);
    if (!node) {
        if (error != nullptr) *error = node.error();
        return {};
    }
    const YAML::Node& svc = *node;
    const YAML::Node ingress = detail::at(svc, {"status", "loadBalancer", "ingress"});
    if (ingress && ingress.IsSequence() && ingress.size() > 0) {
        std::string ip = detail::scalar_at(ingress[0], {"ip"});
        if (ip.empty()) ip = detail::scalar_at(ingress[0], {"hostname"});
        return ip;
    }
    if (error != nullptr) *error = "no LoadBalancer address yet";
    return {};
}

bool confirm(Session& s, bool yes, const std::string& question) {
    if (yes) return true;
    if (!s.interactive || s.in == nullptr) {
        s.err << question << ": refusing without --yes (stdin is not a terminal)\n";
        return false;
    }
    s.out << question << " [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(*s.in, answer)) return false;
    return answer == "y" || answer == "Y" || answer == "yes";
}

std::vector<Endpoint> exposed_urls(const LabSpec& spec) {
    std::vector<Endpoint> out;
    if (!spec.exposure.enabled) return out;
    const bool tls = spec.exposure.tls;
    const int port = tls ? spec.ingress.https.port : spec.ingress.http.port;
    const bool default_port = (tls && port == 443) || (!tls && port == 80);
    const std::string scheme = tls ? "https://" : "http://";
    auto url = [&](const std::string& host, const std::string& path) {
        return scheme + host + (default_port ? "" : ":" + std::to_string(port)) + path;
    };
    if (spec.addons.kiali.enabled && !spec.addons.kiali.host.empty())
        out.push_back({"kiali", url(spec.addons.kiali.host, "/kiali/")});
    if (spec.addons.prometheus.enabled && !spec.addons.prometheus.host.empty())
        out.push_back({"prometheus", url(spec.addons.prometheus.host, "/")});
    if (spec.addons.grafana.enabled && !spec.addons.grafana.host.empty())
        out.push_back({"grafana", url(spec.addons.grafana.host, "/")});
    return out;
}

PreflightResult preflight(Session& s, const Lab& lab, bool for_down) {
    PreflightResult pf;
    const Plan& plan = lab.plan;
    auto fail = [&](const std::string& what) {
        s.err << "preflight: " << what << "\n";
        pf.exit_code = kExitFailure;
        return pf;
    };

    // helm
    {
        auto r = run_command(s, {"helm", "version", "--template", "{{.Version}}"}, std::nullopt, std::chrono::seconds(30));
        if (r.result.spawn_failed) return fail("helm is not on PATH (https://helm.sh/docs/intro/install/)");
        const auto v = parse_version(r.result.out);
        if (!r.result.ok() || !v) return fail("cannot read the helm version: " + short_error(r.result));
        if (*v < kMinHelm)
            return fail("helm " + version_string(*v) + " is too old (need >= " + version_string(kMinHelm) + ")");
        s.out << "preflight: helm " << version_string(*v) << "\n";
    }
    // kubectl (client)
    {
        auto r = run_command(s, {"kubectl", "version", "--client", "-o", "json"}, std::nullopt, std::chrono::seconds(30));
        if (r.result.spawn_failed) return fail("kubectl is not on PATH (https://kubernetes.io/docs/tasks/tools/)");
        auto node = detail::parse_json(r.result.out);
        const auto v = node ? parse_version(detail::scalar_at(*node, {"clientVersion", "gitVersion"})) : std::nullopt;
        if (!r.result.ok() || !v) return fail("cannot read the kubectl version: " + short_error(r.result));
        if (*v < kMinKubectl)
            return fail("kubectl " + version_string(*v) + " is too old (need >= " + version_string(kMinKubectl) + ")");
        s.out << "preflight: kubectl " << version_string(*v) << "\n";
    }
    // context
    if (!plan.kube_context.empty()) {
        auto r = run_command(s, {"kubectl", "config", "get-contexts", plan.kube_context, "-o", "name"}, std::nullopt,
                             std::chrono::seconds(30));
        if (!r.result.ok()) return fail("kube context '" + plan.kube_context + "' not found: " + short_error(r.result));
        pf.context = plan.kube_context;
    } else {
        auto r = run_command(s, {"kubectl", "config", "current-context"}, std::nullopt, std::chrono::seconds(30));
        if (!r.result.ok())
            return fail("no current kube context (" + short_error(r.result) +
                        "); set one with kubectl config use-context, or kubeContext in the lab spec");
        pf.context = first_line(r.result.out);
    }
    s.out << "preflight: context " << pf.context << "\n";
    // cluster reachable
    {
        auto r = run_command(s, with_context({"kubectl", "version", "-o", "json", "--request-timeout=10s"}, plan),
                             std::nullopt, std::chrono::seconds(30));
        auto node = r.result.ok() ? detail::parse_json(r.result.out) : tl::expected<YAML::Node, std::string>();
        const std::string server = node ? detail::scalar_at(*node, {"serverVersion", "gitVersion"}) : std::string();
        if (!r.result.ok() || server.empty())
            return fail("the cluster of context " + pf.context + " is not reachable: " + short_error(r.result));
        pf.server_version = server;
        s.out << "preflight: cluster reachable, Kubernetes " << server << "\n";
        if (const auto v = parse_version(server)) {
            const IstioLine* line = istio_line(lab.spec.charts.istio);
            if (!for_down && line != nullptr &&
                ((*v)[0] != 1 || (*v)[1] < line->k8s_min_minor || (*v)[1] > line->k8s_max_minor))
                s.err << "warning: Istio 1." << line->minor << " supports Kubernetes 1." << line->k8s_min_minor
                      << " to 1." << line->k8s_max_minor << "; this cluster runs " << server << "\n";
        }
    }
    // nodes Ready
    std::vector<IpAddress> node_ips;
    {
        auto r = run_command(s, with_context({"kubectl", "get", "nodes", "-o", "json"}, plan), std::nullopt,
                             std::chrono::seconds(60));
        if (!r.result.ok()) return fail("cannot list nodes: " + short_error(r.result));
        auto node = detail::parse_json(r.result.out);
        if (!node) return fail("cannot read the node list: " + node.error());
        int total = 0;
        int ready = 0;
        std::vector<std::string> not_ready;
        for (const auto& n : detail::at(*node, {"items"})) {
            ++total;
            bool is_ready = false;
            for (const auto& c : detail::at(n, {"status", "conditions"})) {
                if (detail::scalar_at(c, {"type"}) == "Ready" && detail::scalar_at(c, {"status"}) == "True") is_ready = true;
            }
            if (is_ready) ++ready;
            else not_ready.push_back(detail::scalar_at(n, {"metadata", "name"}));
            for (const auto& cidr : detail::at(n, {"spec", "podCIDRs"})) {
                if (cidr.IsScalar() &&
                    std::find(pf.pod_cidrs.begin(), pf.pod_cidrs.end(), cidr.Scalar()) == pf.pod_cidrs.end())
                    pf.pod_cidrs.push_back(cidr.Scalar());
            }
            for (const auto& a : detail::at(n, {"status", "addresses"})) {
                if (detail::scalar_at(a, {"type"}) == "InternalIP") {
                    if (auto ip = parse_ip(detail::scalar_at(a, {"address"}))) node_ips.push_back(*ip);
                }
            }
        }
        if (ready == 0) return fail("no node is Ready (" + std::to_string(total) + " nodes)");
        s.out << "preflight: " << ready << "/" << total << " nodes Ready\n";
        for (const auto& n : not_ready) s.err << "warning: node " << n << " is not Ready\n";
    }
    if (for_down) return pf;

    // service ranges (ServiceCIDR API, Kubernetes >= 1.31 beta / 1.33 GA); unknown otherwise
    {
        auto r = run_command(s, with_context({"kubectl", "get", "servicecidrs.networking.k8s.io", "-o", "json"}, plan),
                             std::nullopt, std::chrono::seconds(30));
        if (r.result.ok()) {
            if (auto node = detail::parse_json(r.result.out)) {
                for (const auto& item : detail::at(*node, {"items"})) {
                    for (const auto& c : detail::at(item, {"spec", "cidrs"})) {
                        if (c.IsScalar()) pf.service_cidrs.push_back(c.Scalar());
                    }
                }
            }
        }
    }
    // the pool against the cluster's ranges, and against the nodes' LAN
    if (lab.spec.metallb.enabled) {
        const auto errors = check_pool_against_cluster(lab.spec, pf.pod_cidrs, pf.service_cidrs);
        if (!errors.empty()) {
            for (const auto& e : errors) s.err << e.to_string() << "\n";
            pf.exit_code = kExitUsage;
            return pf;
        }
        if (!node_ips.empty()) {
            bool near = false;
            for (const auto& a : lab.spec.metallb.addresses) {
                auto range = parse_ip_range(a);
                if (!range) continue;
                for (const auto& ip : node_ips) {
                    // Same /24 (IPv4) or /64 (IPv6) as a node: a heuristic for "on the nodes' LAN".
                    const std::size_t prefix = ip.family == IpFamily::V4 ? 3 : 8;
                    if (ip.family == range->first.family &&
                        std::equal(ip.bytes.begin(), ip.bytes.begin() + static_cast<std::ptrdiff_t>(prefix),
                                   range->first.bytes.begin()))
                        near = true;
                }
            }
            if (!near) {
                std::string ips;
                for (const auto& ip : node_ips) ips += (ips.empty() ? "" : ", ") + format_ip(ip);
                s.err << "warning: the MetalLB pool is not in the subnet of any node (" << ips
                      << "): layer-2 announcements only reach the nodes' LAN\n";
            }
        }
    }

    // existing installs: adopt ours, report conflicts
    bool listed = false;
    pf.releases = list_releases(s, plan, &listed);
    if (!listed) return fail("helm cannot list releases on the cluster");
    std::vector<std::string> conflicts;
    for (const auto& step : plan.steps) {
        if (!step.release) continue;
        const auto& want = *step.release;
        const std::string want_chart = chart_name_of(chart_label(want));
        for (const auto& have : pf.releases) {
            const std::string have_chart = chart_name_of(have.chart);
            if (have.name == want.name && have.namespace_name == want.namespace_name) {
                if (have_chart != want_chart) {
                    conflicts.push_back("release " + have.name + " in " + have.namespace_name + " is chart " + have.chart +
                                        ", not " + want_chart);
                } else if (is_stuck_status(have.status)) {
                    // What a helm killed or interrupted mid-operation leaves: every later upgrade
                    // fails with "another operation is in progress" until it is rolled back or removed.
                    pf.stuck[step.id] = have.status;
                } else if (have.status == "failed") {
                    pf.existing.push_back(step.id);  // helm upgrade accepts a failed release and retries it
                } else if (have.status != "deployed") {
                    conflicts.push_back("release " + have.name + " in " + have.namespace_name + " is '" + have.status +
                                        "' (fix it with helm rollback or helm uninstall first)");
                } else {
                    pf.existing.push_back(step.id);
                }
            } else if (have_chart == want_chart &&
                       (want_chart == "istiod" || want_chart == "base" || want_chart == "metallb")) {
                // One control plane, one set of CRDs, one MetalLB per cluster (a second gateway is fine).
                conflicts.push_back("chart " + have.chart + " is already installed as release " + have.name + " in " +
                                    have.namespace_name + " (meshproof would install " + want.name + " in " +
                                    want.namespace_name + ")");
            }
        }
    }
    // installs that helm does not know about (istioctl install, MetalLB from manifests)
    {
        auto r = run_command(s, with_context({"kubectl", "get", "deployments", "--all-namespaces", "-o", "json"}, plan),
                             std::nullopt, std::chrono::seconds(60));
        if (r.result.ok()) {
            if (auto node = detail::parse_json(r.result.out)) {
                for (const auto& d : detail::at(*node, {"items"})) {
                    const std::string name = detail::scalar_at(d, {"metadata", "name"});
                    const std::string ns = detail::scalar_at(d, {"metadata", "namespace"});
                    const std::string managed = detail::scalar_at(d, {"metadata", "annotations", "meta.helm.sh/release-name"});
                    const std::string app = detail::scalar_at(d, {"metadata", "labels", "app.kubernetes.io/name"});
                    if (!managed.empty()) continue;
                    if (name == "istiod" || name.rfind("istiod-", 0) == 0)
                        conflicts.push_back("deployment " + ns + "/" + name +
                                            " was not installed by helm (istioctl install?): uninstall it first");
                    else if (app == "metallb" || (ns == "metallb-system" && name == "controller"))
                        conflicts.push_back("MetalLB in " + ns + " was not installed by helm (manifests?): remove it or set "
                                            "metallb.enabled: false");
                }
            }
        }
    }
    if (!conflicts.empty()) {
        for (const auto& c : conflicts) s.err << "preflight: conflict: " << c << "\n";
        pf.exit_code = kExitFailure;
    }
    return pf;
}

}  // namespace meshproof::provision
