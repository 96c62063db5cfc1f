#!/usr/bin/env bash
# Malformed startup packets against running postgres sidecars (the
# originating side's plaintext leg, the terminating side before TLS):
# truncated, oversized, wrong codes and lengths, repeated requests, random
# bytes, and plaintext pipelined after an SSLRequest (CVE-2021-23214). Each
# gets an ErrorResponse (08P01) or a close, never a crash, and both sidecars
# keep serving psql afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_db.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/4_db_lib.sh"

pki_init cotai.test
issue backend
issue pgside
pg_start plain
pg_create_role app

db_proxy pgin terminate pgside "$PG_PORT" "allow: [backend]" \
    "    protocol: postgres"
tport=$PORT
db_proxy pgout originate backend "$tport" "expect: pgside" \
"    protocol: postgres
    upstream: sidecar"
oport=$PORT

# reply PORT HEX PATTERN DESC: the reply to HEX must match the shell
# pattern PATTERN ('' = nothing at all).
reply() {
	local out
	out=$(pg_raw "$1" "$2")
	# shellcheck disable=SC2254 # PATTERN is a pattern
	case $out in
	$3) ;;
	*) fail "$4: got '$out'" ;;
	esac
}
e08='E*C08P01|M*'

for port in "$oport" "$tport"; do
	echo "== malformed packets at $port"
	reply "$port" "00 00 00" '' "truncated length"
	reply "$port" "00 00 00 08 04 d2" '' "truncated request"
	reply "$port" "00 01 00 00 00 03 00 00" "${e08}too long*" "oversized"
	reply "$port" "7f" "${e08}too long*" "first byte not 0"
	reply "$port" "47 45 54 20 2f 20 48 54 54 50" "${e08}too long*" "HTTP"
	reply "$port" "00 00 00 04" "${e08}too short*" "length 4"
	reply "$port" "00 00 00 08 04 d2 16 31" "${e08}unknown request*" \
	    "unknown request code"
	reply "$port" "00 00 00 0c 04 d2 16 2f 00 00 00 00" \
	    "${e08}bad SSL/GSSENC length*" "long SSLRequest"
	reply "$port" "00 00 00 0e 04 d2 16 2e 00 00 00 01 00 00" \
	    "${e08}cancel request length*" "short cancel key"
	reply "$port" "00 00 00 08 00 02 00 00" "${e08}unsupported protocol*" \
	    "protocol 2"
done

echo "== originating side: requests, then bad startups"
reply "$oport" "00 00 00 08 04 d2 16 2f 00 00 00 08 04 d2 16 2f" \
    "N${e08}repeated*" "two SSLRequests"
reply "$oport" "00 00 00 08 04 d2 16 30 00 00 00 08 04 d2 16 2f 00 00 00 04" \
    "NN${e08}too short*" "GSSENC, SSL, garbage"
# hexlen BODY_HEX: a StartupMessage (protocol 3.0) around BODY_HEX.
hexlen() { printf '%08x00030000%s' $((${#1} / 2 + 8)) "$1"; }
hexof() { printf "$1" | od -v -An -tx1 | tr -d ' \n'; }
reply "$oport" "$(hexlen 00)" "${e08}no user*" "no user"
reply "$oport" "$(hexlen "$(hexof 'user\0a\0user\0b\0\0')")" \
    "${e08}repeated user*" "two users"
reply "$oport" "$(hexlen "$(hexof 'user\0a\0\0\0')")" \
    "${e08}data after terminator*" "bytes after the terminator"
reply "$oport" "00000010$(hexof '\0\3\0\0user\0a')" "" "unterminated, then EOF"
long=$(printf 'a%.0s' $(seq 70))
reply "$oport" "$(pg_startup_hex "$long" app)" "${e08}too long*" \
    "user name of 70 bytes"

echo "== cancel requests in both shapes are relayed, without a reply"
cancel="00 00 00 10 04 d2 16 2e 00 00 00 01 de ad be ef"
reply "$oport" "$cancel" '' "bare cancel"
reply "$oport" "00 00 00 08 04 d2 16 2f $cancel" 'N' "SSLRequest, N, cancel"
# A protocol 3.2 cancel with a 32-byte key (PostgreSQL 18) passes as is.
reply "$oport" "00 00 00 2c 04 d2 16 2e 00 00 00 01 $(printf 'ab%.0s' $(seq 32))" \
    '' "cancel with a long key"
wait_for "three cancels at the terminating side" $((10 * TMO)) \
    sh -c "[ \$(grep -c 'pg_request=cancel' '$T/pgin.log') -ge 3 ]"
audit pgin | grep 'pg_request=cancel' | grep -q 'bytes_up=44 ' ||
    fail "the long cancel was not relayed whole: $(audit pgin | grep cancel)"

echo "== terminating side: plaintext and pipelining"
reply "$tport" "$(pg_startup_hex app app)" \
    'E*C28000|M*TLS with a client certificate is required*' \
    "plaintext startup"
reply "$tport" "00 00 00 08 04 d2 16 30 00 00 00 04" "N${e08}too short*" \
    "GSSENC then garbage"
# SSLRequest with a StartupMessage behind it in the same segment: no 'S',
# the connection is closed.
reply "$tport" "00 00 00 08 04 d2 16 2f $(pg_startup_hex app app)" '' \
    "pipelined after SSLRequest"
wait_for "the CVE-2021-23214 audit line" $((10 * TMO)) \
    sh -c "grep -q 'detail=\"bytes after SSLRequest before TLS (CVE-2021-23214)\"' '$T/pgin.log'"
# SSLRequest alone gets 'S' (then TLS: the client's EOF fails it).
reply "$tport" "00 00 00 08 04 d2 16 2f" 'S*' "SSLRequest alone"

echo "== random bytes"
for i in $(seq $((40 / SCALE + 4))); do
	n=$((1 + RANDOM % 64))
	rnd=$(head -c "$n" /dev/urandom | od -v -An -tx1 | tr -d ' \n')
	# A plausible length, then random codes or a 3.0 StartupMessage
	# with random parameters, sometimes cut short.
	case $((i % 3)) in
	0) hex="000000$(printf %02x $((8 + n)))$rnd" ;;
	1) hex="000000$(printf %02x $((8 + n)))00030000$rnd" ;;
	*) hex="000000$(printf %02x $((8 + n)))04d216$rnd" ;;
	esac
	pg_raw "$oport" "$hex" >/dev/null
	pg_raw "$tport" "$hex" >/dev/null
done

echo "== both sidecars still serve"
kill -0 "$PROXY_PID" || fail "originating proxy died"
[ "$(psql_at "$oport" app -c 'select 42')" = 42 ] || fail "psql afterwards"
audit pgin | grep -q 'reason=protocol_error' || fail "no protocol_error"
assert_no_grep 'reason=internal' "$T/pgin.log"
assert_no_grep 'reason=internal' "$T/pgout.log"

echo "ok"
