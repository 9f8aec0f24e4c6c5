#!/usr/bin/env bash
# make_captures.sh [OUT_DIR]: record real traffic between network namespaces
# into small pcap files (default OUT_DIR: tests/captures/pcaps). Runs as root.
#
# Every flow runs between namespaces this script creates (tests/lib/netns_lab.sh)
# on 10.244.0.0/16 addresses it assigns, or on loopback inside them; nothing
# has a default route and the host's interfaces are never touched. Everything
# it creates is removed on exit, failure, Ctrl-C or kill.
#
# The verdict meshproof must give for each flow is in expected.tsv beside this
# script; check_captures.py verifies with tshark that each pcap shows the
# wire facts its row names.
#
# Environment:
#   MPCAP_ONLY="name ..."   make only these captures (names as in CAPTURES below)
#   MPCAP_FAIL_AT=name      fail on purpose in that capture, once its servers
#                           and tcpdump run (to test the cleanup)
#   LAB_KEEP_DIR=1          keep the lab's temp dir (server logs, certs)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns_lab.sh
source "$HERE/../lib/netns_lab.sh"
HELPERS="$HERE/helpers"
OUT=${1:-$HERE/pcaps}
PYTHON=${PYTHON:-python3}

# Addresses: all pods on one /16 L2 segment (bridge br0 in the node namespace).
CLIENT_IP=10.244.1.20
CLIENT2_IP=10.244.1.21   # second client: resumed connections, told apart by IP
SERVER_IP=10.244.2.30
VX_CLIENT_IP=10.244.3.20 # pods of the VXLAN capture (one on each node)
VX_SERVER_IP=10.244.4.30
UNDERLAY_A=10.244.255.1  # the two nodes' "physical" addresses (a /30 link)
UNDERLAY_B=10.244.255.2

CAPTURES=(
  istio-mtls-tls13 istio-mtls-tls12 mtls-tls12-plain tls12-resumption
  tls13-resumption nginx-curl-tls gnutls-tls stunnel-mtls
  http-plaintext-secrets redis-auth strict-reset hbone syn-only vxlan-flannel
)

log() { printf '[make_captures] %s\n' "$*" >&2; }
die() { printf '[make_captures] error: %s\n' "$*" >&2; exit 1; }

for tool in ip ss tcpdump openssl curl nginx gnutls-serv gnutls-cli redis-server \
  redis-cli "$PYTHON"; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces)"

# ---------------------------------------------------------------- certificates
# Mesh PKI like Istio's self-signed root (istiod's "O=cluster.local" CA) and
# its workload certs: EC P-256, EMPTY subject, a single critical URI SAN with the
# SPIFFE ID, server+client EKU, valid one day.
# Plain PKI: an ordinary company CA (RSA) with DNS-named server/client certs.
CERTS=""
CURRENT_PCAP=""

mk_ca() { # mk_ca NAME SUBJECT KEYTYPE(ec|rsa)
  local name=$1 subj=$2 type=$3
  mk_key "$CERTS/$name.key" "$type"
  openssl req -x509 -new -key "$CERTS/$name.key" -subj "$subj" -days 2 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$CERTS/$name.crt" 2>/dev/null
}

