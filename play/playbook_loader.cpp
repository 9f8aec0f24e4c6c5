// YAML -> Playbook, validating everything before anything runs. Every problem is collected (not just
// the first) with the file, line and column yaml-cpp marks give, and the step it belongs to.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "audit/k8s/audit_policy.hpp"
#include "audit/k8s/cluster_snapshot.hpp"
#include "audit/metrics/metrics_export.hpp"
#include "demo/netns_lab.hpp"
#include "play/assert_expr.hpp"
#include "play/playbook.hpp"

#include "common/bounded_read.hpp"
#include "provision/spec.hpp"

namespace meshproof::play {

namespace fs = std::filesystem;

std::string PlayError::to_string() const {
    std::string s = file;
    if (where.line > 0) s += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
    s += ": ";
    if (!step.empty()) s += step + ": ";
    s += message;
    return s;
}

std::string_view to_string(ProvisionAction a) {
    switch (a) {
        case ProvisionAction::Up: return "up";
        case ProvisionAction::Down: return "down";
        case ProvisionAction::Status: return "status";
        case ProvisionAction::Plan: return "plan";
    }
    return "?";
}

std::string_view to_string(LabAction a) {
    switch (a) {
        case LabAction::Create: return "create";
        case LabAction::StartApps: return "apps start";
        case LabAction::StopApps: return "apps stop";
        case LabAction::SidecarsOn: return "sidecars on";
        case LabAction::SidecarsOff: return "sidecars off";
        case LabAction::Traffic: return "traffic";
        case LabAction::Destroy: return "destroy";
    }
    return "?";
}

std::string_view to_string(CompareOp op) {
    switch (op) {
        case CompareOp::Eq: return "==";
        case CompareOp::Ne: return "!=";
        case CompareOp::Lt: return "<";
        case CompareOp::Le: return "<=";
        case CompareOp::Gt: return ">";
        case CompareOp::Ge: return ">=";
    }
    return "?";
}

std::string_view to_string(StepKind k) { return kStepKinds[static_cast<std::size_t>(k)]; }

std::string Step::label() const {
    return "step " + std::to_string(number) + " '" + name + "' (" + std::string(to_string(kind)) + ")";
}

bool Playbook::uses_lab() const {
    return std::any_of(steps.begin(), steps.end(), [](const Step& s) {
        return s.kind == StepKind::Lab ||
               (s.kind == StepKind::Audit && s.as<AuditStep>().source == AuditStep::Source::Lab);
    });
}

bool Playbook::uses_live_capture() const {
    return std::any_of(steps.begin(), steps.end(), [](const Step& s) {
        return s.kind == StepKind::Audit && s.as<AuditStep>().source != AuditStep::Source::Files;
    });
}

bool Playbook::uses_kubectl() const {
    return std::any_of(steps.begin(), steps.end(), [](const Step& s) {
        switch (s.kind) {
            case StepKind::Apply:
            case StepKind::Restart: return true;
            case StepKind::Wait: return s.as<WaitStep>().kind != WaitStep::Kind::Delay;
            case StepKind::Audit: return s.as<AuditStep>().snapshot_from_cluster;
            default: return false;
        }
    });
}

std::optional<std::pair<std::string, std::string>> parse_var_assignment(std::string_view text) {
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    std::uint64_t n = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (ptr == text.data() || ec != std::errc()) return std::nullopt;
    const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    std::uint64_t ms_per = 0;
    if (unit.empty() || unit == "s") ms_per = 1000;
    else if (unit == "ms") ms_per = 1;
    else if (unit == "m") ms_per = 60'000;
    else if (unit == "h") ms_per = 3'600'000;
    else return std::nullopt;
    // A day is far beyond any step; the bound also keeps the multiplication from overflowing.
    if (n > 86'400'000 / ms_per) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(n * ms_per));
}

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms % 3'600'000 == 0 && ms > 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0 && ms > 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

