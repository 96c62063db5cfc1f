#!/usr/bin/env bash
# deploy/compose-test.sh (make compose-test): deploy/compose.yaml with real
# containers under rootful podman, on images built here from Debian packages
# (no registry is reachable), then proofs, then a full teardown.
#
#  1. host: podman, runc, podman-compose, debootstrap, docker-compose;
#     /etc/containers/containers.conf gets runtime runc and explicit
#     ulimits when it lacks them (see ../shared/notes/podman.md)
#  2. images: two Debian 12 minbase root filesystems made with debootstrap
#     and cached in $COTAI_CACHE (default /var/cache/cotai): one with the
#     build packages (BUILD_BASE of deploy/Dockerfile), one with
#     PostgreSQL 15, Redis 7, Python and the client libraries (the
#     databases, the backend stand-in's base, the probes). The cotai image
#     is built by deploy/Dockerfile from the sources of the last commit
#     (COMPOSE_TEST_SOURCE=worktree: from the working tree).
#  3. certificates: deploy/certs.sh, with cotai-ca run from the new image
#  4. the stack: compose.yaml + compose.local.yaml merged by docker-compose,
#     minus mongo and mongo-sidecar (MongoDB is not packaged by Debian 12:
#     NOT covered here), brought up with podman-compose
#  5. every healthcheck, run by hand (podman has no systemd here to run
#     them), until all pass
#  6. proofs: the backend's queries work through the sidecars; the backend
#     has no network path to any database or sidecar port; from the mesh,
#     the database ports are unreachable, a stranger without a certificate,
#     one with a certificate for a name not allowed and a plaintext client
#     all get nothing, while the backend's certificate (control) gets an
#     answer; rotation: certs.sh --renew, SIGHUP, the sidecars serve the
#     new certificates, the queries still work, no container restarted
#  7. teardown of every container, network and volume of the project, on
#     any exit
#
# Environment: COMPOSE_TEST_LIMIT (seconds for the whole run, default 1200),
# COMPOSE_TEST_ROTATION=0 (skip the rotation step: reported NOT covered),
# COMPOSE_TEST_HEALTH_FALLBACK=1 (see healthy() below), KEEP=1 (keep the
# stack and the work directory for inspection; tear down later with
# `podman-compose -p cotai-test -f DIR/stack.yaml down -v`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
T0=$(date +%s)
LIMIT=${COMPOSE_TEST_LIMIT:-1200}
P=cotai-test
TAG=compose-test
TEST_PKGS="libssl3 libevent-2.1-7 libevent-openssl-2.1-7 libevent-pthreads-2.1-7 libnghttp2-14
libyaml-0-2 postgresql-15 postgresql-client-15 redis-server redis-tools
python3 python3-psycopg2 python3-redis python3-pymongo openssl"
BUILD_PKGS="gcc make pkg-config libc6-dev libssl-dev libevent-dev libyaml-dev libnghttp2-dev"

say() { printf '\n== [%4ds] %s\n' $(($(date +%s) - T0)) "$*"; }
fail() {
	echo "compose-test: FAIL: $*" >&2
	exit 1
}
left() { echo $((LIMIT - ($(date +%s) - T0))); }
# podman without the "no systemd for healthcheck timers" noise.
pm() { podman "$@" 2> >(grep -v 'systemd' >&2); }

[ "$(id -u)" -eq 0 ] || fail "run as root (rootful podman)"

W=$(mktemp -d /tmp/cotai-compose.XXXXXX)
chmod 0711 "$W"

