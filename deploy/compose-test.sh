#!/usr/bin/env bash
# deploy/compose-test.sh (make compose-test): deploy/compose.yaml with real
# containers on Docker Engine (ENGINE=podman: rootful podman), on images
# built here from Debian packages (no registry is reachable), then proofs,
# then a full teardown.
#
#  1. host: docker: docker.io (deploy/test/dockerd.sh starts dockerd when
#     none answers, and this test stops it at the end only if it started
#     it), docker-compose, debootstrap; podman: podman, runc,
#     podman-compose, netavark, aardvark-dns, debootstrap, docker-compose,
#     and the test's own containers.conf (CONTAINERS_CONF; the host's file
#     is left alone): runtime runc, explicit ulimits, network backend
#     netavark (with CNI, podman has no DNS on internal networks)
#  2. images: deploy/test/images.sh ENGINE (two Debian 12 minbase bases
#     made with debootstrap, updated from bookworm-security and cached in
#     $COTAI_CACHE; the cotai image from the sources of the last commit,
#     COMPOSE_TEST_SOURCE=worktree: from the working tree; the backend)
#  3. the CA and the tokens: deploy/certs.sh, with cotai-ca run from the new
#     image (a token per sidecar, Prometheus's and the collector's
#     included); then no private key exists under the secrets directory
#     but the CA's own (ca/). The test's "intruder" (a cotai certificate
#     for a name nobody allows) is issued afterwards into a directory of
#     the test's own, outside it
#  4. the stack: compose.yaml + compose.local.yaml merged by docker-compose,
#     minus mongo and mongo-sidecar (MongoDB is not packaged by Debian 12:
#     NOT covered here), plus a probe container on the mesh that depends on
#     every service being healthy. docker: `docker compose` (v2) when
#     installed, else `docker-compose` (v1.29); `up -d` itself waits for
#     each `depends_on: condition: service_healthy`, so when it returns
#     every healthcheck has passed (Docker runs them). podman-compose
#     ignores those conditions and podman has no systemd to run
#     healthchecks here: they are run by hand until all pass.
#  5. proofs: the backend's queries work through its sidecar; the backend
#     has no network path to any database or sidecar port; from the mesh,
#     the database ports are unreachable, a stranger without a certificate,
#     one with a certificate for a name not allowed and a plaintext client
#     all get nothing, while the backend's certificate (control) gets an
#     answer; nothing of the stack answers on any of its networks' gateway
#     address (the host, which `internal: true` does not cut off) and no
#     port is published; automatic rotation (60 s certificates, renewed at
#     a third): while the backend queries PostgreSQL and Redis every second
#     with no failure and no container restarts, every sidecar renews at
#     least three times and serves its new certificates, the CA stopped
#     for 20 s costs only failed renewal attempts and renewals resume when
#     it is back, and `cotai-ca revoke prometheus` in the ca container
#     takes Prometheus's scrapes down on every sidecar within the CRL
#     interval; a database sidecar moved to a new address is followed
#     (restarted from its identity volume, without a token)
#  5b. security operations: Prometheus (asked through its HTTP API inside
#     its container) has every sidecar's admin endpoint up as a target,
#     scraped on loopback through prometheus-sidecar (whose log shows each
#     scrape leaving over TLS 1.3 to the expected identity), and its
#     sidecar's own; a rogue container's connection attempt (claiming the
#     backend's name with a certificate from a CA of its own) makes
#     CotaiIdentityRefused fire (unknown_ca, not firing before); the
#     collector (rsyslog behind collector-sidecar's mTLS) has the close
#     records of the backend's traffic and the rogue's refusal, and took no
#     frame from the rogue without a certificate nor from the "intruder"
#     (refused by collector-sidecar's allow list); collector-sidecar
#     restarted leaves the collector in its old network namespace: the
#     collector's healthcheck fails, a restart of the collector rejoins it
#     and frames arrive again
#  6. teardown of every container, network and volume of the project, on
#     any exit
# Step 4's stack file is made by deploy/test/stack.py; the proofs 6d
# (security operations) and 7 (rotation) are deploy/test/secops.sh and
# deploy/test/rotation.sh, sourced here (they use the functions below).
#
# Environment: ENGINE (docker, the default, or podman), COMPOSE_TEST_PROJECT,
# COMPOSE_TEST_TAG, COMPOSE_TEST_DOCKERD_STATE (see P= below), COMPOSE_TEST_LIMIT
# (seconds for the whole run, default 1200), COMPOSE_TEST_ROTATION=0 (skip
# the rotation step: reported NOT covered), COMPOSE_TEST_TTL (the sidecars'
# certificates, default 60s), COMPOSE_TEST_HEALTH_FALLBACK=1
# (podman only, see healthy() below), KEEP=1 (keep the stack and the work
# directory for inspection; tear down later with
# `docker-compose -p cotai-test -f DIR/stack.yaml down -v`, or
# podman-compose likewise).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s)
LIMIT=${COMPOSE_TEST_LIMIT:-1200}
# Project name, image tag and dockerd state directory: override all three
# to run beside another compose-test on the same engine.
P=${COMPOSE_TEST_PROJECT:-cotai-test}
TAG=${COMPOSE_TEST_TAG:-compose-test}
E=${ENGINE:-docker}
case "$E" in
docker | podman) ;;
*) echo "compose-test: ENGINE must be docker or podman, not '$E'" >&2; exit 2 ;;
esac
# Where dockerd.sh keeps the state of a dockerd it started for this test.
DOCKERD_STATE=${COMPOSE_TEST_DOCKERD_STATE:-/run/cotai-compose-test-dockerd}