mk_key() { # mk_key FILE ec|rsa
  if [[ $2 == ec ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  fi
}

mk_leaf() { # mk_leaf NAME CA SUBJECT SAN KEYTYPE
  local name=$1 ca=$2 subj=$3 san=$4 type=$5
  mk_key "$CERTS/$name.key" "$type"
  openssl req -new -key "$CERTS/$name.key" -subj "$subj" -out "$CERTS/$name.csr" 2>/dev/null
  # An empty subject requires the SAN to be critical (RFC 5280 4.2.1.6).
  local crit=""
  [[ $subj == / ]] && crit="critical,"
  cat >"$CERTS/$name.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=${crit}${san}
EOF
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/$ca.crt" -CAkey "$CERTS/$ca.key" \
    -CAcreateserial -days 1 -sha256 -extfile "$CERTS/$name.ext" -out "$CERTS/$name.crt" 2>/dev/null
}

make_certs() {
  CERTS="$LAB_DIR/certs"
  mkdir -p "$CERTS"
  mk_ca mesh-ca "/O=cluster.local" ec
  mk_leaf spiffe-server mesh-ca / "URI:spiffe://cluster.local/ns/demo/sa/server" ec
  mk_leaf spiffe-client mesh-ca / "URI:spiffe://cluster.local/ns/demo/sa/client" ec
  mk_ca corp-ca "/O=Example Corp/CN=Example Corp Internal CA" rsa
  mk_leaf api-server corp-ca "/O=Example Corp/CN=api.internal" "DNS:api.internal" rsa
  mk_leaf billing-client corp-ca "/O=Example Corp/CN=billing-client" "DNS:billing-client.internal" rsa
  mk_leaf web-server corp-ca "/O=Example Corp/CN=web.demo.local" "DNS:web.demo.local" ec
}

# -------------------------------------------------------------------- helpers
# s_server in the server pod: -rev answers each line with the line reversed, so
# data crosses both ways; -naccept N makes it exit after N connections.
start_s_server() { # start_s_server PORT NACCEPT openssl-args...
  local port=$1 naccept=$2
  shift 2
  lab_bg server openssl s_server -accept "$SERVER_IP:$port" -naccept "$naccept" -rev "$@"
  SERVER_PID=$LAB_LAST_PID
  lab_wait_listen server "$port"
}

# s_client from a pod: one line out, a short pause for the answer (and, in TLS
# 1.3, the session tickets), then stdin EOF -> close_notify and close.
run_s_client() { # run_s_client POD LOG openssl-s_client-args...
  local pod=$1 logf=$2
  shift 2
  { printf 'hello from %s\n' "$pod"; sleep 0.5; } |
    lab_exec "$pod" openssl s_client "$@" >"$logf" 2>&1 ||
    { cat "$logf" >&2; die "s_client in $pod failed"; }
}

# Begin/end one capture file: written under a temporary name, renamed when done,
# so a failed run never leaves a half-made pcap under its final name.
capture_begin() { # capture_begin NAME [tcpdump filter...]
  local name=$1
  shift
  CURRENT_PCAP="$OUT/$name.pcap"
  rm -f "$CURRENT_PCAP.part"
  lab_capture_start br0 "$CURRENT_PCAP.part" "$@"
  maybe_fail_on_purpose "$name"
}

# MPCAP_FAIL_AT=NAME: die once that capture's servers and tcpdump are running,
# the worst moment for cleanup (used to test that nothing is left behind).
maybe_fail_on_purpose() {
  [[ $1 != "${MPCAP_FAIL_AT:-}" ]] || die "failing on purpose in $1 (MPCAP_FAIL_AT)"
}

capture_end() {
  lab_capture_stop
  mv -f "$CURRENT_PCAP.part" "$CURRENT_PCAP"
  log "wrote $CURRENT_PCAP ($(stat -c %s "$CURRENT_PCAP") bytes)"
}

wait_server_exit() {
  lab_wait_pid "$SERVER_PID" 10 || die "server $SERVER_PID did not finish"
}

# ------------------------------------------------------------------ captures
cap_istio-mtls-tls13() {
  # Sidecar to sidecar, TLS 1.3 (Istio's default): client cert required, SNI
  # outbound_.PORT_._.FQDN and the TCP-cluster ALPN list.
  start_s_server 8080 1 -cert "$CERTS/spiffe-server.crt" -key "$CERTS/spiffe-server.key" \
    -CAfile "$CERTS/mesh-ca.crt" -Verify 1 -alpn istio-peer-exchange,istio
  capture_begin istio-mtls-tls13 tcp
  run_s_client client "$LAB_DIR/c1.log" -connect "$SERVER_IP:8080" \
    -cert "$CERTS/spiffe-client.crt" -key "$CERTS/spiffe-client.key" -CAfile "$CERTS/mesh-ca.crt" \
    -servername outbound_.8080_._.server.demo.svc.cluster.local -alpn istio-peer-exchange,istio
  wait_server_exit
  capture_end
}

cap_istio-mtls-tls12() {
  # Same in TLS 1.2: CertificateRequest and both certificate chains are in
  # clear, so the client's SPIFFE ID can be read off the wire.
  start_s_server 8080 1 -cert "$CERTS/spiffe-server.crt" -key "$CERTS/spiffe-server.key" \
    -CAfile "$CERTS/mesh-ca.crt" -Verify 1 -alpn istio-http/1.1,istio,http/1.1
  capture_begin istio-mtls-tls12 tcp
  run_s_client client "$LAB_DIR/c2.log" -connect "$SERVER_IP:8080" -tls1_2 \
    -cert "$CERTS/spiffe-client.crt" -key "$CERTS/spiffe-client.key" -CAfile "$CERTS/mesh-ca.crt" \
    -servername outbound_.8080_._.server.demo.svc.cluster.local -alpn istio-http/1.1,istio,http/1.1
  wait_server_exit
  capture_end
}

cap_mtls-tls12-plain() {
  # Ordinary mutual TLS 1.2: company CA, DNS names, ALPN http/1.1: nothing Istio.
  start_s_server 8443 1 -cert "$CERTS/api-server.crt" -key "$CERTS/api-server.key" \
    -CAfile "$CERTS/corp-ca.crt" -Verify 1 -alpn http/1.1
  capture_begin mtls-tls12-plain tcp
  run_s_client client "$LAB_DIR/c3.log" -connect "$SERVER_IP:8443" -tls1_2 \
    -cert "$CERTS/billing-client.crt" -key "$CERTS/billing-client.key" -CAfile "$CERTS/corp-ca.crt" \
    -servername api.internal -alpn http/1.1
  wait_server_exit
  capture_end
}

resumption_capture() { # resumption_capture NAME PORT [s_client version flag]
  local name=$1 port=$2 sess="$LAB_DIR/$1.sess"
  shift 2
  start_s_server "$port" 2 -cert "$CERTS/web-server.crt" -key "$CERTS/web-server.key"
  capture_begin "$name" tcp
  # Full handshake from client, then a resumed one from client2 (same session
  # file; a different source IP keeps the two rows of expected.tsv apart).
  run_s_client client "$LAB_DIR/$name-1.log" -connect "$SERVER_IP:$port" "$@" \
    -CAfile "$CERTS/corp-ca.crt" -servername web.demo.local -sess_out "$sess"
  run_s_client client2 "$LAB_DIR/$name-2.log" -connect "$SERVER_IP:$port" "$@" \
    -CAfile "$CERTS/corp-ca.crt" -servername web.demo.local -sess_in "$sess"
  grep -q '^Reused' "$LAB_DIR/$name-2.log" || die "$name: second connection was not resumed"
  wait_server_exit
  capture_end
}

cap_tls12-resumption() { resumption_capture tls12-resumption 4433 -tls1_2; }
cap_tls13-resumption() { resumption_capture tls13-resumption 4434; }

cap_nginx-curl-tls() {
  local dir="$LAB_DIR/nginx"
  mkdir -p "$dir/logs" "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen $SERVER_IP:443 ssl http2;
    server_name web.demo.local;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $CERTS/web-server.crt;
    ssl_certificate_key $CERTS/web-server.key;
    location / { default_type text/plain; return 200 "hello from nginx\n"; }
  }
}
EOF
  lab_bg server nginx -p "$dir" -c "$dir/nginx.conf"
  SERVER_PID=$LAB_LAST_PID
  lab_wait_listen server 443
  capture_begin nginx-curl-tls tcp
  # TLS 1.3 from client; TLS 1.2 from client2 (server certificate and the
  # chosen ALPN h2 in clear, no CertificateRequest).
  lab_exec client curl -sS --max-time 10 --cacert "$CERTS/corp-ca.crt" \
    --resolve "web.demo.local:443:$SERVER_IP" https://web.demo.local/ >"$LAB_DIR/curl-nginx.log"
  lab_exec client2 curl -sS --max-time 10 --tls-max 1.2 --cacert "$CERTS/corp-ca.crt" \
    --resolve "web.demo.local:443:$SERVER_IP" https://web.demo.local/ >>"$LAB_DIR/curl-nginx.log"
  [[ $(grep -c 'hello from nginx' "$LAB_DIR/curl-nginx.log") == 2 ]] || die "nginx: no answer"
  capture_end
  lab_kill_pid "$SERVER_PID"
}

