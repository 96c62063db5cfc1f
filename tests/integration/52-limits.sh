#!/usr/bin/env bash
# Limits and abuse. (1) 1,000 TCP connections that never send a
# ClientHello do not stop a legitimate client from connecting within a
# second: over max_handshakes the oldest pending handshake is shed.
# (2) EMFILE: with a tiny descriptor limit the proxy pauses accepting,
# then recovers once descriptors are free. (3) The process-wide
# max_connections refuses the excess connection (reason limit) when
# authenticated connections fill it (unauthenticated ones would be shed
# for it: 57-limit-shed). (4)
# connect_retry: a connection made while the upstream is not yet
# listening succeeds when the upstream starts a second later.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

IDLE=1000
LIMIT_MS=1000
if [ "${COTAI_VALGRIND:-0}" = 1 ]; then IDLE=200; LIMIT_MS=10000; fi
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((IDLE + 100)) ] || fail "ulimit -n too low: $(ulimit -n)"

ops_pki
now_ms() { echo $(($(date +%s%N) / 1000000)); }

echo "== $IDLE silent connections, then a real client"
ops_chain "max_handshakes: 100" "    timeouts: { handshake: 60s }"
idle=()
for i in $(seq "$IDLE"); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$tp"
	idle+=("$fd")
done
wait_for "the proxy to shed" $((10 * TMO)) sh -c \
    "grep -q 'reason=handshake_shed' '$T/term.log'"
t0=$(now_ms)
timeout $((30 * TMO)) "$TOOLS/client" -p "$op" -n 1000 >"$T/c1.out" 2>&1 ||
    { cat "$T/c1.out"; fail "the real client failed"; }
dt=$(($(now_ms) - t0))
shed=$(grep -c 'reason=handshake_shed' "$T/term.log")
echo "real client: ${dt} ms with $IDLE silent connections ($shed shed)"
[ "$dt" -lt "$LIMIT_MS" ] || fail "the real client took ${dt} ms"
[ "$(metric term 'cotai_handshake_failures_total{route="term",reason="handshake_shed"}')" -ge 1 ] ||
    fail "shed handshakes not counted"
for fd in "${idle[@]}"; do exec {fd}>&-; done

echo "== EMFILE pauses accepting and recovers"
ops_config tiny terminate pg "$PEER_PORT" "allow: [backend]"
spawn tiny bash -c 'ulimit -n 40 && exec "$0" "$@"' "$PROXY" \
    -c "$T/run/tiny.yaml" --ports-file "$T/run/tiny.ports"
wait_file "$T/run/tiny.ports" $((30 * TMO))
tiny=$(port_of "$T/run/tiny.ports" tiny)
ops_config orig2 originate backend "$tiny" "expect: pg"
ops_start orig2
o2=$PORT
idle=()
for i in $(seq 100); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$tiny"
	idle+=("$fd")
done
wait_for "EMFILE" $((10 * TMO)) sh -c "grep -q 'pausing 100 ms' '$T/tiny.log'"
assert_grep 'Too many open files' "$T/tiny.log"
for fd in "${idle[@]}"; do exec {fd}>&-; done
timeout $((30 * TMO)) "$TOOLS/client" -p "$o2" -n 100000 -c 2 >"$T/c2.out" 2>&1 ||
    { cat "$T/c2.out"; fail "no recovery after EMFILE"; }

echo "== process-wide max_connections"
WORKERS=1 ops_config cap terminate pg "$PEER_PORT" "allow: [backend]" \
    "max_connections: 2"
ops_start cap
# Two authenticated connections held open (echoed, then kept: -K).
touch "$T/go"
holders=()
for i in 1 2; do
	spawn "holder$i" "$TOOLS/holdtls" -p "$PORT" -c "$T/certs/backend.crt" \
	    -k "$T/certs/backend.key" -a "$T/certs/ca.crt" -g "$T/go" -K \
	    -t $((60 * TMO))
	holders+=("$LAST_PID")
	wait_for "holder$i" $((10 * TMO)) grep -q '^relayed' "$T/holder$i.log"
done
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m refused >"$T/c3.out" 2>&1 ||
    { cat "$T/c3.out"; fail "the excess connection was not refused"; }
wait_for "reason=limit" $((10 * TMO)) sh -c "grep -q 'reason=limit' '$T/cap.log'"
for i in 1 2; do
	kill -0 "${holders[$((i - 1))]}" || fail "holder$i was closed"
	assert_no_grep '^closed' "$T/holder$i.log"
	kill "${holders[$((i - 1))]}"
done

echo "== connect_retry: the upstream starts a second after the client"
ops_config late terminate pg "$PEER_PORT" "allow: [backend]"
ops_start late
late_port=$PORT
kill "$PROXY_PID"
wait_exit "$PROXY_PID"
ops_config orig3 originate backend "$late_port" "expect: pg" "" \
    "    connect_retry: { attempts: 10, backoff: 100ms }"
ops_start orig3
o3=$PORT
timeout $((60 * TMO)) "$TOOLS/client" -p "$o3" -n 100000 -c 2 >"$T/c4.out" 2>&1 &
cpid=$!
sleep 1 # the scenario: the database comes up a second late
sed -i "s/listen: 127.0.0.1:0/listen: 127.0.0.1:$late_port/" "$T/run/late.yaml"
rm -f "$T/run/late.ports"
ops_start late
wait "$cpid" || { cat "$T/c4.out"; fail "the early connections failed"; }
assert_grep 'failures=0' "$T/c4.out"
[ "$(metric orig3 'cotai_upstream_retries_total{route="orig3"}')" -ge 1 ] ||
    fail "no retry counted"
kill -0 "$term_pid" || fail "terminate died"
echo ok
