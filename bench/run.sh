#!/usr/bin/env bash
# bench/run.sh: meshproof's throughput benchmark (not part of ctest). Runs as root.
#
#   1. Builds (once, then cached) a >= 1 GiB capture of realistic pod traffic:
#      a seed capture of real traffic between network namespaces on
#      10.244.0.0/16 (plaintext HTTP with keep-alive, small and large
#      responses; TLS 1.3 and 1.2 from nginx + curl; Istio-shaped mutual TLS
#      1.3 and 1.2, plain mutual TLS 1.2 and HBONE from openssl
#      s_server/s_client; Redis), offloads off so frames are <= 1514 bytes,
#      multiplied into thousands of distinct flows by bench/multiply_pcap.c.
#   2. Reads the file once (warm page cache), then times on the same file:
#      a bare libpcap read loop (bench/pcap_floor.c, the floor), meshproof
#      audit read --json, tcpdump -r -w /dev/null, ndpiReader -i, and tshark
#      extracting TLS and HTTP fields; wall time and peak RSS for each.
#   3. Prints a table (seconds, packets/s, ratio to the floor, peak RSS), the
#      ratios meshproof / ndpiReader and meshproof / tshark, the targets, and
#      the verdict mix of meshproof's summary line.
#
# Environment:
#   MESHPROOF=PATH       binary to measure (default: ./build/meshproof of this repo)
#   BENCH_DIR=DIR        cache and work dir (default /var/tmp/meshproof-bench)
#   BENCH_REBUILD=1      remake the seed and the big capture even if cached
#   BENCH_TARGET_MIB=N   size of the big capture (default 1100, >= 1 GiB)
#   BENCH_OVERLAP=N      seed copies running at the same time (default 16)
#   BENCH_SEED_ROUNDS=N  workload rounds per client pod in the seed (default 10)
#   BENCH_REPEAT=N       runs per fast tool (default 5); the fastest is reported
#                        (others' jobs on a shared machine only ever add time),
#                        the median is shown beside it
#   BENCH_TSHARK=MODE    full (default; about 2 min per GiB) | slice (first
#                        tenth of the packets, time scaled x10) | skip
#   BENCH_NDPI=0         skip ndpiReader
#   BENCH_UPDATE_DOC=1   also write the table into docs/performance.md
#                        (between its "bench:begin" and "bench:end" markers)
#   BENCH_PROFILE=1      also `perf record` meshproof (linux-perf); the report,
#                        inclusive shares, goes to BENCH_DIR/perf-report.txt
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../tests/lib/netns_lab.sh
source "$REPO/tests/lib/netns_lab.sh"

MESHPROOF=${MESHPROOF:-$REPO/build/meshproof}
BENCH_DIR=${BENCH_DIR:-/var/tmp/meshproof-bench}
TARGET_MIB=${BENCH_TARGET_MIB:-1100}
OVERLAP=${BENCH_OVERLAP:-16}
REPEAT=${BENCH_REPEAT:-5}
TSHARK_MODE=${BENCH_TSHARK:-full}
SEED=$BENCH_DIR/seed.pcap
BIG=$BENCH_DIR/bench.pcap
BIN=$BENCH_DIR/bin
RUNS=$BENCH_DIR/runs
RESULTS=$BENCH_DIR/results.md

# Seed lab: pods on one bridge, all inside 10.244.0.0/22 (multiply_pcap moves
# that block through 10.244.0.0/16, one /22 per copy).
WEB_IP=10.244.2.10    # nginx: HTTP on 80, HTTPS (TLS 1.2/1.3, h2) on 443
MESH_IP=10.244.2.20   # openssl s_server: Istio mTLS 1.3 / 1.2, plain mTLS, HBONE
REDIS_IP=10.244.2.30  # redis-server with a password
CLIENTS=4             # client pods 10.244.1.11 .. 10.244.1.1N, run in parallel
ROUNDS=${BENCH_SEED_ROUNDS:-10}
REDIS_PASS='Bench-Redis-Pass'

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ helpers
build_helpers() {
  mkdir -p "$BIN"
  local name
  for name in multiply_pcap pcap_floor; do
    if [[ ! -x $BIN/$name || $HERE/$name.c -nt $BIN/$name ]]; then
      cc -O2 -Wall -Wextra -o "$BIN/$name" "$HERE/$name.c" -lpcap || die "cannot build $name"
    fi
  done
}

