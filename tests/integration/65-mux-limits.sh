#!/usr/bin/env bash
# Multiplexed transport bounds: the terminate side's
# SETTINGS_MAX_CONCURRENT_STREAMS (mux_streams) caps streams per tunnel,
# so a fifth held connection opens a second tunnel (one more handshake);
# flow control stalls one stream without loss and without stopping the
# others: a stream whose app does not read fills its window (counted in
# cotai_mux_flow_stalls_total) while 64 MiB echo through the same tunnel
# completes, checked byte for byte, and the stalled app then reads back
# every byte it sent. A peer that stops answering PINGs (SIGSTOP) loses
# its tunnels and their streams (idle_timeout, "PING unanswered") within
# two mux_ping intervals; the next connection opens a new tunnel.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

export WORKERS=1
ops_pki
relay_peer echo
echo_port=$PEER_PORT

term_routes="
    mux_streams: 4
    mux_window: 64k"
ops_config term terminate pg "$echo_port" "allow: [backend]" "" "$term_routes"
ops_start term
term_pid=$PROXY_PID
tp=$PORT

orig_routes="
    mux_window: 64k
    mux_ping: ${TMO}s"
ops_config orig originate backend "$tp" "expect: pg" "" "$orig_routes"
ops_start orig
op=$PORT

echo "== mux_streams 4 on the terminate side: the fifth stream needs a second tunnel"
for i in 3 4 5 6; do
	eval "exec $i<>/dev/tcp/127.0.0.1/$op"
	say $i "held-$i"
done
[ "$(metric orig cotai_mux_tunnels)" = 1 ] || fail "4 streams: $(metric orig cotai_mux_tunnels) tunnels"
[ "$(metric orig 'cotai_handshakes_total{route="orig"}')" = 1 ] || fail "4 streams: not one handshake"
exec 7<>"/dev/tcp/127.0.0.1/$op"
say 7 held-7
[ "$(metric orig cotai_mux_tunnels)" = 2 ] || fail "5 streams: $(metric orig cotai_mux_tunnels) tunnels"
[ "$(metric orig 'cotai_handshakes_total{route="orig"}')" = 2 ] || fail "5 streams: not two handshakes"
for i in 3 4 5 6 7; do say $i "again-$i"; eval "exec $i>&-"; done
wait_audit orig 5

echo "== a stalled stream (its app does not read) and 64 MiB echo beside it"
# The stalled app writes 128 MiB (more than all the socket buffers on the
# way hold) to the echo and reads none of it back for now: the bytes back
# fill the socket buffers and then its stream's window, and the writer
# blocks. The bulk stream shares the tunnel.
blob=$(((128 << 20) / SCALE))
head -c $blob /dev/urandom >"$T/blob"
exec 5<>"/dev/tcp/127.0.0.1/$op"
cat "$T/blob" >&5 &
writer=$!
stalled() { [ "$(metric orig cotai_mux_flow_stalls_total)" -ge 1 ]; }
wait_for "the stalled stream's window to fill" $((20 * TMO)) stalled
big=$(((64 << 20) / SCALE))
start=$(date +%s%N)
timeout $((60 * TMO)) "$TOOLS/client" -p "$op" -m echo -n $big >"$T/big.out" 2>&1 ||
    { cat "$T/big.out"; fail "64 MiB echo beside the stalled stream"; }
assert_grep 'failures=0' "$T/big.out"
ms=$((($(date +%s%N) - start) / 1000000))
echo "64 MiB echo beside the stalled stream: ${ms} ms"
kill -0 "$writer" 2>/dev/null || fail "the stalled stream was not stalled"
[ "$(metric orig 'cotai_handshakes_total{route="orig"}')" = 2 ] || fail "a handshake for the bulk stream"
echo "== the stalled stream gets every byte back once its app reads"
got=$(timeout $((60 * TMO)) head -c $blob <&5 | sha256sum | cut -d' ' -f1)
want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the stalled stream lost or changed bytes"
wait "$writer" || fail "writer"
exec 5>&-
wait_for "the two closes on term" $((10 * TMO)) sh -c \
    "[ \$(grep 'event=close' '$T/term.log' | grep -c 'reason=eof') -ge 7 ]"
assert_grep "route=term .*stream=[0-9]+ bytes_up=$big bytes_down=$big .*reason=eof" "$T/term.log"
assert_grep "route=term .*stream=[0-9]+ bytes_up=$blob bytes_down=$blob .*reason=eof" "$T/term.log"

echo "== a peer that stops answering PINGs: its tunnels go, new ones replace them"
exec 5<>"/dev/tcp/127.0.0.1/$op"
say 5 before-stop
hs=$(metric orig 'cotai_handshakes_total{route="orig"}')
kill -STOP "$term_pid"
wait_for "the held stream's close" $((10 * TMO)) sh -c \
    "grep 'event=close' '$T/orig.log' | grep -q 'reason=idle_timeout detail=\"PING unanswered\"'"
no_tunnel() { [ "$(metric orig cotai_mux_tunnels)" = 0 ]; }
wait_for "every tunnel to the stopped peer to go" $((10 * TMO)) no_tunnel
kill -CONT "$term_pid"
assert_grep 'event=tunnel_close .*route=orig side=originate .*reason=idle_timeout detail="PING unanswered"' \
    "$T/orig.log"
if read -r -t $((5 * TMO)) line <&5 2>/dev/null; then fail "the stream outlived its tunnel: $line"; fi
exec 5>&-
timeout $((30 * TMO)) "$TOOLS/client" -p "$op" -m echo -n 100000 >"$T/after.out" 2>&1 ||
    { cat "$T/after.out"; fail "no new tunnel after the old one went"; }
[ "$(metric orig 'cotai_handshakes_total{route="orig"}')" = $((hs + 1)) ] ||
    fail "not one new handshake for the new tunnel: $hs -> $(metric orig 'cotai_handshakes_total{route="orig"}')"
echo "ok"