cap_gnutls-tls() {
  lab_bg server gnutls-serv --echo -p 5556 \
    --x509certfile "$CERTS/web-server.crt" --x509keyfile "$CERTS/web-server.key"
  SERVER_PID=$LAB_LAST_PID
  lab_wait_listen server 5556
  capture_begin gnutls-tls tcp
  { printf 'hello from gnutls-cli\n'; sleep 0.5; } |
    lab_exec client gnutls-cli -p 5556 --x509cafile "$CERTS/corp-ca.crt" \
      --sni-hostname web.demo.local --verify-hostname web.demo.local "$SERVER_IP" \
      >"$LAB_DIR/gnutls-cli.log" 2>&1 ||
    { cat "$LAB_DIR/gnutls-cli.log" >&2; die "gnutls-cli failed"; }
  capture_end
  lab_kill_pid "$SERVER_PID"
}

cap_stunnel-mtls() {
  # A sidecar pair made of stunnel: app -> 127.0.0.1:15001 (client pod
  # loopback) -> mTLS on the wire to 10.244.2.30:80 -> 127.0.0.1:8080 (server
  # pod loopback). Only the mTLS hop crosses the bridge.
  local stunnel_bin
  stunnel_bin=$(command -v stunnel4 || command -v stunnel) || die "stunnel not found"
  cat >"$LAB_DIR/stunnel-server.conf" <<EOF
foreground = yes
pid =
output = $LAB_DIR/stunnel-server.log
[inbound]
accept = $SERVER_IP:80
connect = 127.0.0.1:8080
cert = $CERTS/spiffe-server.crt
key = $CERTS/spiffe-server.key
CAfile = $CERTS/mesh-ca.crt
verifyChain = yes
requireCert = yes
EOF
  cat >"$LAB_DIR/stunnel-client.conf" <<EOF
foreground = yes
pid =
output = $LAB_DIR/stunnel-client.log
[outbound]
client = yes
accept = 127.0.0.1:15001
connect = $SERVER_IP:80
sni = outbound_.80_._.web.demo.svc.cluster.local
cert = $CERTS/spiffe-client.crt
key = $CERTS/spiffe-client.key
CAfile = $CERTS/mesh-ca.crt
verifyChain = yes
EOF
  lab_bg server "$PYTHON" "$HELPERS/tiny_http_server.py" --bind 127.0.0.1 --port 8080
  local app_pid=$LAB_LAST_PID
  lab_wait_listen server 8080
  lab_bg server "$stunnel_bin" "$LAB_DIR/stunnel-server.conf"
  local srv_pid=$LAB_LAST_PID
  lab_bg client "$stunnel_bin" "$LAB_DIR/stunnel-client.conf"
  local cli_pid=$LAB_LAST_PID
  lab_wait_listen server 80
  lab_wait_listen client 15001
  capture_begin stunnel-mtls tcp
  lab_exec client curl -sS --max-time 10 -H 'Host: web.demo.svc.cluster.local' \
    http://127.0.0.1:15001/ >"$LAB_DIR/curl-stunnel.log"
  grep -q 'hello from demo-app' "$LAB_DIR/curl-stunnel.log" || die "stunnel: no answer"
  capture_end
  lab_kill_pid "$cli_pid"
  lab_kill_pid "$srv_pid"
  lab_kill_pid "$app_pid"
}

