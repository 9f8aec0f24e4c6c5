#!/usr/bin/env bash
# `meshproof audit read` on good, damaged and hostile inputs: exit codes, one-line errors naming the
# file and packet/offset, valid JSON up to the damage, --fail-on, redaction of secrets.
set -uo pipefail
: "${MESHPROOF:?}" "${MESHPROOF_SOURCE_DIR:?}" "${MESHPROOF_SHARED_TESTDATA:?}"
pcaps="$MESHPROOF_SHARED_TESTDATA/pcaps"
own="$MESHPROOF_SOURCE_DIR/tests/captures/pcaps"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()   { pass=$((pass + 1)); echo "ok   $*"; }
bad()  { fail=$((fail + 1)); echo "FAIL $*"; }
expect_rc() {  # expect_rc WANT DESCRIPTION -- command...
  local want=$1 what=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [[ $rc == "$want" ]]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, want $want; stderr: $(head -c 300 "$tmp/err")"; fi
}
json_valid() {  # every stdout line parses; flow lines = summary.flows; prints flow count
  python3 - "$tmp/out" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
flows = [l for l in lines if l["type"] == "flow"]
summary = lines[-1]
assert summary["type"] == "summary", "last line is not the summary"
assert summary["flows"] == len(flows), (summary["flows"], len(flows))
assert sum(summary["verdicts"].values()) == len(flows)
for f in flows:
    for k in ("client", "server", "verdict", "protocol", "evidence", "packets", "bytes", "first_seen"):
        assert k in f, k
print(len(flows))
PY
}

# 1. A good capture: exit 0, valid JSON.
expect_rc 0 "good capture" -- "$MESHPROOF" audit read --json "$pcaps/client-certificate.pcap"
n=$(json_valid) && [[ $n == 1 ]] && ok "JSON lines valid, 1 flow" || bad "JSON invalid or wrong flow count ($n)"

# 2. Missing file and a file that is not a capture: exit 1, error names the file.
expect_rc 1 "missing file" -- "$MESHPROOF" audit read "$tmp/nope.pcap"
grep -q "nope.pcap" "$tmp/err" && ok "error names the missing file" || bad "error does not name the file: $(cat "$tmp/err")"
echo "this is not a capture" > "$tmp/text.pcap"
expect_rc 1 "not a capture" -- "$MESHPROOF" audit read "$tmp/text.pcap"
grep -q "text.pcap" "$tmp/err" && [[ $(wc -l < "$tmp/err") == 1 ]] && ok "one-line error for a non-capture" || bad "non-capture error: $(cat "$tmp/err")"

# 3. Truncated mid-packet: exit 4, the flow before the cut is still reported, error names packet and offset.
head -c 3000 "$pcaps/client-certificate.pcap" > "$tmp/cut.pcap"
expect_rc 4 "truncated capture" -- "$MESHPROOF" audit read --json "$tmp/cut.pcap"
n=$(json_valid) && [[ $n == 1 ]] && ok "flows before the cut reported as valid JSON" || bad "truncated: JSON/flows wrong ($n)"
grep -Eq "cut.pcap: packet [0-9]+ at byte offset [0-9]+" "$tmp/err" && ok "error names packet and byte offset" || bad "truncated error: $(cat "$tmp/err")"
# Every cut point of a small capture: never a crash (exit 0 or 4; never >= 128 = signal).
size=$(stat -c %s "$own/istio-mtls-tls12.pcap"); crashes=0
for ((cut = 0; cut < size; cut += 37)); do
  head -c "$cut" "$own/istio-mtls-tls12.pcap" > "$tmp/c.pcap"
  "$MESHPROOF" audit read --json "$tmp/c.pcap" > /dev/null 2>&1; rc=$?
  [[ $rc -ge 5 ]] && { crashes=$((crashes + 1)); echo "  cut at $cut: exit $rc"; }
done
[[ $crashes == 0 ]] && ok "every 37th cut point of a capture exits cleanly" || bad "$crashes cut points crashed"

# 4. Unsupported link type (USER0 = 147): exit 1, says which.
python3 - "$tmp/user0.pcap" <<'PY'
import struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 147))
    f.write(struct.pack("<IIII", 1, 0, 4, 4) + b"abcd")
PY
expect_rc 1 "unsupported link type" -- "$MESHPROOF" audit read "$tmp/user0.pcap"
grep -qi "unsupported link type" "$tmp/err" && ok "says the link type is unsupported" || bad "link type error: $(cat "$tmp/err")"

# 5. Empty capture: exit 0, no flows.
expect_rc 0 "empty capture" -- "$MESHPROOF" audit read --json "$pcaps/empty.pcap"
n=$(json_valid) && [[ $n == 0 ]] && ok "empty capture: 0 flows" || bad "empty capture: $n flows"

# 6. --fail-on: exit 3 when a flow has the verdict, 0 when none has.
expect_rc 3 "--fail-on plaintext-served matches" -- "$MESHPROOF" audit read --fail-on plaintext-served,plaintext-rejected "$own/http-plaintext-secrets.pcap"
expect_rc 0 "--fail-on plaintext-served on mTLS only" -- "$MESHPROOF" audit read --fail-on plaintext-served "$own/istio-mtls-tls13.pcap"
expect_rc 2 "--fail-on with an unknown verdict is a usage error" -- "$MESHPROOF" audit read --fail-on bogus "$own/istio-mtls-tls13.pcap"

# 7. Secrets: redacted in table and JSON, shown only with --show-secrets.
for fmt in "" "--json"; do
  "$MESHPROOF" audit read $fmt "$own/http-plaintext-secrets.pcap" "$own/redis-auth.pcap" > "$tmp/out" 2>&1
  if grep -q -e "Hunter2-Secret" -e "Redis-S3cret-Pass" -e "YWRtaW46QWRtMW4tUGFzc3cwcmQ" "$tmp/out"; then bad "secret leaked in output ${fmt:-table}"; else ok "secrets redacted (${fmt:-table})"; fi
done
"$MESHPROOF" audit read --json --show-secrets "$own/http-plaintext-secrets.pcap" > "$tmp/out"
grep -q "Hunter2-Secret" "$tmp/out" && ok "--show-secrets shows the secret" || bad "--show-secrets did not show the secret"

# 8. Several files and a directory; a pcapng with mixed link types reads to the end.
expect_rc 0 "directory of captures" -- "$MESHPROOF" audit read --json "$own"
n=$(json_valid) && [[ $n -ge 16 ]] && ok "directory: $n flows" || bad "directory: $n flows"
expect_rc 0 "pcapng with 11 interfaces and mixed link types" -- "$MESHPROOF" audit read --json "$pcaps/many_interfaces-1.pcapng"
n=$(json_valid) && [[ $n == 2 ]] && ok "mixed link types: 2 flows" || bad "mixed link types: $n flows"

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
