#!/usr/bin/env bash
# Multiplexed transport under churn and a peer's restart: two real
# cotai-proxy processes with one worker each (mux: auto, the default).
#  - churn: 2,000 short app connections (64 bytes each way), 50 at a time,
#    while two long connections stay open and keep echoing: every stream
#    ends with eof on both sides, the long ones are unharmed, one TLS
#    handshake carried them all, and no stream or connection is left over;
#  - the terminate proxy is killed (SIGKILL) with streams open: those
#    streams end at once (the app sees its connection closed, both proxies'
#    audits name it), and once the peer is back on the same port the next
#    app connection opens a new tunnel and gets through.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

export WORKERS=1
ROUNDS=$((40 / SCALE))
[ "$ROUNDS" -ge 2 ] || ROUNDS=2
PER=50 # with the two long ones, within one tunnel's 100 streams
ops_pki
relay_peer echo
echo_port=$PEER_PORT
ops_config term terminate pg "$echo_port" "allow: [backend]"
ops_start term
term_pid=$PROXY_PID
tp=$PORT
# Pin term's port so that it can come back on it.
sed -i "s/listen: 127.0.0.1:0/listen: 127.0.0.1:$tp/" "$T/run/term.yaml"
ops_config orig originate backend "$tp" "expect: pg"
ops_start orig
orig_pid=$PROXY_PID
op=$PORT

closes() { # LOG ROUTE PATTERN
	grep 'event=close' "$T/$1.log" | grep "route=$2 " | grep -Ec -- "$3" || true
}

echo "== churn: $((ROUNDS * PER)) short streams beside two long ones"
exec 5<>"/dev/tcp/127.0.0.1/$op"
say 5 long-one-start
exec 6<>"/dev/tcp/127.0.0.1/$op"
say 6 long-two-start
for r in $(seq "$ROUNDS"); do
	timeout $((60 * TMO)) "$TOOLS/client" -p "$op" -m echo -n 64 -c "$PER" \
	    >"$T/c.out" 2>&1 || { cat "$T/c.out"; fail "round $r"; }
	assert_grep 'failures=0' "$T/c.out"
	say 5 "long-one-$r"
	say 6 "long-two-$r"
done
n=$((ROUNDS * PER))
wait_audit term "$n" 30
wait_audit orig "$n" 30
[ "$(closes term term 'stream=[0-9]+ .*reason=eof')" = "$n" ] ||
    fail "term: $(closes term term 'reason=eof') of $n streams ended with eof"
[ "$(closes orig orig 'stream=[0-9]+ .*reason=eof')" = "$n" ] ||
    fail "orig: $(closes orig orig 'reason=eof') of $n streams ended with eof"
[ "$(grep -c 'event=close' "$T/term.log")" = "$n" ] ||
    fail "term: a close that is not a short stream's"
[ "$(metric orig 'cotai_handshakes_total{route="orig"}')" = 1 ] ||
    fail "orig: $(metric orig 'cotai_handshakes_total{route="orig"}') handshakes"
[ "$(metric term cotai_mux_streams_total)" = $((n + 2)) ] ||
    fail "term: $(metric term cotai_mux_streams_total) streams, not $((n + 2))"
# Only the two long connections are left, on both sides.
[ "$(metric term 'cotai_connections_active{route="term"}')" = 2 ] ||
    fail "term: active $(metric term 'cotai_connections_active{route="term"}')"
[ "$(metric orig 'cotai_connections_active{route="orig"}')" = 2 ] ||
    fail "orig: active $(metric orig 'cotai_connections_active{route="orig"}')"
[ "$(metric orig cotai_mux_tunnels)" = 1 ] || fail "orig: $(metric orig cotai_mux_tunnels) tunnels"

echo "== the terminate proxy dies with streams open"
kill -KILL "$term_pid"
wait_exit "$term_pid"
# Each long connection ends: EOF or a reset, no echo, within a few seconds.
for fd in 5 6; do
	echo "after-kill" >&$fd 2>/dev/null || true
	line="" rc=0
	read -r -t $((10 * TMO)) line <&$fd 2>/dev/null || rc=$?
	[ "$rc" -le 128 ] || fail "fd $fd: no EOF 10 s after its peer died"
	[ "$rc" -ne 0 ] && [ -z "$line" ] ||
	    fail "fd $fd: stream still open after its peer died: $line"
	exec {fd}>&-
done
wait_for "orig's closes of the two streams" $((10 * TMO)) sh -c \
    "[ \$(grep 'event=close' '$T/orig.log' | grep -Ec 'stream=[0-9]+ .*closed_by=upstream reason=(tls_error|reset) ') -ge 2 ]"
# The socket ended without close_notify: a TLS error, not a clean end.
assert_grep 'event=tunnel_close .*route=orig side=originate .*streams=[0-9]+ .*reason=(tls_error|reset) detail="tunnel read failed"' \
    "$T/orig.log"
for i in $(seq $((10 * TMO * 10))); do
	[ "$(metric orig cotai_mux_tunnels)" = 0 ] && break
	sleep 0.1
done
[ "$(metric orig cotai_mux_tunnels)" = 0 ] || fail "orig: a tunnel to a dead peer"
[ "$(metric orig 'cotai_connections_active{route="orig"}')" = 0 ] ||
    fail "orig: connections left after the peer died"

echo "== the peer comes back: a new tunnel, the next connection passes"
mv "$T/term.log" "$T/term-1.log"
rm -f "$T/run/term.ports"
ops_start term
term_pid=$PROXY_PID
[ "$PORT" = "$tp" ] || fail "term came back on $PORT, not $tp"
timeout $((60 * TMO)) "$TOOLS/client" -p "$op" -m echo -n 100000 -c 1 \
    >"$T/c.out" 2>&1 || { cat "$T/c.out"; fail "after the restart"; }
assert_grep 'failures=0' "$T/c.out"
[ "$(metric orig 'cotai_handshakes_total{route="orig"}')" = 2 ] ||
    fail "orig: $(metric orig 'cotai_handshakes_total{route="orig"}') handshakes, not 2"
[ "$(metric orig cotai_mux_tunnels)" = 1 ] || fail "orig: no new tunnel"
# Connections that come while it is up share it.
timeout $((60 * TMO)) "$TOOLS/client" -p "$op" -m echo -n 100000 -c 4 \
    >"$T/c.out" 2>&1 || { cat "$T/c.out"; fail "after the restart"; }
assert_grep 'failures=0' "$T/c.out"
[ "$(metric orig 'cotai_handshakes_total{route="orig"}')" = 2 ] ||
    fail "orig: $(metric orig 'cotai_handshakes_total{route="orig"}') handshakes, not 2"
wait_audit term 5
[ "$(closes term term 'stream=[0-9]+ .*reason=eof')" = 5 ] || fail "term: the new streams"
echo "ok"
