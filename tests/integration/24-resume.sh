#!/usr/bin/env bash
# Resumption: the second connection through the originating side resumes
# the TLS 1.3 session (resumed=true on both proxies) and its peer identity
# is still taken from the session and checked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

relay_pki
relay_peer echo
relay_terminate term "$PEER_PORT"
# One worker, so both connections use the same session slot.
relay_config orig originate backend "$PORT" "expect: pg" "" "" 
sed -i 's/^workers: 2/workers: 1/' "$T/orig.yaml"
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
echo ok
