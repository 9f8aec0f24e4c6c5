#!/usr/bin/env bash
# live_capture: `meshproof audit capture` on the bridge of a namespace "node" while real clients talk
# to real servers in "pod" namespaces (10.244.0.0/16, no route anywhere else):
#   curl -> nginx over HTTPS                     -> tls
#   curl -> nginx over HTTP with Authorization   -> plaintext-served, secret redacted
#   openssl s_client -> s_server, mTLS 1.3 with Istio's ALPN and SNI -> istio-mtls
# and checks: the verdicts in --json, the privilege drop to nobody while it runs, the summary of an
# interrupted run (SIGINT), --fail-on, the evidence pcap (re-read by `audit read`, same verdicts),
# --duration on a quiet interface, an interface that disappears mid-capture (partial report, exit 4),
# clear errors for a missing interface and a bad filter, and that no namespace is left behind.
# Exit 77 (skip) when not root or a tool is missing.
set -euo pipefail

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[live_capture] $*" >&2; }

[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
for tool in ip ss openssl curl nginx python3; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (Debian: scripts/setup.sh --deps)"
done
[[ -n ${MESHPROOF:-} && -x $MESHPROOF ]] || fail "MESHPROOF must name the meshproof binary"
SRC=${MESHPROOF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
getent passwd nobody >/dev/null || skip "no 'nobody' user"
NOBODY_UID=$(id -u nobody)

# shellcheck source=../lib/netns_lab.sh
source "$SRC/tests/lib/netns_lab.sh"
PREFIX="mplive-$$"
lab_install_traps
lab_create "$PREFIX"
NODE_NS="$PREFIX-node"
lab_add_pod client 10.244.1.10
lab_add_pod web 10.244.1.20
lab_add_pod mesh 10.244.1.30
WORK="$LAB_DIR/work"
mkdir -p "$WORK"
chmod 755 "$LAB_DIR" "$WORK"

# ---------------------------------------------------------------- certificates
# Istio-like mesh PKI: EC P-256 CA "O=cluster.local", workload certs with an empty subject and only a
# SPIFFE URI SAN; a self-signed certificate for nginx.
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
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=critical,URI:spiffe://cluster.local/ns/demo/sa/$2" \
    >"$CERTS/$1.ext"
  openssl x509 -req -in "$CERTS/$1.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" -CAcreateserial \
    -days 1 -sha256 -extfile "$CERTS/$1.ext" -out "$CERTS/$1.crt" 2>/dev/null
}
workload_cert mesh-server mesh
workload_cert mesh-client client
ec_key "$CERTS/web.key"
openssl req -x509 -new -key "$CERTS/web.key" -subj "/CN=web.demo.local" -days 1 -sha256 \
  -addext "subjectAltName=DNS:web.demo.local" -out "$CERTS/web.crt" 2>/dev/null

# -------------------------------------------------------------------- servers
NGINX="$WORK/nginx"
mkdir -p "$NGINX/logs" "$NGINX/tmp"
cat >"$NGINX/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $NGINX/nginx.pid;
error_log $NGINX/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $NGINX/tmp/body;
  proxy_temp_path $NGINX/tmp/proxy;
  fastcgi_temp_path $NGINX/tmp/fastcgi;
  uwsgi_temp_path $NGINX/tmp/uwsgi;
  scgi_temp_path $NGINX/tmp/scgi;
  server {
    listen 10.244.1.20:80;
    listen 10.244.1.20:443 ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $CERTS/web.crt;
    ssl_certificate_key $CERTS/web.key;
    location / { default_type text/plain; return 200 "hello from nginx\n"; }
  }
}
EOF
lab_bg web nginx -p "$NGINX" -c "$NGINX/nginx.conf"
lab_wait_listen web 443
lab_wait_listen web 80
# Sidecar-like mTLS 1.3 server: client certificate required, Istio's TCP ALPN.
lab_bg mesh openssl s_server -accept 10.244.1.30:8080 -naccept 1 -rev -tls1_3 \
  -cert "$CERTS/mesh-server.crt" -key "$CERTS/mesh-server.key" -CAfile "$CERTS/ca.crt" -Verify 1 \
  -alpn istio-peer-exchange,istio
MESH_SERVER_PID=$LAB_LAST_PID
lab_wait_listen mesh 8080

# ------------------------------------------------------------------- helpers
# shellcheck source=../lib/capture_helpers.sh
source "$SRC/tests/lib/capture_helpers.sh"
# start_capture OUT ERR ARGS...: audit capture in the node namespace, in the background.
start_capture() { capture_start "$1" "$2" ip netns exec "$NODE_NS" "$MESHPROOF" audit capture "${@:3}"; }
wait_capture() { capture_wait; }

# ------------------------------------------------ 1. traffic, SIGINT, --write
OUT="$WORK/capture.jsonl"
ERR="$WORK/capture.err"
EVIDENCE="$WORK/evidence.pcap"
start_capture "$OUT" "$ERR" -i br0 -f tcp --json -v --label live-test --write "$EVIDENCE" \
  --duration 120s --fail-on plaintext-served

