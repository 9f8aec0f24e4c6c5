// A small argv walker: flags, "--opt VALUE" / "--opt=VALUE", positionals. Errors are UsageError.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.hpp"

namespace meshproof::cli {

class ArgParser {
public:
    explicit ArgParser(std::vector<std::string> args) : args_(std::move(args)) {}
    [[nodiscard]] bool more() const { return pos_ < args_.size(); }
    bool flag(const std::string& name) {
        if (more() && args_[pos_] == name) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool option(const std::string& name, std::string& out) {
        if (!more()) return false;
        const std::string& a = args_[pos_];
        if (a == name) {
            if (pos_ + 1 >= args_.size()) throw UsageError(name + " needs a value");
            out = args_[pos_ + 1];
            pos_ += 2;
            return true;
        }
        if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=') {
            out = a.substr(name.size() + 1);
            ++pos_;
            return true;
        }
        return false;
    }
    bool size_option(const std::string& name, std::size_t& out) {
        std::string v;
        if (!option(name, v)) return false;
        std::size_t used = 0;
        unsigned long long n = 0;
        try {
            n = std::stoull(v, &used);
        } catch (...) {
            used = 0;
        }
        if (used != v.size() || v.empty()) throw UsageError(name + ": expected a number, got '" + v + "'");
        out = static_cast<std::size_t>(n);
        return true;
    }
    std::string positional() {
        const std::string& a = args_[pos_++];
        if (a.size() > 1 && a[0] == '-') throw UsageError("unknown option " + a);
        return a;
    }

private:
    std::vector<std::string> args_;
    std::size_t pos_ = 0;
};

}  // namespace meshproof::cli