project_down() {
	local ids
	if [ -s "$W/stack.yaml" ]; then
		(cd "$W" && timeout 120 podman-compose -p "$P" -f stack.yaml \
		    down -v) >>"$W/down.log" 2>&1 || true
	fi
	ids=$(podman ps -aq --filter "label=io.podman.compose.project=$P")
	[ -z "$ids" ] || podman rm -f -t 5 $ids >/dev/null 2>&1 || true
	ids=$(podman ps -aq --filter "label=cotai.compose-test=$P")
	[ -z "$ids" ] || podman rm -f -t 1 $ids >/dev/null 2>&1 || true
	for n in $(podman network ls -q --filter "label=io.podman.compose.project=$P"); do
		podman network rm -f "$n" >/dev/null 2>&1 || true
	done
	for v in $(podman volume ls -q --filter "label=io.podman.compose.project=$P"); do
		podman volume rm -f "$v" >/dev/null 2>&1 || true
	done
}

cleanup() {
	local rc=$? c
	set +e
	trap - EXIT INT TERM
	if [ $rc -ne 0 ]; then
		for c in $(podman ps -a --format '{{.Names}}' \
		    --filter "label=io.podman.compose.project=$P"); do
			echo "--- logs of $c (last 15 lines)" >&2
			podman logs --tail 15 "$c" 2>&1 | grep -v systemd >&2
		done
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "compose-test: KEEP=1: stack and $W left in place" >&2
	else
		say "teardown"
		project_down
		rm -rf "$W"
	fi
	say "compose-test: $([ $rc -eq 0 ] && echo PASSED || echo FAILED)" \
	    "in $(($(date +%s) - T0)) s"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
say "1. host packages and podman settings"
missing=""
for p in podman runc podman-compose debootstrap docker-compose openssl python3-yaml; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing >"$W/apt.log" 2>&1 || {
		apt-get update -qq >>"$W/apt.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends $missing >>"$W/apt.log" 2>&1 ||
		    { tail "$W/apt.log"; fail "apt-get install$missing"; }
	}
fi
conf=/etc/containers/containers.conf
# conf_set SECTION KEY LINE: add LINE under [SECTION] unless KEY is set.
conf_set() {
	if grep -Eq "^[[:space:]]*$2[[:space:]]*=" "$conf" 2>/dev/null; then
		return 0
	fi
	echo "$conf: adding $3 under [$1]"
	if grep -q "^\[$1\]" "$conf" 2>/dev/null; then
		sed -i "/^\[$1\]/a $3" "$conf"
	else
		printf '\n[%s]\n%s\n' "$1" "$3" >>"$conf"
	fi
}
mkdir -p /etc/containers
conf_set containers default_ulimits \
    'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]'
conf_set engine runtime 'runtime = "runc"'
grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$conf" ||
    echo "warning: $conf sets another runtime than runc" >&2
project_down # leftovers of an interrupted earlier run of this test

# ---------------------------------------------------------------------------
say "2. images (debootstrap bases cached in ${COTAI_CACHE:-/var/cache/cotai})"
t=$(date +%s)
# Both in parallel (each takes about two minutes the first time).
# shellcheck disable=SC2086
"$here/test/rootfs.sh" cotai-build-base $BUILD_PKGS >"$W/base-build" &
b1=$!
# shellcheck disable=SC2086
"$here/test/rootfs.sh" cotai-test-base $TEST_PKGS >"$W/base-test" &
b2=$!
wait $b1 || fail "debootstrap of the build base"
wait $b2 || fail "debootstrap of the test base"
build_base=$(cat "$W/base-build")
test_base=$(cat "$W/base-test")
echo "bases: $build_base $test_base ($(($(date +%s) - t)) s)"
t=$(date +%s)
# The image is built from the last commit (a tree others are editing may
# not compile at this moment); COMPOSE_TEST_SOURCE=worktree builds the
# working tree as it is.
ctx=$repo
if [ "${COMPOSE_TEST_SOURCE:-head}" = head ] &&
    git -C "$repo" rev-parse --verify -q HEAD >/dev/null 2>&1; then
	ctx=$W/src
	mkdir -p "$ctx"
	git -C "$repo" archive --format=tar HEAD Makefile mk lib config proxy ca |
	    tar -x -C "$ctx"
	echo "sources: commit $(git -C "$repo" rev-parse --short HEAD)" \
	    "(COMPOSE_TEST_SOURCE=worktree for the working tree)"
else
	echo "sources: the working tree"
fi
timeout "$(left)" podman build -q --format docker \
    --ignorefile "$here/Dockerfile.dockerignore" \
    --build-arg BUILD_BASE="$build_base" -f "$here/Dockerfile" \
    -t "localhost/cotai:$TAG" "$ctx" >"$W/build-cotai.log" 2>&1 ||
    { tail -n 30 "$W/build-cotai.log"; fail "building deploy/Dockerfile"; }
echo "localhost/cotai:$TAG: $(podman image inspect -f '{{.Size}}' \
    "localhost/cotai:$TAG" | awk '{ printf "%.1f MB", $1 / 1e6 }')" \
    "($(($(date +%s) - t)) s)"
t=$(date +%s)
timeout "$(left)" podman build -q --format docker \
    --build-arg BASE="$test_base" -t "localhost/cotai-backend:$TAG" \
    "$here/backend" >"$W/build-backend.log" 2>&1 ||
    { tail -n 30 "$W/build-backend.log"; fail "building deploy/backend"; }
echo "localhost/cotai-backend:$TAG ($(($(date +%s) - t)) s)"
# The runtime image has no shell at all.
if pm run --rm --no-healthcheck --entrypoint /bin/sh "localhost/cotai:$TAG" \
    -c true >/dev/null 2>&1; then
	fail "the cotai image has a shell"
fi
[ "$(podman image inspect -f '{{.Config.User}}' "localhost/cotai:$TAG")" = \
    "10001:10001" ] || fail "the cotai image does not run as 10001"

# ---------------------------------------------------------------------------
say "3. certificates (deploy/certs.sh, cotai-ca from the image)"
export COTAI_SECRETS=$W/secrets COTAI_CA_IMAGE=localhost/cotai:$TAG \
    COTAI_ENGINE=podman COTAI_TRUST_DOMAIN=compose.test \
    COTAI_WORKLOADS="backend postgres redis mongo intruder"
"$here/certs.sh" >"$W/certs.log" 2>&1 || { cat "$W/certs.log"; fail "certs.sh"; }
grep -E '^(NAME|backend|postgres|redis|intruder) ' "$W/certs.log"
stat -c '%u:%g %a %n' "$W/secrets/redis/redis.key" "$W/secrets/db-password"

# ---------------------------------------------------------------------------
say "4. the stack (compose.yaml + compose.local.yaml, without mongo)"
export COTAI_IMAGE=localhost/cotai:$TAG \
    COTAI_BACKEND_IMAGE=localhost/cotai-backend:$TAG COTAI_TEST_BASE=$test_base
docker-compose -p "$P" --project-directory "$here" -f "$here/compose.yaml" \
    -f "$here/compose.local.yaml" config >"$W/full.yaml"
# Drop mongo (and what points at it) and the build sections (the images
# exist); record each service's healthcheck and the tmpfs volumes that
# podman-compose 1.0.3 would create without their driver_opts.
python3 - "$W" <<'PY'
import json, sys, yaml
w = sys.argv[1]
c = yaml.safe_load(open(w + "/full.yaml"))
drop = {"mongo", "mongo-sidecar"}
for name in drop:
    c["services"].pop(name, None)
for name, s in c["services"].items():
    s.pop("build", None)
    dep = s.get("depends_on")
    if isinstance(dep, dict):
        for d in drop:
            dep.pop(d, None)
    elif isinstance(dep, list):
        s["depends_on"] = [d for d in dep if d not in drop]
    # podman-compose 1.0.3 only understands a plain list of networks.
    if isinstance(s.get("networks"), dict):
        s["networks"] = sorted(s["networks"])
used = {n for s in c["services"].values() for n in s.get("networks", [])}
c["networks"] = {k: v for k, v in c.get("networks", {}).items() if k in used}
yaml.safe_dump(c, open(w + "/stack.yaml", "w"), default_flow_style=False)
with open(w + "/health.tsv", "w") as f:
    for name, s in sorted(c["services"].items()):
        t = (s.get("healthcheck") or {}).get("test")
        if not t:
            sys.exit("service %s has no healthcheck" % name)
        if isinstance(t, str):
            t = ["CMD-SHELL", t]
        f.write("\t".join([name] + t) + "\n")
with open(w + "/volumes.tsv", "w") as f:
    for name, v in (c.get("volumes") or {}).items():
        o = (v or {}).get("driver_opts")
        if o:
            f.write("%s\t%s\t%s\t%s\n" % (name, o["type"], o["device"], o["o"]))
PY
while IFS=$'\t' read -r v type dev opts; do
	podman volume create --label "io.podman.compose.project=$P" \
	    --opt "type=$type" --opt "device=$dev" --opt "o=$opts" \
	    "${P}_$v" >/dev/null
done <"$W/volumes.tsv"
t=$(date +%s)
(cd "$W" && timeout "$(left)" podman-compose -p "$P" -f stack.yaml up -d) \
    >"$W/up.log" 2>&1 || { tail -n 30 "$W/up.log"; fail "podman-compose up"; }
podman ps --filter "label=io.podman.compose.project=$P" \
    --format '{{.Names}}  {{.Image}}  {{.Status}}'

# ---------------------------------------------------------------------------
say "5. healthchecks (run by hand: no systemd timers here)"
# healthy SERVICE: run SERVICE's healthcheck test in its container.
# COMPOSE_TEST_HEALTH_FALLBACK=1 (only for a cotai-proxy without the
# `health` subcommand yet): a sidecar counts as healthy while its container
# runs; reported, and the sidecar healthcheck is then NOT covered.
healthy() {
	local line f
	line=$(awk -F'\t' -v s="$1" '$1 == s' "$W/health.tsv")
	IFS=$'\t' read -r -a f <<<"$line"
	if [ "${COMPOSE_TEST_HEALTH_FALLBACK:-0}" = 1 ] &&
	    [ "${f[2]:-}" = cotai-proxy ]; then
		[ "$(podman inspect -f '{{.State.Running}}' "${P}_$1_1")" = true ]
		return
	fi
	case "${f[1]}" in
	CMD) podman exec "${P}_$1_1" "${f[@]:2}" ;;
	CMD-SHELL) podman exec "${P}_$1_1" /bin/sh -c "${f[2]}" ;;
	*) return 1 ;;
	esac
}
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
echo "all healthy $(($(date +%s) - t)) s after up"
[ "${COMPOSE_TEST_HEALTH_FALLBACK:-0}" != 1 ] ||
    echo "WARNING: COMPOSE_TEST_HEALTH_FALLBACK=1: sidecar healthchecks" \
        "(cotai-proxy health) were NOT run, only 'container running'"

