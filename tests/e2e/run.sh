#!/usr/bin/env bash
# End-to-end test of `meshproof plan/up/status/down` against a real, throwaway cluster.
#
#   MESHPROOF_E2E_KUBECONFIG=~/.kube/kind-e2e tests/e2e/run.sh
#
# Reference setup: kind with its docker network, as in Istio's samples/kind-lb (MetalLB hands out
# addresses from the top of the kind network, reachable from the host). Without
# MESHPROOF_E2E_KUBECONFIG it prints why it is skipped and exits 0.
#
# Environment:
#   MESHPROOF_E2E_KUBECONFIG  kubeconfig of the cluster to install into (required; it WILL be changed)
#   MESHPROOF_E2E_CONTEXT     context in it (default: its current context)
#   MESHPROOF_E2E_POOL        MetalLB pool, e.g. 172.18.255.200-172.18.255.250 (default: derived from
#                             the docker network "kind")
#   MESHPROOF_BIN             the meshproof binary (default: build/meshproof, then PATH)
#   MESHPROOF_E2E_KEEP=1      leave the lab installed at the end (default: down --purge)
set -uo pipefail

skip() { echo "e2e: SKIPPED: $*"; exit 0; }
fail() { echo "e2e: FAIL: $*" >&2; exit 1; }
pass() { echo "e2e: ok: $*"; }

[[ -n "${MESHPROOF_E2E_KUBECONFIG:-}" ]] ||
    skip "MESHPROOF_E2E_KUBECONFIG is not set (point it at the kubeconfig of a throwaway cluster, e.g. kind)"
[[ -r "$MESHPROOF_E2E_KUBECONFIG" ]] || fail "cannot read MESHPROOF_E2E_KUBECONFIG=$MESHPROOF_E2E_KUBECONFIG"
export KUBECONFIG="$MESHPROOF_E2E_KUBECONFIG"
command -v helm >/dev/null || fail "helm is not on PATH"
command -v kubectl >/dev/null || fail "kubectl is not on PATH"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${MESHPROOF_BIN:-}"
if [[ -z "$bin" ]]; then
    if [[ -x "$root/build/meshproof" ]]; then bin="$root/build/meshproof"; else bin="$(command -v meshproof || true)"; fi
fi
[[ -n "$bin" && -x "$bin" ]] || fail "no meshproof binary (build it, or set MESHPROOF_BIN)"

context="${MESHPROOF_E2E_CONTEXT:-$(kubectl config current-context 2>/dev/null)}"
[[ -n "$context" ]] || fail "no context in $KUBECONFIG"
kubectl --context "$context" version --request-timeout=10s >/dev/null 2>&1 ||
    fail "the cluster of context $context does not answer"

pool="${MESHPROOF_E2E_POOL:-}"
if [[ -z "$pool" ]]; then
    command -v docker >/dev/null || skip "MESHPROOF_E2E_POOL is not set and docker is not here to read the kind network"
    subnet="$(docker network inspect kind -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+\.')" ||
        skip "MESHPROOF_E2E_POOL is not set and there is no docker network 'kind'"
    # The top of the kind network, like Istio's samples/kind-lb: 172.18.0.0/16 -> 172.18.255.200-250.
    prefix="$(echo "$subnet" | cut -d. -f1-2)"
    pool="${prefix}.255.200-${prefix}.255.250"
fi

work="$(mktemp -d)"
state="$work/state"
lab="$work/lab.yaml"
cleanup() {
    if [[ "${MESHPROOF_E2E_KEEP:-0}" != "1" ]]; then
        "$bin" down -f "$lab" --yes --purge --kube-context "$context" --state-dir "$state" >"$work/down.log" 2>&1 ||
            echo "e2e: cleanup (down --purge) failed, see $work/down.log" >&2
    fi
}

cat >"$lab" <<YAML
name: e2e
kubeContext: "$context"
metallb:
  pool:
    addresses: ["$pool"]
istio:
  mtls: STRICT
addons:
  kiali:
    auth: token
exposure:
  hosts:
    kiali: kiali.e2e.test
    prometheus: prometheus.e2e.test
YAML
echo "e2e: context $context, pool $pool, state $state"

"$bin" plan -f "$lab" --json >"$work/plan.json" || fail "plan --json"
python3 -m json.tool "$work/plan.json" >/dev/null || fail "plan --json is not JSON"
pass "plan --json"

trap cleanup EXIT
"$bin" up -f "$lab" --yes --state-dir "$state" 2>&1 | tee "$work/up1.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail "up (see $work/up1.log and $state/meshproof.log)"
pass "up"

"$bin" up -f "$lab" --yes --state-dir "$state" >"$work/up2.log" 2>&1 || fail "second up (see $work/up2.log)"
grep -q "^up to date$" "$work/up2.log" || fail "second up did not say 'up to date' (see $work/up2.log)"
pass "second up is read-only and up to date"

"$bin" status -f "$lab" --state-dir "$state" >"$work/status.log" 2>&1 || { cat "$work/status.log"; fail "status not healthy"; }
grep -q "mTLS: STRICT" "$work/status.log" || fail "status does not show STRICT mTLS"
ip="$(sed -n 's/^gateway: \([^ ]*\) (answers on 15021)$/\1/p' "$work/status.log")"
[[ -n "$ip" ]] || fail "status shows no answering gateway IP"
pass "status healthy, gateway $ip"

code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Host: prometheus.e2e.test' "http://$ip/")"
[[ "$code" =~ ^(200|302|405)$ ]] || fail "Prometheus through the gateway answered HTTP $code"
pass "Prometheus reachable through the gateway (HTTP $code)"
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Host: kiali.e2e.test' "http://$ip/kiali/")"
[[ "$code" =~ ^(200|302)$ ]] || fail "Kiali through the gateway answered HTTP $code"
pass "Kiali reachable through the gateway (HTTP $code)"

kubectl --context "$context" -n meshproof-demo rollout status deployment/echo-server --timeout=180s >/dev/null ||
    fail "demo echo server not ready"
containers="$(kubectl --context "$context" -n meshproof-demo get pods -l app=echo-server -o jsonpath='{.items[0].spec.containers[*].name}')"
[[ "$containers" == *istio-proxy* ]] || fail "demo echo server has no sidecar (containers: $containers)"
pass "demo apps in the mesh"

trap - EXIT
if [[ "${MESHPROOF_E2E_KEEP:-0}" != "1" ]]; then
    "$bin" down -f "$lab" --yes --purge --state-dir "$state" >"$work/down.log" 2>&1 || fail "down --purge (see $work/down.log)"
    if helm --kube-context "$context" list -A -q | grep -qE '^(istiod|istio-base|metallb|kiali|prometheus|istio-ingress)$'; then
        fail "releases left after down --purge"
    fi
    pass "down --purge"
fi
echo "e2e: PASSED"
