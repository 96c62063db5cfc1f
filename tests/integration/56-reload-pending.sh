#!/usr/bin/env bash
# A reload covers connections that have not finished their handshake
# (issue 11, High). A connection accepted before a reload whose handshake
# completes after it is judged by the policy in force when it completes,
# and refused with the reason a new connection gets, nothing relayed:
# both shapes (TCP opened before the reload and TLS after, tools/holdtls
# -H hello; a handshake held before the client's last flight, -H final),
# on terminate routes with protocol tcp and postgres, for a revoked
# certificate (new CRL), an identity removed from allow and, on postgres,
# a role removed from roles; on originate routes (tcp: the server holds
# its flight, tools/tlspeer -g; postgres: TCP open before the reload, the
# startup packet and so the handshake after) for a revoked server and a
# role removed from roles. A legitimate client works before and after.
# (A postgres connection that has not begun TLS moves to the reloaded
# route, so its own handshake refuses; one whose TLS began under the old
# route is judged when the handshake completes.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

# Reloads by SIGHUP only: each one is counted, and none comes late from
# the file watch.
OPS_RELOAD="reload: { watch: false }"
ops_pki
issue mallory # allowed, then revoked
issue eve     # allowed, then removed from allow
issue carol   # allowed; role app, then removed from roles
issue db2 --combined # the originate routes' server, then revoked
ops_own
relay_peer echo

# term: protocol tcp; termpg: protocol postgres, with roles.
term_yaml() {
	ops_config term terminate pg "$PEER_PORT" "allow: [$1]" "" "
  - name: termpg
    mode: terminate
    protocol: postgres
    listen: 127.0.0.1:0
    target: 127.0.0.1:$PEER_PORT
    allow: [$1]
    roles: { backend: [app], mallory: [app], eve: [app], carol: [$2] }"
}
term_yaml "backend, mallory, eve, carol" app
ops_start term
term_pid=$PROXY_PID tp=$PORT
tpg=$(port_of "$T/run/term.ports" termpg)

# holdtls NAME ROUTE_PORT CERT HOLD [-s]: start tools/holdtls in the
# background (log $T/NAME.log), wait until it holds.
holdtls() {
	local name=$1 port=$2 cert=$3 hold=$4
	shift 4
	spawn "$name" "$TOOLS/holdtls" -p "$port" -c "$T/certs/$cert.crt" \
	    -k "$T/certs/$cert.key" -a "$T/certs/ca.crt" -g "$T/go" \
	    -H "$hold" -t $((30 * TMO)) "$@"
	eval "${name}_pid=\$LAST_PID"
	wait_for "$name to hold" $((10 * TMO)) grep -q '^held' "$T/$name.log"
}

# refused NAME: holdtls NAME ended without anything relayed.
refused() {
	local pid rc=0
	pid=$(eval echo "\$${1}_pid")
	wait "$pid" || rc=$?
	[ "$rc" = 1 ] || { cat "$T/$1.log"; fail "$1: exit $rc, not refused"; }
	assert_grep '^closed: ' "$T/$1.log"
	assert_no_grep '^relayed' "$T/$1.log"
}

# legit PORT [-s]: a client allowed now gets its bytes echoed.
legit() {
	local port=$1
	shift
	timeout $((30 * TMO)) "$TOOLS/holdtls" -p "$port" \
	    -c "$T/certs/backend.crt" -k "$T/certs/backend.key" \
	    -a "$T/certs/ca.crt" -g "$T/go" -t $((10 * TMO)) "$@" \
	    >"$T/legit.out" 2>&1 || { cat "$T/legit.out"; fail "legit client on $port"; }
	assert_grep '^relayed' "$T/legit.out"
}

# count PROXY PATTERN: close lines of PROXY matching PATTERN.
count() {
	grep -Ec "event=close.*$2" "$T/$1.log" || true
}

# reload_and_go PROXY PID: SIGHUP, wait for the reload, release the holds.
reload_and_go() {
	local n
	n=$(reloads "$1")
	kill -HUP "$2"
	wait_reloads "$1" $((n + 1))
	: >"$T/go"
}

touch "$T/go"
legit "$tp"
legit "$tpg" -s
rm "$T/go"

echo "== terminate: revoked during a pending handshake (tcp and postgres, both shapes)"
holdtls mt_hello "$tp" mallory hello
holdtls mt_final "$tp" mallory final
holdtls mp_hello "$tpg" mallory hello -s
holdtls mp_final "$tpg" mallory final -s
"$CA" revoke mallory >"$T/revoke.log" 2>&1 || { cat "$T/revoke.log"; fail revoke; }
ops_own
reload_and_go term "$term_pid"
for n in mt_hello mt_final mp_hello mp_final; do refused $n; done
[ "$(count term 'route=term .*peer=mallory .*reason=cert_revoked')" -eq 2 ] ||
    fail "term: two cert_revoked refusals of mallory expected"
# (Before its SSLRequest a postgres connection moves to the reloaded
# route: the handshake itself refuses, with no peer name in the audit.)
[ "$(count term 'route=termpg .*reason=cert_revoked')" -eq 2 ] ||
    fail "termpg: two cert_revoked refusals of mallory expected"
