#!/usr/bin/env bash
# compliance_capture: the compliance flags on live capture, end to end, with real traffic between
# network namespaces laid out as tests/data/k8s/netns-lab-snapshot.json says (demo/client
# 10.244.1.20 and demo/server 10.244.2.30, both with a sidecar; mesh-wide STRICT):
#   1. `audit capture --k8s-snapshot S --policy P`: plaintext HTTP to the server exits 5
#      (strict-plaintext-served + meshed-not-istio-mtls), Istio-like mTLS 1.3 exits 0;
#      flows carry src_workload/dst_workload, findings follow the summary.
#   2. `--bundle` without --write, dropping to nobody: the bundle passes `meshproof verify --pub`,
#      holds the evidence pcap (re-read by `audit read`: the same flow), findings and snapshot, and
#      the temporary evidence directory is gone.
#   3. The CronJob's command line, taken from manifests/audit/cronjob.yaml and run by sh with only
#      paths, the duration and the interface swapped (kubectl is a fake that prints the snapshot, and
#      a real Pushgateway receives the findings when prometheus-pushgateway is installed).
#   4. `audit serve --k8s --policy`: findings and namespaced flows on /metrics, scraped by a real
#      Prometheus (when installed) and queried by namespace; `--bundle` refused (exit 2);
#      `--k8s-refresh 10` fetches the snapshot again in the background.
# Exit 77 (skip) when not root or a tool is missing.
set -euo pipefail

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[compliance_capture] $*" >&2; }

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
for tool in ip ss openssl curl python3 tar; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (Debian: scripts/setup.sh --deps)"
done
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml not installed"
[[ -n ${MESHPROOF:-} && -x $MESHPROOF ]] || fail "MESHPROOF must name the meshproof binary"
SRC=${MESHPROOF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
getent passwd nobody >/dev/null || skip "no 'nobody' user"
SNAPSHOT="$SRC/tests/data/k8s/netns-lab-snapshot.json"

# shellcheck source=../lib/netns_lab.sh
source "$SRC/tests/lib/netns_lab.sh"
PREFIX="mpcc-$$"
lab_install_traps
lab_create "$PREFIX"
NODE_NS="$PREFIX-node"
lab_add_pod client 10.244.1.20
lab_add_pod server 10.244.2.30
WORK="$LAB_DIR/work"
mkdir -p "$WORK"
chmod 755 "$LAB_DIR"
chmod 777 "$WORK"  # captures drop to nobody and write their bundles here
in_node() { ip netns exec "$NODE_NS" "$@"; }
pass=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }

printf 'version: 1\n' >"$WORK/policy.yaml"
"$MESHPROOF" keygen --out "$WORK/keys" >/dev/null || fail "keygen"
KEY="$WORK/keys/meshproof-signing.key"
PUB="$WORK/keys/meshproof-signing.pub"

# Istio-like mesh PKI (the SPIFFE IDs match the snapshot's pods: no identity findings).
CERTS="$WORK/certs"
mkdir -p "$CERTS"
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ec_key "$CERTS/ca.key"
openssl req -x509 -new -key "$CERTS/ca.key" -subj "/O=cluster.local" -days 1 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$CERTS/ca.crt" 2>/dev/null
workload_cert() { # workload_cert NAME SA
  ec_key "$CERTS/$1.key"
  openssl req -new -key "$CERTS/$1.key" -subj "/" -out "$CERTS/$1.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectAltName=critical,URI:spiffe://cluster.local/ns/demo/sa/$2" >"$CERTS/$1.ext"
  openssl x509 -req -in "$CERTS/$1.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" -CAcreateserial \
    -days 1 -sha256 -extfile "$CERTS/$1.ext" -out "$CERTS/$1.crt" 2>/dev/null
}
workload_cert server server
workload_cert client client

# A plaintext HTTP server on the STRICT port 8080 (the pod's sidecar "bypassed").
mkdir -p "$WORK/www" && echo "hello in clear" >"$WORK/www/index.html"
lab_bg server python3 -m http.server 8080 --bind 10.244.2.30 --directory "$WORK/www"
lab_wait_listen server 8080

