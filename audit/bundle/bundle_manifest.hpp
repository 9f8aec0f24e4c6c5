// manifest.json of an evidence bundle: what it holds (name, size, SHA-256 of each member), when and by
// which tool it was made, and which key signs it. The signature (manifest.sig) covers these exact bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace meshproof::audit::bundle {

inline constexpr std::string_view kBundleFormat = "meshproof-bundle/1";

struct ManifestEntry {
    std::string name;
    std::uint64_t size = 0;
    std::string sha256;  // lower-case hex
};

struct Manifest {
    std::string format = std::string(kBundleFormat);
    std::string created;         // ISO 8601 UTC
    std::string tool;            // "meshproof 0.1.0"
    std::string key_fingerprint; // "sha256:..." of the signing public key
    std::vector<ManifestEntry> members;
};

// One member per line, so a person can read it and `diff` two of them.
std::string manifest_to_json(const Manifest& m);
// Strict: unknown format, missing fields, bad hashes or duplicate names are errors.
tl::expected<Manifest, std::string> parse_manifest(std::string_view json);

}  // namespace meshproof::audit::bundle
