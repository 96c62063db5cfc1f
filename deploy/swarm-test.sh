#!/usr/bin/env bash
# deploy/swarm-test.sh (make swarm-test): deploy/swarm/stack.yaml on a
# single-node Docker Swarm, for real, then proofs, then the swarm is left.
#
#  1. host: Docker Engine (test/dockerd.sh starts dockerd when none answers;
#     stopped at the end only if this test started it); refuses to run on
#     an engine that is already part of a swarm (not ours to leave)
#  2. images: test/images.sh docker swarm-test (cached debootstrap bases)
#  3. certificates: certs.sh --files (the file mode: the stack takes
#     them as Swarm secrets), cotai-ca from the image
#  4. `docker swarm init`, the node labelled cotai.backend and cotai.db;
#     the stack: stack.yaml through `docker stack config`, minus mongo
#     (not packaged by Debian 12), PostgreSQL and Redis from the Debian
#     test base as in compose.local.yaml, endpoint_mode dnsrr (no IPVS in
#     this kernel: the VIP mode's load balancer cannot work), then
#     `docker stack deploy`; secrets and configs created by the deploy
#     from the files certs.sh wrote
#  5. proofs: every service converges (all replicas running, healthy where
#     there is a healthcheck); the backend's queries pass through the
#     sidecars over the overlay networks; rolling update of
#     postgres-sidecar and of redis-sidecar (`docker service update
#     --force`, start-first) while the backend queries both every second:
#     zero failed queries (the old task keeps accepting for drain_delay
#     after Swarm took it out of DNS, the backend's sidecar re-resolves
#     every resolve_interval; no retry in the test)
#  6. on any exit: `docker stack rm`, `docker swarm leave --force`, the
#     networks and volumes of the stack removed
#
# Environment: SWARM_TEST_LIMIT (seconds, default 900), KEEP=1 (leave the
# swarm and the work directory for inspection; clean up later with
# `docker stack rm cotai-test; docker swarm leave --force`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s)
LIMIT=${SWARM_TEST_LIMIT:-900}
S=cotai-test
TAG=swarm-test
DOCKERD_STATE=/run/cotai-swarm-test-dockerd

say() { printf '\n== [%4ds] %s\n' $(($(date +%s) - T0)) "$*"; }
fail() {
	echo "swarm-test: FAIL: $*" >&2
	exit 1
}
left() { echo $((LIMIT - ($(date +%s) - T0))); }

[ "$(id -u)" -eq 0 ] || fail "run as root"
W=$(mktemp -d /tmp/cotai-swarm.XXXXXX)
chmod 0711 "$W"
joined=0
qpid=""

stack_down() {
	local t=0 ids
	docker stack rm "$S" >/dev/null 2>&1 || true
	# stack rm returns at once; its containers and networks go after.
	while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$S")" ] &&
	    [ $t -lt 60 ]; do
		sleep 1
		t=$((t + 1))
	done
	ids=$(docker ps -aq --filter "label=com.docker.stack.namespace=$S")
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
}

