#!/usr/bin/env bash
# The admin endpoint stays answerable under a slow-request flood from the
# shared loopback (issue 11): 100 sockets each trickle one byte of a never
# ending request head every 3 s (and reconnect 1 s after being closed);
# meanwhile /healthz must answer 200 within 1 s, probe after probe, for
# more than 10 s. Fails on the old endpoint, whose inactivity timeout never
# fires and whose 32-connection cap then refuses every newcomer.
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
spawn slow "$TOOLS/slowloris" -n 100 -i 3 -r 1000 -f "$T/slow.ready" \
    "${ta##*:}"
slow_pid=$LAST_PID
wait_file "$T/slow.ready" $((20 * TMO))
# Let the first trickles run past the old 5 s inactivity timeout.
sleep 4

echo "== /healthz probes for 12 s"
probes=0 worst=0
end=$(($(date +%s) + 12))
while [ "$(date +%s)" -lt "$end" ]; do
	t0=$(date +%s%N)
	if ! timeout $((1 * TMO)) bash -c \
	    "$(declare -f http_get); http_get '$ta' /healthz" >"$T/p.out" 2>&1 ||
	    ! grep -q '^HTTP/1.0 200' "$T/p.out"; then
		fail "probe $probes: no 200 within ${TMO}s: $(head -c 200 "$T/p.out")"
	fi
	ms=$((($(date +%s%N) - t0) / 1000000))
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