assert_grep 'judged by the policy reloaded since the accept' "$T/term.log"
legit "$tp"
legit "$tpg" -s
rm "$T/go"

echo "== terminate: removed from allow during a pending handshake"
holdtls et_hello "$tp" eve hello
holdtls et_final "$tp" eve final
holdtls ep_hello "$tpg" eve hello -s
holdtls ep_final "$tpg" eve final -s
term_yaml "backend, carol" app
reload_and_go term "$term_pid"
for n in et_hello et_final ep_hello ep_final; do refused $n; done
[ "$(count term 'peer=eve .*reason=identity_not_allowed')" -eq 4 ] ||
    fail "four identity_not_allowed refusals of eve expected"
legit "$tp"
legit "$tpg" -s
rm "$T/go"

echo "== terminate postgres: a role removed during a pending handshake"
holdtls cp_hello "$tpg" carol hello -s
holdtls cp_final "$tpg" carol final -s
term_yaml "backend, carol" other
reload_and_go term "$term_pid"
for n in cp_hello cp_final; do refused $n; done
[ "$(count term 'route=termpg .*peer=carol .*reason=role_not_allowed')" -eq 2 ] ||
    fail "two role_not_allowed refusals of carol expected"
legit "$tpg" -s
[ "$(count term 'peer=(mallory|eve|carol) .*bytes_up=[1-9]')" -eq 0 ] ||
    fail "a refused client's bytes reached the target"

echo "== originate: the server revoked during a pending handshake"
spawn tlspeer "$TOOLS/tlspeer" -p "$T/tlspeer.port" -c "$T/certs/db2.pem" \
    -a "$T/certs/ca.crt" -g "$T/go2"
wait_file "$T/tlspeer.port"
dbp=$(cat "$T/tlspeer.port")
# orig: protocol tcp; origpg: postgres (roles: our own identity's);
# origok: a legitimate route through term.
orig_yaml() {
	ops_config orig originate backend "$dbp" "expect: [db2]" "" "
  - name: origpg
    mode: originate
    protocol: postgres
    upstream: sidecar
    listen: 127.0.0.1:0
    target: 127.0.0.1:$dbp
    expect: [db2]
    roles: { backend: [$1] }
  - name: origok
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$tp
    expect: [pg]"
}
orig_yaml app
ops_start orig
orig_pid=$PROXY_PID op=$PORT
opg=$(port_of "$T/run/orig.ports" origpg)
ook=$(port_of "$T/run/orig.ports" origok)
# tcp: the proxy's ClientHello waits for the server's flight.
exec {held}<>"/dev/tcp/127.0.0.1/$op"
wait_for "tlspeer to hold" $((10 * TMO)) grep -q '^held' "$T/tlspeer.log"
# postgres: TCP open, the startup packet (and so TLS) after the reload.
exec {early}<>"/dev/tcp/127.0.0.1/$opg"
"$CA" revoke db2 >>"$T/revoke.log" 2>&1 || { cat "$T/revoke.log"; fail revoke; }
ops_own
n=$(reloads orig)
kill -HUP "$orig_pid"
wait_reloads orig $((n + 1))
: >"$T/go2"
echo hello-held >&$held
timeout $((10 * TMO)) cat <&$held >"$T/held.out" || true
startup() {
	printf '\x00\x00\x00\x1f\x00\x03\x00\x00user\x00app\x00database\x00app\x00\x00'
}
startup >&$early
timeout $((10 * TMO)) cat <&$early >"$T/early.out" || true
exec {held}>&- {early}>&-
[ ! -s "$T/held.out" ] || fail "orig relayed from a revoked server: $(cat "$T/held.out")"
[ ! -s "$T/early.out" ] || fail "origpg relayed from a revoked server"
[ "$(count orig 'route=orig .*peer=db2 .*reason=cert_revoked')" -eq 1 ] ||
    fail "orig: cert_revoked refusal of db2 expected"
[ "$(count orig 'route=origpg .*reason=cert_revoked')" -eq 1 ] ||
    fail "origpg: cert_revoked refusal of db2 expected"
timeout $((30 * TMO)) "$TOOLS/client" -p "$ook" -n 100000 -c 2 >"$T/c.out" 2>&1 ||
    { cat "$T/c.out"; fail "legit originate client failed"; }

echo "== originate postgres: a role removed while the app's connection waits"
exec {early}<>"/dev/tcp/127.0.0.1/$opg"
orig_yaml other
n=$(reloads orig)
kill -HUP "$orig_pid"
wait_reloads orig $((n + 1))
startup >&$early
timeout $((10 * TMO)) cat <&$early >"$T/early2.out" || true
exec {early}>&-
assert_grep 'may not log in as role "app"' "$T/early2.out"
[ "$(count orig 'route=origpg .*reason=role_not_allowed')" -eq 1 ] ||
    fail "origpg: a role_not_allowed refusal expected"
kill -0 "$term_pid" "$orig_pid" || fail "a proxy died"
echo ok
