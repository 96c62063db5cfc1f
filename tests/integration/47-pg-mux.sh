#!/usr/bin/env bash
# protocol: postgres over the multiplexed transport (issue 16): an
# originate route with upstream: sidecar and a postgres terminate route,
# both with the default mux (auto), one worker each, to a real PostgreSQL.
# psql and pgbench -C (a connection per transaction) ride one TLS
# handshake as streams of one tunnel (handshake counters, tunnel gauge,
# stream counter, stream= on every close line with pg_user/pg_database);
# the roles map refuses a role inside a stream with an ErrorResponse 28000
# that psql shows (audit: role_not_allowed with the stream and pg_user); a
# psql Ctrl-C (CancelRequest on a new connection) cancels over a stream; a
# tcp originate route's tunnel to the postgres terminate route gets the
# same startup checks; a postgres terminate route with mux: off serves an
# originate route with mux auto per connection and refuses one with mux:
# on; an originate route with mux: off (as an older cotai) gets one TLS
# connection per connection from the terminate route with mux; --check refuses mux on an upstream: postgres route with file:line;
# the tunnels write their tunnel_close lines when the originate side stops.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_db.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/4_db_lib.sh"

export WORKERS=1
pki_init cotai.test
issue backend
issue pgside
pg_start plain
pg_create_role app
pg_create_role other

roles="    roles:
      backend: [app]"
relay_yaml "admin: { listen: \"127.0.0.1:0\" }" pgin terminate pgside \
    "$PG_PORT" "allow: [backend]" "    protocol: postgres
$roles
  - name: pgoff
    mode: terminate
    protocol: postgres
    mux: \"off\"
    listen: 127.0.0.1:0
    target: 127.0.0.1:$PG_PORT
    allow: [backend]
$roles" "" >"$T/pgin.yaml"
relay_start pgin
tport=$PORT
offport=$(port_of "$T/pgin.ports" pgoff)

relay_yaml "admin: { listen: \"127.0.0.1:0\" }" pgout originate backend \
    "$tport" "expect: pgside" "    protocol: postgres
    upstream: sidecar
  - name: pgmixed
    mode: originate
    protocol: postgres
    upstream: sidecar
    listen: 127.0.0.1:0
    target: 127.0.0.1:$offport
    expect: pgside
  - name: pgon
    mode: originate
    protocol: postgres
    upstream: sidecar
    mux: on
    listen: 127.0.0.1:0
    target: 127.0.0.1:$offport
    expect: pgside
  - name: pgnomux
    mode: originate
    protocol: postgres
    upstream: sidecar
    mux: \"off\"
    listen: 127.0.0.1:0
    target: 127.0.0.1:$tport
    expect: pgside
  - name: tcpout
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$tport
    expect: pgside" "" >"$T/pgout.yaml"
relay_start pgout
oport=$PORT

# metric NAME SAMPLE: the value of SAMPLE (exact name{labels}) on NAME.
metric() {
	local admin
	admin=$(awk '$1 == "admin" { print $2 }' "$T/$1.ports")
	http_get "$admin" /metrics | awk -v s="$2" '$1 == s { print $2 }'
}
# closes NAME ROUTE PATTERN: NAME's close lines of ROUTE matching PATTERN.
closes() {
	audit "$1" | grep "route=$2 " | grep -Ec -- "$3" || true
}
# wait_closes NAME ROUTE N: until NAME has N close lines of ROUTE.
wait_closes() {
	wait_for "$3 closes of $2 on $1" $((20 * TMO)) sh -c \
	    "[ \$(grep 'event=close' '$T/$1.log' | grep -c 'route=$2 ') -ge $3 ]"
}

"$PROXY" --check -c "$T/pgout.yaml" >"$T/check.out" 2>&1 ||
    { cat "$T/check.out"; fail "--check pgout"; }
assert_grep 'mux: auto, 100 streams per tunnel' "$T/check.out"
assert_grep 'mux: on' "$T/check.out"

echo "== psql and pgbench -C through two sidecars: one tunnel, one handshake"
for i in 1 2 3; do
	[ "$(psql_at "$oport" app -c "select $i")" = "$i" ] ||
	    fail "psql $i through the tunnel"
done
ci="host=127.0.0.1 port=$oport user=app dbname=app"
"$PG_BINDIR/pgbench" -i -s 1 "$ci" >"$T/pgbench-i.out" 2>&1 ||
    { cat "$T/pgbench-i.out"; fail "pgbench -i"; }
"$PG_BINDIR/pgbench" -C -S -c 2 -j 1 -t 20 "$ci" >"$T/pgbench.out" 2>&1 ||
    { cat "$T/pgbench.out"; fail "pgbench -C"; }
