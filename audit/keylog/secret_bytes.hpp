// Key material in memory: wiped when freed, never copied by accident, never formatted. The only way
// to the bytes is view(), for the crypto calls that need them.
#pragma once

#include <cstdint>
#include <vector>

#include "common/byte_reader.hpp"

namespace meshproof::audit {

class SecretBytes {
public:
    SecretBytes() = default;
    explicit SecretBytes(std::vector<std::uint8_t> bytes) : data_(std::move(bytes)) {}
    ~SecretBytes() { wipe(); }
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) { other.data_.clear(); }
    SecretBytes& operator=(SecretBytes&& other) noexcept {
        if (this != &other) {
            wipe();
            data_ = std::move(other.data_);
            other.data_.clear();
        }
        return *this;
    }

    [[nodiscard]] Bytes view() const { return data_; }
    [[nodiscard]] std::size_t size() const { return data_.size(); }
    [[nodiscard]] bool empty() const { return data_.empty(); }

private:
    void wipe();
    std::vector<std::uint8_t> data_;
};

}  // namespace meshproof::audit
