#!/usr/bin/env bash
# play_local_demo.sh: `meshproof play playbooks/local-demo.yaml` for real, as root: network
# namespaces, the demo apps, stunnel sidecars, live captures on the lab bridge.
#
#  1. The shipped playbook passes: exit 0, all 9 asserts pass, report.html / diff.json / before.jsonl
#     / after.jsonl written and consistent (plaintext before, istio-mtls after, diff passed), none of
#     the apps' secrets in any output, and nothing left behind (namespaces, processes, work
#     directory; the host's interfaces untouched).
#  2. The same playbook with db left out of the mesh: exit 3, the failing asserts named in the
#     summary with file:line:column, the reports still written (diff.json "passed": false), nothing left.
#  3. Ctrl-C while it runs: exit 130, nothing left.
#
# Env: MESHPROOF (binary), MESHPROOF_SOURCE_DIR. Exit 77 (skip) when not root or a tool is missing.
set -euo pipefail

MESHPROOF=${MESHPROOF:?MESHPROOF must point at the meshproof binary}
SRC=${MESHPROOF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[play_local_demo] $*"; }

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, live capture)"
for tool in ip ss python3; do
  command -v "$tool" >/dev/null || skip "$tool not installed"
done
command -v stunnel4 >/dev/null || command -v stunnel >/dev/null || skip "stunnel4 not installed"
[[ -d /run/netns || -w /run ]] || skip "cannot create network namespaces here"