say() { printf '\n== [%4ds] %s\n' $(($(date +%s) - T0)) "$*"; }
fail() {
	echo "compose-test: FAIL: $*" >&2
	exit 1
}
left() { echo $((LIMIT - ($(date +%s) - T0))); }
# The engine's CLI (podman without the "no systemd for healthcheck timers"
# noise).
pm() {
	if [ "$E" = podman ]; then
		podman "$@" 2> >(grep -v 'systemd' >&2)
	else
		docker "$@"
	fi
}
# The compose tool on the test's stack file (within the time left, and at
# least two minutes).
dc() {
	local c t
	if [ "$E" = podman ]; then
		# podman-net.sh: network_mode service:X and aliases, which
		# podman-compose 1.0.3 gets wrong.
		c=(podman-compose --podman-path "$here/test/podman-net.sh")
	elif docker compose version >/dev/null 2>&1; then
		c=(docker compose)
	else
		c=(docker-compose)
	fi
	t=$(left)
	[ "$t" -gt 120 ] || t=120
	(cd "$W" && timeout "$t" "${c[@]}" -p "$P" -f stack.yaml "$@")
}
# cid SERVICE: the container of SERVICE (there is one of each).
cid() {
	local id
	if [ "$E" = podman ]; then
		echo "${P}_$1_1"
	else
		id=$(docker ps -aq --filter "label=com.docker.compose.project=$P" \
		    --filter "label=com.docker.compose.service=$1" | head -n1)
		[ -n "$id" ] || fail "no container for service $1"
		echo "$id"
	fi
}
# prom PATH: GET PATH from Prometheus's API, which listens on 127.0.0.1
# inside its own container only (bash's /dev/tcp: the image has no HTTP
# client); prints the body.
prom() {
	pm exec "$(cid prometheus)" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9090 &&
	    printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$1" >&3 &&
	    sed "1,/^\r\$/d" <&3' prom "$1"
}
# within SECONDS DESC COMMAND...: run COMMAND every second until it succeeds
# (bounded wait on an asynchronous result, not a healthcheck poll).
within() {
	local n=$1 desc=$2 i
	shift 2
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 1
	done
	echo "compose-test: FAIL: $desc: not within $n s" >&2
	return 1
}
if [ "$E" = podman ]; then
	LABEL=io.podman.compose.project=$P
