#!/usr/bin/env bash
# 60-netns: deploy/compose.yaml's topology in network namespaces, with real
# cotai-proxy processes, PostgreSQL and Redis (needs root; skipped without).
#
#   be      the backend: no interface but lo; reaches its sidecar through
#           Unix sockets in $T/sock (like the compose cotai-sock volume)
#   besc    backend sidecar: originate, on the mesh       10.231.0.2
#   pgsc    postgres sidecar: terminate, mesh + pg-net    10.231.0.3, 10.231.1.1
#   rdsc    redis sidecar: terminate, mesh + rd-net       10.231.0.4, 10.231.2.1
#   pg      PostgreSQL on pg-net only                     10.231.1.2:5432
#   rd      Redis on rd-net only                          10.231.2.2:6379
#   rogue   a stranger on the mesh                        10.231.0.66
#   mesh    holds the bridge the mesh members plug into
#
# Every address lives inside namespaces this test creates; nothing touches
# the host's network namespace. Fixed ports are safe: each namespace is new.
# Proves: the backend's queries work through the sidecars; the backend has
# no TCP path anywhere; from the mesh the database ports are unreachable
# (also with a route through the sidecar: it does not forward); the rogue
# gets nothing without a certificate, with a certificate for a name that is
# not allowed, or in plaintext, while the backend's certificate (control)
# gets answers.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
PROBE=$here/../../deploy/test/probe.py

if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "skip: needs root and ip netns"
	exit 0
fi
PG_BINDIR=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
for c in "$PG_BINDIR/postgres" redis-server redis-cli python3; do
	command -v "$c" >/dev/null || fail "missing $c (make deps)"
done
PSQL=$PG_BINDIR/psql

# Unique namespace names for this run (not ports: no port is derived).
p=ct$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NSES=(mesh be besc pgsc rdsc pg rd rogue)
netns_cleanup() {
	local rc=$? n
	set +e
	# Processes first (lib.sh's list), then the namespaces and their links.
	while read -r pid; do kill -TERM "$pid" 2>/dev/null; done <"$T/.pids"
	for n in "${NSES[@]}"; do ip netns del "$p-$n" 2>/dev/null; done
	(exit "$rc")
	lib_cleanup
}
trap netns_cleanup EXIT
in_ns() { # NS CMD...
	local n=$1
	shift
	ip netns exec "$p-$n" "$@"
}

for n in "${NSES[@]}"; do
	ip netns add "$p-$n"
	ip -n "$p-$n" link set lo up
	# Like a container: no forwarding between its interfaces.
	in_ns "$n" sysctl -qw net.ipv4.ip_forward=0
done
ip -n "$p-mesh" link add br0 type bridge
ip -n "$p-mesh" link set br0 up
join_mesh() { # NS ADDR
	ip -n "$p-$1" link add mesh0 type veth peer name "m-$1" netns "$p-mesh"
	ip -n "$p-mesh" link set "m-$1" master br0 up
	ip -n "$p-$1" addr add "$2/24" dev mesh0
	ip -n "$p-$1" link set mesh0 up
}
join_mesh besc 10.231.0.2
join_mesh pgsc 10.231.0.3
join_mesh rdsc 10.231.0.4
join_mesh rogue 10.231.0.66
link_pair() { # NS1 ADDR1 NS2 ADDR2: a private network of two
	ip -n "$p-$1" link add net0 type veth peer name net0 netns "$p-$3"
	ip -n "$p-$1" addr add "$2/24" dev net0
	ip -n "$p-$3" addr add "$4/24" dev net0
	ip -n "$p-$1" link set net0 up
	ip -n "$p-$3" link set net0 up
}
link_pair pgsc 10.231.1.1 pg 10.231.1.2
link_pair rdsc 10.231.2.1 rd 10.231.2.2

# Certificates; the sidecars drop to "nobody" after binding.
chmod 711 "$T"
pki_init netns.test
for n in backend postgres redis intruder; do issue "$n"; done
chown -R nobody "$T/certs"

# PostgreSQL in pg, listening on its pg-net address only.
install -d -o postgres -m 0700 "$T/pg"
echo "s3cret-$p" >"$T/pg/pw"
chown postgres "$T/pg/pw"
AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
"${AS_PG[@]}" "$PG_BINDIR/initdb" -D "$T/pg/data" -U cotai \
    --pwfile="$T/pg/pw" --auth-local=trust --auth-host=scram-sha-256 \
    >"$T/initdb.log" 2>&1 || fail "initdb"
echo "host all all 10.231.1.0/24 scram-sha-256" >>"$T/pg/data/pg_hba.conf"
spawn postgres ip netns exec "$p-pg" "${AS_PG[@]}" "$PG_BINDIR/postgres" \
    -D "$T/pg/data" -c listen_addresses=10.231.1.2 \
    -c unix_socket_directories="$T/pg"
wait_for postgres 30 "${AS_PG[@]}" "$PSQL" -h "$T/pg" -U cotai -d postgres \
    -c 'select 1'
"${AS_PG[@]}" "$PSQL" -q -h "$T/pg" -U cotai -d postgres -c 'create database cotai'

# Redis in rd, on its rd-net address only.
install -d -o redis -m 0700 "$T/rd" 2>/dev/null || install -d -o nobody -m 0700 "$T/rd"
spawn redis ip netns exec "$p-rd" setpriv --reuid="$(stat -c %U "$T/rd")" \
    --regid=nogroup --clear-groups -- redis-server --bind 10.231.2.2 \
    --port 6379 --protected-mode no --save '' --appendonly no --dir "$T/rd"
