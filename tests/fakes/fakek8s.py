"""Shared state and helpers of the fake `helm` and `kubectl` (tests/fakes/helm, tests/fakes/kubectl).

State lives in $FAKE_K8S_STATE (a directory): state.json (repos, releases, namespaces, objects),
calls.log (one JSON line per invocation), fail.json (failure rules). Python 3 standard library only.

Failure injection, checked before a command runs (first matching rule wins):
  fail.json: [{"step": "istiod", "match": "upgrade --install", "tool": "helm", "times": 1,
               "exit": 1, "stderr": "...", "hang": false}, ...]
    step   matches $MESHPROOF_STEP (set by meshproof for every step command)
    match  substring of the space-joined argv
    times  how many invocations fail (-1: all); decremented and saved
    hang   sleep until killed (writes hang.pid and hang-child.pid: a child in the same group)
    kill   SIGKILL itself partway: `helm upgrade --install` first records the new revision as
           pending-install/pending-upgrade (as a real helm killed mid-operation leaves it), other
           commands die before doing anything; "stderr" is printed first
  env FAKE_FAIL_STEP=<step>   every command of that step fails (real, non-transient error)
  env FAKE_HANG_STEP=<step>   every command of that step hangs
Other knobs: FAKE_LB_POLLS (default 2: gets of the gateway Service before it has an IP),
FAKE_WEBHOOK_WARMUP (default 0: MetalLB pool applies refused with "connection refused" after install),
FAKE_NO_CLUSTER=1, FAKE_NODES_NOT_READY=1, FAKE_SERVICE_CIDR=10.96.0.0/12, FAKE_NODE_IP,
FAKE_HELM_VERSION, FAKE_KUBECTL_VERSION, FAKE_SERVER_VERSION, FAKE_CONTEXT.
"""

import fcntl
import json
import os
import re
import sys
import time

STATE_DIR = os.environ.get("FAKE_K8S_STATE", "")

ISTIO_CRDS = [
    "authorizationpolicies.security.istio.io", "destinationrules.networking.istio.io",
    "envoyfilters.networking.istio.io", "gateways.networking.istio.io",
    "peerauthentications.security.istio.io", "proxyconfigs.networking.istio.io",
    "requestauthentications.security.istio.io", "serviceentries.networking.istio.io",
    "sidecars.networking.istio.io", "telemetries.telemetry.istio.io",
    "virtualservices.networking.istio.io", "wasmplugins.extensions.istio.io",
    "workloadentries.networking.istio.io", "workloadgroups.networking.istio.io",
]
METALLB_CRDS = [
    "bfdprofiles.metallb.io", "bgpadvertisements.metallb.io", "bgppeers.metallb.io",
    "communities.metallb.io", "ipaddresspools.metallb.io", "l2advertisements.metallb.io",
    "servicebgpstatuses.metallb.io", "servicel2statuses.metallb.io",
]

# kind -> (plural, group, namespaced)
KINDS = {
    "Namespace": ("namespaces", "", False),
    "Secret": ("secrets", "", True),
    "Service": ("services", "", True),
    "ServiceAccount": ("serviceaccounts", "", True),
    "ConfigMap": ("configmaps", "", True),
    "Deployment": ("deployments", "apps", True),
    "DaemonSet": ("daemonsets", "apps", True),
    "IPAddressPool": ("ipaddresspools", "metallb.io", True),
    "L2Advertisement": ("l2advertisements", "metallb.io", True),
    "BGPAdvertisement": ("bgpadvertisements", "metallb.io", True),
    "Gateway": ("gateways", "networking.istio.io", True),
    "VirtualService": ("virtualservices", "networking.istio.io", True),
    "PeerAuthentication": ("peerauthentications", "security.istio.io", True),
    "ClusterRole": ("clusterroles", "rbac.authorization.k8s.io", False),
    "ClusterRoleBinding": ("clusterrolebindings", "rbac.authorization.k8s.io", False),
    "CronJob": ("cronjobs", "batch", True),
    "PersistentVolumeClaim": ("persistentvolumeclaims", "", True),
}
RESOURCE_TO_KIND = {}
for _k, (_plural, _group, _ns) in KINDS.items():
    RESOURCE_TO_KIND[_plural] = _k
    RESOURCE_TO_KIND[_k.lower()] = _k
    if _group:
        RESOURCE_TO_KIND[_plural + "." + _group] = _k
RESOURCE_TO_KIND["svc"] = "Service"
RESOURCE_TO_KIND["cm"] = "ConfigMap"
RESOURCE_TO_KIND["deploy"] = "Deployment"
RESOURCE_TO_KIND["ns"] = "Namespace"


def die(msg, code=1, out=""):
    if out:
        sys.stdout.write(out)
    sys.stderr.write(msg if msg.endswith("\n") else msg + "\n")
    sys.exit(code)


# ---------------------------------------------------------------- state


