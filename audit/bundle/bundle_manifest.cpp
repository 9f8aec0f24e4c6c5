#include "audit/bundle/bundle_manifest.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <variant>

#include "audit/bundle/tar_archive.hpp"
#include "common/json_writer.hpp"

namespace meshproof::audit::bundle {

namespace {

std::string json_string(std::string_view s) {
    std::string out = "\"";
    json_escape(s, out);
    out += '"';
    return out;
}

// A small strict JSON reader, enough for the manifest (the bundle library stays free of YAML/JSON
// dependencies). Numbers are kept as text; depth and size are bounded.
struct Json;
using JsonObject = std::map<std::string, Json, std::less<>>;
using JsonArray = std::vector<Json>;
struct Json {
    enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
    bool b = false;
    std::string text;  // String value or Number literal
    std::shared_ptr<JsonArray> array;
    std::shared_ptr<JsonObject> object;
};

class JsonParser {
public:
    explicit JsonParser(std::string_view s) : s_(s) {}

    tl::expected<Json, std::string> parse() {
        auto v = value(0);
        if (!v) return v;
        ws();
        if (pos_ != s_.size()) return fail("trailing characters");
        return v;
    }

private:
    tl::expected<Json, std::string> fail(const std::string& what) const {
        return tl::unexpected(what + " at byte " + std::to_string(pos_));
    }
    void ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
    }
    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    tl::expected<Json, std::string> value(int depth) {
        if (depth > 16) return fail("nested too deeply");
        ws();
        if (pos_ >= s_.size()) return fail("unexpected end");
        Json j;
        const char c = s_[pos_];
        if (c == '{') return object(depth);
        if (c == '[') return array(depth);
        if (c == '"') {
            auto str = string();
            if (!str) return tl::unexpected(str.error());
            j.type = Json::Type::String;
            j.text = std::move(*str);
            return j;
        }
        if (literal("true")) {
            j.type = Json::Type::Bool;
            j.b = true;
            return j;
        }
        if (literal("false")) {
            j.type = Json::Type::Bool;
            return j;
        }
        if (literal("null")) return j;
        if (c == '-' || (c >= '0' && c <= '9')) {
            const std::size_t start = pos_;
            while (pos_ < s_.size() && std::string_view("+-0123456789.eE").find(s_[pos_]) != std::string_view::npos) ++pos_;
            j.type = Json::Type::Number;
            j.text = std::string(s_.substr(start, pos_ - start));
            return j;
        }
        return fail("unexpected character");
    }

