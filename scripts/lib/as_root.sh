# Sourced by scripts/*.sh: run only what needs root as root. As root a command just runs; as a user it
# runs through sudo when sudo is installed, after saying what and why; without sudo it fails naming the
# command and how to get it run. COMMAND may be a shell function of the calling script (it is passed to
# a root bash with `declare -f`, so one sudo covers all its steps).
#   as_root "why it needs root" COMMAND [ARGS...]
as_root() {
  local why=$1
  shift
  local cmd=("$@")
  if declare -F "$1" >/dev/null; then
    cmd=(bash -c "set -euo pipefail; $(declare -f "$1"); \"\$0\" \"\$@\"" "$@")
  fi
  if [[ $(id -u) -eq 0 ]]; then
    "${cmd[@]}"
  elif command -v sudo >/dev/null 2>&1; then
    echo "${0##*/}: running as root via sudo ($why): $*" >&2
    sudo "${cmd[@]}"
  else
    echo "${0##*/}: needs root ($why) for: $*; run this script as root, or install sudo" >&2
    return 1
  fi
}
