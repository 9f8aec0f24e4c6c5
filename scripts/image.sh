#!/usr/bin/env bash
# Builds the meshproof container image (manifests/audit/Dockerfile) with podman, or docker where
# podman is missing, and prints its name, size and build time (docs/deploy-auditor.md).
#
#   scripts/image.sh [--tag IMAGE] [--base auto|pull|debootstrap] [--kubectl auto|pull|FILE]
#                    [--binary FILE] [--refresh-base] [--push]
#   scripts/image.sh --print-tag     prints the default IMAGE and exits
#
#   --tag IMAGE    default ghcr.io/meshproof/meshproof:VERSION (VERSION from `meshproof version`, the
#                  tag manifests/audit names; `kubectl kustomize manifests/audit` renders it)
#   --base         where the Debian 12 base comes from: pull docker.io/library/debian:12-slim, or make
#                  it with `debootstrap --variant=minbase bookworm` and import it as
#                  localhost/meshproof/debian:12-minbase (passed as DEBIAN_IMAGE). auto (default): pull
#                  if a registry answers, else debootstrap. The debootstrap tarball is cached in the
#                  work directory and reused until --refresh-base.
#   --kubectl      pull registry.k8s.io/kubectl:v1.31.4, or FILE: a static kubectl binary, imported
#                  as a one-file image (passed as KUBECTL_IMAGE). auto: pull if the base was pulled,
#                  else `command -v kubectl`.
#   --binary FILE  the meshproof to ship (default build/meshproof, built from this checkout); it is
#                  stripped into a build context of two files, so the repository is never sent.
#   --push         push IMAGE after the build (registry credentials: `podman login`).
#
# Environment: MESHPROOF_IMAGE_DIR (work directory, default build/image), MESHPROOF_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), CONTAINER_ENGINE (podman or docker). With podman,
# CONTAINERS_CONF defaults to scripts/podman/containers.conf (runc, explicit ulimits) so the machine's
# /etc/containers is left alone. Writes IMAGE, IMAGE_ID, SIZE_BYTES, BUILD_SECONDS to
# $MESHPROOF_IMAGE_DIR/last-build.env. Needs root for debootstrap.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

tag="" base=auto kubectl=auto binary=$root/build/meshproof refresh=0 push=0 print_tag=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --tag) tag=${2:?--tag needs a value}; shift ;;
    --tag=*) tag=${1#*=} ;;
    --base) base=${2:?}; shift ;;
    --base=*) base=${1#*=} ;;
    --kubectl) kubectl=${2:?}; shift ;;
    --kubectl=*) kubectl=${1#*=} ;;
    --binary) binary=${2:?}; shift ;;
    --binary=*) binary=${1#*=} ;;
    --refresh-base) refresh=1 ;;
    --push) push=1 ;;
    --print-tag) print_tag=1 ;;
    -h|--help) usage ;;
    *) echo "image.sh: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
case $base in auto|pull|debootstrap) ;; *) echo "image.sh: --base must be auto, pull or debootstrap" >&2; exit 2 ;; esac

say() { echo "image.sh: $*" >&2; }
die() { echo "image.sh: error: $*" >&2; exit 1; }

engine=${CONTAINER_ENGINE:-}
if [[ -z $engine ]]; then
  if command -v podman >/dev/null; then engine=podman
  elif command -v docker >/dev/null; then engine=docker
  else die "neither podman nor docker found (Debian: apt-get install podman runc)"; fi
fi
command -v "$engine" >/dev/null || die "$engine not found"
if [[ $engine == podman ]]; then
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/scripts/podman/containers.conf}
fi