else
	LABEL=com.docker.compose.project=$P
fi

[ "$(id -u)" -eq 0 ] || fail "run as root (rootful $E)"

W=$(mktemp -d /tmp/cotai-compose.XXXXXX)
chmod 0711 "$W"

project_down() {
	local ids n v l orphans
	if [ -s "$W/stack.yaml" ]; then
		orphans=()
		[ "$E" = podman ] || orphans=(--remove-orphans)
		# No drain wanted here: 5 s, not the sidecars' 35 s grace period.
		dc down -v -t 5 "${orphans[@]}" >>"$W/down.log" 2>&1 || true
	fi
	for l in "$LABEL" "cotai.compose-test=$P"; do
		ids=$(pm ps -aq --filter "label=$l")
		[ -z "$ids" ] || pm rm -f $ids >/dev/null 2>&1 || true
	done
	for n in $(pm network ls -q --filter "label=$LABEL"); do
		pm network rm "$n" >/dev/null 2>&1 || true
	done
	for v in $(pm volume ls -q --filter "label=$LABEL"); do
		pm volume rm -f "$v" >/dev/null 2>&1 || true
	done
	# aardvark-dns (podman) keeps a file per network, its first line the
	# gateway it listens on; one left behind by an earlier teardown that
	# went wrong is appended to when the network is made again, and
	# aardvark then listens on the old gateway only: no DNS on that
	# network (seen: mesh, every sidecar's renewals failing). This
	# project's files for networks that no longer exist go.
	[ "$E" = podman ] || return 0
	for n in /run/containers/networks/aardvark-dns/"${P}"_*; do
		[ -e "$n" ] || continue
		pm network exists "${n##*/}" 2>/dev/null || rm -f "$n"
	done
}

qpid=""
cleanup() {
	local rc=$? c
	set +e
	trap - EXIT INT TERM
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null
	if [ $rc -ne 0 ]; then
		for c in $(pm ps -a --format '{{.Names}}' --filter "label=$LABEL"); do
			echo "--- logs of $c (last 15 lines)" >&2
			pm logs --tail 15 "$c" 2>&1 | grep -v systemd >&2
		done
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "compose-test: KEEP=1: stack and $W left in place" >&2
	else
		say "teardown"
		project_down
		rm -rf "$W"
		# Only a dockerd this test started (dockerd.sh knows).
		[ "$E" != docker ] || "$here/test/dockerd.sh" stop "$DOCKERD_STATE"
	fi
	say "compose-test ($E): $([ $rc -eq 0 ] && echo PASSED || echo FAILED)" \
	    "in $(($(date +%s) - T0)) s"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
say "1. host packages and $E"
if [ "$E" = podman ]; then
	need="podman runc podman-compose netavark aardvark-dns debootstrap docker-compose
openssl python3-yaml"
else
	need="debootstrap docker-compose openssl python3-yaml"
fi
missing=""
for p in $need; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
	    $missing >"$W/apt.log" 2>&1 || {
		apt-get -o DPkg::Lock::Timeout=600 update -qq >>"$W/apt.log" 2>&1
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		    --no-install-recommends $missing >>"$W/apt.log" 2>&1 ||
		    { tail "$W/apt.log"; fail "apt-get install$missing"; }
	}
fi
if [ "$E" = docker ]; then
	"$here/test/dockerd.sh" start "$DOCKERD_STATE" || fail "no Docker Engine"
	echo "Docker Engine $(docker version -f '{{.Server.Version}}'), compose:" \
	    "$(if docker compose version >/dev/null 2>&1; then
		docker compose version --short
	    else docker-compose version --short; fi)"
else
	# The test's own containers.conf (CONTAINERS_CONF: read instead of the
	# host's, which stays as it is): runc, explicit ulimits (see
	# ../shared/notes/podman.md), and netavark with aardvark-dns, because
	# with the CNI backend podman turns DNS off on `internal: true`
	# networks, and every network of the stack is internal: the sidecars
	# could not resolve each other ("no address").
	cat >"$W/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
