#!/usr/bin/env bash
# Relay deadlines (a relaying connection has no timer of its own: its
# worker's sweep checks them): a connection through which nothing moves
# is closed with reason idle_timeout once timeouts.idle has passed, and
# one whose client has finished sending while the upstream neither
# answers nor closes is closed with reason halfclose_timeout once
# timeouts.half_close has passed.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

relay_pki
relay_peer echo
echo_port=$PEER_PORT
# An upstream that never answers: the kernel completes the connections
# (backlog) but nobody accepts, reads or closes them.
spawn mute python3 -c '
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(3600)
' "$T/mute.port"
wait_file "$T/mute.port"

# term -> echo, term_mute -> the mute listener; orig and orig_mute in
# front of them, with 1 s deadlines.
term_route() { # NAME TARGET_PORT
	printf '  - name: %s\n    mode: terminate\n    listen: 127.0.0.1:0\n' "$1"
	printf '    target: 127.0.0.1:%s\n    allow: [backend]\n' "$2"
}
relay_config term terminate pg "$echo_port" "allow: [backend]" \
    "$(term_route term_mute "$(cat "$T/mute.port")")" ""
relay_start term
orig_route() { # NAME TARGET_PORT
	printf '  - name: %s\n    mode: originate\n    listen: 127.0.0.1:0\n' "$1"
	printf '    target: 127.0.0.1:%s\n    expect: pg\n' "$2"
	printf '    timeouts: { idle: 30s, half_close: 1s }\n'
}
relay_config orig originate backend "$(port_of "$T/term.ports" term)" \
    "expect: pg" "    timeouts: { idle: 1s, half_close: 1s }
$(orig_route orig_mute "$(port_of "$T/term.ports" term_mute)")" ""
relay_start orig

echo "== idle: nothing moves for 1 s"
exec {fd}<>"/dev/tcp/127.0.0.1/$(port_of "$T/orig.ports" orig)"
wait_audit orig 1 $((10 * TMO))
exec {fd}>&-
line=$(audit orig | tail -n 1)
echo "$line"
echo "$line" | grep -q 'route=orig .*closed_by=proxy reason=idle_timeout' ||
    fail "idle connection not closed as idle_timeout"
ms=$(echo "$line" | sed 's/.*duration_ms=\([0-9]*\).*/\1/')
[ "$ms" -ge 1000 ] || fail "idle connection closed after only ${ms} ms"

echo "== half-close: the client is done, the upstream never answers"
"$TOOLS/rawpeer" -t $((20 * TMO)) "$(port_of "$T/orig.ports" orig_mute)" \
    68656c6c6f >"$T/raw.out" || fail "rawpeer"
wait_audit orig 2 $((10 * TMO))
line=$(audit orig | tail -n 1)
echo "$line"
echo "$line" | grep -q 'route=orig_mute .*closed_by=proxy reason=halfclose_timeout' ||
    fail "half-closed connection not closed as halfclose_timeout"
ms=$(echo "$line" | sed 's/.*duration_ms=\([0-9]*\).*/\1/')
[ "$ms" -ge 1000 ] || fail "half-closed connection closed after only ${ms} ms"
echo ok