# ---------------------------------------------------------------------------
say "6a. the backend's queries, through its sidecar"
pm exec "${P}_backend_1" cotai-backend check | tee "$W/check1.out"
grep -q 'check=postgres result=ok' "$W/check1.out" || fail "postgres query"
grep -q 'check=redis result=ok' "$W/check1.out" || fail "redis query"

ip_on() { # CONTAINER NETWORK: the container's address on that network
	podman inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" \
	    "$1" 2>/dev/null
}
pg_ip=$(ip_on "${P}_postgres_1" "${P}_postgres-net")
redis_ip=$(ip_on "${P}_redis_1" "${P}_redis-net")
pgsc_ip=$(ip_on "${P}_postgres-sidecar_1" "${P}_mesh")
echo "postgres $pg_ip, redis $redis_ip, postgres-sidecar (mesh) $pgsc_ip"

say "6b. the backend has no network path of its own to any of them"
pm exec -i "${P}_backend_1" python3 - "$pg_ip" "$redis_ip" "$pgsc_ip" <<'PY' || fail "the backend reached something directly"
import socket, sys
pg, rd, sc = sys.argv[1:4]
bad = 0
for host, port in [("postgres", 5432), ("redis", 6379),
                   ("postgres-sidecar", 6432), ("redis-sidecar", 6380),
                   (pg, 5432), (rd, 6379), (sc, 6432)]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("REACHED %s:%d" % (host, port)); bad = 1
    except OSError as e:
        print("no path to %s:%d (%s)" % (host, port, e))
