#include "provision/yaml_util.hpp"

namespace meshproof::provision::detail {

tl::expected<YAML::Node, std::string> parse_json(std::string_view text) {
    try {
        return YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        return tl::unexpected("unreadable JSON/YAML: " + e.msg);
    }
}

YAML::Node merge_values(const YAML::Node& base, const YAML::Node& over) {
    if (!over || over.IsNull()) return YAML::Clone(base);
    if (!base || !base.IsMap() || !over.IsMap()) return YAML::Clone(over);
    YAML::Node out = YAML::Clone(base);
    for (auto it = over.begin(); it != over.end(); ++it) {
        const std::string key = it->first.Scalar();
        const YAML::Node& cout = out;
        const YAML::Node existing = cout[key];
        out[key] = existing ? merge_values(existing, it->second) : YAML::Clone(it->second);
    }
    return out;
}

std::string emit_yaml(const YAML::Node& node) {
    if (!node || node.IsNull() || (node.IsMap() && node.size() == 0)) return {};
    YAML::Emitter e;
    e << node;
    std::string s = e.c_str();
    if (!s.empty() && s.back() != '\n') s += '\n';
    return s;
}

namespace {
std::string scalar_at_impl(const YAML::Node& node, const std::string_view* keys, std::size_t count) {
    if (count == 0) return node && node.IsScalar() ? node.Scalar() : std::string();
    if (!node || !node.IsMap()) return {};
    // Copies only: assigning (or reset()ing to) a missing child throws or writes into the tree.
    const YAML::Node child = node[std::string(keys[0])];
    return scalar_at_impl(child, keys + 1, count - 1);
}
}  // namespace

static YAML::Node at_impl(const YAML::Node& node, const std::string_view* keys, std::size_t count) {
    if (count == 0) return node ? node : YAML::Node(YAML::NodeType::Undefined);
    if (!node || !node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node child = node[std::string(keys[0])];
    return at_impl(child, keys + 1, count - 1);
}

YAML::Node at(const YAML::Node& node, std::initializer_list<std::string_view> path) {
    return at_impl(node, path.begin(), path.size());
}

std::string scalar_at(const YAML::Node& node, std::initializer_list<std::string_view> path) {
    return scalar_at_impl(node, path.begin(), path.size());
}

}  // namespace meshproof::provision::detail
