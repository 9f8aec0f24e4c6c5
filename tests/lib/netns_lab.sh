# shellcheck shell=bash
# netns_lab.sh: a throw-away "node with pods" made of network namespaces, for
# capture tests and demos. Source it, then:
#
#   lab_create PREFIX            node namespace PREFIX-node holding bridge br0
#   lab_add_pod NAME IP[/LEN]    namespace PREFIX-NAME, eth0 = veth into br0
#   lab_exec POD cmd...          run in a pod ("node" = the node namespace)
#   lab_bg POD cmd...            start in the background; PID in LAB_LAST_PID
#   lab_wait_listen POD PORT     wait until a TCP socket listens on PORT
#   lab_capture_start IFACE FILE [filter...]   tcpdump in the node namespace
#   lab_capture_stop             flush and stop that tcpdump (file: LAB_CAPTURE_FILE)
#   lab_destroy                  kill everything started, delete namespaces
#   lab_install_traps            lab_destroy on EXIT, INT and TERM
#
# Extra nodes (for overlay tests): lab_add_node NODE, lab_add_pod NAME IP NODE,
# lab_link_nodes NODE_A IP_A NODE_B IP_B (a veth "underlay" between two nodes).
# Capturing one pod's traffic as on a Kubernetes node (its veth's node end):
#   LAB_CAPTURE_NODE=$(lab_pod_node web) lab_capture_start "$(lab_pod_veth web)" f.pcap
#
# Rules this file keeps: every command runs through `ip netns exec` inside a
# namespace it created; the host's own interfaces, routes and sysctls are never
# touched; no namespace gets a default route; addresses are whatever the caller
# passes (callers use 10.244.0.0/16). Everything is named PREFIX-*, so parallel
# labs with distinct prefixes (e.g. "mpcap-$$") do not collide. Needs root,
# iproute2 and tcpdump; ethtool is used when present to turn offloads off.

LAB_PREFIX=""
LAB_DIR=""
LAB_LAST_PID=""
LAB_CAPTURE_PID=""
LAB_CAPTURE_FILE=""  # file of the last capture started (for callers)
export LAB_CAPTURE_FILE
LAB_PIDS=()
LAB_NAMESPACES=()
declare -A LAB_POD_NS=()     # pod or node name -> namespace
declare -A LAB_NODE_OF=()    # pod name -> node name
declare -A LAB_POD_VETH=()   # pod name -> its veth's name in the node namespace
declare -A LAB_NODE_VETHS=() # node name -> number of veths made so far

lab_log() { printf '[lab] %s\n' "$*" >&2; }
lab_die() { printf '[lab] error: %s\n' "$*" >&2; return 1; }

# Namespace of a pod or node name; "node" is the default node.
lab_ns() {
  local name=$1
  [[ -n ${LAB_POD_NS[$name]:-} ]] || { lab_die "unknown pod or node '$name'"; return 1; }
  printf '%s\n' "${LAB_POD_NS[$name]}"
}

# Offloads off so that the capture shows wire-sized segments with real
# checksums (as a NIC would put them on the wire). ethtool if present, else
# cap GSO at one segment, which iproute2 can do without ethtool.
lab_offloads_off() {
  local ns=$1 dev=$2
  if command -v ethtool >/dev/null 2>&1; then
    ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  else
    ip netns exec "$ns" ip link set dev "$dev" gso_max_size 1500 gso_max_segs 1 2>/dev/null || true
  fi
}

