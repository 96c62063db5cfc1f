#!/usr/bin/env bash
# cotai-proxy's command line: -h, --check on a good and a bad file, a
# ports file for every route (TCP and unix), and the refusal to run as
# root without "user:".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

"$PROXY" -h | grep -q -- '--ports-file' || fail "-h"
relay_pki
relay_peer echo
relay_config both terminate pg "$PEER_PORT" "allow: [backend]" "
  - name: local
    mode: originate
    listen: unix:$T/local.sock
    target: 127.0.0.1:1
    expect: pg" ""
"$PROXY" --check -c "$T/both.yaml" >"$T/check.out" 2>&1 ||
    { cat "$T/check.out"; fail "--check refused a good file"; }
assert_grep 'both' "$T/check.out"
assert_grep 'backend' "$T/check.out"
sed 's/allow: \[backend\]/allow: [backend]\n    bogus_key: 1/' "$T/both.yaml" >"$T/bad.yaml"
if "$PROXY" --check -c "$T/bad.yaml" >"$T/bad.out" 2>&1; then
	fail "--check accepted an unknown key"
fi
assert_grep 'bad.yaml:[0-9]+:[0-9]+: .*bogus_key' "$T/bad.out"

relay_start both
assert_grep "^local unix:$T/local.sock\$" "$T/both.ports"
assert_grep '^both 127.0.0.1:[0-9]+$' "$T/both.ports"
[ -S "$T/local.sock" ] || fail "no unix socket"

if [ "$(id -u)" -eq 0 ]; then
	sed '/^user:/d' "$T/both.yaml" >"$T/root.yaml"
	if "$PROXY" -c "$T/root.yaml" >"$T/root.out" 2>&1; then
		fail "ran as root without user:"
	fi
	assert_grep 'refusing to run as root' "$T/root.out"
fi
echo ok
