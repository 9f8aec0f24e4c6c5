#!/usr/bin/env bash
# Build the libFuzzer targets with clang-14 (ASan + UBSan) and run each one for a bounded time.
# Fails on any crash, sanitizer report, broken invariant, timeout or out-of-memory.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 30 s, every target)
#
# Environment:
#   MESHPROOF_FUZZ_BUILD  build dir (default <repo>/build-fuzz). If it is already configured with
#                         MESHPROOF_FUZZ=ON (scripts/sanitize.sh's build-asan is), it is used as it is;
#                         otherwise it is configured here with clang-14 and only the fuzz targets.
#   JOBS                  build jobs (default 2)
#   FUZZ_PARALLEL         targets fuzzed at the same time, one core each (default nproc)
# The committed seeds (tests/fuzz/corpus/<target>) are read, never written: what a run discovers goes
# to <build>/fuzz-corpus/<target>. A crash leaves its input in <build>/fuzz-artifacts/<target>/; to
# keep it as a regression, copy it to tests/fuzz/regressions/<target>/ (the `regressions` unit test
# replays every file there without libFuzzer).
set -euo pipefail

secs=${1:-30}
[[ $# -gt 0 ]] && shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MESHPROOF_FUZZ_BUILD:-$root/build-fuzz}
fuzz_dir=$root/tests/fuzz
parallel=${FUZZ_PARALLEL:-$(nproc)}

# clang-14, libclang-rt-14-dev (libFuzzer, sanitizer runtimes), llvm-14 (symbolizer). Needs root only
# when something is missing.
"$root/scripts/setup.sh" --deps --clang

if [[ -f $build/CMakeCache.txt ]] && grep -q '^MESHPROOF_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "fuzz.sh: reusing $build"
else
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESHPROOF_TESTS=OFF -DMESHPROOF_FUZZ=ON \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
fi
cmake --build "$build" --target fuzz_all -j "${JOBS:-2}"

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for h in "$fuzz_dir"/targets/*.hpp; do
    name=$(basename "$h" .hpp)
    [[ -x "$build/fuzz_$name" ]] && targets+=("$name")
  done
fi

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for s in llvm-symbolizer-14 llvm-symbolizer; do
  if command -v "$s" >/dev/null; then export ASAN_SYMBOLIZER_PATH; ASAN_SYMBOLIZER_PATH=$(command -v "$s"); break; fi
done

# One target: its log in <build>/fuzz-<target>.log, exit status in <build>/fuzz-<target>.status.
fuzz_one() {
  local t=$1
  local work=$build/fuzz-corpus/$t artifacts=$build/fuzz-artifacts/$t log=$build/fuzz-$t.log
  mkdir -p "$work" "$artifacts"
  local dirs=("$work")
  for d in "$fuzz_dir/corpus/$t" "$fuzz_dir/regressions/$t"; do [[ -d $d ]] && dirs+=("$d"); done
  local opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
              -artifact_prefix="$artifacts/")
  [[ -f $fuzz_dir/dict/$t.dict ]] && opts+=(-dict="$fuzz_dir/dict/$t.dict")
  local rc=0
  "$build/fuzz_$t" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1 || rc=$?
  echo "$rc" >"$build/fuzz-$t.status"
}

echo "fuzz.sh: ${#targets[@]} targets, ${secs}s each, $parallel at a time"
for t in "${targets[@]}"; do
  rm -f "$build/fuzz-$t.status"
  while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
  fuzz_one "$t" &
done
wait

failed=()
for t in "${targets[@]}"; do
  log=$build/fuzz-$t.log
  if [[ $(cat "$build/fuzz-$t.status" 2>/dev/null) == 0 ]]; then
    echo "ok   fuzz_$t: $(grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | tr -s '\n ' '  ')"
  else
    echo "FAIL fuzz_$t (log: $log)"
    grep -E "ERROR:|runtime error|fuzz invariant failed|Test unit written|SUMMARY" "$log" | head -8 || true
    failed+=("$t")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: crashes in: ${failed[*]}"
  echo "Reproduce: $build/fuzz_<target> <artifact>; keep it: cp <artifact> tests/fuzz/regressions/<target>/"
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${secs}s each, no crash"
