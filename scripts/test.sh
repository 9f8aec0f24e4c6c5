#!/usr/bin/env bash
# Runs the whole test suite: installs missing dependencies, builds with warnings as errors, runs ctest.
# Run it as yourself or as root. The build runs as you; apt-get (scripts/setup.sh) and ctest need root
# (system tests create network namespaces and capture on them) and run through sudo when you are not
# root, saying so first.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/as_root.sh
source scripts/lib/as_root.sh
scripts/setup.sh --deps
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESHPROOF_WERROR=ON ${MESHPROOF_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
as_root "system tests create network namespaces and capture on them" \
  ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
