#!/usr/bin/env bash
# Installs meshproof's build and test dependencies from Debian packages, then builds it.
#   scripts/setup.sh            install dependencies (if missing) and build into ./build
#   scripts/setup.sh --deps     only install dependencies
#   scripts/setup.sh --deps --clang   also clang-14 + its ASan/UBSan/libFuzzer runtimes (scripts/sanitize.sh,
#                                     scripts/fuzz.sh ask for these; the normal build needs only g++)
# Run it as yourself or as root: only apt-get (and stopping the services Debian starts) runs as root,
# through sudo when you are not root (it says so first); the build runs as you.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/as_root.sh
source scripts/lib/as_root.sh

deps_only=0 clang=0
for arg in "$@"; do
  case $arg in
    --deps) deps_only=1 ;;
    --clang) clang=1 ;;
    *) echo "usage: $0 [--deps] [--clang]" >&2; exit 2 ;;
  esac
done

# Build: compiler, CMake, libraries. Runtime/test tools: capture, TLS stacks, servers we test against,
# podman with runc (crun, podman's first choice, refuses hybrid cgroup layouts; catatonit is the pod
# pause process) and debootstrap for the image's base where no registry answers (scripts/image.sh).
BUILD_PACKAGES=(build-essential cmake ninja-build pkg-config
  libpcap-dev libssl-dev libboost-dev libboost-filesystem-dev libyaml-cpp-dev prometheus-cpp-dev
  doctest-dev libexpected-dev zlib1g-dev libzstd-dev)
TEST_PACKAGES=(openssl iproute2 tcpdump tshark curl nginx-light stunnel4 gnutls-bin redis-server
  python3 ethtool prometheus prometheus-pushgateway chromium tcpreplay libndpi-bin python3-yaml python3-jsonschema time libcap2-bin
  podman runc catatonit containernetworking-plugins iptables debootstrap)
# Sanitizer suite and fuzzing: clang, its runtimes (ASan, UBSan, libFuzzer) and llvm-symbolizer for
# readable sanitizer stack traces.
CLANG_PACKAGES=(clang-14 libclang-rt-14-dev llvm-14)
wanted=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}")
((clang)) && wanted+=("${CLANG_PACKAGES[@]}")

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  install_packages() {
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -q
    apt-get install -y -q --no-install-recommends "$@"
    # Debian starts these services on install; our tests start their own instances on other ports.
    for svc in nginx redis-server prometheus prometheus-pushgateway; do
      if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" 2>/dev/null || true; fi
      service "$svc" stop >/dev/null 2>&1 || true
    done
  }
  as_root "apt-get installs Debian packages" install_packages "${missing[@]}"
fi
((deps_only)) && exit 0

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${MESHPROOF_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
echo "setup: built ./build/meshproof"
