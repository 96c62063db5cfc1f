#!/usr/bin/env bash
# 26-resolve: cotai-proxy follows a target whose address changes, with no
# SIGHUP (in Compose a recreated container comes back with a new IP), in a
# network namespace of its own whose /etc/hosts this test rewrites (ip
# netns exec bind-mounts /etc/netns/NS/hosts over /etc/hosts; the file is
# rewritten in place, as the bind mount pins its inode). Needs root;
# skipped without, like 60-netns.
#
#   client -> orig (originate) -> term (terminate) -> NAME:PORT -> peer
#
# term's routes, each with its own name and fixed port (the namespace is
# new, so fixed ports are safe):
#   moved   db.cotai.test:7001, resolve_interval 300ms, no connect retry:
#           the old peer stops, a new one starts on another address, and
#           new connections reach it within about the interval; later the
#           name moves back while both listen, with no connection at all:
#           only the periodic lookup can see that.
#   onfail  retry.cotai.test:7002, resolve_interval 0: not looked up
#           periodically, but a connection that fails on every address
#           has the name looked up again and its connect_retry succeeds.
#   late    late.cotai.test:7003: does not resolve at start (non-fatal,
#           warned once for the whole run of failures, each counted), then
#           appears and works; a reload that removes the route stops its
#           lookups.
# Each peer sends a different number of bytes, so the client knows which
# one answered.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "skip: needs root and ip netns"
	exit 0
fi

# Unique names for this run, so parallel runs do not collide.
ns=ct$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')-dns
etc=/etc/netns/$ns
resolve_cleanup() {
	local rc=$? pid
	set +e
	while read -r pid; do kill -TERM "$pid" 2>/dev/null; done <"$T/.pids"
	ip netns del "$ns" 2>/dev/null
	rm -rf "$etc"
	(exit "$rc")
	lib_cleanup
}
trap resolve_cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }
now_ms() { date +%s%3N; }

# hosts LINE...: the namespace's /etc/hosts, rewritten in place with one
# write (a lookup that reads it while it is empty only fails, which keeps
# the last good list).
hosts() {
	printf '%s\n' "127.0.0.1 localhost" "$@" >"$etc/hosts"
}

mkdir -p "$etc"
hosts "127.0.0.2 db.cotai.test" "127.0.0.2 retry.cotai.test"
# No name server: a name not in hosts fails at once, and no query leaves
# the namespace.
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
    >"$etc/resolv.conf"
ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns getent hosts db.cotai.test | grep -q '^127\.0\.0\.2 ' ||
    fail "the namespace does not see $etc/hosts"
export SPAWN_NETNS=$ns

# The proxies drop to nobody and read their files again on reload (and
# rewrite the ports file): certificates, configs and ports in nobody's
# directories.
relay_pki
chmod 711 "$T"
mkdir -p "$T/run"
chown -R nobody "$T/certs" "$T/run"

# peer NAME BYTES ADDR PORT: a source peer listening only on ADDR:PORT.
peer() {
	spawn "peer-$1" "$TOOLS/peer" -m source -n "$2" -a "$3" -l "$4" \
	    -p "$T/peer-$1.port"
	eval "pid_$1=$LAST_PID"
	wait_file "$T/peer-$1.port"
}
stop() { # NAME
	local pid
	eval "pid=\$pid_$1"
	kill "$pid"
	wait_exit "$pid"
}
# get ROUTE BYTES: one connection through orig's ROUTE must bring exactly
# BYTES from the peer that sends that many.
get() {
	in_ns timeout $((30 * TMO)) "$TOOLS/client" -p "${oport[$1]}" \
	    -m source -n "$2" >"$T/client.out" 2>&1
}
metric() { # SAMPLE: its value from term's /metrics
	in_ns bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" &&
	    printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' _ "$ADMIN" |
	    awk -v s="$1" '$1 == s { print $2 }'
}
lines() { # PATTERN: how many lines of term's log match
	grep -cE -- "$1" "$T/term.log" || true
}

peer a 1111 127.0.0.2 7001
peer c 1111 127.0.0.2 7002