[network]
network_backend = "netavark"
CONF
	export CONTAINERS_CONF=$W/containers.conf
	[ "$(podman info --format '{{.Host.NetworkBackend}}')" = netavark ] ||
	    fail "podman does not use netavark with $CONTAINERS_CONF"
fi
project_down # leftovers of an interrupted earlier run of this test

# ---------------------------------------------------------------------------
say "2. images (deploy/test/images.sh $E; bases cached in ${COTAI_CACHE:-/var/cache/cotai})"
timeout "$(left)" "$here/test/images.sh" "$E" "$TAG" >"$W/images.env" ||
    fail "building the images"
# shellcheck disable=SC1091
. "$W/images.env"
test_base=$COTAI_TEST_BASE

# ---------------------------------------------------------------------------
say "3. the CA and one token per sidecar (deploy/certs.sh, cotai-ca from the image)"
export COTAI_SECRETS=$W/secrets COTAI_CA_IMAGE=$COTAI_IMAGE \
    COTAI_ENGINE=$E COTAI_TRUST_DOMAIN=compose.test COTAI_PERMIT_DNS=intruder
unset COTAI_WORKLOADS
"$here/certs.sh" >"$W/certs.log" 2>&1 || { cat "$W/certs.log"; fail "certs.sh"; }
grep -E '^(NAME|ca-server) |token' "$W/certs.log"
stat -c '%u:%g %a %n' "$W/secrets/tokens/redis" "$W/secrets/db-password"
for n in backend postgres redis mongo prometheus collector; do
	[ -s "$W/secrets/tokens/$n" ] || fail "certs.sh minted no token for $n"
	[ ! -e "$W/secrets/$n" ] || fail "certs.sh made files for the workload $n"
done
# No private key on the host but the CA's own: any file under the secrets
# directory outside ca/ that holds one (by content, whatever its name).
keys=$(find "$W/secrets" -path "$W/secrets/ca" -prune -o -type f -print0 |
    xargs -0 -r grep -l -- '-----BEGIN .*PRIVATE KEY-----' || true)
[ -z "$keys" ] || fail "private keys outside ca/: $keys"
find "$W/secrets" -path "$W/secrets/ca" -prune -o -type f -print |
    sed "s|^$W/secrets/|  |"
echo "no private key under the secrets directory outside ca/ (the CA's own):" \
    "tokens only"
# The test's "intruder": a cotai certificate for a name nobody allows
# (COTAI_PERMIT_DNS above), issued by cotai-ca from the image into the
# test's own directory, outside the secrets directory.
install -d -o 10001 -g 10001 -m 0700 "$W/intruder"
pm run --rm --no-healthcheck --label "cotai.compose-test=$P" --network none \
    --read-only --user 10001:10001 --cap-drop ALL \
    -v "$W/secrets:$W/secrets" -v "$W/intruder:$W/intruder" \
    --entrypoint /usr/local/bin/cotai-ca "$COTAI_IMAGE" --dir "$W/secrets/ca" \
    issue intruder --out "$W/intruder" >"$W/intruder.log" 2>&1 ||
    { cat "$W/intruder.log"; fail "issuing the intruder's certificate"; }
# The probe speaks as the backend with the backend sidecar's current
# certificate and key, copied out of its identity volume (backend_creds).
install -d -o 10001 -g 10001 -m 0700 "$W/probe-certs/backend"
# The sidecars' configurations with renewal at a third of the lifetime
# (the shipped ones say two thirds): with COMPOSE_TEST_TTL (60 s) a renewal
# every 20 s, and 40 s left at each, more than the 20 s the CA is stopped.
mkdir -p "$W/sidecars"
for n in backend postgres redis prometheus collector; do
	sed 's|^    crl_interval: 20s$|    crl_interval: 20s\n    at: "1/3"|' \
	    "$here/sidecars/$n.yaml" >"$W/sidecars/$n.yaml"
	grep -q 'at: "1/3"' "$W/sidecars/$n.yaml" || fail "sidecars/$n.yaml: no crl_interval line"
	chmod 0644 "$W/sidecars/$n.yaml"
