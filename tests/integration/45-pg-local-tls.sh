#!/usr/bin/env bash
# protocol: postgres, originate with local_tls: the sidecar answers the
# app's SSLRequest with 'S' and terminates TLS on the local leg, so psql
# with sslmode=require and verify-full works through it to PostgreSQL's
# own TLS (ssl=on, hostssl ... cert). A cancel from that psql (libpq 15
# sends it in plaintext) still works; a direct TLS start (PostgreSQL 17's
# sslnegotiation=direct) needs ALPN "postgresql"; /readyz and /metrics
# watch the local certificate, which is reloaded when its files change; a
# bad one is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_db.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/4_db_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh" # http_get

pki_init cotai.test
for n in pgserver app; do issue "$n"; done
# The local leg's certificate names the addresses the app dials.
issue localpg --dns localhost --ip 127.0.0.1
issue localshort --dns localhost --ttl 1h
pg_start main --tls pgserver
pg_create_role app
# The proxies read the files again on reload as the user they switched
# to (nobody, when the test runs as root), and a reload may come at any
# time now: every issue above touched the watched directory.
[ "$(id -u)" != 0 ] || chown -R nobody "$T/certs"

db_proxy pgout originate app "$PG_PORT" "expect: pgserver" \
"    protocol: postgres
    local_tls: { cert: $T/certs/localpg.crt, key: $T/certs/localpg.key }"
lport=$PORT
lpid=$PROXY_PID
base="port=$lport user=app dbname=app connect_timeout=$((10 * TMO))"
full="host=localhost hostaddr=127.0.0.1 $base sslmode=verify-full \
sslrootcert=$T/certs/ca.crt"

# lpsql CONNINFO ARGS...: psql at the local TLS route.
lpsql() {
	local ci=$1
	shift
	timeout $((60 * TMO)) "$PG_BINDIR/psql" "$ci" -X -A -t "$@"
}

echo "== sslmode=require: TLS on the local leg, TLS to PostgreSQL"
out=$(lpsql "host=127.0.0.1 $base sslmode=require" -c '\conninfo' \
    -c 'select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()') ||
    fail "psql sslmode=require through the sidecar"
case $out in
*'SSL connection (protocol: TLSv1.3'*'app|t'*) ;;
*) fail "expected TLSv1.3 locally and app over TLS, got '$out'" ;;
esac
wait_audit pgout 1
last_close pgout |
    grep -q 'reason=eof .*local_tls=TLSv1.3 local_tls_start=sslrequest pg_user=app' ||
    fail "audit: $(last_close pgout)"

echo "== sslmode=verify-full, by name and by address"
[ "$(lpsql "$full" -c 'select 1')" = 1 ] || fail "verify-full host=localhost"
[ "$(lpsql "host=127.0.0.1 $base sslmode=verify-full \
sslrootcert=$T/certs/ca.crt" -c 'select 2')" = 2 ] ||
    fail "verify-full host=127.0.0.1 (IP SAN)"
if lpsql "host=elsewhere hostaddr=127.0.0.1 $base sslmode=verify-full \
sslrootcert=$T/certs/ca.crt" -c 'select 1' >"$T/wrongname.out" 2>&1; then
	fail "verify-full accepted a certificate for another name"
fi
assert_grep 'does not match host name' "$T/wrongname.out"

echo "== prefer (libpq's default) now gets TLS, disable stays plaintext"
lpsql "host=127.0.0.1 $base" -c '\conninfo' >"$T/prefer.out"
assert_grep 'SSL connection' "$T/prefer.out"
lpsql "host=127.0.0.1 $base sslmode=disable" -c '\conninfo' >"$T/disable.out"
assert_no_grep 'SSL connection' "$T/disable.out"
[ "$(lpsql "host=127.0.0.1 $base sslmode=disable" -c 'select 3')" = 3 ] ||
    fail "sslmode=disable"

echo "== cancel from a verify-full psql (its CancelRequest is plaintext)"
n=$(audit pgout | grep -c 'pg_request=cancel' || true)
pg_cancel_long_query "$full"
wait_for "the cancel's audit line" $((10 * TMO)) \
    sh -c "[ \$(grep -c 'pg_request=cancel' '$T/pgout.log') -gt $n ]"
audit pgout | grep 'pg_request=cancel' | tail -n 1 |
    grep -q 'reason=eof' || fail "cancel audit: $(audit pgout | tail -n 2)"
# The session itself ran over local TLS.
audit pgout | grep 'pg_user=app' | tail -n 1 | grep -q 'local_tls=TLSv1.3' ||
    fail "the cancelled session: $(audit pgout | tail -n 2)"

# direct_query ARGS...: PostgreSQL 17's direct TLS with openssl s_client
# ARGS: a StartupMessage, "select 'direct-ok'", Terminate; prints what
# came back.
direct_query() {
	local q hex bin
	q=$(printf "select 'direct-ok'" | od -v -An -tx1 | tr -d ' \n')
	hex="$(pg_startup_hex app app)51$(printf %08x $((${#q} / 2 + 5)))${q}00"
	hex="${hex}5800000004"
	bin=$(printf '%s' "$hex" | sed 's/../\\x&/g')
	# shellcheck disable=SC2059 # the format is the bytes
	printf "$bin" | timeout $((15 * TMO)) openssl s_client -quiet \
	    -connect "127.0.0.1:$lport" -servername localhost \
	    -CAfile "$T/certs/ca.crt" -verify_return_error "$@" 2>&1 |
	    tr '\0' '|' || true
}

