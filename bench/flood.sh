#!/usr/bin/env bash
# bench/flood.sh: floods and bounds (not part of ctest). Builds hostile captures with
# bench/gen_floods.c and runs `meshproof audit read --json --max-flows N` on each under
# /usr/bin/time -v; prints peak RSS, flows, evicted flows, seconds, the verdicts of the two witness
# flows that live through every flood (they must stay right), and bytes per tracked flow.
#
#   bench/flood.sh                 every scenario
#   bench/flood.sh syn tls         only these (syn syn-bounded tls tls-bounded tls-evicting http ooo bighello)
#
# Environment:
#   MESHPROOF=PATH     binary to measure (default ./build/meshproof of this repo)
#   FLOOD_DIR=DIR      captures and logs (default /var/tmp/meshproof-floods; captures are cached)
#   FLOOD_SCALE=F      multiply every flood size (default 1; 0.1 for a quick look)
#
# B/tracked = (peak RSS - peak RSS of the witnesses-only capture) / flows tracked at the peak.
# `audit read` also keeps every finished FlowRecord until the end (the report is sorted by first
# packet), so that all-in figure includes the report. The "tls-evicting" run (max-flows 1000: the
# table stays tiny while the records pile up) gives the report's cost per record; the tls run minus
# that share is what a tracked flow costs in the table once its verdict is final.
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

# name scenario size max-flows concurrent-flows (tracked at the peak = min(concurrent, max-flows))
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
seen, summary = {}, None
for line in sys.stdin:
    if line.startswith("{\"type\":\"summary\""):
        summary = json.loads(line)
    elif "10.9.0." in line:
        f = json.loads(line)
        seen[(f["client"], f["server"])] = f["verdict"]
bad = [f"{k[0]}->{k[1]}={seen.get(k)}" for k, v in want.items() if seen.get(k) != v]
print(summary["flows"], summary["flows_evicted"], "ok" if not bad else "WRONG:" + ",".join(bad), summary["packets"])
'
}

printf "%-13s %9s %9s %9s %9s %8s %10s %13s  %s\n" run packets max-flows flows evicted seconds "peak MiB" "B/tracked" witnesses
baseline_kb=0
declare -A rss_kb flows_of
for run in "${RUNS[@]}"; do
  read -r name scenario size max tracked <<<"$run"
  if [[ ${#want[@]} -gt 0 && $name != baseline ]]; then
    match=0
    for w in "${want[@]}"; do [[ $w == "$name" ]] && match=1; done
    [[ $match == 1 ]] || continue
  fi
  tracked=$(( tracked < max ? tracked : max ))
  file=$(capture "$scenario" "$size")
  tv=$FLOOD_DIR/$name.time
  read -r flows evicted witnesses packets < <(/usr/bin/time -v -o "$tv" "$MESHPROOF" audit read --json --max-flows "$max" "$file" \
                                               2>"$FLOOD_DIR/$name.stderr" | summarize)
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tv" | awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
  rss_kb[$name]=$kb
  flows_of[$name]=$flows
  [[ $name == baseline ]] && baseline_kb=$kb
  per=$(( (kb - baseline_kb) * 1024 / tracked ))
  printf "%-13s %9s %9s %9s %9s %8.2f %10.1f %13s  %s\n" "$name" "$packets" "$max" "$flows" "$evicted" "$secs" \
    "$(awk -v kb="$kb" 'BEGIN { print kb / 1024 }')" "$per" "$witnesses"
done
if [[ -n ${rss_kb[tls]:-} && -n ${rss_kb[tls-evicting]:-} ]]; then
  # tls-evicting: the table never holds more than 1000 flows; its RSS over the baseline is the
  # FlowRecords the report keeps (one per reported flow, evicted pieces included).
  report_b=$(( (rss_kb[tls-evicting] - baseline_kb) * 1024 / flows_of[tls-evicting] ))
  table_b=$(( ((rss_kb[tls] - baseline_kb) * 1024 - report_b * flows_of[tls]) / flows_of[tls] ))
  echo "report cost per finished flow (FlowRecord kept for the report until the end): ~$report_b B"
  echo "table cost per tracked flow once its verdict is final (tls minus its report share): ~$table_b B (target <= 256 B)"
fi
