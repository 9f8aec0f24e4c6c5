// Signed evidence bundles: a tar.gz of the given files (verdicts, evidence pcap, cluster snapshot,
// policy, version info, ...) plus
//   manifest.json  every member's name, size and SHA-256, the tool and the signing key's fingerprint
//   manifest.sig   Ed25519 signature over manifest.json's exact bytes (64 raw bytes)
//   signer.pub     the signing public key (PEM), so a bundle can be checked for integrity anywhere;
//                  authenticity needs the signer's public key from elsewhere (verify --pub).
// Independent of the audit types: it packs and checks files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "audit/bundle/bundle_manifest.hpp"
#include "audit/bundle/signing.hpp"

namespace meshproof::audit::bundle {

inline constexpr const char* kManifestName = "manifest.json";
inline constexpr const char* kSignatureName = "manifest.sig";
inline constexpr const char* kSignerKeyName = "signer.pub";

struct BundleMember {
    std::string name;                          // path inside the bundle, e.g. "evidence/capture.pcap"
    std::optional<std::filesystem::path> file; // streamed from disk when set...
    std::string content;                       // ...else this text
};

struct BundleOptions {
    std::string tool = "meshproof";            // "meshproof 0.1.0"
    std::int64_t created_unix = 0;             // 0: now
    bool gzip = true;                          // false: plain .tar
    unsigned mode = 0640;                      // file mode of the bundle (a report: owner rw, group r)
};

// Writes the bundle atomically (nothing at `out` until it is complete). Member names must be valid
// (relative, no "..", <= 100 bytes), unique and not one of the three reserved names.
tl::expected<Manifest, std::string> write_bundle(const std::filesystem::path& out, const std::vector<BundleMember>& members,
                                                 const SigningKey& key, const BundleOptions& opt);

struct VerifyReport {
    bool ok = false;
    bool authenticated = false;     // checked against a public key given by the caller
    std::string key_fingerprint;    // of the key the signature was checked with
    std::optional<Manifest> manifest;
    std::vector<std::string> problems;  // each names the member at fault: "evidence/x.pcap: SHA-256 ..."
};

// `trusted` null: the signature is checked with the bundle's own signer.pub (integrity only).
VerifyReport verify_bundle(const std::filesystem::path& bundle, const SigningKey* trusted);

// The bundle file's usual name for a member taken from a path ("captures/" + file name), made valid.
std::string member_name_for(std::string_view directory, const std::filesystem::path& file);

}  // namespace meshproof::audit::bundle
