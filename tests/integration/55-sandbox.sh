#!/usr/bin/env bash
# Sandbox (Landlock, `sandbox: auto` by default). A terminate and an
# originate proxy log the ABI applied and have NoNewPrivs, relay, and
# reload a renewed certificate. A reload whose certificate sits in a
# directory outside the start-time rules, readable by the proxy's user,
# fails with the sandbox's reason (the kernel's EACCES) and the old routes
# keep working, while the same reload succeeds with `sandbox: off`. A
# proxy with only a unix listener (`sandbox: landlock`, so TCP bind is
# denied) refuses reloads that need a new TCP port, another target port
# or a socket directory outside the set, and accepts a new socket beside
# its own. Under valgrind (which lacks the Landlock system calls) only
# the fallback is checked: `auto` runs without, `landlock` refuses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

export OPS_RELOAD="reload: { watch: false }" # SIGHUP only: exact counts
# The ports file comes before the sandbox: wait for its line in NAME's log.
wait_sandbox() {
	wait_for "the sandbox line of $1" $((30 * TMO)) grep -q 'sandbox: ' "$T/$1.log"
}
ops_pki
relay_peer echo
ops_config term terminate pg "$PEER_PORT" "allow: [backend]"
ops_start term
term_pid=$PROXY_PID
tp=$PORT

wait_sandbox term
if [ "${COTAI_VALGRIND:-0}" = 1 ]; then
	assert_grep 'sandbox: Landlock unavailable, valgrind does not implement the Landlock system calls' \
	    "$T/term.log"
	ops_config must terminate pg "$PEER_PORT" "allow: [backend]" "sandbox: landlock"
	spawn must "$PROXY" -c "$T/run/must.yaml"
	wait_exit "$LAST_PID" $((30 * TMO))
	assert_grep 'sandbox: landlock is required, but valgrind' "$T/must.log"
	[ ! -e "$T/run/must.ports" ] || fail "must started"
	echo "ok (valgrind: only the fallback without Landlock was checked)"
	exit 0
fi

ops_config orig originate backend "$tp" "expect: pg"
ops_start orig
orig_pid=$PROXY_PID
op=$PORT

echo_ok() {
	timeout $((30 * TMO)) "$TOOLS/client" "$@" -n 100000 -c 2 >"$T/c.out" 2>&1 ||
	    { cat "$T/c.out"; fail "client $* failed"; }
}
# say FD TEXT: TEXT must come back on the held connection FD.
say() {
	local line
	echo "$2" >&"$1"
	read -r -t $((10 * TMO)) line <&"$1" || fail "no echo of $2"
	[ "$line" = "$2" ] || fail "echo of $2 was $line"
}
# reload NAME RESULT: SIGHUP, then wait for "reload done" or the
# "reload failed (RESULT)" line that follows it.
reload() {
	local pid=$1 name=$2 want=$3 n
	if [ "$want" = ok ]; then
		n=$(reloads "$name")
		kill -HUP "$pid"
		wait_reloads "$name" $((n + 1))
	else
		n=$(grep -c "reload failed ($want)" "$T/$name.log" || true)
		kill -HUP "$pid"
		wait_for "$name: reload failed ($want)" $((10 * TMO)) sh -c \
		    "[ \$(grep -c 'reload failed ($want)' '$T/$name.log') -gt $n ]"
	fi
}

wait_sandbox orig

echo "== applied, with no new privileges"
for p in term orig; do
	grep -q 'sandbox: landlock ABI [1-9][0-9]* applied' "$T/$p.log" ||
	    fail "$p: no sandbox: $(grep 'sandbox' "$T/$p.log")"
done
grep 'sandbox: landlock ABI' "$T/term.log" | sed 's/.*msg="//; s/"$//'
grep -Eq '^NoNewPrivs:[[:space:]]+1$' "/proc/$term_pid/status" ||
    fail "term: NoNewPrivs is not 1"
grep -Eq '^NoNewPrivs:[[:space:]]+1$' "/proc/$orig_pid/status" ||
    fail "orig: NoNewPrivs is not 1"
# term listens on port 0: bind stays open, connect is limited.
assert_grep "tcp connect only to ports 53,$PEER_PORT, tcp bind not restricted \(route term listens on port 0\)" \
    "$T/term.log"

echo "== relays, and reloads a renewed certificate"
exec 3<>"/dev/tcp/127.0.0.1/$op"
say 3 before
echo_ok -p "$op"
before=$(metric term 'cotai_cert_expiry_timestamp_seconds{route="term"}')
"$CA" renew pg --ttl 3d >"$T/renew.log" 2>&1 || { cat "$T/renew.log"; fail "renew"; }
ops_own
reload "$term_pid" term ok
after=$(metric term 'cotai_cert_expiry_timestamp_seconds{route="term"}')
[ "$after" -lt "$before" ] || fail "the renewed certificate is not in use"
say 3 after-renewal
echo_ok -p "$op"
assert_no_grep 'reload failed' "$T/term.log"

