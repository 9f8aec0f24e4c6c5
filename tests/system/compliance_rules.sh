#!/usr/bin/env bash
# manifests/audit: the Prometheus alert rules pass `promtool check rules` and fire as intended
# (`promtool test rules`), every PromQL expression of the Grafana dashboard parses, the dashboard is
# valid JSON, and the Kubernetes manifests keep their security properties (host network, only
# NET_RAW/NET_ADMIN, read-only root filesystem, limits, tolerations, scrape annotations, read-only RBAC).
# Needs promtool (Debian package prometheus): exit 77 without it.
set -uo pipefail
: "${MESHPROOF_SOURCE_DIR:?}"
dir="$MESHPROOF_SOURCE_DIR/manifests/audit"
tests="$MESHPROOF_SOURCE_DIR/tests/data/k8s"
if ! command -v promtool >/dev/null 2>&1; then
  echo "skipped: promtool not installed (apt-get install prometheus)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# 1. Alert rules.
if promtool check rules "$dir/prometheus-rules.yaml" >"$tmp/out" 2>&1; then ok "promtool check rules ($(grep -o '[0-9]* rules found' "$tmp/out"))"
else bad "promtool check rules: $(cat "$tmp/out")"; fi
if (cd "$tests" && promtool test rules prometheus-rules-test.yaml) >"$tmp/out" 2>&1; then ok "promtool test rules"
else bad "promtool test rules: $(cat "$tmp/out")"; fi
for alert in MeshproofPlaintextBetweenMeshedWorkloads MeshproofStrictMtlsViolated MeshproofAuditorDroppingPackets MeshproofAuditStale; do
  grep -q "alert: $alert\$" "$dir/prometheus-rules.yaml" && ok "alert $alert exists" || bad "alert $alert missing"
done

# 2. Grafana dashboard: valid JSON; every target's PromQL parses (checked as recording rules).
if python3 -m json.tool "$dir/grafana-dashboard.json" >/dev/null 2>"$tmp/err"; then ok "dashboard is valid JSON"
else bad "dashboard JSON: $(cat "$tmp/err")"; fi
python3 - "$dir/grafana-dashboard.json" "$tmp/dashboard-rules.yaml" <<'PY' && ok "dashboard structure" || bad "dashboard structure"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["uid"] == "meshproof-audit" and d["title"] and d["schemaVersion"] >= 30
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "duplicate panel ids"
exprs = []
for p in d["panels"]:
    for t in p.get("targets", []):
        # Grafana's variables, replaced by values Prometheus accepts.
        e = t["expr"].replace("$__rate_interval", "5m").replace("$__range", "1h").replace("$instance", ".*")
        exprs.append(e)
assert len(exprs) >= 10, len(exprs)
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        f.write("      - record: dashboard:expr_%d\n        expr: %s\n" % (i, json.dumps(e)))
PY
if promtool check rules "$tmp/dashboard-rules.yaml" >"$tmp/out" 2>&1; then ok "every dashboard query parses ($(grep -o '[0-9]* rules found' "$tmp/out"))"
else bad "dashboard PromQL: $(cat "$tmp/out")"; fi

# 3. Kubernetes manifests (structure checks need PyYAML: Debian's python3-yaml).
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "note: python3 has no yaml module; manifest structure checks skipped"
else
python3 - "$dir" <<'PY' >"$tmp/out" 2>&1 && ok "manifests keep their security properties" || bad "manifests: $(cat "$tmp/out")"
import sys, yaml, os
d = sys.argv[1]
def load(name):
    return [x for x in yaml.safe_load_all(open(os.path.join(d, name))) if x]
ds = load("daemonset.yaml")[0]
assert ds["kind"] == "DaemonSet"
pod = ds["spec"]["template"]
spec = pod["spec"]
assert spec["hostNetwork"] is True and spec["dnsPolicy"] == "ClusterFirstWithHostNet"
ann = pod["metadata"]["annotations"]
assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "9464" and ann["prometheus.io/path"] == "/metrics"
assert any(t.get("operator") == "Exists" for t in spec["tolerations"])
c = spec["containers"][0]
assert c["args"][:2] == ["audit", "serve"] and "--listen=0.0.0.0:9464" in c["args"]
sc = c["securityContext"]
assert sc["capabilities"]["drop"] == ["ALL"] and sorted(sc["capabilities"]["add"]) == ["NET_ADMIN", "NET_RAW"]
assert sc["readOnlyRootFilesystem"] is True and sc["privileged"] is False
# Non-root (65534) with file capabilities: escalation must stay allowed for exec to grant them
# (no_new_privs would ignore them); meshproof sets no_new_privs itself after activation.
assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 65534, sc
assert c["resources"]["limits"]["memory"] and c["resources"]["limits"]["cpu"] and c["resources"]["requests"]
cj = [x for x in load("cronjob.yaml") if x["kind"] == "CronJob"][0]
job = cj["spec"]["jobTemplate"]["spec"]
jc = job["template"]["spec"]["containers"][0]
# Pushes only when PUSHGATEWAY is set (the lab spec's auditor.pushgateway may be empty).
assert 'if [ -n "$PUSHGATEWAY" ]' in jc["args"][0] and "--push=$PUSHGATEWAY" in jc["args"][0]
assert "audit capture" in jc["args"][0] and "--bundle=" in jc["args"][0]
assert jc["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_RAW", "NET_ADMIN"]}
assert jc["securityContext"]["readOnlyRootFilesystem"] is True
assert job["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [5]
vols = {v["name"]: v for v in job["template"]["spec"]["volumes"]}
assert vols["signing-key"]["secret"]["defaultMode"] == 0o400
rbac = load("rbac.yaml")
role = [x for x in rbac if x["kind"] == "ClusterRole"][0]
verbs = {v for r in role["rules"] for v in r["verbs"]}
assert verbs == {"get", "list"}, verbs
res = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
assert {("", "pods"), ("", "services"), ("security.istio.io", "peerauthentications")} <= res
assert not any(r == "secrets" for _, r in res)
kust = load("kustomization.yaml")[0]
for f in kust["resources"]:
    assert os.path.exists(os.path.join(d, f)), f
PY
fi
if command -v kubectl >/dev/null 2>&1 && timeout 60 kubectl kustomize "$dir" >"$tmp/kust.yaml" 2>"$tmp/err"; then
  n=$(grep -c '^kind:' "$tmp/kust.yaml")
  [[ $n == 10 ]] && ok "kubectl kustomize renders 10 objects" || bad "kustomize rendered $n objects"
else
  echo "note: kubectl kustomize not available or failed ($(head -c 200 "$tmp/err" 2>/dev/null)); skipped that check"
fi
grep -q '^FROM ${KUBECTL_IMAGE} AS kubectl' "$dir/Dockerfile" && grep -q 'debian:12' "$dir/Dockerfile" && ok "Dockerfile: kubectl stage, Debian 12" || bad "Dockerfile"

echo "compliance_rules: $pass passed, $fail failed"
[[ $fail == 0 ]]