# ----------------------------------------------------------- seed: certificates
# The same shapes as tests/captures/make_captures.sh: an Istio-like mesh CA
# (O=cluster.local) with SPIFFE workload certificates, and a corporate CA.
mk_key() { # mk_key FILE ec|rsa
  if [[ $2 == ec ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  fi
}

mk_ca() { # mk_ca NAME SUBJECT KEYTYPE
  mk_key "$CERTS/$1.key" "$3"
  openssl req -x509 -new -key "$CERTS/$1.key" -subj "$2" -days 2 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$CERTS/$1.crt" 2>/dev/null
}

mk_leaf() { # mk_leaf NAME CA SUBJECT SAN KEYTYPE
  local name=$1 ca=$2 subj=$3 san=$4 crit=""
  mk_key "$CERTS/$name.key" "$5"
  openssl req -new -key "$CERTS/$name.key" -subj "$subj" -out "$CERTS/$name.csr" 2>/dev/null
  [[ $subj == / ]] && crit="critical,"   # empty subject: SAN must be critical
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=${crit}${san}" >"$CERTS/$name.ext"
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/$ca.crt" -CAkey "$CERTS/$ca.key" \
    -CAcreateserial -days 1 -sha256 -extfile "$CERTS/$name.ext" -out "$CERTS/$name.crt" 2>/dev/null
}

make_certs() {
  CERTS="$LAB_DIR/certs"
  mkdir -p "$CERTS"
  mk_ca mesh-ca "/O=cluster.local" ec
  mk_leaf spiffe-server mesh-ca / "URI:spiffe://cluster.local/ns/demo/sa/mesh" ec
  mk_leaf spiffe-client mesh-ca / "URI:spiffe://cluster.local/ns/demo/sa/client" ec
  mk_ca corp-ca "/O=Example Corp/CN=Example Corp Internal CA" rsa
  mk_leaf api-server corp-ca "/O=Example Corp/CN=api.internal" "DNS:api.internal" rsa
  mk_leaf billing-client corp-ca "/O=Example Corp/CN=billing-client" "DNS:billing-client.internal" rsa
  mk_leaf web-server corp-ca "/O=Example Corp/CN=web.demo.local" "DNS:web.demo.local" ec
}

# Served content: a small JSON API answer, a 24 KiB page, a 512 KiB download.
make_content() {
  WWW="$LAB_DIR/www"
  mkdir -p "$WWW/api"
  {
    printf '{"items":['
    local i
    for ((i = 0; i < 12; i++)); do printf '{"id":%d,"name":"item-%d","price":%d.99},' "$i" "$i" "$i"; done
    printf '{"id":99,"name":"last","price":1}]}\n'
  } >"$WWW/api/items.json"
  { printf '<html><body>\n'; head -c 18000 /dev/urandom | base64; printf '</body></html>\n'; } \
    >"$WWW/index.html"
  head -c 524288 /dev/urandom >"$WWW/blob.bin"
}

start_nginx() {
  local dir="$LAB_DIR/nginx"
  mkdir -p "$dir/logs" "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  types { text/html html; application/json json; application/octet-stream bin; }
  server {
    listen $WEB_IP:80;
    listen $WEB_IP:443 ssl http2;
    server_name web.demo.local;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $CERTS/web-server.crt;
    ssl_certificate_key $CERTS/web-server.key;
    root $WWW;
  }
}
EOF
  lab_bg web nginx -p "$dir" -c "$dir/nginx.conf"
  lab_wait_listen web 80
  lab_wait_listen web 443
}

# s_server -WWW serves files of its working directory over (m)TLS, one
# connection at a time, until killed.
start_s_server() { # start_s_server PORT openssl-args...
  local port=$1
  shift
  # shellcheck disable=SC2016 # expanded by the inner bash
  lab_bg mesh bash -c 'cd "$1" && shift && exec openssl s_server -quiet -WWW "$@"' _ "$WWW" \
    -accept "$MESH_IP:$port" "$@"
  lab_wait_listen mesh "$port"
}

start_servers() {
  start_nginx
  local mesh=(-cert "$CERTS/spiffe-server.crt" -key "$CERTS/spiffe-server.key"
    -CAfile "$CERTS/mesh-ca.crt" -Verify 1)
  start_s_server 8080 "${mesh[@]}" -alpn istio-peer-exchange,istio       # sidecar TCP, TLS 1.3
  start_s_server 9080 "${mesh[@]}" -alpn istio-http/1.1,istio,http/1.1   # sidecar HTTP, TLS 1.2
  start_s_server 15008 "${mesh[@]}" -tls1_3 -alpn h2                     # ambient HBONE
  start_s_server 8443 -cert "$CERTS/api-server.crt" -key "$CERTS/api-server.key" \
    -CAfile "$CERTS/corp-ca.crt" -Verify 1 -alpn http/1.1                # plain mutual TLS
  lab_bg redis redis-server --bind "$REDIS_IP" --port 6379 --requirepass "$REDIS_PASS" \
    --save '' --appendonly no --daemonize no --protected-mode no --dir "$LAB_DIR" --logfile ''
  lab_wait_listen redis 6379
}

# One HTTP/1.0 GET over openssl s_client; the server closes after the file.
s_get() { # s_get POD PORT PATH s_client-args...
  local pod=$1 port=$2 path=$3
  shift 3
  printf 'GET %s HTTP/1.0\r\n\r\n' "$path" |
    lab_exec "$pod" openssl s_client -quiet -connect "$MESH_IP:$port" "$@" >/dev/null 2>&1
}

# One client pod's share of the traffic: per round, ~8 flows of different kinds.
client_workload() { # client_workload POD
  local pod=$1 r big
  local web=http://$WEB_IP tls=https://web.demo.local
  local curl_tls=(curl -sS --max-time 30 --cacert "$CERTS/corp-ca.crt"
    --resolve "web.demo.local:443:$WEB_IP")
  local mesh_client=(-cert "$CERTS/spiffe-client.crt" -key "$CERTS/spiffe-client.key"
    -CAfile "$CERTS/mesh-ca.crt")
  local svc=mesh.demo.svc.cluster.local
  for ((r = 0; r < ROUNDS; r++)); do
    big=""
    ((r % 3 == 0)) && big=/blob.bin
    # Plaintext HTTP/1.1, keep-alive: API calls, a page, sometimes a download;
    # one in two with a bearer token (a secret in clear).
    local auth=()
    ((r % 2 == 0)) && auth=(-H "Authorization: Bearer bench-token-$pod-$r")
    lab_exec "$pod" curl -sS --max-time 30 "${auth[@]}" "$web/api/items.json" \
      "$web/api/items.json" "$web/index.html" ${big:+"$web$big"} >/dev/null
    lab_exec "$pod" curl -sS --max-time 30 --data "user=$pod&password=bench-pass-$r" \
      "$web/api/items.json" >/dev/null 2>&1 || true  # nginx answers 405: plaintext still served
    # TLS 1.3 with ALPN h2, and TLS 1.2 with HTTP/1.1 (keep-alive in both).
    lab_exec "$pod" "${curl_tls[@]}" "$tls/api/items.json" "$tls/index.html" \
      ${big:+"$tls$big"} >/dev/null
    lab_exec "$pod" "${curl_tls[@]}" --tls-max 1.2 --http1.1 "$tls/api/items.json" \
      "$tls/api/items.json" "$tls/index.html" >/dev/null
    # Istio sidecar mTLS 1.3 (SNI outbound_..., ALPN istio), sometimes a download.
    s_get "$pod" 8080 "${big:-/index.html}" "${mesh_client[@]}" \
      -servername "outbound_.8080_._.$svc" -alpn istio-peer-exchange,istio
    # Istio sidecar mTLS 1.2: certificates and the SPIFFE ID in clear.
    s_get "$pod" 9080 /api/items.json "${mesh_client[@]}" -tls1_2 \
      -servername "outbound_.9080_._.$svc" -alpn istio-http/1.1,istio,http/1.1
    # Plain mutual TLS 1.2 with a corporate CA.
    s_get "$pod" 8443 /api/items.json -cert "$CERTS/billing-client.crt" \
      -key "$CERTS/billing-client.key" -CAfile "$CERTS/corp-ca.crt" -tls1_2 \
      -servername api.internal -alpn http/1.1
    # Ambient HBONE: TLS 1.3 to 15008, ALPN h2, no SNI.
    ((r % 2 == 1)) && s_get "$pod" 15008 /api/items.json "${mesh_client[@]}" -noservername -alpn h2
  done
  return 0
}

redis_workload() {
  local pod=client1 i
  for ((i = 0; i < 5; i++)); do
    lab_exec "$pod" redis-cli -h "$REDIS_IP" -a "$REDIS_PASS" --no-auth-warning \
      set "session:$i" "value-$i" >/dev/null
  done
  # Many small request/response packets on a handful of connections.
  lab_exec "$pod" redis-benchmark -h "$REDIS_IP" -a "$REDIS_PASS" -c 4 -n 600 -d 200 \
    -t set,get,incr,lpush,lrange_100 -q >/dev/null
}

make_seed() {
  log "making the seed capture (real traffic in network namespaces)"
  lab_create "mpbench-$$"
  lab_add_pod web "$WEB_IP"
  lab_add_pod mesh "$MESH_IP"
  lab_add_pod redis "$REDIS_IP"
  local i
  for ((i = 1; i <= CLIENTS; i++)); do lab_add_pod "client$i" "10.244.1.1$i"; done
  make_certs
  make_content
  start_servers
  rm -f "$SEED.part"
  # tcpdump runs in immediate mode (TPACKET_V2: one ring slot per snap length):
  # -s 1600 (frames are <= 1514) and -B 128 MiB give ~80k slots, so bursts of
  # local traffic are not dropped. These options override lab_capture_start's.
  lab_capture_start br0 "$SEED.part" -s 1600 -B 131072 tcp
  for ((i = 1; i <= CLIENTS; i++)); do
    client_workload "client$i" &
    WORKLOAD_PIDS+=($!)
  done
  redis_workload &
  WORKLOAD_PIDS+=($!)
  for i in "${WORKLOAD_PIDS[@]}"; do wait "$i" || die "a seed workload failed (pid $i)"; done
  WORKLOAD_PIDS=()
  lab_capture_stop
  local dropped
  dropped=$(grep -ho '[0-9]* packets dropped by kernel' "$LAB_DIR"/tcpdump.*.err | awk '{print $1}' | head -1)
  lab_destroy
  if [[ ${dropped:-0} != 0 ]]; then
    log "tcpdump dropped $dropped packets while making the seed"
    rm -f "$SEED.part"
    return 0  # no seed file: the caller tries again
  fi
  mv -f "$SEED.part" "$SEED"
  log "seed: $(stat -c %s "$SEED") bytes"
}

make_big() {
  local seed_bytes copies stats max_frame
  seed_bytes=$(stat -c %s "$SEED")
  copies=$(((TARGET_MIB * 1048576 + seed_bytes - 1) / seed_bytes))
  log "multiplying the seed x$copies (overlap $OVERLAP) into $BIG"
  rm -f "$BIG.part"
  stats=$("$BIN/multiply_pcap" -n "$copies" -v "$OVERLAP" "$SEED" "$BIG.part" 2>&1) ||
    die "multiply_pcap failed: $stats"
  max_frame=$(sed -n 's/.*max_frame=\([0-9]*\).*/\1/p' <<<"$stats")
  ((max_frame <= 1514)) || die "a frame of $max_frame bytes (> 1514): offloads were on?"
  (($(stat -c %s "$BIG.part") >= 1073741824)) || die "the capture is smaller than 1 GiB"
  mv -f "$BIG.part" "$BIG"
  printf '%s\n' "$stats" >"$BIG.info"
  log "$stats"
}

# ----------------------------------------------------------------- measuring
# run_timed NAME OUTFILE cmd...: one run under /usr/bin/time -v; appends
# "seconds rss_kib" to $RUNS/NAME. Wall time from bash's clock (microseconds;
# time -v rounds to 10 ms), peak RSS from time -v.
run_timed() {
  local name=$1 out=$2 t0 t1 rss status=0
  shift 2
  t0=$EPOCHREALTIME
  /usr/bin/time -v -o "$RUNS/$name.time" "$@" >"$out" 2>"$RUNS/$name.stderr" || status=$?
  t1=$EPOCHREALTIME
  ((status == 0)) || { cat "$RUNS/$name.stderr" >&2; die "$name exited with status $status"; }
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$RUNS/$name.time")
  awk -v a="$t0" -v b="$t1" -v r="$rss" 'BEGIN { printf "%.6f %d\n", b - a, r }' >>"$RUNS/$name"
}

# best_run NAME / median_run NAME: the fastest run / the run with the median
# wall time, as "seconds rss_kib".
best_run() { sort -n "$RUNS/$1" | head -n 1; }
median_run() {
  sort -n "$RUNS/$1" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}

measure() {
  local packets=$1 i slice
  rm -rf "$RUNS"
  mkdir -p "$RUNS"
  LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)  # other jobs on the machine make timings noisy
  log "warming the page cache"
  cat "$BIG" >/dev/null
  for ((i = 1; i <= REPEAT; i++)); do
    log "round $i/$REPEAT: floor, meshproof, tcpdump${NDPI:+, ndpiReader}"
    run_timed floor /dev/null "$BIN/pcap_floor" "$BIG"
    run_timed meshproof /dev/null "$MESHPROOF" audit read --json "$BIG"
    run_timed tcpdump /dev/null tcpdump -r "$BIG" -w /dev/null
    [[ -z $NDPI ]] || run_timed ndpiReader /dev/null "$NDPI" -i "$BIG"
  done
  local tshark_fields=(-T fields -e tls.handshake.extensions_server_name
    -e tls.handshake.extensions_alpn_str -e http.request.method -e http.host)
  TSHARK_SCALE=1
  case $TSHARK_MODE in
    full)
      log "tshark on the whole file (about 2 minutes per GiB)"
      run_timed tshark /dev/null tshark -r "$BIG" "${tshark_fields[@]}"
      ;;
    slice)
      slice=$BENCH_DIR/slice.pcap
      tcpdump -r "$BIG" -c $((packets / 10)) -w "$slice" 2>/dev/null
      cat "$slice" >/dev/null
      TSHARK_SCALE=10
      log "tshark on the first tenth of the packets (time x10)"
      run_timed tshark /dev/null tshark -r "$slice" "${tshark_fields[@]}"
      rm -f "$slice"
      ;;
    skip) ;;
    *) die "BENCH_TSHARK: expected full, slice or skip" ;;
  esac
  if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
    command -v perf >/dev/null || die "BENCH_PROFILE=1 needs perf (apt-get install linux-perf)"
    log "perf record of meshproof -> $BENCH_DIR/perf.data"
    perf record -F 499 --call-graph dwarf,16384 -o "$BENCH_DIR/perf.data" -- "$MESHPROOF" audit read --json "$BIG" >/dev/null 2>&1
    perf report -i "$BENCH_DIR/perf.data" --children --percent-limit 2 --stdio -g none \
      >"$BENCH_DIR/perf-report.txt" 2>/dev/null || true
  fi
}