echo "== a certificate outside the rules: refused by the kernel, old state kept"
mkdir "$T/outside"
cp "$T/certs/pg.crt" "$T/certs/pg.key" "$T/outside/"
if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$T/outside"; fi
chmod 700 "$T/outside"
cp "$T/run/term.yaml" "$T/run/term.good"
sed -i "s|$T/certs/pg\.|$T/outside/pg.|" "$T/run/term.yaml"
assert_grep "cert: $T/outside/pg.crt" "$T/run/term.yaml"
reload "$term_pid" term config_error
assert_grep "identity.cert: cannot read $T/outside/pg.crt: Permission denied \(outside the directories the sandbox set at start lets cotai-proxy read; restart cotai-proxy to use it\)" \
    "$T/term.log"
say 3 after-refused-reload
echo_ok -p "$op"
[ "$(metric term 'cotai_reloads_total{result="config_error"}')" = 1 ] ||
    fail "the refused reload was not counted"

echo "== the same reload with sandbox: off succeeds"
ops_config free terminate pg "$PEER_PORT" "allow: [backend]" "sandbox: off"
ops_start free
free_pid=$PROXY_PID
wait_sandbox free
assert_grep 'sandbox: off' "$T/free.log"
sed -i "s|$T/certs/pg\.|$T/outside/pg.|" "$T/run/free.yaml"
reload "$free_pid" free ok
assert_no_grep 'reload failed' "$T/free.log"

echo "== a unix-socket-only proxy: TCP bind denied, reloads checked"
mkdir "$T/elsewhere"
if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/elsewhere"; fi
uds_yaml() { # uds_yaml TARGET_PORT [ROUTES_YAML]
	ops_config uds originate backend "$1" "expect: pg" "sandbox: landlock" "${2:-}"
	sed -i "s|listen: 127.0.0.1:0|listen: \"unix:$T/run/uds.sock\"|" "$T/run/uds.yaml"
}
uds_route() { # uds_route NAME LISTEN
	echo "  - { name: $1, mode: originate, listen: \"$2\", target: \"127.0.0.1:$tp\", expect: pg }"
}
uds_yaml "$tp"
spawn uds "$PROXY" -c "$T/run/uds.yaml" --ports-file "$T/run/uds.ports"
uds_pid=$LAST_PID
wait_file "$T/run/uds.ports" $((30 * TMO))
wait_sandbox uds
assert_grep "tcp connect only to ports 53,$tp, tcp bind only to ports none" "$T/uds.log"
echo_ok -u "$T/run/uds.sock"

uds_yaml "$tp" "$(uds_route extra 127.0.0.1:0)"
reload "$uds_pid" uds bind_error
assert_grep 'route extra: listen port 0 is outside the sandbox set at start; restart cotai-proxy to use it' \
    "$T/uds.log"
uds_yaml "$PEER_PORT"
reload "$uds_pid" uds config_error
assert_grep "route uds: target port $PEER_PORT is outside the sandbox set at start; restart cotai-proxy to use it" \
    "$T/uds.log"
uds_yaml "$tp" "$(uds_route away "unix:$T/elsewhere/a.sock")"
reload "$uds_pid" uds bind_error
assert_grep "route away: listen unix:$T/elsewhere/a.sock: $T/elsewhere is outside the sandbox set at start" \
    "$T/uds.log"
[ ! -e "$T/elsewhere/a.sock" ] || fail "a socket was made elsewhere"
echo_ok -u "$T/run/uds.sock"
assert_no_grep '^(extra|away) ' "$T/run/uds.ports"

uds_yaml "$tp" "$(uds_route beside "unix:$T/run/beside.sock")"
reload "$uds_pid" uds ok
assert_grep "^beside unix:$T/run/beside.sock\$" "$T/run/uds.ports"
echo_ok -u "$T/run/beside.sock"
echo_ok -u "$T/run/uds.sock"

echo "== everything still serves, and stops cleanly"
say 3 at-the-end
exec 3>&-
kill -0 "$term_pid" "$orig_pid" "$uds_pid" || fail "a proxy died"
kill -TERM "$uds_pid"
wait_exit "$uds_pid" $((30 * TMO))
assert_grep 'msg=stopped' "$T/uds.log"
# Its own sockets are removed on exit, under the sandbox.
[ ! -e "$T/run/uds.sock" ] && [ ! -e "$T/run/beside.sock" ] ||
    fail "unix sockets left behind"
echo ok
