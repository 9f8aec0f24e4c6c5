#include "provision/manifests.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace meshproof::provision {
namespace {

constexpr std::string_view kMarker = "# meshproof:";
constexpr std::string_view kSecretPrefix = "{{SECRET:";

struct LineDirectives {
    std::vector<std::string> if_flags;
    std::string each_list;
    std::string set_scalar;  // replaces the value after "key: ", so the file stays valid YAML with a default
};

std::vector<std::string> split_words(std::string_view s) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ') ++i;
        const std::size_t start = i;
        while (i < s.size() && s[i] != ' ') ++i;
        if (i > start) words.emplace_back(s.substr(start, i - start));
    }
    return words;
}

// Substitutes {{NAME}} (NAME not a SECRET:) in one line; `element` overrides the "each" list's name.
tl::expected<std::string, std::string> substitute(std::string_view tmpl, std::string_view line,
                                                  const TemplateValues& values, std::string_view each_name,
                                                  std::string_view each_value) {
    std::string out;
    std::size_t pos = 0;
    while (true) {
        const auto open = line.find("{{", pos);
        if (open == std::string_view::npos) break;
        const auto close = line.find("}}", open + 2);
        if (close == std::string_view::npos) return tl::unexpected(std::string(tmpl) + ": unterminated '{{'");
        out.append(line.substr(pos, open - pos));
        const std::string_view name = line.substr(open + 2, close - open - 2);
        if (name.rfind("SECRET:", 0) == 0) {
            out.append(line.substr(open, close + 2 - open));
        } else if (!each_name.empty() && name == each_name) {
            out.append(each_value);
        } else if (auto it = values.scalars.find(name); it != values.scalars.end()) {
            out.append(it->second);
        } else {
            return tl::unexpected(std::string(tmpl) + ": no value for {{" + std::string(name) + "}}");
        }
        pos = close + 2;
    }
    out.append(line.substr(pos));
    return out;
}

}  // namespace

tl::expected<std::string, std::string> render_template(std::string_view name, std::string_view text,
                                                       const TemplateValues& values) {
    std::string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        const bool has_nl = nl != std::string_view::npos;
        std::string_view line = text.substr(pos, has_nl ? nl - pos : std::string_view::npos);
        pos = has_nl ? nl + 1 : text.size();

        LineDirectives d;
        if (const auto m = line.find(kMarker); m != std::string_view::npos) {
            const auto words = split_words(line.substr(m + kMarker.size()));
            for (std::size_t i = 0; i < words.size(); ++i) {
                if (i + 1 >= words.size() || (words[i] != "if" && words[i] != "each" && words[i] != "set"))
                    return tl::unexpected(std::string(name) + ": bad directive in '" + std::string(line) + "'");
                if (words[i] == "if") d.if_flags.push_back(words[i + 1]);
                else if (words[i] == "each") d.each_list = words[i + 1];
                else d.set_scalar = words[i + 1];
                ++i;
            }
            line = line.substr(0, m);
            while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
        }
        bool keep = true;
        for (const auto& f : d.if_flags) keep = keep && values.flags.count(f) > 0;
        if (!keep) continue;
        std::string with_set;
        if (!d.set_scalar.empty()) {
            const auto colon = line.find(": ");
            if (colon == std::string_view::npos)
                return tl::unexpected(std::string(name) + ": 'set' needs a 'key: value' line, got '" + std::string(line) + "'");
            with_set = std::string(line.substr(0, colon + 2)) + "{{" + d.set_scalar + "}}";
            line = with_set;
        }
        if (!d.each_list.empty()) {
            const auto it = values.lists.find(d.each_list);
            if (it == values.lists.end())
                return tl::unexpected(std::string(name) + ": no list value for " + d.each_list);
            for (const auto& element : it->second) {
                auto l = substitute(name, line, values, d.each_list, element);
                if (!l) return tl::unexpected(l.error());
                out += *l;
                out += '\n';
            }
            continue;
        }
        auto l = substitute(name, line, values, {}, {});
        if (!l) return tl::unexpected(l.error());
        out += *l;
        if (has_nl) out += '\n';
    }
    return out;
}

tl::expected<std::string, std::string> manifest_template(std::string_view path) {
    if (const char* dir = std::getenv("MESHPROOF_MANIFESTS_DIR"); dir != nullptr && *dir != '\0') {
        const std::string file = std::string(dir) + "/" + std::string(path);
        std::ifstream in(file, std::ios::binary);
        if (!in) return tl::unexpected("cannot read " + file + " (MESHPROOF_MANIFESTS_DIR)");
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    for (const auto& m : embedded_manifests()) {
        if (m.path == path) return std::string(m.text);
    }
    return tl::unexpected("no manifest template " + std::string(path));
}

std::string fill_secrets(std::string_view text, const std::map<std::string, std::string, std::less<>>& secrets) {
    std::string out;
    std::size_t pos = 0;
    while (true) {
        const auto open = text.find(kSecretPrefix, pos);
        if (open == std::string_view::npos) break;
        const auto close = text.find("}}", open);
        if (close == std::string_view::npos) break;
        out.append(text.substr(pos, open - pos));
        const auto name = text.substr(open + kSecretPrefix.size(), close - open - kSecretPrefix.size());
        const auto it = secrets.find(name);
        out.append(it != secrets.end() ? std::string_view(it->second) : std::string_view("<redacted>"));
        pos = close + 2;
    }
    out.append(text.substr(pos));
    return out;
}

std::string redact_secrets(std::string_view text) { return fill_secrets(text, {}); }

bool has_secret_placeholders(std::string_view text) { return text.find(kSecretPrefix) != std::string_view::npos; }

}  // namespace meshproof::provision