# ------------------------------------------------------------------- report
report() {
  local packets=$1 bytes=$2 summary=$3 flows
  local floor_s mp_s mp_rss nd_s ts_s
  read -r floor_s _ < <(best_run floor)
  local out=$RESULTS
  {
    printf '| tool | seconds (best) | median | packets/s | x floor | peak RSS (MiB) |\n'
    printf '|---|---:|---:|---:|---:|---:|\n'
    local name label s rss med
    for name in floor meshproof tcpdump ndpiReader tshark; do
      [[ -s $RUNS/$name ]] || continue
      read -r s rss < <(best_run "$name")
      read -r med _ < <(median_run "$name")
      label=$name
      case $name in
        floor) label='libpcap read loop (floor)' ;;
        meshproof) label='meshproof audit read --json' ;;
        tcpdump) label='tcpdump -r -w /dev/null' ;;
        ndpiReader) label='ndpiReader -i' ;;
        tshark) label='tshark -T fields (TLS, HTTP)' ;;
      esac
      if [[ $name == tshark && $TSHARK_SCALE != 1 ]]; then
        s=$(awk -v s="$s" -v k="$TSHARK_SCALE" 'BEGIN { printf "%.6f", s * k }')
        med=$s
        label="$label, 1/$TSHARK_SCALE slice x$TSHARK_SCALE"
      fi
      awk -v l="$label" -v s="$s" -v m="$med" -v p="$packets" -v f="$floor_s" -v r="$rss" 'BEGIN {
        printf "| %s | %.2f | %.2f | %.0f | %.3f | %.1f |\n", l, s, m, p / s, f / s, r / 1024 }'
      echo "$name $s $rss" >>"$RUNS/table"
    done
  } >"$out"
  read -r _ mp_s mp_rss < <(grep '^meshproof ' "$RUNS/table")
  nd_s=$(awk '$1 == "ndpiReader" { print $2 }' "$RUNS/table")
  ts_s=$(awk '$1 == "tshark" { print $2 }' "$RUNS/table")
  flows=$(grep -o '"flows":[0-9]*' <<<"$summary" | head -1 | cut -d: -f2)
  {
    printf '\n'
    [[ -z $nd_s ]] || awk -v m="$mp_s" -v n="$nd_s" \
      'BEGIN { printf "meshproof vs ndpiReader: %.2fx the packets/s (target >= 3x)\n", n / m }'
    [[ -z $ts_s ]] || awk -v m="$mp_s" -v t="$ts_s" \
      'BEGIN { printf "meshproof vs tshark: %.0fx the packets/s (target >= 100x)\n", t / m }'
    awk -v m="$mp_s" -v f="$floor_s" -v r="$mp_rss" 'BEGIN {
      x = f / m; mib = r / 1024
      printf "targets: packets/s %.2fx the floor (>= 0.60: %s), peak RSS %.1f MiB (<= 64: %s)\n",
        x, (x >= 0.6 ? "met" : "MISSED"), mib, (mib <= 64 ? "met" : "MISSED") }'
    printf 'file: %s, %s packets, %s bytes, %s TCP flows (best of %s runs; tshark 1 run)\n' \
      "$BIG" "$packets" "$bytes" "${flows:-?}" "$REPEAT"
    printf 'load average before measuring: %s (%s cores)\n' "$LOAD_AT_START" "$(nproc)"
    printf 'verdicts: %s\n' "$(grep -o '"verdicts":{[^}]*}' <<<"$summary" | sed 's/"verdicts"://')"
  } >>"$out"
  cat "$out"
}