cap_http-plaintext-secrets() {
  # One keep-alive connection: GET with Basic credentials, then a login POST.
  lab_bg server "$PYTHON" "$HELPERS/tiny_http_server.py" --bind "$SERVER_IP" --port 8000 --count 1
  SERVER_PID=$LAB_LAST_PID
  lab_wait_listen server 8000
  capture_begin http-plaintext-secrets tcp
  lab_exec client curl -sS --max-time 10 -u 'admin:Adm1n-Passw0rd' "http://$SERVER_IP:8000/admin" \
    --next --max-time 10 --data 'username=alice&password=Hunter2-Secret' "http://$SERVER_IP:8000/login" \
    >"$LAB_DIR/curl-http.log"
  wait_server_exit
  capture_end
}

cap_redis-auth() {
  lab_bg server redis-server --bind "$SERVER_IP" --port 6379 --requirepass 'Redis-S3cret-Pass' \
    --save '' --appendonly no --daemonize no --protected-mode no --dir "$LAB_DIR" --logfile ''
  SERVER_PID=$LAB_LAST_PID
  lab_wait_listen server 6379
  capture_begin redis-auth tcp
  lab_exec client redis-cli -h "$SERVER_IP" -p 6379 -a 'Redis-S3cret-Pass' --no-auth-warning ping \
    >"$LAB_DIR/redis-cli.log"
  grep -q PONG "$LAB_DIR/redis-cli.log" || die "redis: no PONG"
  capture_end
  lab_kill_pid "$SERVER_PID"
}

cap_strict-reset() {
  # Plaintext HTTP to a port that, like an Istio STRICT inbound, reads the
  # first bytes and resets. curl is expected to fail ("reset by peer").
  lab_bg server "$PYTHON" "$HELPERS/reset_after_read_server.py" --bind "$SERVER_IP" --port 9080
  SERVER_PID=$LAB_LAST_PID
  lab_wait_listen server 9080
  capture_begin strict-reset tcp
  if lab_exec client curl -sS --max-time 10 "http://$SERVER_IP:9080/productpage" \
    >"$LAB_DIR/curl-reset.log" 2>&1; then
    die "strict-reset: curl unexpectedly succeeded"
  fi
  wait_server_exit
  capture_end
}

