#!/usr/bin/env bash
# bench/live_rate.sh: how fast can `meshproof audit capture` listen without
# dropping? (issue 3, "Performance (benchmark)"; not part of ctest). Runs as root.
#
#   1. Creates two network namespaces of its own with a veth pair between them
#      (no addresses, no routes, IPv6 off, nothing in the host namespace): the
#      replayed 10.244.x.x packets never leave the pair.
#   2. For each capture tool and each rate, starts the tool on the receiving
#      end (pinned to LIVE_RATE_CAPTURE_CPU), replays the benchmark capture of
#      bench/run.sh into the sending end with tcpreplay (pinned to
#      LIVE_RATE_TX_CPU, --loop 1), waits 2 s, stops the tool with SIGINT and
#      reads its own counters: packets received, kernel drops, interface drops.
#      CPU comes from /usr/bin/time (user + sys, %P) and from /proc (the tool's
#      CPU seconds while the replay ran, and what everything else used on the
#      capture core in the same window: the noise of a shared machine).
#      Low rates replay only the first packets of the file, so that a step
#      lasts at most LIVE_RATE_STEP_SECONDS.
#   3. Repeats the deciding rates (the highest rate without kernel drops and
#      the first rate above it with drops) until each has LIVE_RATE_REPEAT
#      runs, then prints a table and, per tool, the highest rate at which that
#      run and every run at lower rates had zero kernel drops.
#
# Capture tools (LIVE_RATE_TOOLS, any of):
#   meshproof     meshproof audit capture -i IF --json (default 64 MiB kernel buffer)
#   tcpdump       tcpdump -i IF -w /dev/null           (default 2 MiB kernel buffer)
#   meshproof-b2  the same with --buffer-size 2        (tcpdump's buffer)
#   tcpdump-b64   the same with -B 65536               (meshproof's buffer)
#
# Environment:
#   MESHPROOF=PATH             binary to measure (default: ./build/meshproof of this repo)
#   BENCH_DIR=DIR              where bench/run.sh caches bench.pcap; also our work dir
#                              (default /var/tmp/meshproof-bench)
#   LIVE_RATE_PCAP=FILE        capture to replay (default BENCH_DIR/bench.pcap; run
#                              bench/run.sh once to build it)
#   LIVE_RATE_RATES="..."      Mbit/s values for tcpreplay --mbps, "top" for --topspeed
#                              (default "200 400 700 1000 1500 2000 top")
#   LIVE_RATE_TOOLS="..."      default "meshproof tcpdump meshproof-b2 tcpdump-b64"
#   LIVE_RATE_STEP_SECONDS=N   longest replay per step (default 25)
#   LIVE_RATE_REPEAT=N         runs of each deciding rate (default 2)
#   LIVE_RATE_PRELOAD=MODE     auto (default: --preload-pcap when free memory > 3x the
#                              file) | 1 | 0
#   LIVE_RATE_TX_CPU=N         core for tcpreplay (default 0)
#   LIVE_RATE_CAPTURE_CPU=N    core for the capture tool (default 1)
#   LIVE_RATE_PROFILE=MODE     auto (default): `perf record` meshproof once at the lowest
#                              rate where it dropped and tcpdump (same buffer) did not |
#                              RATE: always, at that rate | 0: never. The report goes to
#                              BENCH_DIR/live-rate-perf.txt
#   LIVE_RATE_UPDATE_DOC=1     also write the table into docs/performance.md (between its
#                              "live-rate:begin" and "live-rate:end" markers)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