plaintext_traffic() {
  lab_exec client curl -sS --max-time 5 -H 'Authorization: Bearer live-token-123' http://10.244.2.30:8080/ |
    grep -q 'hello in clear' || fail "plaintext request failed"
}
mtls_traffic() {
  lab_bg server openssl s_server -accept 10.244.2.30:9443 -naccept 1 -rev -tls1_3 \
    -cert "$CERTS/server.crt" -key "$CERTS/server.key" -CAfile "$CERTS/ca.crt" -Verify 1 \
    -alpn istio-peer-exchange,istio
  local pid=$LAB_LAST_PID
  lab_wait_listen server 9443
  { echo "hello mesh"; sleep 0.5; } | lab_exec client openssl s_client -connect 10.244.2.30:9443 -tls1_3 \
    -servername outbound_.9443_._.server.demo.svc.cluster.local -alpn istio-peer-exchange,istio \
    -cert "$CERTS/client.crt" -key "$CERTS/client.key" -CAfile "$CERTS/ca.crt" \
    >"$WORK/s_client.log" 2>&1 || { cat "$WORK/s_client.log" >&2; fail "s_client failed"; }
  lab_wait_pid "$pid" 10 || fail "s_server did not finish"
}

# shellcheck source=../lib/capture_helpers.sh
source "$SRC/tests/lib/capture_helpers.sh"
# start_capture OUT ERR ARGS...: `audit capture` in the node namespace, in the background.
start_capture() { capture_start "$1" "$2" ip netns exec "$NODE_NS" "$MESHPROOF" audit capture "${@:3}"; }
# stop_capture: SIGINT (the report is still written), then its exit status in rc.
stop_capture() {
  local i
  sleep 0.5
  kill -INT "$CAP_PID" 2>/dev/null || true
  for ((i = 0; i < 400; i++)); do
    kill -0 "$CAP_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$CAP_PID" 2>/dev/null && fail "audit capture did not end"
  rc=0
  wait "$CAP_PID" || rc=$?
}

# ----------------------------------------- 1. capture --k8s-snapshot --policy
start_capture "$WORK/plain.jsonl" "$WORK/plain.err" -i br0 -f tcp --json --user root \
  --k8s-snapshot "$SNAPSHOT" --policy "$WORK/policy.yaml"
plaintext_traffic
stop_capture
[[ $rc == 5 ]] || { cat "$WORK/plain.err" >&2; fail "plaintext to a STRICT server: exit $rc, want 5"; }
python3 - "$WORK/plain.jsonl" <<'PY' || fail "plaintext capture report"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
types = [l["type"] for l in lines]
flows = [l for l in lines if l["type"] == "flow"]
assert len(flows) == 1 and flows[0]["verdict"] == "plaintext-served", flows
f = flows[0]
assert f["src_workload"]["pod"] == "client-6b7f9c8d5-x2k4p" and f["dst_workload"]["pod"] == "server-7c9d8f6b5-m3n7r", f
# Report order: flows, summary, findings, policy summary.
assert types.index("summary") == 1 and types[-1] == "policy_summary", types
rules = sorted(l["rule"] for l in lines if l["type"] == "finding")
assert rules == ["meshed-not-istio-mtls", "strict-plaintext-served"], rules
assert lines[-1]["violations"] is True and lines[-1]["flows_checked"] == 1
PY
ok "plaintext HTTP to a STRICT server: exit 5, workloads and findings in the JSON lines"

start_capture "$WORK/mtls.jsonl" "$WORK/mtls.err" -i br0 -f tcp --json --user root \
  --k8s-snapshot "$SNAPSHOT" --policy "$WORK/policy.yaml"
mtls_traffic
stop_capture
[[ $rc == 0 ]] || { cat "$WORK/mtls.err" "$WORK/mtls.jsonl" >&2; fail "Istio mTLS: exit $rc, want 0"; }
python3 - "$WORK/mtls.jsonl" <<'PY' || fail "mTLS capture report"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
flows = [l for l in lines if l["type"] == "flow"]
assert [f["verdict"] for f in flows] == ["istio-mtls"], flows
assert not [l for l in lines if l["type"] == "finding"]
assert lines[-1]["type"] == "policy_summary" and lines[-1]["violations"] is False
PY
ok "Istio-like mTLS between the same pods: exit 0, no findings"

