// Our own captures of real traffic (tests/captures/, made in network namespaces by make_captures.sh)
// against the verdicts and facts in tests/captures/expected.tsv.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "audit/engine/engine.hpp"

using namespace meshproof::audit;

namespace {

const std::string kDir = std::string(MESHPROOF_SOURCE_DIR) + "/tests/captures";

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, sep)) out.push_back(cur);
    return out;
}

std::string trim(std::string s) {
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
    return out;
}

}  // namespace

TEST_CASE("own namespace captures get the verdicts and facts expected.tsv names") {
    std::ifstream in(kDir + "/expected.tsv");
    REQUIRE(in.good());
    std::string line;
    std::getline(in, line);  // header
    std::map<std::string, std::vector<FlowRecord>> by_file;
    int rows = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto c = split(line, '\t');
        REQUIRE(c.size() >= 4);
        const std::string file = c[0], client = c[1], server = c[2], verdict = c[3];
        CAPTURE(line);
        ++rows;
        if (!by_file.count(file)) {
            Engine engine;
            REQUIRE(read_capture_files({kDir + "/pcaps/" + file}, engine));
            engine.finish();
            by_file[file] = engine.records();
        }
        const auto& flows = by_file[file];
        const std::string client_ip = client.substr(0, client.rfind(':'));
        auto it = std::find_if(flows.begin(), flows.end(), [&](const FlowRecord& f) {
            return to_string(f.client_ip) == client_ip && endpoint_to_string(f.server_ip, f.server_port) == server;
        });
        REQUIRE_MESSAGE(it != flows.end(), "no flow " << client << " -> " << server);
        const FlowRecord& f = *it;
        CHECK(std::string(to_string(f.verdict)) == verdict);
        CHECK_FALSE(f.evidence.empty());

        std::map<std::string, std::string> notes;
        for (const auto& item : split(c.size() > 4 ? c[4] : "", ';')) {
            const auto eq = item.find('=');
            if (eq != std::string::npos) notes[trim(item.substr(0, eq))] = trim(item.substr(eq + 1));
        }
        if (notes.count("tls")) {
            REQUIRE(f.tls);
            CHECK(f.tls->version.value_or("") == notes["tls"]);
        }
        if (notes.count("sni")) CHECK(f.tls->sni.value_or("-") == notes["sni"]);
        if (notes.count("alpn")) CHECK((f.tls->alpn_offered.empty() ? "-" : join(f.tls->alpn_offered)) == notes["alpn"]);
        if (notes.count("alpn_chosen")) CHECK(f.tls->alpn_chosen.value_or("-") == notes["alpn_chosen"]);
        if (notes.count("cert_request")) CHECK(f.tls->cert_request == (notes["cert_request"] == "yes"));
        if (notes.count("client_cert")) CHECK(f.tls->client_cert.value_or(false) == (notes["client_cert"] == "yes"));
        if (notes.count("spiffe")) {
            const std::string want = notes["spiffe"];
            if (want == "-") CHECK(f.tls->spiffe_ids.empty());
            else CHECK(std::find(f.tls->spiffe_ids.begin(), f.tls->spiffe_ids.end(), want) != f.tls->spiffe_ids.end());
        }
        if (notes.count("resumed")) CHECK(f.tls->resumed == (notes["resumed"] == "yes"));
        if (notes.count("app")) CHECK(f.protocol == notes["app"]);
        if (notes.count("secrets")) {
            std::vector<std::string> kinds;
            for (const auto& s : f.secrets) kinds.push_back(s.kind);
            for (const auto& want : split(notes["secrets"], ',')) {
                CHECK_MESSAGE(std::find(kinds.begin(), kinds.end(), want) != kinds.end(), "secret " << want);
            }
        }
        if (notes.count("client_data")) CHECK((f.bytes[0] > 0) == (notes["client_data"] == "yes"));
        if (notes.count("server_data")) CHECK((f.bytes[1] > 0) == (notes["server_data"] == "yes"));
        if (notes.count("encap")) CHECK(f.tunnel == Tunnel::Vxlan);
    }
    CHECK(rows >= 16);
}
