#!/usr/bin/env bash
# capture_privileges: `meshproof audit capture` started as user nobody with file capabilities (as the
# DaemonSet runs it: manifests/audit/Dockerfile setcaps the binary, the pod runs as uid 65534), in
# a namespace "node" with real HTTP traffic between two pod namespaces. While it captures, checks
# /proc/PID/status: Uid 65534, CapEff = CapPrm = CapInh = CapAmb = 0 and NoNewPrivs 1 (every
# capability dropped right after the capture socket was opened), and that the capture still sees
# the traffic (a plaintext-served flow to the HTTP server). Also: started as root it drops to nobody
# with no capability left; nobody without capabilities gets a clear "not permitted" error (exit 1).
# Exit 77 (skip) when not root or a tool is missing.
set -euo pipefail

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[capture_privileges] $*" >&2; }

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, setcap)"
for tool in ip curl python3 setcap getcap setpriv; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (Debian: iproute2 curl python3 libcap2-bin util-linux)"
done
[[ -n ${MESHPROOF:-} && -x $MESHPROOF ]] || fail "MESHPROOF must name the meshproof binary"
SRC=${MESHPROOF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
getent passwd nobody >/dev/null || skip "no 'nobody' user"
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)

# shellcheck source=../lib/netns_lab.sh
source "$SRC/tests/lib/netns_lab.sh"
PREFIX="mppriv-$$"
lab_install_traps
lab_create "$PREFIX"
NODE_NS="$PREFIX-node"
lab_add_pod client 10.244.7.10
lab_add_pod web 10.244.7.20
WORK="$LAB_DIR/work"
mkdir -p "$WORK"
chmod 755 "$LAB_DIR" "$WORK"

# The binary with file capabilities, in a directory nobody can read (and whose file system keeps
# extended attributes: setcap fails otherwise, and then we skip).
BIN="$WORK/meshproof"
cp "$MESHPROOF" "$BIN"
chmod 755 "$BIN"
setcap cap_net_raw,cap_net_admin=p "$BIN" 2>/dev/null || skip "setcap failed here (file system without xattrs?)"
getcap "$BIN" | grep 'cap_net_admin,cap_net_raw=p' >/dev/null || fail "getcap does not show the capabilities: $(getcap "$BIN")"
NOCAPS="$WORK/meshproof-nocaps"
cp "$MESHPROOF" "$NOCAPS"
chmod 755 "$NOCAPS"

printf 'hello from web\n' >"$WORK/index.html"
chmod 644 "$WORK/index.html"
lab_bg web python3 -m http.server 8080 --bind 10.244.7.20 --directory "$WORK"
lab_wait_listen web 8080

# AS_NOBODY CMD...: in the node namespace as uid/gid nobody, no supplementary groups; the capability
# bounding set is left as is (as a container runtime leaves NET_RAW/NET_ADMIN in it).
# (An array, not a function: started in the background, its PID is meshproof's own, as every step execs.)
AS_NOBODY=(ip netns exec "$NODE_NS" setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups)

# shellcheck source=../lib/capture_helpers.sh
source "$SRC/tests/lib/capture_helpers.sh"
start_capture() { capture_start "$@"; }  # start_capture OUT ERR CMD...
wait_capture() { capture_wait; }
status_field() { awk -v k="$1:" '$1 == k {print $2; exit}' "/proc/$CAP_PID/status"; }
# check_no_privileges WHAT: the running capture holds no capability and runs as nobody.
check_no_privileges() {
  local what=$1 uid euid f
  read -r _ uid euid _ < <(grep '^Uid:' "/proc/$CAP_PID/status")
  [[ $uid == "$NOBODY_UID" && $euid == "$NOBODY_UID" ]] || fail "$what: runs as uid $uid/$euid, expected $NOBODY_UID"
  for f in CapEff CapPrm CapInh CapAmb; do
    [[ $(status_field $f) == 0000000000000000 ]] || fail "$what: $f is $(status_field $f), expected 0 (status: $(grep ^Cap "/proc/$CAP_PID/status" | tr '\n' ' '))"
  done
  [[ $(status_field NoNewPrivs) == 1 ]] || fail "$what: NoNewPrivs is $(status_field NoNewPrivs), expected 1"
  log "$what: uid $uid, CapEff/CapPrm/CapInh/CapAmb 0, NoNewPrivs 1"
}
# check_flow OUT: the capture (stopped by --duration) reported the HTTP exchange as plaintext-served.
check_flow() {
  python3 - "$1" <<'PY' || fail "$1: no plaintext-served flow to 10.244.7.20:8080"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
flows = [l for l in lines if l.get("type") == "flow"]
ok = any(f.get("verdict") == "plaintext-served" and "8080" in json.dumps(f) for f in flows)
sys.exit(0 if ok and lines[-1].get("type") == "summary" else 1)
PY
}

# ------------------------------------------- 1. nobody + file capabilities
# "=p" (the image's choice: permitted only, meshproof raises them itself, and the kernel never
# refuses to exec the binary in a pod without them) and "=ep" (the classic tcpdump setup).
for mode in p ep; do
  setcap "cap_net_raw,cap_net_admin=$mode" "$BIN" || fail "setcap =$mode"
  OUT="$WORK/nobody-$mode.jsonl"
  ERR="$WORK/nobody-$mode.err"
  start_capture "$OUT" "$ERR" "${AS_NOBODY[@]}" "$BIN" audit capture -i br0 -f tcp --json -v --duration 4s
  sleep 0.3
  check_no_privileges "nobody + file capabilities =$mode"
  grep -q "all capabilities dropped" "$ERR" || fail "=$mode: no capability drop note in -v output: $(cat "$ERR")"
  lab_exec client curl -sS --max-time 5 http://10.244.7.20:8080/index.html | grep 'hello from web' >/dev/null || fail "http request failed"
  wait_capture
  [[ $rc == 0 ]] || { cat "$ERR" >&2; fail "capture as nobody (=$mode) exited $rc"; }
  check_flow "$OUT"
  log "nobody + file capabilities =$mode: traffic seen"
done

# ------------------------------------------------- 2. root, drop to nobody
OUT="$WORK/root.jsonl"
ERR="$WORK/root.err"
start_capture "$OUT" "$ERR" ip netns exec "$NODE_NS" "$MESHPROOF" audit capture -i br0 -f tcp --json -v --duration 4s
sleep 0.3
check_no_privileges "root, --user nobody (default)"
lab_exec client curl -sS --max-time 5 http://10.244.7.20:8080/index.html | grep 'hello from web' >/dev/null || fail "http request failed"
wait_capture
[[ $rc == 0 ]] || { cat "$ERR" >&2; fail "capture as root exited $rc"; }
check_flow "$OUT"

# -------------------------------------------- 3. nobody without capabilities
rc=0
"${AS_NOBODY[@]}" "$NOCAPS" audit capture -i br0 --duration 1 >/dev/null 2>"$WORK/nocaps.err" || rc=$?
[[ $rc == 1 ]] || fail "nobody without capabilities: exit $rc, expected 1"
grep -q "not permitted" "$WORK/nocaps.err" || fail "nobody without capabilities: unclear error: $(cat "$WORK/nocaps.err")"
[[ $(grep -c . "$WORK/nocaps.err") == 1 ]] || fail "nobody without capabilities: want one error line: $(cat "$WORK/nocaps.err")"
log "nobody without capabilities: $(cat "$WORK/nocaps.err")"

echo "capture_privileges: all checks passed"
