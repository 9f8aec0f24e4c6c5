#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit/bundle/signing.hpp"
#include "bundle_test_helpers.hpp"

using namespace meshproof;
using namespace meshproof::audit::bundle;
using namespace meshproof::audit::bundle::testing;

TEST_CASE("signing: Ed25519 sign and verify") {
    auto key = SigningKey::generate();
    REQUIRE(key.has_value());
    CHECK(key->has_private());
    const std::string msg = "{\"format\":\"meshproof-bundle/1\"}\n";
    auto sig = key->sign(as_bytes(msg));
    REQUIRE(sig.has_value());
    CHECK(sig->size() == 64);
    CHECK(key->verify(as_bytes(msg), Bytes(*sig)));

    SUBCASE("a changed message or signature fails") {
        std::string changed = msg;
        changed[3] ^= 1;
        CHECK_FALSE(key->verify(as_bytes(changed), Bytes(*sig)));
        auto bad = *sig;
        bad[10] ^= 0x80;
        CHECK_FALSE(key->verify(as_bytes(msg), Bytes(bad)));
        CHECK_FALSE(key->verify(as_bytes(msg), Bytes(sig->data(), 63)));
        CHECK_FALSE(key->verify(as_bytes(msg), Bytes()));
    }
    SUBCASE("another key fails") {
        auto other = SigningKey::generate();
        REQUIRE(other.has_value());
        CHECK_FALSE(other->verify(as_bytes(msg), Bytes(*sig)));
        CHECK(other->fingerprint() != key->fingerprint());
    }
    SUBCASE("the public half verifies, cannot sign") {
        auto pub = SigningKey::from_public_pem(key->public_pem());
        REQUIRE(pub.has_value());
        CHECK_FALSE(pub->has_private());
        CHECK(pub->verify(as_bytes(msg), Bytes(*sig)));
        CHECK(pub->fingerprint() == key->fingerprint());
        CHECK(pub->private_pem().empty());
        CHECK_FALSE(pub->sign(as_bytes(msg)).has_value());
    }
    SUBCASE("fingerprint format") {
        const std::string fp = key->fingerprint();
        CHECK(fp.rfind("sha256:", 0) == 0);
        CHECK(fp.size() == 7 + 64);
    }
}

TEST_CASE("signing: key files") {
    TempDir dir;

    SUBCASE("keygen writes 0600 private and 0644 public PEM files") {
        auto files = generate_key_files(dir / "keys", false);
        REQUIRE_MESSAGE(files.has_value(), (files ? "" : files.error()));
        CHECK(files->private_key == dir / "keys" / kPrivateKeyFile);
        CHECK(file_mode(files->private_key) == 0600);
        CHECK(file_mode(files->public_key) == 0644);
        CHECK(file_mode(dir / "keys") == 0700);
        CHECK(read_text(files->private_key).rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
        CHECK(read_text(files->public_key).rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
        auto priv = SigningKey::load_private(files->private_key);
        REQUIRE_MESSAGE(priv.has_value(), (priv ? "" : priv.error()));
        auto pub = SigningKey::load_public(files->public_key);
        REQUIRE(pub.has_value());
        CHECK(priv->fingerprint() == files->fingerprint);
        CHECK(pub->fingerprint() == files->fingerprint);
        auto sig = priv->sign(as_bytes("x"));
        REQUIRE(sig.has_value());
        CHECK(pub->verify(as_bytes("x"), Bytes(*sig)));
    }
    SUBCASE("modes do not depend on the umask") {
        const mode_t old = ::umask(0);
        auto files = generate_key_files(dir.path(), false);
        ::umask(old);
        REQUIRE(files.has_value());
        CHECK(file_mode(files->private_key) == 0600);
        CHECK(file_mode(files->public_key) == 0644);
    }
    SUBCASE("an existing key is never overwritten without asking") {
        auto first = generate_key_files(dir.path(), false);
        REQUIRE(first.has_value());
        auto second = generate_key_files(dir.path(), false);
        REQUIRE_FALSE(second.has_value());
        CHECK(second.error().find("already exists") != std::string::npos);
        CHECK(SigningKey::load_public(first->public_key)->fingerprint() == first->fingerprint);
        auto forced = generate_key_files(dir.path(), true);
        REQUIRE(forced.has_value());
        CHECK(forced->fingerprint != first->fingerprint);
    }
    SUBCASE("a private key others can read is refused") {
        auto files = generate_key_files(dir.path(), false);
        REQUIRE(files.has_value());
        std::filesystem::permissions(files->private_key, std::filesystem::perms::group_read,
                                     std::filesystem::perm_options::add);
        auto k = SigningKey::load_private(files->private_key);
        REQUIRE_FALSE(k.has_value());
        CHECK(k.error().find("mode 0640") != std::string::npos);
    }
    SUBCASE("not a key, or not Ed25519") {
        write_text(dir / "junk.pem", "hello");
        ::chmod((dir / "junk.pem").c_str(), 0600);
        CHECK_FALSE(SigningKey::load_private(dir / "junk.pem").has_value());
        CHECK_FALSE(SigningKey::load_public(dir / "junk.pem").has_value());
        CHECK_FALSE(SigningKey::load_private(dir / "missing.pem").has_value());

        EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        REQUIRE(ec != nullptr);
        BIO* bio = BIO_new(BIO_s_mem());
        REQUIRE(PEM_write_bio_PUBKEY(bio, ec) == 1);
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio, &data);
        const std::string pem(data, static_cast<std::size_t>(n));
        BIO_free(bio);
        EVP_PKEY_free(ec);
        auto k = SigningKey::from_public_pem(pem);
        REQUIRE_FALSE(k.has_value());
        CHECK(k.error().find("not an Ed25519") != std::string::npos);
    }
    SUBCASE("keygen into a file path fails") {
        write_text(dir / "file", "x");
        CHECK_FALSE(generate_key_files(dir / "file", false).has_value());
    }
}

TEST_CASE("signing: SHA-256") {
    CHECK(sha256_hex(as_bytes("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex(as_bytes("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    Sha256Stream s;
    s.update(as_bytes("a"));
    s.update(as_bytes("bc"));
    CHECK(s.finish_hex() == sha256_hex(as_bytes("abc")));
}

TEST_CASE("signing: atomic writes") {
    TempDir dir;
    REQUIRE(write_file_atomic(dir / "r.json", "{}", 0640, false).has_value());
    CHECK(file_mode(dir / "r.json") == 0640);
    CHECK(read_text(dir / "r.json") == "{}");
    CHECK_FALSE(write_file_atomic(dir / "r.json", "[]", 0640, false).has_value());
    REQUIRE(write_file_atomic(dir / "r.json", "[]", 0600, true).has_value());
    CHECK(read_text(dir / "r.json") == "[]");
    CHECK(file_mode(dir / "r.json") == 0600);
    CHECK_FALSE(write_file_atomic(dir / "no-such-dir" / "x", "", 0600, false).has_value());
}
