#include "common/bounded_read.hpp"
#include "provision/spec.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "provision/net.hpp"

namespace meshproof::provision {

std::string_view to_string(MeshMode m) { return m == MeshMode::Ambient ? "ambient" : "sidecar"; }
std::string_view to_string(MtlsMode m) { return m == MtlsMode::Strict ? "STRICT" : "PERMISSIVE"; }
std::string_view to_string(ServiceType t) {
    switch (t) {
        case ServiceType::LoadBalancer: return "LoadBalancer";
        case ServiceType::NodePort: return "NodePort";
        case ServiceType::ClusterIP: return "ClusterIP";
    }
    return "LoadBalancer";
}
std::string_view to_string(KialiAuth a) {
    switch (a) {
        case KialiAuth::Anonymous: return "anonymous";
        case KialiAuth::Token: return "token";
        case KialiAuth::OpenId: return "openid";
        case KialiAuth::Header: return "header";
    }
    return "token";
}

std::string SpecError::to_string() const {
    std::string s = file;
    if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
    s += ": ";
    if (!field.empty()) s += field + ": ";
    s += message;
    return s;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const char ca = static_cast<char>(std::tolower(static_cast<unsigned char>(a[i - 1])));
            const char cb = static_cast<char>(std::tolower(static_cast<unsigned char>(b[j - 1])));
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca == cb ? 0 : 1)});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string nearest_key(std::string_view key, const std::vector<std::string_view>& candidates) {
    std::string best;
    std::size_t best_distance = 0;
    // A typo is a few edits away; beyond a third of the word it is a different word.
    const std::size_t reach = std::max<std::size_t>(2, key.size() / 3);
    for (const auto c : candidates) {
        const std::size_t d = edit_distance(key, c);
        if (d <= reach && (best.empty() || d < best_distance)) {
            best = std::string(c);
            best_distance = d;
        }
    }
    return best;
}

namespace {

// Kubernetes names: DNS-1123 labels (namespaces, object names) and subdomains (host names).
bool is_dns_label(std::string_view s) {
    if (s.empty() || s.size() > 63) return false;
    for (const char c : s) {
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
            return false;
    }
    return s.front() != '-' && s.back() != '-';
}

bool is_dns_subdomain(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    std::size_t start = 0;
    while (true) {
        const auto dot = s.find('.', start);
        const auto label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (!is_dns_label(label)) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool is_chart_version(std::string_view v) {
    // MAJOR.MINOR.PATCH with an optional -prerelease, as helm's --version takes it pinned.
    int parts = 0;
    std::size_t i = 0;
    while (parts < 3) {
        const std::size_t start = i;
        while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
        if (i == start) return false;
        ++parts;
        if (parts < 3) {
            if (i >= v.size() || v[i] != '.') return false;
            ++i;
        }
    }
    if (i == v.size()) return true;
    if (v[i] != '-' || i + 1 == v.size()) return false;
    for (++i; i < v.size(); ++i) {
        const char c = v[i];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) return false;
    }
    return true;
}

// A container image reference: registry/repository[:tag][@digest]. Rendered inside double quotes,
// so quotes, backslashes and blanks are what must never get through.
bool is_image_reference(std::string_view s) {
    if (s.empty() || s.size() > 512 || s.front() == '-' || s.front() == '/' || s.back() == ':' || s.back() == '/')
        return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("._-/:@").find(c) != std::string_view::npos;
    });
}

// A Kubernetes CronJob schedule: five cron fields (numbers, names, * / , - ?) or an @macro.
bool is_cron_schedule(std::string_view s) {
    for (const auto macro : {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}) {
        if (s == macro) return true;
    }
    int fields = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ') ++i;
        if (i == s.size()) break;
        ++fields;
        while (i < s.size() && s[i] != ' ') {
            const char c = s[i++];
            if (!(std::isalnum(static_cast<unsigned char>(c)) || std::string_view("*/,-?").find(c) != std::string_view::npos))
                return false;
        }
    }
    return fields == 5;
}

bool is_http_url(std::string_view s) {
    const bool scheme = s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
    const auto host_at = s.find("://") + 3;
    if (!scheme || host_at >= s.size() || s.size() > 2048) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("._-/:@%+~?&=[]").find(c) != std::string_view::npos;
    });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

class SpecReader {
public:
    explicit SpecReader(std::string file) : file_(std::move(file)) {}

