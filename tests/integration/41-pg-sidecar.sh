#!/usr/bin/env bash
# protocol: postgres on both sidecars, to a PostgreSQL that listens on
# loopback without TLS: psql and pgbench through originate -> terminate ->
# PostgreSQL, a cancel over the same path, the roles map refusing a role
# with SQLSTATE 28000, psql with sslmode=verify-full and a cotai-ca client
# certificate straight to the terminating sidecar, plaintext refused there,
# its Ctrl-C (a plaintext cancel) dropped or, with plaintext_cancel,
# relayed, a tcp originate route through a postgres terminate route, and a
# native originate route refusing a server that answers 'N'.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_db.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/4_db_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh" # http_get

pki_init cotai.test
issue backend
issue pgside
issue intruder
pg_start plain
pg_create_role app
pg_create_role other

db_proxy pgin terminate pgside "$PG_PORT" "allow: [backend, intruder]" \
"    protocol: postgres
    roles:
      backend: [app]
      intruder: { users: app, databases: [nothing] }"
tport=$PORT
db_proxy pgout originate backend "$tport" "expect: pgside" \
"    protocol: postgres
    upstream: sidecar"
oport=$PORT

echo "== psql and pgbench through two sidecars"
[ "$(psql_at "$oport" app -c 'select current_user')" = app ] ||
    fail "psql through two sidecars"
ci="host=127.0.0.1 port=$oport user=app dbname=app"
"$PG_BINDIR/pgbench" -i -s 1 "$ci" >"$T/pgbench-i.out" 2>&1 ||
    { cat "$T/pgbench-i.out"; fail "pgbench -i"; }
"$PG_BINDIR/pgbench" -c 4 -j 2 -t $((100 / SCALE + 5)) "$ci" \
    >"$T/pgbench.out" 2>&1 || { cat "$T/pgbench.out"; fail "pgbench"; }
assert_grep 'number of failed transactions: 0' "$T/pgbench.out"
audit pgin | grep -q 'peer=backend .*reason=eof pg_user=app pg_database=app' ||
    fail "terminate audit: $(last_close pgin)"

echo "== cancel through two sidecars"
pg_cancel_long_query "$ci"
wait_for "the cancel on the terminating side" $((10 * TMO)) \
    sh -c "grep -q 'pg_request=cancel' '$T/pgin.log'"

echo "== the roles map refuses another role with 28000"
pg_role_refused "$oport"
wait_for "role refusal audit" $((10 * TMO)) \
    sh -c "grep -q 'reason=role_not_allowed' '$T/pgin.log'"
audit pgin | grep 'reason=role_not_allowed' |
    grep -q 'peer=backend .*pg_user=other pg_database=other' ||
    fail "role audit: $(audit pgin | grep role_not_allowed)"
[ "$(pg_sql "select count(*) from pg_stat_activity where usename = 'other'")" = 0 ] ||
    fail "other reached the server"

echo "== psql sslmode=verify-full straight to the terminating sidecar"
direct="host=pgside hostaddr=127.0.0.1 port=$tport user=app dbname=app \
sslmode=verify-full sslrootcert=$T/certs/ca.crt \
sslcert=$T/certs/backend.crt sslkey=$T/certs/backend.key \
connect_timeout=$((10 * TMO))"
[ "$("$PG_BINDIR/psql" "$direct" -XAtc 'select current_user')" = app ] ||
    fail "psql verify-full to the terminating sidecar"
# intruder may connect but only to a database called "nothing".
if "$PG_BINDIR/psql" "${direct//backend/intruder}" -v VERBOSITY=verbose \
    -XAtc 'select 1' >"$T/intruder.out" 2>&1; then
	fail "intruder logged in to app"
fi
assert_grep 'may not log in as role "app" to database "app"' "$T/intruder.out"
# Without a client certificate the handshake fails.
if "$PG_BINDIR/psql" "host=pgside hostaddr=127.0.0.1 port=$tport user=app \
dbname=app sslmode=verify-full sslrootcert=$T/certs/ca.crt \
sslcert=/nonexistent sslkey=/nonexistent connect_timeout=10" -XAtc 'select 1' \
    >"$T/nocert.out" 2>&1; then
	fail "logged in without a client certificate"
fi
# Plaintext to the terminating sidecar: an ErrorResponse saying why.
if psql_at "$tport" app -c 'select 1' "sslmode=disable" >"$T/plain.out" 2>&1 ||
    "$PG_BINDIR/psql" "host=127.0.0.1 port=$tport user=app dbname=app \
sslmode=disable" -XAtc 'select 1' >"$T/plain.out" 2>&1; then
	fail "plaintext accepted by the terminating sidecar"
