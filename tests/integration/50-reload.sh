#!/usr/bin/env bash
# Reload: SIGHUP re-reads the YAML and rebuilds the routes. An unchanged
# route keeps its port and its live connections; a bad file or key
# material that does not verify changes nothing (counted by result); an
# added route starts listening, a removed one stops accepting while its
# open connection goes on; a changed allow-list closes live connections
# of peers no longer allowed, and a new CRL (picked up by watching the
# files, no signal) closes the revoked peer's connection.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

ops_pki
ops_chain

echo_ok() {
	timeout $((30 * TMO)) "$TOOLS/client" -p "$1" -n 100000 -c 2 >"$T/c.out" 2>&1 ||
	    { cat "$T/c.out"; fail "client through port $1 failed"; }
}

exec 3<>"/dev/tcp/127.0.0.1/$op"
say 3 before

echo "== SIGHUP, same file: same port, the live connection goes on"
kill -HUP "$term_pid" "$orig_pid"
wait_reloads term 1
wait_reloads orig 1
[ "$(port_of "$T/run/term.ports" term)" = "$tp" ] || fail "port changed"
say 3 after-first-reload
# Counters go on across the reload: the held connection is still active.
[ "$(metric term 'cotai_connections_active{route="term"}')" = 1 ] ||
    fail "active gauge lost the held connection"
[ "$(metric term 'cotai_connections_accepted_total{route="term"}')" = 1 ] ||
    fail "accepted counter restarted"
echo_ok "$op"
[ "$(metric term 'cotai_reloads_total{result="ok"}')" = 1 ] || fail "reloads ok"

echo "== a file that fails --check changes nothing"
cp "$T/run/term.yaml" "$T/run/term.good"
sed -i 's/^routes:/bogus_key: 1\nroutes:/' "$T/run/term.yaml"
kill -HUP "$term_pid"
wait_for "config_error" $((10 * TMO)) sh -c \
    "grep -q 'reload failed (config_error)' '$T/term.log'"
assert_grep 'term.yaml:[0-9]+:[0-9]+: bogus_key' "$T/term.log"
say 3 after-bad-file
echo_ok "$op"

echo "== a certificate from another CA: tls_error, nothing changes"
cp "$T/run/term.good" "$T/run/term.yaml"
cp -a "$T/certs" "$T/certs.good"
COTAI_CA_DIR=$T/pki2 pki_init other.test
COTAI_CA_DIR=$T/pki2 "$CA" issue pg --out "$T/other" >/dev/null 2>&1 ||
    fail "issue from the second CA"
cp "$T/other/pg.crt" "$T/certs/pg.crt"
cp "$T/other/pg.key" "$T/certs/pg.key"
ops_own
kill -HUP "$term_pid"
wait_for "tls_error" $((10 * TMO)) sh -c \
    "grep -q 'reload failed (tls_error)' '$T/term.log'"
assert_grep 'does not verify' "$T/term.log"
say 3 after-bad-cert
echo_ok "$op"
cp "$T/certs.good/pg.crt" "$T/certs.good/pg.key" "$T/certs/"
ops_own
n=$(reloads term)
kill -HUP "$term_pid"
wait_reloads term $((n + 1))

echo "== an added route listens, a removed one stops accepting"
ops_config term terminate pg "$PEER_PORT" "allow: [backend]" "" "
  - name: extra
    mode: terminate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$PEER_PORT
    allow: [backend]"
kill -HUP "$term_pid"
# The watch may reload too: wait for the effect, not for a count.
wait_for "the added route in the ports file" $((10 * TMO)) \
    grep -q '^extra ' "$T/run/term.ports"
xp=$(port_of "$T/run/term.ports" extra)
[ -n "$xp" ] || fail "no port for the added route"
[ "$(port_of "$T/run/term.ports" term)" = "$tp" ] || fail "port changed"
ops_config orig2 originate backend "$xp" "expect: pg"
ops_start orig2
o2=$PORT
exec 4<>"/dev/tcp/127.0.0.1/$o2"
say 4 via-extra
ops_config term terminate pg "$PEER_PORT" "allow: [backend]"
kill -HUP "$term_pid"
wait_for "the removed route to leave the ports file" $((10 * TMO)) \
    sh -c "! grep -q '^extra ' '$T/run/term.ports'"
# Workers apply a reload between two events: poll.
wait_for "the removed route to stop accepting" $((10 * TMO)) \
    bash -c "! (exec 5<>/dev/tcp/127.0.0.1/$xp) 2>/dev/null"
say 4 extra-after-removal
exec 4>&-
say 3 after-add-remove

echo "== allow-list change closes the live connection of a peer no longer allowed"
exec 6<>"/dev/tcp/127.0.0.1/$op"
say 6 held
ops_config term terminate pg "$PEER_PORT" "allow: [someone-else]"
n=$(reloads term)
kill -HUP "$term_pid"
wait_reloads term $((n + 1))
wait_for "not_allowed_after_reload" $((10 * TMO)) sh -c \
    "grep -q 'reason=not_allowed_after_reload' '$T/term.log'"
if read -r -t $((10 * TMO)) line <&6 2>/dev/null; then fail "connection 6 still open"; fi
exec 6>&- 3>&-
ops_config term terminate pg "$PEER_PORT" "allow: [backend]"
kill -HUP "$term_pid"
wait_for "backend allowed again" $((20 * TMO)) \
    "$TOOLS/client" -p "$op" -n 1000

echo "== a new CRL, noticed by the file watch, closes the revoked peer"
exec 7<>"/dev/tcp/127.0.0.1/$op"
say 7 before-revoke
n=$(reloads term)
"$CA" revoke backend >"$T/revoke.log" 2>&1 || { cat "$T/revoke.log"; fail revoke; }
ops_own # revoke rewrote $T/certs/crl.pem (rename: the watch sees it)
wait_reloads term $((n + 1))
wait_for "revoked_after_reload" $((10 * TMO)) sh -c \
    "grep -q 'reason=revoked_after_reload' '$T/term.log'"
assert_grep 'peer=backend .*reason=revoked_after_reload' "$T/term.log"
if read -r -t $((10 * TMO)) line <&7 2>/dev/null; then fail "revoked connection still open"; fi
exec 7>&-
# New connections from the revoked client are refused in the handshake.
timeout $((30 * TMO)) "$TOOLS/client" -p "$op" -m refused >"$T/r.out" 2>&1 ||
    { cat "$T/r.out"; fail "revoked client not refused"; }
wait_for "cert_revoked" $((10 * TMO)) sh -c \
    "grep -q 'reason=cert_revoked' '$T/term.log'"

echo "== a new log format and level apply at once"
n=$(reloads orig)
LOGLEVEL="warn, format: json" ops_config orig originate backend "$tp" "expect: pg"
kill -HUP "$orig_pid"
wait_for "the log change" $((10 * TMO)) sh -c \
    "grep -q 'msg=\"reload: log level now warn, format json\"' '$T/orig.log'"
# A failed reload now logs its error as JSON and not its info lines.
n=$(grep -c 'reload (SIGHUP): loading' "$T/orig.log")
echo "bogus: 1" >>"$T/run/orig.yaml"
kill -HUP "$orig_pid"
wait_for "the error as JSON" $((10 * TMO)) sh -c \
    "grep -q '^{.*\"level\":\"error\".*reload failed' '$T/orig.log'"
[ "$(grep -c 'reload (SIGHUP): loading' "$T/orig.log")" -eq "$n" ] ||
    fail "an info line was written at level warn"
kill -0 "$term_pid" "$orig_pid" || fail "a proxy died"
echo ok
