#!/usr/bin/env bash
# Multiplexed transport (mux, HTTP/2 CONNECT tunnels): two real cotai-proxy
# processes with one worker each. Many sequential and concurrent app
# connections ride ONE TLS handshake (handshake counters and the tunnel
# gauge on both sides, one audit line per stream with its id); half-close
# through a stream; an app's reset reaches the far side as RST_STREAM; an
# unreachable target gives the app side the same reason as without mux;
# a mux: off peer interoperates in both directions (one TLS connection per
# connection, no stream ids), mux: on refuses it; a revoked peer's tunnel
# is closed by the reload that loads the CRL, and so are its live streams.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

export WORKERS=1
ops_pki
relay_peer echo
echo_port=$PEER_PORT
relay_peer sink
sink_port=$PEER_PORT
# A port nothing listens on: a peer's, once that peer is gone.
relay_peer source -n 1
dead_port=$PEER_PORT
kill "$LAST_PID"
wait_exit "$LAST_PID"

term_routes="
  - name: term-sink
    mode: terminate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$sink_port
    allow: [backend]
  - name: term-dead
    mode: terminate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$dead_port
    allow: [backend]
    connect_retry: { attempts: 0 }
  - name: term-off
    mode: terminate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$echo_port
    allow: [backend]
    mux: off"
ops_config term terminate pg "$echo_port" "allow: [backend]" "" "$term_routes"
ops_start term
term_pid=$PROXY_PID
tp=$PORT
tport() { port_of "$T/run/term.ports" "$1"; }

orig_routes="
  - name: orig-sink
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$(tport term-sink)
    expect: pg
  - name: orig-dead
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$(tport term-dead)
    expect: pg
  - name: orig-off
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$(tport term-off)
    expect: pg
  - name: orig-nomux
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$tp
    expect: pg
    mux: off
  - name: orig-on
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$(tport term-off)
    expect: pg
    mux: on"
ops_config orig originate backend "$tp" "expect: pg" "" "$orig_routes"
ops_start orig
orig_pid=$PROXY_PID
op=$PORT
oport() { port_of "$T/run/orig.ports" "$1"; }

"$PROXY" --check -c "$T/run/orig.yaml" >"$T/check.out" 2>&1 ||
    { cat "$T/check.out"; fail "--check"; }
assert_grep 'mux: auto, 100 streams per tunnel' "$T/check.out"
assert_grep 'mux: on' "$T/check.out"
assert_grep 'mux: off' "$T/check.out"

run_client() { # PORT MODE BYTES CONNS
	timeout $((60 * TMO)) "$TOOLS/client" -p "$1" -m "$2" -n "$3" -c "$4" \
	    >"$T/c.out" 2>&1 || { cat "$T/c.out"; fail "client $*"; }
	assert_grep 'failures=0' "$T/c.out"
}
closes() { # LOG ROUTE PATTERN: count that route's close lines matching
	grep 'event=close' "$T/$1.log" | grep "route=$2 " | grep -Ec -- "$3" || true
}

echo "== 40 sequential connections, then 40 at once: one TLS handshake"
for i in $(seq 40); do run_client "$op" echo 2000 1; done
run_client "$op" echo 100000 40
wait_audit term 80
[ "$(metric orig 'cotai_handshakes_total{route="orig"}')" = 1 ] ||
    fail "orig: $(metric orig 'cotai_handshakes_total{route="orig"}') handshakes for 80 connections"
[ "$(metric term 'cotai_handshakes_total{route="term"}')" = 1 ] ||
    fail "term: $(metric term 'cotai_handshakes_total{route="term"}') handshakes"
[ "$(metric orig cotai_mux_tunnels)" = 1 ] || fail "orig: tunnels $(metric orig cotai_mux_tunnels)"
[ "$(metric term cotai_mux_tunnels)" = 1 ] || fail "term: tunnels $(metric term cotai_mux_tunnels)"
[ "$(metric term cotai_mux_streams_total)" = 80 ] ||
    fail "term: $(metric term cotai_mux_streams_total) streams"
n=$(closes term term 'peer=backend .*tls_version=TLSv1.3 .*stream=[0-9]+ bytes_up=[0-9]+ .*reason=eof')
[ "$n" = 80 ] || fail "term: $n of 80 stream closes with peer, stream id and reason=eof"
n=$(closes orig orig 'peer=pg .*stream=[0-9]+ .*reason=eof')
[ "$n" = 80 ] || fail "orig: $n of 80 stream closes with reason=eof"
# Stream ids are the client's odd ids, each used once.
ids=$(grep 'event=close' "$T/term.log" | grep 'route=term ' |
    sed -n 's/.* stream=\([0-9]*\) .*/\1/p' | sort -n | uniq | wc -l)
[ "$ids" = 80 ] || fail "term: $ids distinct stream ids for 80 streams"

echo "== half-close through a stream: the sink answers after the EOF"
run_client "$(oport orig-sink)" sink $((4 << 20)) 4
wait_audit term 84
[ "$(closes term term-sink 'stream=[0-9]+ .*reason=eof')" = 4 ] ||
    fail "term-sink: half-closed streams did not end with eof"

