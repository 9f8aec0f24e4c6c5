#!/usr/bin/env bash
# evidence_disk_full: `meshproof audit capture --write FILE` when FILE's file system fills up (a
# 256 KiB tmpfs mounted on a temporary directory, unmounted on exit). Real HTTP traffic (60
# connections, 20 KB responses) in network namespaces produces far more evidence than fits.
# Expected (docs/architecture.md, "Evidence capture and a full disk"): the audit goes on and reports
# every flow (valid --json, all 60 connections); evidence stops at the first failed write; exactly
# one stderr line says so, naming the file, the error and how many packets were not written; exit 1;
# the evidence file left behind is a valid pcap (cut back to its last whole record) that
# `meshproof audit read` and tcpdump read without complaint.
# Exit 77 (skip) when not root or a tool is missing.
set -euo pipefail

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[evidence_disk_full] $*" >&2; }

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, mount)"
for tool in ip curl python3 tcpdump mount umount; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not found"
done
[[ -n ${MESHPROOF:-} && -x $MESHPROOF ]] || fail "MESHPROOF must name the meshproof binary"
SRC=${MESHPROOF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

# shellcheck source=../lib/netns_lab.sh
source "$SRC/tests/lib/netns_lab.sh"
PREFIX="mpfull-$$"
FULL=$(mktemp -d /tmp/mp-evidence-full.XXXXXX)
cleanup() {
  mountpoint -q "$FULL" && umount "$FULL"
  rmdir "$FULL" 2>/dev/null || true
  lab_destroy
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount -t tmpfs -o size=256k,mode=0755 meshproof-evidence-test "$FULL" || skip "cannot mount a tmpfs here"
lab_create "$PREFIX"
NODE_NS="$PREFIX-node"
lab_add_pod client 10.244.8.10
lab_add_pod web 10.244.8.20
WORK="$LAB_DIR/work"
mkdir -p "$WORK/www"
chmod -R 755 "$LAB_DIR"
python3 -c 'import sys; sys.stdout.write("x" * 20000)' >"$WORK/www/page.txt"
chmod 644 "$WORK/www/page.txt"
lab_bg web python3 -m http.server 8080 --bind 10.244.8.20 --directory "$WORK/www"
lab_wait_listen web 8080

OUT="$WORK/capture.jsonl"
ERR="$WORK/capture.err"
EVIDENCE="$FULL/evidence.pcap"
ip netns exec "$NODE_NS" "$MESHPROOF" audit capture -i br0 -f tcp --json --write "$EVIDENCE" --duration 6s \
  >"$OUT" 2>"$ERR" &
CAP_PID=$!
LAB_PIDS+=("$CAP_PID")
for ((i = 0; i < 200; i++)); do
  grep -q 'capturing on' "$ERR" 2>/dev/null && break
  kill -0 "$CAP_PID" 2>/dev/null || { cat "$ERR" >&2; fail "audit capture exited early"; }
  sleep 0.05
done
for ((i = 0; i < 60; i++)); do
  lab_exec client curl -sS --max-time 5 -o /dev/null http://10.244.8.20:8080/page.txt || fail "request $i failed"
done
rc=0
wait "$CAP_PID" || rc=$?
log "exit $rc; stderr: $(grep -v 'capturing on' "$ERR" | tr '\n' ' ')"

[[ $rc == 1 ]] || { cat "$ERR" >&2; fail "exit $rc, expected 1 (evidence incomplete)"; }
python3 - "$OUT" <<'PY' || fail "the audit did not go on after the disk filled"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
summary = lines[-1]
assert summary["type"] == "summary", "last line is not the summary"
flows = [l for l in lines if l.get("type") == "flow"]
assert summary["flows"] == len(flows)
served = [f for f in flows if f.get("verdict") == "plaintext-served" and "8080" in json.dumps(f)]
assert len(served) == 60, f"{len(served)} plaintext-served flows to port 8080, want 60"
ev = summary["evidence"]
assert ev["not_written"] > 0 and "No space left on device" in ev["error"], ev
assert ev["packets"] > 0 and ev["path"].endswith(".pcap"), ev
PY
mapfile -t errs < <(grep -v 'capturing on' "$ERR" | grep .)
# One warning when the disk refuses (not only at the end of a long capture), one line with the counts.
[[ ${#errs[@]} == 2 ]] || fail "want two stderr lines after the start (warning, counts), got ${#errs[@]}: ${errs[*]}"
[[ ${errs[0]} == *"warning:"*"$EVIDENCE"*"No space left on device"*"the audit went on"* ]] ||
  fail "no immediate disk-full warning: ${errs[0]}"
line=${errs[1]}
[[ $line == *"$EVIDENCE"* && $line == *"No space left on device"* && $line == *"packets not written"* &&
   $line == *"the audit went on"* ]] || fail "unclear disk-full message: $line"
kept_said=$(sed -E 's/.*\(([0-9]+) packets kept, [0-9]+ packets not written\).*/\1/' <<<"$line")
not_written=$(sed -E 's/.*\([0-9]+ packets kept, ([0-9]+) packets not written\).*/\1/' <<<"$line")
[[ $not_written =~ ^[0-9]+$ && $not_written -gt 0 && $kept_said =~ ^[0-9]+$ ]] || fail "no counts of packets kept / not written: $line"

# What is left is a valid capture of the packets before the failure.
size=$(stat -c %s "$EVIDENCE")
((size > 24 && size <= 262144)) || fail "evidence file size $size"
rc=0
"$MESHPROOF" audit read --json "$EVIDENCE" >"$WORK/reread.jsonl" 2>"$WORK/reread.err" || rc=$?
[[ $rc == 0 && ! -s $WORK/reread.err ]] || fail "re-reading the evidence: exit $rc, $(cat "$WORK/reread.err")"
tcpdump -nr "$EVIDENCE" >/dev/null 2>"$WORK/tcpdump.err" || fail "tcpdump: $(cat "$WORK/tcpdump.err")"
grep -qi "truncated\|bogus\|error" "$WORK/tcpdump.err" && fail "tcpdump complains: $(cat "$WORK/tcpdump.err")"
kept=$(tcpdump -nr "$EVIDENCE" 2>/dev/null | wc -l)
[[ $kept == "$kept_said" ]] || fail "the file holds $kept packets, the message says $kept_said"
log "evidence: $size bytes, $kept packets kept, $not_written not written"
echo "evidence_disk_full: all checks passed"