sys.exit(bad)
PY

say "6c. from the mesh: database ports unreachable, strangers get nothing"
pm run -d --name "${P}-probe" --label "cotai.compose-test=$P" \
    --network "${P}_mesh" --user 10001:10001 --read-only --cap-drop ALL \
    -v "$here/test/probe.py:/probe.py:ro" \
    -v "$W/secrets/backend:/certs/backend:ro" \
    -v "$W/secrets/intruder:/certs/intruder:ro" \
    --entrypoint sleep "$test_base" 600 >/dev/null
probe() { podman exec "${P}-probe" python3 /probe.py "$@"; }
# must_fail DESC PROBE-ARGS...: the probe must get nothing back.
must_fail() {
	local desc=$1 out
	shift
	if out=$(probe "$@"); then
		fail "$desc: $out"
	fi
	echo "refused as expected: $desc: $out"
}
must_pass() {
	local desc=$1 out
	shift
	out=$(probe "$@") || fail "$desc: $out"
	echo "works (control): $desc: $out"
}
BK=(--tls /certs/backend/ca.crt --cert /certs/backend/backend.crt
    --key /certs/backend/backend.key)
IN=(--tls /certs/backend/ca.crt --cert /certs/intruder/intruder.crt
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
must_fail "redis-sidecar, TLS without a certificate" --tls /certs/backend/ca.crt \
    --send "$PING" --expect +PONG redis-sidecar 6380
must_fail "redis-sidecar, certificate for 'intruder' (not allowed)" \
    "${IN[@]}" --send "$PING" --expect +PONG redis-sidecar 6380
must_fail "postgres-sidecar, TLS without a certificate" \
    --tls /certs/backend/ca.crt --send "$PGSTART" --expect R postgres-sidecar 6432
must_fail "postgres-sidecar, certificate for 'intruder' (not allowed)" \
    "${IN[@]}" --send "$PGSTART" --expect R postgres-sidecar 6432
echo "redis-sidecar's audit lines (the last four connections):"
podman logs "${P}_redis-sidecar_1" 2>&1 | grep '"event":"close"' | tail -n 4 || true

# ---------------------------------------------------------------------------
if [ "${COMPOSE_TEST_ROTATION:-1}" = 0 ]; then
	say "7. rotation: SKIPPED (COMPOSE_TEST_ROTATION=0): NOT covered"
else
	say "7. rotation while running: certs.sh --renew, SIGHUP, nothing restarts"
	started() {
		podman ps --filter "label=io.podman.compose.project=$P" \
		    --format '{{.Names}} {{.ID}} {{.StartedAt}}' | sort
	}
	started >"$W/started.before"
	file_serial() { # NAME: serial of the certificate on disk, as Python prints it
		openssl x509 -noout -serial -in "$W/secrets/$1/$1.crt" | cut -d= -f2
	}
	old_redis=$(file_serial redis)
	old_pg=$(file_serial postgres)
	"$here/certs.sh" --renew >"$W/renew.log" 2>&1 ||
	    { cat "$W/renew.log"; fail "certs.sh --renew"; }
	new_redis=$(file_serial redis)
	new_pg=$(file_serial postgres)
	new_backend=$(file_serial backend)
	[ "$old_redis" != "$new_redis" ] || fail "renew did not change redis's certificate"
	echo "redis: $old_redis -> $new_redis; postgres: $old_pg -> $new_pg"
	for s in backend-sidecar postgres-sidecar redis-sidecar; do
		pm kill --signal HUP "${P}_${s}_1" >/dev/null
	done
	# The sidecars must now present the renewed certificates.
	ok=0
	for _ in $(seq 30); do
		r=$(probe "${BK[@]}" --serial redis-sidecar 6380 || true)
		p=$(probe "${BK[@]}" --serial postgres-sidecar 6432 || true)
		if [ "$r" = "$new_redis" ] && [ "$p" = "$new_pg" ]; then
			ok=1
			break
		fi
		sleep 1
	done
	[ $ok = 1 ] || fail "after renew + SIGHUP the sidecars still serve" \
	    "redis=$r postgres=$p (want $new_redis, $new_pg)"
	echo "served now: redis $r, postgres $p"
	# The backend's queries go on working, and once the backend's sidecar
	# has reloaded too (each sidecar reloads on its own), the database
	# sidecars log its new serial in their audit lines.
	ok=0
	for _ in $(seq 30); do
		pm exec "${P}_backend_1" cotai-backend check >"$W/check2.out"
		grep -q 'check=postgres result=ok' "$W/check2.out" ||
		    { cat "$W/check2.out"; fail "postgres after rotation"; }
		grep -q 'check=redis result=ok' "$W/check2.out" ||
		    { cat "$W/check2.out"; fail "redis after rotation"; }
		if podman logs "${P}_redis-sidecar_1" 2>&1 | grep -qi "$new_backend" &&
		    podman logs "${P}_postgres-sidecar_1" 2>&1 | grep -qi "$new_backend"; then
			ok=1
			break
		fi
		sleep 1
	done
	cat "$W/check2.out"
	[ $ok = 1 ] || fail "the database sidecars never saw the backend's new" \
	    "serial $new_backend"
	echo "postgres-sidecar and redis-sidecar saw the backend's new certificate $new_backend"
	must_fail "the old intruder still gets nothing after rotation" \
	    "${IN[@]}" --send "$PING" --expect +PONG redis-sidecar 6380
	started >"$W/started.after"
	diff "$W/started.before" "$W/started.after" ||
	    fail "a container restarted during rotation"
	echo "no container restarted"
fi

# ---------------------------------------------------------------------------
say "8. postgres-sidecar comes back at a new address: followed without SIGHUP"
# Stop it, let a placeholder take its address so that it must get another,
# start it again: the backend's sidecar still has the old address until its
# next lookup (resolve_interval, or at once when a connect fails).
sc="${P}_postgres-sidecar_1"
pm stop -t 5 "$sc" >/dev/null
pm run -d --name "${P}-squatter" --label "cotai.compose-test=$P" \
    --network "${P}_mesh" --ip "$pgsc_ip" --read-only --cap-drop ALL \
    --entrypoint sleep "$test_base" 600 >/dev/null ||
    fail "cannot start a placeholder on $pgsc_ip"
pm start "$sc" >/dev/null
new_ip=$(ip_on "$sc" "${P}_mesh")
[ -n "$new_ip" ] && [ "$new_ip" != "$pgsc_ip" ] ||
    fail "postgres-sidecar did not get a new address ($pgsc_ip -> $new_ip)"
echo "postgres-sidecar: $pgsc_ip -> $new_ip"
ok=0
for _ in $(seq 30); do
	if healthy postgres-sidecar >/dev/null 2>&1 &&
	    pm exec "${P}_backend_1" cotai-backend check >"$W/check3.out" 2>&1 &&
	    grep -q 'check=postgres result=ok' "$W/check3.out"; then
		ok=1
		break
	fi
	sleep 1
done
cat "$W/check3.out"
[ $ok = 1 ] || fail "the backend lost PostgreSQL after postgres-sidecar moved"
podman logs "${P}_backend-sidecar_1" 2>&1 | grep 'now resolves to' |
    grep -F "$new_ip" || fail "the backend's sidecar did not log the move"
[ "$(podman inspect -f '{{.RestartCount}}' "${P}_backend-sidecar_1")" = 0 ] ||
    fail "the backend's sidecar restarted"

say "all proofs passed"
