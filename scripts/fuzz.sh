#!/usr/bin/env bash
# Build the libFuzzer targets with clang-14 (ASan + UBSan) into build-fuzz and run each one for a
# bounded time. Fails on any crash, sanitizer report, broken invariant, timeout or out-of-memory.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 30 s, every target)
#
# Environment: MESHPROOF_FUZZ_BUILD (build dir, default <repo>/build-fuzz), JOBS (build jobs, 2).
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

for tool in clang-14 clang++-14; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool not found (apt-get install -y clang-14 libclang-rt-14-dev)" >&2; exit 2; }
done

cmake_args=(-S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESHPROOF_TESTS=OFF -DMESHPROOF_FUZZ=ON
            -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14)
cmake "${cmake_args[@]}" >/dev/null
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

failed=()
for t in "${targets[@]}"; do
  work=$build/fuzz-corpus/$t artifacts=$build/fuzz-artifacts/$t
  mkdir -p "$work" "$artifacts"
  dirs=("$work")
  for d in "$fuzz_dir/corpus/$t" "$fuzz_dir/regressions/$t"; do [[ -d $d ]] && dirs+=("$d"); done
  opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [[ -f $fuzz_dir/dict/$t.dict ]] && opts+=(-dict="$fuzz_dir/dict/$t.dict")
  echo "== fuzz_$t: ${secs}s"
  log=$build/fuzz-$t.log
  if UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$build/fuzz_$t" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$log" | tr '\n' ' '; echo
  else
    echo "FAIL fuzz_$t (log: $log)"
    grep -E "ERROR:|runtime error|fuzz invariant failed|Test unit written|SUMMARY" "$log" | head -8
    failed+=("$t")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: crashes in: ${failed[*]}"
  echo "Reproduce: $build/fuzz_<target> <artifact>; keep it: cp <artifact> tests/fuzz/regressions/<target>/"
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${secs}s each, no crash"
