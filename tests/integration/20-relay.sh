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
timeout 30 "$TOOLS/client" -p "$oe" -m echo -n $((64 << 20)) | tee "$T/big.out"
assert_grep 'failures=0' "$T/big.out"

echo "== 200 concurrent connections"
timeout 60 "$TOOLS/client" -p "$oe" -m echo -n 65536 -c 200 | tee "$T/many.out"
assert_grep 'failures=0' "$T/many.out"

echo "== half-close: the answer comes after the client's EOF"
timeout 60 "$TOOLS/client" -p "$os" -m sink -n $((4 << 20)) -c 4 | tee "$T/half.out"
assert_grep 'failures=0' "$T/half.out"

wait_audit orig-echo 201
wait_audit term-echo 201
wait_audit term-sink 4
audit term-echo | head -3
n=$(audit term-echo | grep -c 'reason=eof' || true)
[ "$n" -eq 201 ] || fail "term-echo: $n of 201 closes with reason=eof"
n=$(audit orig-echo | grep -c 'reason=eof' || true)
[ "$n" -eq 201 ] || fail "orig-echo: $n of 201 closes with reason=eof"
assert_grep 'peer=backend .*bytes_up=67108864 bytes_down=67108864' \
    "$T/term-echo.log" "64 MiB not accounted on term-echo"
assert_grep 'peer=pg .*tls_version=TLSv1.3' "$T/orig-echo.log"
echo "ok"
