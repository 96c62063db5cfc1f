#!/usr/bin/env bash
# The admin endpoint stays answerable under a slow-request flood from the
# shared loopback (issue 11): 100 sockets each trickle one byte of a never
# ending request head every 3 s (and reconnect 1 s after being closed);
# meanwhile `cotai-proxy health` (GET /healthz) must answer 200 within
# 1 s, process start included, probe after probe, for more than 10 s.
# SLOW_RECONNECT_MS=0 turns the trickle into a connect flood. Fails on the old endpoint, whose inactivity timeout never
# fires and whose 32-connection cap then refuses every newcomer.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

ops_pki
relay_peer echo
ops_config term terminate pg "$PEER_PORT" "allow: [backend]"
ops_start term
ta=$ADMIN
http_get "$ta" /healthz | grep -q '^HTTP/1.0 200' || fail "healthz before"

echo "== 100 slow sockets"
spawn slow "$TOOLS/slowloris" -n 100 -i 3 -r "${SLOW_RECONNECT_MS:-1000}" -f "$T/slow.ready" \
    "${ta##*:}"
slow_pid=$LAST_PID
wait_file "$T/slow.ready" $((20 * TMO))
# Let the first trickles run past the old 5 s inactivity timeout.
sleep 4

echo "== /healthz probes for 12 s (cotai-proxy health, the Compose check)"
probes=0 worst=0
end=$(($(date +%s) + 12))
while [ "$(date +%s)" -lt "$end" ]; do
	t0=$(date +%s%N)
	rc=0
	timeout $((2 * TMO)) "$PROXY" health --admin "$ta" >"$T/p.out" 2>&1 ||
	    rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ $rc = 0 ] || fail "probe $probes: exit $rc after ${ms} ms: $(cat "$T/p.out")"
	[ $ms -le $((1000 * TMO)) ] || fail "probe $probes: answered after ${ms} ms"
	[ $ms -gt $worst ] && worst=$ms
	probes=$((probes + 1))
	sleep 0.2
done
kill -0 "$slow_pid" || fail "slowloris died"
echo "$probes probes answered, slowest ${worst} ms"
[ $probes -ge 20 ] || fail "only $probes probes"
# The flood was real: the endpoint had to evict.
assert_grep 'evicted [0-9]+ oldest incomplete' "$T/term.log"
echo PASS
