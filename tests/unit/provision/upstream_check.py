#!/usr/bin/env python3
"""Checks plans (`meshproof plan --json`) against the upstream charts, CRDs and Kubernetes API models.

    upstream_check.py --upstream DIR PLAN.json...

DIR is ../shared/testdata/upstream (README there). For every step of every plan:
  - helm upgrade --install ... -f -: every value given exists in the chart's values.yaml (Istio's
    `_internal_defaults_do_not_set` and profile keys included; Kiali's config keys also from the Kiali
    CR schema), and the values coalesced over values.yaml validate against values.schema.json where
    the chart has one;
  - kubectl apply -f -: every custom resource validates against its CRD's openAPIV3Schema of the
    apiVersion it names, unknown fields rejected as the API server's pruning/strict validation would;
    built-in objects are checked for unknown, mistyped and missing required fields with
    kubernetes-1.36/api-models.json.
Prints one line per problem (`PLAN: step ID: document N (Kind/name): path: what`), then a summary;
exit 1 when there is a problem or nothing was checked, 0 otherwise. Standard library + python3-yaml +
python3-jsonschema (Debian).
"""
import argparse
import copy
import json
import os
import re
import sys

import jsonschema
import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Keys the Istio charts take from their profile files (manifests/helm-profiles), not values.yaml.
ISTIO_PROFILE_KEYS = {("profile",), ("global", "platform"), ("platform",)}

ISTIO_CHART_DIRS = {
    "istio/base": "manifests/charts/base",
    "istio/istiod": "manifests/charts/istio-control/istio-discovery",
    "istio/gateway": "manifests/charts/gateway",
    "istio/cni": "manifests/charts/istio-cni",
    "istio/ztunnel": "manifests/charts/ztunnel",
}


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)


def load_yaml_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=Loader) if d]


def deep_merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


class Upstream:
    def __init__(self, root):
        self.root = root
        self.notes = []
        self._crds = None
        self._models = None

    def versions(self, prefix):
        out = []
        for name in os.listdir(self.root):
            m = re.fullmatch(re.escape(prefix) + r"v?(\d+\.\d+\.\d+)", name)
            if m:
                out.append((tuple(int(x) for x in m.group(1).split(".")), name))
        return sorted(out)

    def data_dir(self, prefix, version):
        """The folder for `version`, or the nearest one we have (with a note saying so)."""
        have = self.versions(prefix)
        if not have:
            return None
        want = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)\.(\d+)", version).groups())
        for v, name in have:
            if v == want:
                return os.path.join(self.root, name)
        nearest = min(have, key=lambda vn: (abs(vn[0][0] - want[0]), abs(vn[0][1] - want[1]), abs(vn[0][2] - want[2])))
        note = f"no upstream data for {prefix}{version}: checked against {nearest[1]}"
        if note not in self.notes:
            self.notes.append(note)
        return os.path.join(self.root, nearest[1])

    def chart(self, chart, version):
        """(values.yaml tree, schema or None, extra key tree or None, label) of a chart."""
        if chart in ISTIO_CHART_DIRS:
            d = self.data_dir("istio-", version)
            if d is None:
                return None
            cd = os.path.join(d, ISTIO_CHART_DIRS[chart])
        elif chart == "metallb/metallb":
            d = self.data_dir("metallb-v", version)
            cd = d and os.path.join(d, "charts/metallb")
        elif chart == "kiali/kiali-server":
            d = self.data_dir("kiali-v", version)
            cd = d and os.path.join(d, "kiali-server")
        elif chart == "prometheus-community/prometheus":
            cd = self.data_dir("prometheus-", version)
        elif chart == "grafana/grafana":
            cd = self.data_dir("grafana-", version)
        else:
            return None
        if cd is None or not os.path.exists(os.path.join(cd, "values.yaml")):
            return None
        values = load_yaml(os.path.join(cd, "values.yaml")) or {}
        schema_path = os.path.join(cd, "values.schema.json")
        schema = json.load(open(schema_path, encoding="utf-8")) if os.path.exists(schema_path) else None
        extra = None
        if chart == "kiali/kiali-server":
            # The chart puts these keys into Kiali's config, whose keys are the Kiali CR's spec.
            od = self.data_dir("kiali-operator-v", version)
            crd = load_yaml_all(os.path.join(od, "kiali.io_kialis.yaml"))[0]
            extra = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        return values, schema, extra, os.path.relpath(cd, self.root)

    def crds(self):
        if self._crds is None:
            self._crds = {}
            files = []
            for v, name in self.versions("istio-"):
                files.append(os.path.join(self.root, name, "manifests/charts/base/files/crd-all.gen.yaml"))
            for v, name in self.versions("metallb-v"):
                files.append(os.path.join(self.root, name, "chart-crds-detemplated.yaml"))
            for path in files:
                for doc in load_yaml_all(path):
                    if doc.get("kind") != "CustomResourceDefinition":
                        continue
                    key = (doc["spec"]["group"], doc["spec"]["names"]["kind"])
                    # Several Istio releases: keep each (group, kind) per file so a plan is checked
                    # against the release it installs.
                    self._crds.setdefault(key, {})[os.path.relpath(path, self.root)] = doc
        return self._crds

    def models(self):
        if self._models is None:
            with open(os.path.join(self.root, "kubernetes-1.36/api-models.json"), encoding="utf-8") as f:
                self._models = json.load(f)
        return self._models


