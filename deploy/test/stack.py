#!/usr/bin/env python3
# deploy/test/stack.py W ENGINE PROBE BASE: compose-test step 4, the test's
# stack file. From W/full.yaml (compose.yaml + compose.local.yaml as
# docker-compose merged them) it writes W/stack.yaml: mongo and what
# points at it dropped (MongoDB is not packaged by Debian 12), the build
# sections dropped (the images exist), the test's copies of the sidecar
# configurations (renewal at 1/3) mounted, and the probe added: a
# container on the mesh with the test's certificates (PROBE: probe.py,
# BASE: its image), started only when every other service is healthy.
# It also records each service's healthcheck (W/health.tsv: podman runs
# them by hand) and, for podman, the tmpfs volumes that podman-compose
# 1.0.3 would create without their driver_opts (W/volumes.tsv) and, as a
# label, the network aliases it would ignore (see deploy/test/podman-net.sh).
import sys, yaml
w, engine, probe, base = sys.argv[1:5]
c = yaml.safe_load(open(w + "/full.yaml"))
drop = {"mongo", "mongo-sidecar"}
for name in drop:
    c["services"].pop(name, None)
for name, s in c["services"].items():
    s.pop("build", None)
    # The test's copies of the sidecar configurations (renewal at 1/3).
    vols = []
    for v in s.get("volumes", []):
        if isinstance(v, str) and "/sidecars/" in v and v.endswith(
                ":/etc/cotai/cotai.yaml:ro"):
            v = "%s/sidecars/%s:/etc/cotai/cotai.yaml:ro" % (
                w, v.split(":")[0].rsplit("/", 1)[1])
        vols.append(v)
    if vols:
        s["volumes"] = vols
    dep = s.get("depends_on")
    if isinstance(dep, dict):
        for d in drop:
            dep.pop(d, None)
    elif isinstance(dep, list):
        s["depends_on"] = [d for d in dep if d not in drop]
    # podman-compose 1.0.3 only understands a plain list of networks and
    # ignores aliases: they are recorded as a label that
    # deploy/test/podman-net.sh turns into --network-alias.
    if engine == "podman" and isinstance(s.get("networks"), dict):
        al = sorted({a for n in s["networks"].values()
                     for a in (n or {}).get("aliases", [])})
        if al:
            lb = s.get("labels") or []
            if isinstance(lb, dict):
                lb = ["%s=%s" % kv for kv in lb.items()]
            s["labels"] = lb + ["cotai.compose-test.aliases=" + ",".join(al)]
        s["networks"] = sorted(s["networks"])
with open(w + "/health.tsv", "w") as f:
    for name, s in sorted(c["services"].items()):
        t = (s.get("healthcheck") or {}).get("test")
        if not t:
            sys.exit("service %s has no healthcheck" % name)
        if isinstance(t, str):
            t = ["CMD-SHELL", t]
        f.write("\t".join([name] + t) + "\n")
c["services"]["probe"] = {
    "image": base,
    "entrypoint": ["sleep", "infinity"],
    "user": "10001:10001",
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "networks": ["mesh"],
    "volumes": [probe + ":/probe.py:ro",
                w + "/probe-certs/backend:/certs/backend:ro",
                w + "/intruder:/certs/intruder:ro"],
    "depends_on": {s: {"condition": "service_healthy"}
                   for s in sorted(c["services"])},
}
used = set()
for s in c["services"].values():
    used |= set(s.get("networks", []))
c["networks"] = {k: v for k, v in c.get("networks", {}).items() if k in used}
yaml.safe_dump(c, open(w + "/stack.yaml", "w"), default_flow_style=False)
with open(w + "/volumes.tsv", "w") as f:
    for name, v in (c.get("volumes") or {}).items():
        o = (v or {}).get("driver_opts")
        if o and engine == "podman":
            f.write("%s\t%s\t%s\t%s\n" % (name, o["type"], o["device"], o["o"]))