done

# ---------------------------------------------------------------------------
say "4. the stack (compose.yaml + compose.local.yaml, without mongo, plus a probe)"
export COTAI_IMAGE COTAI_BACKEND_IMAGE COTAI_TEST_BASE COTAI_PROMETHEUS_IMAGE \
    COTAI_COLLECTOR_IMAGE COTAI_CERT_TTL=${COMPOSE_TEST_TTL:-60s}
docker-compose -p "$P" --project-directory "$here" -f "$here/compose.yaml" \
    -f "$here/compose.local.yaml" config >"$W/full.yaml"
# Drop mongo, add the probe, record the healthchecks (deploy/test/stack.py).
python3 "$here/test/stack.py" "$W" "$E" "$here/test/probe.py" "$test_base" ||
    fail "deploy/test/stack.py"
while IFS=$'\t' read -r v type dev opts; do
	podman volume create --label "$LABEL" \
	    --opt "type=$type" --opt "device=$dev" --opt "o=$opts" \
	    "${P}_$v" >/dev/null
done <"$W/volumes.tsv"
t=$(date +%s)
[ "$E" = podman ] ||
    echo "up -d: compose starts each service once what it depends on is healthy"
dc up -d >"$W/up.log" 2>&1 ||
    { tail -n 30 "$W/up.log"; fail "compose up"; }
echo "up -d returned after $(($(date +%s) - t)) s"
pm ps -a --filter "label=$LABEL" --format '{{.Names}}  {{.Image}}  {{.Status}}'

# ---------------------------------------------------------------------------
# healthy SERVICE: run SERVICE's healthcheck test in its container.
# COMPOSE_TEST_HEALTH_FALLBACK=1 (podman, only for a cotai-proxy without the
# `health` subcommand yet): a sidecar counts as healthy while its container
# runs; reported, and the sidecar healthcheck is then NOT covered.
healthy() {
	local line f
	line=$(awk -F'\t' -v s="$1" '$1 == s' "$W/health.tsv")
	IFS=$'\t' read -r -a f <<<"$line"
	if [ "${COMPOSE_TEST_HEALTH_FALLBACK:-0}" = 1 ] && [ "$E" = podman ] &&
	    [ "${f[2]:-}" = cotai-proxy ]; then
		[ "$(podman inspect -f '{{.State.Running}}' "$(cid "$1")")" = true ]
		return
	fi
	case "${f[1]}" in
	CMD) pm exec "$(cid "$1")" "${f[@]:2}" ;;
	CMD-SHELL) pm exec "$(cid "$1")" /bin/sh -c "${f[2]}" ;;
	*) return 1 ;;
	esac
}
if [ "$E" = docker ]; then
	say "5. healthchecks: Docker ran them; compose ordered the start on them"
	# No polling: the probe starts only once every service is healthy, and
	# `up -d` returned only after that. Shown here, once.
	bad=""
	while read -r s; do
		h=$(docker inspect -f '{{.State.Health.Status}}' "$(cid "$s")")
		echo "$s: $h"
		[ "$h" = healthy ] || bad="$bad $s"
	done < <(cut -f1 "$W/health.tsv")
	[ -z "$bad" ] || fail "not healthy after up -d:$bad"
	[ "$(docker inspect -f '{{.State.Running}}' "$(cid probe)")" = true ] ||
	    fail "the probe (depends on every service healthy) is not running"