class State:
    """state.json under an exclusive lock for the whole invocation."""

    def __init__(self):
        if not STATE_DIR:
            die("fake: FAKE_K8S_STATE is not set", 3)
        os.makedirs(STATE_DIR, exist_ok=True)
        self.lock = open(os.path.join(STATE_DIR, ".lock"), "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        path = os.path.join(STATE_DIR, "state.json")
        if os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)
        else:
            self.data = {}
        d = self.data
        d.setdefault("repos", {})
        d.setdefault("releases", {})
        d.setdefault("namespaces", {"default": {}, "kube-system": {}, "kube-public": {}})
        d.setdefault("objects", {})
        d.setdefault("polls", {})
        d.setdefault("crds", [])
        d.setdefault("webhook_warmup", None)

    def save(self):
        path = os.path.join(STATE_DIR, "state.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)

    # objects are keyed "Kind/namespace/name" ("Kind//name" when cluster-scoped)
    def key(self, kind, ns, name):
        return "%s/%s/%s" % (kind, ns if KINDS.get(kind, ("", "", True))[2] else "", name)

    def get(self, kind, ns, name):
        if kind == "Namespace":
            if name in self.data["namespaces"]:
                return namespace_object(name, self.data["namespaces"][name])
            return None
        return self.data["objects"].get(self.key(kind, ns, name))

    def put(self, obj):
        kind = obj["kind"]
        md = obj.setdefault("metadata", {})
        if kind == "Namespace":
            labels = self.data["namespaces"].setdefault(md["name"], {})
            labels.update(md.get("labels") or {})
            return
        self.data["objects"][self.key(kind, md.get("namespace", ""), md["name"])] = obj

    def delete(self, kind, ns, name):
        if kind == "Namespace":
            if name not in self.data["namespaces"]:
                return False
            del self.data["namespaces"][name]
            for k in [k for k in self.data["objects"] if k.split("/")[1] == name]:
                del self.data["objects"][k]
            return True
        return self.data["objects"].pop(self.key(kind, ns, name), None) is not None

    def items(self, kind, ns=None):
        if kind == "Namespace":
            return [namespace_object(n, l) for n, l in sorted(self.data["namespaces"].items())]
        out = []
        for k, obj in sorted(self.data["objects"].items()):
            okind, ons, _ = k.split("/", 2)
            if okind == kind and (ns is None or ons == ns):
                out.append(obj)
        return out

    def crd_installed(self, kind):
        group = KINDS.get(kind, ("", "", True))[1]
        if group.endswith("istio.io") or group.endswith("metallb.io"):
            return (KINDS[kind][0] + "." + group) in self.data["crds"]
        return True


def namespace_object(name, labels):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(labels)}, "status": {"phase": "Active"}}


# ---------------------------------------------------------------- invocation log and failures


def record_call(tool, argv, stdin_text):
    with open(os.path.join(STATE_DIR, "calls.log"), "a") as f:
        f.write(json.dumps({"tool": tool, "argv": argv, "step": os.environ.get("MESHPROOF_STEP", ""),
                            "stdin": stdin_text}) + "\n")


def hang():
    import subprocess  # only here: keeps every other invocation quick to start
    with open(os.path.join(STATE_DIR, "hang.pid"), "w") as f:
        f.write(str(os.getpid()))
    child = subprocess.Popen(["sleep", "1000"])
    with open(os.path.join(STATE_DIR, "hang-child.pid"), "w") as f:
        f.write(str(child.pid))
    time.sleep(1000)
    sys.exit(0)