MESHPROOF=${MESHPROOF:-$REPO/build/meshproof}
BENCH_DIR=${BENCH_DIR:-/var/tmp/meshproof-bench}
PCAP=${LIVE_RATE_PCAP:-$BENCH_DIR/bench.pcap}
RATES=${LIVE_RATE_RATES:-200 400 700 1000 1500 2000 top}
TOOLS=${LIVE_RATE_TOOLS:-meshproof tcpdump meshproof-b2 tcpdump-b64}
STEP_SECONDS=${LIVE_RATE_STEP_SECONDS:-25}
REPEAT=${LIVE_RATE_REPEAT:-2}
PRELOAD_MODE=${LIVE_RATE_PRELOAD:-auto}
TX_CPU=${LIVE_RATE_TX_CPU:-0}
CAP_CPU=${LIVE_RATE_CAPTURE_CPU:-1}
PROFILE=${LIVE_RATE_PROFILE:-auto}
WORK=$BENCH_DIR/live-rate          # one directory per step, rows.tsv
RESULTS=$BENCH_DIR/live-rate-results.md
PERF_REPORT=$BENCH_DIR/live-rate-perf.txt

# Our namespaces and veth ends; the PID keeps parallel runs apart.
NS_TX=lrate-tx-$$
NS_RX=lrate-rx-$$
IF_TX=lrtx$$
IF_RX=lrrx$$

log() { printf '[live-rate] %s\n' "$*" >&2; }
die() { printf '[live-rate] error: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ cleanup
STARTED_PIDS=()   # every background process we start, stopped by PID on exit
NAMESPACES=()

cleanup() {
  local pid ns
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${NAMESPACES[@]}"; do
    # Anything still running inside our own namespaces was started by us.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  done
}

# -------------------------------------------------------------- namespaces
make_namespaces() {
  local ns
  for ns in "$NS_TX" "$NS_RX"; do
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    # No IPv6 autoconfiguration: only replayed packets cross the pair.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  # Both ends are created directly inside our namespaces: the host never sees them.
  ip link add "$IF_TX" netns "$NS_TX" type veth peer name "$IF_RX" netns "$NS_RX"
  ip -n "$NS_TX" link set "$IF_TX" up
  ip -n "$NS_RX" link set "$IF_RX" up
  if command -v ethtool >/dev/null; then
    # GRO would merge replayed segments before the capture point.
    ip netns exec "$NS_RX" ethtool -K "$IF_RX" gro off >/dev/null 2>&1 || true
  fi
}

# ------------------------------------------------------------------ helpers
# "packets bytes" of a capture, with bench/run.sh's floor reader.
count_pcap() {
  local bin=$BENCH_DIR/bin/pcap_floor
  if [[ ! -x $bin || $HERE/pcap_floor.c -nt $bin ]]; then
    mkdir -p "$BENCH_DIR/bin"
    cc -O2 -Wall -Wextra -o "$bin" "$HERE/pcap_floor.c" -lpcap || die "cannot build pcap_floor"
  fi
  "$bin" "$1" | sed -n 's/.*packets=\([0-9]*\) bytes=\([0-9]*\).*/\1 \2/p'
}

# The file to replay at RATE: the whole capture, or its first packets when the
# whole one would take longer than STEP_SECONDS. Sets REPLAY_FILE, REPLAY_PACKETS,
# REPLAY_BYTES.
choose_file() {
  local rate=$1 want
  REPLAY_FILE=$PCAP REPLAY_PACKETS=$TOTAL_PACKETS REPLAY_BYTES=$TOTAL_BYTES
  [[ $rate == top ]] && return 0
  # packets that fit in STEP_SECONDS at RATE, rounded down to 10 000s so slices are reused
  want=$(awk -v r="$rate" -v s="$STEP_SECONDS" -v b="$TOTAL_BYTES" -v p="$TOTAL_PACKETS" \
    'BEGIN { n = r * 1e6 * s / 8 / (b / p); printf "%d", int(n / 10000) * 10000 }')
  ((want < TOTAL_PACKETS)) || return 0
  ((want > 0)) || die "rate $rate too low for LIVE_RATE_STEP_SECONDS=$STEP_SECONDS"
  REPLAY_FILE=$BENCH_DIR/live-rate-slice-$want.pcap
  if [[ ! -s $REPLAY_FILE || $PCAP -nt $REPLAY_FILE ]]; then
    log "slicing the first $want packets of $PCAP"
    tcpdump -r "$PCAP" -w "$REPLAY_FILE.part" -c "$want" 2>/dev/null
    mv -f "$REPLAY_FILE.part" "$REPLAY_FILE"
  fi
  read -r REPLAY_PACKETS REPLAY_BYTES < <(count_pcap "$REPLAY_FILE")
}

# Busy and total jiffies of one core, from /proc/stat.
core_jiffies() {
  awk -v c="cpu$1" '$1 == c { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}

# utime + stime of a process, in jiffies (0 when it is gone).
proc_jiffies() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  # Fields after the command name, which is in parentheses.
  awk '{ print $12 + $13 }' <<<"${stat##*) }"
}

# Waits until a packet socket is open in the receiving namespace.
wait_capture_ready() {
  local i
  for ((i = 0; i < 100; i++)); do
    if (($(ip netns exec "$NS_RX" cat /proc/net/packet | wc -l) > 1)); then
      sleep 0.5  # let the tool finish its setup (filter, privilege drop)
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# The capture command of TOOL; SAFETY_S bounds meshproof in case the stop signal is lost.
capture_cmd() {
  local tool=$1 safety_s=$2
  case $tool in
    meshproof) CAPTURE=("$MESHPROOF" audit capture -i "$IF_RX" --json --duration "$safety_s") ;;
    meshproof-b2) CAPTURE=("$MESHPROOF" audit capture -i "$IF_RX" --json --duration "$safety_s" --buffer-size 2) ;;
    tcpdump) CAPTURE=(tcpdump -i "$IF_RX" -w /dev/null) ;;
    tcpdump-b64) CAPTURE=(tcpdump -i "$IF_RX" -w /dev/null -B 65536) ;;
    *) die "unknown tool $tool (LIVE_RATE_TOOLS)" ;;
  esac
}

