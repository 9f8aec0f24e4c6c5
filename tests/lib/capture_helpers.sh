#!/usr/bin/env bash
# Background `meshproof audit capture` runs for the system tests. Source after tests/lib/netns_lab.sh
# (its traps kill what LAB_PIDS holds); the caller defines `fail MESSAGE`.

CAP_PID=""

# capture_start OUT ERR CMD...: runs CMD in the background (stdout to OUT, stderr to ERR; its PID in
# CAP_PID) and waits up to 20 s until it says it is capturing. Pass `ip netns exec NS meshproof ...`:
# ip execs meshproof, so CAP_PID is meshproof's own PID.
capture_start() {
  local out=$1 err=$2 i
  shift 2
  "$@" >"$out" 2>"$err" &
  CAP_PID=$!
  LAB_PIDS+=("$CAP_PID")
  for ((i = 0; i < 400; i++)); do
    grep -q 'capturing on' "$err" 2>/dev/null && return 0
    kill -0 "$CAP_PID" 2>/dev/null || { cat "$err" >&2; fail "audit capture exited early"; }
    sleep 0.05
  done
  cat "$err" >&2
  fail "audit capture did not start"
}

# capture_wait: waits up to 20 s for the capture to end (fails the test otherwise); its status in rc.
capture_wait() {
  local i
  for ((i = 0; i < 400; i++)); do
    kill -0 "$CAP_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$CAP_PID" 2>/dev/null && fail "audit capture did not end"
  rc=0
  wait "$CAP_PID" || rc=$?
}