wait_for redis 10 in_ns rd redis-cli -h 10.231.2.2 ping

# The sidecars, configured like deploy/sidecars/*.yaml.
ident() { # NAME
	echo "identity: { ca: $T/certs/ca.crt, cert: $T/certs/$1.crt, key: $T/certs/$1.key, crl: $T/certs/crl.pem }"
}
mkdir -p "$T/sock"
chown nobody "$T/sock"
cat >"$T/besc.yaml" <<EOF
user: nobody
$(ident backend)
routes:
  - { name: postgres, mode: originate, listen: "unix:$T/sock/.s.PGSQL.5432", target: "10.231.0.3:6432", expect: postgres }
  - { name: redis, mode: originate, listen: "unix:$T/sock/redis.sock", target: "10.231.0.4:6380", expect: redis }
EOF
cat >"$T/pgsc.yaml" <<EOF
user: nobody
$(ident postgres)
routes:
  - { name: postgres-in, mode: terminate, listen: "0.0.0.0:6432", target: "10.231.1.2:5432", allow: [backend] }
EOF
cat >"$T/rdsc.yaml" <<EOF
user: nobody
$(ident redis)
routes:
  - { name: redis-in, mode: terminate, listen: "0.0.0.0:6380", target: "10.231.2.2:6379", allow: [backend] }
EOF
for s in pgsc rdsc besc; do
	spawn "$s" ip netns exec "$p-$s" "$PROXY" -c "$T/$s.yaml" \
	    --ports-file "$T/$s.ports"
	wait_file "$T/$s.ports"
done

# 1. The backend's queries, through the sidecars only.
PGPASSWORD=$(cat "$T/pg/pw") in_ns be "$PSQL" -X -q -t -A \
    "host=$T/sock port=5432 user=cotai dbname=cotai sslmode=disable" \
    -c 'create table t (v text)' -c "insert into t values ('via cotai')" \
    -c 'select v from t' >"$T/psql.out" 2>&1 || { cat "$T/psql.out"; fail "psql"; }
assert_grep '^via cotai$' "$T/psql.out" "postgres query through the sidecars"
in_ns be redis-cli -s "$T/sock/redis.sock" set k v-netns >/dev/null
[ "$(in_ns be redis-cli -s "$T/sock/redis.sock" get k)" = v-netns ] ||
    fail "redis query through the sidecars"
echo "ok: backend -> postgres and redis through the sidecars"

# probe NS ARGS...: deploy/test/probe.py in NS (exit 0 = got an answer).
probe() {
	local n=$1
	shift
	in_ns "$n" python3 "$PROBE" --timeout 2 "$@"
}
must_fail() { # DESC NS ARGS...
	local d=$1 out
	shift
	if out=$(probe "$@"); then fail "$d: $out"; fi
	echo "ok: refused: $d: $out"
}
must_pass() {
	local d=$1 out
	shift
	out=$(probe "$@") || fail "$d: $out"
	echo "ok: control: $d: $out"
}
BK=(--tls "$T/certs/ca.crt" --cert "$T/certs/backend.crt" --key "$T/certs/backend.key")
IN=(--tls "$T/certs/ca.crt" --cert "$T/certs/intruder.crt" --key "$T/certs/intruder.key")
PING=50494e470d0a
PGSTART=00000023000300007573657200636f74616900646174616261736500636f7461690000

# 2. The backend has no TCP path at all.
must_fail "backend -> postgres" be 10.231.1.2 5432
must_fail "backend -> postgres sidecar" be 10.231.0.3 6432

# 3. From the mesh: database ports unreachable, even routed via a sidecar.
must_fail "rogue -> postgres" rogue 10.231.1.2 5432
must_fail "rogue -> redis" rogue 10.231.2.2 6379
ip -n "$p-rogue" route add 10.231.1.0/24 via 10.231.0.3
ip -n "$p-rogue" route add 10.231.2.0/24 via 10.231.0.4
must_fail "rogue -> postgres, routed via its sidecar" rogue 10.231.1.2 5432
must_fail "rogue -> redis, routed via its sidecar" rogue 10.231.2.2 6379
must_fail "rogue -> backend sidecar, plaintext" rogue 10.231.0.2 5432

# 4. The mTLS ports: a valid TCP path, but nothing without the right identity.
must_pass "backend's certificate -> redis sidecar" rogue "${BK[@]}" \
    --send "$PING" --expect +PONG 10.231.0.4 6380
must_pass "backend's certificate -> postgres sidecar" rogue "${BK[@]}" \
    --send "$PGSTART" --expect R 10.231.0.3 6432
must_fail "plaintext -> redis sidecar" rogue --send "$PING" --expect +PONG \
    10.231.0.4 6380
must_fail "no certificate -> redis sidecar" rogue --tls "$T/certs/ca.crt" \
    --send "$PING" --expect +PONG 10.231.0.4 6380
must_fail "no certificate -> postgres sidecar" rogue --tls "$T/certs/ca.crt" \
    --send "$PGSTART" --expect R 10.231.0.3 6432
must_fail "'intruder' -> redis sidecar" rogue "${IN[@]}" --send "$PING" \
    --expect +PONG 10.231.0.4 6380
must_fail "'intruder' -> postgres sidecar" rogue "${IN[@]}" \
    --send "$PGSTART" --expect R 10.231.0.3 6432

# The refusals are in the audit log with their reasons.
wait_for "intruder audit line" 5 grep -q 'peer=intruder' "$T/rdsc.log"
assert_grep 'peer=intruder.*reason=identity_not_allowed' "$T/rdsc.log"
echo "ok: 60-netns"
