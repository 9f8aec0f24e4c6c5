#!/usr/bin/env bash
# Kubernetes enrichment and policy versus wire, end to end on the own captures: workloads in the JSON
# lines, findings and exit status 5, policy validation errors with file:line:col, the snapshot from a
# file or from kubectl (a fake one on PATH, through the provisioner's process runner).
set -uo pipefail
: "${MESHPROOF:?}" "${MESHPROOF_SOURCE_DIR:?}"
own="$MESHPROOF_SOURCE_DIR/tests/captures/pcaps"
data="$MESHPROOF_SOURCE_DIR/tests/data/k8s"
snapshot="$data/netns-lab-snapshot.json"
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
printf 'version: 1\n' > minimal.yaml

# 1. Enrichment: every flow line gets src_workload/dst_workload.
expect_rc 0 "audit read --json --k8s-snapshot" -- "$MESHPROOF" audit read --json --k8s-snapshot "$snapshot" "$own"
python3 - "$tmp/out" <<'PY' && ok "workloads on every flow line" || bad "workloads wrong"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
flows = [l for l in lines if l["type"] == "flow"]
assert lines[-1]["type"] == "summary" and len(flows) == lines[-1]["flows"] == 17
for f in flows:
    assert "src_workload" in f and "dst_workload" in f, f
redis = [f for f in flows if f["server"].endswith(":6379")][0]
assert redis["src_workload"]["namespace"] == "demo" and redis["src_workload"]["workload"] == "client", redis["src_workload"]
assert redis["src_workload"]["service_account"] == "client" and redis["src_workload"]["sidecar_injected"] is True
d = redis["dst_workload"]
assert (d["kind"], d["pod"], d["service"], d["node"]) == ("pod", "server-7c9d8f6b5-m3n7r", "server", "node-2"), d
legacy = [f for f in flows if f["client"].startswith("10.244.1.21:")]
assert legacy and all(f["src_workload"]["namespace"] == "legacy" and not f["src_workload"]["sidecar_injected"] for f in legacy)
vx = [f for f in flows if f["client"].startswith("10.244.3.20:")][0]
assert vx["src_workload"] is None and vx["dst_workload"] is None
PY

# 2. Findings with the built-in rules: exit 5, JSON finding lines after the summary.
expect_rc 5 "--policy: violations exit 5" -- "$MESHPROOF" audit read --json --k8s-snapshot "$snapshot" --policy minimal.yaml "$own"
python3 - "$tmp/out" <<'PY' && ok "findings as JSON lines" || bad "findings JSON wrong"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
findings = [l for l in lines if l["type"] == "finding"]
summary = lines[-1]
assert summary["type"] == "policy_summary" and summary["violations"] is True, summary
by = {}
for f in findings:
    by.setdefault(f["rule"], []).append(f)
assert {f["flow"]["server"].split(":")[1] for f in by["strict-plaintext-served"]} == {"8000"}, by["strict-plaintext-served"]
assert by["strict-plaintext-served"][0]["declared_mtls"] == {"mode": "STRICT", "level": "mesh", "policy": "istio-system/default"}
assert by["permissive-plaintext"][0]["declared_mtls"]["policy"] == "demo/server-redis port 6379"
assert by["legacy-client-refused"][0]["flow"]["verdict"] == "plaintext-rejected"
assert len(by["meshed-not-istio-mtls"]) == 8, len(by["meshed-not-istio-mtls"])
assert summary["findings"] == {"violation": 9, "warning": 1, "info": 1}, summary
assert all(f["src_workload"] is not None for f in findings)
PY
expect_rc 5 "--policy text report" -- "$MESHPROOF" audit read --color never --k8s-snapshot "$snapshot" --policy minimal.yaml "$own/http-plaintext-secrets.pcap"
grep -q "^policy: 2 violations, 0 warnings, 0 info (1 flows checked, 1 matched to workloads)" "$tmp/out" && ok "policy summary line" || bad "no summary line: $(grep policy: "$tmp/out")"
grep -q "^VIOLATION strict-plaintext-served  demo/client (sidecar) -> demo/server (sidecar) port 8000  plaintext-served" "$tmp/out" \
  && ok "violation line names the workloads" || bad "violation line: $(grep VIOLATION "$tmp/out")"
grep -q "2 secrets seen in clear" "$tmp/out" && ok "finding mentions the secrets" || bad "no secrets note"

# 3. A policy that waives and softens: exit 0.
cat > lenient.yaml <<'Y'
version: 1
exceptions:
  - name: lab-server
    toNamespaces: [demo]
    rules: [meshed-not-istio-mtls]
severities:
  strict-plaintext-served: warning
Y
expect_rc 0 "--policy lenient: no violations" -- "$MESHPROOF" audit read --json --k8s-snapshot "$snapshot" --policy lenient.yaml "$own"
tail -1 "$tmp/out" | grep '"waived":{"lab-server":8},"violations":false' >/dev/null && ok "waived findings counted" || bad "summary: $(tail -1 "$tmp/out")"

# 4. --fail-on still wins (3); no flows matched: 0.
expect_rc 3 "--fail-on with violations" -- "$MESHPROOF" audit read --fail-on plaintext-served --k8s-snapshot "$snapshot" --policy minimal.yaml "$own"
expect_rc 0 "no findings" -- "$MESHPROOF" audit read --k8s-snapshot "$snapshot" --policy minimal.yaml "$own/istio-mtls-tls13.pcap"

# 5. Bad inputs: policy errors with file:line:col, snapshot errors, usage errors.
cat > bad.yaml <<'Y'
version: 1
requirements:
  - namespaces: [demo]
    require: ssl
    sevrity: violation
