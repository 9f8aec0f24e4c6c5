// The demo's mesh PKI, shaped like Istio's: a self-signed root (istiod's "O=cluster.local" CA) and
// workload certificates with an EC P-256 key, an EMPTY subject and a single critical URI SAN holding
// the SPIFFE ID, usable for both server and client auth, valid for a short time. Made with OpenSSL 3.
#pragma once

#include <chrono>
#include <string>

#include <tl/expected.hpp>

namespace meshproof::demo {

struct PemPair {
    std::string cert_pem;
    std::string key_pem;  // PKCS#8, unencrypted
};

struct MeshCaOptions {
    std::string trust_domain = "cluster.local";
    std::chrono::seconds validity = std::chrono::hours(24);
};

// "spiffe://cluster.local/ns/demo/sa/backend"
std::string spiffe_id(const std::string& trust_domain, const std::string& ns, const std::string& service_account);

// Root CA: EC P-256, subject O=<trust domain>, CA:TRUE (critical), keyCertSign+cRLSign.
tl::expected<PemPair, std::string> make_mesh_ca(const MeshCaOptions& opt = {});

// Workload certificate signed by `ca` for `spiffe_id`, valid from 5 minutes ago (clock skew) for
// `validity` (Istio's default is 24 h; the demo uses 1 h).
tl::expected<PemPair, std::string> make_workload_cert(const PemPair& ca, const std::string& spiffe_id,
                                                      std::chrono::seconds validity = std::chrono::hours(1));

}  // namespace meshproof::demo