# Quiet namespace: lo up, no IPv6 (no router solicitations or MLD in captures).
lab_prepare_ns() {
  local ns=$1
  ip netns exec "$ns" ip link set dev lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

lab_new_ns() {
  local ns=$1
  if ip netns list | awk '{print $1}' | grep -x -- "$ns" >/dev/null; then
    lab_die "namespace $ns already exists (prefix in use?)"; return 1
  fi
  ip netns add "$ns" || return 1
  LAB_NAMESPACES+=("$ns")
  lab_prepare_ns "$ns"
}

# lab_add_node NODE: a node namespace PREFIX-NODE with bridge br0 (up, no address).
lab_add_node() {
  local node=$1 ns="$LAB_PREFIX-$1"
  [[ -n $LAB_PREFIX ]] || { lab_die "lab_create first"; return 1; }
  lab_new_ns "$ns" || return 1
  LAB_POD_NS[$node]=$ns
  LAB_NODE_VETHS[$node]=0
  ip netns exec "$ns" ip link add br0 type bridge || return 1
  # No STP, no forwarding delay: frames pass as soon as ports are up.
  # No multicast snooping: the bridge would send IGMP reports into captures.
  ip netns exec "$ns" ip link set dev br0 type bridge stp_state 0 forward_delay 0 2>/dev/null || true
  ip netns exec "$ns" ip link set dev br0 type bridge mcast_snooping 0 2>/dev/null || true
  ip netns exec "$ns" ip link set dev br0 up
}

# lab_create PREFIX: start a lab. PREFIX must be short (interface-name limits do
# not apply to namespaces, but keep it readable) and unique, e.g. "mpcap-$$".
lab_create() {
  local prefix=$1
  [[ $prefix =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || { lab_die "bad prefix '$prefix'"; return 1; }
  [[ $(id -u) -eq 0 ]] || { lab_die "must run as root"; return 1; }
  command -v ip >/dev/null || { lab_die "iproute2 (ip) not found"; return 1; }
  LAB_PREFIX=$prefix
  LAB_DIR=$(mktemp -d "/tmp/$prefix.XXXXXX") || return 1
  lab_add_node node
}

# lab_add_pod NAME IP[/LEN] [NODE]: pod namespace PREFIX-NAME whose eth0 is a veth
# whose other end (vethN) is a port of NODE's br0. Default prefix length /16.
lab_add_pod() {
  local name=$1 addr=$2 node=${3:-node}
  local ns="$LAB_PREFIX-$name" node_ns idx peer
  [[ $addr == */* ]] || addr="$addr/16"
  node_ns=$(lab_ns "$node") || return 1
  [[ -z ${LAB_POD_NS[$name]:-} ]] || { lab_die "pod '$name' exists"; return 1; }
  lab_new_ns "$ns" || return 1
  LAB_POD_NS[$name]=$ns
  LAB_NODE_OF[$name]=$node
  idx=${LAB_NODE_VETHS[$node]}
  LAB_NODE_VETHS[$node]=$((idx + 1))
  peer="veth$idx"
  LAB_POD_VETH[$name]=$peer
  # Created inside the node namespace, then one end moved into the pod: the
  # root namespace never holds either end.
  ip netns exec "$node_ns" ip link add "$peer" type veth peer name eth0 netns "$ns" || return 1
  ip netns exec "$node_ns" ip link set dev "$peer" master br0
  lab_offloads_off "$node_ns" "$peer"
  lab_offloads_off "$ns" eth0
  ip netns exec "$node_ns" ip link set dev "$peer" up
  ip netns exec "$ns" ip addr add "$addr" dev eth0
  ip netns exec "$ns" ip link set dev eth0 up
}

# lab_pod_node POD: the node a pod hangs off. lab_pod_veth POD: the node-side
# end of its veth (a port of that node's br0).
lab_pod_node() {
  [[ -n ${LAB_NODE_OF[$1]:-} ]] || { lab_die "unknown pod '$1'"; return 1; }
  printf '%s\n' "${LAB_NODE_OF[$1]}"
}
lab_pod_veth() {
  [[ -n ${LAB_POD_VETH[$1]:-} ]] || { lab_die "unknown pod '$1'"; return 1; }
  printf '%s\n' "${LAB_POD_VETH[$1]}"
}

# lab_link_nodes NODE_A IP_A NODE_B IP_B: an "underlay" veth (uplink) between two
# node namespaces, addresses given with their prefix length (e.g. /30).
lab_link_nodes() {
  local a=$1 ip_a=$2 b=$3 ip_b=$4 ns_a ns_b
  ns_a=$(lab_ns "$a") || return 1
  ns_b=$(lab_ns "$b") || return 1
  ip netns exec "$ns_a" ip link add uplink type veth peer name uplink netns "$ns_b" || return 1
  lab_offloads_off "$ns_a" uplink
  lab_offloads_off "$ns_b" uplink
  ip netns exec "$ns_a" ip addr add "$ip_a" dev uplink
  ip netns exec "$ns_b" ip addr add "$ip_b" dev uplink
  ip netns exec "$ns_a" ip link set dev uplink up
  ip netns exec "$ns_b" ip link set dev uplink up
}

# lab_exec POD cmd...: run a command in POD's namespace (foreground).
lab_exec() {
  local ns
  ns=$(lab_ns "$1") || return 1
  shift
  ip netns exec "$ns" "$@"
}

# lab_bg POD cmd...: start a long-running command in POD's namespace in the
# background, stdout/stderr to $LAB_DIR/bg-PID.log. Its PID (the command itself:
# `ip netns exec` execs it) is recorded for lab_destroy and left in LAB_LAST_PID.
# Daemons must run in the foreground (nginx "daemon off", redis
# "--daemonize no", stunnel "foreground = yes") so that this PID is theirs.
lab_bg() {
  local ns log
  ns=$(lab_ns "$1") || return 1
  shift
  local fd
  log=$(mktemp "$LAB_DIR/bg.XXXXXX") || return 1
  # Opened here, not in the child: the rename below must not race the child's own open (it would
  # then write to a file under the old name and bg-PID.log would stay empty).
  exec {fd}>"$log" || return 1
  ip netns exec "$ns" "$@" </dev/null >&"$fd" 2>&1 &
  LAB_LAST_PID=$!
  exec {fd}>&-
  LAB_PIDS+=("$LAB_LAST_PID")
  mv -f "$log" "$LAB_DIR/bg-$LAB_LAST_PID.log"
}

# Log file of a process started with lab_bg.
lab_bg_log() { printf '%s\n' "$LAB_DIR/bg-$1.log"; }

# lab_wait_listen POD PORT [TIMEOUT_S]: wait until a TCP socket listens on PORT
# inside POD (ss), or fail after TIMEOUT_S (default 10).
lab_wait_listen() {
  local ns port=$2 timeout=${3:-10} i
  ns=$(lab_ns "$1") || return 1
  for ((i = 0; i < timeout * 20; i++)); do
    if ip netns exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep . >/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  lab_die "nothing listens on port $port in $1 after ${timeout}s"
}

# lab_wait_pid PID [TIMEOUT_S]: wait for a background process to exit by itself;
# 0 if it did (whatever its status), 1 on timeout (it is then left running for
# lab_destroy to kill).
lab_wait_pid() {
  local pid=$1 timeout=${2:-10} i
  for ((i = 0; i < timeout * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.05
  done
  return 1
}

# lab_capture_start IFACE FILE [filter...]: tcpdump on IFACE of the node
# namespace (NODE from LAB_CAPTURE_NODE, default "node"), full snap length,
# packet-buffered (-U), and wait until it is really capturing. One capture at a
# time.
lab_capture_start() {
  local iface=$1 file=$2 ns err i
  shift 2
  [[ -z $LAB_CAPTURE_PID ]] || { lab_die "a capture is already running"; return 1; }
  ns=$(lab_ns "${LAB_CAPTURE_NODE:-node}") || return 1
  err="$LAB_DIR/tcpdump.$$.$RANDOM.err"
  # --immediate-mode: hand each packet over at once; without it TPACKET_V3
  # holds packets in a ring block, and those still there when SIGINT comes are
  # never written. -Z root: keep root so it can write wherever FILE is.
  ip netns exec "$ns" tcpdump -n -U --immediate-mode -s 0 -Z root -i "$iface" -w "$file" "$@" \
    </dev/null >/dev/null 2>"$err" &
  LAB_CAPTURE_PID=$!
  LAB_CAPTURE_FILE=$file
  LAB_PIDS+=("$LAB_CAPTURE_PID")
  # tcpdump prints "listening on IFACE" once the socket is bound and the
  # filter installed: from then on no packet is missed.
  for ((i = 0; i < 200; i++)); do
    if grep -q 'listening on' "$err" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$LAB_CAPTURE_PID" 2>/dev/null; then
      cat "$err" >&2
      LAB_CAPTURE_PID=""
      lab_die "tcpdump exited"; return 1
    fi
    sleep 0.05
  done
  cat "$err" >&2
  lab_die "tcpdump did not start listening on $iface"
}

# lab_capture_stop: let the last packets (FIN/ACK) arrive, then SIGINT tcpdump,
# which flushes and closes the file.
lab_capture_stop() {
  local pid=$LAB_CAPTURE_PID
  [[ -n $pid ]] || return 0
  sleep "${LAB_CAPTURE_TAIL_S:-0.3}"
  kill -INT "$pid" 2>/dev/null || true
  if ! lab_wait_pid "$pid" 5; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  LAB_CAPTURE_PID=""
}

lab_kill_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# lab_destroy: stop the capture, kill every process we started (by PID), then
# any process still inside one of our namespaces (children of those servers,
# e.g. nginx workers; `ip netns pids` lists only processes in that namespace),
# then delete the namespaces, which deletes their veths, bridges and tunnels.
# Safe to call twice and from a trap. LAB_KEEP_DIR=1 keeps $LAB_DIR (logs).
lab_destroy() {
  # Best effort to the end, even under the caller's `set -e` (restored on return).
  local -
  set +e
  local pid ns pids existing
  [[ -n $LAB_PREFIX ]] || return 0
  if [[ -n $LAB_CAPTURE_PID ]]; then
    LAB_CAPTURE_TAIL_S=0 lab_capture_stop
  fi
  for pid in "${LAB_PIDS[@]}"; do
    lab_kill_pid "$pid"
  done
  LAB_PIDS=()
  # Also namespaces named PREFIX-* that this shell did not record (a failure
  # between `ip netns add` and bookkeeping): the prefix is ours alone.
  existing=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${LAB_PREFIX//./\\.}-" || true)
  for ns in "${LAB_NAMESPACES[@]}" $existing; do
    [[ -e /run/netns/$ns ]] || continue
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    for pid in $pids; do
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
  for ns in "${LAB_NAMESPACES[@]}" $existing; do
    [[ -e /run/netns/$ns ]] || continue
    ip netns del "$ns" 2>/dev/null || true
  done
  LAB_NAMESPACES=()
  LAB_POD_NS=()
  LAB_NODE_OF=()
  LAB_POD_VETH=()
  LAB_NODE_VETHS=()
  if [[ -n $LAB_DIR && -d $LAB_DIR && ${LAB_KEEP_DIR:-0} != 1 ]]; then
    rm -rf -- "$LAB_DIR"
  fi
  LAB_PREFIX=""
}

# lab_install_traps: clean up on any exit, including Ctrl-C and kill.
lab_install_traps() {
  trap 'lab_destroy' EXIT
  trap 'lab_log "interrupted"; exit 130' INT
  trap 'lab_log "terminated"; exit 143' TERM
}