route() { # NAME TARGET EXTRA
	echo "  - { name: $1, mode: terminate, listen: \"127.0.0.1:0\", target: \"$2\", allow: [backend], $3 }"
}
term_yaml() { # ROUTES...
	cat <<YAML
$(relay_user_line)
log: { level: debug }
admin: { listen: "127.0.0.1:0" }
reload: { watch: false }
workers: 2
drain_timeout: 2s
$VG_YAML
identity: { ca: $T/certs/ca.crt, cert: $T/certs/pg.crt, key: $T/certs/pg.key, crl: $T/certs/crl.pem }
routes:
YAML
	printf '%s\n' "$@"
}
r_moved=$(route moved db.cotai.test:7001 "resolve_interval: 300ms, connect_retry: { attempts: 0 }")
r_onfail=$(route onfail retry.cotai.test:7002 "resolve_interval: 0")
r_late=$(route late late.cotai.test:7003 "resolve_interval: 300ms, connect_retry: { attempts: 0 }")
term_yaml "$r_moved" "$r_onfail" "$r_late" >"$T/run/term.yaml"
spawn term "$PROXY" -c "$T/run/term.yaml" --ports-file "$T/run/term.ports"
term_pid=$LAST_PID
wait_file "$T/run/term.ports" $((30 * TMO))
ADMIN=$(awk '$1 == "admin" { print $2 }' "$T/run/term.ports")

{
	relay_user_line
	echo "workers: 2"
	echo "admin: { enabled: false }"
	echo "$VG_YAML"
	echo "identity: { ca: $T/certs/ca.crt, cert: $T/certs/backend.crt, key: $T/certs/backend.key }"
	echo "routes:"
	for r in moved onfail late; do
		echo "  - { name: $r, mode: originate, listen: \"127.0.0.1:0\", target: \"127.0.0.1:$(port_of "$T/run/term.ports" "$r")\", expect: pg }"
	done
} >"$T/run/orig.yaml"
spawn orig "$PROXY" -c "$T/run/orig.yaml" --ports-file "$T/run/orig.ports"
wait_file "$T/run/orig.ports" $((30 * TMO))
declare -A oport
for r in moved onfail late; do oport[$r]=$(port_of "$T/run/orig.ports" "$r"); done

echo "== a name that does not resolve at start is not fatal"
assert_grep 'route late: cannot resolve late.cotai.test:7003: .*\(keeping no address\)' \
    "$T/term.log"
get moved 1111 || { cat "$T/client.out"; fail "moved: first peer"; }
get onfail 1111 || { cat "$T/client.out"; fail "onfail: first peer"; }

echo "== moved: the peer comes back on another address"
stop a
peer b 2222 127.0.0.3 7001
hosts "127.0.0.3 db.cotai.test" "127.0.0.2 retry.cotai.test"
t0=$(now_ms)
wait_for "moved to reach 127.0.0.3" $((10 * TMO)) get moved 2222
echo "moved: new connections reach 127.0.0.3 after $(($(now_ms) - t0)) ms"
assert_grep 'route moved: target db.cotai.test:7001 now resolves to 127\.0\.0\.3 \(was 127\.0\.0\.2\)' \
    "$T/term.log"

echo "== moved: back again, seen by the periodic lookup alone"
peer a2 1111 127.0.0.2 7001
hosts "127.0.0.2 db.cotai.test" "127.0.0.2 retry.cotai.test"
t0=$(now_ms)
wait_for "the periodic lookup of db.cotai.test" $((10 * TMO)) grep -q \
    'route moved: target db.cotai.test:7001 now resolves to 127\.0\.0\.2 (was 127\.0\.0\.3)' \
    "$T/term.log"
echo "moved: the change was logged $(($(now_ms) - t0)) ms after the hosts file"
get moved 1111 || { cat "$T/client.out"; fail "moved: back to 127.0.0.2"; }
stop b

echo "== onfail: resolve_interval 0 looks up only after a failure"
stop c
peer d 2222 127.0.0.3 7002
hosts "127.0.0.2 db.cotai.test" "127.0.0.3 retry.cotai.test"
# Long enough for several lookups had there been a periodic one.
sleep $((1 * TMO))
[ "$(lines 'looking up retry.cotai.test')" = 0 ] ||
    fail "onfail was looked up with resolve_interval 0"
