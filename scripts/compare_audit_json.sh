#!/usr/bin/env bash
# Proves that two meshproof binaries give byte-identical `audit read --json` output (and the same exit
# status) on every shared capture: for a refactoring that must not change behaviour. Build BEFORE from
# main at the same commit the change is rebased on (other changes may alter the JSON on purpose).
#   scripts/compare_audit_json.sh BEFORE AFTER [DIR...]
# Default DIRs: ../shared/testdata/pcaps, ../shared/testdata/pcaps-more, tests/captures/pcaps.
# Prints one line per difference and a count; exit 1 on any difference or when no capture was found.
set -euo pipefail
usage() { echo "usage: $0 BEFORE AFTER [DIR...]" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
before=$1 after=$2
shift 2
[[ -x $before && -x $after ]] || { echo "$0: both binaries must be executable" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
dirs=("$@")
if [[ ${#dirs[@]} -eq 0 ]]; then
    dirs=("$root/../shared/testdata/pcaps" "$root/../shared/testdata/pcaps-more" "$root/tests/captures/pcaps")
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare-audit-json.$$.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

compared=0 differ=0
for dir in "${dirs[@]}"; do
    [[ -d $dir ]] || { echo "$0: $dir: not a directory" >&2; exit 2; }
    while IFS= read -r -d '' file; do
        rc_before=0 rc_after=0
        "$before" audit read --json "$file" >"$tmp/before" 2>/dev/null || rc_before=$?
        "$after" audit read --json "$file" >"$tmp/after" 2>/dev/null || rc_after=$?
        compared=$((compared + 1))
        if [[ $rc_before -ne $rc_after ]]; then
            echo "DIFFERS (exit $rc_before -> $rc_after): $file"
            differ=$((differ + 1))
        elif ! cmp -s "$tmp/before" "$tmp/after"; then
            echo "DIFFERS (output): $file"
            diff <(head -c 100000 "$tmp/before") <(head -c 100000 "$tmp/after") | head -5 || true
            differ=$((differ + 1))
        fi
    done < <(find "$dir" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 | sort -z)
done
echo "compared $compared captures: $((compared - differ)) identical, $differ different"
[[ $compared -gt 0 ]] || { echo "$0: no capture found" >&2; exit 1; }
[[ $differ -eq 0 ]]
