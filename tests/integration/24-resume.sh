#!/usr/bin/env bash
# Resumption: the second connection through the originating side resumes
# the TLS 1.3 session (resumed=true on both proxies) and its peer identity
# is still taken from the session and checked. Then 8 connections at once
# all resume from the one ticket the originating worker holds, and the
# terminating side issues no new ticket for a resumed session (one
# session in its cache, from the first, full handshake). A fresh
# originating proxy hit by 8 connections at once does one full handshake
# and resumes the other 7 from its ticket; after the terminating proxy
# reloads (its cache starts empty), the ticket is refused once and the
# connections after that resume from the new one; against a server that
# issues no tickets, bursts still all go through.
. "$(dirname "$0")/lib.sh"
# Resumption belongs to the one-TLS-connection-per-connection transport;
# with mux the connections after the first carry no handshake at all
# (64-mux).
COTAI_MUX=off
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

ops_pki
relay_peer echo
ops_config term terminate pg "$PEER_PORT" "allow: [backend]"
ops_start term
TERM_PID=$PROXY_PID
# One worker, so every connection uses the same session slot.
WORKERS=1 relay_config orig originate backend "$PORT" "expect: pg" "" ""
relay_start orig
for i in 1 2 3; do
	timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m echo -n 100000 >"$T/c$i.out" ||
	    fail "client $i"
	wait_audit orig "$i"
done
wait_audit term 3
audit orig
audit term
[ "$(audit orig | head -n 1 | grep -c 'resumed=false')" = 1 ] ||
    fail "first connection resumed?"
[ "$(audit orig | tail -n 2 | grep -c 'peer=pg .*resumed=true .*reason=eof')" = 2 ] ||
    fail "originate: later connections not resumed"
[ "$(audit term | tail -n 2 | grep -c 'peer=backend .*resumed=true .*reason=eof')" = 2 ] ||
    fail "terminate: later connections not resumed"

echo "== 8 connections at once"
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m echo -n 100000 -c 8 \
    >"$T/c8.out" || fail "client -c 8"
wait_audit orig 11
wait_audit term 11
[ "$(audit orig | tail -n 8 | grep -c 'peer=pg .*resumed=true .*reason=eof')" = 8 ] ||
    fail "originate: not all 8 concurrent connections resumed"
[ "$(audit term | tail -n 8 | grep -c 'peer=backend .*resumed=true .*reason=eof')" = 8 ] ||
    fail "terminate: not all 8 concurrent connections resumed"
[ "$(metric term 'cotai_tls_sessions_cached{route="term"}')" = 1 ] ||
    fail "terminate: $(metric term 'cotai_tls_sessions_cached{route="term"}') sessions cached, expected 1"

echo "== a fresh originating proxy, 8 connections at once"
WORKERS=1 relay_config orig2 originate backend "$(port_of "$T/run/term.ports" term)" \
    "expect: pg" "" ""
relay_start orig2
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m echo -n 100000 -c 8 \
    >"$T/c8b.out" || fail "client -c 8 (fresh)"
wait_audit orig2 8
[ "$(audit orig2 | grep -c 'peer=pg .*resumed=false .*reason=eof')" = 1 ] ||
    fail "fresh originate: not exactly one full handshake in the burst"
[ "$(audit orig2 | grep -c 'peer=pg .*resumed=true .*reason=eof')" = 7 ] ||
    fail "fresh originate: the rest of the burst did not resume"
[ "$(metric term 'cotai_tls_sessions_cached{route="term"}')" = 2 ] ||
    fail "terminate: expected 2 sessions cached"

echo "== the terminating side reloads: one refused ticket, then resumption"
kill -HUP "$TERM_PID"
wait_reloads term 1
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m echo -n 1000 >"$T/c1r.out" ||
    fail "client after reload"
wait_audit orig2 9
audit orig2 | tail -n 1 | grep -q 'resumed=false .*reason=eof' ||
    fail "a ticket from before the reload was resumed?"
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m echo -n 1000 -c 8 \
    >"$T/c8r.out" || fail "client -c 8 after reload"
wait_audit orig2 17
[ "$(audit orig2 | tail -n 8 | grep -c 'resumed=true .*reason=eof')" = 8 ] ||
    fail "no resumption from the ticket issued after the reload"

echo "== bursts against a server that issues no tickets"
ops_config term3 terminate pg "$PEER_PORT" "allow: [backend]" "" \
    "    tls_resumption: false"
ops_start term3
WORKERS=1 relay_config orig3 originate backend "$(port_of "$T/run/term3.ports" term3)" \
    "expect: pg" "" ""
relay_start orig3
for i in 1 2; do
	timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m echo -n 100000 \
	    -c 8 >"$T/c8c$i.out" || fail "client -c 8, no tickets, round $i"
	wait_audit orig3 $((8 * i))
done
[ "$(audit orig3 | grep -c 'peer=pg .*resumed=false .*reason=eof')" = 16 ] ||
    fail "no tickets: not all 16 connections went through"
echo ok