else
	say "5. healthchecks (run by hand: no systemd timers here)"
	pending=$(cut -f1 "$W/health.tsv")
	limit=$(($(date +%s) + 180))
	while [ -n "$pending" ]; do
		still=""
		for s in $pending; do
			if healthy "$s" >"$W/hc-$s.out" 2>&1; then
				echo "healthy: $s ($(($(date +%s) - t)) s)"
			else
				still="$still $s"
			fi
		done
		pending=$still
		[ -z "$pending" ] && break
		if [ "$(date +%s)" -ge $limit ] || [ "$(left)" -le 0 ]; then
			for s in $pending; do
				echo "--- $s healthcheck output:" >&2
				cat "$W/hc-$s.out" >&2
			done
			fail "not healthy after 180 s:$pending"
		fi
		sleep 2
	done
	[ "${COMPOSE_TEST_HEALTH_FALLBACK:-0}" != 1 ] ||
	    echo "WARNING: COMPOSE_TEST_HEALTH_FALLBACK=1: sidecar healthchecks" \
	        "(cotai-proxy health) were NOT run, only 'container running'"
fi
echo "all healthy $(($(date +%s) - t)) s after up"

# ---------------------------------------------------------------------------
say "6a. the backend's queries, through its sidecar"
pm exec "$(cid backend)" cotai-backend check | tee "$W/check1.out"
grep -q 'check=postgres result=ok' "$W/check1.out" || fail "postgres query"
grep -q 'check=redis result=ok' "$W/check1.out" || fail "redis query"

ip_on() { # CONTAINER NETWORK: the container's address on that network
	pm inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" \
	    "$1" 2>/dev/null
}
pg_ip=$(ip_on "$(cid postgres)" "${P}_postgres-net")
redis_ip=$(ip_on "$(cid redis)" "${P}_redis-net")
pgsc_ip=$(ip_on "$(cid postgres-sidecar)" "${P}_mesh")
echo "postgres $pg_ip, redis $redis_ip, postgres-sidecar (mesh) $pgsc_ip"

say "6b. the backend has no network path of its own to any of them"
pm exec -i "$(cid backend)" python3 - "$pg_ip" "$redis_ip" "$pgsc_ip" <<'PY' || fail "the backend reached something directly"
import socket, sys, threading
pg, rd, sc = sys.argv[1:4]
# All at once (a name that does not resolve or an address that drops the
# SYN costs its whole timeout); reported in this order.
targets = [("postgres", 5432), ("redis", 6379),
           ("postgres-sidecar", 6432), ("redis-sidecar", 6380),
           (pg, 5432), (rd, 6379), (sc, 6432)]