[[ -x $binary ]] || die "$binary: no meshproof binary (build it: cmake --build build --target meshproof)"
version=$("$binary" version) || die "$binary version failed"
version=${version#meshproof }
tag=${tag:-ghcr.io/meshproof/meshproof:$version}
if ((print_tag)); then echo "$tag"; exit 0; fi

work=${MESHPROOF_IMAGE_DIR:-$root/build/image}
mkdir -p "$work"
work=$(cd "$work" && pwd)
mirror=${MESHPROOF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
upstream_base=docker.io/library/debian:12-slim
upstream_kubectl=registry.k8s.io/kubectl:v1.31.4
local_base=localhost/meshproof/debian:12-minbase
local_kubectl=localhost/meshproof/kubectl:local

start=$SECONDS
pulled=0
if [[ $base != debootstrap ]]; then
  if $engine image exists "$upstream_base" 2>/dev/null || timeout 300 $engine pull -q "$upstream_base" >/dev/null 2>"$work/pull.err"; then
    base_image=$upstream_base pulled=1
  elif [[ $base == pull ]]; then
    die "cannot pull $upstream_base: $(tail -1 "$work/pull.err")"
  else
    say "no registry reachable ($(tail -1 "$work/pull.err")): making the base with debootstrap"
  fi
fi

# make_base: debootstrap a minimal Debian 12 into a tarball (cached), configured as the official slim
# image is (bookworm, -updates and -security sources; no docs, man pages or locales installed later).
make_base() {
  local tarball=$work/debian-12-minbase.tar rootfs
  if [[ -s $tarball && $refresh == 0 ]]; then
    say "reusing the debootstrap base $tarball (--refresh-base makes a new one)"
  else
    command -v debootstrap >/dev/null || die "debootstrap not found (Debian: apt-get install debootstrap)"
    [[ $(id -u) == 0 ]] || die "debootstrap needs root"
    rootfs=$(mktemp -d "$work/rootfs.XXXXXX")
    # shellcheck disable=SC2064  # expand now: the trap must remove this rootfs
    trap "rm -rf '$rootfs'" EXIT
    say "debootstrap --variant=minbase bookworm from $mirror"
    local t0=$SECONDS
    mkdir -p "$work/debs"  # downloaded packages, kept so that --refresh-base downloads only updates
    debootstrap --variant=minbase --cache-dir="$work/debs" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || die "debootstrap failed, see $work/debootstrap.log: $(tail -3 "$work/debootstrap.log")"
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-meshproof-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/cache/apt/*.bin \
      "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
    tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
    say "debootstrap base made in $((SECONDS - t0)) s ($(du -m "$tarball" | cut -f1) MiB)"
  fi
  $engine import -q "$tarball" "$local_base" >/dev/null || die "$engine import $tarball failed"
}
if ((!pulled)); then
  if ((refresh)) || ! $engine image exists "$local_base" 2>/dev/null; then make_base; fi
  base_image=$local_base
fi

# kubectl: the upstream image, or a local static binary imported as a one-file image.
if [[ $kubectl == auto ]]; then
  if ((pulled)); then kubectl=pull; else kubectl=$(command -v kubectl || true); fi
  [[ -n $kubectl ]] || die "no registry and no kubectl on PATH: pass --kubectl FILE"
fi
if [[ $kubectl == pull ]]; then
  $engine image exists "$upstream_kubectl" 2>/dev/null || $engine pull -q "$upstream_kubectl" >/dev/null \
    || die "cannot pull $upstream_kubectl (--kubectl FILE takes a local binary)"
  kubectl_image=$upstream_kubectl
else
  kfile=$(readlink -f "$kubectl") || die "$kubectl: not found"
  [[ -f $kfile && -x $kfile ]] || die "$kubectl: not an executable file"
  kdir=$(mktemp -d "$work/kubectl.XXXXXX")
  mkdir "$kdir/bin"
  cp "$kfile" "$kdir/bin/kubectl"
  # Alone in a directory, as in the image (a wrapper that needs its siblings fails here, not there).
  "$kdir/bin/kubectl" version --client >/dev/null 2>&1 || { rm -rf "$kdir"; die "$kfile does not run on its own (kubectl version --client failed)"; }
  file -L "$kfile" 2>/dev/null | grep -q 'statically linked' || say "warning: $kfile may not be statically linked"
  tar --numeric-owner --owner=0 --group=0 -C "$kdir" -cf "$kdir.tar" bin
  $engine import -q "$kdir.tar" "$local_kubectl" >/dev/null || die "$engine import of kubectl failed"
  rm -rf "$kdir" "$kdir.tar"
  kubectl_image=$local_kubectl
fi

# The build context: the stripped binary and the Dockerfile, nothing else.
context=$work/context
rm -rf "$context" && mkdir -p "$context"
strip -o "$context/meshproof" "$binary"
cp "$root/manifests/audit/Dockerfile" "$context/Dockerfile"

build_args=(--build-arg "DEBIAN_IMAGE=$base_image" --build-arg "KUBECTL_IMAGE=$kubectl_image")
[[ $engine == podman ]] && build_args+=(--pull=never)
say "building $tag with $engine (base $base_image, kubectl $kubectl_image)"
t0=$SECONDS
$engine build "${build_args[@]}" -t "$tag" -f "$context/Dockerfile" "$context" >"$work/build.log" 2>&1 \
  || die "$engine build failed, see $work/build.log:$(echo; tail -15 "$work/build.log")"
build_seconds=$((SECONDS - t0))
image_id=$($engine image inspect --format '{{.Id}}' "$tag")
size=$($engine image inspect --format '{{.Size}}' "$tag")

if ((push)); then
  say "pushing $tag"
  $engine push "$tag" || die "push of $tag failed"
fi

cat >"$work/last-build.env" <<EOF
IMAGE=$tag
IMAGE_ID=$image_id
SIZE_BYTES=$size
BUILD_SECONDS=$build_seconds
TOTAL_SECONDS=$((SECONDS - start))
BASE_IMAGE=$base_image
KUBECTL_IMAGE=$kubectl_image
EOF
echo "image: $tag id ${image_id:0:12} size $((size / 1000000)) MB ($size bytes);" \
  "build $build_seconds s, total $((SECONDS - start)) s (base $base_image)"