namespace {

Location location(const YAML::Node& n) {
    if (!n.IsDefined()) return {};  // a missing key: Mark() would throw
    const YAML::Mark m = n.Mark();
    if (m.is_null()) return {};
    return {m.line + 1, m.column + 1};
}

bool valid_var_name(std::string_view name) {
    if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

bool valid_step_name(std::string_view name) {
    if (name.empty() || name.size() > 63 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

bool valid_interface_name(std::string_view name) {
    // Linux: at most 15 bytes (IFNAMSIZ - 1), no '/', no whitespace, not "." or "..".
    if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
    return std::none_of(name.begin(), name.end(), [](char c) {
        return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || c == '\0';
    });
}

std::string describe_node_type(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: return "a map";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
        case YAML::NodeType::Null: return "nothing";
        default: return "nothing";
    }
}

// The pieces of a dotted path as the lab spec reports them: "metallb.pool.addresses[0]".
std::vector<std::string> split_field_path(std::string_view field) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : field) {
        if (c == '.' || c == '[') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
            if (c == '[') cur = "[";
        } else if (c == ']') {
            out.push_back(cur + "]");
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

class Loader {
public:
    Loader(std::string file, std::string base_dir, const VarOverrides& overrides)
        : file_(std::move(file)), base_dir_(std::move(base_dir)), overrides_(overrides) {}

    tl::expected<Playbook, PlayErrors> load(std::string_view text);

private:
    // ------------------------------------------------------------------ errors and scalars
    void error(Location at, std::string message) {
        errors_.push_back({file_, at, step_label_, std::move(message)});
    }
    void error(const YAML::Node& at, std::string message) { error(location(at), std::move(message)); }

    // `${name}` substituted; `$$` is a literal '$'. Errors name the node.
    std::optional<std::string> expand(const YAML::Node& n, std::string_view what);
    std::optional<std::string> scalar(const YAML::Node& n, std::string_view what) {
        if (!n.IsScalar()) {
            error(n, std::string(what) + ": expected a value, got " + describe_node_type(n));
            return std::nullopt;
        }
        return expand(n, what);
    }
    std::optional<bool> boolean(const YAML::Node& n, std::string_view what) {
        auto s = scalar(n, what);
        if (!s) return std::nullopt;
        static const std::pair<std::string_view, bool> kWords[] = {
            {"true", true}, {"yes", true}, {"on", true}, {"false", false}, {"no", false}, {"off", false}};
        std::string lower;
        for (char c : *s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (const auto& [w, v] : kWords) {
            if (lower == w) return v;
        }
        error(n, std::string(what) + ": expected true or false, got '" + *s + "'");
        return std::nullopt;
    }
    std::optional<int> integer(const YAML::Node& n, std::string_view what, int min, int max) {
        auto s = scalar(n, what);
        if (!s) return std::nullopt;
        int v = 0;
        const auto* end = s->data() + s->size();
        const auto [ptr, ec] = std::from_chars(s->data(), end, v);
        if (s->empty() || ec != std::errc() || ptr != end) {
            error(n, std::string(what) + ": expected a whole number, got '" + *s + "'");
            return std::nullopt;
        }
        if (v < min || v > max) {
            error(n, std::string(what) + ": " + *s + " is out of range (" + std::to_string(min) + ".." +
                         std::to_string(max) + ")");
            return std::nullopt;
        }
        return v;
    }
    std::optional<std::chrono::milliseconds> duration(const YAML::Node& n, std::string_view what) {
        auto s = scalar(n, what);
        if (!s) return std::nullopt;
        auto d = parse_duration(*s);
        if (!d) {
            error(n, std::string(what) + ": expected a duration such as 500ms, 30s, 2m or 1h (at most 24h), got '" +
                         *s + "'");
        }
        return d;
    }
    // A scalar or a list of scalars.
    std::vector<std::string> string_list(const YAML::Node& n, std::string_view what) {
        std::vector<std::string> out;
        if (n.IsSequence()) {
            if (n.size() == 0) error(n, std::string(what) + ": the list is empty");
            for (const auto& item : n) {
                if (auto s = scalar(item, what)) out.push_back(*s);
            }
        } else if (auto s = scalar(n, what)) {
            out.push_back(*s);
        }
        return out;
    }
    // One of `choices`, with a suggestion for typos.
    std::optional<std::string> choice(const YAML::Node& n, std::string_view what,
                                      const std::vector<std::string_view>& choices) {
        auto s = scalar(n, what);
        if (!s) return std::nullopt;
        if (std::find(choices.begin(), choices.end(), *s) != choices.end()) return s;
        std::string expected;
        for (auto c : choices) expected += (expected.empty() ? "" : " | ") + std::string(c);
        std::string msg = std::string(what) + ": unknown value '" + *s + "' (expected " + expected + ")";
        if (auto near = provision::nearest_key(*s, choices); !near.empty()) msg += "; did you mean '" + near + "'?";
        error(n, msg);
        return std::nullopt;
    }

    // Checks that `n` is a map whose keys are all in `allowed` (no duplicates), reporting the rest.
    bool check_map(const YAML::Node& n, std::string_view what, const std::vector<std::string_view>& allowed);

    // Input files are relative to the playbook's directory.
    std::string resolve_input(const std::string& path) const {
        if (path.empty() || fs::path(path).is_absolute() || base_dir_.empty()) return path;
        return (fs::path(base_dir_) / path).lexically_normal().string();
    }
    bool readable_file(const YAML::Node& at, const std::string& what, const std::string& resolved) {
        std::error_code ec;
        if (!fs::exists(resolved, ec)) {
            error(at, what + ": " + resolved + " does not exist");
            return false;
        }
        if (fs::is_directory(resolved, ec)) {
            error(at, what + ": " + resolved + " is a directory, not a file");
            return false;
        }
        std::ifstream in(resolved);
        if (!in) {
            error(at, what + ": cannot read " + resolved);
            return false;
        }
        return true;
    }

    // ------------------------------------------------------------------ steps
    void load_vars(const YAML::Node& root);
    void collect_result_names(const YAML::Node& steps);
    std::optional<Step> load_step(const YAML::Node& n, std::size_t number);
    std::optional<ProvisionStep> load_provision(const YAML::Node& n);
    void check_inline_spec(const YAML::Node& spec_node, const std::string& emitted);
    std::optional<ApplyStep> load_apply(const YAML::Node& n);
    void check_manifest(const std::string& text, const std::string& source, const YAML::Node& at, bool inline_text,
                        std::vector<std::string>& objects);
    std::optional<WaitStep> load_wait(const YAML::Node& n);
    std::optional<RestartStep> load_restart(const YAML::Node& n);
    std::optional<LabStep> load_lab(const YAML::Node& n);
    std::optional<AuditStep> load_audit(const YAML::Node& n);
    std::optional<AssertStep> load_assert(const YAML::Node& n);
    std::optional<DiffStep> load_diff(const YAML::Node& n);
    std::optional<ReportStep> load_report(const YAML::Node& n);
    std::optional<PushStep> load_push(const YAML::Node& n);
    std::optional<std::string> namespace_field(const YAML::Node& m);

    // A reference to an earlier audit or diff.
    enum class ResultKind : std::uint8_t { Audit, Diff };
    std::optional<std::string> reference(const YAML::Node& n, std::string_view what, ResultKind kind);

    // Lab state as the steps so far leave it (validation simulates the lab).
    struct LabState {
        bool created = false, apps = false, sidecars = false;
        std::size_t created_by = 0;
    };
    bool lab_needs(const YAML::Node& at, bool need_apps);

    std::string file_, base_dir_;
    const VarOverrides& overrides_;
    PlayErrors errors_;
    std::string step_label_;
    std::map<std::string, std::string, std::less<>> vars_;
    std::size_t step_number_ = 0;
    std::string step_name_;

    struct ResultInfo {
        ResultKind kind;
        std::size_t step = 0;
        bool has_policy = false;
    };
    std::map<std::string, ResultInfo, std::less<>> defined_;          // by earlier steps
    std::map<std::string, std::pair<ResultKind, std::size_t>, std::less<>> all_results_;  // every step (pre-pass)
    LabState lab_;
};

std::optional<std::string> Loader::expand(const YAML::Node& n, std::string_view what) {
    const std::string& in = n.Scalar();
    std::string out;
    bool ok = true;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '$' || i + 1 >= in.size()) {
            out += in[i];
            continue;
        }
        if (in[i + 1] == '$') {
            out += '$';
            ++i;
            continue;
        }
        if (in[i + 1] != '{') {
            out += in[i];
            continue;
        }
        const auto close = in.find('}', i + 2);
        if (close == std::string::npos) {
            error(n, std::string(what) + ": unterminated '${' (write $$ for a literal '$')");
            return std::nullopt;
        }
        const std::string name = in.substr(i + 2, close - i - 2);
        const auto it = vars_.find(name);
        if (it == vars_.end()) {
            std::vector<std::string_view> names;
            for (const auto& [k, v] : vars_) names.push_back(k);
            std::string msg = std::string(what) + ": undefined variable '" + name + "'";
            if (auto near = provision::nearest_key(name, names); !near.empty()) msg += " (did you mean '" + near + "'?)";
            else msg += " (declare it under vars:)";
            error(n, msg);
            ok = false;
        } else {
            out += it->second;
        }
        i = close;
    }
    if (!ok) return std::nullopt;
    return out;
}

bool Loader::check_map(const YAML::Node& n, std::string_view what, const std::vector<std::string_view>& allowed) {
    if (!n.IsMap()) {
        error(n, std::string(what) + ": expected a map, got " + describe_node_type(n));
        return false;
    }
    std::set<std::string> seen;
    bool ok = true;
    for (const auto& kv : n) {
        const YAML::Node& key = kv.first;
        if (!key.IsScalar()) {
            error(key, std::string(what) + ": keys must be plain words");
            ok = false;
            continue;
        }
        const std::string& k = key.Scalar();
        if (!seen.insert(k).second) {
            error(key, std::string(what) + ": duplicate key '" + k + "'");
            ok = false;
            continue;
        }
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
            std::string msg = std::string(what) + ": unknown key '" + k + "'";
            if (auto near = provision::nearest_key(k, allowed); !near.empty()) {
                msg += " (did you mean '" + near + "'?)";
            } else {
                std::string all;
                for (auto a : allowed) all += (all.empty() ? "" : ", ") + std::string(a);
                msg += " (expected: " + all + ")";
            }
            error(key, msg);
            ok = false;
        }
    }
    return ok;
}

void Loader::load_vars(const YAML::Node& root) {
    const YAML::Node vars = root["vars"];
    if (vars && !vars.IsNull()) {
        if (!vars.IsMap()) {
            error(vars, "vars: expected a map of NAME: default value, got " + describe_node_type(vars));
        } else {
            for (const auto& kv : vars) {
                if (!kv.first.IsScalar() || !valid_var_name(kv.first.Scalar())) {
                    error(kv.first, "vars: '" + (kv.first.IsScalar() ? kv.first.Scalar() : std::string("?")) +
                                        "' is not a variable name (letters, digits, '_', '-'; not starting with a digit)");
                    continue;
                }
                if (vars_.count(kv.first.Scalar()) != 0) {
                    error(kv.first, "vars: duplicate variable '" + kv.first.Scalar() + "'");
                    continue;
                }
                if (kv.second.IsNull()) {
                    vars_[kv.first.Scalar()] = "";
                } else if (!kv.second.IsScalar()) {
                    error(kv.second, "vars." + kv.first.Scalar() + ": a default must be a single value");
                } else {
                    vars_[kv.first.Scalar()] = kv.second.Scalar();
                }
            }
        }
    }
    for (const auto& [k, v] : overrides_) {
        if (vars_.count(k) == 0) {
            std::vector<std::string_view> names;
            for (const auto& [name, value] : vars_) names.push_back(name);
            std::string msg = "--var " + k + ": not declared under vars:";
            if (auto near = provision::nearest_key(k, names); !near.empty()) msg += " (did you mean '" + near + "'?)";
            error(location(vars), msg);
            continue;
        }
        vars_[k] = v;
    }
}

void Loader::collect_result_names(const YAML::Node& steps) {
    std::size_t number = 0;
    for (const auto& s : steps) {
        ++number;
        if (!s.IsMap() || !s["name"] || !s["name"].IsScalar()) continue;
        const bool audit = static_cast<bool>(s["audit"]);
        const bool diff = static_cast<bool>(s["diff"]);
        if (!audit && !diff) continue;
        // Variables are not expanded here (errors come later, once): names are usually literal.
        all_results_.emplace(s["name"].Scalar(), std::make_pair(audit ? ResultKind::Audit : ResultKind::Diff, number));
    }
}

std::optional<std::string> Loader::reference(const YAML::Node& n, std::string_view what, ResultKind kind) {
    auto name = scalar(n, what);
    if (!name) return std::nullopt;
    const char* noun = kind == ResultKind::Audit ? "audit" : "diff";
    if (auto it = defined_.find(*name); it != defined_.end()) {
        if (it->second.kind != kind) {
            error(n, std::string(what) + ": '" + *name + "' is " + (kind == ResultKind::Audit ? "a diff" : "an audit") +
                         " (step " + std::to_string(it->second.step) + "), not " + (kind == ResultKind::Audit ? "an audit" : "a diff"));
            return std::nullopt;
        }
        return name;
    }
    if (auto it = all_results_.find(*name); it != all_results_.end() && it->second.second >= step_number_) {
        error(n, std::string(what) + ": " + noun + " '" + *name + "' is only made later, by step " +
                     std::to_string(it->second.second));
        return std::nullopt;
    }
    std::vector<std::string_view> names;
    for (const auto& [k, info] : defined_) {
        if (info.kind == kind) names.push_back(k);
    }
    std::string msg = std::string(what) + ": no earlier " + noun + " step is named '" + *name + "'";
    if (auto near = provision::nearest_key(*name, names); !near.empty()) msg += " (did you mean '" + near + "'?)";
    error(n, msg);
    return std::nullopt;
}

std::optional<std::string> Loader::namespace_field(const YAML::Node& m) {
    if (!m["namespace"]) return std::string();
    auto ns = scalar(m["namespace"], "namespace");
    if (!ns) return std::nullopt;
    const bool dns = !ns->empty() && ns->size() <= 63 && ns->front() != '-' && ns->back() != '-' &&
                     std::all_of(ns->begin(), ns->end(), [](char c) {
                         return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-';
                     });
    if (!dns) {
        error(m["namespace"], "namespace: '" + *ns + "' is not a Kubernetes namespace name (lowercase letters, digits, '-')");
        return std::nullopt;
    }
    return ns;
}

// ---------------------------------------------------------------------- provision

std::optional<ProvisionStep> Loader::load_provision(const YAML::Node& n) {
    ProvisionStep p;
    static const std::vector<std::string_view> kActions = {"up", "down", "status", "plan"};
    auto set_action = [&](const YAML::Node& a) {
        auto s = choice(a, "provision", kActions);
        if (!s) return false;
        p.action = *s == "up" ? ProvisionAction::Up
                   : *s == "down" ? ProvisionAction::Down
                   : *s == "status" ? ProvisionAction::Status
                                    : ProvisionAction::Plan;
        return true;
    };
    if (n.IsScalar()) {
        if (!set_action(n)) return std::nullopt;
        return p;
    }
    if (!check_map(n, "provision", {"action", "spec", "stateDir", "purge"})) return std::nullopt;
    bool ok = true;
    if (n["action"] && !set_action(n["action"])) ok = false;
    if (const YAML::Node spec = n["spec"]) {
        if (spec.IsMap()) {
            // Inline spec: variables expanded in every value, emitted as YAML for `-f`.
            std::function<YAML::Node(const YAML::Node&)> copy = [&](const YAML::Node& in) -> YAML::Node {
                if (in.IsScalar()) {
                    auto v = expand(in, "provision.spec");
                    return YAML::Node(v.value_or(in.Scalar()));
                }
                if (in.IsSequence()) {
                    YAML::Node out(YAML::NodeType::Sequence);
                    for (const auto& item : in) out.push_back(copy(item));
                    return out;
                }
                if (in.IsMap()) {
                    YAML::Node out(YAML::NodeType::Map);
                    for (const auto& kv : in) out[kv.first.Scalar()] = copy(kv.second);
                    return out;
                }
                return YAML::Node();
            };
            YAML::Emitter emitter;
            emitter << copy(spec);
            p.inline_spec = std::string(emitter.c_str()) + "\n";
            check_inline_spec(spec, p.inline_spec);
        } else if (auto path = scalar(spec, "provision.spec")) {
            // An empty path (e.g. a variable left at its default "") is the built-in spec.
            p.spec_file = resolve_input(*path);
            if (p.spec_file.empty()) {
                // nothing to check: the built-in spec is valid by construction (and tested)
            } else if (readable_file(spec, "provision.spec", p.spec_file)) {
                if (auto parsed = provision::load_spec(p.spec_file); !parsed) {
                    for (const auto& e : parsed.error()) error(spec, "lab spec " + e.to_string());
                    ok = false;
                }
            } else {
                ok = false;
            }
        } else {
            ok = false;
        }
    }
    if (n["stateDir"]) {
        if (auto d = scalar(n["stateDir"], "provision.stateDir")) p.state_dir = *d;
        else ok = false;
    }
    if (n["purge"]) {
        if (auto b = boolean(n["purge"], "provision.purge")) p.purge = *b;
        else ok = false;
        if (p.purge && p.action != ProvisionAction::Down) {
            error(n["purge"], "provision.purge: only applies to action: down");
            ok = false;
        }
    }
    if (!ok) return std::nullopt;
    return p;
}

void Loader::check_inline_spec(const YAML::Node& spec_node, const std::string& emitted) {
    auto parsed = provision::parse_spec(emitted, file_ + " (inline spec)");
    if (parsed) return;
    for (const auto& e : parsed.error()) {
        // Point at the offending field in the playbook: walk the dotted path as far as it goes.
        YAML::Node at = spec_node;
        Location where = location(spec_node);
        for (const auto& part : split_field_path(e.field)) {
            if (part.front() == '[') {
                std::size_t index = 0;
                const auto [ptr, ec] = std::from_chars(part.data() + 1, part.data() + part.size() - 1, index);
                (void)ptr;
                if (ec != std::errc() || !at.IsSequence() || index >= at.size()) break;
                at.reset(at[index]);  // reset, not =: assignment would rewrite the node itself
                where = location(at);
                continue;
            }
            if (!at.IsMap()) break;
            bool found = false;
            for (const auto& kv : at) {
                if (kv.first.IsScalar() && kv.first.Scalar() == part) {
                    // Unknown keys point at the key, bad values at the value.
                    where = e.message.find("unknown key") != std::string::npos ? location(kv.first) : location(kv.second);
                    at.reset(kv.second);
                    found = true;
                    break;
                }
            }
            if (!found) break;
        }
        error(where, "provision.spec" + (e.field.empty() ? std::string() : "." + e.field) + ": " + e.message);
    }
}

// ---------------------------------------------------------------------- apply, wait, restart

void Loader::check_manifest(const std::string& text, const std::string& source, const YAML::Node& at, bool inline_text,
                            std::vector<std::string>& objects) {
    // Where a line of the manifest is in the playbook (inline block scalars start on the next line).
    auto where_of = [&](const YAML::Mark& m) -> Location {
        if (!inline_text) return location(at);
        const Location base = location(at);
        return {base.line + 1 + m.line, m.column + 1};
    };
    auto report = [&](const YAML::Mark& m, const std::string& msg) {
        if (inline_text) error(where_of(m), "apply.manifest: " + msg);
        else error(at, "apply: " + source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + msg);
    };
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        report(e.mark, e.msg);
        return;
    }
    std::size_t count = 0;
    for (const auto& d : docs) {
        if (d.IsNull()) continue;
        ++count;
        if (!d.IsMap()) {
            report(d.Mark(), "a manifest document must be a map (a Kubernetes object)");
            continue;
        }
        const YAML::Node kind = d["kind"], md = d["metadata"];
        if (!kind || !kind.IsScalar() || kind.Scalar().empty()) {
            report(d.Mark(), "object without a kind");
            continue;
        }
        if (!d["apiVersion"] || !d["apiVersion"].IsScalar()) {
            report(d.Mark(), kind.Scalar() + " without an apiVersion");
            continue;
        }
        if (!md || !md.IsMap() || !md["name"] || !md["name"].IsScalar()) {
            report(d.Mark(), kind.Scalar() + " without metadata.name");
            continue;
        }
        std::string ns = md["namespace"] && md["namespace"].IsScalar() ? md["namespace"].Scalar() : "";
        objects.push_back(kind.Scalar() + "/" + (ns.empty() ? "" : ns + "/") + md["name"].Scalar());
    }
    if (count == 0) report(YAML::Mark(), "no Kubernetes object in it");
}