cleanup() {
	local rc=$? s n v
	set +e
	trap - EXIT INT TERM
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null
	if [ $rc -ne 0 ] && [ $joined = 1 ]; then
		docker service ls --filter "label=com.docker.stack.namespace=$S" >&2
		for s in $(docker service ls -q --filter "label=com.docker.stack.namespace=$S"); do
			echo "--- $(docker service inspect -f '{{.Spec.Name}}' "$s") tasks" >&2
			docker service ps --no-trunc --format \
			    '{{.Name}} {{.CurrentState}} {{.Error}}' "$s" | head -n 5 >&2
			docker service logs --tail 8 "$s" 2>&1 | cut -c1-300 >&2
		done
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "swarm-test: KEEP=1: swarm and $W left in place" >&2
	else
		say "teardown: stack rm, swarm leave"
		if [ $joined = 1 ]; then
			stack_down
			docker swarm leave --force >/dev/null 2>&1 ||
			    echo "swarm-test: docker swarm leave failed" >&2
			for n in $(docker network ls -q --filter "label=com.docker.stack.namespace=$S"); do
				docker network rm "$n" >/dev/null 2>&1
			done
			for v in $(docker volume ls -q --filter "label=com.docker.stack.namespace=$S"); do
				docker volume rm -f "$v" >/dev/null 2>&1
			done
			# The bridge swarm mode made for overlay traffic on this host.
			docker network rm docker_gwbridge >/dev/null 2>&1
			echo "swarm: $(docker info -f '{{.Swarm.LocalNodeState}}')"
		fi
		rm -rf "$W"
		"$here/test/dockerd.sh" stop "$DOCKERD_STATE"
	fi
	say "swarm-test: $([ $rc -eq 0 ] && echo PASSED || echo FAILED)" \
	    "in $(($(date +%s) - T0)) s"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
say "1. host: Docker Engine"
missing=""
for p in debootstrap openssl python3-yaml; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
	    $missing >"$W/apt.log" 2>&1 || {
		apt-get -o DPkg::Lock::Timeout=600 update -qq >>"$W/apt.log" 2>&1
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		    --no-install-recommends $missing >>"$W/apt.log" 2>&1 ||
		    { tail "$W/apt.log"; fail "apt-get install$missing"; }
	}
fi
"$here/test/dockerd.sh" start "$DOCKERD_STATE" || fail "no Docker Engine"
state=$(docker info -f '{{.Swarm.LocalNodeState}}')
[ "$state" = inactive ] ||
    fail "this engine is already in a swarm ($state): not ours to leave"
echo "Docker Engine $(docker version -f '{{.Server.Version}}'), client" \
    "$(docker version -f '{{.Client.Version}}')"

# ---------------------------------------------------------------------------
say "2. images (deploy/test/images.sh docker $TAG)"
timeout "$(left)" "$here/test/images.sh" docker "$TAG" >"$W/images.env" ||
    fail "building the images"
# shellcheck disable=SC1091
. "$W/images.env"
export COTAI_IMAGE COTAI_BACKEND_IMAGE COTAI_TEST_BASE

# ---------------------------------------------------------------------------
say "3. certificates (deploy/certs.sh, cotai-ca from the image)"
# The file mode (--files): the Swarm stack's sidecars take their
# certificates as Swarm secrets (deploy/swarm/README).
export COTAI_SECRETS=$W/secrets COTAI_CA_IMAGE=$COTAI_IMAGE \
    COTAI_ENGINE=docker COTAI_TRUST_DOMAIN=swarm.test \
    COTAI_SIDECARS="backend postgres redis mongo"
unset COTAI_WORKLOADS
"$here/certs.sh" --files >"$W/certs.log" 2>&1 || { cat "$W/certs.log"; fail "certs.sh"; }
grep -E '^(NAME|backend|postgres|redis) ' "$W/certs.log"

# ---------------------------------------------------------------------------
say "4. swarm init, stack deploy"
addr=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1) }')
addr=${addr:-127.0.0.1}
joined=1
docker swarm init --advertise-addr "$addr" >"$W/init.log" 2>&1 ||
    { cat "$W/init.log"; fail "docker swarm init"; }
node=$(docker info -f '{{.Swarm.NodeID}}')
docker node update --label-add cotai.backend=true --label-add cotai.db=true \
    "$node" >/dev/null
echo "single-node swarm on $addr, node $node labelled cotai.backend, cotai.db"
pg_uid=$(docker run --rm --entrypoint id "$COTAI_TEST_BASE" -u postgres)
(cd "$here/swarm" && docker stack config -c stack.yaml) >"$W/full.yaml" ||
    fail "docker stack config"
python3 - "$W" "$here" "$pg_uid" <<'PY'
import sys, yaml
w, here, pg_uid = sys.argv[1:4]
c = yaml.safe_load(open(w + "/full.yaml"))
svc = c["services"]
# MongoDB is not packaged by Debian 12 and cannot be pulled here.
for name in ("mongo", "mongo-sidecar"):
    svc.pop(name)
for k in list(c["secrets"]):
    if k.startswith("mongo"):
        c["secrets"].pop(k)
c["configs"].pop("sidecar-mongo")
for k in ("mongo-data", "mongo-config"):
    c["volumes"].pop(k)
c["networks"].pop("mongo-net")
svc["backend"]["environment"]["BACKEND_CHECKS"] = "postgres redis"
# PostgreSQL and Redis from the Debian test base, as compose.local.yaml.
base = svc["postgres"]["image"] = svc["redis"]["image"] = \
    __import__("os").environ["COTAI_TEST_BASE"]
pg = svc["postgres"]
pg["user"] = "postgres:999"
pg["entrypoint"] = ["/bin/sh", "/cotai-test/pg-run.sh"]
pg.pop("command", None)
pg["volumes"] = [v for v in pg["volumes"]
                 if not (isinstance(v, dict) and v.get("source") == "pg-data")]
pg["configs"] = [{"source": "pg-run", "target": "/cotai-test/pg-run.sh",
                  "mode": 0o444}]
pg["healthcheck"]["test"] = ["CMD", "/usr/lib/postgresql/15/bin/pg_isready",
                             "-h", "127.0.0.1", "-U", "cotai", "-d", "cotai"]
for s in pg["secrets"]:
    if s["source"] == "db-password":
        s["uid"] = pg_uid
c["configs"]["pg-run"] = {"file": here + "/test/pg-run.sh"}
rd = svc["redis"]
rd["user"] = "redis"
rd["command"] = ["redis-server", "--protected-mode", "no", "--dir", "/tmp",
                 "--appendonly", "no", "--save", ""]
