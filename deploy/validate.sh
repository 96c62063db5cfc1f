#!/usr/bin/env bash
# deploy/validate.sh: static checks of everything in deploy/, no engine and
# no network needed (CI runs it):
#  - every compose file with `docker-compose -f F config -q` (compose.yaml
#    alone, with compose.local.yaml, swarm/stack.yaml)
#  - every Kubernetes manifest parses, and `kubectl kustomize` renders
#    deploy/k8s when kubectl is installed
#  - every sidecar configuration (deploy/sidecars/*.yaml with a state
#    directory as an enrollment leaves it, the file mode's
#    deploy/sidecars/files/*.yaml, swarm's copies in
#    deploy/swarm/sidecars/ and the ones
#    embedded in k8s/sidecar-configs.yaml) passes `cotai-proxy --check`
#    against freshly issued certificates at the paths they name (as root,
#    in a private mount namespace with a tmpfs over /run; skipped
#    with a note when not root or the binaries are missing)
#  - shell syntax of the scripts
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD=${COTAI_BUILD:-$repo/build}
fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*" >&2
	fails=$((fails + 1))
}

command -v docker-compose >/dev/null || {
	echo "validate: docker-compose missing (apt-get install docker-compose)" >&2
	exit 1
}

# 1. Compose files. Variables the local override requires get dummies.
export COTAI_TEST_BASE=${COTAI_TEST_BASE:-localhost/cotai-test-base:validate}
export COTAI_PROMETHEUS_IMAGE=${COTAI_PROMETHEUS_IMAGE:-localhost/cotai-prometheus:validate}
export COTAI_COLLECTOR_IMAGE=${COTAI_COLLECTOR_IMAGE:-localhost/cotai-collector:validate}
check_compose() { # DESC FILE...
	local desc=$1 args=() f
	shift
	for f in "$@"; do args+=(-f "$f"); done
	if out=$(cd "$here" && docker-compose "${args[@]}" config -q 2>&1 |
	    grep -v "use the 'configs' key, which will be ignored" |
	    grep -v "Compose does not support 'configs'"); [ -z "$out" ]; then
		ok "compose: $desc"
	else
		bad "compose: $desc: $out"
	fi
}
check_compose "compose.yaml" compose.yaml
check_compose "compose.yaml + compose.local.yaml" compose.yaml compose.local.yaml
check_compose "compose.yaml + compose.files.yaml" compose.yaml compose.files.yaml
check_compose "swarm/stack.yaml" swarm/stack.yaml
# docker-compose's exit status is what CI relies on; the grep above only
# hides Swarm's expected "configs ignored" notice.
for f in compose.yaml swarm/stack.yaml; do
	(cd "$here" && docker-compose -f "$f" config -q >/dev/null 2>&1) ||
	    bad "compose: $f (exit status)"
done

# The hardening contract of compose.yaml, on the merged configuration.
if (cd "$here" && docker-compose -f compose.yaml config) | python3 -c '
import sys, yaml
c = yaml.safe_load(sys.stdin)
bad = []
for name, n in c.get("networks", {}).items():
    if not (n or {}).get("internal"):
        bad.append("network %s is not internal" % name)
for name, s in c["services"].items():
    need = {
        "read_only": s.get("read_only") is True,
        "cap_drop ALL": "ALL" in (s.get("cap_drop") or []),
        "no-new-privileges": any(o.replace("=", ":") == "no-new-privileges:true"
                                 for o in s.get("security_opt") or []),
        "healthcheck": bool((s.get("healthcheck") or {}).get("test")),
        "non-root user": str(s.get("user", "0")).split(":")[0] not in ("", "0", "root"),
        "no published ports": not s.get("ports"),
    }
    bad += ["%s: %s" % (name, k) for k, ok in need.items() if not ok]
    for dep, d in (s.get("depends_on") or {}).items():
        if (d or {}).get("condition") != "service_healthy":
            bad.append("%s: depends_on %s without service_healthy" % (name, dep))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
'; then
	ok "compose: hardening (internal networks, read_only, cap_drop, no-new-privileges, healthchecks, non-root, no ports, service_healthy)"
else
	bad "compose: hardening"
fi

# The Swarm file also through the Docker CLI's own loader, when present
# (`docker stack config` needs no engine).
if docker stack config --help >/dev/null 2>&1; then
	if out=$(cd "$here" && docker stack config -c swarm/stack.yaml 2>&1 >/dev/null); then
		ok "swarm: docker stack config"
	else
		bad "swarm: docker stack config: $out"
	fi
else
	echo "note swarm: no docker CLI with 'stack config', checked by docker-compose only"
fi

# 2. Kubernetes manifests.
if python3 - "$here/k8s" <<'PY'; then ok "k8s: manifests parse"; else bad "k8s: manifests"; fi
import glob, sys, yaml
bad = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    for d in yaml.safe_load_all(open(f)):
        if not d or "kind" not in d:
            print("no kind in", f); bad = 1; continue
        if d["kind"] in ("Deployment", "StatefulSet"):
            spec = d["spec"]["template"]["spec"]
            sc = [c for c in spec.get("initContainers", [])
                  if c.get("restartPolicy") == "Always"]
            if not sc or not all("startupProbe" in c for c in sc):
                print(f, "lacks a native sidecar with a startupProbe"); bad = 1
sys.exit(bad)
PY
if command -v kubectl >/dev/null; then
	if kubectl kustomize "$here/k8s" >/dev/null 2>"${TMPDIR:-/tmp}/kustomize.err.$$"; then
		ok "k8s: kubectl kustomize renders"
	else
		bad "k8s: kubectl kustomize: $(cat "${TMPDIR:-/tmp}/kustomize.err.$$")"
	fi
	rm -f "${TMPDIR:-/tmp}/kustomize.err.$$"