std::optional<ApplyStep> Loader::load_apply(const YAML::Node& n) {
    if (!check_map(n, "apply", {"file", "files", "manifest", "namespace", "delete", "timeout"})) return std::nullopt;
    ApplyStep a;
    bool ok = true;
    const int sources = (n["file"] ? 1 : 0) + (n["files"] ? 1 : 0) + (n["manifest"] ? 1 : 0);
    if (sources != 1) {
        error(n, "apply: needs exactly one of file, files, manifest");
        return std::nullopt;
    }
    if (n["file"] || n["files"]) {
        const YAML::Node f = n["file"] ? n["file"] : n["files"];
        for (const auto& path : string_list(f, "apply.files")) {
            const std::string resolved = resolve_input(path);
            if (!readable_file(f, "apply", resolved)) {
                ok = false;
                continue;
            }
            std::string text;
            if (read_file_bounded(resolved, 16u << 20, text) != BoundedRead::Ok) {
                error(f, "apply: " + resolved + " is larger than 16 MiB or unreadable; not a manifest");
                ok = false;
                continue;
            }
            check_manifest(text, resolved, f, false, a.objects);
            a.files.push_back(resolved);
        }
        if (a.files.empty()) ok = false;
    } else if (auto m = scalar(n["manifest"], "apply.manifest")) {
        a.inline_manifest = *m;
        check_manifest(a.inline_manifest, "manifest", n["manifest"], true, a.objects);
    } else {
        ok = false;
    }
    if (auto ns = namespace_field(n)) a.namespace_name = *ns;
    else ok = false;
    if (n["delete"]) {
        if (auto b = boolean(n["delete"], "apply.delete")) a.remove = *b;
        else ok = false;
    }
    if (n["timeout"]) {
        if (auto d = duration(n["timeout"], "apply.timeout")) a.timeout = *d;
        else ok = false;
    }
    if (!ok) return std::nullopt;
    return a;
}

