// Certificates taken out of a real TLS 1.2 mutual-TLS handshake by TlsParser, then parsed with OpenSSL.
// Expected names and dates are what tshark 4.0 shows for client-certificate.pcap (frames 6-11 and 15).
#include <doctest/doctest.h>

#include "audit/certs/certificate_info.hpp"
#include "tests/unit/classify/test_tls_pcap.hpp"

using namespace meshproof;
using namespace meshproof::audit;

TEST_CASE("client-certificate.pcap: both chains parse") {
    const std::string path = std::string(MESHPROOF_SHARED_TESTDATA) + "/pcaps/client-certificate.pcap";
    if (!tlstest::pcap::read_file(path)) {
        MESSAGE("shared test captures not found; skipped");
        return;
    }
    const auto r = tlstest::pcap::replay(path, 0);
    REQUIRE(r.facts.server_certificates);
    REQUIRE(r.facts.client_certificates);
    REQUIRE(r.facts.server_certificates->size() == 3);
    REQUIRE(r.facts.client_certificates->size() == 2);

    const auto server = parse_certificate_chain(*r.facts.server_certificates);
    for (const auto& c : server) CHECK(c.has_value());
    REQUIRE(server[0].has_value());
    CHECK(server[0]->subject == "CN=certauth.idrix.fr");
    CHECK(server[0]->issuer == "CN=R3,O=Let's Encrypt,C=US");
    CHECK(server[0]->dns_sans == std::vector<std::string>{"certauth.idrix.fr"});
    CHECK(server[0]->not_before == "2023-01-04T16:14:07Z");
    CHECK(server[0]->not_after == "2023-04-04T16:14:06Z");
    CHECK_FALSE(server[0]->self_signed);

    const auto client = parse_certificate_chain(*r.facts.client_certificates);
    REQUIRE(client[0].has_value());
    CHECK(client[0]->subject == "CN=johanna@corelight.com");
    CHECK(client[0]->issuer == "CN=Actalis Client Authentication CA G3,O=Actalis S.p.A.,L=Ponte San Pietro,ST=Bergamo,C=IT");
    CHECK(client[0]->not_before == "2023-02-28T15:59:27Z");
    CHECK(client[0]->not_after == "2024-02-28T15:59:27Z");
    CHECK(client[0]->key_type == "RSA 2048");
    CHECK(spiffe_ids(*client[0]).empty());
}
