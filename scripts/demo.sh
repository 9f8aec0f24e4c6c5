#!/usr/bin/env bash
# Runs `build/meshproof demo` (docs/demo.md) with the given arguments, as root: the demo creates network
# namespaces and captures on them. As a user it runs through sudo (and says so); as root it just runs.
#   scripts/demo.sh --output demo-out
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/as_root.sh
source scripts/lib/as_root.sh
[[ -x build/meshproof ]] || { echo "demo: build/meshproof is missing; run scripts/setup.sh first" >&2; exit 1; }
as_root "the demo creates network namespaces and captures on them" build/meshproof demo "$@"