std::optional<WaitStep> Loader::load_wait(const YAML::Node& n) {
    WaitStep w;
    if (n.IsScalar()) {
        // `wait: 5s`
        auto d = duration(n, "wait");
        if (!d) return std::nullopt;
        w.delay = *d;
        return w;
    }
    if (!check_map(n, "wait", {"delay", "rollout", "condition", "resource", "selector", "namespace", "timeout"}))
        return std::nullopt;
    const int kinds = (n["delay"] ? 1 : 0) + (n["rollout"] ? 1 : 0) + (n["condition"] ? 1 : 0);
    if (kinds != 1) {
        error(n, "wait: needs exactly one of delay, rollout, condition");
        return std::nullopt;
    }
    bool ok = true;
    if (n["delay"]) {
        for (const char* k : {"resource", "selector", "namespace", "timeout"}) {
            if (n[k]) {
                error(n[k], std::string("wait.") + k + ": does not apply to a delay");
                ok = false;
            }
        }
        if (auto d = duration(n["delay"], "wait.delay")) w.delay = *d;
        else ok = false;
        if (!ok) return std::nullopt;
        return w;
    }
    if (n["rollout"]) {
        w.kind = WaitStep::Kind::Rollout;
        if (auto r = scalar(n["rollout"], "wait.rollout")) {
            w.resource = *r;
            const auto slash = r->find('/');
            static const std::vector<std::string_view> kKinds = {"deployment", "statefulset", "daemonset"};
            if (slash == std::string::npos || slash + 1 >= r->size() ||
                std::find(kKinds.begin(), kKinds.end(), r->substr(0, slash)) == kKinds.end()) {
                error(n["rollout"], "wait.rollout: expected deployment/NAME, statefulset/NAME or daemonset/NAME, got '" + *r + "'");
                ok = false;
            }
        } else {
            ok = false;
        }
        for (const char* k : {"resource", "selector"}) {
            if (n[k]) {
                error(n[k], std::string("wait.") + k + ": only for a condition wait");
                ok = false;
            }
        }
    } else {
        w.kind = WaitStep::Kind::Condition;
        if (auto c = scalar(n["condition"], "wait.condition")) w.condition = *c;
        else ok = false;
        if (!n["resource"]) {
            error(n, "wait: a condition needs resource: (e.g. pods, deployment/NAME)");
            ok = false;
        } else if (auto r = scalar(n["resource"], "wait.resource")) {
            w.resource = *r;
        } else {
            ok = false;
        }
        if (n["selector"]) {
            if (auto s = scalar(n["selector"], "wait.selector")) w.selector = *s;
            else ok = false;
        }
    }
    if (auto ns = namespace_field(n)) w.namespace_name = *ns;
    else ok = false;
    if (n["timeout"]) {
        if (auto d = duration(n["timeout"], "wait.timeout")) w.timeout = *d;
        else ok = false;
    }
    if (!ok) return std::nullopt;
    return w;
}