# Text report: findings after the table.
start_capture "$WORK/plain.txt" "$WORK/plain-text.err" -i br0 -f tcp --color never --user root \
  --k8s-snapshot "$SNAPSHOT" --policy "$WORK/policy.yaml"
plaintext_traffic
stop_capture
[[ $rc == 5 ]] || fail "text report: exit $rc, want 5"
grep -q '^VIOLATION strict-plaintext-served  demo/client (sidecar) -> demo/server (sidecar) port 8080' "$WORK/plain.txt" ||
  { cat "$WORK/plain.txt" >&2; fail "no violation line in the text report"; }
ok "text report: the violation line names both workloads"

# ------------------------------------ 2. --bundle without --write, as nobody
mkdir -m 777 "$WORK/out"
start_capture "$WORK/bundle.jsonl" "$WORK/bundle.err" -i br0 -f tcp --json \
  --k8s-snapshot "$SNAPSHOT" --policy "$WORK/policy.yaml" --bundle "$WORK/out/evidence.tar.gz" --key "$KEY"
plaintext_traffic
stop_capture
[[ $rc == 5 ]] || { cat "$WORK/bundle.err" >&2; fail "--bundle run: exit $rc, want 5"; }
[[ -f $WORK/out/evidence.tar.gz ]] || { cat "$WORK/bundle.err" >&2; fail "no bundle written"; }
[[ $(stat -c %U "$WORK/out/evidence.tar.gz") == nobody ]] || fail "the bundle was not written after the privilege drop"
"$MESHPROOF" verify "$WORK/out/evidence.tar.gz" --pub "$PUB" >"$WORK/verify.out" 2>&1 || { cat "$WORK/verify.out" >&2; fail "verify rejects the bundle"; }
ok "meshproof verify --pub accepts the capture's bundle"
mkdir "$WORK/unpacked" && tar -xzf "$WORK/out/evidence.tar.gz" -C "$WORK/unpacked"
for m in verdicts.jsonl findings.jsonl captures/evidence.pcap cluster-snapshot.json policy.yaml version.json; do
  [[ -f $WORK/unpacked/$m ]] || fail "bundle has no $m ($(tar -tzf "$WORK/out/evidence.tar.gz" | tr '\n' ' '))"
done
grep -q '"rule":"strict-plaintext-served"' "$WORK/unpacked/findings.jsonl" || fail "findings.jsonl lacks the violation"
grep -q '"command":\["meshproof","audit","capture"' "$WORK/unpacked/version.json" || fail "version.json: $(cat "$WORK/unpacked/version.json")"
cmp -s "$SNAPSHOT" "$WORK/unpacked/cluster-snapshot.json" || fail "snapshot in the bundle differs from the file read"
"$MESHPROOF" audit read --json "$WORK/unpacked/captures/evidence.pcap" >"$WORK/reread.jsonl" || fail "audit read of the bundled pcap"
python3 - "$WORK/reread.jsonl" <<'PY' || fail "bundled evidence pcap does not show the flow"
import json, sys
flows = [json.loads(l) for l in open(sys.argv[1]) if '"type":"flow"' in l]
assert [(f["server"], f["verdict"]) for f in flows] == [("10.244.2.30:8080", "plaintext-served")], flows
PY
ok "the bundle holds the evidence pcap (same flow when re-read), findings, snapshot, policy, version"
leftover=$(find "$WORK/out" -name '.meshproof-evidence.*' | head -1)
[[ -z $leftover ]] || fail "temporary evidence left behind: $leftover"
[[ $(ls -A "$WORK/out") == evidence.tar.gz ]] || fail "unexpected files next to the bundle: $(ls -A "$WORK/out")"
ok "the temporary evidence pcap is removed"