assert_grep 'number of failed transactions: 0' "$T/pgbench.out"
# 3 psql, pgbench -i's and the 40 (+ the 2 first) of pgbench -C.
n=$(grep 'event=close' "$T/pgout.log" | grep -c 'route=pgout ' || true)
[ "$n" -ge 45 ] || fail "pgout: only $n connections"
wait_closes pgin pgin "$n"
[ "$(metric pgout 'cotai_handshakes_total{route="pgout"}')" = 1 ] ||
    fail "pgout: $(metric pgout 'cotai_handshakes_total{route="pgout"}') handshakes for $n connections"
[ "$(metric pgin 'cotai_handshakes_total{route="pgin"}')" = 1 ] ||
    fail "pgin: $(metric pgin 'cotai_handshakes_total{route="pgin"}') handshakes"
[ "$(metric pgout cotai_mux_tunnels)" = 1 ] || fail "pgout: tunnels $(metric pgout cotai_mux_tunnels)"
[ "$(metric pgin cotai_mux_tunnels)" = 1 ] || fail "pgin: tunnels $(metric pgin cotai_mux_tunnels)"
[ "$(metric pgin cotai_mux_streams_total)" = "$n" ] ||
    fail "pgin: $(metric pgin cotai_mux_streams_total) streams for $n connections"
m=$(closes pgin pgin 'peer=backend .*tls_version=TLSv1.3 .*stream=[0-9]+ .*reason=eof pg_user=app pg_database=app')
[ "$m" = "$n" ] || fail "pgin: $m of $n stream closes with stream, eof and pg_user: $(last_close pgin)"
m=$(closes pgout pgout 'peer=pgside .*stream=[0-9]+ .*reason=eof')
[ "$m" = "$n" ] || fail "pgout: $m of $n stream closes: $(last_close pgout)"
# Stream ids are the originate side's odd ids, each used once.
ids=$(audit pgin | grep 'route=pgin ' | sed -n 's/.* stream=\([0-9]*\) .*/\1/p' |
    sort -n | uniq | wc -l)
[ "$ids" = "$n" ] || fail "pgin: $ids distinct stream ids for $n streams"

echo "== the roles map refuses another role inside a stream with 28000"
pg_role_refused "$oport"
wait_for "two role refusals on pgin" $((10 * TMO)) sh -c \
    "[ \$(grep 'event=close' '$T/pgin.log' | grep -c 'reason=role_not_allowed') -ge 2 ]"
[ "$(closes pgin pgin 'peer=backend .*stream=[0-9]+ .*closed_by=proxy reason=role_not_allowed .*pg_user=other pg_database=other')" = 2 ] ||
    fail "role audit: $(audit pgin | grep role_not_allowed)"
assert_grep 'event=refused .*route=pgin .*peer=backend .*reason=role_not_allowed' \
    "$T/pgin.log"
[ "$(pg_sql "select count(*) from pg_stat_activity where usename = 'other'")" = 0 ] ||
    fail "other reached the server"
[ "$(metric pgin cotai_mux_tunnels)" = 1 ] || fail "pgin: a refusal cost the tunnel"

echo "== a cancel over a stream"
pg_cancel_long_query "$ci"
wait_for "the cancel on pgin" $((10 * TMO)) sh -c \
    "grep 'event=close' '$T/pgin.log' | grep -q 'pg_request=cancel'"
assert_grep 'route=pgin .*stream=[0-9]+ bytes_up=16 .*reason=eof pg_request=cancel' \
    "$T/pgin.log"
assert_grep 'route=pgout .*stream=[0-9]+ bytes_up=16 .*pg_request=cancel' \
    "$T/pgout.log"
[ "$(metric pgout 'cotai_handshakes_total{route="pgout"}')" = 1 ] ||
    fail "pgout: the cancel made a handshake"

echo "== a tcp originate route's tunnel gets the postgres route's checks"
tcpport=$(port_of "$T/pgout.ports" tcpout)
[ "$(psql_at "$tcpport" app -c 'select 7')" = 7 ] ||
    fail "psql through a tcp originate route"
if psql_at "$tcpport" other -c 'select 1' >"$T/tcpother.out" 2>&1; then
	fail "other logged in through the tcp originate route"
fi
assert_grep 'may not log in as role "other"' "$T/tcpother.out"
[ "$(closes pgin pgin 'stream=[0-9]+ .*reason=role_not_allowed .*pg_user=other')" = 3 ] ||
    fail "the tcp tunnel's stream skipped the roles: $(audit pgin | tail -n 3)"
