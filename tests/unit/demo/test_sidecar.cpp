// The stunnel configurations that play Istio's sidecars.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "demo/sidecar.hpp"

using namespace meshproof::demo;

namespace {

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) {
        if (l == line) return true;
    }
    return false;
}

std::size_t count_lines(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    std::string l;
    std::size_t n = 0;
    while (std::getline(in, l)) n += l == line;
    return n;
}

SidecarConfig backend_sidecar() {
    SidecarConfig cfg;
    cfg.log_path = "/tmp/x/sidecar-backend.log";
    cfg.files = {"/tmp/x/backend.pem", "/tmp/x/backend-key.pem", "/tmp/x/mesh-ca.pem"};
    cfg.inbound = {{"10.244.2.20", 8080}};
    cfg.outbound = {{kOutboundPort, "10.244.3.30", 6379, istio_sni(6379, "db", "demo")}};
    return cfg;
}

}  // namespace

TEST_CASE("sidecar: Istio's SNI form") {
    CHECK(istio_sni(8080, "backend", "demo") == "outbound_.8080_._.backend.demo.svc.cluster.local");
    CHECK(istio_sni(6379, "db", "prod") == "outbound_.6379_._.db.prod.svc.cluster.local");
}

TEST_CASE("sidecar: stunnel configuration") {
    const std::string conf = stunnel_config(backend_sidecar());

    SUBCASE("global: foreground (its PID is the one we stop), no pid file, log to a file") {
        CHECK(has_line(conf, "foreground = yes"));
        CHECK(has_line(conf, "pid ="));
        CHECK(has_line(conf, "syslog = no"));
        CHECK(has_line(conf, "output = /tmp/x/sidecar-backend.log"));
    }
    SUBCASE("inbound: the app port on the pod IP, to the app on loopback, client certificate required") {
        REQUIRE(has_line(conf, "[inbound-8080]"));
        CHECK(has_line(conf, "accept = 10.244.2.20:8080"));
        CHECK(has_line(conf, "connect = 127.0.0.1:8080"));
        CHECK(count_lines(conf, "requireCert = yes") == 1);
    }
    SUBCASE("outbound: loopback 15001 to the peer's app port with Istio's SNI") {
        REQUIRE(has_line(conf, "[outbound-15001]"));
        CHECK(has_line(conf, "client = yes"));
        CHECK(has_line(conf, "accept = 127.0.0.1:15001"));
        CHECK(has_line(conf, "connect = 10.244.3.30:6379"));
        CHECK(has_line(conf, "sni = outbound_.6379_._.db.demo.svc.cluster.local"));
        // The [outbound] section comes after [inbound]: the client = yes must not leak into inbound.
        CHECK(conf.find("[inbound-8080]") < conf.find("client = yes"));
    }
    SUBCASE("both directions: TLS 1.3 only, workload certificate, peer verified against the mesh CA") {
        CHECK(count_lines(conf, "sslVersionMin = TLSv1.3") == 2);
        CHECK(count_lines(conf, "cert = /tmp/x/backend.pem") == 2);
        CHECK(count_lines(conf, "key = /tmp/x/backend-key.pem") == 2);
        CHECK(count_lines(conf, "CAfile = /tmp/x/mesh-ca.pem") == 2);
        CHECK(count_lines(conf, "verifyChain = yes") == 2);
        CHECK(count_lines(conf, "TIMEOUTclose = 0") == 2);
    }
    SUBCASE("a pod with only an outbound route has no inbound section") {
        SidecarConfig cfg = backend_sidecar();
        cfg.inbound.clear();
        const std::string c = stunnel_config(cfg);
        CHECK(c.find("[inbound") == std::string::npos);
        CHECK(count_lines(c, "requireCert = yes") == 0);
        CHECK(count_lines(c, "sslVersionMin = TLSv1.3") == 1);
    }
}