rd["volumes"] = [v for v in rd["volumes"]
                 if not (isinstance(v, dict) and v.get("source") == "redis-data")]
for k in ("pg-data", "redis-data"):
    c["volumes"].pop(k)
# No IPVS here: names resolve to the tasks' own addresses.
for s in svc.values():
    s.setdefault("deploy", {})["endpoint_mode"] = "dnsrr"
yaml.safe_dump(c, open(w + "/stack.yaml", "w"), default_flow_style=False)
PY
t=$(date +%s)
(cd "$W" && docker stack deploy --resolve-image never -c stack.yaml "$S") \
    >"$W/deploy.log" 2>&1 || { cat "$W/deploy.log"; fail "docker stack deploy"; }
grep -E '^Creating' "$W/deploy.log" | sed 's/^/  /'

# ---------------------------------------------------------------------------
say "5a. every service converges"
# converged: every service of the stack has all its replicas running, and
# every running task's container is healthy where it has a healthcheck.
converged() {
	local reps c
	docker service ls --filter "label=com.docker.stack.namespace=$S" \
	    --format '{{.Name}} {{.Replicas}}' >"$W/services"
	[ "$(wc -l <"$W/services")" -ge 6 ] || return 1
	while read -r _ reps; do
		reps=${reps%% *}
		[ "${reps%/*}" = "${reps#*/}" ] && [ "${reps%/*}" -gt 0 ] || return 1
	done <"$W/services"
	for c in $(docker ps -q --filter "label=com.docker.stack.namespace=$S"); do
		case "$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$c")" in
		healthy | none) ;;
		*) return 1 ;;
		esac
	done
}
until converged; do
	[ $(($(date +%s) - t)) -lt 240 ] && [ "$(left)" -gt 0 ] ||
	    { cat "$W/services" >&2; fail "not converged after 240 s"; }
	sleep 2
done
sed 's/^/  /' "$W/services"
echo "converged $(($(date +%s) - t)) s after deploy"

backend=$(docker ps -q --filter "label=com.docker.swarm.service.name=${S}_backend" | head -n1)
[ -n "$backend" ] || fail "no backend container"

say "5b. the backend's queries, through the sidecars over the overlay networks"
docker exec "$backend" cotai-backend check | tee "$W/check1.out"
grep -q 'check=postgres result=ok' "$W/check1.out" || fail "postgres query"
grep -q 'check=redis result=ok' "$W/check1.out" || fail "redis query"
for n in mesh postgres-net redis-net backend-net; do
	docker network inspect -f '{{.Name}}: {{.Driver}}, internal {{.Internal}}' "${S}_$n"
done

# ---------------------------------------------------------------------------
# The backend queries every second in the background: one line per check.
queries() {
	set +e
	while :; do
		# A failed check is a line without result=ok (counted below).
		docker exec "$backend" cotai-backend check 2>&1 |
		    sed "s/^/$(date +%s) /" >>"$W/queries.log"
		sleep 1
	done
}
# update SERVICE: a forced rolling update (start-first, as the stack says)
# while the backend queries; then 15 s more, so that the old task's drain
# is over. Zero failed queries, and a new task really replaced the old one.
update() {
	local svc=${S}_$1 old new n ok bad
	old=$(docker service ps -q --filter desired-state=running "$svc")
	: >"$W/queries.log"
	queries &
	qpid=$!
	sleep 3
	t=$(date +%s)
	docker service update --force --detach=false --update-order start-first \
	    "$svc" >"$W/update-$1.log" 2>&1 ||
	    { tail "$W/update-$1.log"; fail "docker service update $svc"; }
	echo "$svc updated in $(($(date +%s) - t)) s; watching 15 s more"
	sleep 15
	kill "$qpid" 2>/dev/null || fail "the query loop died"
	wait "$qpid" 2>/dev/null || true
	qpid=""
	new=$(docker service ps -q --filter desired-state=running "$svc")
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "$svc: no new task ($old -> $new)"
	n=$(grep -c 'check=' "$W/queries.log" || true)
	ok=$(grep -c 'result=ok' "$W/queries.log" || true)
	bad=$(grep -v 'result=ok' "$W/queries.log" | grep -c . || true)
	echo "$svc: task $old -> $new; $n queries, $ok ok, $bad failed or odd"
	[ "$bad" -eq 0 ] || { grep -v 'result=ok' "$W/queries.log" | head; fail "failed queries during the update of $svc"; }
	[ "$n" -ge 20 ] || fail "only $n queries: the loop did not run"
}
say "5c. rolling update of postgres-sidecar while the backend queries every second"
update postgres-sidecar
say "5d. rolling update of redis-sidecar while the backend queries every second"
update redis-sidecar
docker service logs "${S}_backend-sidecar" 2>&1 | grep -o 'route [a-z]*: target [^"]*' |
    tail -n 4 || true

say "all proofs passed"
