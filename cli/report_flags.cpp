#include "cli/report_flags.hpp"

#include <unistd.h>

#include <cstdlib>

#include "cli/commands.hpp"

namespace meshproof::cli {

std::set<audit::Verdict> parse_fail_on(const std::string& list) {
    std::set<audit::Verdict> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        const auto comma = list.find(',', start);
        const std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) {
            auto v = audit::verdict_from_string(item);
            if (!v) throw UsageError("--fail-on: unknown verdict '" + item + "'");
            out.insert(*v);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

bool want_color(const std::string& when) {
    if (when == "always") return true;
    if (when == "never") return false;
    if (when != "auto") throw UsageError("--color: expected auto, always or never");
    return isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
}

}  // namespace meshproof::cli
