#!/usr/bin/env bash
# demo_e2e.sh: `meshproof demo` end to end, as root, on real namespaces, sidecars and traffic.
#
#  1. `demo --output DIR` passes: before.jsonl has a plaintext-served flow with a detected secret,
#     after.jsonl has no plaintext and >= 1 istio-mtls flow, diff.json agrees, and none of the apps'
#     secrets appears in any output file or on the terminal; nothing named PREFIX is left behind
#     (namespace, process, work directory) and the host's interfaces are untouched.
#  2. `--show-secrets` does print them (so the grep of step 1 is not vacuous).
#  3. `--without-sidecar db` (a pod left out of the mesh): exit 3, diff.json and report.html name
#     backend -> db as still in clear; still no secret in the outputs and nothing left.
#  4. Ctrl-C in the middle of the run: exit 130 and the same "nothing left" checks.
#  5. kill -9 in the middle: the apps die with meshproof (PDEATHSIG) and `demo --cleanup` removes
#     the namespaces and the work directory.
#  6. report.html renders in headless Chromium: a 1280x1600 PNG showing the chart's red (before) and
#     green (after) bars. Exit 77 here when chromium is not installed.
#
# Env: MESHPROOF (binary), MESHPROOF_SOURCE_DIR; DEMO_E2E_KEEP=1 keeps the output directory;
#      DEMO_E2E_SCREENSHOT=FILE also copies the screenshot there (how docs/demo-report.png is made).
set -euo pipefail