update_doc() {
  local doc=$REPO/docs/performance.md block
  if ! grep -q '<!-- bench:begin -->' "$doc" 2>/dev/null || ! grep -q '<!-- bench:end -->' "$doc"; then
    die "docs/performance.md has no <!-- bench:begin --> / <!-- bench:end --> markers"
  fi
  block=$BENCH_DIR/doc-block.md
  {
    # shellcheck disable=SC2016 # backquotes are Markdown
    printf 'Measured %s on %s (%s cores, %s, %s MiB RAM), `%s`:\n\n' \
      "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(hostname)" "$(nproc)" \
      "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" \
      "$(awk '/^MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" \
      "MESHPROOF=$MESHPROOF BENCH_REPEAT=$REPEAT BENCH_TSHARK=$TSHARK_MODE bench/run.sh"
    cat "$RESULTS"
  } >"$block"
  awk -v f="$block" '
    /<!-- bench:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
    /<!-- bench:end -->/ { skip = 0 }
    !skip { print }' "$doc" >"$doc.tmp" && mv -f "$doc.tmp" "$doc"
  log "updated $doc"
}

# ---------------------------------------------------------------------- main
WORKLOAD_PIDS=()  # background client loops of the seed lab

# On any exit: stop the client loops (their commands inside the namespaces are
# killed by lab_destroy), remove the lab, drop half-written files.
cleanup() {
  local pid
  for pid in "${WORKLOAD_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${WORKLOAD_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  lab_destroy
  rm -f "$SEED.part" "$BIG.part"
}

main() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces)"
  local tool
  for tool in cc ip tcpdump openssl curl nginx redis-server redis-benchmark /usr/bin/time; do
    command -v "$tool" >/dev/null || die "$tool not found"
  done
  [[ -x $MESHPROOF ]] || die "meshproof binary not found: $MESHPROOF (set MESHPROOF=...)"
  [[ $TSHARK_MODE == skip ]] || command -v tshark >/dev/null || die "tshark not found (BENCH_TSHARK=skip)"
  NDPI=""
  if [[ ${BENCH_NDPI:-1} != 0 ]]; then
    NDPI=$(command -v ndpiReader || true)
    [[ -n $NDPI ]] || log "ndpiReader not found (apt-get install libndpi-bin): skipped"
  fi
  mkdir -p "$BENCH_DIR"
  trap cleanup EXIT
  trap 'log "interrupted"; exit 130' INT
  trap 'log "terminated"; exit 143' TERM
  build_helpers

  if [[ ${BENCH_REBUILD:-0} == 1 ]]; then rm -f "$SEED" "$BIG" "$BIG.info"; fi
  if [[ ! -s $BIG ]]; then
    local avail_kib
    avail_kib=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
    ((avail_kib > (TARGET_MIB + 1024) * 1024)) ||
      die "not enough space in $BENCH_DIR: need $((TARGET_MIB + 1024)) MiB, have $((avail_kib / 1024))"
    local attempt
    for attempt in 1 2 3; do
      [[ -s $SEED ]] && break
      ((attempt == 1)) || log "seed attempt $attempt"
      make_seed  # not in a condition: `set -e` must stay in force inside
    done
    [[ -s $SEED ]] || die "could not make a seed capture without drops"
    make_big
  else
    log "reusing $BIG (BENCH_REBUILD=1 to remake it)"
  fi

  local floor_out packets bytes summary
  floor_out=$("$BIN/pcap_floor" "$BIG")
  packets=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' <<<"$floor_out")
  bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$floor_out")
  measure "$packets"
  # Verdict mix: one more meshproof run, its summary line (not timed).
  summary=$("$MESHPROOF" audit read --json "$BIG" | tail -n 1)
  printf '\n'
  report "$packets" "$bytes" "$summary"
  [[ ${BENCH_UPDATE_DOC:-0} != 1 ]] || update_doc
}

main "$@"