echo "== an app's reset reaches the far side as RST_STREAM"
exec 5<>"/dev/tcp/127.0.0.1/$op"
printf 'first\nsecond\n' >&5
read -r -t $((10 * TMO)) line <&5 || fail "no echo before the reset"
[ "$line" = first ] || fail "echo was $line"
exec 5>&- # "second" is unread: the kernel answers the close with RST
wait_for "the reset stream's close on term" $((10 * TMO)) sh -c \
    "grep 'event=close' '$T/term.log' | grep 'route=term ' | grep -q 'reason=reset'"
assert_grep 'route=term .*stream=[0-9]+ .*closed_by=client reason=reset detail="RST_STREAM CANCEL"' \
    "$T/term.log"
assert_grep 'route=orig .*stream=[0-9]+ .*closed_by=client reason=reset' "$T/orig.log"

echo "== an unreachable target: the app side gets today's reason"
run_client "$(oport orig-dead)" refused 100 1
wait_for "orig-dead's close" $((10 * TMO)) sh -c \
    "grep 'event=close' '$T/orig.log' | grep -q 'route=orig-dead '"
assert_grep 'route=term-dead .*stream=[0-9]+ .*closed_by=upstream reason=upstream_refused' \
    "$T/term.log"
assert_grep 'route=orig-dead .*stream=[0-9]+ .*closed_by=upstream reason=upstream_refused' \
    "$T/orig.log"

echo "== mux: auto to a mux: off peer: one TLS connection per connection"
for i in 1 2 3; do run_client "$(oport orig-off)" echo 5000 1; done
wait_for "term-off's closes" $((10 * TMO)) sh -c \
    "[ \$(grep 'event=close' '$T/term.log' | grep -c 'route=term-off ') -ge 3 ]"
[ "$(closes term term-off 'reason=eof')" = 3 ] || fail "term-off: not 3 eof closes"
[ "$(closes term term-off 'stream=')" = 0 ] || fail "term-off: a stream over mux: off"
[ "$(metric term 'cotai_handshakes_total{route="term-off"}')" = 3 ] ||
    fail "term-off: not one handshake per connection"

echo "== mux: off to a mux: auto peer: one TLS connection per connection"
tunnels=$(metric term cotai_mux_tunnels)
for i in 1 2 3; do run_client "$(oport orig-nomux)" echo 5000 1; done
wait_for "orig-nomux's closes" $((10 * TMO)) sh -c \
    "[ \$(grep 'event=close' '$T/orig.log' | grep -c 'route=orig-nomux ') -ge 3 ]"
[ "$(closes orig orig-nomux 'reason=eof')" = 3 ] || fail "orig-nomux: not 3 eof closes"
[ "$(closes orig orig-nomux 'stream=')" = 0 ] || fail "orig-nomux: a stream over mux: off"
[ "$(metric orig 'cotai_handshakes_total{route="orig-nomux"}')" = 3 ] ||
    fail "orig-nomux: not one handshake per connection"
[ "$(metric term cotai_mux_tunnels)" = "$tunnels" ] || fail "term: a tunnel for a mux: off peer"

echo "== mux: on refuses a peer without h2"
run_client "$(oport orig-on)" refused 100 1
wait_for "orig-on's close" $((10 * TMO)) sh -c \
    "grep 'event=close' '$T/orig.log' | grep -q 'route=orig-on '"
assert_grep 'route=orig-on .*reason=protocol_error detail="mux: on, and the peer did not negotiate h2"' \
    "$T/orig.log"

echo "== a revoked peer: the reload closes its tunnel and its live streams"
exec 7<>"/dev/tcp/127.0.0.1/$op"
say 7 before-revoke
exec 8<>"/dev/tcp/127.0.0.1/$op"
say 8 before-revoke-too
"$CA" revoke backend >"$T/revoke.log" 2>&1 || { cat "$T/revoke.log"; fail revoke; }
ops_own
kill -HUP "$term_pid"
wait_for "the tunnel's close" $((10 * TMO)) sh -c \
    "grep -q 'event=tunnel_close .*reason=revoked_after_reload' '$T/term.log'"
assert_grep 'event=tunnel_close .*route=term side=terminate .*peer=backend .*streams=8[0-9] .*reason=revoked_after_reload' \
    "$T/term.log"
wait_for "both streams' closes" $((10 * TMO)) sh -c \
    "[ \$(grep 'event=close' '$T/term.log' | grep 'route=term ' | grep -c 'reason=revoked_after_reload') -ge 2 ]"
assert_grep 'route=term .*peer=backend .*stream=[0-9]+ .*reason=revoked_after_reload' "$T/term.log"
if read -r -t $((10 * TMO)) line <&7 2>/dev/null; then fail "revoked stream still open: $line"; fi
if read -r -t $((10 * TMO)) line <&8 2>/dev/null; then fail "revoked stream still open: $line"; fi
# Every tunnel of the revoked peer goes (term, term-sink, term-dead).
wait_for "no tunnel left on term" $((10 * TMO)) sh -c \
    "[ \$(grep -c 'event=tunnel_close .*reason=revoked_after_reload' '$T/term.log') -ge 3 ]"
[ "$(metric term cotai_mux_tunnels)" = 0 ] || fail "term: the revoked tunnels are still counted"
echo "ok"
