#!/usr/bin/env bash
# Unauthenticated sockets must not lock legitimate clients out (issue 11,
# Medium). The default limits (route max_connections 1024, max_handshakes
# 1024), scaled down through the config only: N idle TCP sockets from one
# source fill a terminate route; legitimate clients then connect and relay
# within a second (the oldest unauthenticated connection is shed,
# handshake_shed, instead of the newcomer being refused with limit), and
# the authenticated connections held all along are not shed. The same at
# the process-wide max_connections. A route full of authenticated
# connections still refuses a stranger (reason limit) and keeps them.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

N=64
LIMIT_MS=1000
if [ "${COTAI_VALGRIND:-0}" = 1 ]; then LIMIT_MS=10000; fi
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

ops_pki

# fill PORT: open N idle sockets to PORT (fds in the array idle).
idle=()
fill() {
	local fd
	for _ in $(seq "$N"); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$1"
		idle+=("$fd")
	done
}
unfill() {
	local fd
	for fd in "${idle[@]}"; do exec {fd}>&-; done
	idle=()
}

# legit PORT NAME: 4 clients relay through PORT within LIMIT_MS.
legit() {
	local t0 dt
	t0=$(now_ms)
	timeout $((30 * TMO)) "$TOOLS/client" -p "$1" -n 1000 -c 4 >"$T/$2.out" 2>&1 ||
	    { cat "$T/$2.out"; fail "$2: the legitimate clients failed"; }
	dt=$(($(now_ms) - t0))
	echo "$2: 4 legitimate clients in ${dt} ms"
	[ "$dt" -lt "$LIMIT_MS" ] || fail "$2: the legitimate clients took ${dt} ms"
}

echo "== route max_connections $N, max_handshakes $N: $N idle sockets, then real clients"
ops_chain "max_handshakes: $N" "    max_connections: $N
    timeouts: { handshake: 60s }"
# Authenticated connections first, held open across everything below.
auth=()
for i in $(seq 8); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$op"
	say "$fd" "auth-$i"
	auth+=("$fd")
done
fill "$tp"
# With mux (the default) the held connections are streams of one tunnel,
# which holds a place of its own.
route_full() {
	local a t
	a=$(metric term 'cotai_connections_active{route="term"}')
	t=$(metric term cotai_mux_tunnels)
	[ $((a + t)) = "$N" ]
}
wait_for "the route to be full" $((10 * TMO)) route_full
legit "$op" route
# The attacker renews its sockets: the same again.
fill "$tp"
legit "$op" route-again
for i in $(seq 8); do say "${auth[$((i - 1))]}" "auth-$i-after"; done
assert_no_grep 'peer=backend .*reason=handshake_shed' "$T/term.log" \
    "an authenticated connection was shed"
assert_no_grep 'reason=limit' "$T/term.log" "a newcomer was refused"
[ "$(metric term 'cotai_handshake_failures_total{route="term",reason="handshake_shed"}')" -ge 4 ] ||
    fail "shed connections not counted"
unfill
for fd in "${auth[@]}"; do exec {fd}>&-; done

echo "== process-wide max_connections $N: $N idle sockets, then real clients"
ops_config proc terminate pg "$PEER_PORT" "allow: [backend]" \
    "max_connections: $N
max_handshakes: 1024" "    timeouts: { handshake: 60s }"
ops_start proc
pp=$PORT
ops_config porig originate backend "$pp" "expect: pg"
ops_start porig
pop=$PORT
fill "$pp"
legit "$pop" process
assert_no_grep 'reason=limit' "$T/proc.log" "a newcomer was refused"
assert_grep 'reason=handshake_shed' "$T/proc.log"
unfill

echo "== a route full of authenticated connections refuses a stranger"
ops_config full terminate pg "$PEER_PORT" "allow: [backend]" "" \
    "    max_connections: 4"
ops_start full
fp=$PORT
touch "$T/go"
held=()
for i in $(seq 4); do
	spawn "held$i" "$TOOLS/holdtls" -p "$fp" -c "$T/certs/backend.crt" \
	    -k "$T/certs/backend.key" -a "$T/certs/ca.crt" -g "$T/go" -K \
	    -t $((60 * TMO))
	held+=("$LAST_PID")
	wait_for "held$i to relay" $((10 * TMO)) grep -q '^relayed' "$T/held$i.log"
done
exec {fd}<>"/dev/tcp/127.0.0.1/$fp"
wait_for "reason=limit" $((10 * TMO)) grep -q 'reason=limit' "$T/full.log"
exec {fd}>&-
assert_no_grep 'reason=handshake_shed' "$T/full.log"
for i in $(seq 4); do
	kill -0 "${held[$((i - 1))]}" || fail "held$i ended"
	assert_no_grep '^closed' "$T/held$i.log" "held$i was closed"
done
kill -0 "$term_pid" "$orig_pid" || fail "a proxy died"
echo ok