    std::vector<SpecError> errors;
    std::vector<SpecWarning> warnings;

    void error_at(const YAML::Mark& mark, std::string field, std::string message) {
        SpecError e{file_, 0, 0, std::move(field), std::move(message)};
        if (!mark.is_null()) {
            e.line = mark.line + 1;
            e.column = mark.column + 1;
        }
        errors.push_back(std::move(e));
    }
    void error(const YAML::Node& node, std::string field, std::string message) {
        error_at(node ? node.Mark() : YAML::Mark::null_mark(), std::move(field), std::move(message));
    }

    // A mapping, or null/absent (both mean "use the defaults"). Anything else is an error.
    bool is_map_or_absent(const YAML::Node& n, const std::string& field) {
        if (!n || n.IsNull() || n.IsMap()) return true;
        error(n, field, std::string("expected a mapping (key: value lines), got ") + kind_name(n));
        return false;
    }

    void check_keys(const YAML::Node& map, const std::string& path, const std::vector<std::string_view>& known) {
        if (!map || !map.IsMap()) return;
        for (auto it = map.begin(); it != map.end(); ++it) {
            if (!it->first.IsScalar()) {
                error(it->first, path, "keys must be plain names");
                continue;
            }
            const std::string key = it->first.Scalar();
            if (std::find(known.begin(), known.end(), key) != known.end()) continue;
            const std::string field = path.empty() ? key : path + "." + key;
            std::string msg = "unknown key '" + key + "'";
            const std::string near = nearest_key(key, known);
            if (!near.empty()) {
                msg += " (did you mean '" + near + "'?)";
            } else {
                msg += " (known keys:";
                for (const auto k : known) msg += " " + std::string(k);
                msg += ")";
            }
            error(it->first, field, std::move(msg));
        }
    }

    static const char* kind_name(const YAML::Node& n) {
        if (n.IsMap()) return "a mapping";
        if (n.IsSequence()) return "a list";
        if (n.IsScalar()) return "a scalar";
        return "nothing";
    }

    static std::string join(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }

    // Scalar string; absent/null keeps `out`.
    void str(const YAML::Node& map, std::string_view key, const std::string& path, std::string& out) {
        const YAML::Node n = child(map, key);
        if (!n || n.IsNull()) return;
        if (!n.IsScalar()) {
            error(n, join(path, key), std::string("expected a string, got ") + kind_name(n));
            return;
        }
        out = n.Scalar();
    }

    void boolean(const YAML::Node& map, std::string_view key, const std::string& path, bool& out) {
        const YAML::Node n = child(map, key);
        if (!n || n.IsNull()) return;
        bool v = false;
        if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
            error(n, join(path, key), "expected true or false, got '" + (n.IsScalar() ? n.Scalar() : kind_name(n)) + "'");
            return;
        }
        out = v;
    }

    void integer(const YAML::Node& map, std::string_view key, const std::string& path, int& out, int min, int max) {
        const YAML::Node n = child(map, key);
        if (!n || n.IsNull()) return;
        long long v = 0;
        if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v)) {
            error(n, join(path, key), "expected a whole number, got '" + (n.IsScalar() ? n.Scalar() : kind_name(n)) + "'");
            return;
        }
        if (v < min || v > max) {
            error(n, join(path, key),
                  std::to_string(v) + " is out of range (" + std::to_string(min) + ".." + std::to_string(max) + ")");
            return;
        }
        out = static_cast<int>(v);
    }

    // List of strings, with the mark of each element kept for later checks.
    struct Item {
        std::string value;
        YAML::Mark mark;
    };
    std::vector<Item> str_list(const YAML::Node& map, std::string_view key, const std::string& path) {
        std::vector<Item> items;
        const YAML::Node n = child(map, key);
        if (!n || n.IsNull()) return items;
        if (!n.IsSequence()) {
            error(n, join(path, key), std::string("expected a list, got ") + kind_name(n));
            return items;
        }
        for (std::size_t i = 0; i < n.size(); ++i) {
            const YAML::Node e = n[i];
            const std::string field = join(path, key) + "[" + std::to_string(i) + "]";
            if (!e.IsScalar() || e.Scalar().empty()) {
                error(e, field, "expected a non-empty string");
                continue;
            }
            items.push_back({e.Scalar(), e.Mark()});
        }
        return items;
    }

    // Chart values overrides: a mapping kept as YAML text (merged by the planner), or empty.
    std::string values(const YAML::Node& map, std::string_view key, const std::string& path) {
        const YAML::Node n = child(map, key);
        if (!n || n.IsNull()) return {};
        if (!n.IsMap()) {
            error(n, join(path, key), std::string("chart values must be a mapping, got ") + kind_name(n));
            return {};
        }
        if (n.size() == 0) return {};
        YAML::Emitter e;
        e << n;
        return e.c_str();
    }

    template <typename Enum>
    void enumeration(const YAML::Node& map, std::string_view key, const std::string& path, Enum& out,
                     const std::vector<std::pair<std::string_view, Enum>>& choices) {
        const YAML::Node n = child(map, key);
        if (!n || n.IsNull()) return;
        if (!n.IsScalar()) {
            error(n, join(path, key), std::string("expected one of the names below, got ") + kind_name(n));
            return;
        }
        const std::string v = lower(n.Scalar());
        std::vector<std::string_view> names;
        for (const auto& [name, value] : choices) {
            if (lower(name) == v) {
                out = value;
                return;
            }
            names.push_back(name);
        }
        std::string msg = "unknown value '" + n.Scalar() + "' (expected";
        for (std::size_t i = 0; i < names.size(); ++i) msg += (i ? " | " : " ") + std::string(names[i]);
        msg += ")";
        const std::string near = nearest_key(n.Scalar(), names);
        if (!near.empty()) msg += "; did you mean '" + near + "'?";
        error(n, join(path, key), std::move(msg));
    }

    static YAML::Node child(const YAML::Node& map, std::string_view key) {
        if (!map || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
        // Lookup on a const node never inserts.
        const YAML::Node& cmap = map;
        return cmap[std::string(key)];
    }

private:
    std::string file_;
};