# ---------------------------------------------------------------- helm values

def value_paths(tree, prefix=()):
    """Leaf paths of a values tree (a map's keys; lists and scalars are leaves)."""
    if isinstance(tree, dict) and tree:
        for k, v in tree.items():
            yield from value_paths(v, prefix + (k,))
    else:
        yield prefix


def known_in_values(path, defaults):
    node = defaults
    for i, key in enumerate(path):
        if not isinstance(node, dict):
            return node is None  # a null default takes anything
        if not node and i > 0:
            return True  # an empty map default ({}): free-form
        if key not in node:
            return False
        node = node[key]
    return True


def known_in_schema(path, schema):
    node = schema
    for key in path:
        if node.get("x-kubernetes-preserve-unknown-fields") or node.get("type") not in (None, "object"):
            return True
        props = node.get("properties")
        if props is None:
            return "additionalProperties" in node or not node.get("type")
        if key not in props:
            return False
        node = props[key]
    return True


def check_values(problems, where, chart, version, values_text, up):
    info = up.chart(chart, version)
    if info is None:
        problems.append(f"{where}: no upstream data for chart {chart} {version}")
        return 0
    defaults, schema, extra, label = info
    ours = yaml.load(values_text, Loader=Loader) if values_text else {}
    if ours is None:
        ours = {}
    if not isinstance(ours, dict):
        problems.append(f"{where}: values are not a map")
        return 0
    istio = chart.startswith("istio/")
    lookup = defaults
    if istio:
        lookup = deep_merge(defaults, defaults.get("_internal_defaults_do_not_set") or {})
    n = 0
    for path in value_paths(ours):
        if not path:
            continue
        n += 1
        if istio and path[0] == "_internal_defaults_do_not_set":
            problems.append(f"{where}: {'.'.join(path)}: set the key itself, not under _internal_defaults_do_not_set")
            continue
        if known_in_values(path, lookup):
            continue
        if istio and any(path[: len(p)] == p for p in ISTIO_PROFILE_KEYS):
            continue
        if extra is not None and known_in_schema(path, extra):
            continue
        problems.append(f"{where}: value {'.'.join(path)} does not exist in {label}/values.yaml")
    if schema is not None:
        coalesced = deep_merge(defaults, ours)
        validator = jsonschema.Draft7Validator(schema)
        for err in sorted(validator.iter_errors(coalesced), key=lambda e: list(e.absolute_path)):
            p = ".".join(str(x) for x in err.absolute_path) or "<root>"
            problems.append(f"{where}: {p}: {err.message} ({label}/values.schema.json)")
    return n


