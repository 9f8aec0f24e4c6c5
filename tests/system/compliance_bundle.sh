#!/usr/bin/env bash
# Signed evidence bundles end to end: keygen file modes, `audit read --bundle`, `verify` (text, JSON,
# --pub), an independent check with `openssl pkeyutl`, readable by tar/Python, and tampering with each
# member in turn (repacked by Python's tarfile) fails naming that member.
set -uo pipefail
: "${MESHPROOF:?}" "${MESHPROOF_SOURCE_DIR:?}"
own="$MESHPROOF_SOURCE_DIR/tests/captures/pcaps"
snapshot="$MESHPROOF_SOURCE_DIR/tests/data/k8s/netns-lab-snapshot.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
expect_rc() {  # expect_rc WANT DESCRIPTION -- command...
  local want=$1 what=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [[ $rc == "$want" ]]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, want $want; stderr: $(head -c 400 "$tmp/err")"; fi
}
mode() { stat -c %a "$1"; }

# 1. keygen: 0600 private, 0644 public, PEM; never overwrites without --force.
expect_rc 0 "keygen" -- "$MESHPROOF" keygen --out keys
[[ $(mode keys/meshproof-signing.key) == 600 ]] && ok "private key mode 0600" || bad "private key mode $(mode keys/meshproof-signing.key)"
[[ $(mode keys/meshproof-signing.pub) == 644 ]] && ok "public key mode 0644" || bad "public key mode $(mode keys/meshproof-signing.pub)"
openssl pkey -in keys/meshproof-signing.key -noout -text 2>/dev/null | grep "ED25519" >/dev/null && ok "private key is Ed25519 PEM" || bad "openssl cannot read the private key as Ed25519"
fingerprint=$(awk '/fingerprint:/ {print $2}' "$tmp/out")
expect_rc 1 "keygen refuses to overwrite" -- "$MESHPROOF" keygen --out keys
grep -q "already exists" "$tmp/err" && ok "says the key exists" || bad "no 'already exists': $(cat "$tmp/err")"
expect_rc 0 "keygen --force into another dir" -- "$MESHPROOF" keygen --out other-keys
expect_rc 2 "keygen without --out" -- "$MESHPROOF" keygen

# 2. audit read --bundle: exit code of the audit, bundle mode 0640, members listed by tar.
expect_rc 0 "audit read --bundle" -- "$MESHPROOF" audit read --json --k8s-snapshot "$snapshot" \
  --bundle evidence.tar.gz --key keys/meshproof-signing.key "$own/redis-auth.pcap" "$own/istio-mtls-tls12.pcap"
grep -q "evidence bundle evidence.tar.gz" "$tmp/err" && ok "says where the bundle is" || bad "no bundle line on stderr: $(cat "$tmp/err")"
[[ $(mode evidence.tar.gz) == 640 ]] && ok "bundle mode 0640" || bad "bundle mode $(mode evidence.tar.gz)"
members=$(tar -tzf evidence.tar.gz | tr '\n' ' ')
[[ $members == "verdicts.jsonl captures/redis-auth.pcap captures/istio-mtls-tls12.pcap cluster-snapshot.json version.json manifest.json manifest.sig signer.pub " ]] \
  && ok "GNU tar lists the members" || bad "members: $members"
mkdir x && tar -xzf evidence.tar.gz -C x
cmp -s x/captures/redis-auth.pcap "$own/redis-auth.pcap" && ok "the capture is in the bundle unchanged" || bad "capture differs"
cmp -s x/cluster-snapshot.json "$snapshot" && ok "the snapshot is in the bundle unchanged" || bad "snapshot differs"
grep -q '"src_workload":{"kind":"pod","namespace":"demo"' x/verdicts.jsonl && ok "bundled verdicts carry workloads" || bad "no workloads in verdicts.jsonl"
grep -q 'Redi… (len' x/verdicts.jsonl && ! grep -q 'AUTH.*hunter' x/verdicts.jsonl && ok "secrets redacted in the bundle" || bad "secret not redacted"
python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["tool"]=="meshproof" and v["flows"]==2 and "audit" in v["command"], v' x/version.json \
  && ok "version.json" || bad "version.json: $(cat x/version.json)"
( cd x && sha256sum captures/redis-auth.pcap | awk '{print $1}' ) > sum
grep -q "$(cat sum)" x/manifest.json && ok "manifest holds the capture's SHA-256" || bad "capture hash not in manifest"

# 3. Independent check of the signature with OpenSSL.
openssl pkeyutl -verify -pubin -inkey keys/meshproof-signing.pub -rawin -in x/manifest.json -sigfile x/manifest.sig >/dev/null 2>&1 \
  && ok "openssl pkeyutl verifies manifest.sig" || bad "openssl does not verify manifest.sig"

# 4. verify: embedded key, --pub, --json, wrong key.
expect_rc 0 "verify" -- "$MESHPROOF" verify evidence.tar.gz
grep -q "^OK: signature valid, 5 members intact" "$tmp/out" && ok "verify says OK" || bad "verify output: $(cat "$tmp/out")"
grep -q "integrity, not who signed" "$tmp/out" && ok "without --pub it says integrity only" || bad "no integrity-only note"
expect_rc 0 "verify --pub" -- "$MESHPROOF" verify evidence.tar.gz --pub keys/meshproof-signing.pub
grep -q "$fingerprint (matches --pub)" "$tmp/out" && ok "verify --pub names the key" || bad "verify --pub output: $(cat "$tmp/out")"
expect_rc 0 "verify --json" -- "$MESHPROOF" verify --json evidence.tar.gz --pub keys/meshproof-signing.pub
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] and r["authenticated"] and len(r["members"])==5 and r["problems"]==[], r' "$tmp/out" \
  && ok "verify --json" || bad "verify --json: $(cat "$tmp/out")"
