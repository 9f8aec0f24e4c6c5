#!/usr/bin/env bash
# The whole test suite (unit, integration, system) under AddressSanitizer + UndefinedBehaviorSanitizer,
# LeakSanitizer included. CI runs it after scripts/test.sh. Fails if a test fails or if any process
# (test binary, meshproof started by a system test, or its children) wrote a sanitizer report.
#
#   sudo scripts/sanitize.sh [CTEST ARGS...]       e.g. -R 'decode:'
#
# Built with clang-14 into build-asan (MESHPROOF_SANITIZE=ON) at -O1 with line tables only: quicker
# to compile and link than -O2 -g, and every report still names file:line. NDEBUG is not defined, so
# assert()s are checked too. The same build has MESHPROOF_FUZZ=ON, so scripts/fuzz.sh reuses its
# libraries instead of compiling everything a third time:
#   MESHPROOF_FUZZ_BUILD=build-asan scripts/fuzz.sh 30
# Warnings are the normal build's job (scripts/test.sh, g++ -Werror); this build does not add -Werror.
#
# Environment: MESHPROOF_SANITIZE_BUILD (build dir, default <repo>/build-asan), JOBS (build and
# ctest jobs, default nproc), MESHPROOF_CMAKE_ARGS (extra cmake arguments, e.g. a ccache launcher).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh --deps --clang

build=${MESHPROOF_SANITIZE_BUILD:-$root/build-asan}
jobs=${JOBS:-$(nproc)}
flags="-O1 -gline-tables-only"
# shellcheck disable=SC2086  # MESHPROOF_CMAKE_ARGS is a list of arguments
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" \
  -DMESHPROOF_SANITIZE=ON -DMESHPROOF_FUZZ=ON -DMESHPROOF_TESTS=ON ${MESHPROOF_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$jobs"

# Every instrumented process reads these, including the meshproof binaries the system tests start,
# the processes they fork and those that drop root for nobody. Reports do not go to stderr but to
# files in $logs, collected after ctest: a test that expects meshproof to fail (exit 1 for an unreadable
# input, any non-zero status for bad usage) would otherwise pass on a sanitizer report, and tests that
# compare stderr would fail for the wrong reason. A report also ends the process with status 99.
#  - UBSan: -fno-sanitize-recover at compile time, halt_on_error here: the first report is fatal.
#  - LeakSanitizer runs at the exit of every process (root, or dropped to nobody: checked, it works).
#  - detect_stack_use_after_return: also catches use of a returned stack frame (a span over a local).
#  - check_initialization_order/strict_init_order: static-initialisation-order bugs between components.
logs=$build/sanitizer-logs
rm -rf "$logs" && mkdir -p "$logs" && chmod 1777 "$logs"  # writable after the drop to nobody
san_common="log_path=$logs/report:exitcode=99:print_stacktrace=1:halt_on_error=1:symbolize=1:color=never"
export ASAN_OPTIONS="$san_common:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="$san_common"
for s in llvm-symbolizer-14 llvm-symbolizer; do
  if command -v "$s" >/dev/null; then export ASAN_SYMBOLIZER_PATH; ASAN_SYMBOLIZER_PATH=$(command -v "$s"); break; fi
done

rc=0
ctest --test-dir "$build" --output-on-failure -j"$jobs" "$@" || rc=$?
reports=("$logs"/report.*)
if [[ -e ${reports[0]} ]]; then
  echo "sanitize.sh: ${#reports[@]} sanitizer report(s):"
  for r in "${reports[@]}"; do echo "---- $r"; cat "$r"; done
  exit 1
fi
[[ $rc -eq 0 ]] && echo "sanitize.sh: all tests passed under ASan + UBSan, no sanitizer report"
exit "$rc"
