#!/usr/bin/env bash
# Planted secrets never leave meshproof in the clear unless asked: the passwords, the Basic credentials
# and the Redis AUTH of two real plaintext captures (tests/captures) are grepped for in every artefact
# `audit read` makes (table with -v, JSON lines, stderr, Prometheus textfile, the signed bundle's
# members and manifest, policy findings), then `--show-secrets` must show them (so the grep can fail).
# The bundle's captures/*.pcap are the raw wire bytes and hold them by nature: they are the evidence.
set -uo pipefail
: "${MESHPROOF:?}" "${MESHPROOF_SOURCE_DIR:?}"
own="$MESHPROOF_SOURCE_DIR/tests/captures/pcaps"
snapshot="$MESHPROOF_SOURCE_DIR/tests/data/k8s/netns-lab-snapshot.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }
inputs=("$own/http-plaintext-secrets.pcap" "$own/redis-auth.pcap")
# What curl and redis-cli sent when tests/captures/make_captures.sh recorded them.
secrets=(Adm1n-Passw0rd "$(printf 'admin:Adm1n-Passw0rd' | base64)" Hunter2-Secret Redis-S3cret-Pass)

printf 'version: 1\n' >policy.yaml
"$MESHPROOF" keygen --out keys >/dev/null 2>&1 || fail "keygen"
run() {  # run NAME ARGS...: stdout to NAME.out, stderr to NAME.err; exit status 0 or 5 expected
  local name=$1 rc=0
  shift
  "$MESHPROOF" audit read "$@" "${inputs[@]}" >"$name.out" 2>"$name.err" || rc=$?
  [[ $rc == 0 || $rc == 5 ]] || fail "audit read $* exited $rc: $(head -c 300 "$name.err")"
}
run table --color never -v
run json --json
run metrics --json --metrics-file metrics.prom
run compliance --json --k8s-snapshot "$snapshot" --policy policy.yaml --bundle bundle.tar.gz --key keys/meshproof-signing.key
run compliance-table --color never -v --k8s-snapshot "$snapshot" --policy policy.yaml
mkdir bundle && tar -xzf bundle.tar.gz -C bundle || fail "bundle does not unpack"

# The detections are there (redacted), or the greps below prove nothing.
kinds=$(python3 -c '
import json, sys
flows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join(sorted({s["kind"] for f in flows if f.get("type") == "flow" for s in f["secrets"]})))' json.out)
for k in authorization password redis-auth; do
  [[ " $kinds " == *" $k "* ]] || fail "secret kind $k not detected (got: $kinds)"
done
[[ -s metrics.prom ]] || fail "no metrics file"
grep -q 'meshproof_plaintext_secrets_total' metrics.prom || fail "no secrets metric"

artefacts=(*.out *.err metrics.prom)
while IFS= read -r f; do artefacts+=("$f"); done < <(find bundle -type f ! -path 'bundle/captures/*')
[[ ${#artefacts[@]} -ge 12 ]] || fail "only ${#artefacts[@]} artefacts: ${artefacts[*]}"
for s in "${secrets[@]}"; do
  if hits=$(grep -l -F -- "$s" "${artefacts[@]}"); then fail "secret ${s:0:4}... in clear in: $hits"; fi
done
echo "ok   ${#secrets[@]} planted secrets absent from ${#artefacts[@]} artefacts (table, JSON, stderr, metrics, bundle manifest and members)"

# --show-secrets shows them: the check above can fail.
run shown --json --show-secrets
for s in "${secrets[@]:1}"; do  # the Basic password is on the wire only in base64
  grep -q -F -- "$s" shown.out || fail "--show-secrets: ${s:0:4}... not printed"
done
echo "ok   --show-secrets prints them"
