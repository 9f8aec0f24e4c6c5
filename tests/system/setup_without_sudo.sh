#!/usr/bin/env bash
# The README's set-up and test commands (scripts/setup.sh, scripts/demo.sh, scripts/test.sh) work as
# root without sudo and as a user with sudo, escalating only apt-get, the demo and ctest and saying so;
# as a user without sudo they fail naming what needs root. Runs copies of the scripts against fakes of
# id, sudo, apt-get, dpkg-query, cmake, ctest and build/meshproof on a PATH without the real sudo, so
# nothing is installed or built and no root is needed; ~1 s.
set -uo pipefail
: "${MESHPROOF_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

repo=$tmp/repo fakes=$tmp/fakes tools=$tmp/tools log=$tmp/log
mkdir -p "$repo/build" "$fakes" "$tools"
cp -r "$MESHPROOF_SOURCE_DIR/scripts" "$repo/"
# Real tools the scripts use; everything else (sudo above all) is absent unless faked.
for t in bash dirname grep nproc cat; do ln -s "$(command -v $t)" "$tools/$t"; done
fake() {  # fake NAME BODY: a command that logs "NAME uid=FAKE_UID ARGS" then runs BODY
  printf '#!%s\necho "%s uid=$FAKE_UID $*" >>"%s"\n%s\n' "$(command -v bash)" "$1" "$log" "$2" >"$fakes/$1"
  chmod +x "$fakes/$1"
}
fake id 'echo "$FAKE_UID"'
fake dpkg-query 'case $3 in libpcap-dev) echo "install ok not-installed" ;; *) echo "install ok installed" ;; esac'
fake apt-get ''
fake debconf-set-selections 'cat >/dev/null'
fake cmake ''
fake ctest ''
fake sudo 'FAKE_UID=0 "$@"'
fake meshproof ''
mv "$fakes/meshproof" "$repo/build/meshproof"

run() {  # run UID WITH_SUDO SCRIPT ARGS...: stdout+stderr to $tmp/out, status in $rc
  local uid=$1 with_sudo=$2
  shift 2
  : >"$log"
  local path=$fakes:$tools
  if [[ $with_sudo == no ]]; then mkdir -p "$tmp/nosudo"; cp "$fakes"/* "$tmp/nosudo/"; rm "$tmp/nosudo/sudo"; path=$tmp/nosudo:$tools; fi
  rc=0
  (cd "$repo" && FAKE_UID=$uid PATH=$path bash "$@") >"$tmp/out" 2>&1 || rc=$?
}
expect_in_log() { grep -qxF -- "$1" "$log" || fail "$2: expected '$1' in the fakes' log: $(cat "$log")"; }

for script in scripts/setup.sh scripts/test.sh scripts/demo.sh; do
  args=(); [[ $script == scripts/demo.sh ]] && args=(--output demo-out)
  # As root without sudo: everything runs directly.
  run 0 no "$script" "${args[@]}"
  [[ $rc == 0 ]] || fail "$script as root without sudo exited $rc: $(cat "$tmp/out")"
  grep -q '^sudo ' "$log" && fail "$script as root called sudo"
  grep -q 'via sudo' "$tmp/out" && fail "$script as root said it escalates: $(cat "$tmp/out")"
  # As a user with sudo: only the root-needing step goes through sudo, after a line saying so.
  run 1000 yes "$script" "${args[@]}"
  [[ $rc == 0 ]] || fail "$script as a user with sudo exited $rc: $(cat "$tmp/out")"
  grep -q 'running as root via sudo' "$tmp/out" || fail "$script did not say it escalates: $(cat "$tmp/out")"
  case $script in
    scripts/setup.sh)
      expect_in_log "apt-get uid=0 install -y -q --no-install-recommends libpcap-dev" "setup.sh as user"
      expect_in_log "cmake uid=1000 --build build -j$(nproc)" "setup.sh builds as the user" ;;
    scripts/test.sh)
      expect_in_log "apt-get uid=0 install -y -q --no-install-recommends libpcap-dev" "test.sh as user"
      expect_in_log "cmake uid=1000 --build build -j$(nproc)" "test.sh builds as the user"
      expect_in_log "ctest uid=0 --test-dir build --output-on-failure -j$(nproc)" "test.sh runs ctest as root" ;;
    scripts/demo.sh)
      expect_in_log "meshproof uid=0 demo --output demo-out" "demo.sh as user" ;;
  esac
  # As a user without sudo: a clear failure naming what needs root, nothing run as root.
  run 1000 no "$script" "${args[@]}"
  [[ $rc != 0 ]] || fail "$script as a user without sudo succeeded"
  grep -q 'needs root (.*install sudo' "$tmp/out" || fail "$script without sudo: no clear message: $(cat "$tmp/out")"
  grep -q 'uid=0' "$log" && fail "$script without sudo ran something as root: $(cat "$log")"
done
echo "ok: setup.sh, test.sh and demo.sh as root without sudo, as a user with sudo and without"
