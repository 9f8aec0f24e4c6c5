// heap_optional<T>: std::optional's interface with the value on the heap, so an empty one costs one
// pointer instead of sizeof(T). For large, rarely set members (a FlowRecord's TLS summary is ~500
// bytes inline and absent from most flows of a SYN flood). Value semantics: copies deep-copy.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace meshproof {

template <class T>
class heap_optional {
public:
    using value_type = T;

    heap_optional() noexcept = default;
    heap_optional(std::nullopt_t) noexcept {}  // NOLINT: implicit, as std::optional's
    heap_optional(const T& v) : p_(std::make_unique<T>(v)) {}  // NOLINT: implicit, as std::optional's
    heap_optional(T&& v) : p_(std::make_unique<T>(std::move(v))) {}  // NOLINT
    heap_optional(const std::optional<T>& o) : p_(o ? std::make_unique<T>(*o) : nullptr) {}  // NOLINT
    heap_optional(const heap_optional& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
    heap_optional(heap_optional&&) noexcept = default;
    ~heap_optional() = default;

    heap_optional& operator=(const heap_optional& o) {
        if (this != &o) assign_from(o.p_.get());
        return *this;
    }
    heap_optional& operator=(heap_optional&&) noexcept = default;
    heap_optional& operator=(std::nullopt_t) noexcept {
        p_.reset();
        return *this;
    }
    heap_optional& operator=(const T& v) {
        assign_from(&v);
        return *this;
    }
    heap_optional& operator=(T&& v) {
        if (p_) *p_ = std::move(v);
        else p_ = std::make_unique<T>(std::move(v));
        return *this;
    }

    template <class... Args>
    T& emplace(Args&&... args) {
        p_ = std::make_unique<T>(std::forward<Args>(args)...);
        return *p_;
    }
    void reset() noexcept { p_.reset(); }

    [[nodiscard]] bool has_value() const noexcept { return p_ != nullptr; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

    T& operator*() & noexcept { return *p_; }
    const T& operator*() const& noexcept { return *p_; }
    T* operator->() noexcept { return p_.get(); }
    const T* operator->() const noexcept { return p_.get(); }

    T& value() & {
        if (!p_) throw std::bad_optional_access();
        return *p_;
    }
    const T& value() const& {
        if (!p_) throw std::bad_optional_access();
        return *p_;
    }
    template <class U>
    T value_or(U&& fallback) const& {
        return p_ ? *p_ : static_cast<T>(std::forward<U>(fallback));
    }

    friend bool operator==(const heap_optional& a, const heap_optional& b) {
        if (a.has_value() != b.has_value()) return false;
        return !a.has_value() || *a == *b;
    }
    friend bool operator==(const heap_optional& a, std::nullopt_t) noexcept { return !a.has_value(); }

private:
    void assign_from(const T* v) {
        if (!v) p_.reset();
        else if (p_) *p_ = *v;
        else p_ = std::make_unique<T>(*v);
    }

    std::unique_ptr<T> p_;
};

}  // namespace meshproof