std::optional<RestartStep> Loader::load_restart(const YAML::Node& n) {
    if (!check_map(n, "restart", {"resources", "namespace"})) return std::nullopt;
    RestartStep r;
    bool ok = true;
    if (!n["resources"]) {
        error(n, "restart: needs resources: (deployment/NAME, ...)");
        return std::nullopt;
    }
    static const std::vector<std::string_view> kKinds = {"deployment", "statefulset", "daemonset"};
    for (const auto& res : string_list(n["resources"], "restart.resources")) {
        const auto slash = res.find('/');
        if (slash == std::string::npos || slash + 1 >= res.size() ||
            std::find(kKinds.begin(), kKinds.end(), res.substr(0, slash)) == kKinds.end()) {
            error(n["resources"], "restart.resources: expected deployment/NAME, statefulset/NAME or daemonset/NAME, got '" + res + "'");
            ok = false;
            continue;
        }
        r.resources.push_back(res);
    }
    if (auto ns = namespace_field(n)) r.namespace_name = *ns;
    else ok = false;
    if (!ok || r.resources.empty()) return std::nullopt;
    return r;
}

// ---------------------------------------------------------------------- lab

bool Loader::lab_needs(const YAML::Node& at, bool need_apps) {
    if (!lab_.created) {
        error(at, "there is no lab at this point (add a step `lab: create` before it)");
        return false;
    }
    if (need_apps && !lab_.apps) {
        error(at, "the lab's apps are not running at this point (add a step `lab: {apps: start}` before it)");
        return false;
    }
    return true;
}

std::optional<LabStep> Loader::load_lab(const YAML::Node& n) {
    LabStep l;
    static const std::vector<std::string_view> kScalars = {"create", "traffic", "destroy"};
    std::string action;
    YAML::Node args;
    YAML::Node where = n;  // what messages point at: the action's value in the map form
    if (n.IsScalar()) {
        auto s = choice(n, "lab", kScalars);
        if (!s) return std::nullopt;
        action = *s;
    } else {
        if (!check_map(n, "lab", {"create", "apps", "sidecars", "without", "traffic", "destroy"})) return std::nullopt;
        std::vector<std::string> given;
        for (const char* k : {"create", "apps", "sidecars", "traffic", "destroy"}) {
            if (n[k]) given.emplace_back(k);
        }
        if (given.size() != 1) {
            error(n, "lab: needs exactly one of create, apps, sidecars, traffic, destroy");
            return std::nullopt;
        }
        action = given[0];
        args.reset(n[action]);
        where.reset(args);
        if (n["without"] && action != "sidecars") {
            error(n["without"], "lab.without: only with sidecars: on");
            return std::nullopt;
        }
    }
    bool ok = true;
    if (action == "create") {
        l.action = LabAction::Create;
        if (args && args.IsMap()) {
            if (!check_map(args, "lab.create", {"prefix"})) return std::nullopt;
            if (args["prefix"]) {
                auto p = scalar(args["prefix"], "lab.create.prefix");
                if (!p) return std::nullopt;
                l.prefix = *p;
                if (!l.prefix.empty() && !demo::valid_lab_prefix(l.prefix)) {
                    error(args["prefix"], "lab.create.prefix: '" + l.prefix +
                                              "' is not a lab prefix ([a-z0-9][a-z0-9.-], at most 31 characters)");
                    ok = false;
                }
            }
        } else if (args && !args.IsNull()) {
            auto b = boolean(args, "lab.create");
            if (!b) return std::nullopt;
            if (!*b) {
                error(args, "lab.create: false does nothing; remove the step");
                return std::nullopt;
            }
        }
        if (lab_.created) {
            error(where, "the lab already exists (made by step " + std::to_string(lab_.created_by) +
                                       "); add `lab: destroy` first to make a new one");
            ok = false;
        }
        lab_ = {true, false, false, step_number_};
    } else if (action == "apps") {
        auto s = choice(args, "lab.apps", {"start", "stop"});
        if (!s) return std::nullopt;
        l.action = *s == "start" ? LabAction::StartApps : LabAction::StopApps;
        if (!lab_needs(where, false)) ok = false;
        lab_.apps = *s == "start";
    } else if (action == "sidecars") {
        auto b = boolean(args, "lab.sidecars");
        if (!b) return std::nullopt;
        l.action = *b ? LabAction::SidecarsOn : LabAction::SidecarsOff;
        if (n["without"]) {
            if (!*b) {
                error(n["without"], "lab.without: only with sidecars: on");
                ok = false;
            }
            for (const auto& pod : string_list(n["without"], "lab.without")) {
                if (pod != "db") {
                    error(n["without"], "lab.without: '" + pod +
                                            "' cannot be left out of the mesh (only db can: frontend and backend "
                                            "are the client and server of the meshed call)");
                    ok = false;
                    continue;
                }
                l.without.push_back(pod);
            }
        }
        if (!lab_needs(where, false)) ok = false;
        lab_.sidecars = *b;
    } else if (action == "traffic") {
        l.action = LabAction::Traffic;
        if (args && args.IsMap()) {
            if (!check_map(args, "lab.traffic", {"rounds"})) return std::nullopt;
            if (args["rounds"]) {
                if (auto r = integer(args["rounds"], "lab.traffic.rounds", 1, 100)) l.rounds = *r;
                else ok = false;
            }
        } else if (args && !args.IsNull()) {
            auto b = boolean(args, "lab.traffic");
            if (!b) return std::nullopt;
        }
        if (!lab_needs(where, true)) ok = false;
    } else {
        l.action = LabAction::Destroy;
        if (args && !args.IsNull()) {
            auto b = boolean(args, "lab.destroy");
            if (!b) return std::nullopt;
        }
        if (!lab_needs(where, false)) ok = false;
        lab_ = {};
    }
    if (!ok) return std::nullopt;
    return l;
}

