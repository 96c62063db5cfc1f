#!/usr/bin/env bash
# Upstream down: the client's connection is closed promptly, nothing is
# relayed and the terminating proxy logs upstream_refused. A connection
# over max_connections, held by an authenticated one, is closed at once
# (reason limit; an unauthenticated holder would be shed for it, see
# 57-limit-shed). Then SIGTERM
# with a connection still open: the proxy drains, closes it with reason
# drain at the deadline and exits 0. An upstream that swallows SYNs is
# retried after the connect timeout like one that refuses.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

relay_pki
relay_peer echo
dead_port=$PEER_PORT
kill "$LAST_PID"
wait_exit "$LAST_PID"

relay_terminate term "$dead_port"
tp=$PORT
relay_originate orig "$tp"
op=$PORT

echo "== upstream refused"
start=$(date +%s)
timeout $((30 * TMO)) "$TOOLS/client" -p "$op" -m refused | tee "$T/refused.out"
assert_grep 'failures=0' "$T/refused.out"
[ $(($(date +%s) - start)) -le $((5 * TMO)) ] || fail "the client was not closed promptly"
wait_audit term 1
wait_audit orig 1
assert_grep 'peer=backend .*closed_by=upstream reason=upstream_refused' \
    "$T/term.log"
assert_grep 'bytes_up=0 bytes_down=0' "$T/term.log"

echo "== max_connections: the excess connection is closed at once"
relay_peer sink
WORKERS=1 relay_terminate term3 "$PEER_PORT" "    max_connections: 1"
# The one allowed connection, authenticated (its handshake done) and held
# open: the sink answers only at EOF.
touch "$T/go"
spawn holder "$TOOLS/holdtls" -p "$PORT" -c "$T/certs/backend.crt" \
    -k "$T/certs/backend.key" -a "$T/certs/ca.crt" -g "$T/go" \
    -t $((60 * TMO))
holder=$LAST_PID
wait_for "the holder's handshake" $((10 * TMO)) grep -q '^handshaken' "$T/holder.log"
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m refused | tee "$T/limit.out"
assert_grep 'failures=0' "$T/limit.out"
wait_audit term3 1
assert_grep 'closed_by=proxy reason=limit' "$T/term3.log"
kill -0 "$holder" || fail "the authenticated holder was closed"
assert_no_grep '^closed' "$T/holder.log"
kill "$holder"

echo "== an upstream that swallows SYNs: connect timeout, retried, then closed"
relay_peer stall
relay_terminate term4 "$PEER_PORT" "    timeouts: { connect: 300ms }
    connect_retry: { attempts: 1, backoff: 100ms }"
relay_originate orig4 "$PORT"
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m refused | tee "$T/stall.out"
assert_grep 'failures=0' "$T/stall.out"
wait_audit term4 1
assert_grep 'closed_by=proxy reason=connect_timeout' "$T/term4.log"
# Two attempts of 300 ms and the 100 ms backoff between them.
ms=$(grep -o 'route=term4 .*duration_ms=[0-9]*' "$T/term4.log" | sed 's/.*=//')
[ "$ms" -ge 700 ] || fail "closed after $ms ms: the timeout was not retried"

echo "== SIGTERM drains and exits 0"
relay_terminate term2 "$PEER_PORT" "" ""
t2=$PORT
exec 3<>"/dev/tcp/127.0.0.1/$t2" # a TCP connection that never says hello
start=$(date +%s)
kill -TERM "$PROXY_PID"
rc=0
wait "$PROXY_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "cotai-proxy exited $rc after SIGTERM"
exec 3>&-
[ $(($(date +%s) - start)) -le $((6 * TMO)) ] || fail "drain took too long"
assert_grep 'reason=(drain|handshake_timeout)' "$T/term2.log"
assert_grep 'msg=stopped' "$T/term2.log"
echo ok