# Usage and configuration errors come before any capture.
rc=0; in_node "$MESHPROOF" audit capture -i br0 --policy "$WORK/policy.yaml" --duration 1 >/dev/null 2>"$WORK/e1" || rc=$?
[[ $rc == 2 ]] && grep -q -- "--policy needs the cluster" "$WORK/e1" || fail "--policy without a snapshot: exit $rc, $(cat "$WORK/e1")"
rc=0; in_node env -u MESHPROOF_SIGNING_KEY "$MESHPROOF" audit capture -i br0 --bundle "$WORK/out/x.tar.gz" --duration 1 >/dev/null 2>"$WORK/e2" || rc=$?
[[ $rc == 2 ]] && grep -q "needs a signing key" "$WORK/e2" || fail "--bundle without a key: exit $rc, $(cat "$WORK/e2")"
ok "capture: flag errors exit 2 before capturing"

# ----------------------------- 3. the CronJob's own command line (cronjob.yaml)
mkdir -p "$WORK/bin" "$WORK/reports" "$WORK/etc/policy"
cp "$WORK/policy.yaml" "$WORK/etc/policy/policy.yaml"
ln -s "$MESHPROOF" "$WORK/bin/meshproof"
cat >"$WORK/bin/kubectl" <<SH
#!/bin/sh
echo "\$@" >> "$WORK/kubectl.calls"
cat "$SNAPSHOT"
SH
chmod +x "$WORK/bin/kubectl"
# The script of the container, with: /reports and the mounted policy in the work directory, five
# seconds instead of 300, and br0 instead of any (inside the node namespace "any" would see every
# packet twice, once per veth and once on the bridge). Every flag is the manifest's own.
python3 - "$SRC/manifests/audit/cronjob.yaml" "$WORK" >"$WORK/cronjob.sh" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cj = [d for d in docs if d["kind"] == "CronJob"][0]
c = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
assert c["command"] == ["/bin/sh", "-c"], c["command"]
script = c["args"][0]
for old, new in [("/reports", sys.argv[2] + "/reports"), ("/etc/meshproof/policy/", sys.argv[2] + "/etc/policy/"),
                 ("--duration=300s", "--duration=5s"), ("--interface=any", "--interface=br0")]:
    assert old in script, old
    script = script.replace(old, new)
