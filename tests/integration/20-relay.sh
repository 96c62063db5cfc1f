#!/usr/bin/env bash
# originate -> terminate -> peer: 64 MiB each way through an echo, 200
# concurrent connections, half-close (a sink answers only after EOF).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

relay_pki
relay_peer echo
echo_port=$PEER_PORT
relay_peer sink
sink_port=$PEER_PORT

relay_terminate term-echo "$echo_port"
te=$PORT
relay_originate orig-echo "$te"
oe=$PORT
relay_terminate term-sink "$sink_port"
ts=$PORT
relay_originate orig-sink "$ts"
os=$PORT

echo "== 64 MiB each way through the chain"
big=$(((64 << 20) / SCALE))
timeout $((30 * TMO)) "$TOOLS/client" -p "$oe" -m echo -n $big | tee "$T/big.out"
assert_grep 'failures=0' "$T/big.out"

echo "== $CONC concurrent connections"
timeout $((60 * TMO)) "$TOOLS/client" -p "$oe" -m echo -n 65536 -c $CONC | tee "$T/many.out"
assert_grep 'failures=0' "$T/many.out"

echo "== half-close: the answer comes after the client's EOF"
timeout $((60 * TMO)) "$TOOLS/client" -p "$os" -m sink -n $((4 << 20)) -c 4 | tee "$T/half.out"
assert_grep 'failures=0' "$T/half.out"

wait_audit orig-echo $((CONC + 1))
wait_audit term-echo $((CONC + 1))
wait_audit term-sink 4
audit term-echo | head -3
n=$(audit term-echo | grep -c 'reason=eof' || true)
[ "$n" -eq $((CONC + 1)) ] || fail "term-echo: $n of $((CONC + 1)) closes with reason=eof"
n=$(audit orig-echo | grep -c 'reason=eof' || true)
[ "$n" -eq $((CONC + 1)) ] || fail "orig-echo: $n of $((CONC + 1)) closes with reason=eof"
assert_grep "peer=backend .*bytes_up=$big bytes_down=$big" \
    "$T/term-echo.log" "64 MiB not accounted on term-echo"
assert_grep 'peer=pg .*tls_version=TLSv1.3' "$T/orig-echo.log"
# The transport is the one asked for (COTAI_MUX, default auto): streams
# (a stream id in each close line) or one TLS connection per connection.
n=$(audit term-echo | grep -c ' stream=[0-9]' || true)
if [ "${COTAI_MUX:-auto}" = off ]; then
	[ "$n" -eq 0 ] || fail "mux: off, yet $n streams"
else
	[ "$n" -eq $((CONC + 1)) ] || fail "mux: ${COTAI_MUX:-auto}, yet $n of $((CONC + 1)) were streams"
fi
echo "ok"
