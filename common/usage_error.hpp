// A configuration error the user made (a flag, a combination of flags): thrown by the libraries that
// check configuration, caught in the cli's run() and reported with exit status 2.
#pragma once

#include <stdexcept>

namespace meshproof {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace meshproof