cap_hbone() {
  # Ambient ztunnel to ztunnel: mTLS 1.3 to 15008, ALPN h2, no SNI.
  start_s_server 15008 1 -tls1_3 -cert "$CERTS/spiffe-server.crt" -key "$CERTS/spiffe-server.key" \
    -CAfile "$CERTS/mesh-ca.crt" -Verify 1 -alpn h2
  capture_begin hbone tcp
  run_s_client client "$LAB_DIR/c-hbone.log" -connect "$SERVER_IP:15008" -noservername -alpn h2 \
    -cert "$CERTS/spiffe-client.crt" -key "$CERTS/spiffe-client.key" -CAfile "$CERTS/mesh-ca.crt"
  wait_server_exit
  capture_end
}

cap_syn-only() {
  # Nothing listens on 9999: SYN, then RST from the server's kernel.
  capture_begin syn-only tcp
  if lab_exec client curl -sS --max-time 5 "http://$SERVER_IP:9999/" >/dev/null 2>&1; then
    die "syn-only: connection unexpectedly accepted"
  fi
  capture_end
}

cap_vxlan-flannel() {
  # Two nodes joined by VXLAN VNI 1 on UDP 8472 (flannel's port) over an
  # underlay veth; one pod on each node; plain HTTP from pod to pod, captured
  # on the underlay, so every packet is Ethernet/IPv4/UDP/VXLAN/Ethernet/IPv4/TCP.
  lab_add_node node2
  lab_link_nodes node "$UNDERLAY_A/30" node2 "$UNDERLAY_B/30"
  lab_exec node ip link add vxlan0 type vxlan id 1 dstport 8472 \
    local "$UNDERLAY_A" remote "$UNDERLAY_B" dev uplink
  lab_exec node2 ip link add vxlan0 type vxlan id 1 dstport 8472 \
    local "$UNDERLAY_B" remote "$UNDERLAY_A" dev uplink
  local n
  for n in node node2; do
    lab_offloads_off "$(lab_ns "$n")" vxlan0
    lab_exec "$n" ip link set dev vxlan0 master br0
    lab_exec "$n" ip link set dev vxlan0 up
  done
  lab_add_pod vxclient "$VX_CLIENT_IP" node
  lab_add_pod vxserver "$VX_SERVER_IP" node2
  # Pod MTU 1450 = 1500 - VXLAN overhead, as flannel sets it.
  lab_exec vxclient ip link set dev eth0 mtu 1450
  lab_exec vxserver ip link set dev eth0 mtu 1450
  lab_bg vxserver "$PYTHON" "$HELPERS/tiny_http_server.py" --bind "$VX_SERVER_IP" --port 8000 --count 1
  SERVER_PID=$LAB_LAST_PID
  lab_wait_listen vxserver 8000
  CURRENT_PCAP="$OUT/vxlan-flannel.pcap"
  rm -f "$CURRENT_PCAP.part"
  lab_capture_start uplink "$CURRENT_PCAP.part" udp port 8472
  maybe_fail_on_purpose vxlan-flannel
  lab_exec vxclient curl -sS --max-time 10 "http://$VX_SERVER_IP:8000/api/orders" \
    >"$LAB_DIR/curl-vxlan.log"
  wait_server_exit
  capture_end
}

# ---------------------------------------------------------------------- main
main() {
  local selected=("${CAPTURES[@]}") name
  if [[ -n ${MPCAP_ONLY:-} ]]; then
    read -r -a selected <<<"$MPCAP_ONLY"
  fi
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  lab_install_traps
  # After lab_destroy has stopped tcpdump: drop an unfinished capture file.
  trap 'lab_destroy; [[ -z ${CURRENT_PCAP:-} ]] || rm -f "$CURRENT_PCAP.part"' EXIT
  lab_create "mpcap-$$"
  lab_add_pod client "$CLIENT_IP"
  lab_add_pod client2 "$CLIENT2_IP"
  lab_add_pod server "$SERVER_IP"
  make_certs
  for name in "${selected[@]}"; do
    declare -F "cap_$name" >/dev/null || die "unknown capture '$name'"
    log "capture $name"
    "cap_$name"
  done
  log "done: ${#selected[@]} capture(s) in $OUT"
}

main "$@"
