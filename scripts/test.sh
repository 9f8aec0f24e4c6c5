#!/usr/bin/env bash
# Runs the whole test suite: installs missing dependencies, builds with warnings as errors, runs ctest.
# Needs root (network-namespace capture tests, Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --deps
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESHPROOF_WERROR=ON ${MESHPROOF_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