[ "$(metric pgin cotai_mux_tunnels)" = 2 ] || fail "pgin: tunnels $(metric pgin cotai_mux_tunnels)"

echo "== mux auto against a postgres terminate route with mux: off"
mixport=$(port_of "$T/pgout.ports" pgmixed)
for i in 1 2 3; do
	[ "$(psql_at "$mixport" app -c "select $i")" = "$i" ] ||
	    fail "psql $i through pgmixed"
done
wait_closes pgin pgoff 3
[ "$(closes pgin pgoff 'peer=backend .*reason=eof pg_user=app')" = 3 ] ||
    fail "pgoff: $(audit pgin | grep 'route=pgoff ')"
[ "$(closes pgin pgoff 'stream=')" = 0 ] || fail "pgoff: a stream over mux: off"
[ "$(closes pgout pgmixed 'stream=')" = 0 ] || fail "pgmixed: a stream to mux: off"
[ "$(metric pgout 'cotai_handshakes_total{route="pgmixed"}')" = 3 ] ||
    fail "pgmixed: not one handshake per connection"
[ "$(metric pgin cotai_mux_tunnels)" = 2 ] || fail "pgin: a tunnel for mux: off"

echo "== mux: off (or an older cotai) against a postgres terminate route with mux"
nomuxport=$(port_of "$T/pgout.ports" pgnomux)
before=$(closes pgin pgin '')
for i in 1 2; do
	[ "$(psql_at "$nomuxport" app -c "select $i")" = "$i" ] ||
	    fail "psql $i through pgnomux"
done
wait_closes pgin pgin $((before + 2))
[ "$(audit pgin | grep 'route=pgin ' | tail -n 2 | grep -Ec 'stream=')" = 0 ] ||
    fail "pgin: a stream for a mux: off peer"
[ "$(closes pgin pgin 'peer=backend .*resumed=(true|false) bytes_up=[0-9]+ .*reason=eof pg_user=app')" -ge 2 ] ||
    fail "pgin: $(audit pgin | tail -n 2)"
[ "$(closes pgout pgnomux 'stream=')" = 0 ] || fail "pgnomux: a stream over mux: off"
[ "$(metric pgout 'cotai_handshakes_total{route="pgnomux"}')" = 2 ] ||
    fail "pgnomux: not one handshake per connection"
[ "$(metric pgin cotai_mux_tunnels)" = 2 ] || fail "pgin: a tunnel for mux: off"

echo "== mux: on refuses a postgres terminate route with mux: off"
onport=$(port_of "$T/pgout.ports" pgon)
if psql_at "$onport" app -c 'select 1' >"$T/on.out" 2>&1; then
	fail "mux: on got through to mux: off"
fi
wait_closes pgout pgon 1
assert_grep 'route=pgon .*reason=protocol_error detail="mux: on, and the peer did not negotiate h2"' \
    "$T/pgout.log"

echo "== --check: mux on a postgres route with upstream: postgres"
# The first route only: upstream: sidecar becomes mux: on.
sed '0,/^    upstream: sidecar$/s//    mux: on/' "$T/pgout.yaml" >"$T/bad.yaml"
line=$(grep -n '^    mux: on$' "$T/bad.yaml" | head -n 1 | cut -d: -f1)
if "$PROXY" --check -c "$T/bad.yaml" >"$T/bad.out" 2>&1; then
	fail "--check accepted mux: on with upstream: postgres"
fi
assert_grep "$T/bad.yaml:$line:10: routes\[0\].mux: only with upstream: sidecar" \
    "$T/bad.out"
sed '0,/^    upstream: sidecar$/s//    mux: "off"/' "$T/pgout.yaml" >"$T/off.yaml"
"$PROXY" --check -c "$T/off.yaml" >"$T/off.out" 2>&1 ||
    { cat "$T/off.out"; fail "--check refused mux: off with upstream: postgres"; }

echo "== the originate side stops: both ends write tunnel_close"
# Every connection of route pgout was a stream of its one tunnel.
s=$(closes pgout pgout 'stream=[0-9]+')
[ "$s" = "$(closes pgout pgout '')" ] || fail "pgout: a connection without a stream"
kill -TERM "$PROXY_PID"
wait_exit "$PROXY_PID"
assert_grep "event=tunnel_close .*route=pgout side=originate .*peer=pgside .*streams=$s " \
    "$T/pgout.log"
wait_for "pgin's tunnel_close lines" $((10 * TMO)) sh -c \
    "[ \$(grep -c 'event=tunnel_close' '$T/pgin.log') -ge 2 ]"
assert_grep "event=tunnel_close .*route=pgin side=terminate .*peer=backend .*streams=$s " \
    "$T/pgin.log"

echo "ok"