fi
assert_grep 'TLS with a client certificate is required' "$T/plain.out"

echo "== psql's Ctrl-C straight to the terminating sidecar (plaintext cancel)"
# libpq 15 sends the CancelRequest in plaintext although the session is
# TLS. One proxy, admin on, two routes: pgdrop (plaintext_cancel off, the
# default) and pgcan (on).
relay_yaml "admin: { listen: \"127.0.0.1:0\" }" pgcan terminate pgside \
    "$PG_PORT" "allow: [backend]" "    protocol: postgres
    plaintext_cancel: true
  - name: pgdrop
    mode: terminate
    protocol: postgres
    listen: 127.0.0.1:0
    target: 127.0.0.1:$PG_PORT
    allow: [backend]" "" >"$T/pgcan.yaml"
relay_start pgcan
cport=$PORT
dport=$(port_of "$T/pgcan.ports" pgdrop)
admin=$(awk '$1 == "admin" { print $2 }' "$T/pgcan.ports")
cancels() {
	http_get "$admin" /metrics | awk -v s="cotai_pg_cancel_requests_total{\
route=\"$1\",client_tls=\"false\",result=\"$2\"}" '$1 == s { print $2 }'
}
# Off: the cancel is read, logged and dropped; the query goes on.
pg_long_query_start "${direct/port=$tport/port=$dport}"
kill -INT "$LONG_PID"
wait_for "the dropped cancel" $((10 * TMO)) sh -c \
    "grep -q 'plaintext cancel request dropped' '$T/pgcan.log'"
audit pgcan | grep 'plaintext cancel request dropped' |
    grep -q 'route=pgdrop .*peer=- .*bytes_up=0 .*reason=protocol_error .*pg_request=cancel' ||
    fail "dropped cancel: $(audit pgcan | grep 'cancel request dropped')"
pg_long_query_running || fail "the query ended without a cancel"
[ "$(cancels pgdrop refused)" = 1 ] || fail "refused cancels: $(cancels pgdrop refused)"
pg_sql "select pg_cancel_backend(pid) from pg_stat_activity \
where query = 'select pg_sleep(30)'" >/dev/null
pg_long_query_cancelled
# On: relayed alone over a fresh connection; the query ends with 57014.
pg_cancel_long_query "${direct/port=$tport/port=$cport}"
wait_for "the relayed cancel" $((10 * TMO)) sh -c \
    "grep 'route=pgcan ' '$T/pgcan.log' | grep -q 'pg_request=cancel'"
audit pgcan | grep 'route=pgcan .*pg_request=cancel' |
    grep -q 'peer=- .*bytes_up=16 .*closed_by=upstream reason=eof' ||
    fail "relayed cancel: $(audit pgcan | grep 'route=pgcan ')"
[ "$(cancels pgcan relayed)" = 1 ] || fail "relayed cancels: $(cancels pgcan relayed)"
[ "$(cancels pgcan refused)" = 0 ] || fail "pgcan refused a cancel"

echo "== a tcp originate route through the postgres terminate route"
db_proxy tcpout originate backend "$tport" "expect: pgside"
[ "$(psql_at "$PORT" app -c 'select 7')" = 7 ] ||
    fail "psql through a tcp originate route"

echo "== sslnegotiation: direct (TLS first, ALPN postgresql)"
# The terminating sidecar selects ALPN "postgresql" when offered, as
# PostgreSQL 17 requires; a direct originate route offers it.
echo | timeout $((10 * TMO)) openssl s_client -connect "127.0.0.1:$tport" \
    -alpn postgresql -CAfile "$T/certs/ca.crt" -cert "$T/certs/backend.crt" \
    -key "$T/certs/backend.key" >"$T/alpn.out" 2>&1 || true
assert_grep 'ALPN protocol: postgresql' "$T/alpn.out"
db_proxy directout originate backend "$tport" "expect: pgside" \
"    protocol: postgres
    sslnegotiation: direct"
[ "$(psql_at "$PORT" app -c 'select 8')" = 8 ] ||
    fail "psql through a direct originate route"

echo "== a native originate route to a server without TLS"
db_proxy nativeout originate backend "$PG_PORT" "expect: pgside" \
    "    protocol: postgres"
psql_refused nativeout 'reason=upstream_no_tls .*detail="server refused TLS"'

echo "ok"
