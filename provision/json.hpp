// Minimal JSON text helpers (writing). Reading kubectl/helm JSON goes through yaml-cpp, inside .cpp files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace meshproof::provision {

// A JSON string literal, quotes included.
std::string json_quote(std::string_view s);
// ["a","b"]
std::string json_string_array(const std::vector<std::string>& items);

}  // namespace meshproof::provision
