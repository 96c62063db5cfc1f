#!/usr/bin/env bash
# protocol: postgres, originate, straight to PostgreSQL's own TLS (ssl=on,
# cotai-ca certificates, hostssl ... cert): the app speaks plaintext to the
# sidecar (libpq's sslmode=prefer gets 'N'), the sidecar negotiates TLS
# with SSLRequest and logs in with its certificate's CN. psql, pgbench, a
# cancel sent by psql on SIGINT (SQLSTATE 57014), and a sidecar whose CN is
# not a role.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_db.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/4_db_lib.sh"

pki_init cotai.test
for n in pgserver app ghost; do issue "$n"; done
pg_start main --tls pgserver
pg_create_role app

echo "== psql through the originating sidecar"
db_proxy pgout originate app "$PG_PORT" "expect: pgserver" \
    "    protocol: postgres"
out=$(psql_at "$PORT" app -c \
    'select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()') ||
    fail "psql through the sidecar"
[ "$out" = "app|t" ] || fail "expected app over TLS, got '$out'"
wait_audit pgout 1
last_close pgout | grep -q 'reason=eof .*pg_user=app pg_database=app' ||
    fail "audit: $(last_close pgout)"
# sslmode=disable (no SSLRequest) works the same.
[ "$("$PG_BINDIR/psql" "host=127.0.0.1 port=$PORT user=app dbname=app \
sslmode=disable" -XAtc 'select 2')" = 2 ] || fail "sslmode=disable"

echo "== pgbench through the sidecar"
ci="host=127.0.0.1 port=$PORT user=app dbname=app"
"$PG_BINDIR/pgbench" -i -s 1 "$ci" >"$T/pgbench-i.out" 2>&1 ||
    { cat "$T/pgbench-i.out"; fail "pgbench -i"; }
"$PG_BINDIR/pgbench" -c 4 -j 2 -t $((100 / SCALE + 5)) "$ci" \
    >"$T/pgbench.out" 2>&1 || { cat "$T/pgbench.out"; fail "pgbench"; }
assert_grep 'number of failed transactions: 0' "$T/pgbench.out"

echo "== cancel from the client (psql on SIGINT sends a CancelRequest)"
pg_cancel_long_query "$ci"
wait_for "the cancel's audit line" $((10 * TMO)) \
    sh -c "grep -q 'pg_request=cancel' '$T/pgout.log'"
audit pgout | grep 'pg_request=cancel' | grep -q 'reason=eof' ||
    fail "cancel audit: $(audit pgout | grep pg_request=cancel)"

echo "== roles on the originating side: our own identity's roles"
db_proxy rolesout originate app "$PG_PORT" "expect: pgserver" \
"    protocol: postgres
    roles: { app: [app] }"
[ "$(psql_at "$PORT" app -c 'select 5')" = 5 ] || fail "allowed role"
if psql_at "$PORT" postgres -c 'select 1' >"$T/roles.out" 2>&1; then
	fail "the app got role postgres"
fi
assert_grep 'identity app may not log in as role "postgres"' "$T/roles.out"
wait_for "role refusal" $((10 * TMO)) \
    sh -c "grep -q 'reason=role_not_allowed' '$T/rolesout.log'"

echo "== a sidecar whose certificate CN is not the role"
db_proxy ghostout originate ghost "$PG_PORT" "expect: pgserver" \
    "    protocol: postgres"
if psql_at "$PORT" app -c 'select 1' >"$T/ghost.out" 2>&1; then
	fail "a ghost certificate logged in as app"
fi
assert_grep 'certificate authentication failed|ghost' "$T/ghost.out"

echo "== the server's identity must be the expected one"
db_proxy wrongexp originate app "$PG_PORT" "expect: someone-else" \
    "    protocol: postgres"
psql_refused wrongexp 'reason=identity_not_expected'

echo "ok"
