#!/usr/bin/env bash
# protocol: mongo. No MongoDB server is packaged for Debian 12, so the
# route is tested against tests/tools/tlspeer, which behaves like mongod
# with net.tls.mode: requireTLS: TLS from the first byte, a client
# certificate required (CAFile = cotai's CA), its certificate and key in
# one file (cotai-ca issue --combined, as certificateKeyFile). tlspeer
# answers with the client's subject DN (what MongoDB names an X.509 user
# by) and echoes. Also: plaintext straight to the server gets nothing, a
# server that is not expected is refused, renew rewrites the combined file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/4_db_lib.sh"

pki_init cotai.test
issue backend
issue mongo --combined

echo "== cotai-ca issue --combined"
pem=$T/certs/mongo.pem
[ "$(file_mode "$pem")" = 600 ] || fail "mongo.pem mode $(file_mode "$pem")"
[ "$(grep -c 'BEGIN CERTIFICATE' "$pem")" = 2 ] || fail "mongo.pem: 2 certs"
grep -q 'BEGIN PRIVATE KEY' "$pem" || fail "mongo.pem: no key"
[ "$(openssl x509 -in "$pem" -noout -pubkey)" = \
    "$(openssl pkey -in "$pem" -pubout)" ] || fail "mongo.pem: key mismatch"
[ ! -e "$T/certs/backend.pem" ] || fail "backend.pem without --combined"

spawn tlspeer "$TOOLS/tlspeer" -p "$T/tlspeer.port" -c "$pem" \
    -a "$T/certs/ca.crt"
wait_file "$T/tlspeer.port"
mport=$(cat "$T/tlspeer.port")

echo "== a client through the mongo route"
db_proxy mongoout originate backend "$mport" "expect: mongo" \
    "    protocol: mongo"
out=$( (
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	printf 'hello mongo\n' >&3
	timeout $((10 * TMO)) head -n 2 <&3
) 2>/dev/null) || true
printf '%s\n' "$out" | grep -qx 'subject=CN=backend' ||
    fail "expected the client's subject DN, got '$out'"
printf '%s\n' "$out" | grep -qx 'hello mongo' || fail "no echo: '$out'"
wait_audit mongoout 1
last_close mongoout | grep -q 'peer=mongo .*reason=eof' ||
    fail "audit: $(last_close mongoout)"

echo "== plaintext straight to the server gets nothing"
out=$(pg_raw "$mport" "68 65 6c 6c 6f 0a")
[ "$out" != "hello" ] && [ "${out#subject=}" = "$out" ] ||
    fail "plaintext answered: $out"

echo "== a server that is not the expected identity"
db_proxy wrongexp originate backend "$mport" "expect: postgres" \
    "    protocol: mongo"
out=$(pg_raw "$PORT" "68 65 6c 6c 6f 0a")
[ -z "$out" ] || fail "wrong server relayed: $out"
wait_audit wrongexp 1
last_close wrongexp | grep -q 'reason=identity_not_expected' ||
    fail "wrongexp: $(last_close wrongexp)"

echo "== renew rewrites the combined file"
old=$(openssl x509 -in "$pem" -noout -serial)
"$CA" renew mongo >>"$T/ca-issue.log" 2>&1 || fail "renew mongo"
[ "$(openssl x509 -in "$pem" -noout -serial)" != "$old" ] ||
    fail "mongo.pem not renewed"
[ "$(openssl x509 -in "$pem" -noout -pubkey)" = \
    "$(openssl pkey -in "$pem" -pubout)" ] || fail "renewed pem: key mismatch"

echo "ok"