struct PoolEntry {
    IpRange range;
    std::string text;
    YAML::Mark mark;
    std::string field;
};

void read_spec(SpecReader& r, const YAML::Node& root, LabSpec& spec, std::vector<PoolEntry>& pool) {
    if (!root || root.IsNull()) return;  // an empty file means "all defaults"
    if (!root.IsMap()) {
        r.error(root, "", std::string("the lab spec must be a mapping, got ") + SpecReader::kind_name(root));
        return;
    }
    r.check_keys(root, "",
                 {"apiVersion", "kind", "name", "kubeContext", "charts", "cluster", "metallb", "istio", "ingress",
                  "addons", "exposure", "injection", "demo", "auditor", "timeouts"});

    std::string api_version = "meshproof.dev/v1alpha1";
    r.str(root, "apiVersion", "", api_version);
    if (api_version != "meshproof.dev/v1alpha1")
        r.error(SpecReader::child(root, "apiVersion"), "apiVersion",
                "unsupported '" + api_version + "' (this meshproof reads meshproof.dev/v1alpha1)");
    std::string kind = "Lab";
    r.str(root, "kind", "", kind);
    if (kind != "Lab") r.error(SpecReader::child(root, "kind"), "kind", "expected 'Lab', got '" + kind + "'");

    r.str(root, "name", "", spec.name);
    if (!is_dns_label(spec.name))
        r.error(SpecReader::child(root, "name"), "name",
                "'" + spec.name + "' is not a valid name (lowercase letters, digits and '-', at most 63)");
    r.str(root, "kubeContext", "", spec.kube_context);

    // charts
    const YAML::Node charts = SpecReader::child(root, "charts");
    if (r.is_map_or_absent(charts, "charts")) {
        r.check_keys(charts, "charts", {"istio", "metallb", "kiali", "prometheus", "grafana"});
        const std::pair<std::string_view, std::string*> fields[] = {{"istio", &spec.charts.istio},
                                                                    {"metallb", &spec.charts.metallb},
                                                                    {"kiali", &spec.charts.kiali},
                                                                    {"prometheus", &spec.charts.prometheus},
                                                                    {"grafana", &spec.charts.grafana}};
        for (const auto& [key, out] : fields) {
            r.str(charts, key, "charts", *out);
            if (!is_chart_version(*out))
                r.error(SpecReader::child(charts, key), "charts." + std::string(key),
                        "'" + *out + "' is not a pinned chart version (MAJOR.MINOR.PATCH)");
        }
        if (is_chart_version(spec.charts.istio)) {
            const IstioLine* line = istio_line(spec.charts.istio);
            if (line == nullptr)
                r.warnings.push_back({"charts.istio", "Istio " + spec.charts.istio +
                                                          " is not a line meshproof knows; supported lines: " +
                                                          supported_istio_lines() + " (chart values may differ)"});
            else if (!line->supported)
                r.warnings.push_back({"charts.istio", "Istio 1." + std::to_string(line->minor) +
                                                          " is out of upstream support (no more security fixes); "
                                                          "supported lines: " + supported_istio_lines()});
            // The addons follow the Istio line unless pinned: what its samples/addons were made from.
            if (line != nullptr && !line->kiali.empty() && !SpecReader::child(charts, "kiali"))
                spec.charts.kiali = std::string(line->kiali);
            if (line != nullptr && !line->prometheus.empty() && !SpecReader::child(charts, "prometheus"))
                spec.charts.prometheus = std::string(line->prometheus);
        }
    }

    // cluster
    const YAML::Node cluster = SpecReader::child(root, "cluster");
    std::vector<PoolEntry> cluster_ranges;
    if (r.is_map_or_absent(cluster, "cluster")) {
        r.check_keys(cluster, "cluster", {"podCIDRs", "serviceCIDRs"});
        for (const auto key : {"podCIDRs", "serviceCIDRs"}) {
            for (const auto& item : r.str_list(cluster, key, "cluster")) {
                const std::string field = "cluster." + std::string(key);
                auto range = parse_cidr(item.value);
                if (!range) {
                    r.error_at(item.mark, field, range.error());
                    continue;
                }
                (std::string_view(key) == "podCIDRs" ? spec.cluster.pod_cidrs : spec.cluster.service_cidrs)
                    .push_back(item.value);
                cluster_ranges.push_back({*range, item.value, item.mark, field});
            }
        }
    }

    // metallb
    const YAML::Node metallb = SpecReader::child(root, "metallb");
    if (r.is_map_or_absent(metallb, "metallb")) {
        r.check_keys(metallb, "metallb", {"enabled", "pool", "l2Advertisement", "values"});
        r.boolean(metallb, "enabled", "metallb", spec.metallb.enabled);
        spec.metallb.values_yaml = r.values(metallb, "values", "metallb");
        const YAML::Node p = SpecReader::child(metallb, "pool");
        if (r.is_map_or_absent(p, "metallb.pool")) {
            r.check_keys(p, "metallb.pool", {"name", "addresses"});
            r.str(p, "name", "metallb.pool", spec.metallb.pool_name);
            if (!is_dns_label(spec.metallb.pool_name))
                r.error(SpecReader::child(p, "name"), "metallb.pool.name",
                        "'" + spec.metallb.pool_name + "' is not a valid object name");
            if (SpecReader::child(p, "addresses")) {
                spec.metallb.addresses.clear();
                const auto items = r.str_list(p, "addresses", "metallb.pool");
                for (std::size_t i = 0; i < items.size(); ++i) {
                    const std::string field = "metallb.pool.addresses[" + std::to_string(i) + "]";
                    auto range = parse_ip_range(items[i].value);
                    if (!range) {
                        r.error_at(items[i].mark, field, range.error());
                        continue;
                    }
                    std::string why = unusable_address_reason(range->first);
                    if (why.empty()) why = unusable_address_reason(range->last);
                    if (!why.empty()) {
                        r.error_at(items[i].mark, field, "'" + items[i].value + "' " + why + ": not a LAN address");
                        continue;
                    }
                    for (const auto& earlier : pool) {
                        if (ranges_overlap(earlier.range, *range))
                            r.error_at(items[i].mark, field,
                                       "'" + items[i].value + "' overlaps " + earlier.field + " ('" + earlier.text + "')");
                    }
                    pool.push_back({*range, items[i].value, items[i].mark, field});
                    spec.metallb.addresses.push_back(items[i].value);
                }
            }
        }
        const YAML::Node l2 = SpecReader::child(metallb, "l2Advertisement");
        if (r.is_map_or_absent(l2, "metallb.l2Advertisement")) {
            r.check_keys(l2, "metallb.l2Advertisement", {"enabled", "interfaces"});
            r.boolean(l2, "enabled", "metallb.l2Advertisement", spec.metallb.l2_advertisement);
            for (const auto& item : r.str_list(l2, "interfaces", "metallb.l2Advertisement")) {
                if (item.value.size() > 15 || item.value.find_first_of(" /") != std::string::npos)
                    r.error_at(item.mark, "metallb.l2Advertisement.interfaces",
                               "'" + item.value + "' is not a network interface name");
                else
                    spec.metallb.interfaces.push_back(item.value);
            }
        }
        if (spec.metallb.enabled && spec.metallb.addresses.empty() && r.errors.empty())
            r.error(p ? p : metallb, "metallb.pool.addresses", "MetalLB is enabled but the pool has no addresses");
        if (spec.metallb.enabled && !spec.metallb.l2_advertisement)
            r.warnings.push_back({"metallb.l2Advertisement.enabled",
                                  "no L2Advertisement: MetalLB will assign IPs that nothing announces on the LAN"});
    }
    // The default pool applies when the file lists none: check it against the cluster ranges too.
    if (pool.empty() && spec.metallb.enabled) {
        for (const auto& a : spec.metallb.addresses) {
            auto range = parse_ip_range(a);
            if (range) pool.push_back({*range, a, metallb ? metallb.Mark() : root.Mark(), "metallb.pool.addresses"});
        }
    }
    for (const auto& c : cluster_ranges) {
        for (const auto& p : pool) {
            if (ranges_overlap(c.range, p.range))
                r.error_at(p.mark, p.field,
                           "'" + p.text + "' overlaps the cluster range " + c.text + " (" + c.field + ")");
        }
    }

    // istio
    const YAML::Node istio = SpecReader::child(root, "istio");
    if (r.is_map_or_absent(istio, "istio")) {
        r.check_keys(istio, "istio", {"mode", "mtls", "values"});
        r.enumeration<MeshMode>(istio, "mode", "istio", spec.istio.mode,
                                {{"sidecar", MeshMode::Sidecar}, {"ambient", MeshMode::Ambient}});
        r.enumeration<MtlsMode>(istio, "mtls", "istio", spec.istio.mtls,
                                {{"STRICT", MtlsMode::Strict}, {"PERMISSIVE", MtlsMode::Permissive}});
        const YAML::Node v = SpecReader::child(istio, "values");
        if (r.is_map_or_absent(v, "istio.values")) {
            r.check_keys(v, "istio.values", {"base", "istiod", "cni", "ztunnel"});
            spec.istio.base_values_yaml = r.values(v, "base", "istio.values");
            spec.istio.istiod_values_yaml = r.values(v, "istiod", "istio.values");
            spec.istio.cni_values_yaml = r.values(v, "cni", "istio.values");
            spec.istio.ztunnel_values_yaml = r.values(v, "ztunnel", "istio.values");
        }
        if (spec.istio.mtls == MtlsMode::Permissive)
            r.warnings.push_back({"istio.mtls", "PERMISSIVE accepts plaintext next to mTLS: traffic can still be sniffed"});
    }

    // ingress
    const YAML::Node ingress = SpecReader::child(root, "ingress");
    if (r.is_map_or_absent(ingress, "ingress")) {
        r.check_keys(ingress, "ingress", {"namespace", "serviceType", "ports", "values"});
        r.str(ingress, "namespace", "ingress", spec.ingress.namespace_name);
        if (!is_dns_label(spec.ingress.namespace_name))
            r.error(SpecReader::child(ingress, "namespace"), "ingress.namespace",
                    "'" + spec.ingress.namespace_name + "' is not a valid namespace name");
        r.enumeration<ServiceType>(ingress, "serviceType", "ingress", spec.ingress.service_type,
                                   {{"LoadBalancer", ServiceType::LoadBalancer},
                                    {"NodePort", ServiceType::NodePort},
                                    {"ClusterIP", ServiceType::ClusterIP}});
        spec.ingress.values_yaml = r.values(ingress, "values", "ingress");
        const YAML::Node ports = SpecReader::child(ingress, "ports");
        if (r.is_map_or_absent(ports, "ingress.ports")) {
            r.check_keys(ports, "ingress.ports", {"http", "https"});
            for (GatewayPort* gp : {&spec.ingress.http, &spec.ingress.https}) {
                const std::string path = "ingress.ports." + gp->name;
                const YAML::Node pn = SpecReader::child(ports, gp->name);
                if (!r.is_map_or_absent(pn, path)) continue;
                r.check_keys(pn, path, {"port", "targetPort"});
                r.integer(pn, "port", path, gp->port, 1, 65535);
                r.integer(pn, "targetPort", path, gp->target_port, 1, 65535);
                if (gp->port == 15021 || gp->target_port == 15021)
                    r.error(pn ? pn : ports, path, "15021 is the gateway's status port; pick another");
            }
            if (spec.ingress.http.port == spec.ingress.https.port)
                r.error(ports ? ports : ingress, "ingress.ports",
                        "http and https use the same port " + std::to_string(spec.ingress.http.port));
            if (spec.ingress.http.target_port == spec.ingress.https.target_port)
                r.error(ports ? ports : ingress, "ingress.ports",
                        "http and https use the same targetPort " + std::to_string(spec.ingress.http.target_port));
        }
        if (spec.ingress.service_type != ServiceType::LoadBalancer && spec.metallb.enabled)
            r.warnings.push_back({"ingress.serviceType", "the gateway is a " + std::string(to_string(spec.ingress.service_type)) +
                                                             ": the MetalLB pool will not be used by it"});
        if (spec.ingress.service_type == ServiceType::LoadBalancer && !spec.metallb.enabled)
            r.warnings.push_back({"metallb.enabled", "MetalLB is off: the gateway's LoadBalancer IP must come from another provider"});
    }

    // addons
    const YAML::Node addons = SpecReader::child(root, "addons");
    if (r.is_map_or_absent(addons, "addons")) {
        r.check_keys(addons, "addons", {"prometheus", "kiali", "grafana"});
        const std::pair<std::string_view, AddonSpec*> fields[] = {
            {"prometheus", &spec.addons.prometheus}, {"kiali", &spec.addons.kiali}, {"grafana", &spec.addons.grafana}};
        for (const auto& [key, addon] : fields) {
            const std::string path = "addons." + std::string(key);
            const YAML::Node a = SpecReader::child(addons, key);
            if (!r.is_map_or_absent(a, path)) continue;
            if (key == "kiali")
                r.check_keys(a, path, {"enabled", "auth", "values"});
            else
                r.check_keys(a, path, {"enabled", "values"});
            r.boolean(a, "enabled", path, addon->enabled);
            addon->values_yaml = r.values(a, "values", path);
        }
        r.enumeration<KialiAuth>(SpecReader::child(addons, "kiali"), "auth", "addons.kiali", spec.addons.kiali_auth,
                                 {{"anonymous", KialiAuth::Anonymous},
                                  {"token", KialiAuth::Token},
                                  {"openid", KialiAuth::OpenId},
                                  {"header", KialiAuth::Header}});
        if (spec.addons.grafana.enabled && !spec.addons.prometheus.enabled)
            r.warnings.push_back({"addons.grafana", "Grafana without Prometheus has no data source"});
    }

    // exposure
    const YAML::Node exposure = SpecReader::child(root, "exposure");
    if (r.is_map_or_absent(exposure, "exposure")) {
        r.check_keys(exposure, "exposure", {"enabled", "hosts", "tls"});
        r.boolean(exposure, "enabled", "exposure", spec.exposure.enabled);
        const YAML::Node hosts = SpecReader::child(exposure, "hosts");
        if (r.is_map_or_absent(hosts, "exposure.hosts")) {
            r.check_keys(hosts, "exposure.hosts", {"kiali", "prometheus", "grafana"});
            std::map<std::string, std::string> seen;
            const std::pair<std::string_view, AddonSpec*> fields[] = {
                {"prometheus", &spec.addons.prometheus}, {"kiali", &spec.addons.kiali}, {"grafana", &spec.addons.grafana}};
            for (const auto& [key, addon] : fields) {
                const std::string field = "exposure.hosts." + std::string(key);
                r.str(hosts, key, "exposure.hosts", addon->host);
                if (!addon->host.empty() && !is_dns_subdomain(addon->host)) {
                    r.error(SpecReader::child(hosts, key), field, "'" + addon->host + "' is not a valid host name");
                    continue;
                }
                if (addon->enabled && !addon->host.empty()) {
                    auto [it, fresh] = seen.emplace(addon->host, field);
                    if (!fresh)
                        r.error(SpecReader::child(hosts, key), field,
                                "host '" + addon->host + "' is already used by " + it->second);
                }
            }
        }
        const YAML::Node tls = SpecReader::child(exposure, "tls");
        if (r.is_map_or_absent(tls, "exposure.tls")) {
            r.check_keys(tls, "exposure.tls", {"enabled", "secretName"});
            r.boolean(tls, "enabled", "exposure.tls", spec.exposure.tls);
            r.str(tls, "secretName", "exposure.tls", spec.exposure.tls_secret);
            if (!is_dns_subdomain(spec.exposure.tls_secret))
                r.error(SpecReader::child(tls, "secretName"), "exposure.tls.secretName",
                        "'" + spec.exposure.tls_secret + "' is not a valid Secret name");
        }
        if (spec.exposure.enabled && spec.addons.kiali.enabled && !spec.addons.kiali.host.empty() &&
            spec.addons.kiali_auth == KialiAuth::Anonymous)
            r.warnings.push_back({"addons.kiali.auth",
                                  "Kiali is exposed through the gateway with anonymous auth: anyone on the LAN can use it"});
    }

    // injection
    const YAML::Node injection = SpecReader::child(root, "injection");
    if (r.is_map_or_absent(injection, "injection")) {
        r.check_keys(injection, "injection", {"namespaces"});
        for (const auto& item : r.str_list(injection, "namespaces", "injection")) {
            if (!is_dns_label(item.value)) {
                r.error_at(item.mark, "injection.namespaces", "'" + item.value + "' is not a valid namespace name");
                continue;
            }
            if (item.value == "kube-system" || item.value == "istio-system" || item.value == "metallb-system") {
                r.error_at(item.mark, "injection.namespaces",
                           "'" + item.value + "' must not be put in the mesh (control-plane namespace)");
                continue;
            }
            if (std::find(spec.injection_namespaces.begin(), spec.injection_namespaces.end(), item.value) !=
                spec.injection_namespaces.end()) {
                r.error_at(item.mark, "injection.namespaces", "'" + item.value + "' is listed twice");
                continue;
            }
            spec.injection_namespaces.push_back(item.value);
        }
    }

    // demo
    const YAML::Node demo = SpecReader::child(root, "demo");
    if (r.is_map_or_absent(demo, "demo")) {
        r.check_keys(demo, "demo", {"enabled", "namespace", "inject"});
        r.boolean(demo, "enabled", "demo", spec.demo.enabled);
        r.str(demo, "namespace", "demo", spec.demo.namespace_name);
        r.boolean(demo, "inject", "demo", spec.demo.inject);
        if (!is_dns_label(spec.demo.namespace_name))
            r.error(SpecReader::child(demo, "namespace"), "demo.namespace",
                    "'" + spec.demo.namespace_name + "' is not a valid namespace name");
    }

    // auditor
    const YAML::Node auditor = SpecReader::child(root, "auditor");
    if (r.is_map_or_absent(auditor, "auditor")) {
        r.check_keys(auditor, "auditor", {"enabled", "image", "schedule", "pushgateway"});
        r.boolean(auditor, "enabled", "auditor", spec.auditor.enabled);
        r.str(auditor, "image", "auditor", spec.auditor.image);
        if (!is_image_reference(spec.auditor.image))
            r.error(SpecReader::child(auditor, "image"), "auditor.image",
                    "'" + spec.auditor.image + "' is not an image reference (registry/repository:tag)");
        r.str(auditor, "schedule", "auditor", spec.auditor.schedule);
        if (!spec.auditor.schedule.empty() && !is_cron_schedule(spec.auditor.schedule))
            r.error(SpecReader::child(auditor, "schedule"), "auditor.schedule",
                    "'" + spec.auditor.schedule +
                        "' is not a cron schedule (5 fields: minute hour day-of-month month day-of-week, or @hourly)");
        r.str(auditor, "pushgateway", "auditor", spec.auditor.pushgateway);
        if (!spec.auditor.pushgateway.empty() && !is_http_url(spec.auditor.pushgateway))
            r.error(SpecReader::child(auditor, "pushgateway"), "auditor.pushgateway",
                    "'" + spec.auditor.pushgateway + "' is not an http:// or https:// URL");
        if (spec.auditor.enabled && !spec.auditor.schedule.empty())
            r.warnings.push_back({"auditor.schedule",
                                  "the scheduled audit needs the Secret meshproof-signing-key in meshproof-system "
                                  "(docs/compliance.md) and a PersistentVolume for its reports"});
    }

    // timeouts
    const YAML::Node timeouts = SpecReader::child(root, "timeouts");
    if (r.is_map_or_absent(timeouts, "timeouts")) {
        r.check_keys(timeouts, "timeouts", {"helm"});
        r.integer(timeouts, "helm", "timeouts", spec.helm_timeout_seconds, 30, 3600);
    }
}

}  // namespace