MESHPROOF=${MESHPROOF:?MESHPROOF must point at the meshproof binary}
SRC=${MESHPROOF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[demo_e2e] $*"; }

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
for tool in ip ss python3; do
  command -v "$tool" >/dev/null || skip "$tool not installed"
done
command -v stunnel4 >/dev/null || command -v stunnel >/dev/null || skip "stunnel4 not installed"
[[ -d /run/netns || -w /run ]] || skip "cannot create network namespaces here"

PREFIX="mpdemo-e2e-$$"
OUT=$(mktemp -d "/tmp/demo-e2e-out.XXXXXX")
BG_PID=""
cleanup() {
  if [[ -n $BG_PID ]]; then kill -KILL "$BG_PID" 2>/dev/null || true; fi
  # Whatever a failed run left (the assertions below say whether that happened).
  "$MESHPROOF" demo --cleanup --prefix "$PREFIX" >/dev/null 2>&1 || true
  if [[ ${DEMO_E2E_KEEP:-0} == 1 ]]; then echo "kept $OUT"; else rm -rf "$OUT"; fi
}
trap cleanup EXIT

# The apps' secrets, read from the source so this test and the demo cannot drift apart.
mapfile -t SECRETS < <(sed -n 's/^inline constexpr std::string_view kDemo[A-Za-z]* = "\(.*\)";$/\1/p' \
  "$SRC/demo/demo_apps.hpp")
[[ ${#SECRETS[@]} -eq 4 ]] || fail "expected 4 secrets in demo/demo_apps.hpp, found ${#SECRETS[@]}"

# Named network namespaces of a run (PREFIX-node, PREFIX-frontend, ...).
run_namespaces() { compgen -G "/run/netns/$1-*" || true; }

host_links() { ip -o link show | awk -F': ' '{print $2}' | sort; }

# nothing_left PREFIX: no namespace, process or work directory of that run remains.
nothing_left() {
  local p=$1 left
  left=$(run_namespaces "$p")
  [[ -z $left ]] || fail "namespaces left: $left"
  # Every app and sidecar has its work directory (/tmp/PREFIX.XXXXXX) in its command line.
  left=$(pgrep -af -- "$p" | grep -v -e pgrep -e demo_e2e || true)
  [[ -z $left ]] || fail "processes left: $left"
  left=$(compgen -G "/tmp/$p.*" || true)
  [[ -z $left ]] || fail "work directories left: $left"
  # The lab never puts an interface in the host namespace: none of its names may have appeared
  # here (other links may come and go on a busy host).
  left=$(comm -13 <(echo "$LINKS_BEFORE") <(host_links) | grep -E '^(br0|veth[0-9]+|eth0)(@|$)' || true)
  [[ -z $left ]] || fail "new interfaces in the host namespace: $left"
}

# no_secrets FILE...: none of the apps' secrets, in full, in any of them.
no_secrets() {
  local s
  for s in "${SECRETS[@]}"; do
    if grep -F -l -- "$s" "$@"; then fail "secret value ${s:0:4}... appears in the files above"; fi
  done
}

LINKS_BEFORE=$(host_links)

# ------------------------------------------------------------------------------------ 1. the demo
log "1. meshproof demo --output $OUT/run"
rc=0
timeout 300 "$MESHPROOF" demo --output "$OUT/run" --prefix "$PREFIX" --color never \
  >"$OUT/terminal.txt" 2>&1 || rc=$?
cat "$OUT/terminal.txt"
[[ $rc -eq 0 ]] || fail "meshproof demo exited $rc"
for f in before.jsonl after.jsonl diff.json report.html; do
  [[ -s $OUT/run/$f ]] || fail "$f missing or empty"
done
grep -q '^\[2/6\] before: capturing plaintext traffic on br0' "$OUT/terminal.txt" || fail "no progress line for phase 2"
grep -q '^PASS: ' "$OUT/terminal.txt" || fail "no PASS line"

python3 - "$OUT/run" <<'PY'
import json, sys
d = sys.argv[1]
def lines(name):
    rows = [json.loads(l) for l in open(f"{d}/{name}") if l.strip()]
    assert rows and rows[-1]["type"] == "summary", f"{name}: no summary line"
    return [r for r in rows if r["type"] == "flow"], rows[-1]
before, bsum = lines("before.jsonl")
after, asum = lines("after.jsonl")
plain = ("plaintext-served", "plaintext-rejected")
leaky = [f for f in before if f["verdict"] == "plaintext-served" and f["secrets"]]
assert leaky, "before: no plaintext-served flow with a detected secret"
kinds = {s["kind"] for f in before for s in f["secrets"]}
for k in ("authorization", "password", "redis-auth"):
    assert k in kinds, f"before: no {k} secret detected (got {sorted(kinds)})"
for f in before:
    for s in f["secrets"]:
        assert "redacted" in s and "value" not in s, "before: a secret is not redacted"
assert not [f for f in after if f["verdict"] in plain], "after: plaintext flows remain"
istio = [f for f in after if f["verdict"] == "istio-mtls"]
assert istio, "after: no istio-mtls flow"
for f in istio:
    assert f["tls"]["version"] == "1.3", f"after: {f['server']} is not TLS 1.3"
    assert f["tls"]["sni"].startswith("outbound_."), f"after: SNI {f['tls']['sni']}"
    assert f["evidence"], "after: an istio-mtls flow without evidence"
assert bsum["flows"] == len(before) and asum["flows"] == len(after)
diff = json.load(open(f"{d}/diff.json"))
assert diff["type"] == "diff" and diff["passed"] is True, "diff.json: not passed"
assert diff["before"]["plaintext_flows"] >= 1
assert diff["after"]["plaintext_flows"] == 0
assert diff["after"]["verdicts"]["istio-mtls"] == len(istio)
assert diff["changes"]["secured"] >= 2 and diff["changes"]["still-plaintext"] == 0, diff["changes"]
assert diff["still_in_clear"] == []
assert len(diff["secrets_gone"]) >= 3
pairs = {(g["client"], g["server"], g["server_port"]): g["change"] for g in diff["groups"]}
assert pairs.get(("frontend", "backend", 8080)) == "secured", pairs
assert pairs.get(("backend", "db", 6379)) == "secured", pairs
print(f"[demo_e2e] before: {len(before)} flows ({len(leaky)} leaking secrets: {sorted(kinds)}); "
      f"after: {len(istio)}/{len(after)} istio-mtls; diff: {diff['changes']['secured']} pairs secured")
PY
no_secrets "$OUT/run"/* "$OUT/terminal.txt"
for f in before.jsonl after.jsonl diff.json report.html; do
  [[ $(stat -c %a "$OUT/run/$f") == 640 ]] || fail "$f has mode $(stat -c %a "$OUT/run/$f"), reports are 0640"
done
html=$OUT/run/report.html
grep -q '<svg' "$html" || fail "report.html has no inline SVG"
if grep -E -i -q '<script|<link|<img|src=|href=|url\(|https?://' "$html"; then
  fail "report.html refers to an external resource"
fi
nothing_left "$PREFIX"
log "1. ok: proof holds, secrets redacted everywhere, nothing left"

# ------------------------------------------------------------------ 2. --show-secrets shows them
log "2. --show-secrets"
rc=0
timeout 300 "$MESHPROOF" demo --output "$OUT/shown" --prefix "$PREFIX" --rounds 1 --show-secrets --color never \
  >"$OUT/terminal-shown.txt" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || { cat "$OUT/terminal-shown.txt"; fail "demo --show-secrets exited $rc"; }
for s in "${SECRETS[@]}"; do
  grep -F -q -- "$s" "$OUT/shown/before.jsonl" || fail "--show-secrets: ${s:0:4}... not in before.jsonl"
  grep -F -q -- "$s" "$OUT/terminal-shown.txt" || fail "--show-secrets: ${s:0:4}... not on the terminal"
done
nothing_left "$PREFIX"
rm -rf "$OUT/shown" "$OUT/terminal-shown.txt"
log "2. ok"

# --------------------------------------------------------- 3. a pod left out of the mesh: FAIL
log "3. --without-sidecar db: the proof must fail"
rc=0
timeout 300 "$MESHPROOF" demo --output "$OUT/fail" --prefix "$PREFIX" --rounds 1 --without-sidecar db --color never \
  >"$OUT/terminal-fail.txt" 2>&1 || rc=$?
[[ $rc -eq 3 ]] || { cat "$OUT/terminal-fail.txt"; fail "demo --without-sidecar db exited $rc, expected 3"; }
grep -q '^FAIL: 1 client->server pair(s) still in clear after' "$OUT/terminal-fail.txt" || fail "no FAIL line"
python3 - "$OUT/fail" <<'PY'
import json, sys
diff = json.load(open(f"{sys.argv[1]}/diff.json"))
assert diff["passed"] is False
assert diff["changes"]["still-plaintext"] == 1 and diff["changes"]["secured"] == 1, diff["changes"]
stuck = diff["still_in_clear"]
assert [(g["client"], g["server"], g["server_port"]) for g in stuck] == [("backend", "db", 6379)], stuck
after = [json.loads(l) for l in open(f"{sys.argv[1]}/after.jsonl")]
assert any(f.get("verdict") == "plaintext-served" and f["secrets"] for f in after)
PY
grep -q 'banner fail' "$OUT/fail/report.html" || fail "report.html does not show the failure"
no_secrets "$OUT/fail"/* "$OUT/terminal-fail.txt"
nothing_left "$PREFIX"
rm -rf "$OUT/fail" "$OUT/terminal-fail.txt"
log "3. ok"

# wait_for_line FILE REGEX: until the demo printed that progress line (or 60 s).
wait_for_line() {
  local i
  for ((i = 0; i < 600; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$BG_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# ----------------------------------------------------------------------------------- 4. Ctrl-C
log "4. SIGINT while the sidecars run"
"$MESHPROOF" demo --prefix "$PREFIX" --color never >"$OUT/terminal-int.txt" 2>&1 &
BG_PID=$!
wait_for_line "$OUT/terminal-int.txt" '^\[3/6\]' || { cat "$OUT/terminal-int.txt"; fail "demo did not reach phase 3"; }
sleep 0.3
kill -INT "$BG_PID"
rc=0
wait "$BG_PID" || rc=$?
BG_PID=""
cat "$OUT/terminal-int.txt"
[[ $rc -eq 130 ]] || fail "interrupted demo exited $rc, expected 130"
grep -q 'interrupted' "$OUT/terminal-int.txt" || fail "no 'interrupted' message"
nothing_left "$PREFIX"
log "4. ok"

# ----------------------------------------------------------------- 5. kill -9, then --cleanup
log "5. SIGKILL, then demo --cleanup"
"$MESHPROOF" demo --prefix "$PREFIX" --color never >"$OUT/terminal-kill.txt" 2>&1 &
BG_PID=$!
wait_for_line "$OUT/terminal-kill.txt" '^\[3/6\]' || { cat "$OUT/terminal-kill.txt"; fail "demo did not reach phase 3"; }
sleep 0.3
kill -KILL "$BG_PID"
wait "$BG_PID" 2>/dev/null || true
BG_PID=""
[[ -n $(run_namespaces "$PREFIX") ]] || fail "expected namespaces left after kill -9 (test is vacuous)"
for ((i = 0; i < 50; i++)); do
  [[ -z $(pgrep -f -- "$PREFIX" | grep -v $$ || true) ]] && break
  sleep 0.1
done
"$MESHPROOF" demo --cleanup --prefix "$PREFIX" | tee "$OUT/cleanup.txt"
grep -q 'namespaces removed' "$OUT/cleanup.txt" || fail "--cleanup said nothing"
nothing_left "$PREFIX"
log "5. ok"

# ---------------------------------------------------------------- 6. report.html in Chromium
CHROMIUM=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n $CHROMIUM ]] || skip "the demo passed, but chromium is not installed: report.html was not rendered (apt-get install chromium)"
log "6. rendering report.html in headless Chromium"
PROFILE=$(mktemp -d)
SHOT=$OUT/report.png
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$PROFILE" --screenshot="$SHOT" --window-size=1280,1600 "file://$html" \
  >"$OUT/chromium.log" 2>&1 || true
rm -rf "$PROFILE"
[[ -s $SHOT ]] || { cat "$OUT/chromium.log"; fail "chromium wrote no screenshot"; }
python3 - "$SHOT" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT": idat += body
    pos += 12 + n
w, h, depth, ctype = ihdr[:4]
assert (w, h) == (1280, 1600), f"size {w}x{h}"
assert depth == 8 and ctype in (2, 6), f"unexpected PNG format {depth}/{ctype}"
bpp = 3 if ctype == 2 else 4
raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
for y in range(900):  # the banner, cards and chart are in the top 900 px
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
def count(rgb, tol=24):
    n = 0
    for line in rows:
        for x in range(0, stride, bpp):
            if all(abs(line[x + k] - rgb[k]) <= tol for k in range(3)): n += 1
    return n
red, green = count((0xc6, 0x28, 0x28)), count((0x1b, 0x7f, 0x3b))
colors = len({bytes(line[x:x + 3]) for line in rows[::20] for x in range(0, stride, bpp * 7)})
print(f"[demo_e2e] screenshot {w}x{h}: {red} red and {green} green pixels, {colors} sampled colours")
assert red > 5000, "the before bar (plaintext, red) is not on the page"
assert green > 5000, "the after bar (istio-mtls, green) is not on the page"
assert colors > 20, "the page looks blank"
PY
if [[ -n ${DEMO_E2E_SCREENSHOT:-} ]]; then cp "$SHOT" "$DEMO_E2E_SCREENSHOT"; fi
log "6. ok"
log "PASS"
