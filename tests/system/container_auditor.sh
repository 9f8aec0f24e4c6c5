#!/usr/bin/env bash
# container_auditor: the in-cluster auditor in a real container engine (podman + runc).
#   1. scripts/image.sh builds the image from this build's meshproof (Debian 12 base from debootstrap
#      when no registry answers, cached in the build dir; kubectl from the local file). The image runs
#      as 65534:65534, has no setuid/setgid file, no -dev package or compiler, meshproof carries
#      cap_net_admin,cap_net_raw=p, and it runs with a read-only root file system.
#   2. `kubectl kustomize manifests/audit` renders the tag the build produces by default, and an
#      overlay's `images:` points every workload at another tag.
#   3. The DaemonSet's pod template, extracted by tests/lib/manifest_pod.py (its securityContext,
#      hostNetwork, args untouched), runs under `podman kube play`: /proc/PID/status of the auditor
#      shows uid 65534, CapEff = CapPrm = CapInh = CapAmb = 0, NoNewPrivs 1 and a bounding set of
#      exactly NET_RAW + NET_ADMIN after activation, and it serves /metrics.
# Everything it creates (pods, containers, test image, imported bases) is removed on exit; the
# debootstrap tarball stays in the build dir as a cache. Exit 77 (skip) when not root, a tool is
# missing, or MESHPROOF is a sanitizer build (the image carries the release binary).
set -euo pipefail

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[container_auditor] $*" >&2; }

[[ $(id -u) -eq 0 ]] || skip "needs root (podman, debootstrap)"
for tool in podman runc catatonit python3 curl kubectl; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (Debian: scripts/setup.sh --deps)"
done
[[ -n ${MESHPROOF:-} && -x $MESHPROOF ]] || fail "MESHPROOF must name the meshproof binary"
grep -qa __asan_init "$MESHPROOF" && skip "$MESHPROOF is a sanitizer build; the image carries the release build (scripts/test.sh runs this test)"
SRC=${MESHPROOF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export CONTAINERS_CONF=$SRC/scripts/podman/containers.conf
export MESHPROOF_IMAGE_DIR=${MESHPROOF_IMAGE_DIR:-$(dirname "$MESHPROOF")/image}

ID="mpctr-$$"
IMAGE="localhost/meshproof-test:$ID"
WORK=$(mktemp -d "/tmp/$ID.XXXXXX")
chmod 755 "$WORK"
PODS=()
# Images podman or image.sh create on the way (imported bases, the pause image): removed at the end
# unless they were there before.
CACHE_IMAGES=(localhost/meshproof/debian:12-minbase localhost/meshproof/kubectl:local localhost/podman-pause:4.3.1-0)
PRESENT=()
for i in "${CACHE_IMAGES[@]}"; do podman image exists "$i" && PRESENT+=("$i"); done
cleanup() {
  local p i
  for p in "${PODS[@]}"; do podman pod rm -f "$p" >/dev/null 2>&1 || true; done
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  for i in "${CACHE_IMAGES[@]}"; do
    [[ " ${PRESENT[*]} " == *" $i "* ]] || podman rmi "$i" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_image() { podman run --rm --read-only --tmpfs /tmp "$@"; }
# free_ports N: N free TCP ports on loopback (the DaemonSet's pod uses the host network).
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])' "$1"
}

# ----------------------------------------------------------------- 1. the image
t0=$SECONDS
"$SRC/scripts/image.sh" --binary "$MESHPROOF" --tag "$IMAGE" >"$WORK/image.out" 2>"$WORK/image.err" \
  || { cat "$WORK/image.err" >&2; fail "scripts/image.sh failed"; }
cat "$WORK/image.out"
grep -q "^image: $IMAGE id .* size [0-9]* MB" "$WORK/image.out" || fail "image.sh did not report the image and its size"
# shellcheck source=/dev/null
source "$MESHPROOF_IMAGE_DIR/last-build.env"
[[ $IMAGE_ID == $(podman image inspect --format '{{.Id}}' "$IMAGE") ]] || fail "last-build.env names another image"
log "image built in $((SECONDS - t0)) s (podman build $BUILD_SECONDS s), $((SIZE_BYTES / 1000000)) MB"