# perf report's text without blank lines, header comments and padding.
perf_tidy() {
  grep -v -e '^$' -e '^# [A-Z(]' -e '^#$' -e '^# \.' | sed -E 's/ +- +- *$//; s/ +$//'
}

# ------------------------------------------------------------------ one step
# run_step TOOL RATE [profile]: one replay at RATE while TOOL captures; appends
# a row to $WORK/rows.tsv (or, with "profile", writes the perf report instead).
run_step() {
  local tool=$1 rate=$2 profile=${3:-} run dir
  run=$(($(awk -v t="$tool" -v r="$rate" '$1 == t && $2 == r' "$WORK/rows.tsv" | wc -l) + 1))
  [[ -z $profile ]] || run=perf
  dir=$WORK/$tool-$rate-$run
  rm -rf "$dir"
  mkdir -p "$dir"
  choose_file "$rate"

  local safety_s
  safety_s=$(awk -v b="$REPLAY_BYTES" -v r="$rate" 'BEGIN {
    if (r == "top") r = 1000; printf "%d", 3 * b * 8 / (r * 1e6) + 120 }')
  capture_cmd "$tool" "$safety_s"
  local load1
  load1=$(cut -d' ' -f1 /proc/loadavg)
  log "$tool at $rate Mbit/s, run $run: $(basename "$REPLAY_FILE") ($REPLAY_PACKETS packets), load $load1"

  ip netns exec "$NS_RX" taskset -c "$CAP_CPU" /usr/bin/time -f '%e %U %S %P' -o "$dir/time" \
    "${CAPTURE[@]}" >"$dir/stdout" 2>"$dir/stderr" &
  local time_pid=$! tool_pid="" i
  STARTED_PIDS+=("$time_pid")
  wait_capture_ready || die "$tool did not open its capture (see $dir/stderr)"
  for ((i = 0; i < 50; i++)); do
    tool_pid=$(pgrep -P "$time_pid" | head -n 1) || true
    [[ -z $tool_pid ]] || break
    sleep 0.1
  done
  [[ -n $tool_pid ]] || die "cannot find $tool's process"
  STARTED_PIDS+=("$tool_pid")

  local perf_pid=""
  if [[ -n $profile ]]; then
    perf record --call-graph dwarf -p "$tool_pid" -o "$dir/perf.data" >"$dir/perf.log" 2>&1 &
    perf_pid=$!
    STARTED_PIDS+=("$perf_pid")
    sleep 1
  fi

  local replay=(tcpreplay -i "$IF_TX" --loop 1)
  if [[ $rate == top ]]; then replay+=(--topspeed); else replay+=(--mbps "$rate"); fi
  [[ $PRELOAD != 1 ]] || replay+=(--preload-pcap)
  local c0 t0 p0 c1 t1 p1 status=0
  read -r c0 t0 < <(core_jiffies "$CAP_CPU")
  p0=$(proc_jiffies "$tool_pid")
  # In the background: `wait` lets the INT/TERM traps run at once, a foreground command would not.
  ip netns exec "$NS_TX" taskset -c "$TX_CPU" "${replay[@]}" "$REPLAY_FILE" >"$dir/tcpreplay" 2>&1 &
  local replay_pid=$!
  STARTED_PIDS+=("$replay_pid")
  wait "$replay_pid" || status=$?
  # The ring's last block is handed over after the tools' 1 s (tcpdump) or
  # 100 ms-class (meshproof) timeout; meshproof also drains the ring on stop.
  sleep 2
  read -r c1 t1 < <(core_jiffies "$CAP_CPU")
  p1=$(proc_jiffies "$tool_pid")
  [[ -z $perf_pid ]] || { kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" || true; }
  kill -INT "$tool_pid" 2>/dev/null || true
  local tool_status=0
  for ((i = 0; i < 600; i++)); do
    kill -0 "$tool_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$tool_pid" 2>/dev/null && { log "$tool did not stop: killed"; kill -KILL "$tool_pid" 2>/dev/null || true; }
  wait "$time_pid" || tool_status=$?
  STARTED_PIDS=()  # all ended: their PIDs may be reused from here on
  ((status == 0)) || die "tcpreplay failed ($status): $(tail -n 3 "$dir/tcpreplay")"

  if [[ -n $profile ]]; then
    {
      printf '# perf record --call-graph dwarf -p <%s> during a replay at %s Mbit/s (%s)\n' "$tool" "$rate" "$(date -u '+%F %H:%M UTC')"
      grep -E '^(Actual|Rated):' "$dir/tcpreplay"
      tail -n 1 "$dir/stdout" | grep -o '"packets":[0-9]*' | head -n 1
      # `|| true`: head closes the pipe early (SIGPIPE under pipefail)
      printf '\n## self time by symbol\n'
      perf report -i "$dir/perf.data" --stdio --no-children --sort dso,symbol -g none --percent-limit 0.5 2>/dev/null |
        perf_tidy | head -n 60 || true
      printf '\n## inclusive time (with callees) by symbol\n'
      perf report -i "$dir/perf.data" --stdio --children --sort symbol -g none --percent-limit 2 2>/dev/null |
        perf_tidy | head -n 60 || true
      printf '\n## callers of the top self-time symbols\n'
      perf report -i "$dir/perf.data" --stdio --no-children --sort symbol -g caller,0.5,callee,function,percent \
        --percent-limit 4 2>/dev/null | perf_tidy | head -n 200 || true
    } >"$PERF_REPORT"
    log "profile written to $PERF_REPORT"
    return 0
  fi

  # tcpreplay: "Actual: N packets (B bytes) sent in S seconds",
  #            "Rated: X Bps, M Mbps, P pps"
  local sent replay_s mbps pps
  sent=$(sed -n 's/^Actual: \([0-9]*\) packets.*/\1/p' "$dir/tcpreplay")
  replay_s=$(sed -n 's/^Actual: .* sent in \([0-9.]*\) seconds.*/\1/p' "$dir/tcpreplay")
  mbps=$(sed -n 's/^Rated: .* \([0-9.]*\) Mbps.*/\1/p' "$dir/tcpreplay")
  pps=$(sed -n 's/^Rated: .* \([0-9.]*\) pps.*/\1/p' "$dir/tcpreplay")
  [[ -n $sent && -n $mbps ]] || die "cannot read tcpreplay's output: $dir/tcpreplay"

  local received kdrop ifdrop summary
  case $tool in
    meshproof*)
      summary=$(grep '"type":"summary"' "$dir/stdout" | tail -n 1)
      [[ -n $summary ]] || die "$tool wrote no summary (exit $tool_status): $(tail -n 3 "$dir/stderr")"
      received=$(grep -o '"packets":[0-9]*' <<<"$summary" | head -n 1 | cut -d: -f2)
      kdrop=$(grep -o '"dropped":{"kernel":[0-9]*' <<<"$summary" | grep -o '[0-9]*$' || echo 0)
      ifdrop=$(grep -o '"interface":[0-9]*}' <<<"$summary" | grep -o '[0-9]*' || echo 0)
      ;;
    tcpdump*)
      received=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured.*/\1/p' "$dir/stderr")
      kdrop=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$dir/stderr")
      ifdrop=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by interface.*/\1/p' "$dir/stderr")
      [[ -n $received && -n $kdrop ]] || die "$tool printed no statistics (exit $tool_status): $dir/stderr"
      ;;
  esac
  : "${ifdrop:=0}"

  # /usr/bin/time: elapsed user sys %P
  local elapsed user sys pct hz
  read -r elapsed user sys pct <"$dir/time"
  hz=$(getconf CLK_TCK)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$tool" "$rate" "$run" "$mbps" "$pps" "$sent" "$received" "$kdrop" "$ifdrop" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
    "$(awk -v d="$((p1 - p0))" -v hz="$hz" -v s="$replay_s" 'BEGIN { printf "%.0f", (s > 0 ? 100 * d / hz / s : 0) }')" \
    "${pct%\%}" \
    "$(awk -v b="$((c1 - c0))" -v t="$((t1 - t0))" -v p="$((p1 - p0))" \
      'BEGIN { o = (t > 0 ? 100 * (b - p) / t : 0); printf "%.0f", (o < 0 ? 0 : o) }')" \
    "$load1" "$replay_s" "$elapsed" >>"$WORK/rows.tsv"
}