Y
expect_rc 1 "invalid policy" -- "$MESHPROOF" audit read --k8s-snapshot "$snapshot" --policy bad.yaml "$own/syn-only.pcap"
grep -q "bad.yaml:4:14: requirements\[0\].require: 'ssl' is not one of" "$tmp/err" && grep -q "bad.yaml:5:5: requirements\[0\]: unknown key 'sevrity'" "$tmp/err" \
  && ok "every policy error with file:line:col" || bad "policy errors: $(cat "$tmp/err")"
[[ ! -s "$tmp/out" ]] && ok "nothing audited with a bad policy" || bad "audited anyway"
printf '{"kind": "List",\n "items": [1, 2}\n' > broken.json
expect_rc 1 "broken snapshot" -- "$MESHPROOF" audit read --k8s-snapshot broken.json "$own/syn-only.pcap"
grep -q "broken.json:2:" "$tmp/err" && ok "snapshot error names file and line" || bad "stderr: $(cat "$tmp/err")"
expect_rc 1 "missing snapshot" -- "$MESHPROOF" audit read --k8s-snapshot nope.json "$own/syn-only.pcap"
expect_rc 2 "--policy without a snapshot" -- "$MESHPROOF" audit read --policy minimal.yaml "$own/syn-only.pcap"
expect_rc 2 "--k8s and --k8s-snapshot" -- "$MESHPROOF" audit read --k8s --k8s-snapshot "$snapshot" "$own/syn-only.pcap"
expect_rc 2 "--kube-context without --k8s" -- "$MESHPROOF" audit read --kube-context lab "$own/syn-only.pcap"

# 6. The shipped policy of manifests/audit validates against the homelab snapshot.
expect_rc 0 "manifests/audit/audit-policy.yaml is valid" -- "$MESHPROOF" audit read \
  --k8s-snapshot "$data/homelab-snapshot.json" --policy "$MESHPROOF_SOURCE_DIR/manifests/audit/audit-policy.yaml" "$own/syn-only.pcap"

# 7. Live: --k8s runs kubectl (a fake on PATH) through the provisioner's runner.
mkdir bin
cat > bin/kubectl <<SH
#!/bin/sh
echo "\$@" >> "$tmp/kubectl.calls"
case "\${FAKE_MODE:-ok}" in
  ok) cat "$snapshot" ;;
  nocrd) case "\$*" in *peerauthentications*) echo 'error: the server doesn'"'"'t have a resource type "peerauthentications"' >&2; exit 1 ;; esac
         cat "$snapshot" ;;
  denied) echo 'error: You must be logged in to the server (Unauthorized)' >&2; exit 1 ;;
esac
SH
chmod +x bin/kubectl
expect_rc 5 "--k8s --policy" -- env PATH="$tmp/bin:$PATH" "$MESHPROOF" audit read --json --k8s --kube-context lab --policy minimal.yaml "$own"
tail -1 "$tmp/out" | grep '"findings":{"violation":9,"warning":1,"info":1}' >/dev/null && ok "live snapshot gives the same findings" || bad "summary: $(tail -1 "$tmp/out")"
grep -q -- "--context lab get pods,services,namespaces,nodes,peerauthentications.security.istio.io --all-namespaces -o json" kubectl.calls \
  && ok "kubectl called with the context" || bad "kubectl calls: $(cat kubectl.calls)"
expect_rc 0 "--k8s without the Istio CRD" -- env FAKE_MODE=nocrd PATH="$tmp/bin:$PATH" "$MESHPROOF" audit read --k8s "$own/syn-only.pcap"
grep -q "no PeerAuthentication CRD" "$tmp/err" && ok "warns that Istio is missing" || bad "stderr: $(cat "$tmp/err")"
expect_rc 1 "--k8s denied" -- env FAKE_MODE=denied PATH="$tmp/bin:$PATH" "$MESHPROOF" audit read --k8s "$own/syn-only.pcap"
grep -q "Unauthorized" "$tmp/err" && ok "kubectl's error is shown" || bad "stderr: $(cat "$tmp/err")"

# --json with a policy streams (flows as they end, findings after the summary); with --bundle it keeps
# the records and sorts them. Same flow lines, same findings, and each finding's flow index names its
# own flow line in both.
"$MESHPROOF" keygen --out stream-keys >/dev/null 2>&1
expect_rc 5 "--json --policy, streamed" -- "$MESHPROOF" audit read --json --k8s-snapshot "$snapshot" --policy minimal.yaml "$own"
cp "$tmp/out" streamed.jsonl
expect_rc 5 "--json --policy --bundle, sorted" -- "$MESHPROOF" audit read --json --k8s-snapshot "$snapshot" --policy minimal.yaml \
  --bundle stream-check.tar.gz --key stream-keys/meshproof-signing.key "$own"
cp "$tmp/out" sorted.jsonl
python3 - streamed.jsonl sorted.jsonl <<'PY' && ok "streamed and sorted policy runs agree, finding indexes name their flows" || bad "streamed and sorted policy runs differ"
import json, sys
def load(path):
    lines = [json.loads(l) for l in open(path) if l.strip()]
    flows = [l for l in lines if l["type"] == "flow"]
    findings = [l for l in lines if l["type"] == "finding"]
    assert [l["type"] for l in lines][len(flows)] == "summary" and lines[-1]["type"] == "policy_summary"
    for f in findings:
        assert flows[f["flow"]["index"]]["client"] == f["flow"]["client"], f
    return (sorted(json.dumps(f, sort_keys=True) for f in flows),
            sorted(json.dumps({k: v for k, v in f.items() if k != "flow"}, sort_keys=True) for f in findings))
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a == b and a[1], "differ or no findings"
PY

echo "compliance_policy: $pass passed, $fail failed"
[[ $fail == 0 ]]
