#include "audit/bundle/signing.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace meshproof::audit::bundle {

namespace {

std::string openssl_error(const std::string& what) {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return what;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    return what + " (" + buf + ")";
}

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

tl::expected<std::string, std::string> read_small_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return tl::unexpected(path.string() + ": cannot open (" + std::strerror(errno) + ")");
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    if (s.size() > 64 * 1024) return tl::unexpected(path.string() + ": too large for a key file");
    return s;
}

std::string hex(Bytes data) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (auto b : data) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0xF]);
    }
    return out;
}

bool is_ed25519(EVP_PKEY* k) { return EVP_PKEY_get_id(k) == EVP_PKEY_ED25519; }

}  // namespace

void SigningKey::Free::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

tl::expected<SigningKey, std::string> SigningKey::generate() {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (!k) return tl::unexpected(openssl_error("cannot generate an Ed25519 key"));
    SigningKey key(k, true);
    return key;
}

tl::expected<SigningKey, std::string> SigningKey::load_private(const std::filesystem::path& path) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return tl::unexpected(path.string() + ": " + std::strerror(errno));
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return tl::unexpected(path.string() + ": private key is accessible by others (mode " + mode +
                              "); run chmod 600 on it");
    }
    auto text = read_small_file(path);
    if (!text) return tl::unexpected(text.error());
    BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
    EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (!k) return tl::unexpected(openssl_error(path.string() + ": not a PEM private key"));
    SigningKey key(k, true);
    if (!is_ed25519(k)) return tl::unexpected(path.string() + ": not an Ed25519 key (meshproof keygen makes one)");
    return key;
}

tl::expected<SigningKey, std::string> SigningKey::from_public_pem(std::string_view pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* k = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (!k) return tl::unexpected(openssl_error("not a PEM public key"));
    SigningKey key(k, false);
    if (!is_ed25519(k)) return tl::unexpected(std::string("not an Ed25519 public key"));
    return key;
}

tl::expected<SigningKey, std::string> SigningKey::load_public(const std::filesystem::path& path) {
    auto text = read_small_file(path);
    if (!text) return tl::unexpected(text.error());
    auto key = from_public_pem(*text);
    if (!key) return tl::unexpected(path.string() + ": " + key.error());
    return key;
}

std::string SigningKey::public_pem() const {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return {};
    return bio_text(bio.get());
}

std::string SigningKey::private_pem() const {
    if (!has_private_) return {};
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) return {};
    return bio_text(bio.get());
}

std::string SigningKey::fingerprint() const {
    std::array<std::uint8_t, 32> raw{};
    std::size_t len = raw.size();
    if (EVP_PKEY_get_raw_public_key(key_.get(), raw.data(), &len) != 1 || len != raw.size()) return {};
    return "sha256:" + sha256_hex(Bytes(raw));
}

tl::expected<std::vector<std::uint8_t>, std::string> SigningKey::sign(Bytes message) const {
    if (!has_private_) return tl::unexpected(std::string("signing needs the private key"));
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::vector<std::uint8_t> sig(64);
    std::size_t len = sig.size();
    // Ed25519 is one-shot: no digest, the whole message at once.
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1)
        return tl::unexpected(openssl_error("Ed25519 signing failed"));
    sig.resize(len);
    return sig;
}

bool SigningKey::verify(Bytes message, Bytes signature) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
                    EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
    ERR_clear_error();
    return ok;
}

tl::expected<void, std::string> write_file_atomic(const std::filesystem::path& path, std::string_view content,
                                                  unsigned mode, bool overwrite) {
    std::error_code ec;
    if (!overwrite && std::filesystem::exists(path, ec))
        return tl::unexpected(path.string() + ": already exists (not overwritten)");
    const std::filesystem::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) return tl::unexpected(tmp.string() + ": " + std::strerror(errno));
    bool ok = ::fchmod(fd, static_cast<mode_t>(mode)) == 0;  // exact mode, whatever the umask
    std::size_t done = 0;
    while (ok && done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ok = false;
        else done += static_cast<std::size_t>(n);
    }
    ok = ::fsync(fd) == 0 && ok;
    const int saved = errno;
    ok = ::close(fd) == 0 && ok;
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(ok ? errno : saved);
        ::unlink(tmp.c_str());
        return tl::unexpected(path.string() + ": cannot write (" + why + ")");
    }
    return {};
}

tl::expected<KeyFiles, std::string> generate_key_files(const std::filesystem::path& dir, bool overwrite) {
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
        if (!std::filesystem::create_directories(dir, ec))
            return tl::unexpected(dir.string() + ": cannot create (" + ec.message() + ")");
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    } else if (!std::filesystem::is_directory(dir, ec)) {
        return tl::unexpected(dir.string() + ": not a directory");
    }
    KeyFiles files{dir / kPrivateKeyFile, dir / kPublicKeyFile, {}};
    if (!overwrite) {
        for (const auto& p : {files.private_key, files.public_key}) {
            if (std::filesystem::exists(p, ec))
                return tl::unexpected(p.string() + ": already exists (use --force to replace the key pair)");
        }
    }
    auto key = SigningKey::generate();
    if (!key) return tl::unexpected(key.error());
    if (auto r = write_file_atomic(files.private_key, key->private_pem(), 0600, overwrite); !r)
        return tl::unexpected(r.error());
    if (auto r = write_file_atomic(files.public_key, key->public_pem(), 0644, overwrite); !r)
        return tl::unexpected(r.error());
    files.fingerprint = key->fingerprint();
    return files;
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_) EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
}

Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_); }

void Sha256Stream::update(Bytes data) {
    if (ctx_ && !data.empty()) EVP_DigestUpdate(ctx_, data.data(), data.size());
}

std::string Sha256Stream::finish_hex() {
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> md{};
    unsigned len = 0;
    if (!ctx_ || EVP_DigestFinal_ex(ctx_, md.data(), &len) != 1) return {};
    return hex(Bytes(md.data(), len));
}

std::string sha256_hex(Bytes data) {
    Sha256Stream s;
    s.update(data);
    return s.finish_hex();
}

}  // namespace meshproof::audit::bundle
