// The built-in lab spec. `meshproof init` writes this text; `plan`/`up` without -f parse it.
// Keep every field documented here and in docs/lab-spec.md.
#include "provision/spec.hpp"

namespace meshproof::provision {

std::string_view default_spec_yaml() {
    return R"yaml(# meshproof lab spec: MetalLB + Istio + ingress gateway + Kiali + Prometheus.
# Every field is optional; the values below are the built-in defaults.
# Reference: docs/lab-spec.md.  Check it with:  meshproof plan -f lab.yaml
apiVersion: meshproof.dev/v1alpha1
kind: Lab

# Names the journal and log directory (~/.local/state/meshproof/<name>/).
name: homelab

# kubectl/helm context to use; empty = the current context (shown by preflight).
kubeContext: ""

# Chart versions, pinned; the charts come from their helm repos (istio/base,
# istio/istiod, istio/gateway, metallb/metallb, kiali/kiali-server,
# prometheus-community/prometheus, grafana/grafana). Istio 1.30 and 1.29 are the
# supported lines (1.27.3 still works, out of support). Kiali and Prometheus follow
# the Istio line (the charts its samples/addons use: 2.26.0 and 28.13.0 for 1.30)
# unless you pin them here.
charts:
  istio: 1.30.3
  metallb: 0.15.2
  # kiali: 2.26.0
  # prometheus: 28.13.0
  grafana: 9.2.1

# Optional: the cluster's pod and service ranges, so a pool overlapping them is
# rejected before anything runs (up also reads them from the cluster when it can).
cluster:
  podCIDRs: []
  serviceCIDRs: []

# MetalLB hands out LoadBalancer IPs from this pool on your LAN (layer 2).
metallb:
  enabled: true
  pool:
    name: meshproof-pool
    # Free addresses on the nodes' LAN, outside your DHCP range:
    # ranges "first-last" or CIDRs "a.b.c.d/n".
    addresses:
      - 192.168.1.240-192.168.1.250
  # Without an L2Advertisement MetalLB assigns IPs but nobody answers ARP for them.
  l2Advertisement:
    enabled: true
    interfaces: []        # empty = announce on every interface
  values: {}              # extra metallb chart values

istio:
  mode: sidecar           # sidecar | ambient
  mtls: STRICT            # STRICT | PERMISSIVE (mesh-wide PeerAuthentication)
  values:                 # extra chart values, merged over ours
    base: {}
    istiod: {}
    cni: {}               # ambient only
    ztunnel: {}           # ambient only

# The istio/gateway chart, as a LoadBalancer with an IP from the pool.
ingress:
  namespace: istio-ingress
  serviceType: LoadBalancer   # LoadBalancer | NodePort | ClusterIP
  ports:
    # The chart's current mapping is 80->80 and 443->443; guides for older
    # charts use targetPort 8080/8443, which also works.
    http:
      port: 80
      targetPort: 80
    https:
      port: 443
      targetPort: 443
  values: {}

addons:
  prometheus:
    enabled: true
    values: {}
  kiali:
    enabled: true
    # anonymous | token | openid | header. "anonymous" lets anyone who can reach
    # the gateway see and change the mesh: status warns about it.
    auth: token
    values: {}
  grafana:
    enabled: false
    values: {}

# Routes through the ingress gateway (Gateway + VirtualServices), one host per addon.
# Point these names at the gateway IP (status prints an /etc/hosts line).
exposure:
  enabled: true
  hosts:
    kiali: kiali.home.arpa
    prometheus: prometheus.home.arpa
    grafana: grafana.home.arpa
  tls:
    # HTTPS on the https port with a self-signed certificate meshproof generates
    # (kept in the state directory) and stores in this Secret.
    enabled: false
    secretName: meshproof-ingress-tls

# Namespaces labelled for the mesh (istio-injection=enabled, or
# istio.io/dataplane-mode=ambient in ambient mode). Restart their pods afterwards.
injection:
  namespaces: []

# Demo client and echo server (the server accepts an Authorization header) for
# before/after sniffing.
demo:
  enabled: true
  namespace: meshproof-demo
  inject: true            # put the demo namespace in the mesh

# The in-cluster auditor (manifests/audit, docs/compliance.md): a DaemonSet running
# `meshproof audit serve` on every node (metrics on :9464, scraped by the Prometheus
# addon) and a CronJob that audits one node on a schedule. Installed after Prometheus.
auditor:
  enabled: false
  image: ghcr.io/meshproof/meshproof:0.1.0   # build it: manifests/audit/Dockerfile
  # Cron schedule of the audit Job; "" = DaemonSet only. The Job needs the Secret
  # meshproof-signing-key (meshproof keygen) and a PersistentVolume for its reports.
  schedule: "17 * * * *"
  pushgateway: ""         # http(s) URL the Job pushes its metrics to; "" = no push

# Per-release helm --timeout, in seconds.
timeouts:
  helm: 300
)yaml";
}

}  // namespace meshproof::provision