else
	echo "note k8s: kubectl not installed, kustomize rendering not checked"
fi

# 3. Sidecar configurations against real certificates.
if [ "$(id -u)" -ne 0 ] || [ ! -x "$BUILD/cotai-proxy" ] ||
    [ ! -x "$BUILD/cotai-ca" ] || ! command -v unshare >/dev/null; then
	echo "note sidecar configs: not checked (needs root, unshare and" \
	    "$BUILD/cotai-proxy, cotai-ca)"
else
	W=$(mktemp -d "${TMPDIR:-/tmp}/cotai-validate.XXXXXX")
	trap 'rm -rf "$W"' EXIT
	chmod 0755 "$W"
	mkdir -p "$W/configs" "$W/bin"
	# A snapshot of the binaries: a rebuild under way must not race us.
	cp "$BUILD/cotai-proxy" "$BUILD/cotai-ca" "$W/bin/"
	cp "$here"/sidecars/*.yaml "$W/configs/"
	for f in "$here"/sidecars/files/*.yaml; do
		cp "$f" "$W/configs/files-$(basename "$f")"
	done
	for f in "$here"/swarm/sidecars/*.yaml; do
		cp "$f" "$W/configs/swarm-$(basename "$f")"
	done
	python3 - "$here/k8s/sidecar-configs.yaml" "$W/configs" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "ConfigMap":
        open("%s/k8s-%s.yaml" % (sys.argv[2], d["metadata"]["name"]), "w").write(
            d["data"]["cotai.yaml"])
PY
	# In a private mount namespace: /run/secrets is a tmpfs holding the
	# Compose layout (cotai-NAME/NAME.*) and the Kubernetes one (cotai/tls.*)
	# with certificates from a throwaway CA; each config is checked as
	# UID 10001, like in the containers.
	cat >"$W/inner.sh" <<'SH'
set -eu
W=$1 BUILD=$2
# Tmpfs over /run and /var/lib in this namespace only: nothing is created
# on the host.
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /var/lib
mkdir -m 0755 /run/secrets
export COTAI_CA_DIR=$W/pki
install -d -o 10001 -g 10001 -m 0700 "$W/pki"
run() { setpriv --reuid=10001 --regid=10001 --clear-groups "$@"; }
run "$BUILD/cotai-ca" --dir "$W/pki/ca" init --trust-domain validate.test >/dev/null
for n in backend postgres redis mongo prometheus collector; do
	install -d -o 10001 -g 10001 -m 0700 "/run/secrets/cotai-$n"
	run "$BUILD/cotai-ca" --dir "$W/pki/ca" issue "$n" --out "/run/secrets/cotai-$n" >/dev/null
done
# The automatic mode's secrets, and a state directory as an enrollment
# leaves it (filled per sidecar below).
cp "$W/pki/ca/ca.crt" /run/secrets/cotai-root
echo 0000 >/run/secrets/cotai-token
chmod 0444 /run/secrets/cotai-root /run/secrets/cotai-token
rc=0
for f in "$W"/configs/*.yaml; do
	name=$(basename "$f" .yaml)
	case $name in
	backend | postgres | redis | mongo | prometheus | collector)
		rm -rf /var/lib/cotai
		install -d -o 10001 -g 10001 -m 0700 /var/lib/cotai
		s=/run/secrets/cotai-$name
		cp -p "$s/$name.crt" /var/lib/cotai/cert.pem
		cp -p "$s/$name.key" /var/lib/cotai/key.pem
		cp -p "$s/ca.crt" /var/lib/cotai/bundle.pem
		cp -p "$s/crl.pem" /var/lib/cotai/crl.pem
		;;
	k8s-cotai-sidecar-*)
		n=${name#k8s-cotai-sidecar-}
		rm -rf /run/secrets/cotai
		install -d -o 10001 -g 10001 -m 0700 /run/secrets/cotai
		for x in crt key; do
			cp -p "/run/secrets/cotai-$n/$n.$x" "/run/secrets/cotai/tls.$x"
		done
		cp -p "/run/secrets/cotai-$n/ca.crt" "/run/secrets/cotai-$n/crl.pem" /run/secrets/cotai/
		;;
	esac
	if out=$(run "$BUILD/cotai-proxy" --check -c "$f" 2>&1); then
		echo "ok   sidecar config: $name"
	else
		echo "FAIL sidecar config: $name: $(echo "$out" | tail -n 1)"
		rc=1
	fi
done
exit $rc
SH
	chmod 0644 "$W"/configs/*.yaml
	if out=$(unshare --mount --propagation private bash "$W/inner.sh" "$W" \
	    "$W/bin" 2>&1); then
		echo "$out"
	else
		echo "$out" >&2
		bad "sidecar configs"
	fi
fi

# 4. Scripts.
for f in "$here"/*.sh "$here"/test/*.sh "$here"/k8s/*.sh; do
	if bash -n "$f"; then ok "bash -n ${f#"$repo"/}"; else bad "bash -n $f"; fi
done
python3 -m py_compile "$here/backend/backend.py" "$here/test/probe.py" \
    "$here/test/stack.py" &&
    ok "python: backend.py, probe.py, stack.py compile" || bad "python compile"
find "$here" -name __pycache__ -type d -prune -exec rm -rf {} +

[ $fails -eq 0 ] || { echo "validate: $fails failed" >&2; exit 1; }
echo "validate: all passed"
