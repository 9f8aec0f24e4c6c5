#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "audit/bundle/evidence_bundle.hpp"
#include "audit/bundle/tar_archive.hpp"
#include "bundle_test_helpers.hpp"

using namespace meshproof;
using namespace meshproof::audit::bundle;
using namespace meshproof::audit::bundle::testing;

namespace {

struct Member {
    std::string name, data;
};

std::vector<Member> unpack(const std::filesystem::path& p) {
    auto r = TarReader::open(p);
    REQUIRE(r.has_value());
    std::vector<Member> out;
    while (true) {
        auto e = (*r)->next();
        REQUIRE(e.has_value());
        if (!*e) break;
        Member m{(*e)->name, {}};
        REQUIRE((*r)->read_data([&](Bytes b) { m.data.append(b.begin(), b.end()); }).has_value());
        out.push_back(std::move(m));
    }
    return out;
}

void repack(const std::filesystem::path& p, const std::vector<Member>& members) {
    auto w = TarWriter::create(p, true, 0640);
    REQUIRE(w.has_value());
    for (const auto& m : members)
        REQUIRE((*w)->add(m.name, as_bytes(m.data), 1767225600).has_value());
    REQUIRE((*w)->close().has_value());
}

bool mentions(const VerifyReport& r, std::string_view text) {
    return std::any_of(r.problems.begin(), r.problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

std::string problems_of(const VerifyReport& r) {
    std::string s;
    for (const auto& p : r.problems) s += p + "\n";
    return s;
}

struct Fixture {
    TempDir dir;
    SigningKey key = *SigningKey::generate();
    std::filesystem::path bundle = dir / "evidence.tar.gz";
    std::string pcap;

    Fixture() {
        pcap.assign(70'000, '\0');
        for (std::size_t i = 0; i < pcap.size(); ++i) pcap[i] = static_cast<char>((i * 131) & 0xFF);
        write_text(dir / "capture.pcap", pcap);
        write_text(dir / "policy.yaml", "version: 1\n");
        std::vector<BundleMember> members = {
            {"verdicts.jsonl", std::nullopt, "{\"type\":\"flow\",\"verdict\":\"plaintext-served\"}\n{\"type\":\"summary\"}\n"},
            {"evidence/capture.pcap", dir / "capture.pcap", {}},
            {"snapshot.json", std::nullopt, "{\"kind\":\"List\",\"items\":[]}\n"},
            {"policy.yaml", dir / "policy.yaml", {}},
            {"version.json", std::nullopt, "{\"tool\":\"meshproof 0.1.0\"}\n"},
        };
        BundleOptions opt;
        opt.tool = "meshproof 0.1.0";
        opt.created_unix = 1767225600;
        auto m = write_bundle(bundle, members, key, opt);
        REQUIRE_MESSAGE(m.has_value(), (m ? "" : m.error()));
    }
};

}  // namespace

TEST_CASE("bundle: write and verify") {
    Fixture fx;

    SUBCASE("a fresh bundle verifies, with the embedded key and with the signer's key") {
        const auto r = verify_bundle(fx.bundle, nullptr);
        CHECK_MESSAGE(r.ok, problems_of(r));
        CHECK_FALSE(r.authenticated);
        CHECK(r.key_fingerprint == fx.key.fingerprint());
        const auto pub = SigningKey::from_public_pem(fx.key.public_pem());
        REQUIRE(pub.has_value());
        const auto t = verify_bundle(fx.bundle, &*pub);
        CHECK_MESSAGE(t.ok, problems_of(t));
        CHECK(t.authenticated);
        REQUIRE(t.manifest.has_value());
        CHECK(t.manifest->created == "2026-01-01T00:00:00Z");
        CHECK(t.manifest->tool == "meshproof 0.1.0");
        REQUIRE(t.manifest->members.size() == 5);
        CHECK(t.manifest->members[1].name == "evidence/capture.pcap");
        CHECK(t.manifest->members[1].size == 70'000);
        CHECK(t.manifest->members[1].sha256 == sha256_hex(as_bytes(fx.pcap)));
    }
    SUBCASE("layout: members, then manifest, signature, key; mode 0640") {
        CHECK(file_mode(fx.bundle) == 0640);
        const auto members = unpack(fx.bundle);
        std::vector<std::string> names;
        for (const auto& m : members) names.push_back(m.name);
        CHECK(names == std::vector<std::string>{"verdicts.jsonl", "evidence/capture.pcap", "snapshot.json", "policy.yaml",
                                                "version.json", "manifest.json", "manifest.sig", "signer.pub"});
        CHECK(members[6].data.size() == 64);
        CHECK(members[5].data.find("\"sha256\": \"" + sha256_hex(as_bytes(fx.pcap)) + "\"") != std::string::npos);
    }
    SUBCASE("another trusted key: not authentic") {
        const auto other = SigningKey::generate();
        REQUIRE(other.has_value());
        const auto r = verify_bundle(fx.bundle, &*other);
        CHECK_FALSE(r.ok);
        CHECK(mentions(r, "the signature does not verify"));
        CHECK(mentions(r, "manifest.json: names signing key"));
    }
}

TEST_CASE("bundle: tampering with any member fails, naming it") {
    Fixture fx;
    const auto original = unpack(fx.bundle);
    REQUIRE(original.size() == 8);
    const auto pub = SigningKey::from_public_pem(fx.key.public_pem());
    REQUIRE(pub.has_value());

    for (std::size_t i = 0; i < original.size(); ++i) {
        // A byte in the middle of each member, then the first and the last byte.
        for (const std::size_t where : {original[i].data.size() / 2, std::size_t{0}, original[i].data.size() - 1}) {
            auto members = original;
            members[i].data[where] = static_cast<char>(members[i].data[where] ^ 0x01);
            const auto tampered = fx.dir / ("tampered-" + std::to_string(i) + ".tar.gz");
            repack(tampered, members);
            for (const SigningKey* trusted : {static_cast<const SigningKey*>(nullptr), &*pub}) {
                CAPTURE(members[i].name);
                CAPTURE(where);
                CAPTURE(trusted != nullptr);
                const auto r = verify_bundle(tampered, trusted);
                CHECK_FALSE(r.ok);
                CHECK_MESSAGE(mentions(r, members[i].name), problems_of(r));
            }
        }
    }
}

TEST_CASE("bundle: structural tampering") {
    Fixture fx;
    auto members = unpack(fx.bundle);
    const auto path = fx.dir / "t.tar.gz";

    SUBCASE("a member removed") {
        members.erase(members.begin() + 1);
        repack(path, members);
        const auto r = verify_bundle(path, nullptr);
        CHECK_FALSE(r.ok);
        CHECK(mentions(r, "evidence/capture.pcap: listed in manifest.json but missing"));
    }
    SUBCASE("a member added") {
        members.insert(members.begin(), Member{"extra.txt", "planted"});
        repack(path, members);
        const auto r = verify_bundle(path, nullptr);
        CHECK_FALSE(r.ok);
        CHECK(mentions(r, "extra.txt: not listed in manifest.json"));
    }
    SUBCASE("a member duplicated with other content") {
        members.push_back(Member{"verdicts.jsonl", "{}"});
        repack(path, members);
        CHECK(mentions(verify_bundle(path, nullptr), "verdicts.jsonl: appears twice"));
    }
    SUBCASE("a member truncated") {
        const std::size_t size = members[0].data.size();
        members[0].data.pop_back();
        repack(path, members);
        CHECK(mentions(verify_bundle(path, nullptr), "verdicts.jsonl: " + std::to_string(size - 1) +
                                                         " bytes, the manifest says " + std::to_string(size)));
    }
    SUBCASE("re-signed by someone else: passes integrity, fails authenticity") {
        auto mallory = SigningKey::generate();
        REQUIRE(mallory.has_value());
        members[0].data = "{\"type\":\"flow\",\"verdict\":\"istio-mtls\"}\n{\"type\":\"summary\"}\n";
        std::vector<BundleMember> forged;
        for (std::size_t i = 0; i < 5; ++i) forged.push_back({members[i].name, std::nullopt, members[i].data});
        REQUIRE(write_bundle(path, forged, *mallory, {}).has_value());
        const auto r = verify_bundle(path, nullptr);
        CHECK(r.ok);
        CHECK(r.key_fingerprint == mallory->fingerprint());
        CHECK(r.key_fingerprint != fx.key.fingerprint());
        const auto pub = SigningKey::from_public_pem(fx.key.public_pem());
        CHECK_FALSE(verify_bundle(path, &*pub).ok);
    }
    SUBCASE("manifest, signature or key missing") {
        for (const char* gone : {kManifestName, kSignatureName, kSignerKeyName}) {
            CAPTURE(gone);
            auto m = members;
            m.erase(std::remove_if(m.begin(), m.end(), [&](const Member& x) { return x.name == gone; }), m.end());
            repack(path, m);
            const auto r = verify_bundle(path, nullptr);
            CHECK_FALSE(r.ok);
            CHECK(mentions(r, std::string(gone) + ": missing"));
        }
    }
}

TEST_CASE("bundle: damage to the compressed file") {
    Fixture fx;
    const std::string raw = read_text(fx.bundle);
    const auto path = fx.dir / "d.tar.gz";

    SUBCASE("a flipped byte anywhere in the compressed stream fails") {
        for (const std::size_t where : {std::size_t{20}, raw.size() / 3, raw.size() / 2, raw.size() - 6}) {
            CAPTURE(where);
            std::string bad = raw;
            bad[where] = static_cast<char>(bad[where] ^ 0x10);
            write_text(path, bad);
            const auto r = verify_bundle(path, nullptr);
            CHECK_FALSE(r.ok);
            CHECK_FALSE(r.problems.empty());
        }
    }
    SUBCASE("truncated") {
        write_text(path, raw.substr(0, raw.size() / 2));
        const auto r = verify_bundle(path, nullptr);
        CHECK_FALSE(r.ok);
        CHECK(mentions(r, "d.tar.gz"));
    }
    SUBCASE("not a bundle") {
        write_text(path, "just text\n");
        CHECK_FALSE(verify_bundle(path, nullptr).ok);
        CHECK_FALSE(verify_bundle(fx.dir / "missing.tar.gz", nullptr).ok);
    }
}

TEST_CASE("bundle: options and refusals") {
    TempDir dir;
    auto key = SigningKey::generate();
    REQUIRE(key.has_value());

    SUBCASE("plain tar") {
        BundleOptions opt;
        opt.gzip = false;
        REQUIRE(write_bundle(dir / "b.tar", {{"a.txt", std::nullopt, "a"}}, *key, opt).has_value());
        CHECK(read_text(dir / "b.tar").substr(257, 5) == "ustar");
        CHECK(verify_bundle(dir / "b.tar", nullptr).ok);
    }
    SUBCASE("bad member lists write nothing") {
        CHECK_FALSE(write_bundle(dir / "x.tar.gz", {{"../a", std::nullopt, "a"}}, *key, {}).has_value());
        CHECK_FALSE(write_bundle(dir / "x.tar.gz", {{"manifest.json", std::nullopt, "a"}}, *key, {}).has_value());
        CHECK_FALSE(write_bundle(dir / "x.tar.gz", {{"a", std::nullopt, "1"}, {"a", std::nullopt, "2"}}, *key, {}).has_value());
        const auto missing = write_bundle(dir / "x.tar.gz", {{"a", dir / "nope.pcap", {}}}, *key, {});
        REQUIRE_FALSE(missing.has_value());
        CHECK(missing.error().find("nope.pcap") != std::string::npos);
        CHECK(std::filesystem::is_empty(dir.path()));
    }
    SUBCASE("a public key cannot sign") {
        auto pub = SigningKey::from_public_pem(key->public_pem());
        REQUIRE(pub.has_value());
        CHECK_FALSE(write_bundle(dir / "x.tar.gz", {}, *pub, {}).has_value());
    }
    SUBCASE("member names from paths") {
        CHECK(member_name_for("captures", "/tmp/x/node 1.pcap") == "captures/node_1.pcap");
        CHECK(member_name_for("", "a.pcap") == "a.pcap");
        const std::string longname = member_name_for("captures", std::string(150, 'n') + ".pcapng");
        CHECK(longname.size() == 100);
        CHECK(longname.substr(longname.size() - 7) == ".pcapng");
        CHECK(valid_member_name(member_name_for("c", "..")));
    }
}

TEST_CASE("bundle: manifest JSON") {
    Manifest m;
    m.created = "2026-01-01T00:00:00Z";
    m.tool = "meshproof 0.1.0";
    m.key_fingerprint = "sha256:" + std::string(64, 'a');
    m.members = {{"a.txt", 1, std::string(64, 'b')}, {"dir/b \"q\"", 2, std::string(64, 'c')}};

    SUBCASE("round trip, one member per line") {
        const std::string j = manifest_to_json(m);
        CHECK(j.find("\n    {\"name\": \"a.txt\", \"size\": 1, \"sha256\": \"" + std::string(64, 'b') + "\"},\n") != std::string::npos);
        m.members[1].name = "dir/b";
        auto back = parse_manifest(manifest_to_json(m));
        REQUIRE_MESSAGE(back.has_value(), (back ? "" : back.error()));
        CHECK(back->created == m.created);
        CHECK(back->key_fingerprint == m.key_fingerprint);
        REQUIRE(back->members.size() == 2);
        CHECK(back->members[1].name == "dir/b");
        CHECK(back->members[1].size == 2);
    }
    SUBCASE("strict") {
        CHECK_FALSE(parse_manifest("").has_value());
        CHECK_FALSE(parse_manifest("{").has_value());
        CHECK_FALSE(parse_manifest("[]").has_value());
        CHECK_FALSE(parse_manifest(R"({"format":"other/1"})").has_value());
        const std::string base = R"({"format":"meshproof-bundle/1","created":"x","tool":"t","signature":{"algorithm":"ed25519","key":"k"},"members":)";
        CHECK(parse_manifest(base + "[]}").has_value());
        CHECK_FALSE(parse_manifest(base + "[]} trailing").has_value());
        CHECK_FALSE(parse_manifest(base + R"([{"name":"../x","size":1,"sha256":")" + std::string(64, 'a') + "\"}]}").has_value());
        CHECK_FALSE(parse_manifest(base + R"([{"name":"x","size":-1,"sha256":")" + std::string(64, 'a') + "\"}]}").has_value());
        CHECK_FALSE(parse_manifest(base + R"([{"name":"x","size":1,"sha256":"ABC"}]})").has_value());
        const std::string entry = R"({"name":"x","size":1,"sha256":")" + std::string(64, 'a') + "\"}";
        CHECK_FALSE(parse_manifest(base + "[" + entry + "," + entry + "]}").has_value());
        CHECK_FALSE(parse_manifest(R"({"format":"meshproof-bundle/1","format":"meshproof-bundle/1"})").has_value());
        CHECK_FALSE(parse_manifest(std::string(40, '[') + std::string(40, ']')).has_value());
        const std::string sig_rsa = R"({"format":"meshproof-bundle/1","created":"x","tool":"t","signature":{"algorithm":"rsa","key":"k"},"members":[]})";
        CHECK_FALSE(parse_manifest(sig_rsa).has_value());
        CHECK(parse_manifest(R"({"format":"meshproof-bundle\/1","created":"\u00e9","tool":"t\n","signature":{"algorithm":"ed25519","key":"k"},"members":[],"extra":[true,false,null,1.5e3]})")
                  ->created == "\xc3\xa9");
    }
}
