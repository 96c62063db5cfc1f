#!/usr/bin/env bash
# Malformed startup packets against running postgres sidecars (the
# originating side's plaintext leg, with and without local_tls, the
# terminating side before TLS, with and without plaintext_cancel):
# truncated, oversized, wrong codes and lengths, repeated requests, random
# bytes, plaintext pipelined after an SSLRequest (CVE-2021-23214), garbage
# after the 'S' of local_tls, oversized, long and trailed plaintext
# cancels. Each gets an ErrorResponse (08P01) or a close, never a crash,
# and the sidecars keep serving psql afterwards.
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
# local_tls on the originating side, plaintext_cancel on the terminating.
issue localpg --dns localhost --ip 127.0.0.1
db_proxy pgtls originate backend "$tport" "expect: pgside" \
"    protocol: postgres
    upstream: sidecar
    local_tls: { cert: $T/certs/localpg.crt, key: $T/certs/localpg.key }"
lport=$PORT
db_proxy pgcan terminate pgside "$PG_PORT" "allow: [backend]" \
"    protocol: postgres
    plaintext_cancel: true"
cport=$PORT

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

for port in "$oport" "$tport" "$lport" "$cport"; do
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

echo "== local_tls: garbage after 'S', pipelining, repeated requests"
reply "$lport" "00 00 00 08 04 d2 16 2f $(pg_startup_hex app app)" '' \
    "local_tls: pipelined after SSLRequest"
reply "$lport" "00 00 00 08 04 d2 16 2f 00 00 00 08 04 d2 16 2f" '' \
    "local_tls: two SSLRequests at once"
out=$(pg_raw -w "$lport" "00 00 00 08 04 d2 16 2f" \
    "de ad be ef 00 01 02 03 04 05 06 07 08 09 0a 0b")
case $out in S*) ;; *) fail "local_tls: garbage after S: got '$out'" ;; esac
out=$(pg_raw -w "$lport" "00 00 00 08 04 d2 16 2f" \
    "16 03 01 40 00 $(printf '41%.0s' $(seq 64))")
case $out in S*) ;; *) fail "local_tls: bad ClientHello after S: '$out'" ;; esac
reply "$lport" "00 00 00 08 04 d2 16 30 00 00 00 08 04 d2 16 2f" 'NS*' \
    "local_tls: GSSENC, then SSLRequest alone"
reply "$lport" "16 03 01 00 05 de ad be ef 00" '*' "local_tls: direct garbage"
reply "$lport" "$cancel" '' "local_tls: a plaintext cancel still passes"
wait_for "local TLS failures in the audit" $((10 * TMO)) sh -c \
    "[ \$(grep -c 'reason=tls_error .*detail=\"local TLS: ' '$T/pgtls.log') -ge 3 ]"
assert_grep 'detail="bytes after SSLRequest before TLS \(CVE-2021-23214\)"' \
    "$T/pgtls.log"
wait_for "the plaintext cancel through pgtls" $((10 * TMO)) sh -c \
    "grep -q 'pg_request=cancel' '$T/pgtls.log'"

echo "== plaintext_cancel: exactly one well-formed cancel, nothing else"
reply "$cport" "00 00 02 00 04 d2 16 2e 00 00 00 01" "${e08}cancel request length*" \
    "oversized cancel"
reply "$cport" "00 00 01 0d 04 d2 16 2e 00 00 00 01" "${e08}cancel request length*" \
    "cancel with a 257-byte key"
reply "$cport" "$cancel 00" '' "a byte after the cancel"
reply "$cport" "00 00 00 10 04 d2 16 2e 00 00 00 01 de ad" '' "truncated cancel"
reply "$cport" "$cancel" '' "plaintext cancel"
reply "$cport" "00 00 01 0c 04 d2 16 2e 00 00 00 01 $(printf 'cd%.0s' $(seq 256))" \
    '' "plaintext cancel with a 256-byte key"
reply "$cport" "00 00 00 08 04 d2 16 2f $cancel" '' "SSLRequest, then a cancel"
wait_for "two relayed cancels" $((10 * TMO)) sh -c \
    "[ \$(grep 'pg_request=cancel' '$T/pgcan.log' | grep -c 'reason=eof') -ge 2 ]"
audit pgcan | grep 'reason=eof .*pg_request=cancel' | grep -q 'bytes_up=16 ' ||
    fail "the 16-byte cancel: $(audit pgcan | grep cancel)"
audit pgcan | grep 'reason=eof .*pg_request=cancel' | grep -q 'bytes_up=268 ' ||
    fail "the 268-byte cancel: $(audit pgcan | grep cancel)"
assert_grep 'bytes_up=0 .*detail="bytes after a plaintext cancel request" pg_request=cancel' \
    "$T/pgcan.log"
[ "$(audit pgcan | grep -c 'bytes_up=[1-9]')" = 2 ] ||
    fail "more than the two cancels relayed: $(audit pgcan | grep bytes_up=[1-9])"
# Without plaintext_cancel (pgin) the cancel is read whole and dropped.
reply "$tport" "$cancel" '' "plaintext cancel, plaintext_cancel off"
wait_for "the dropped cancel" $((10 * TMO)) sh -c "grep -q \
'bytes_up=0 .*detail=\"plaintext cancel request dropped (plaintext_cancel is off)\" pg_request=cancel' \
'$T/pgin.log'"

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
	for port in "$oport" "$tport" "$lport" "$cport"; do
		pg_raw "$port" "$hex" >/dev/null
	done
	pg_raw -w "$lport" "00 00 00 08 04 d2 16 2f" "$rnd" >/dev/null
done

echo "== both sidecars still serve"
kill -0 "$PROXY_PID" || fail "originating proxy died"
[ "$(psql_at "$oport" app -c 'select 42')" = 42 ] || fail "psql afterwards"
[ "$("$PG_BINDIR/psql" "host=localhost hostaddr=127.0.0.1 port=$lport \
user=app dbname=app sslmode=verify-full sslrootcert=$T/certs/ca.crt" \
    -XAtc 'select 43')" = 43 ] || fail "psql over local TLS afterwards"
audit pgin | grep -q 'reason=protocol_error' || fail "no protocol_error"
assert_no_grep 'reason=internal' "$T/pgin.log"
assert_no_grep 'reason=internal' "$T/pgout.log"
assert_no_grep 'reason=internal' "$T/pgtls.log"
assert_no_grep 'reason=internal' "$T/pgcan.log"

echo "ok"
