#!/usr/bin/env bash
# bench/flood.sh: floods and bounds (not part of ctest). Builds hostile captures with
# bench/gen_floods.c and runs `meshproof audit read --json --max-flows N` on each under
# /usr/bin/time -v; prints peak RSS, flows, evicted flows, seconds, the verdicts of the two witness
# flows that live through every flood (they must stay right; the flow-line count must match the
# summary, which must come last), TooLarge parse outcomes and bytes per tracked flow.
# Results and what they mean: docs/performance.md, "Floods and bounds".
#
#   bench/flood.sh                 every scenario
#   bench/flood.sh syn tls         only these (syn syn-bounded tls tls-bounded tls-evicting http ooo bighello
#                                  bighello-64k)
#
# Environment:
#   MESHPROOF=PATH     binary to measure (default ./build/meshproof of this repo)
#   FLOOD_DIR=DIR      captures and logs (default /var/tmp/meshproof-floods; captures are cached)
#   FLOOD_SCALE=F      multiply every flood size (default 1; 0.1 for a quick look)
#
# B/tracked = (peak RSS - peak RSS of the witnesses-only capture) / flows tracked at the peak
# (min(concurrent flows, max-flows)); printed only when at least 1000 flows are tracked. `--json`
# streams (each flow's line is written when it ends, nothing is kept for a sorted report), so the
# figure is the flow table's cost: open flows (syn, http: TcpFlow + stream state) or flows with a
# final verdict (tls: counters + a verdict shared by identical flows). The same cost by sizeof
# accounting comes from bench/flow_footprint.cpp, linked against the measured build's libraries.
# Each run also writes a Prometheus textfile: evicted = meshproof_flows_evicted_total, TooLarge =
# meshproof_parse_outcomes_total{parser="tls",outcome="too_large"} (the 16 MiB ClientHello).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
MESHPROOF=${MESHPROOF:-$REPO/build/meshproof}
FLOOD_DIR=${FLOOD_DIR:-/var/tmp/meshproof-floods}
SCALE=${FLOOD_SCALE:-1}
[[ -x $MESHPROOF ]] || { echo "flood.sh: no meshproof binary at $MESHPROOF (set MESHPROOF)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "flood.sh: /usr/bin/time missing (apt-get install -y time)" >&2; exit 2; }
mkdir -p "$FLOOD_DIR"

gen=$FLOOD_DIR/gen_floods
if [[ ! -x $gen || $HERE/gen_floods.c -nt $gen ]]; then
  cc -O2 -Wall -Wextra -o "$gen" "$HERE/gen_floods.c"
fi
scaled() { python3 -c "print(max(1, int($1 * $SCALE)))"; }

# name scenario size max-flows concurrent-flows (tracked at the peak = min(concurrent, max-flows)) [extra args]
N_SYN=$(scaled 1000000) N_EST=$(scaled 200000) N_OOO=$(scaled 1000000)
RUNS=(
  "baseline      none     0         262144    2"
  "syn           syn      $N_SYN    262144    $((N_SYN + 2))"
  "syn-bounded   syn      $N_SYN    50000     $((N_SYN + 2))"
  "tls           tls      $N_EST    262144    $((N_EST + 2))"
  "tls-bounded   tls      $N_EST    50000     $((N_EST + 2))"
  "tls-evicting  tls      $N_EST    1000      $((N_EST + 2))"
  "http          http     $N_EST    262144    $((N_EST + 2))"
  "ooo           ooo      $N_OOO    262144    3"
  "bighello      bighello 0         262144    3"
  "bighello-64k  bighello 0         262144    3         --stream-bytes 65536"
)
want=("$@")

capture() {  # scenario size -> path (generated once)
  local f=$FLOOD_DIR/$1-$2.pcap
  if [[ ! -s $f || $gen -nt $f ]]; then  # regenerated when the generator changed
    "$gen" "$1" "$f.tmp" "$2" 2>/dev/null
    mv "$f.tmp" "$f"
  fi
  echo "$f"
}

summarize() {  # reads meshproof --json on stdin; prints "flows evicted witness-check packets"
  python3 -c '
import json, sys
want = {("10.9.0.1:50001", "10.9.1.1:8080"): "plaintext-served", ("10.9.0.2:50002", "10.9.1.2:9080"): "istio-mtls"}
seen, summary, flow_lines, last = {}, None, 0, None
for line in sys.stdin:
    last = line
    if line.startswith("{\"type\":\"summary\""):
        summary = json.loads(line)
        continue
    flow_lines += 1
    if "10.9.0." in line:
        f = json.loads(line)
        seen[(f["client"], f["server"])] = f["verdict"]
bad = [f"{k[0]}->{k[1]}={seen.get(k)}" for k, v in want.items() if seen.get(k) != v]
if summary is None or not last.startswith("{\"type\":\"summary\""):
    bad.append("summary-not-last")
elif flow_lines != summary["flows"]:
    bad.append(f"flow-lines={flow_lines}")
print(summary["flows"] if summary else -1, summary["flows_evicted"] if summary else -1,
      "ok" if not bad else "WRONG:" + ",".join(bad), summary["packets"] if summary else -1)
'
}

build_dir=$(dirname "$MESHPROOF")
footprint=$FLOOD_DIR/flow_footprint
if [[ -f $build_dir/libmeshproof_engine.a ]]; then
  libs=()
  for l in engine capture report verdict flow decode certs classify common; do
    [[ -f $build_dir/libmeshproof_$l.a ]] && libs+=("$build_dir/libmeshproof_$l.a")
  done
  if c++ -std=c++20 -O1 -I"$REPO" -o "$footprint" "$HERE/flow_footprint.cpp" "${libs[@]}" -lpcap -lssl -lcrypto 2>"$FLOOD_DIR/footprint.log"; then
    echo "sizeof accounting ($build_dir):"
    "$footprint" | sed 's/^/  /'
  else
    echo "sizeof accounting: could not link bench/flow_footprint.cpp (see $FLOOD_DIR/footprint.log)"
  fi
fi

printf "%-13s %9s %9s %9s %9s %8s %10s %10s %8s  %s\n" run packets max-flows flows evicted seconds "peak MiB" "B/tracked" TooLarge witnesses
baseline_kb=0
for run in "${RUNS[@]}"; do
  read -r name scenario size max tracked extra <<<"$run"
  if [[ ${#want[@]} -gt 0 && $name != baseline ]]; then
    match=0
    for w in "${want[@]}"; do [[ $w == "$name" ]] && match=1; done
    [[ $match == 1 ]] || continue
  fi
  tracked=$(( tracked < max ? tracked : max ))
  file=$(capture "$scenario" "$size")
  tv=$FLOOD_DIR/$name.time
  prom=$FLOOD_DIR/$name.prom
  rm -f "$prom"
  read -r flows evicted witnesses packets < <(/usr/bin/time -v -o "$tv" "$MESHPROOF" audit read --json --max-flows "$max" \
                                               --metrics-file "$prom" $extra "$file" 2>"$FLOOD_DIR/$name.stderr" | summarize)
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tv" | awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
  prom_evicted=$(awk '/^meshproof_flows_evicted_total/ {print $2}' "$prom" 2>/dev/null)
  [[ -n $prom_evicted && $prom_evicted != "$evicted" ]] && witnesses="$witnesses EVICTED-METRIC-DIFFERS:$prom_evicted"
  too_large=$(awk '/^meshproof_parse_outcomes_total\{.*parser="tls"/ && /too_large/ {s += $2} END {print s + 0}' "$prom" 2>/dev/null)
  [[ $name == baseline ]] && baseline_kb=$kb
  per=-
  (( tracked >= 1000 )) && per=$(( (kb - baseline_kb) * 1024 / tracked ))
  printf "%-13s %9s %9s %9s %9s %8.2f %10.1f %10s %8s  %s\n" "$name" "$packets" "$max" "$flows" "$evicted" "$secs" \
    "$(awk -v kb="$kb" 'BEGIN { print kb / 1024 }')" "$per" "$too_large" "$witnesses"
done