PREFIX="mpdemo-play-$$"
WORK=$(mktemp -d "/tmp/play-local-demo.XXXXXX")
BG_PID=""
cleanup() {
  if [[ -n $BG_PID ]]; then kill -KILL "$BG_PID" 2>/dev/null || true; fi
  # Whatever a failed run left (the assertions below say whether that happened).
  "$MESHPROOF" demo --cleanup --prefix "$PREFIX" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The apps' secrets, read from the source so this test and the apps cannot drift apart.
mapfile -t SECRETS < <(sed -n 's/^inline constexpr std::string_view kDemo[A-Za-z]* = "\(.*\)";$/\1/p' \
  "$SRC/demo/demo_apps.hpp")
[[ ${#SECRETS[@]} -eq 4 ]] || fail "expected 4 secrets in demo/demo_apps.hpp, found ${#SECRETS[@]}"

host_links() { ip -o link show | awk -F': ' '{print $2}' | sort; }

nothing_left() {
  local left
  left=$(compgen -G "/run/netns/$PREFIX-*" || true)
  [[ -z $left ]] || fail "namespaces left: $left"
  if pgrep -f -- "$PREFIX" >/dev/null; then fail "processes left: $(pgrep -af -- "$PREFIX")"; fi
  left=$(compgen -G "/tmp/$PREFIX.*" || true)
  [[ -z $left ]] || fail "work directories left: $left"
  [[ $(host_links) == "$LINKS_BEFORE" ]] || fail "the host's interfaces changed: $(diff <(echo "$LINKS_BEFORE") <(host_links) || true)"
}

no_secrets_in() {
  local f s
  for f in "$@"; do
    for s in "${SECRETS[@]}"; do
      if grep -qF -- "$s" "$f"; then fail "secret '$s' found in $f"; fi
    done
  done
}

LINKS_BEFORE=$(host_links)

# ------------------------------------------------------------------ 1. the shipped playbook passes
log "1. playbooks/local-demo.yaml"
OUT="$WORK/out"
rc=0
"$MESHPROOF" play "$SRC/playbooks/local-demo.yaml" --var "out=$OUT" --var "prefix=$PREFIX" \
  >"$WORK/run1.out" 2>"$WORK/run1.err" || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/run1.out" "$WORK/run1.err"; fail "exit $rc, want 0"; }
grep -q '^summary: 12/12 steps run, 9 asserts: 9 passed, 0 failed$' "$WORK/run1.out" \
  || { cat "$WORK/run1.out"; fail "summary line"; }
grep -q '^PASSED$' "$WORK/run1.out" || fail "no PASSED line"
[[ $(grep -c '^      PASS ' "$WORK/run1.out") -eq 9 ]] || fail "expected 9 PASS lines"
for n in $(seq 1 12); do
  grep -q "^\[$n/12\] " "$WORK/run1.out" || fail "no progress line for step $n"
done
grep -q '^\[teardown\] lab: stopped ' "$WORK/run1.out" || fail "no teardown line"
for f in report.html diff.json before.jsonl after.jsonl; do
  [[ -s $OUT/$f ]] || fail "$f not written"
done
grep -q '<svg' "$OUT/report.html" || fail "report.html has no chart"
python3 - "$OUT" <<'PY' || fail "reports inconsistent"
import json, sys
out = sys.argv[1]
def flows(name):
    lines = [json.loads(l) for l in open(f"{out}/{name}") if l.strip()]
    assert lines[-1]["type"] == "summary", lines[-1]
    return [l for l in lines if l["type"] == "flow"]
before, after = flows("before.jsonl"), flows("after.jsonl")
assert len(before) >= 4 and all(f["verdict"] == "plaintext-served" for f in before), [f["verdict"] for f in before]
assert len(after) >= 4 and all(f["verdict"] == "istio-mtls" for f in after), [f["verdict"] for f in after]
diff = json.load(open(f"{out}/diff.json"))
assert diff["passed"] is True, diff
PY
no_secrets_in "$OUT"/* "$WORK/run1.out" "$WORK/run1.err"
nothing_left
log "   passed, reports written, nothing left"

# ------------------------------------------------------------------ 2. db out of the mesh: asserts fail
log "2. db left out of the mesh"
sed 's/^      sidecars: on$/      sidecars: on\n      without: [db]/' "$SRC/playbooks/local-demo.yaml" > "$WORK/no-db.yaml"
grep -q 'without: \[db\]' "$WORK/no-db.yaml" || fail "could not derive the playbook"
OUT2="$WORK/out2"
rc=0
"$MESHPROOF" play "$WORK/no-db.yaml" --var "out=$OUT2" --var "prefix=$PREFIX" >"$WORK/run2.out" 2>"$WORK/run2.err" || rc=$?
[[ $rc -eq 3 ]] || { cat "$WORK/run2.out" "$WORK/run2.err"; fail "exit $rc, want 3"; }
grep -q '^summary: 12/12 steps run, 9 asserts: 5 passed, 4 failed$' "$WORK/run2.out" \
  || { cat "$WORK/run2.out"; fail "summary line"; }
grep -qE "^  FAIL $WORK/no-db.yaml:[0-9]+:[0-9]+: step 7 'after-is-mtls' \(assert\): plaintext == 0 \(got [1-9]" "$WORK/run2.out" \
  || { cat "$WORK/run2.out"; fail "the failed plaintext assert is not named"; }
grep -qE "^  FAIL $WORK/no-db.yaml:[0-9]+:[0-9]+: step 9 'nothing-left-in-clear' \(assert\): still-plaintext == 0 \(got 1\)" "$WORK/run2.out" \
  || fail "the failed diff assert is not named"
grep -q '^FAILED: 4 asserts failed$' "$WORK/run2.out" || fail "no FAILED line"
python3 - "$OUT2/diff.json" <<'PY' || fail "diff.json should fail on backend -> db"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["passed"] is False
PY
no_secrets_in "$OUT2"/* "$WORK/run2.out" "$WORK/run2.err"
nothing_left
log "   exit 3, failed asserts named, reports written, nothing left"

# ------------------------------------------------------------------ 3. Ctrl-C
log "3. Ctrl-C in the middle"
"$MESHPROOF" play "$SRC/playbooks/local-demo.yaml" --var "out=$WORK/out3" --var "prefix=$PREFIX" --var rounds=20 \
  >"$WORK/run3.out" 2>"$WORK/run3.err" &
BG_PID=$!
for _ in $(seq 1 200); do
  [[ -e /run/netns/$PREFIX-node ]] && grep -q '^\[3/12\]' "$WORK/run3.out" && break
  sleep 0.05
done
grep -q '^\[3/12\]' "$WORK/run3.out" || fail "the run did not reach its first capture"
kill -INT "$BG_PID"
rc=0
wait "$BG_PID" || rc=$?
BG_PID=""
[[ $rc -eq 130 ]] || { cat "$WORK/run3.out" "$WORK/run3.err"; fail "exit $rc after Ctrl-C, want 130"; }
grep -q '^INTERRUPTED' "$WORK/run3.out" || fail "no INTERRUPTED line"
nothing_left
log "   exit 130, nothing left"
log "PASS"