# Privileges: the capture runs as nobody once the socket is open.
read -r _ ruid euid _ < <(grep '^Uid:' "/proc/$CAP_PID/status")
[[ $ruid == "$NOBODY_UID" && $euid == "$NOBODY_UID" ]] ||
  fail "capture runs as uid $ruid/$euid, expected nobody ($NOBODY_UID)"
grep -q "dropped privileges to uid $NOBODY_UID (nobody)" "$ERR" || fail "no privilege drop note in -v output"
# ... with no capability left (tests/system/capture_privileges.sh covers the non-root start).
for capset in CapEff CapPrm; do
  grep -q "^$capset:[[:space:]]*0000000000000000$" "/proc/$CAP_PID/status" ||
    fail "capture holds capabilities: $(grep "^$capset:" "/proc/$CAP_PID/status")"
done
log "capture runs as uid $ruid (nobody)"

lab_exec client curl -sS --max-time 10 -k https://10.244.1.20/ | grep 'hello from nginx' >/dev/null || fail "https request failed"
lab_exec client curl -sS --max-time 10 -H 'Authorization: Basic bGl2ZTpodW50ZXIy' \
  http://10.244.1.20/login | grep 'hello from nginx' >/dev/null || fail "http request failed"
{ echo "hello mesh"; sleep 0.5; } | lab_exec client openssl s_client -connect 10.244.1.30:8080 -tls1_3 \
  -cert "$CERTS/mesh-client.crt" -key "$CERTS/mesh-client.key" -CAfile "$CERTS/ca.crt" \
  -servername outbound_.8080_._.mesh.demo.svc.cluster.local -alpn istio-peer-exchange,istio \
  >"$WORK/s_client.log" 2>&1 || { cat "$WORK/s_client.log" >&2; fail "s_client failed"; }
lab_wait_pid "$MESH_SERVER_PID" 10 || fail "s_server did not finish"
sleep 0.5  # the last FIN/ACKs

kill -INT "$CAP_PID"
wait_capture
[[ $rc == 3 ]] || { cat "$ERR" >&2; fail "exit status $rc, expected 3 (--fail-on plaintext-served matched)"; }
grep -q 'interrupted' "$ERR" || fail "no interrupted note on stderr"
! grep -q 'bGl2ZTpodW50ZXIy' "$OUT" || fail "the Authorization value is in the report unredacted"

check_verdicts() { # check_verdicts JSONL WHAT [--interrupted]
  python3 - "$@" <<'EOF'
import json, sys
path, what = sys.argv[1], sys.argv[2]
want_interrupted = "--interrupted" in sys.argv[3:]
rows = [json.loads(l) for l in open(path) if l.strip()]
flows = [r for r in rows if r["type"] == "flow"]
summary = [r for r in rows if r["type"] == "summary"]
assert len(summary) == 1, f"{what}: expected one summary, got {len(summary)}"
s = summary[0]
by_server = {}
for f in flows:
    by_server.setdefault(f["server"], []).append(f)
def one(server):
    got = by_server.get(server, [])
    assert len(got) == 1, f"{what}: expected one flow to {server}, got {len(got)}: {sorted(by_server)}"
    return got[0]
https, http, mesh = one("10.244.1.20:443"), one("10.244.1.20:80"), one("10.244.1.30:8080")
assert https["verdict"] == "tls", f"{what}: https verdict {https['verdict']}"
assert https["tls"]["version"] == "1.3", f"{what}: https TLS {https['tls']['version']}"
assert http["verdict"] == "plaintext-served" and http["protocol"] == "http", f"{what}: http {http['verdict']}"
kinds = {x["kind"] for x in http["secrets"]}
assert "authorization" in kinds, f"{what}: secrets {kinds}"
assert mesh["verdict"] == "istio-mtls", f"{what}: mesh verdict {mesh['verdict']} {mesh['evidence']}"
assert "istio-peer-exchange" in mesh["tls"]["alpn_offered"], f"{what}: alpn {mesh['tls']['alpn_offered']}"
assert mesh["tls"]["sni"] == "outbound_.8080_._.mesh.demo.svc.cluster.local"
assert s["flows"] == len(flows), f"{what}: summary flows {s['flows']} != {len(flows)}"
assert s["interrupted"] == want_interrupted, f"{what}: interrupted {s['interrupted']}"
print(f"{what}: {len(flows)} flows, verdicts ok")
EOF
}
check_verdicts "$OUT" "live capture" --interrupted || fail "live capture verdicts"
python3 - "$OUT" <<'EOF' || fail "input name / label"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"summary"' in l][0]
assert s["inputs"][0]["name"] == "live-test", s["inputs"]
assert "br0" in s["inputs"][0]["format"] and "tcp" in s["inputs"][0]["format"], s["inputs"]
EOF