get onfail 2222 || { cat "$T/client.out"; fail "onfail: no retry to the new address"; }
assert_grep 'route onfail: target retry.cotai.test:7002 now resolves to 127\.0\.0\.3 \(was 127\.0\.0\.2\)' \
    "$T/term.log"
[ "$(metric 'cotai_upstream_retries_total{route="onfail"}')" -ge 1 ] ||
    fail "onfail: no connect retry counted"
echo "onfail: one connection, refused by the old address, retried on the new one"

echo "== late: failures are counted, warned once"
get late 3333 && fail "late: a connection went through with no address"
wait_for "3 failed lookups of late.cotai.test" $((10 * TMO)) sh -c \
    "[ \$(grep -c 'looking up late.cotai.test' '$T/term.log') -ge 4 ]"
n=$(metric 'cotai_upstream_resolve_failures_total{route="late"}')
[ "$n" -ge 3 ] || fail "late: $n lookup failures counted"
[ "$(lines 'cannot resolve late.cotai.test')" = 1 ] ||
    fail "late: the failure was warned more than once"
[ -n "$(metric 'cotai_upstream_resolve_failures_total{route="moved"}')" ] ||
    fail "moved: no resolve failure series"
echo "late: $n failed lookups, one warning"

echo "== late: the name appears"
peer e 3333 127.0.0.2 7003
hosts "127.0.0.2 db.cotai.test" "127.0.0.3 retry.cotai.test" \
    "127.0.0.2 late.cotai.test"
t0=$(now_ms)
wait_for "late to resolve" $((10 * TMO)) get late 3333
echo "late: works $(($(now_ms) - t0)) ms after the name appeared"
assert_grep 'route late: target late.cotai.test:7003 now resolves to 127\.0\.0\.2 \(was nothing\)' \
    "$T/term.log"
assert_no_grep 'reload \(' "$T/term.log" "a reload happened"

echo "== a reload that removes late stops its lookups"
term_yaml "$r_moved" "$r_onfail" >"$T/run/term.yaml"
kill -HUP "$term_pid"
wait_for "the reload" $((10 * TMO)) grep -q 'reload done' "$T/term.log"
before=$(lines 'looking up late.cotai.test')
moved_before=$(lines 'looking up db.cotai.test')
sleep $((1 * TMO))
[ "$(lines 'looking up late.cotai.test')" = "$before" ] ||
    fail "late is still looked up after its removal"
[ "$(lines 'looking up db.cotai.test')" -gt "$moved_before" ] ||
    fail "moved is no longer looked up after the reload"
get moved 1111 || { cat "$T/client.out"; fail "moved after the reload"; }
assert_no_grep 'is stale' "$T/term.log"
# The unchanged route kept its upstream (and addresses): no lookup at the
# reload, which would have logged "resolves to" a second time.
[ "$(lines 'route moved: target db.cotai.test:7001 resolves to')" = 1 ] ||
    fail "the reload looked moved up again instead of keeping its upstream"
[ -z "$(metric 'cotai_upstream_resolve_failures_total{route="late"}')" ] ||
    fail "the removed route still has metrics"
echo "== a lookup stuck on a silent name server does not hold up the exit"
# A name server that never answers (glibc then waits 5 s x 2 attempts).
spawn dns "$(command -v python3)" -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
time.sleep(600)'
wait_for "the silent name server" $((10 * TMO)) sh -c \
    "ip netns exec '$ns' ss -Hlun 'sport = :53' | grep -q ."
printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n' \
    >"$etc/resolv.conf"
hosts "127.0.0.3 retry.cotai.test" # db.cotai.test now goes to it
sleep 1                            # moved's next lookup is stuck there
t0=$(now_ms)
kill -TERM "$term_pid"
wait "$term_pid" || fail "cotai-proxy exited $? after SIGTERM"
took=$(($(now_ms) - t0))
echo "exit $took ms after SIGTERM, a lookup still running"
[ "$took" -lt $((4000 * TMO)) ] || fail "the exit waited for the lookup"
assert_grep 'a name lookup is still running; exiting without waiting' \
    "$T/term.log"
echo "ok: 26-resolve"