print(script)
env = {e["name"]: e.get("value", "") for e in c["env"]}
print("# env: " + " ".join(sorted(env)), file=sys.stderr)
PY
PUSH=""
if command -v prometheus-pushgateway >/dev/null 2>&1; then
  GW_PORT=$(in_node python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  lab_bg node prometheus-pushgateway --web.listen-address="127.0.0.1:$GW_PORT" --persistence.interval=0
  for ((i = 0; i < 100; i++)); do in_node curl -sf -o /dev/null "http://127.0.0.1:$GW_PORT/-/ready" && break; sleep 0.1; done
  PUSH="http://127.0.0.1:$GW_PORT"
fi
ip netns exec "$NODE_NS" env PATH="$WORK/bin:$PATH" NODE_NAME=node-2 PUSHGATEWAY="$PUSH" MESHPROOF_SIGNING_KEY="$KEY" HOME=/tmp \
  sh -c "$(cat "$WORK/cronjob.sh")" >"$WORK/cronjob.out" 2>"$WORK/cronjob.err" &
JOB_PID=$!
LAB_PIDS+=("$JOB_PID")
for ((i = 0; i < 400; i++)); do grep -q "capturing on" "$WORK/cronjob.err" 2>/dev/null && break; sleep 0.05; done
grep -q 'capturing on' "$WORK/cronjob.err" || { cat "$WORK/cronjob.err" >&2; fail "the CronJob command did not start capturing"; }
plaintext_traffic
rc=0; wait "$JOB_PID" || rc=$?
[[ $rc == 5 ]] || { cat "$WORK/cronjob.err" "$WORK/cronjob.out" >&2; fail "CronJob command: exit $rc, want 5"; }
grep -q "meshproof audit exit status 5" "$WORK/cronjob.out" || fail "CronJob script output: $(cat "$WORK/cronjob.out")"
run=$(find "$WORK/reports" -mindepth 1 -maxdepth 1 -type d -name '*-node-2' | head -1)
[[ -n $run && -s $run/report.jsonl && -s $run/evidence.pcap && -s $run/bundle.tar.gz ]] || fail "CronJob run directory incomplete: $(ls -la "$run" 2>&1)"
grep -q -- "get pods,services,namespaces,nodes,peerauthentications.security.istio.io" "$WORK/kubectl.calls" || fail "--k8s did not call kubectl"
tail -1 "$run/report.jsonl" | grep '"type":"policy_summary"' >/dev/null || fail "report.jsonl has no policy summary"
"$MESHPROOF" verify "$run/bundle.tar.gz" --pub "$PUB" >/dev/null 2>&1 || fail "the CronJob's bundle does not verify"
tar -tzf "$run/bundle.tar.gz" | grep -x 'captures/evidence.pcap' >/dev/null || fail "the CronJob's bundle lacks its --write pcap"
ok "cronjob.yaml's command line: exit 5, report, evidence pcap and a verified bundle holding it"
if [[ -n $PUSH ]]; then
  in_node curl -sf "$PUSH/metrics" >"$WORK/gateway.txt" || fail "cannot read the Pushgateway"
  grep -E '^meshproof_policy_findings_total\{.*dst_namespace="demo".*instance="node-2".*job="meshproof-audit".*rule="strict-plaintext-served".*severity="violation".*src_namespace="demo"\} 1$' \
    "$WORK/gateway.txt" >/dev/null || { grep meshproof_policy "$WORK/gateway.txt" >&2; fail "no pushed strict-plaintext-served finding"; }
  grep -E '^meshproof_flows_total\{dst_namespace="demo",.*protocol="http",src_namespace="demo",verdict="plaintext-served"\} 1$' \
    "$WORK/gateway.txt" >/dev/null || { grep meshproof_flows_total "$WORK/gateway.txt" | grep -v ' 0$' >&2; fail "pushed flows_total lacks namespaces"; }
  ok "the CronJob's push carries meshproof_policy_findings_total and namespaced flows"
fi

# ------------------------------------------------ 4. audit serve with a policy
rc=0; in_node "$MESHPROOF" audit serve -i br0 --k8s-snapshot "$SNAPSHOT" --bundle "$WORK/x.tar.gz" --key "$KEY" >/dev/null 2>"$WORK/e3" || rc=$?
[[ $rc == 2 ]] && grep -q "serve runs until stopped" "$WORK/e3" || fail "serve --bundle: exit $rc, $(cat "$WORK/e3")"
ok "serve refuses --bundle with a reason (exit 2)"

SERVE_PORT=$(in_node python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
: >"$WORK/kubectl.calls"
chmod 666 "$WORK/kubectl.calls"  # serve runs kubectl as nobody
# Own log file (lab_bg renames its log while the child may still be opening it).
SERVE_LOG="$WORK/serve.log"
ip netns exec "$NODE_NS" env PATH="$WORK/bin:$PATH" "$MESHPROOF" audit serve -i br0 -f tcp --listen "127.0.0.1:$SERVE_PORT" \
  --idle-timeout 1 --k8s --k8s-refresh 10 --policy "$WORK/policy.yaml" </dev/null >"$SERVE_LOG" 2>&1 &
SERVE_PID=$!
LAB_PIDS+=("$SERVE_PID")
for ((i = 0; i < 100; i++)); do in_node curl -sf -o /dev/null "http://127.0.0.1:$SERVE_PORT/metrics" && break; sleep 0.1; done
# A real Prometheus scrapes it (loopback of the node namespace), when installed.
PROM_PORT=""
if command -v prometheus >/dev/null 2>&1; then
  PROM_PORT=$(in_node python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: meshproof\n    static_configs: [{targets: ["127.0.0.1:%s"]}]\n' \
    "$SERVE_PORT" >"$WORK/prometheus.yml"
  ip netns exec "$NODE_NS" prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" </dev/null >"$WORK/prometheus.log" 2>&1 &
  LAB_PIDS+=("$!")
fi
plaintext_traffic
plaintext_traffic
mtls_traffic
metric_ok=""
for ((i = 0; i < 50; i++)); do
  in_node curl -sf "http://127.0.0.1:$SERVE_PORT/metrics" >"$WORK/serve.txt" || true
  if grep -qx 'meshproof_policy_findings_total{dst_namespace="demo",rule="strict-plaintext-served",severity="violation",src_namespace="demo"} 2' "$WORK/serve.txt" &&
     grep -qx 'meshproof_flows_total{dst_namespace="demo",protocol="tls",src_namespace="demo",verdict="istio-mtls"} 1' "$WORK/serve.txt"; then
    metric_ok=1; break
  fi
  sleep 0.2
done
[[ -n $metric_ok ]] || { grep -E 'findings|flows_total' "$WORK/serve.txt" | grep -v ' 0$' >&2; cat "$SERVE_LOG" >&2; fail "serve: findings not exported"; }
grep -qx 'meshproof_policy_findings_total{dst_namespace="demo",rule="meshed-not-istio-mtls",severity="violation",src_namespace="demo"} 2' "$WORK/serve.txt" ||
  fail "serve: meshed-not-istio-mtls not counted"
if command -v promtool >/dev/null 2>&1; then
  promtool check metrics <"$WORK/serve.txt" >"$WORK/promtool.out" 2>&1 || { cat "$WORK/promtool.out" >&2; fail "promtool check metrics"; }
fi
ok "serve: findings and namespaced flows on /metrics, as each flow ends"
# The refresh: a second kubectl run after 10 s, in the background.
for ((i = 0; i < 150; i++)); do [[ $(grep -c 'get pods' "$WORK/kubectl.calls") -ge 2 ]] && break; sleep 0.1; done
[[ $(grep -c 'get pods' "$WORK/kubectl.calls") -ge 2 ]] || fail "serve --k8s-refresh 10 did not fetch again ($(wc -l <"$WORK/kubectl.calls") calls)"
plaintext_traffic
for ((i = 0; i < 50; i++)); do
  in_node curl -sf "http://127.0.0.1:$SERVE_PORT/metrics" >"$WORK/serve.txt" || true
  grep -qx 'meshproof_policy_findings_total{dst_namespace="demo",rule="strict-plaintext-served",severity="violation",src_namespace="demo"} 3' "$WORK/serve.txt" && break
  sleep 0.2
done
grep -qx 'meshproof_policy_findings_total{dst_namespace="demo",rule="strict-plaintext-served",severity="violation",src_namespace="demo"} 3' "$WORK/serve.txt" ||
  fail "serve: findings after the refresh not counted"
ok "serve --k8s --k8s-refresh: snapshot fetched again, findings still counted"
if [[ -n $PROM_PORT ]]; then
  q='sum by (src_namespace, dst_namespace) (meshproof_policy_findings_total{rule="strict-plaintext-served",severity="violation"})'
  got=""
  for ((i = 0; i < 120; i++)); do
    answer=$(in_node curl -sf --max-time 2 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$q" || true)
    got=$(python3 -c 'import json,sys
try: r = json.loads(sys.argv[1])["data"]["result"]
except Exception: sys.exit(0)
print(" ".join("%s->%s=%s" % (x["metric"]["src_namespace"], x["metric"]["dst_namespace"], x["value"][1]) for x in r))' "${answer:-}")
    [[ $got == "demo->demo=3" ]] && break
    sleep 0.5
  done
  [[ $got == "demo->demo=3" ]] || { tail -5 "$WORK/prometheus.log" >&2; fail "Prometheus query by namespace: '$got', want demo->demo=3"; }
  ok "a real Prometheus scraping serve: findings by namespace = 3"
fi
kill -TERM "$SERVE_PID" 2>/dev/null || true
lab_wait_pid "$SERVE_PID" 10 || fail "serve did not stop on SIGTERM"
grep -q "6 policy findings (6 violations)" "$SERVE_LOG" || fail "serve's last line: $(tail -2 "$SERVE_LOG")"
ok "serve stops cleanly and sums up its findings"

echo "compliance_capture: $pass passed"
