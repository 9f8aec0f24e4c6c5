// Internal (includes yaml-cpp): reading kubectl/helm JSON and merging chart values.
// Only provision/*.cpp include this; public headers stay free of yaml-cpp.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace meshproof::provision::detail {

// JSON is (nearly) a subset of YAML 1.2; yaml-cpp reads kubectl/helm -o json output fine.
tl::expected<YAML::Node, std::string> parse_json(std::string_view text);

// Deep merge: maps merge key by key, anything else in `over` replaces `base`.
YAML::Node merge_values(const YAML::Node& base, const YAML::Node& over);

// Block-style YAML text of a node, "" for an empty map.
std::string emit_yaml(const YAML::Node& node);

// node[a][b]... or an undefined node (false, empty when iterated) if any step is missing. Chained
// operator[] on yaml-cpp throws as soon as one key is missing; kubectl JSON omits empty fields.
YAML::Node at(const YAML::Node& node, std::initializer_list<std::string_view> path);

// node[a][b]... as a string, or "" if any step is missing or not a scalar.
std::string scalar_at(const YAML::Node& node, std::initializer_list<std::string_view> path);

}  // namespace meshproof::provision::detail