# ---------------------------------------------------------------- custom resources

def strict(schema):
    """An openAPIV3Schema as JSON Schema that rejects unknown fields, as the API server does."""
    s = {}
    for k, v in schema.items():
        if k in ("properties",):
            s[k] = {pk: strict(pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            s[k] = strict(v)
        elif k in ("oneOf", "anyOf", "allOf"):
            s[k] = [strict(x) for x in v]
        elif k.startswith("x-kubernetes-") or k in ("description", "nullable", "format"):
            continue
        else:
            s[k] = v
    if schema.get("x-kubernetes-int-or-string"):
        s.pop("type", None)
        s["anyOf"] = s.get("anyOf", []) + [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in s:
        s["type"] = [s["type"], "null"]
    if (schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        s["additionalProperties"] = False
    return s


def check_custom_resource(problems, where, doc, group, version, up, istio_version):
    kind = doc.get("kind")
    per_file = up.crds().get((group, kind))
    if not per_file:
        problems.append(f"{where}: no CRD for {group}/{kind} in the upstream data")
        return
    # The CRD of the Istio release the plan installs (MetalLB has one).
    crd = None
    for path, c in per_file.items():
        if group.endswith("istio.io") and not path.startswith(f"istio-{istio_version}/"):
            continue
        crd = c
    if crd is None:
        crd = list(per_file.values())[-1]
        problems.append(f"{where}: no {group}/{kind} CRD for Istio {istio_version}")
    ver = next((v for v in crd["spec"]["versions"] if v["name"] == version), None)
    if ver is None:
        served = ", ".join(v["name"] for v in crd["spec"]["versions"] if v.get("served"))
        problems.append(f"{where}: apiVersion {group}/{version} does not exist (the CRD serves {served})")
        return
    if not ver.get("served", False):
        problems.append(f"{where}: apiVersion {group}/{version} is not served")
        return
    if ver.get("deprecated"):
        problems.append(f"{where}: apiVersion {group}/{version} is deprecated: {ver.get('deprecationWarning', '')}")
    schema = strict(ver["schema"]["openAPIV3Schema"])
    # apiVersion, kind and metadata are the API server's own (Istio's schemas leave them out).
    schema.setdefault("properties", {}).update(
        {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}})
    for err in sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path)):
        p = ".".join(str(x) for x in err.absolute_path) or "<root>"
        problems.append(f"{where}: {p}: {err.message}")
    check_model(problems, where, doc.get("metadata"), "V1ObjectMeta", "metadata", up.models())


# ---------------------------------------------------------------- built-in objects

def check_model(problems, where, value, typ, path, models):
    types = models["types"]
    if value is None or typ == "object":  # null decodes to the zero value, as in the API server
        return  # IntOrString, Quantity, RawExtension
    if typ.startswith("List["):
        if not isinstance(value, list):
            problems.append(f"{where}: {path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_model(problems, where, item, typ[5:-1], f"{path}[{i}]", models)
        return
    if typ.startswith("Dict[str, "):
        if not isinstance(value, dict):
            problems.append(f"{where}: {path}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            check_model(problems, where, v, typ[10:-1], f"{path}.{k}", models)
        return
    scalar = {"str": (str,), "datetime": (str,), "bytes": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}
    if typ in scalar:
        ok = isinstance(value, scalar[typ]) and not (typ in ("int", "float") and isinstance(value, bool))
        if not ok:
            problems.append(f"{where}: {path}: expected {typ}, got {type(value).__name__} {value!r}")
        return
    fields = types.get(typ)
    if fields is None:
        problems.append(f"{where}: {path}: unknown model {typ}")
        return
    if not isinstance(value, dict):
        problems.append(f"{where}: {path}: expected an object ({typ}), got {type(value).__name__}")
        return
    for req in models["required"].get(typ, []):
        if req not in value:
            problems.append(f"{where}: {path}: required field {req} missing ({typ})")
    for k, v in value.items():
        if k not in fields:
            problems.append(f"{where}: {path}.{k}: unknown field ({typ} has no {k})")
            continue
        check_model(problems, where, v, fields[k], f"{path}.{k}", models)


def check_builtin(problems, where, doc, group, version, up):
    models = up.models()
    kind = doc.get("kind", "")
    cls = version[0].upper() + version[1:] + kind
    if cls not in models["types"]:
        problems.append(f"{where}: {doc.get('apiVersion')}/{kind} is not a Kubernetes 1.36 API type")
        return
    doc = dict(doc)
    check_model(problems, where, {k: v for k, v in doc.items()}, cls, "", models)


BUILTIN_GROUPS = {"", "apps", "batch", "rbac.authorization.k8s.io", "policy", "networking.k8s.io", "autoscaling"}


def check_manifest(problems, where, text, up, istio_version):
    n = 0
    try:
        docs = [d for d in yaml.load_all(text, Loader=Loader) if d is not None]
    except yaml.YAMLError as e:
        problems.append(f"{where}: not YAML: {e}")
        return 0
    if not docs:
        problems.append(f"{where}: the manifest holds no object")
    for i, doc in enumerate(docs, 1):
        name = (doc.get("metadata") or {}).get("name", "?") if isinstance(doc, dict) else "?"
        w = f"{where}: document {i} ({doc.get('kind', '?') if isinstance(doc, dict) else '?'}/{name})"
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            problems.append(f"{w}: not a Kubernetes object (apiVersion and kind)")
            continue
        group, _, version = doc["apiVersion"].rpartition("/")
        n += 1
        if group in BUILTIN_GROUPS:
            check_builtin(problems, w, doc, group, version, up)
        else:
            check_custom_resource(problems, w, doc, group, version, up, istio_version)
    return n


# ---------------------------------------------------------------- plans

def flag(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


def check_plan(path, up):
    problems = []
    counts = {"objects": 0, "releases": 0, "values": 0}
    with open(path, encoding="utf-8") as f:
        plan = json.load(f)
    steps = plan.get("steps") or []
    istio_version = None
    for s in steps:
        argv = s["argv"]
        if argv[:3] == ["helm", "upgrade", "--install"] and argv[4].startswith("istio/"):
            istio_version = flag(argv, "--version")
    label = os.path.basename(path)
    for s in steps:
        argv, where = s["argv"], f"{label}: step {s['id']}"
        if argv[:3] == ["helm", "upgrade", "--install"]:
            chart, version = argv[4], flag(argv, "--version")
            counts["releases"] += 1
            if ("-f" in argv) != (s["stdin"] is not None):
                problems.append(f"{where}: values on stdin without -f - (or the reverse)")
            counts["values"] += check_values(problems, where, chart, version, s["stdin"], up)
        elif argv[:2] == ["kubectl", "apply"]:
            if s["stdin"] is None:
                problems.append(f"{where}: kubectl apply without a manifest")
                continue
            counts["objects"] += check_manifest(problems, where, s["stdin"], up, istio_version)
    return problems, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("plans", nargs="+")
    args = ap.parse_args()
    up = Upstream(args.upstream)
    total = {"objects": 0, "releases": 0, "values": 0}
    bad = 0
    for p in args.plans:
        problems, counts = check_plan(p, up)
        for line in problems:
            print(line)
        bad += len(problems)
        for k in total:
            total[k] += counts[k]
    for note in up.notes:
        print("note:", note)
    print(f"checked {len(args.plans)} plans: {total['objects']} objects, {total['releases']} releases, "
          f"{total['values']} values; {bad} problems")
    if total["objects"] == 0 or total["releases"] == 0:
        print("nothing was checked")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