expect_rc 1 "verify with another signer's key" -- "$MESHPROOF" verify evidence.tar.gz --pub other-keys/meshproof-signing.pub
grep -q "signature does not verify" "$tmp/err" && ok "says the signature does not verify" || bad "stderr: $(cat "$tmp/err")"
expect_rc 2 "verify without a bundle" -- "$MESHPROOF" verify

# 5. Tampering: flip one byte of each member in turn, repack with Python's tarfile, verify must fail
#    and name the member.
python3 - evidence.tar.gz <<'PY' > tamper.list
import io, sys, tarfile
src = sys.argv[1]
with tarfile.open(src, "r:gz") as t:
    members = [(m, t.extractfile(m).read()) for m in t.getmembers()]
for i, (m, data) in enumerate(members):
    for where in (0, len(data) // 2, len(data) - 1):
        out = "tampered-%d-%d.tar.gz" % (i, where)
        with tarfile.open(out, "w:gz", format=tarfile.USTAR_FORMAT) as t:
            for j, (mm, dd) in enumerate(members):
                if j == i:
                    b = bytearray(dd); b[where] ^= 0x01; dd = bytes(b)
                info = tarfile.TarInfo(mm.name); info.size = len(dd); info.mode = 0o640; info.mtime = mm.mtime
                t.addfile(info, io.BytesIO(dd))
        print(out, m.name)
PY
n=0
while read -r file member; do
  n=$((n + 1))
  for pub in "" "--pub keys/meshproof-signing.pub"; do
    # shellcheck disable=SC2086
    "$MESHPROOF" verify "$file" $pub >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [[ $rc == 1 ]] && grep -qF "$member" "$tmp/err"; then ok "tampered $member ($file${pub:+, --pub}) fails naming it"
    else bad "tampered $member ($file${pub:+, --pub}): exit $rc, stderr: $(head -c 300 "$tmp/err")"; fi
  done
done < tamper.list
[[ $n == 24 ]] && ok "24 tampered bundles (8 members x 3 positions)" || bad "only $n tampered bundles"

# A byte flipped in the compressed file itself.
python3 - evidence.tar.gz <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[len(d) // 2] ^= 0x20
open("flipped.tar.gz", "wb").write(d)
PY
expect_rc 1 "a flipped byte in the compressed stream" -- "$MESHPROOF" verify flipped.tar.gz

# A member added by hand, and one removed.
python3 - evidence.tar.gz <<'PY'
import io, tarfile, sys
with tarfile.open(sys.argv[1], "r:gz") as t:
    members = [(m, t.extractfile(m).read()) for m in t.getmembers()]
def write(name, items):
    with tarfile.open(name, "w:gz", format=tarfile.USTAR_FORMAT) as t:
        for m, d in items:
            info = tarfile.TarInfo(m.name); info.size = len(d); info.mode = 0o640
            t.addfile(info, io.BytesIO(d))
extra = tarfile.TarInfo("captures/planted.pcap")
write("added.tar.gz", members[:1] + [(extra, b"planted")] + members[1:])
write("removed.tar.gz", [x for x in members if x[0].name != "captures/istio-mtls-tls12.pcap"])
PY
expect_rc 1 "a member added" -- "$MESHPROOF" verify added.tar.gz
grep -q "captures/planted.pcap: not listed in manifest.json" "$tmp/err" && ok "names the planted member" || bad "stderr: $(cat "$tmp/err")"
expect_rc 1 "a member removed" -- "$MESHPROOF" verify removed.tar.gz
grep -q "captures/istio-mtls-tls12.pcap: listed in manifest.json but missing" "$tmp/err" && ok "names the missing member" || bad "stderr: $(cat "$tmp/err")"

# 6. Keys: refused when readable by others, required, from the environment; plain .tar output.
cp keys/meshproof-signing.key loose.key && chmod 644 loose.key
expect_rc 1 "a world-readable private key" -- "$MESHPROOF" audit read --bundle b.tar.gz --key loose.key "$own/redis-auth.pcap"
grep -q "chmod 600" "$tmp/err" && ok "says chmod 600" || bad "stderr: $(cat "$tmp/err")"
[[ ! -e b.tar.gz ]] && ok "no bundle written" || bad "bundle written anyway"
expect_rc 2 "--bundle without a key" -- env -u MESHPROOF_SIGNING_KEY "$MESHPROOF" audit read --bundle b.tar.gz "$own/redis-auth.pcap"
expect_rc 2 "--key without --bundle" -- "$MESHPROOF" audit read --key keys/meshproof-signing.key "$own/redis-auth.pcap"
expect_rc 1 "--bundle into a missing directory" -- "$MESHPROOF" audit read --bundle nodir/b.tar.gz --key keys/meshproof-signing.key "$own/redis-auth.pcap"
expect_rc 0 "key from MESHPROOF_SIGNING_KEY, plain .tar" -- env MESHPROOF_SIGNING_KEY=keys/meshproof-signing.key \
  "$MESHPROOF" audit read --bundle plain.tar "$own/redis-auth.pcap"
[[ $(head -c 2 plain.tar | od -An -tx1 | tr -d ' ') != 1f8b ]] && tar -tf plain.tar >/dev/null && ok "plain .tar is an uncompressed tar" || bad "plain.tar is not a plain tar"
expect_rc 0 "verify a plain .tar" -- "$MESHPROOF" verify plain.tar --pub keys/meshproof-signing.pub

echo "compliance_bundle: $pass passed, $fail failed"
[[ $fail == 0 ]]