seen = [None] * len(targets)
def attempt(i, host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        seen[i] = (1, "REACHED %s:%d" % (host, port))
    except OSError as e:
        seen[i] = (0, "no path to %s:%d (%s)" % (host, port, e))
threads = [threading.Thread(target=attempt, args=(i, h, p))
           for i, (h, p) in enumerate(targets)]
for t in threads:
    t.start()
for t in threads:
    t.join()
bad = 0
for reached, line in seen:
    print(line)
    bad |= reached
sys.exit(bad)
PY

say "6c. from the mesh: database ports unreachable, strangers get nothing"
# The probe is the stack's "probe" service (see step 4).
probe() { pm exec "$(cid probe)" python3 /probe.py "$@"; }
# The probes run at once (a refusal costs the probe's 3 s timeout) and are
# reported in the order they were started, once all have finished.
# must_fail DESC PROBE-ARGS...: the probe must get nothing back.
# must_pass DESC PROBE-ARGS...: the probe must get its answer (a control).
# probes_check: wait for them, print each result, fail on the first wrong one.
mkdir -p "$W/6c"
probes_n=0
probes_kind=() probes_desc=() probes_pid=()
probe_bg() {
	local kind=$1 desc=$2 i=$probes_n
	shift 2
	(
		rc=0
		probe "$@" >"$W/6c/$i.out" 2>&1 || rc=$?
		echo "$rc" >"$W/6c/$i.rc"
	) &
	probes_pid[i]=$!
	probes_kind[i]=$kind
	probes_desc[i]=$desc
	probes_n=$((i + 1))
}
must_fail() { probe_bg fail "$@"; }
must_pass() { probe_bg pass "$@"; }
probes_check() {
	local i rc out
	for ((i = 0; i < probes_n; i++)); do
		wait "${probes_pid[i]}" || true
	done
	for ((i = 0; i < probes_n; i++)); do
		rc=$(cat "$W/6c/$i.rc" 2>/dev/null || echo missing)
		out=$(cat "$W/6c/$i.out" 2>/dev/null)
		[ "$rc" != missing ] || fail "${probes_desc[i]}: the probe left no result"
		if [ "${probes_kind[i]}" = pass ]; then
			[ "$rc" = 0 ] || fail "${probes_desc[i]}: $out (exit $rc)"
			echo "works (control): ${probes_desc[i]}: $out"
		else
			[ "$rc" != 0 ] || fail "${probes_desc[i]}: $out"
			echo "refused as expected: ${probes_desc[i]}: $out"
		fi
	done
	probes_n=0
	probes_kind=() probes_desc=() probes_pid=()
}
# backend_creds: the backend sidecar's current certificate, key and bundle,
# out of its identity volume (renewed every 20 s; a superseded one stays
# valid until it expires, so a copy serves for the next minute). The files
# are copied one by one, so a renewal between two copies gives a
# certificate and a key that do not match: copied again until they do.
backend_creds() {
	local f d=$W/probe-certs/backend try
	for try in 1 2 3 4 5; do
		for f in cert.pem key.pem bundle.pem; do
			pm cp "$(cid backend-sidecar):/var/lib/cotai/$f" "$d/$f" ||
			    fail "copying $f out of backend-sidecar"
		done
		if [ "$(openssl x509 -in "$d/cert.pem" -noout -pubkey)" = \
		    "$(openssl pkey -in "$d/key.pem" -pubout)" ]; then
			chown 10001:10001 "$d"/*.pem
			chmod 0600 "$d"/*.pem
			return 0
		fi
		echo "backend_creds: a renewal came between the copies (try $try)"
		sleep 1
	done
	fail "backend-sidecar's certificate and key never matched in 5 copies"
}
backend_creds
BK=(--tls /certs/backend/bundle.pem --cert /certs/backend/cert.pem
    --key /certs/backend/key.pem)
IN=(--tls /certs/intruder/ca.crt --cert /certs/intruder/intruder.crt
    --key /certs/intruder/intruder.key)
PING=$(printf 'PING\r\n' | od -An -tx1 | tr -d ' \n')
# A PostgreSQL StartupMessage (protocol 3.0, user cotai, database cotai);
# the server's first reply byte is 'R' (an authentication request).
PGSTART=00000023000300007573657200636f74616900646174616261736500636f7461690000
must_fail "postgres:5432 by name" postgres 5432
must_fail "postgres:5432 by address $pg_ip" "$pg_ip" 5432
must_fail "redis:6379 by name" redis 6379
must_fail "redis:6379 by address $redis_ip" "$redis_ip" 6379
must_fail "backend-sidecar has no plaintext TCP port (5432)" backend-sidecar 5432
must_fail "backend-sidecar has no plaintext TCP port (6379)" backend-sidecar 6379
must_pass "redis-sidecar, backend's certificate, PING" \
    "${BK[@]}" --send "$PING" --expect +PONG redis-sidecar 6380
must_pass "postgres-sidecar, backend's certificate, StartupMessage" \
    "${BK[@]}" --send "$PGSTART" --expect R postgres-sidecar 6432
must_fail "redis-sidecar, plaintext PING" --send "$PING" --expect +PONG \
    redis-sidecar 6380
must_fail "redis-sidecar, TLS without a certificate" --tls /certs/intruder/ca.crt \
    --send "$PING" --expect +PONG redis-sidecar 6380
must_fail "redis-sidecar, certificate for 'intruder' (not allowed)" \
    "${IN[@]}" --send "$PING" --expect +PONG redis-sidecar 6380
must_fail "postgres-sidecar, TLS without a certificate" \
    --tls /certs/intruder/ca.crt --send "$PGSTART" --expect R postgres-sidecar 6432
must_fail "postgres-sidecar, certificate for 'intruder' (not allowed)" \
    "${IN[@]}" --send "$PGSTART" --expect R postgres-sidecar 6432
# Prometheus and rsyslog speak plaintext on loopback in their sidecars'
# namespaces only: none of it answers from the mesh.
must_fail "collector's plaintext syslog port (rsyslog, 10514)" collector 10514
must_fail "collector-sidecar's plaintext syslog port (10514)" collector-sidecar 10514
must_fail "Prometheus's API (9090)" prometheus-sidecar 9090
must_fail "prometheus-sidecar's scrape route (9103, loopback)" prometheus-sidecar 9103
must_fail "prometheus-sidecar's admin endpoint (9901, loopback)" prometheus-sidecar 9901
probes_check
echo "redis-sidecar's audit lines (the last four connections):"
pm logs "$(cid redis-sidecar)" 2>&1 | grep '"event":"close"' | tail -n 4 || true

# ---------------------------------------------------------------------------
# 6d: deploy/test/secops.sh (sourced: it uses the functions above).
# shellcheck source=deploy/test/secops.sh
. "$here/test/secops.sh"


# ---------------------------------------------------------------------------
say "6e. the gateways: nothing of the stack answers on the host's side"
# `internal: true` cuts the route out, not the host: every container still
# reaches the host at its network's gateway address. So nothing of the
# stack may be published there (no published port at all), and the
# stack's ports must not answer there, from a container on each network.
pub=$(pm ps -a --filter "label=$LABEL" --format '{{.Names}} {{.Ports}}' |
    awk 'NF > 1')
[ -z "$pub" ] || fail "published ports: $pub"
echo "no container publishes a port"
# from SERVICE NETWORK: connect from SERVICE to NETWORK's gateway on each of
# the stack's ports (databases, sidecars, admin); all must fail.
gw_check() {
	local c gw fmt
	c=$(cid "$1")
	if [ "$E" = podman ]; then
		fmt='{{range .Subnets}}{{.Gateway}} {{end}}'
	else
		fmt='{{range .IPAM.Config}}{{.Gateway}} {{end}}'
	fi
	gw=$(pm network inspect -f "$fmt" "${P}_$2" | awk '{ print $1 }')
	[ -n "$gw" ] || fail "no gateway address for ${P}_$2"
	pm exec -i "$c" python3 - "$gw" "$1" "$2" <<'PY' || fail "reached the $2 gateway"
import socket, sys
gw, svc, net = sys.argv[1:4]
bad = 0
for port in (5432, 6379, 6380, 6432, 27017, 27018, 9901, 9902, 9090, 6514,
             10514, 9101, 9102, 9103, 9104, 9105):
    try:
        socket.create_connection((gw, port), timeout=2).close()
        print("REACHED %s:%d from %s" % (gw, port, svc)); bad = 1
    except OSError as e:
        pass
if not bad:
    print("%s -> %s gateway %s: none of the stack's ports answers" % (svc, net, gw))
sys.exit(bad)
PY
}
gw_check probe mesh
gw_check backend backend-net
gw_check postgres postgres-net
gw_check redis redis-net
if command -v ss >/dev/null 2>&1; then
	echo "what the host itself listens on for every address (reachable from" \
	    "each container at its gateway, see deploy/README.md):"
	ss -Hltn | awk '$4 ~ /^(0\.0\.0\.0|\*|\[::\]):/ { print "  " $4 }' | sort -u
fi

# ---------------------------------------------------------------------------
if [ "${COMPOSE_TEST_ROTATION:-1}" = 0 ]; then
	say "7. rotation: SKIPPED (COMPOSE_TEST_ROTATION=0): NOT covered"
else
	# shellcheck source=deploy/test/rotation.sh
	. "$here/test/rotation.sh"
fi

# ---------------------------------------------------------------------------
# 8 and 9: deploy/test/restarts.sh (sourced: it uses the functions above).
# shellcheck source=deploy/test/restarts.sh
. "$here/test/restarts.sh"

say "all proofs passed"
