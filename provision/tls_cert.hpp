// Self-signed certificate for the ingress gateway's HTTPS hosts (exposure.tls), made with OpenSSL.
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace meshproof::provision {

struct TlsMaterial {
    std::string cert_pem;
    std::string key_pem;  // PKCS#8, unencrypted: it goes into a kubernetes.io/tls Secret
};

// ECDSA P-256, SANs = hosts, valid `days` from now.
tl::expected<TlsMaterial, std::string> make_self_signed_cert(const std::vector<std::string>& hosts, int days = 825);

// The certificate in <state_dir>/ingress-tls.{crt,key} (mode 0600), made when missing or when its SANs
// differ from `hosts`, so re-runs apply the same Secret.
tl::expected<TlsMaterial, std::string> load_or_make_cert(const std::string& state_dir,
                                                         const std::vector<std::string>& hosts);

// DNS SANs of a PEM certificate (empty on error).
std::vector<std::string> cert_dns_names(const std::string& cert_pem);

std::string base64_encode(std::string_view data);

}  // namespace meshproof::provision