# ------------------------------------------------------------ deciding rates
# Runs and drop-free runs of TOOL at RATE: "runs clean".
rate_runs() {
  awk -v t="$1" -v r="$2" '$1 == t && $2 == r { n++; if ($8 == 0) c++ } END { print n + 0, c + 0 }' "$WORK/rows.tsv"
}

# Index (in RATE_LIST) of TOOL's highest rate whose runs, and those of every
# lower rate, were all free of kernel drops; -1 when the lowest rate dropped.
highest_clean_index() {
  local tool=$1 i n c best=-1
  for ((i = 0; i < ${#RATE_LIST[@]}; i++)); do
    read -r n c < <(rate_runs "$tool" "${RATE_LIST[$i]}")
    ((n > 0 && c == n)) || break
    best=$i
  done
  echo "$best"
}

# Runs the deciding rates of TOOL (highest clean, first with drops) until each
# has REPEAT runs; a repeat that drops moves the decision down and goes on.
repeat_deciding() {
  local tool=$1 best i n c again=1
  while ((again)); do
    again=0
    best=$(highest_clean_index "$tool")
    for i in "$best" "$((best + 1))"; do
      ((i >= 0 && i < ${#RATE_LIST[@]})) || continue
      read -r n c < <(rate_runs "$tool" "${RATE_LIST[$i]}")
      if ((n < REPEAT)); then
        run_step "$tool" "${RATE_LIST[$i]}"
        again=1
        break
      fi
    done
  done
}

# --------------------------------------------------------------------- report
tool_command() {
  case $1 in
    meshproof) echo "meshproof audit capture -i IF --json" ;;
    meshproof-b2) echo "meshproof audit capture -i IF --json --buffer-size 2" ;;
    tcpdump) echo "tcpdump -i IF -w /dev/null" ;;
    tcpdump-b64) echo "tcpdump -i IF -w /dev/null -B 65536" ;;
  esac
}

report() {
  local tool best rate min_mbps
  {
    printf '| tool | rate asked | run | achieved Mbit/s | packets/s | sent | received | kernel drops | interface drops | CPU s (user+sys) | CPU %% while replaying | /usr/bin/time %%P | others on core %s %% | load (1 min) |\n' "$CAP_CPU"
    printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    for tool in $TOOLS; do
      for rate in "${RATE_LIST[@]}"; do
        awk -F'\t' -v t="$tool" -v r="$rate" '$1 == t && $2 == r {
          printf "| %s | %s | %s | %.0f | %.0f | %d | %d | %d | %d | %s | %s | %s | %s | %s |\n",
            $1, (r == "top" ? "topspeed" : r), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }' "$WORK/rows.tsv"
      done
    done
    printf '\nHighest rate with zero kernel drops in every run at that rate and below (CPU: one core for the tool, one for tcpreplay):\n\n'
    for tool in $TOOLS; do
      best=$(highest_clean_index "$tool")
      if ((best < 0)); then
        # shellcheck disable=SC2016 # backquotes are Markdown
        printf -- '- %s (`%s`): dropped already at %s Mbit/s\n' "$tool" "$(tool_command "$tool")" "${RATE_LIST[0]}"
        continue
      fi
      rate=${RATE_LIST[$best]}
      min_mbps=$(awk -F'\t' -v t="$tool" -v r="$rate" '$1 == t && $2 == r { if (m == "" || $4 < m) m = $4 } END { printf "%.0f", m }' "$WORK/rows.tsv")
      local above=""
      if ((best + 1 < ${#RATE_LIST[@]})); then
        above=$(awk -F'\t' -v t="$tool" -v r="${RATE_LIST[$((best + 1))]}" '$1 == t && $2 == r {
          d = d (d ? ", " : "") $8 } END { printf "; kernel drops at %s: %s", (r == "top" ? "topspeed" : r " Mbit/s"), d }' "$WORK/rows.tsv")
      else
        above="; the fastest tcpreplay could send"
      fi
      # shellcheck disable=SC2016 # backquotes are Markdown
      printf -- '- %s (`%s`): %s (%s Mbit/s achieved, lowest of its runs)%s\n' "$tool" "$(tool_command "$tool")" \
        "$([[ $rate == top ]] && echo topspeed || echo "$rate Mbit/s")" "$min_mbps" "$above"
    done
    if [[ " $TOOLS " == *" meshproof "* ]]; then
      best=$(highest_clean_index meshproof)
      min_mbps=0
      if ((best >= 0)); then
        min_mbps=$(awk -F'\t' -v r="${RATE_LIST[$best]}" '$1 == "meshproof" && $2 == r { if (m == "" || $4 < m) m = $4 } END { printf "%.0f", m }' "$WORK/rows.tsv")
      fi
      local verdict=MISSED
      if ((min_mbps >= 1000)); then
        verdict=met
      elif ((best == ${#RATE_LIST[@]} - 1)); then
        verdict="not shown: no drops at any rate tried"
      fi
      printf '\ntarget (issue 3): >= 1000 Mbit/s of mixed traffic with 0 kernel drops on one core: %s (%s Mbit/s)\n' \
        "$verdict" "$min_mbps"
    fi
    printf 'replayed: %s (%s packets, %s bytes, mean frame %s bytes); rates below %s Mbit/s replay its first packets (at most %s s per step)\n' \
      "$PCAP" "$TOTAL_PACKETS" "$TOTAL_BYTES" "$((TOTAL_BYTES / TOTAL_PACKETS))" \
      "$(awk -v b="$TOTAL_BYTES" -v s="$STEP_SECONDS" 'BEGIN { printf "%d", b * 8 / s / 1e6 + 1 }')" "$STEP_SECONDS"
    printf 'load average: %s at the start, %s at the end (%s cores)\n' "$LOAD_AT_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
  } >"$RESULTS"
  cat "$RESULTS"
}

update_doc() {
  local doc=$REPO/docs/performance.md block
  if ! grep -q '<!-- live-rate:begin -->' "$doc" || ! grep -q '<!-- live-rate:end -->' "$doc"; then
    die "docs/performance.md has no <!-- live-rate:begin --> / <!-- live-rate:end --> markers"
  fi
  block=$BENCH_DIR/live-rate-doc-block.md
  {
    # shellcheck disable=SC2016 # backquotes are Markdown
    printf 'Measured %s on %s (%s cores, %s, kernel %s), `%s`:\n\n' \
      "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(hostname)" "$(nproc)" \
      "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" "$(uname -r)" \
      "MESHPROOF=$MESHPROOF LIVE_RATE_REPEAT=$REPEAT bench/live_rate.sh"
    cat "$RESULTS"
  } >"$block"
  awk -v f="$block" '
    /<!-- live-rate:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
    /<!-- live-rate:end -->/ { skip = 0 }
    !skip { print }' "$doc" >"$doc.tmp" && mv -f "$doc.tmp" "$doc"
  log "updated $doc"
}

# ----------------------------------------------------------------------- main
main() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces)"
  local t
  for t in ip tcpreplay tcpdump taskset pgrep cc /usr/bin/time; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install -y tcpreplay)"
  done
  [[ -x $MESHPROOF ]] || die "meshproof binary not found: $MESHPROOF (set MESHPROOF=...)"
  [[ -s $PCAP ]] || die "no capture at $PCAP: run bench/run.sh once to build it (BENCH_TSHARK=skip BENCH_NDPI=0 is quicker)"
  (($(nproc) > TX_CPU && $(nproc) > CAP_CPU)) || die "need cores $TX_CPU and $CAP_CPU"
  read -r -a RATE_LIST <<<"$RATES"

  mkdir -p "$WORK"
  : >"$WORK/rows.tsv"
  trap cleanup EXIT
  trap 'log "interrupted"; exit 130' INT
  trap 'log "terminated"; exit 143' TERM

  read -r TOTAL_PACKETS TOTAL_BYTES < <(count_pcap "$PCAP")
  PRELOAD=$PRELOAD_MODE
  if [[ $PRELOAD == auto ]]; then
    local avail_kib
    avail_kib=$(awk '/^MemAvailable/ { print $2 }' /proc/meminfo)
    PRELOAD=$(((avail_kib * 1024) > 3 * TOTAL_BYTES ? 1 : 0))
  fi
  log "warming the page cache with $PCAP"
  cat "$PCAP" >/dev/null
  make_namespaces
  LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
  log "load average $LOAD_AT_START ($(nproc) cores); tcpreplay on core $TX_CPU, capture on core $CAP_CPU, preload $PRELOAD"

  local tool rate
  for tool in $TOOLS; do
    for rate in "${RATE_LIST[@]}"; do run_step "$tool" "$rate"; done
  done
  for tool in $TOOLS; do repeat_deciding "$tool"; done

  # Profile meshproof where it dropped and tcpdump with the same buffer did not.
  local prof=""
  if [[ $PROFILE == auto ]]; then
    local n c n2 c2 peer pair
    for pair in meshproof:tcpdump-b64 meshproof-b2:tcpdump; do
      tool=${pair%%:*} peer=${pair##*:}
      [[ " $TOOLS " == *" $tool "* && " $TOOLS " == *" $peer "* ]] || continue
      for rate in "${RATE_LIST[@]}"; do
        read -r n c < <(rate_runs "$tool" "$rate")
        read -r n2 c2 < <(rate_runs "$peer" "$rate")
        if ((n > c && n2 > 0 && c2 == n2)); then prof="$tool $rate"; break 2; fi
      done
    done
  elif [[ $PROFILE != 0 ]]; then
    prof="meshproof $PROFILE"
  fi
  if [[ -n $prof ]]; then
    command -v perf >/dev/null || die "perf not found (apt-get install -y linux-perf)"
    # shellcheck disable=SC2086 # "tool rate"
    run_step $prof profile
  fi

  printf '\n'
  report
  [[ ${LIVE_RATE_UPDATE_DOC:-0} != 1 ]] || update_doc
}

main "$@"