def apply_failures(tool, argv):
    step = os.environ.get("MESHPROOF_STEP", "")
    if step and os.environ.get("FAKE_HANG_STEP") == step:
        hang()
    if step and os.environ.get("FAKE_FAIL_STEP") == step:
        die("Error: injected failure for step %s" % step, 1)
    path = os.path.join(STATE_DIR, "fail.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        rules = json.load(f)
    joined = " ".join(argv)
    for rule in rules:
        if rule.get("times", -1) == 0:
            continue
        if rule.get("tool") and rule["tool"] != tool:
            continue
        if rule.get("step") and rule["step"] != step:
            continue
        if rule.get("match") and rule["match"] not in joined:
            continue
        if rule.get("times", -1) > 0:
            rule["times"] -= 1
            with open(path, "w") as f:
                json.dump(rules, f)
        if rule.get("hang"):
            hang()
        if rule.get("kill"):
            # The caller does part of its work, then kill_self() (a helm killed mid-install).
            return rule
        die(rule.get("stderr", "Error: injected failure"), rule.get("exit", 1))
    return None


def kill_self(rule):
    """SIGKILL ourselves like the OOM killer or `kill -9` would, after printing the rule's stderr."""
    import signal
    if rule.get("stderr"):
        sys.stderr.write(rule["stderr"] if rule["stderr"].endswith("\n") else rule["stderr"] + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def cluster_reachable_or_die(tool):
    if os.environ.get("FAKE_NO_CLUSTER") == "1":
        if tool == "helm":
            die('Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:6443/version": dial tcp '
                "127.0.0.1:6443: connect: connection refused")
        die("The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?")


def check_context(argv, flag):
    want = os.environ.get("FAKE_CONTEXT", "fake-lab")
    if flag in argv:
        i = argv.index(flag)
        if i + 1 < len(argv) and argv[i + 1] != want:
            die('error: context "%s" does not exist' % argv[i + 1])


# ---------------------------------------------------------------- a YAML subset (our manifests)


def _strip_comment(s):
    out, quote = [], None
    for i, c in enumerate(s):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or s[i - 1] in " \t"):
            break
        out.append(c)
    return "".join(out).rstrip()


def _scalar(s):
    s = _strip_comment(s).strip()
    if s == "" or s in ("null", "~"):
        return None
    if s[0] == '"' and s.endswith('"'):
        return s[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
    if s[0] == "'" and s.endswith("'"):
        return s[1:-1].replace("''", "'")
    if s == "{}":
        return {}
    if s == "[]":
        return []
    if s[0] == "[" and s.endswith("]"):
        return [_scalar(x) for x in _split_flow(s[1:-1])]
    if s in ("true", "True"):
        return True
    if s in ("false", "False"):
        return False
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    return s


def _split_flow(s):
    parts, cur, quote = [], [], None
    for c in s:
        if quote:
            cur.append(c)
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            cur.append(c)
        elif c == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


_KEY = re.compile(r'^("(?:[^"\\]|\\.)*"|[^\s"\'\[{#-][^:#]*|-[^\s:][^:#]*):(?:\s+(.*))?$')


class _Parser:
    def __init__(self, lines):
        self.lines = lines
        self.i = 0

    def _skip(self):
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() == "" or line.lstrip().startswith("#"):
                self.i += 1
                continue
            break

    def _cur(self):
        line = self.lines[self.i]
        return len(line) - len(line.lstrip(" ")), line.strip()

    def node(self):
        self._skip()
        if self.i >= len(self.lines):
            return None
        ind, content = self._cur()
        if content == "-" or content.startswith("- "):
            return self.seq(ind)
        return self.map(ind)

    def map(self, ind):
        d = {}
        while True:
            self._skip()
            if self.i >= len(self.lines):
                return d
            ci, content = self._cur()
            if ci != ind or content == "-" or content.startswith("- "):
                return d
            m = _KEY.match(content)
            if not m:
                raise ValueError("cannot parse line: %r" % self.lines[self.i])
            key = m.group(1)
            if key.startswith('"'):
                key = key[1:-1]
            self.i += 1
            d[key.strip()] = self.value(m.group(2) or "", ind)

    def value(self, rest, ind):
        rest = _strip_comment(rest).strip()
        if rest in ("|", "|-", ">", ">-"):
            return self.block(ind, rest)
        if rest != "":
            return _scalar(rest)
        self._skip()
        if self.i >= len(self.lines):
            return None
        ni, nc = self._cur()
        if ni > ind:
            return self.node()
        if ni == ind and (nc == "-" or nc.startswith("- ")):
            return self.seq(ni)
        return None

    def seq(self, ind):
        out = []
        while True:
            self._skip()
            if self.i >= len(self.lines):
                return out
            ci, content = self._cur()
            if ci != ind or not (content == "-" or content.startswith("- ")):
                return out
            item = content[2:] if content.startswith("- ") else ""
            self.i += 1
            stripped = _strip_comment(item).strip()
            if stripped == "":
                out.append(self.value("", ind))
            elif stripped in ("|", "|-", ">", ">-"):
                out.append(self.block(ind, stripped))
            elif _KEY.match(stripped) and not stripped.startswith('"') or (
                    stripped.startswith('"') and _KEY.match(stripped)):
                self.lines.insert(self.i, " " * (ind + 2) + item)
                out.append(self.map(ind + 2))
            else:
                out.append(_scalar(item))

    def block(self, ind, style):
        lines = []
        block_ind = None
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() == "":
                lines.append("")
                self.i += 1
                continue
            li = len(line) - len(line.lstrip(" "))
            if li <= ind:
                break
            if block_ind is None:
                block_ind = li
            lines.append(line[block_ind:])
            self.i += 1
        while lines and lines[-1] == "":
            lines.pop()
        text = "\n".join(lines)
        return text if style.endswith("-") else text + "\n"


def parse_yaml_docs(text):
    docs, cur = [], []
    for line in text.split("\n"):
        if line.strip() == "---":
            docs.append(cur)
            cur = []
        else:
            cur.append(line)
    docs.append(cur)
    out = []
    for lines in docs:
        node = _Parser(lines).node()
        if node is not None:
            out.append(node)
    return out


# ---------------------------------------------------------------- MetalLB


def first_pool_address(state):
    import ipaddress
    pools = state.items("IPAddressPool")
    for pool in pools:
        for a in (pool.get("spec") or {}).get("addresses") or []:
            a = str(a)
            if "-" in a and "/" not in a:
                return a.split("-")[0].strip()
            net = ipaddress.ip_network(a, strict=False)
            hosts = list(net.hosts())[:1] if net.num_addresses > 2 else [net.network_address]
            return str(hosts[0])
    return ""
