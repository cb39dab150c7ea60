#!/usr/bin/env python3
"""ctest package.kubernetes: packaging/kubernetes/*.yaml parse, and the DaemonSet keeps its
invariants: not privileged, hostPID, the capability list, the probes on the metrics port, the
host mounts, tolerations for every node, and a config the agent itself accepts.

Usage: kubernetes_test.py SOURCE_DIR KSIGHT_BINARY
"""
import os
import re
import subprocess
import sys
import tempfile
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Checks, dig, skip  # noqa: E402

try:
    import yaml
except ImportError:
    skip("python3-yaml is not installed (tools/install-deps.sh test)")

CAPS = {"BPF", "PERFMON", "SYS_RESOURCE", "DAC_READ_SEARCH", "SYS_PTRACE"}
METRICS_PORT = 9815
HOST_MOUNTS = {"/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup", "/var/log/ksight"}


def main():
    src, binary = sys.argv[1], sys.argv[2]
    kdir = os.path.join(src, "packaging", "kubernetes")
    c = Checks()
    docs, files = [], sorted(f for f in os.listdir(kdir) if f.endswith(".yaml"))
    for f in files:
        try:
            with open(os.path.join(kdir, f)) as fh:
                loaded = [d for d in yaml.safe_load_all(fh) if d is not None]
            c.check(f"{f} parses as YAML", True)
            docs += [(f, d) for d in loaded]
        except yaml.YAMLError as e:
            c.check(f"{f} parses as YAML", False, str(e))
    by_kind = {}
    for f, d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)

    kust = (by_kind.get("Kustomization") or [{}])[0]
    c.check("kustomization.yaml lists every manifest",
            set(kust.get("resources", [])) == set(files) - {"kustomization.yaml"},
            f"{kust.get('resources')} vs {files}")
    ns = (by_kind.get("Namespace") or [{}])[0].get("metadata", {}).get("name")
    c.check("a Namespace", ns is not None)
    for f, d in docs:
        if d.get("kind") not in ("Namespace", "Kustomization", "ClusterRole", "ClusterRoleBinding"):
            c.check(f"{d['kind']} {d['metadata']['name']} is in namespace {ns}",
                    d["metadata"].get("namespace") == ns)

    dsets = by_kind.get("DaemonSet", [])
    if not c.check("exactly one DaemonSet", len(dsets) == 1):
        c.finish()
    pod = dsets[0]["spec"]["template"]
    spec = pod["spec"]
    c.check("selector matches the pod labels",
            dsets[0]["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items())
    c.check("hostPID: true", spec.get("hostPID") is True)
    c.check("no hostNetwork (metrics on the pod IP)", not spec.get("hostNetwork"))
    sa = (by_kind.get("ServiceAccount") or [{}])[0]
    c.check("runs as the ServiceAccount defined here",
            spec.get("serviceAccountName") == dig(sa, ["metadata", "name"]))
    # The token is for the kubelet's /pods only: RBAC grants get on nodes/pods and nothing else.
    c.check("token mounted for the kubelet's pod list", spec.get("automountServiceAccountToken") is True)
    c.check("the ServiceAccount itself mounts no token", sa.get("automountServiceAccountToken") is False)
    roles = by_kind.get("ClusterRole", [])
    rules = [r for role in roles for r in role.get("rules", [])]
    c.check("RBAC: exactly get on nodes/pods (not nodes/proxy, which allows exec)",
            rules == [{"apiGroups": [""], "resources": ["nodes/pods"], "verbs": ["get"]}], str(rules))
    bindings = by_kind.get("ClusterRoleBinding", [])
    c.check("the ClusterRole is bound to the agent's ServiceAccount only",
            len(bindings) == 1 and bindings[0]["roleRef"]["name"] == dig(roles[0] if roles else {}, ["metadata", "name"])
            and bindings[0]["subjects"] == [{"kind": "ServiceAccount", "name": dig(sa, ["metadata", "name"]),
                                              "namespace": ns}], str(bindings))
    c.check("tolerates every taint (operator: Exists, no key)",
            any(t.get("operator") == "Exists" and "key" not in t and "effect" not in t
                for t in spec.get("tolerations", [])))
    ann = pod["metadata"].get("annotations", {})
    c.check("prometheus scrape annotations on the metrics port",
            ann.get("prometheus.io/scrape") == "true"
            and ann.get("prometheus.io/port") == str(METRICS_PORT)
            and ann.get("prometheus.io/path") == "/metrics")

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    containers = spec.get("containers", [])
    c.check("one container", len(containers) == 1)
    ctr = containers[0]
    sc = ctr.get("securityContext", {})
    c.check("not privileged (privileged: false, explicitly)", sc.get("privileged") is False)
    c.check("allowPrivilegeEscalation: false", sc.get("allowPrivilegeEscalation") is False)
    c.check("readOnlyRootFilesystem: true", sc.get("readOnlyRootFilesystem") is True)
    caps = sc.get("capabilities", {})
    c.check("capabilities: drop ALL", caps.get("drop") == ["ALL"])
    c.check(f"capabilities: add exactly {sorted(CAPS)}", set(caps.get("add", [])) == CAPS,
            str(caps.get("add")))
    c.check("no SYS_ADMIN", "SYS_ADMIN" not in caps.get("add", []))

    ports = {p.get("name"): p.get("containerPort") for p in ctr.get("ports", [])}
    args = ctr.get("args", [])
    flags = dict(a.split("=", 1) if "=" in a else (a, "") for a in args if a.startswith("--"))
    maddr = flags.get("--metrics-addr", "")
    c.check("--metrics-addr binds every pod address on the metrics port",
            maddr == f"0.0.0.0:{METRICS_PORT}", maddr)
    for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                       ("startupProbe", "/healthz")):
        get = dig(ctr, [kind, "httpGet"]) or {}
        port = get.get("port")
        port = ports.get(port, port)
        c.check(f"{kind}: GET {path} on port {METRICS_PORT}",
                get.get("path") == path and port == METRICS_PORT, str(get))
    res = ctr.get("resources", {})
    c.check("resources: cpu and memory requests and limits",
            all(dig(res, [k, r]) for k in ("requests", "limits") for r in ("cpu", "memory")))
    env = {e["name"]: e for e in ctr.get("env", [])}
    c.check("NODE_IP from status.hostIP (kubelet_url auto)",
            dig(env.get("NODE_IP", {}), ["valueFrom", "fieldRef", "fieldPath"]) == "status.hostIP")
    node_env = re.fullmatch(r"\$\((\w+)\)", flags.get("--host-name", ""))
    c.check("--host-name is the node name (downward API spec.nodeName)",
            node_env is not None
            and dig(env.get(node_env.group(1), {}), ["valueFrom", "fieldRef", "fieldPath"])
            == "spec.nodeName")

    mounts = {m["mountPath"]: m for m in ctr.get("volumeMounts", [])}
    for path in sorted(HOST_MOUNTS):
        m = mounts.get(path)
        hp = dig(volumes.get(m["name"], {}) if m else {}, ["hostPath", "path"])
        c.check(f"mounts the host's {path}", hp == path, f"mount {m}, hostPath {hp}")
    for path, m in mounts.items():
        c.check(f"volume {m['name']} of {path} exists", m["name"] in volumes)
        if path != "/var/log/ksight":
            c.check(f"{path} is mounted read-only", m.get("readOnly") is True)

    # The config: the mounted ConfigMap has ksight.toml, and the agent accepts it.
    cms = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    cfg_mount = mounts.get("/etc/ksight")
    cm_name = dig(volumes.get(cfg_mount["name"], {}) if cfg_mount else {}, ["configMap", "name"])
    toml_text = dig(cms.get(cm_name, {}), ["data", "ksight.toml"])
    c.check("the ConfigMap mounted at /etc/ksight has ksight.toml", toml_text is not None)
    c.check("--config names that file", flags.get("--config") == "/etc/ksight/ksight.toml")
    if toml_text is not None:
        try:
            cfg = tomllib.loads(toml_text)
            c.check("ksight.toml parses (tomllib)", True)
            c.check("output lands in the /var/log/ksight hostPath",
                    str(cfg.get("output", "")).startswith("/var/log/ksight/"))
        except tomllib.TOMLDecodeError as e:
            c.check("ksight.toml parses (tomllib)", False, str(e))
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as tf:
            tf.write(toml_text)
            tf.flush()
            r = subprocess.run([binary, "check", "--config", tf.name], capture_output=True,
                               text=True)
            c.check("the agent accepts the ConfigMap's ksight.toml (ksight check --config: "
                    "no config error)", r.returncode != 2, r.stderr.strip())

    # Every flag in args is one the agent has.
    help_text = subprocess.run([binary, "run", "--help"], capture_output=True,
                               text=True).stdout
    known = set(re.findall(r"--[a-z][a-z-]+", help_text))
    c.check("command is /usr/sbin/ksight run", ctr.get("command") == ["/usr/sbin/ksight"]
            and args[:1] == ["run"])
    for flag in flags:
        c.check(f"ksight run has {flag}", flag in known)
    c.finish()


if __name__ == "__main__":
    main()
