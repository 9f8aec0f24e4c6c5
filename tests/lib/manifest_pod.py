#!/usr/bin/env python3
"""Extracts the pod template of a workload manifest (DaemonSet, CronJob, Deployment, Job) as a
`kind: Pod` for `podman kube play`, so the container system test runs exactly the manifest's pod:
its securityContext, hostNetwork, command, args, env, ports and volume mounts are copied unchanged.

Only what a single machine without Kubernetes cannot provide is replaced, each by an explicit flag:
  --image IMAGE          the container image (the tag the build produced)
  --name NAME            the pod's name (unique per test run)
  --volume NAME=DIR      a volume (PVC, Secret, ConfigMap) becomes a hostPath directory; the
                         mount (path, readOnly) stays as the manifest says. emptyDir stays emptyDir.
  --env NAME=VALUE       an env value (e.g. the Pushgateway URL; fieldRef values need one)
  --arg=--OPT=VALUE      replaces the one container argument that starts with --OPT=
  --script-sub OLD=NEW   replaces text in a `sh -c` script argument (e.g. --duration=300s)
Fails (exit 1, naming the manifest) on anything it does not know how to carry over, e.g. a volume
kind without --volume, or a replacement that matches nothing.
"""
import argparse
import copy
import sys

import yaml

# Pod-spec fields podman kube play cannot honour and that have no meaning on one machine; dropped.
CLUSTER_ONLY = {"serviceAccountName", "automountServiceAccountToken", "tolerations", "nodeSelector",
                "dnsPolicy", "terminationGracePeriodSeconds", "affinity", "priorityClassName"}
CONTAINER_CLUSTER_ONLY = {"resources", "readinessProbe", "livenessProbe", "startupProbe"}


def die(msg):
    print(f"manifest_pod: {msg}", file=sys.stderr)
    sys.exit(1)


def pod_template(doc):
    kind = doc.get("kind")
    spec = doc.get("spec", {})
    if kind in ("DaemonSet", "Deployment", "StatefulSet", "Job"):
        return spec["template"]
    if kind == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]
    return None


def pairs(values, what):
    out = {}
    for v in values or []:
        if "=" not in v:
            die(f"{what} '{v}': expected NAME=VALUE")
        k, val = v.split("=", 1)
        out[k] = val
    return out


def convert(manifest, kind, args):
    with open(manifest) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    found = [d for d in docs if d.get("kind") == kind]
    if len(found) != 1:
        die(f"{manifest}: expected one {kind}, found {len(found)}")
    template = copy.deepcopy(pod_template(found[0]))
    spec = template["spec"]
    if len(spec.get("containers", [])) != 1:
        die(f"{manifest}: {kind} must have exactly one container")
    container = spec["containers"][0]

    volumes = pairs(args.volume, "--volume")
    for vol in spec.get("volumes", []):
        name = vol["name"]
        if "emptyDir" in vol and name not in volumes:
            continue
        if name not in volumes:
            die(f"{manifest}: volume '{name}' ({', '.join(k for k in vol if k != 'name')}) needs --volume {name}=DIR")
        vol.clear()
        vol.update({"name": name, "hostPath": {"path": volumes.pop(name), "type": "Directory"}})
    if volumes:
        die(f"{manifest}: no volume named {', '.join(volumes)}")

    envs = pairs(args.env, "--env")
    for e in container.get("env", []):
        if e["name"] in envs:
            e.pop("valueFrom", None)
            e["value"] = envs.pop(e["name"])
        elif "valueFrom" in e:
            die(f"{manifest}: env {e['name']} comes from {list(e['valueFrom'])}: give it with --env")
    if envs:
        die(f"{manifest}: no env named {', '.join(envs)}")

    for replacement in args.arg or []:
        if "=" not in replacement:
            die(f"--arg '{replacement}': expected --OPTION=VALUE")
        prefix = replacement[:replacement.index("=") + 1]
        hits = [i for i, a in enumerate(container.get("args", [])) if a.startswith(prefix)]
        if len(hits) != 1:
            die(f"{manifest}: --arg {prefix}: {len(hits)} arguments start with it, expected 1")
        container["args"][hits[0]] = replacement
    for old, new in pairs(args.script_sub, "--script-sub").items():
        hits = [i for i, a in enumerate(container.get("args", [])) if old in a]
        if len(hits) != 1:
            die(f"{manifest}: --script-sub {old}: found in {len(hits)} arguments, expected 1")
        container["args"][hits[0]] = container["args"][hits[0]].replace(old, new)

    container["image"] = args.image
    # podman 4.3 refuses containerPort with hostNetwork ("PortMappings can only be used with Bridge");
    # Kubernetes treats them as documentation there (the port is the host's anyway).
    if spec.get("hostNetwork"):
        container.pop("ports", None)
    for k in CONTAINER_CLUSTER_ONLY:
        container.pop(k, None)
    for k in CLUSTER_ONLY:
        spec.pop(k, None)
    metadata = {"name": args.name, "labels": template.get("metadata", {}).get("labels", {})}
    return found[0], {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("manifest")
    p.add_argument("kind")
    p.add_argument("--image", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--volume", action="append")
    p.add_argument("--env", action="append")
    p.add_argument("--arg", action="append")
    p.add_argument("--script-sub", action="append")
    args = p.parse_args()
    original, pod = convert(args.manifest, args.kind, args)
    # The security-relevant parts must come through untouched.
    src = pod_template(original)["spec"]
    for key in ("hostNetwork", "securityContext", "restartPolicy"):
        if src.get(key) != pod["spec"].get(key):
            die(f"{args.manifest}: {key} changed in conversion")
    src_c, out_c = src["containers"][0], pod["spec"]["containers"][0]
    for key in ("securityContext", "volumeMounts", "command"):
        if src_c.get(key) != out_c.get(key):
            die(f"{args.manifest}: container {key} changed in conversion")
    yaml.safe_dump(pod, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