echo "== direct TLS (sslnegotiation=direct) with ALPN postgresql"
out=$(direct_query -alpn postgresql)
case $out in
*direct-ok*) ;;
*) fail "direct TLS with ALPN: got '$out'" ;;
esac
wait_for "the direct audit line" $((10 * TMO)) \
    sh -c "grep -q 'local_tls_start=direct' '$T/pgout.log'"
echo "== direct TLS without ALPN is closed, as PostgreSQL 17 does"
out=$(direct_query)
case $out in
*direct-ok*) fail "direct TLS without ALPN reached the server" ;;
esac
wait_for "the no-ALPN audit line" $((10 * TMO)) sh -c "grep -q \
'detail=\"local TLS: direct without ALPN postgresql\"' '$T/pgout.log'"

echo "== a route without local_tls still answers N"
db_proxy plainout originate app "$PG_PORT" "expect: pgserver" \
    "    protocol: postgres"
if lpsql "host=127.0.0.1 port=$PORT user=app dbname=app sslmode=require" \
    -c 'select 1' >"$T/nolocal.out" 2>&1; then
	fail "sslmode=require worked without local_tls"
fi
assert_grep 'server does not support SSL' "$T/nolocal.out"

echo "== readyz and metrics watch the local certificate too"
relay_yaml "admin: { listen: \"127.0.0.1:0\", ready_min_validity: 2h }" \
    shortout originate app "$PG_PORT" "expect: pgserver" "    protocol: postgres
    local_tls: { cert: $T/certs/localshort.crt, key: $T/certs/localshort.key }" \
    "" >"$T/shortout.yaml"
relay_start shortout
admin=$(awk '$1 == "admin" { print $2 }' "$T/shortout.ports")
http_get "$admin" /readyz >"$T/ready.out"
assert_grep '^HTTP/1.0 503' "$T/ready.out"
assert_grep 'route shortout: local_tls certificate expires in' "$T/ready.out"
na=$(date -d "$(openssl x509 -noout -enddate -in "$T/certs/localshort.crt" |
    cut -d= -f2)" +%s)
http_get "$admin" /metrics >"$T/metrics.out"
assert_grep "^cotai_local_tls_cert_expiry_timestamp_seconds\{route=\"shortout\"\} $na\$" \
    "$T/metrics.out"

# served_serial: the serial of the certificate the local leg presents now.
served_serial() {
	timeout $((10 * TMO)) openssl s_client -starttls postgres \
	    -connect "127.0.0.1:$lport" </dev/null 2>/dev/null |
	    openssl x509 -noout -serial
}

echo "== the local certificate is reloaded when its files change"
old=$(served_serial)
[ -n "$old" ] || fail "no certificate served on the local leg"
n=$(grep -c 'reload done' "$T/pgout.log" || true)
"$CA" renew localpg --out "$T/certs" >>"$T/ca-issue.log" 2>&1 ||
    fail "renew localpg"
[ "$(id -u)" != 0 ] || chown -R nobody "$T/certs"
wait_for "a reload after the renewal" $((20 * TMO)) \
    sh -c "[ \$(grep -c 'reload done' '$T/pgout.log') -gt $n ]"
wait_for "the renewed certificate on the local leg" $((10 * TMO)) \
    sh -c "[ \"\$(timeout 10 openssl s_client -starttls postgres \
-connect 127.0.0.1:$lport </dev/null 2>/dev/null | openssl x509 -noout \
-serial)\" = \"$(openssl x509 -noout -serial -in "$T/certs/localpg.crt")\" ]"
[ "$(served_serial)" != "$old" ] || fail "still the old certificate"
[ "$(lpsql "$full" -c 'select 4')" = 4 ] || fail "verify-full after renewal"

echo "== a key that does not match: the reload fails, the old pair stays"
cur=$(served_serial)
cp -p "$T/certs/localpg.key" "$T/localpg.key.good"
cp -p "$T/certs/app.key" "$T/certs/localpg.key"
kill -HUP "$lpid"
wait_for "the failed reload" $((20 * TMO)) sh -c "grep -q \
'local_tls.key: .*localpg.key does not match the certificate' '$T/pgout.log'"
assert_grep 'reload failed \(config_error\)' "$T/pgout.log"
[ "$(served_serial)" = "$cur" ] || fail "the certificate changed"
[ "$(lpsql "$full" -c 'select 5')" = 5 ] || fail "verify-full after a bad key"
cp -p "$T/localpg.key.good" "$T/certs/localpg.key"

echo "== the key must be private"
chmod 644 "$T/certs/localpg.key"
expect_status 1 'local_tls.key: .*accessible by group or others' \
    "$PROXY" --check -c "$T/pgout.yaml"
chmod 600 "$T/certs/localpg.key"
"$PROXY" --check -c "$T/pgout.yaml" >"$T/check.out" 2>&1 ||
    { cat "$T/check.out"; fail "--check"; }
assert_grep 'local_tls: cert .*localpg.crt, key .*, min_version 1.3' \
    "$T/check.out"

kill -0 "$lpid" || fail "the proxy died"
assert_no_grep 'reason=internal' "$T/pgout.log"
echo "ok"
