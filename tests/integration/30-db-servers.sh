#!/usr/bin/env bash
# lib_db.sh itself: PostgreSQL and Redis start on free ports, in plain and
# TLS modes, and the TLS servers accept exactly the clients with a cotai-ca
# certificate (for PostgreSQL: whose CN is the database user).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_db.sh"

pki_init cotai.test
for n in pgserver alice mallory carol cache backend; do issue "$n"; done

# expect_fail LOG CMD...: CMD must fail; its output goes to $T/LOG.
expect_fail() {
	local log=$T/$1
	shift
	if "$@" >"$log" 2>&1; then fail "succeeded: $*"; fi
}

echo "== PostgreSQL with TLS and cert authentication"
pg_start main --tls pgserver
pg_create_role alice
[ "$(pg_sql 'select 1')" = 1 ] || fail "superuser over the socket"

q='select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()'
out=$(psql "$(pg_conninfo_tls alice)" -X -A -t -c "$q" \
    2>"$T/psql-alice.err") || { cat "$T/psql-alice.err"; fail "alice"; }
[ "$out" = "alice|t" ] || fail "alice over TLS: got '$out'"
[ "$(psql "$(pg_conninfo_tls alice)" -XAtc 'select 1')" = 1 ] ||
    fail "select 1 as alice"

# An ordinary role can fill its own database (pgbench -i).
ci=$(pg_conninfo_tls alice)
"$PG_BINDIR/pgbench" -i -s 1 "$ci" >"$T/pgbench.out" 2>&1 ||
    { cat "$T/pgbench.out"; fail "pgbench -i as alice"; }
"$PG_BINDIR/pgbench" -t 20 -c 2 "$ci" >"$T/pgbench.out" 2>&1 ||
    { cat "$T/pgbench.out"; fail "pgbench as alice"; }
assert_grep 'number of failed transactions: 0' "$T/pgbench.out"

# mallory's certificate is valid, but there is no such role.
expect_fail psql-mallory.err psql "$(pg_conninfo_tls mallory)" -XAtc 'select 1'
assert_grep 'mallory' "$T/psql-mallory.err"
# alice's certificate may not log in as another role (CN != user).
expect_fail psql-cn.err psql "$(pg_conninfo_tls alice |
    sed 's/user=alice/user=postgres/')" -XAtc 'select 1'
assert_grep 'certificate authentication failed for user "postgres"' \
    "$T/psql-cn.err"
# No client certificate at all.
expect_fail psql-nocert.err psql "host=pgserver hostaddr=127.0.0.1 \
port=$PG_PORT user=alice dbname=postgres sslmode=verify-full \
sslrootcert=$T/certs/ca.crt sslcert=/nonexistent sslkey=/nonexistent" \
    -XAtc 'select 1'
# Plain TCP is rejected by pg_hba, even for the superuser.
expect_fail psql-plain.err psql "host=127.0.0.1 port=$PG_PORT user=alice \
dbname=postgres sslmode=disable" -XAtc 'select 1'
assert_grep 'rejects connection|no encryption' "$T/psql-plain.err"
expect_fail psql-plain2.err psql "host=127.0.0.1 port=$PG_PORT \
user=postgres dbname=postgres sslmode=disable" -XAtc 'select 1'
# verify-full checks the server's name.
expect_fail psql-name.err psql "$(pg_conninfo_tls alice wrongname)" \
    -XAtc 'select 1'
assert_grep 'does not match|server certificate' "$T/psql-name.err"
main_port=$PG_PORT

echo "== PostgreSQL checking cotai-ca's CRL"
pg_start crl --tls pgserver --crl
pg_create_role carol
[ "$(psql "$(pg_conninfo_tls carol)" -XAtc 'select 1')" = 1 ] ||
    fail "carol before revocation"
"$CA" revoke carol >"$T/revoke.log" 2>&1 || fail "revoke carol"
pg_reload_crl
# shellcheck disable=SC2016 # $1 is sh's
wait_for "carol refused after revocation" 10 \
    sh -c '! psql "$1" -XAtc "select 1"' sh "$(pg_conninfo_tls carol)"
psql "$(pg_conninfo_tls carol)" -XAtc 'select 1' >"$T/psql-revoked.err" \
    2>&1 && fail "carol still in"
assert_grep 'revoked' "$T/psql-revoked.err"

echo "== PostgreSQL without TLS, next to the first one"
pg_start plain
[ "$PG_PORT" != "$main_port" ] || fail "two servers on one port"
pg_create_role bob
[ "$(psql "host=127.0.0.1 port=$PG_PORT user=bob dbname=postgres \
sslmode=disable" -XAtc 'select current_user')" = bob ] ||
    fail "plain TCP login as bob"

echo "== Redis with TLS only and client certificates"
redis_start cache --tls
[ "$(redis_cli --cert backend ping)" = PONG ] || fail "redis TLS ping"
[ "$(redis_cli --cert backend set k v)" = OK ] || fail "redis set"
[ "$(redis_cli --cert backend get k)" = v ] || fail "redis get"
# Without a client certificate the handshake fails.
out=$(redis_cli ping 2>&1) || true
[ "$out" != PONG ] || fail "redis TLS without a client certificate"
# Plaintext at the TLS port gets nothing.
out=$(timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1) || true
[ "$out" != PONG ] || fail "redis plaintext at the TLS port"
# A certificate from another CA is refused.
mkdir -p "$T/other"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=backend -days 1 -keyout "$T/other/x.key" \
    -out "$T/other/x.crt" 2>/dev/null
out=$(timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --tls \
    --cacert "$T/certs/ca.crt" --cert "$T/other/x.crt" \
    --key "$T/other/x.key" ping 2>&1) || true
[ "$out" != PONG ] || fail "redis accepted a foreign certificate"

echo "== Redis in plaintext"
redis_start plain
[ "$(redis_cli ping)" = PONG ] || fail "redis plain ping"

echo "ok"