// Istio's supported-releases table (istio.io/latest/docs/releases/supported-releases) as of the 1.30.3
// release (2026-07-16); the addon charts from each release's samples/addons (helm.sh/chart labels).
// 1.30.3 is the default and, with 1.27.3, checked against its upstream charts and CRDs in tests.
constexpr IstioLine kIstioLines[] = {
    {27, false, 29, 33, "2.12.0", "27.23.0"},
    {28, false, 30, 34, "", ""},
    {29, true, 31, 35, "", ""},
    {30, true, 32, 36, "2.26.0", "28.13.0"},
};

const IstioLine* istio_line(std::string_view version) {
    if (version.rfind("1.", 0) != 0) return nullptr;
    int minor = 0;
    std::size_t i = 2;
    if (i >= version.size() || !std::isdigit(static_cast<unsigned char>(version[i]))) return nullptr;
    while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i])))
        minor = minor * 10 + (version[i++] - '0');
    if (i < version.size() && version[i] != '.') return nullptr;
    for (const auto& line : kIstioLines) {
        if (line.minor == minor) return &line;
    }
    return nullptr;
}

std::string supported_istio_lines() {
    std::string out;
    for (const auto& line : kIstioLines) {
        if (line.supported) out += (out.empty() ? "1." : ", 1.") + std::to_string(line.minor);
    }
    return out;
}