// ---------------------------------------------------------------------- audit, assert, diff, report, push

std::optional<AuditStep> Loader::load_audit(const YAML::Node& n) {
    if (!check_map(n, "audit", {"capture", "read", "rounds", "duration", "filter", "snapshot", "policy"}))
        return std::nullopt;
    AuditStep a;
    bool ok = true;
    if ((n["capture"] ? 1 : 0) + (n["read"] ? 1 : 0) != 1) {
        error(n, "audit: needs exactly one of capture (lab or an interface) and read (capture files)");
        return std::nullopt;
    }
    if (n["capture"]) {
        auto c = scalar(n["capture"], "audit.capture");
        if (!c) return std::nullopt;
        if (*c == "lab") {
            a.source = AuditStep::Source::Lab;
        } else if (valid_interface_name(*c)) {
            a.source = AuditStep::Source::Interface;
            a.interface = *c;
        } else {
            error(n["capture"], "audit.capture: expected lab or an interface name, got '" + *c + "'");
            return std::nullopt;
        }
    } else {
        a.source = AuditStep::Source::Files;
        for (const auto& path : string_list(n["read"], "audit.read")) {
            const std::string resolved = resolve_input(path);
            std::error_code ec;
            if (fs::is_directory(resolved, ec)) {
                // A directory: its capture files, in name order (like `audit read DIR`).
                std::vector<std::string> found;
                for (const auto& e : fs::directory_iterator(resolved, ec)) {
                    const auto ext = e.path().extension().string();
                    if (e.is_regular_file(ec) && (ext == ".pcap" || ext == ".pcapng" || ext == ".cap")) found.push_back(e.path().string());
                }
                std::sort(found.begin(), found.end());
                if (found.empty()) {
                    error(n["read"], "audit.read: no .pcap/.pcapng file in " + resolved);
                    ok = false;
                }
                a.files.insert(a.files.end(), found.begin(), found.end());
            } else if (readable_file(n["read"], "audit.read", resolved)) {
                a.files.push_back(resolved);
            } else {
                ok = false;
            }
        }
        if (a.files.empty()) ok = false;
    }
    if (n["rounds"]) {
        if (a.source != AuditStep::Source::Lab) {
            error(n["rounds"], "audit.rounds: only for capture: lab (the lab's client runs that many rounds)");
            ok = false;
        } else if (auto r = integer(n["rounds"], "audit.rounds", 0, 100)) {
            a.rounds = *r;
        } else {
            ok = false;
        }
    }
    if (n["duration"]) {
        if (a.source == AuditStep::Source::Files) {
            error(n["duration"], "audit.duration: only for a live capture");
            ok = false;
        } else if (auto d = duration(n["duration"], "audit.duration")) {
            a.duration = *d;
            if (d->count() == 0) {
                error(n["duration"], "audit.duration: must be more than 0");
                ok = false;
            }
        } else {
            ok = false;
        }
    } else if (a.source == AuditStep::Source::Interface) {
        error(n, "audit: capture on an interface needs duration: (e.g. 30s)");
        ok = false;
    }
    if (a.source == AuditStep::Source::Lab && a.rounds == 0 && a.duration.count() == 0) {
        error(n, "audit: rounds: 0 needs a duration: (the capture would last no time)");
        ok = false;
    }
    if (n["filter"]) {
        if (a.source != AuditStep::Source::Interface) {
            error(n["filter"], "audit.filter: only for a capture on an interface");
            ok = false;
        } else if (auto f = scalar(n["filter"], "audit.filter")) {
            a.filter = *f;
        } else {
            ok = false;
        }
    }
    if (a.source == AuditStep::Source::Lab && !lab_needs(n["capture"], a.rounds > 0)) ok = false;
    if (n["snapshot"]) {
        if (auto s = scalar(n["snapshot"], "audit.snapshot")) {
            if (*s == "cluster") {
                a.snapshot_from_cluster = true;
            } else {
                a.snapshot = resolve_input(*s);
                if (readable_file(n["snapshot"], "audit.snapshot", a.snapshot)) {
                    if (auto snap = audit::k8s::load_cluster_snapshot(a.snapshot); !snap) {
                        error(n["snapshot"], "audit.snapshot: " + snap.error());
                        ok = false;
                    }
                } else {
                    ok = false;
                }
            }
        } else {
            ok = false;
        }
    }
    if (n["policy"]) {
        if (auto p = scalar(n["policy"], "audit.policy")) {
            a.policy = resolve_input(*p);
            if (readable_file(n["policy"], "audit.policy", a.policy)) {
                if (auto policy = audit::k8s::load_audit_policy(a.policy); !policy) {
                    for (const auto& e : policy.error()) error(n["policy"], "audit.policy: " + e);
                    ok = false;
                }
            } else {
                ok = false;
            }
        } else {
            ok = false;
        }
        if (!n["snapshot"]) {
            error(n["policy"], "audit.policy: needs snapshot: (a file, or cluster) to know the workloads and "
                               "their PeerAuthentications");
            ok = false;
        }
    }
    if (!ok) return std::nullopt;
    return a;
}

