#include "audit/bundle/evidence_bundle.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <set>

#include "audit/bundle/tar_archive.hpp"

namespace meshproof::audit::bundle {

namespace {

constexpr std::uint64_t kMaxSmallMember = 4 * 1024 * 1024;  // manifest, signature, key

bool reserved(std::string_view name) {
    return name == kManifestName || name == kSignatureName || name == kSignerKeyName;
}

std::string iso_utc(std::int64_t unix_seconds) {
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string short_hash(const std::string& h) { return h.size() > 16 ? h.substr(0, 16) + "..." : h; }

struct SeenMember {
    std::uint64_t size = 0;
    std::string sha256;
};

}  // namespace

std::string member_name_for(std::string_view directory, const std::filesystem::path& file) {
    std::string base = file.filename().string();
    for (auto& c : base) {
        if (c < 0x21 || c > 0x7e || c == '\\' || c == '/') c = '_';
    }
    if (base.empty() || base == "." || base == "..") base = "file";
    std::string prefix = directory.empty() ? std::string() : std::string(directory) + "/";
    const std::size_t room = 100 > prefix.size() ? 100 - prefix.size() : 0;
    if (base.size() > room) base = base.substr(base.size() - room);  // keep the extension
    return prefix + base;
}

tl::expected<Manifest, std::string> write_bundle(const std::filesystem::path& out, const std::vector<BundleMember>& members,
                                                 const SigningKey& key, const BundleOptions& opt) {
    if (!key.has_private()) return tl::unexpected(std::string("signing a bundle needs the private key"));
    std::set<std::string> names;
    for (const auto& m : members) {
        if (!valid_member_name(m.name))
            return tl::unexpected("bundle member name '" + m.name + "' is not valid (relative, no '..', at most 100 bytes)");
        if (reserved(m.name)) return tl::unexpected("bundle member name '" + m.name + "' is reserved");
        if (!names.insert(m.name).second) return tl::unexpected("bundle member '" + m.name + "' given twice");
    }
    const std::int64_t now = opt.created_unix != 0
                                 ? opt.created_unix
                                 : std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
    Manifest manifest;
    manifest.created = iso_utc(now);
    manifest.tool = opt.tool;
    manifest.key_fingerprint = key.fingerprint();

    auto writer = TarWriter::create(out, opt.gzip, opt.mode);
    if (!writer) return tl::unexpected(writer.error());
    TarWriter& w = **writer;
    for (const auto& m : members) {
        ManifestEntry e{m.name, 0, {}};
        if (m.file) {
            Sha256Stream hash;
            auto size = w.add_file(m.name, *m.file, now, [&](Bytes chunk) { hash.update(chunk); });
            if (!size) return tl::unexpected(size.error());
            e.size = *size;
            e.sha256 = hash.finish_hex();
        } else {
            const Bytes data = as_bytes(m.content);
            if (auto r = w.add(m.name, data, now); !r) return tl::unexpected(r.error());
            e.size = data.size();
            e.sha256 = sha256_hex(data);
        }
        manifest.members.push_back(std::move(e));
    }
    const std::string manifest_json = manifest_to_json(manifest);
    auto sig = key.sign(as_bytes(manifest_json));
    if (!sig) return tl::unexpected(sig.error());
    const std::string pub = key.public_pem();
    if (auto r = w.add(kManifestName, as_bytes(manifest_json), now); !r) return tl::unexpected(r.error());
    if (auto r = w.add(kSignatureName, Bytes(*sig), now); !r) return tl::unexpected(r.error());
    if (auto r = w.add(kSignerKeyName, as_bytes(pub), now); !r) return tl::unexpected(r.error());
    if (auto r = w.close(); !r) return tl::unexpected(r.error());
    return manifest;
}

VerifyReport verify_bundle(const std::filesystem::path& bundle, const SigningKey* trusted) {
    VerifyReport report;
    auto& problems = report.problems;
    auto reader = TarReader::open(bundle);
    if (!reader) {
        problems.push_back(reader.error());
        return report;
    }
    std::map<std::string, SeenMember> seen;
    std::map<std::string, std::string> small;  // reserved members' content
    std::string last_member;  // names the place of damage in the compressed stream
    while (true) {
        auto entry = (*reader)->next();
        if (!entry) {
            problems.push_back(entry.error() + (last_member.empty() ? "" : " (after member '" + last_member + "')"));
            break;
        }
        if (!*entry) break;
        const TarEntry& e = **entry;
        last_member = e.name;
        if (e.type != '0') {
            problems.push_back(e.name + ": not a regular file (tar entry type '" + std::string(1, e.type) + "')");
            continue;
        }
        if (!valid_member_name(e.name)) {
            problems.push_back("'" + e.name + "': not an acceptable member name");
            continue;
        }
        if (seen.count(e.name) || small.count(e.name)) {
            problems.push_back(e.name + ": appears twice in the bundle");
            continue;
        }
        if (reserved(e.name)) {
            if (e.size > kMaxSmallMember) {
                problems.push_back(e.name + ": too large (" + std::to_string(e.size) + " bytes)");
                continue;
            }
            std::string text;
            auto r = (*reader)->read_data([&](Bytes b) { text.append(b.begin(), b.end()); });
            if (!r) {
                problems.push_back(r.error() + " (member '" + e.name + "')");
                break;
            }
            small.emplace(e.name, std::move(text));
            continue;
        }
        Sha256Stream hash;
        auto r = (*reader)->read_data([&](Bytes b) { hash.update(b); });
        if (!r) {
            problems.push_back(r.error() + " (member '" + e.name + "')");
            break;
        }
        seen.emplace(e.name, SeenMember{e.size, hash.finish_hex()});
    }

    const auto manifest_it = small.find(kManifestName), sig_it = small.find(kSignatureName),
               pub_it = small.find(kSignerKeyName);
    if (manifest_it == small.end()) problems.push_back(std::string(kManifestName) + ": missing from the bundle");
    if (sig_it == small.end()) problems.push_back(std::string(kSignatureName) + ": missing from the bundle");

    std::optional<SigningKey> embedded;
    if (pub_it != small.end()) {
        auto k = SigningKey::from_public_pem(pub_it->second);
        if (!k) problems.push_back(std::string(kSignerKeyName) + ": " + k.error());
        // Byte for byte what we write, so no edit (even one PEM ignores) goes unnoticed.
        else if (k->public_pem() != pub_it->second) problems.push_back(std::string(kSignerKeyName) + ": modified (not as written)");
        else embedded = std::move(*k);
    } else if (!trusted) {
        problems.push_back(std::string(kSignerKeyName) + ": missing from the bundle (pass the signer's public key with --pub)");
    }
    const SigningKey* key = trusted ? trusted : (embedded ? &*embedded : nullptr);
    report.authenticated = trusted != nullptr;
    if (key) report.key_fingerprint = key->fingerprint();

    if (key && manifest_it != small.end() && sig_it != small.end()) {
        if (!key->verify(as_bytes(manifest_it->second), as_bytes(sig_it->second)))
            problems.push_back(std::string(kManifestName) + " / " + kSignatureName + ": the signature does not verify with key " +
                               report.key_fingerprint + ": the manifest or its signature was modified, or another key signed it");
    }
    if (manifest_it == small.end()) return report;
    auto manifest = parse_manifest(manifest_it->second);
    if (!manifest) {
        problems.push_back(manifest.error());
        return report;
    }
    if (embedded && embedded->fingerprint() != manifest->key_fingerprint)
        problems.push_back(std::string(kSignerKeyName) + ": is not the key named in " + kManifestName + " (" +
                           manifest->key_fingerprint + ")");
    if (trusted && trusted->fingerprint() != manifest->key_fingerprint)
        problems.push_back(std::string(kManifestName) + ": names signing key " + manifest->key_fingerprint + ", not " +
                           trusted->fingerprint() + " (--pub)");
    for (const auto& m : manifest->members) {
        const auto it = seen.find(m.name);
        if (it == seen.end()) {
            problems.push_back(m.name + ": listed in " + kManifestName + " but missing from the bundle");
            continue;
        }
        if (it->second.size != m.size)
            problems.push_back(m.name + ": " + std::to_string(it->second.size) + " bytes, the manifest says " +
                               std::to_string(m.size) + " (modified)");
        else if (it->second.sha256 != m.sha256)
            problems.push_back(m.name + ": SHA-256 " + short_hash(it->second.sha256) + " differs from the manifest's " +
                               short_hash(m.sha256) + " (modified)");
    }
    for (const auto& entry : seen) {  // no structured binding: clang-14 rejects capturing one in a lambda
        const auto& name = entry.first;
        const bool listed = std::any_of(manifest->members.begin(), manifest->members.end(),
                                        [&](const ManifestEntry& m) { return m.name == name; });
        if (!listed) problems.push_back(name + ": not listed in " + std::string(kManifestName) + " (added after signing)");
    }
    report.manifest = std::move(*manifest);
    report.ok = problems.empty();
    return report;
}

}  // namespace meshproof::audit::bundle