# The evidence capture is a pcap that gives the same verdicts when audited again.
[[ -s $EVIDENCE ]] || fail "no evidence pcap"
# It holds the wire's plaintext: 0640, and owned by the user the capture ran as (as tcpdump -Z does).
[[ $(stat -c '%a %U' "$EVIDENCE") == "640 nobody" ]] || fail "evidence pcap is $(stat -c '%a %U' "$EVIDENCE"), want 640 nobody"
# The summary says what the evidence file holds, and that it is complete.
python3 - "$OUT" "$EVIDENCE" "$(tcpdump -nr "$EVIDENCE" 2>/dev/null | wc -l)" <<'PY' || fail "summary evidence object"
import json, sys
summary = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
ev = summary["evidence"]
assert ev["path"] == sys.argv[2] and ev["packets"] == int(sys.argv[3]) and ev["error"] is None and ev["not_written"] == 0, ev
PY
rc=0
"$MESHPROOF" audit read --json "$EVIDENCE" >"$WORK/evidence.jsonl" || rc=$?
[[ $rc == 0 ]] || fail "audit read of the evidence pcap: exit $rc"
check_verdicts "$WORK/evidence.jsonl" "evidence pcap" || fail "evidence verdicts"

# ------------------------------------------- 2. --duration on a quiet interface
OUT2="$WORK/quiet.jsonl"
start=$(date +%s%N)
start_capture "$OUT2" "$WORK/quiet.err" -i br0 --json --duration 1s
wait_capture
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $rc == 0 ]] || { cat "$WORK/quiet.err" >&2; fail "quiet capture: exit $rc"; }
(( elapsed_ms < 6000 )) || fail "a 1 s capture took ${elapsed_ms} ms"
python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]
assert s["type"] == "summary" and s["interrupted"] is False and s["flows"] == 0, s
' "$OUT2" || fail "quiet capture summary"
log "--duration 1s on a quiet bridge: ${elapsed_ms} ms"

# ---------------------------------------------- 2b. --packets ends the capture
OUT2B="$WORK/packets.jsonl"
start_capture "$OUT2B" "$WORK/packets.err" -i br0 -f 'tcp port 80' --json --packets 4 --duration 30s
lab_exec client curl -sS --max-time 5 -o /dev/null http://10.244.1.20/ || fail "http request failed"
wait_capture
[[ $rc == 0 ]] || { cat "$WORK/packets.err" >&2; fail "--packets 4: exit $rc"; }
python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]
assert s["type"] == "summary" and s["packets"] == 4 and s["interrupted"] is False, s
' "$OUT2B" || fail "--packets 4 summary"

# ------------------------------------------ 3. the interface disappears mid-capture
VETH=$(lab_pod_veth mesh)
OUT3="$WORK/gone.jsonl"
start_capture "$OUT3" "$WORK/gone.err" -i "$VETH" --json --duration 60s
# Nothing listens on the mesh pod any more: SYN, RST - one flow seen before the veth goes.
lab_exec client curl -sS --max-time 5 -o /dev/null http://10.244.1.30:8080/ 2>/dev/null || true
sleep 0.5  # the kernel hands over a ring block after the capture's 100 ms timeout
ip netns exec "$NODE_NS" ip link del "$VETH"
wait_capture
[[ $rc == 4 ]] || { cat "$WORK/gone.err" >&2; fail "interface removed: exit $rc, expected 4"; }
grep -q "$VETH: capture stopped" "$WORK/gone.err" || { cat "$WORK/gone.err" >&2; fail "no clear message"; }
python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]
assert s["type"] == "summary", s
assert s["inputs"][0]["error"], s["inputs"]
flows = [json.loads(l) for l in open(sys.argv[1])][:-1]
assert s["flows"] == 1 and flows[0]["server"] == "10.244.1.30:8080", (s, flows)
' "$OUT3" || fail "interface removed: no partial report"
log "interface removed: $(grep 'capture stopped' "$WORK/gone.err")"

# ---------------------------------------------------------- 4. clear refusals
rc=0
ip netns exec "$NODE_NS" "$MESHPROOF" audit capture -i nosuch0 --duration 1 >/dev/null 2>"$WORK/e1" || rc=$?
[[ $rc == 1 ]] && grep -q "interface 'nosuch0' not found" "$WORK/e1" || { cat "$WORK/e1" >&2; fail "missing interface: exit $rc"; }
rc=0
ip netns exec "$NODE_NS" "$MESHPROOF" audit capture -i br0 -f 'tcp port nope' --duration 1 >/dev/null 2>"$WORK/e2" || rc=$?
[[ $rc == 1 ]] && grep -q "bad capture filter 'tcp port nope'" "$WORK/e2" || { cat "$WORK/e2" >&2; fail "bad filter: exit $rc"; }
rc=0
"$MESHPROOF" audit capture --duration 1 >/dev/null 2>"$WORK/e3" || rc=$?
[[ $rc == 2 ]] || fail "no interface: exit $rc, expected 2"

# ------------------------------------------------------------ 5. nothing left
lab_destroy
if ip netns list | awk '{print $1}' | grep "^$PREFIX-" >/dev/null; then fail "namespaces left: $(ip netns list)"; fi
echo "PASS: live_capture"