std::optional<AssertStep> Loader::load_assert(const YAML::Node& n) {
    if (!check_map(n, "assert", {"audit", "diff", "that"})) return std::nullopt;
    AssertStep a;
    if ((n["audit"] ? 1 : 0) + (n["diff"] ? 1 : 0) != 1) {
        error(n, "assert: needs exactly one of audit: NAME and diff: NAME");
        return std::nullopt;
    }
    const bool on_audit = static_cast<bool>(n["audit"]);
    auto target = reference(on_audit ? n["audit"] : n["diff"], on_audit ? "assert.audit" : "assert.diff",
                            on_audit ? ResultKind::Audit : ResultKind::Diff);
    if (on_audit) a.audit = target.value_or("");
    else a.diff = target.value_or("");
    if (!n["that"]) {
        error(n, "assert: needs that: (one expression or a list, e.g. 'plaintext-served == 0')");
        return std::nullopt;
    }
    const YAML::Node that = n["that"];
    std::vector<YAML::Node> items;
    if (that.IsSequence()) {
        if (that.size() == 0) error(that, "assert.that: the list is empty");
        for (const auto& item : that) items.push_back(item);
    } else {
        items.push_back(that);
    }
    bool ok = target.has_value();
    for (const auto& item : items) {
        auto text = scalar(item, "assert.that");
        if (!text) {
            ok = false;
            continue;
        }
        auto expr = parse_assert_expr(*text, on_audit ? AssertTarget::Audit : AssertTarget::Diff);
        if (!expr) {
            error(item, "assert.that: " + expr.error());
            ok = false;
            continue;
        }
        expr->where = location(item);
        if (is_policy_metric(expr->metric) && target) {
            const auto it = defined_.find(*target);
            if (it != defined_.end() && !it->second.has_policy) {
                error(item, "assert.that: '" + expr->text + "' needs an audit with a policy (audit '" + *target +
                                "', step " + std::to_string(it->second.step) + ", has no policy:)");
                ok = false;
                continue;
            }
        }
        a.checks.push_back(std::move(*expr));
    }
    if (!ok || a.checks.empty()) return std::nullopt;
    return a;
}

std::optional<DiffStep> Loader::load_diff(const YAML::Node& n) {
    if (!check_map(n, "diff", {"before", "after"})) return std::nullopt;
    DiffStep d;
    bool ok = true;
    for (const char* k : {"before", "after"}) {
        if (!n[k]) {
            error(n, std::string("diff: needs ") + k + ": AUDIT");
            ok = false;
            continue;
        }
        auto name = reference(n[k], std::string("diff.") + k, ResultKind::Audit);
        if (!name) {
            ok = false;
            continue;
        }
        (std::string_view(k) == "before" ? d.before : d.after) = *name;
    }
    if (!ok) return std::nullopt;
    return d;
}

std::optional<ReportStep> Loader::load_report(const YAML::Node& n) {
    if (!check_map(n, "report", {"audit", "diff", "jsonl", "html", "json", "table", "title", "showSecrets"}))
        return std::nullopt;
    ReportStep r;
    bool ok = true;
    if (n["audit"]) {
        if (auto a = reference(n["audit"], "report.audit", ResultKind::Audit)) r.audit = *a;
        else ok = false;
    }
    if (n["diff"]) {
        if (auto d = reference(n["diff"], "report.diff", ResultKind::Diff)) r.diff = *d;
        else ok = false;
    }
    auto output = [&](const char* key, std::string& into, bool needs_diff) {
        if (!n[key]) return;
        auto p = scalar(n[key], std::string("report.") + key);
        if (!p || p->empty()) {
            if (p) error(n[key], std::string("report.") + key + ": empty path");
            ok = false;
            return;
        }
        into = *p;
        if (needs_diff && !n["diff"]) {
            error(n[key], std::string("report.") + key + ": needs diff: NAME (the report compares two audits)");
            ok = false;
        }
        if (!needs_diff && !n["audit"]) {
            error(n[key], std::string("report.") + key + ": needs audit: NAME");
            ok = false;
        }
    };
    output("jsonl", r.jsonl, false);
    output("html", r.html, true);
    output("json", r.json, true);
    if (n["table"]) {
        if (auto b = boolean(n["table"], "report.table")) r.table = *b;
        else ok = false;
        if (r.table && !n["audit"]) {
            error(n["table"], "report.table: needs audit: NAME");
            ok = false;
        }
    }
    if (n["title"]) {
        if (auto t = scalar(n["title"], "report.title")) r.title = *t;
        else ok = false;
    }
    if (n["showSecrets"]) {
        if (auto b = boolean(n["showSecrets"], "report.showSecrets")) r.show_secrets = *b;
        else ok = false;
    }
    if (ok && r.jsonl.empty() && r.html.empty() && r.json.empty() && !r.table) {
        error(n, "report: nothing to write (give jsonl:, table: true with audit:, or html:/json: with diff:)");
        ok = false;
    }
    if (!ok) return std::nullopt;
    return r;
}

std::optional<PushStep> Loader::load_push(const YAML::Node& n) {
    if (!check_map(n, "push", {"audit", "url", "textfile", "job", "instance"})) return std::nullopt;
    PushStep p;
    bool ok = true;
    if (!n["audit"]) {
        error(n, "push: needs audit: NAME");
        return std::nullopt;
    }
    if (auto a = reference(n["audit"], "push.audit", ResultKind::Audit)) p.audit = *a;
    else ok = false;
    if (!n["url"] && !n["textfile"]) {
        error(n, "push: needs url: (a Pushgateway) or textfile: (node_exporter's textfile collector)");
        return std::nullopt;
    }
    if (n["url"]) {
        if (auto u = scalar(n["url"], "push.url")) {
            std::string why;
            if (!audit::parse_push_url(*u, why)) {
                error(n["url"], "push.url: " + why);
                ok = false;
            }
            p.url = *u;
        } else {
            ok = false;
        }
    }
    if (n["textfile"]) {
        if (auto t = scalar(n["textfile"], "push.textfile")) p.textfile = *t;
        else ok = false;
    }
    for (const char* k : {"job", "instance"}) {
        if (!n[k]) continue;
        auto v = scalar(n[k], std::string("push.") + k);
        if (!v || v->empty() || v->find('/') != std::string::npos) {
            if (v) error(n[k], std::string("push.") + k + ": must be non-empty and without '/'");
            ok = false;
            continue;
        }
        (std::string_view(k) == "job" ? p.job : p.instance) = *v;
    }
    if (!ok) return std::nullopt;
    return p;
}

// ---------------------------------------------------------------------- one step, the file

