#include "audit/keylog/secret_bytes.hpp"

#include <openssl/crypto.h>

namespace meshproof::audit {

// OPENSSL_cleanse: a wipe the compiler may not optimise away as a dead store.
void SecretBytes::wipe() {
    if (!data_.empty()) OPENSSL_cleanse(data_.data(), data_.size());
    data_.clear();
}

}  // namespace meshproof::audit