    tl::expected<std::string, std::string> string() {
        ++pos_;  // opening quote
        std::string out;
        while (pos_ < s_.size()) {
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) return tl::unexpected("control character in a string at byte " + std::to_string(pos_));
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (pos_ >= s_.size()) break;
            const char e = s_[pos_++];
            switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    if (pos_ + 4 > s_.size()) return tl::unexpected(std::string("truncated \\u escape"));
                    unsigned cp = 0;
                    for (int i = 0; i < 4; ++i) {
                        const char h = s_[pos_++];
                        cp <<= 4;
                        if (h >= '0' && h <= '9') cp |= static_cast<unsigned>(h - '0');
                        else if (h >= 'a' && h <= 'f') cp |= static_cast<unsigned>(h - 'a' + 10);
                        else if (h >= 'A' && h <= 'F') cp |= static_cast<unsigned>(h - 'A' + 10);
                        else return tl::unexpected(std::string("bad \\u escape"));
                    }
                    // Names in our manifests are ASCII; other code points only need to round-trip as UTF-8.
                    if (cp < 0x80) {
                        out.push_back(static_cast<char>(cp));
                    } else if (cp < 0x800) {
                        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
                        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
                    } else {
                        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
                        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
                        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
                    }
                    break;
                }
                default: return tl::unexpected(std::string("bad escape in a string"));
            }
        }
        return tl::unexpected(std::string("unterminated string"));
    }

    tl::expected<Json, std::string> array(int depth) {
        ++pos_;
        Json j;
        j.type = Json::Type::Array;
        j.array = std::make_shared<JsonArray>();
        ws();
        if (pos_ < s_.size() && s_[pos_] == ']') {
            ++pos_;
            return j;
        }
        while (true) {
            auto v = value(depth + 1);
            if (!v) return v;
            j.array->push_back(std::move(*v));
            ws();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == ']') {
                ++pos_;
                return j;
            }
            return fail("expected , or ]");
        }
    }

    tl::expected<Json, std::string> object(int depth) {
        ++pos_;
        Json j;
        j.type = Json::Type::Object;
        j.object = std::make_shared<JsonObject>();
        ws();
        if (pos_ < s_.size() && s_[pos_] == '}') {
            ++pos_;
            return j;
        }
        while (true) {
            ws();
            if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a key");
            auto key = string();
            if (!key) return tl::unexpected(key.error());
            ws();
            if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected :");
            ++pos_;
            auto v = value(depth + 1);
            if (!v) return v;
            if (!j.object->emplace(std::move(*key), std::move(*v)).second) return fail("duplicate key");
            ws();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == '}') {
                ++pos_;
                return j;
            }
            return fail("expected , or }");
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

const Json* member(const Json& obj, std::string_view key, Json::Type type) {
    if (obj.type != Json::Type::Object) return nullptr;
    const auto it = obj.object->find(key);
    if (it == obj.object->end() || it->second.type != type) return nullptr;
    return &it->second;
}

bool is_sha256_hex(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string manifest_to_json(const Manifest& m) {
    std::string out = "{\n";
    out += "  \"format\": " + json_string(m.format) + ",\n";
    out += "  \"created\": " + json_string(m.created) + ",\n";
    out += "  \"tool\": " + json_string(m.tool) + ",\n";
    out += "  \"signature\": {\"algorithm\": \"ed25519\", \"key\": " + json_string(m.key_fingerprint) + "},\n";
    out += "  \"members\": [";
    for (std::size_t i = 0; i < m.members.size(); ++i) {
        const auto& e = m.members[i];
        out += i ? ",\n    " : "\n    ";
        out += "{\"name\": " + json_string(e.name) + ", \"size\": " + std::to_string(e.size) + ", \"sha256\": " + json_string(e.sha256) + "}";
    }
    out += m.members.empty() ? "]\n}\n" : "\n  ]\n}\n";
    return out;
}

tl::expected<Manifest, std::string> parse_manifest(std::string_view json) {
    if (json.size() > 4 * 1024 * 1024) return tl::unexpected(std::string("manifest.json: too large"));
    auto root = JsonParser(json).parse();
    if (!root) return tl::unexpected("manifest.json: not valid JSON: " + root.error());
    Manifest m;
    const Json* format = member(*root, "format", Json::Type::String);
    if (!format) return tl::unexpected(std::string("manifest.json: no \"format\""));
    if (format->text != kBundleFormat)
        return tl::unexpected("manifest.json: format '" + format->text + "' is not " + std::string(kBundleFormat));
    m.format = format->text;
    const Json* created = member(*root, "created", Json::Type::String);
    const Json* tool = member(*root, "tool", Json::Type::String);
    const Json* sig = member(*root, "signature", Json::Type::Object);
    const Json* key = sig ? member(*sig, "key", Json::Type::String) : nullptr;
    const Json* algo = sig ? member(*sig, "algorithm", Json::Type::String) : nullptr;
    if (!created || !tool || !key || !algo)
        return tl::unexpected(std::string("manifest.json: missing created, tool or signature.key"));
    if (algo->text != "ed25519") return tl::unexpected("manifest.json: unsupported signature algorithm '" + algo->text + "'");
    m.created = created->text;
    m.tool = tool->text;
    m.key_fingerprint = key->text;
    const Json* members = member(*root, "members", Json::Type::Array);
    if (!members) return tl::unexpected(std::string("manifest.json: no \"members\" list"));
    std::set<std::string> names;
    for (const auto& item : *members->array) {
        const Json* name = member(item, "name", Json::Type::String);
        const Json* size = member(item, "size", Json::Type::Number);
        const Json* hash = member(item, "sha256", Json::Type::String);
        if (!name || !size || !hash) return tl::unexpected(std::string("manifest.json: a member without name, size or sha256"));
        if (!valid_member_name(name->text)) return tl::unexpected("manifest.json: invalid member name '" + name->text + "'");
        if (!names.insert(name->text).second) return tl::unexpected("manifest.json: member '" + name->text + "' listed twice");
        if (!is_sha256_hex(hash->text)) return tl::unexpected("manifest.json: " + name->text + ": sha256 is not 64 hex digits");
        const bool digits = !size->text.empty() && size->text.size() <= 19 &&
                            std::all_of(size->text.begin(), size->text.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits) return tl::unexpected("manifest.json: " + name->text + ": size is not a whole number");
        m.members.push_back({name->text, std::stoull(size->text), hash->text});
    }
    return m;
}

}  // namespace meshproof::audit::bundle