tl::expected<ParsedSpec, std::vector<SpecError>> parse_spec(std::string_view yaml_text, std::string_view source_name) {
    SpecReader reader{std::string(source_name)};
    ParsedSpec parsed;
    parsed.spec.source = std::string(source_name);
    // Defaults that the reader only overrides.
    parsed.spec.charts = {"1.30.3", "0.15.2", "2.26.0", "28.13.0", "9.2.1"};
    parsed.spec.metallb.addresses = {"192.168.1.240-192.168.1.250"};
    parsed.spec.addons.prometheus = {true, "prometheus.home.arpa", ""};
    parsed.spec.addons.kiali = {true, "kiali.home.arpa", ""};
    parsed.spec.addons.grafana = {false, "grafana.home.arpa", ""};
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        reader.error_at(e.mark, "", "YAML syntax: " + e.msg);
        return tl::unexpected(std::move(reader.errors));
    }
    std::vector<PoolEntry> pool;
    try {
        read_spec(reader, root, parsed.spec, pool);
    } catch (const YAML::Exception& e) {
        reader.error_at(e.mark, "", e.msg);
    }
    if (!reader.errors.empty()) return tl::unexpected(std::move(reader.errors));
    parsed.warnings = std::move(reader.warnings);
    return parsed;
}

tl::expected<ParsedSpec, std::vector<SpecError>> load_spec(const std::string& path) {
    if (path.empty()) return parse_spec(default_spec_yaml(), "<built-in>");
    std::string text;
    switch (read_file_bounded(path, 1u << 20, text)) {
        case BoundedRead::CannotOpen:
            return tl::unexpected(std::vector<SpecError>{{path, 0, 0, "", "cannot read the file"}});
        case BoundedRead::TooLarge:
            return tl::unexpected(std::vector<SpecError>{{path, 0, 0, "", "larger than 1 MiB; not a lab spec"}});
        case BoundedRead::Ok: break;
    }
    return parse_spec(text, path);
}

std::vector<SpecError> check_pool_against_cluster(const LabSpec& spec, const std::vector<std::string>& pod_cidrs,
                                                  const std::vector<std::string>& service_cidrs) {
    std::vector<SpecError> errors;
    if (!spec.metallb.enabled) return errors;
    for (std::size_t i = 0; i < spec.metallb.addresses.size(); ++i) {
        auto pool = parse_ip_range(spec.metallb.addresses[i]);
        if (!pool) continue;
        for (const auto* list : {&pod_cidrs, &service_cidrs}) {
            for (const auto& cidr : *list) {
                auto range = parse_cidr(cidr);
                if (range && ranges_overlap(*pool, *range)) {
                    errors.push_back({spec.source, 0, 0, "metallb.pool.addresses[" + std::to_string(i) + "]",
                                      "'" + spec.metallb.addresses[i] + "' overlaps the cluster's " +
                                          (list == &pod_cidrs ? "pod" : "service") + " range " + cidr});
                }
            }
        }
    }
    return errors;
}

}  // namespace meshproof::provision