user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[[ $user == 65534:65534 ]] || fail "image runs as '$user', expected 65534:65534"
[[ $(in_image "$IMAGE" version) == "$("$MESHPROOF" version)" ]] || fail "meshproof version in the image differs from $MESHPROOF"
[[ $(in_image --entrypoint /usr/bin/id "$IMAGE") == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)" ]] \
  || fail "id in the image: $(in_image --entrypoint /usr/bin/id "$IMAGE")"
# Read-only root: nothing outside /tmp is writable, and meshproof still works.
in_image --entrypoint /bin/sh "$IMAGE" -c 'touch /usr/local/x' 2>/dev/null && fail "root file system writable with --read-only"
in_image --entrypoint /bin/sh "$IMAGE" -c 'touch /tmp/x' || fail "/tmp not writable"
suid=$(in_image --user 0 --entrypoint /usr/bin/find "$IMAGE" / -xdev -type f -perm /6000)
[[ -z $suid ]] || fail "setuid/setgid files in the image: $suid"
pkgs=$(in_image --entrypoint /usr/bin/dpkg-query "$IMAGE" -W -f '${Package}\n')
grep -xE '.*-dev|gcc(-[0-9]+)?|g\+\+(-[0-9]+)?|cpp(-[0-9]+)?|make|cmake|binutils|libcap2-bin' <<<"$pkgs" \
  && fail "build-time packages in the image (above)"
grep -qx libpcap0.8 <<<"$pkgs" || fail "libpcap0.8 not in the image"
in_image --entrypoint /usr/bin/ldd "$IMAGE" /usr/local/bin/meshproof | grep 'not found' && fail "libraries missing (above)"
in_image --entrypoint /usr/local/bin/kubectl "$IMAGE" version --client >/dev/null || fail "kubectl does not run in the image"
mnt=$(podman image mount "$IMAGE")
caps=$(getcap "$mnt/usr/local/bin/meshproof" 2>/dev/null || true)
podman image unmount "$IMAGE" >/dev/null
[[ $caps == *"cap_net_admin,cap_net_raw=p" ]] || fail "meshproof's file capabilities in the image: '$caps'"
log "image: uid 65534, read-only root works, no setuid/setgid, $(wc -l <<<"$pkgs") packages none -dev, file caps =p"

# ----------------------------------------------------------------- 2. kustomize
default_tag=$("$SRC/scripts/image.sh" --binary "$MESHPROOF" --print-tag)
kubectl kustomize "$SRC/manifests/audit" >"$WORK/rendered.yaml" || fail "kubectl kustomize manifests/audit failed"
mkdir -p "$WORK/overlay"
cat >"$WORK/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$WORK/overlay" "$SRC/manifests/audit")
images:
  - name: ${default_tag%:*}
    newName: ${IMAGE%:*}
    newTag: ${IMAGE##*:}
EOF
kubectl kustomize "$WORK/overlay" >"$WORK/overlay.yaml" 2>"$WORK/kust.err" \
  || kubectl kustomize --load-restrictor LoadRestrictionsNone "$WORK/overlay" >"$WORK/overlay.yaml" \
  || fail "kustomize overlay failed: $(cat "$WORK/kust.err")"
python3 - "$WORK/rendered.yaml" "$default_tag" "$WORK/overlay.yaml" "$IMAGE" <<'PY' || fail "rendered images (above)"
import sys, yaml
def images(path):
    out = {}
    for d in yaml.safe_load_all(open(path)):
        if not d or d["kind"] not in ("DaemonSet", "CronJob"):
            continue
        spec = d["spec"]["template"]["spec"] if d["kind"] == "DaemonSet" else d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        out[d["kind"]] = [c["image"] for c in spec["containers"]]
    return out
for path, want in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    got = images(path)
    if sorted(got) != ["CronJob", "DaemonSet"] or any(v != [want] for v in got.values()):
        sys.exit(f"{path}: images {got}, expected {want} everywhere")
PY
log "kustomize: manifests render $default_tag (the build's default tag); an overlay renders $IMAGE"

# ----------------------------------------------------------------- 3. the DaemonSet pod
pod_yaml() {  # pod_yaml KIND MANIFEST NAME ARGS...: the manifest's pod for kube play
  local kind=$1 manifest=$2 name=$3
  shift 3
  python3 "$SRC/tests/lib/manifest_pod.py" "$SRC/manifests/audit/$manifest" "$kind" --image "$IMAGE" --name "$name" "$@"
}
# status_of CONTAINER FIELD: a field of /proc/PID/status of the container's main process.
status_of() {
  local pid
  pid=$(podman inspect --format '{{.State.Pid}}' "$1")
  awk -v k="$2:" '$1 == k {print $2; exit}' "/proc/$pid/status"
}
read -r METRICS_PORT < <(free_ports 1)
DS="$ID-ds"
pod_yaml DaemonSet daemonset.yaml "$DS" --arg=--listen=127.0.0.1:$METRICS_PORT >"$WORK/ds.yaml"
PODS+=("$DS")
podman kube play "$WORK/ds.yaml" >"$WORK/ds.out" 2>&1 || fail "podman kube play (DaemonSet): $(cat "$WORK/ds.out")"
DSC="$DS-auditor"
for ((i = 0; i < 100; i++)); do
  curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$METRICS_PORT/metrics" && break
  [[ $(podman inspect --format '{{.State.Running}}' "$DSC") == true ]] || { podman logs "$DSC" >&2; fail "DaemonSet container exited"; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/metrics.txt" || { podman logs "$DSC" >&2; fail "no /metrics"; }
podman logs "$DSC" 2>&1 | grep -q "auditing interface any" || fail "auditor log: $(podman logs "$DSC" 2>&1)"
read -r _ uid euid _ < <(grep '^Uid:' "/proc/$(podman inspect --format '{{.State.Pid}}' "$DSC")/status")
[[ $uid == 65534 && $euid == 65534 ]] || fail "DaemonSet auditor runs as uid $uid/$euid"
for f in CapEff CapPrm CapInh CapAmb; do
  [[ $(status_of "$DSC" $f) == 0000000000000000 ]] || fail "DaemonSet auditor: $f is $(status_of "$DSC" $f)"
done
[[ $(status_of "$DSC" Seccomp) == 2 ]] || fail "DaemonSet auditor: Seccomp $(status_of "$DSC" Seccomp), expected 2 (RuntimeDefault filter)"
[[ $(status_of "$DSC" NoNewPrivs) == 1 ]] || fail "DaemonSet auditor: NoNewPrivs $(status_of "$DSC" NoNewPrivs)"
# Bounding set: NET_ADMIN (12) and NET_RAW (13) only, as drop ALL + add says.
[[ $(status_of "$DSC" CapBnd) == 0000000000003000 ]] || fail "DaemonSet bounding set $(status_of "$DSC" CapBnd), expected NET_ADMIN+NET_RAW"
[[ $(podman inspect --format '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.NetworkMode}}' "$DSC") == "true host" ]] \
  || fail "DaemonSet container: read-only root / host network not applied"
log "DaemonSet pod: uid 65534, CapEff/CapPrm/CapInh/CapAmb 0, NoNewPrivs 1, seccomp filter, CapBnd NET_ADMIN+NET_RAW, read-only root, host network, /metrics served"

echo "container_auditor: passed"