std::optional<Step> Loader::load_step(const YAML::Node& n, std::size_t number) {
    Step step;
    step.number = number;
    step.where = location(n);
    step_number_ = number;
    step_label_ = "step " + std::to_string(number);
    if (!n.IsMap()) {
        error(n, "a step must be a map with one action (" + std::string("provision, apply, wait, restart, lab, audit, "
                                                                        "assert, diff, report, push") + ")");
        return std::nullopt;
    }
    std::vector<std::string_view> allowed = {"name", "description"};
    allowed.insert(allowed.end(), std::begin(kStepKinds), std::end(kStepKinds));
    // Kind and name first, so that every later message names the step fully.
    std::vector<std::size_t> kinds;
    for (std::size_t i = 0; i < std::size(kStepKinds); ++i) {
        if (n[std::string(kStepKinds[i])]) kinds.push_back(i);
    }
    if (n["name"]) {
        if (auto name = scalar(n["name"], "name")) {
            if (!valid_step_name(*name)) {
                error(n["name"], "name: '" + *name + "' is not a step name (letters, digits, '-', '_', '.'; at most 63)");
            } else {
                step.name = *name;
            }
        }
    }
    if (kinds.size() == 1) {
        step.kind = static_cast<StepKind>(kinds[0]);
        if (step.name.empty()) step.name = std::string(to_string(step.kind)) + "-" + std::to_string(number);
        step_label_ = step.label();
    }
    const bool keys_ok = check_map(n, "step", allowed);
    if (kinds.empty()) {
        if (keys_ok) {
            error(n, "the step has no action (expected one of: provision, apply, wait, restart, lab, audit, assert, "
                     "diff, report, push)");
        }
        return std::nullopt;
    }
    if (kinds.size() > 1) {
        error(n, "the step has " + std::to_string(kinds.size()) + " actions (" + std::string(kStepKinds[kinds[0]]) +
                     ", " + std::string(kStepKinds[kinds[1]]) + "); give each its own step");
        return std::nullopt;
    }
    if (n["description"]) {
        if (auto d = scalar(n["description"], "description")) step.description = *d;
    }
    const bool needs_name = step.kind == StepKind::Audit || step.kind == StepKind::Diff;
    if (needs_name && !n["name"]) {
        error(n, "an " + std::string(to_string(step.kind)) + " step needs a name: (asserts, diffs and reports use it)");
    }
    if (needs_name && !step.name.empty() && n["name"]) {
        if (auto it = defined_.find(step.name); it != defined_.end()) {
            error(n["name"], "name: '" + step.name + "' is already the name of step " + std::to_string(it->second.step));
        }
    }
    const YAML::Node body = n[std::string(to_string(step.kind))];
    std::optional<StepBody> parsed;
    switch (step.kind) {
        case StepKind::Provision:
            if (auto p = load_provision(body)) parsed = std::move(*p);
            break;
        case StepKind::Apply:
            if (auto p = load_apply(body)) parsed = std::move(*p);
            break;
        case StepKind::Wait:
            if (auto p = load_wait(body)) parsed = std::move(*p);
            break;
        case StepKind::Restart:
            if (auto p = load_restart(body)) parsed = std::move(*p);
            break;
        case StepKind::Lab:
            if (auto p = load_lab(body)) parsed = std::move(*p);
            break;
        case StepKind::Audit:
            if (auto p = load_audit(body)) parsed = std::move(*p);
            break;
        case StepKind::Assert:
            if (auto p = load_assert(body)) parsed = std::move(*p);
            break;
        case StepKind::Diff:
            if (auto p = load_diff(body)) parsed = std::move(*p);
            break;
        case StepKind::Report:
            if (auto p = load_report(body)) parsed = std::move(*p);
            break;
        case StepKind::Push:
            if (auto p = load_push(body)) parsed = std::move(*p);
            break;
    }
    // Later steps may refer to this result even when its body had errors (no cascade of messages).
    if (needs_name && !step.name.empty() && defined_.count(step.name) == 0) {
        const bool has_policy = step.kind == StepKind::Audit && body.IsMap() && static_cast<bool>(body["policy"]);
        defined_[step.name] = {step.kind == StepKind::Audit ? ResultKind::Audit : ResultKind::Diff, number, has_policy};
    }
    if (!parsed || !keys_ok) return std::nullopt;
    step.body = std::move(*parsed);
    return step;
}

tl::expected<Playbook, PlayErrors> Loader::load(std::string_view text) {
    YAML::Node loaded;
    try {
        loaded = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        error(Location{e.mark.line + 1, e.mark.column + 1}, "not valid YAML: " + e.msg);
        return tl::unexpected(errors_);
    }
    // Only const lookups from here: yaml-cpp's non-const operator[] adds the keys it looks up.
    const YAML::Node& root = loaded;
    Playbook pb;
    pb.file = file_;
    pb.base_dir = base_dir_;
    if (!root.IsMap()) {
        error(root, "a playbook is a map with steps: (see docs/playbooks.md)");
        return tl::unexpected(errors_);
    }
    load_vars(root);
    check_map(root, "playbook", {"apiVersion", "kind", "name", "description", "vars", "kubeContext", "steps"});
    if (root["apiVersion"]) {
        if (auto v = scalar(root["apiVersion"], "apiVersion"); v && *v != kPlaybookApiVersion)
            error(root["apiVersion"], "apiVersion: expected " + std::string(kPlaybookApiVersion) + ", got '" + *v + "'");
    }
    if (root["kind"]) {
        if (auto v = scalar(root["kind"], "kind"); v && *v != kPlaybookKind)
            error(root["kind"], "kind: expected " + std::string(kPlaybookKind) + ", got '" + *v + "'");
    }
    if (root["name"]) pb.name = scalar(root["name"], "name").value_or("");
    if (pb.name.empty()) pb.name = fs::path(file_).stem().string();
    if (root["description"]) pb.description = scalar(root["description"], "description").value_or("");
    if (root["kubeContext"]) pb.kube_context = scalar(root["kubeContext"], "kubeContext").value_or("");
    const YAML::Node steps = root["steps"];
    if (!steps || !steps.IsSequence() || steps.size() == 0) {
        error(steps ? steps : root, "steps: expected a non-empty list of steps");
        return tl::unexpected(errors_);
    }
    collect_result_names(steps);
    std::size_t number = 0;
    for (const auto& s : steps) {
        ++number;
        if (auto step = load_step(s, number)) pb.steps.push_back(std::move(*step));
        step_label_.clear();
    }
    if (!errors_.empty()) return tl::unexpected(errors_);
    pb.vars = vars_;
    return pb;
}

}  // namespace

tl::expected<Playbook, PlayErrors> parse_playbook(std::string_view yaml_text, const std::string& file,
                                                  const std::string& base_dir, const VarOverrides& vars) {
    Loader loader(file, base_dir, vars);
    return loader.load(yaml_text);
}

tl::expected<Playbook, PlayErrors> load_playbook(const std::string& file, const VarOverrides& vars) {
    std::string text;
    switch (read_file_bounded(file, 4u << 20, text)) {
        case BoundedRead::CannotOpen: return tl::unexpected(PlayErrors{{file, {}, "", "cannot read the playbook"}});
        case BoundedRead::TooLarge: return tl::unexpected(PlayErrors{{file, {}, "", "larger than 4 MiB; not a playbook"}});
        case BoundedRead::Ok: break;
    }
    std::string dir = fs::path(file).parent_path().string();
    if (dir.empty()) dir = ".";
    return parse_playbook(text, file, dir, vars);
}

}  // namespace meshproof::play
