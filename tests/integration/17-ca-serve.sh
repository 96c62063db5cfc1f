#!/usr/bin/env bash
# cotai-ca serve, the CA as an EST server (RFC 7030), driven by standard
# tools: curl (with the client certificate being replaced), CSRs from
# `openssl req`, answers read with `openssl pkcs7`. Covers cacerts, a token
# that works once and only for its name, reenrollment that issues exactly the
# recorded identity, every refusal (revoked, expired, foreign, superseded, no
# certificate, another identity in the CSR, reused or weak key, expired
# token, oversized body, rate), the audit line for each, the index shared
# with the CLI, GET /crl with ETag/304, the connection bound and the config
# file's FILE:LINE:COL errors and --check.
. "$(dirname "$0")/lib.sh"

pki_init
"$CA" issue est-server --dns localhost --out "$T/srv" >/dev/null
A=$T/audit.log

# serve NAME ARGS...: start a server, set $URL.
serve() {
	local name=$1
	shift
	spawn "$name" "$CA" serve --tls-cert "$T/srv/est-server.crt" \
	    --tls-key "$T/srv/est-server.key" --listen 127.0.0.1:0 \
	    --port-file "$T/$name.port" "$@"
	wait_file "$T/$name.port"
	URL=https://localhost:$(cut -d: -f2 "$T/$name.port")
}

# csr NAME SUBJ: a new P-256 key $T/NAME.key and its CSR $T/NAME.csr
# (base64 DER, RFC 7030 section 4.2.1).
csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$T/$1.key" -subj "$2" -outform DER \
	    -out "$T/$1.der" 2>/dev/null
	base64 "$T/$1.der" >"$T/$1.csr"
}

# post OP CSRFILE OUT [curl args...]: POST the CSR, print the HTTP status;
# the body goes to $T/OUT.
post() {
	local op=$1 file=$2 out=$3
	shift 3
	curl -sS --cacert "$T/srv/ca.crt" -H 'Content-Type: application/pkcs10' \
	    --data-binary @"$file" -o "$T/$out" -w '%{http_code}' "$@" \
	    "$URL/.well-known/est/$op"
}

# certs_of OUT PEM: the certificates of a base64 PKCS#7 answer, as PEM.
certs_of() {
	base64 -d "$T/$1" | openssl pkcs7 -inform DER -print_certs >"$T/$2" ||
	    fail "$1 is not a base64 PKCS#7"
}

expect_http() {
	local want=$1 got=$2 what=$3
	[ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want ($(cat "$T/body" 2>/dev/null))"
}

serve est --audit "$A" --ttl 2h
est_pid=$LAST_PID
audits=0
# audited PATTERN: one more audit line, and it matches PATTERN.
audited() {
	audits=$((audits + 1))
	[ "$(wc -l <"$A")" = $audits ] || fail "expected $audits audit lines: $(cat "$A")"
	tail -n 1 "$A" | grep -Eq -- "$1" || fail "last audit line not /$1/: $(tail -n 1 "$A")"
}

# --- cacerts: root and intermediate, certs-only PKCS#7 in base64.
curl -sS --cacert "$T/srv/ca.crt" -D "$T/h" -o "$T/cacerts" \
    "$URL/.well-known/est/cacerts"
assert_grep '^Content-Type: application/pkcs7-mime' "$T/h"
assert_grep '^Content-Transfer-Encoding: base64' "$T/h"
certs_of cacerts cacerts.pem
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/cacerts.pem")" = 2 ] || fail "cacerts count"
openssl x509 -in "$COTAI_CA_DIR/ca.crt" >"$T/root.pem"
grep -q "$(sed -n 2p "$T/root.pem")" "$T/cacerts.pem" || fail "root not in cacerts"

# --- simpleenroll: the token works once, for its name only.
tok=$("$CA" token web --ttl 10m 2>/dev/null)
[[ $tok =~ ^[0-9a-f]{64}$ ]] || fail "token format: $tok"
assert_no_grep "$tok" "$COTAI_CA_DIR/tokens" "token stored in clear"
csr web1 /CN=web
code=$(post simpleenroll "$T/web1.csr" body)
expect_http 401 "$code" "enroll without a token"
audited '"event": "refused", "op": "simpleenroll".*no bearer token'
csr other /CN=db
code=$(post simpleenroll "$T/other.csr" body -H "Authorization: Bearer $tok")
expect_http 403 "$code" "token for web, CSR for db"
audited 'refused.*"name": "web".*another identity'
code=$(post simpleenroll "$T/web1.csr" p7 -H "Authorization: Bearer $tok")
expect_http 200 "$code" "enroll with the token"
audited '"event": "issued", "op": "simpleenroll".*"name": "web"'
certs_of p7 web1.crt
cp "$T/srv/ca.crt" "$T/ca.crt"
openssl verify -CAfile "$T/ca.crt" -untrusted "$T/web1.crt" "$T/web1.crt" \
    >/dev/null || fail "enrolled cert does not verify"
openssl x509 -in "$T/web1.crt" -noout -ext subjectAltName >"$T/san"
assert_grep 'URI:spiffe://cotai.test/web, DNS:web' "$T/san"
csr web1b /CN=web
code=$(post simpleenroll "$T/web1b.csr" body -H "Authorization: Bearer $tok")
expect_http 403 "$code" "token reuse"
audited 'refused.*already used token'
# An expired token (minted an hour ago with a 1-minute life).
old=$(COTAI_CA_NOW=$(($(date +%s) - 3600)) "$CA" token late --ttl 1m 2>/dev/null)
csr late /CN=late
code=$(post simpleenroll "$T/late.csr" body -H "Authorization: Bearer $old")
expect_http 403 "$code" "expired token"
audited 'refused.*"name": "late".*token expired'
"$CA" list >"$T/list"
assert_grep "^web +[0-9A-F]+ .* valid$" "$T/list"

# --- simplereenroll: the identity comes from the CA's records.
"$CA" issue api --dns api.internal --ip 10.0.0.7 --out "$T/api" >/dev/null
csr api2 /
code=$(post simplereenroll "$T/api2.csr" p7 --cert "$T/api/api.crt" \
    --key "$T/api/api.key")
expect_http 200 "$code" "reenroll"
audited '"event": "issued", "op": "simplereenroll".*"name": "api"'
certs_of p7 api2.crt
openssl x509 -in "$T/api2.crt" -noout -subject -ext subjectAltName >"$T/san"
assert_grep 'CN *= *api' "$T/san"
assert_grep 'URI:spiffe://cotai.test/api, DNS:api, DNS:api.internal, IP Address:10.0.0.7' "$T/san"
[ "$(openssl x509 -in "$T/api2.crt" -noout -pubkey)" = \
    "$(openssl pkey -in "$T/api2.key" -pubout)" ] || fail "not the CSR's key"
old_serial=$(openssl x509 -in "$T/api/api.crt" -noout -serial | cut -d= -f2)
new_serial=$(openssl x509 -in "$T/api2.crt" -noout -serial | cut -d= -f2)
"$CA" list >"$T/list"
assert_grep "^api +$old_serial .* superseded$" "$T/list"
assert_grep "^api +$new_serial .* valid$" "$T/list"
cat "$T/api2.crt" >"$T/api2.chain"

# The superseded certificate gets nothing.
csr api3 /CN=api
code=$(post simplereenroll "$T/api3.csr" body --cert "$T/api/api.crt" \
    --key "$T/api/api.key")
expect_http 403 "$code" "superseded cert"
audited 'refused.*superseded'
# Another identity in the CSR: subject, then a SAN.
csr evil /CN=postgres
code=$(post simplereenroll "$T/evil.csr" body --cert "$T/api2.chain" \
    --key "$T/api2.key")
expect_http 403 "$code" "CSR subject of another identity"
audited 'refused.*"name": "api".*another identity'
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/evil2.key" -subj /CN=api -addext subjectAltName=DNS:postgres \
    -outform DER -out "$T/evil2.der" 2>/dev/null
base64 "$T/evil2.der" >"$T/evil2.csr"
code=$(post simplereenroll "$T/evil2.csr" body --cert "$T/api2.chain" \
    --key "$T/api2.key")
expect_http 403 "$code" "CSR SAN of another identity"
audited 'refused.*names of another identity'
# A reused key: the current certificate's own key, then an older one.
openssl req -new -key "$T/api2.key" -subj /CN=api -outform DER \
    -out "$T/reuse.der" && base64 "$T/reuse.der" >"$T/reuse.csr"
code=$(post simplereenroll "$T/reuse.csr" body --cert "$T/api2.chain" \
    --key "$T/api2.key")
expect_http 400 "$code" "current key reused"
audited 'refused.*key reused'
openssl req -new -key "$T/web1.key" -subj /CN=api -outform DER \
    -out "$T/reuse2.der" && base64 "$T/reuse2.der" >"$T/reuse2.csr"
code=$(post simplereenroll "$T/reuse2.csr" body --cert "$T/api2.chain" \
    --key "$T/api2.key")
expect_http 400 "$code" "another certificate's key reused"
audited 'refused.*key reused'
# Weak keys: RSA 1024, EC P-521 not accepted.
openssl req -new -newkey rsa:1024 -nodes -keyout "$T/weak.key" -subj /CN=api \
    -outform DER -out "$T/weak.der" 2>/dev/null && base64 "$T/weak.der" >"$T/weak.csr"
code=$(post simplereenroll "$T/weak.csr" body --cert "$T/api2.chain" \
    --key "$T/api2.key")
expect_http 400 "$code" "RSA 1024"
audited 'refused.*RSA key size'
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-521 -nodes \
    -keyout "$T/p521.key" -subj /CN=api -outform DER -out "$T/p521.der" 2>/dev/null
base64 "$T/p521.der" >"$T/p521.csr"
code=$(post simplereenroll "$T/p521.csr" body --cert "$T/api2.chain" \
    --key "$T/api2.key")
expect_http 400 "$code" "P-521"
audited 'refused.*curve not accepted'
# Garbage instead of a CSR.
echo 'not a csr' >"$T/junk.csr"
code=$(post simplereenroll "$T/junk.csr" body --cert "$T/api2.chain" \
    --key "$T/api2.key")
expect_http 400 "$code" "junk CSR"
audited 'refused.*not a base64'
# RSA 2048 is accepted and recorded as such in the index.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj /CN=api \
    -outform DER -out "$T/rsa.der" 2>/dev/null && base64 "$T/rsa.der" >"$T/rsa.csr"
code=$(post simplereenroll "$T/rsa.csr" p7 --cert "$T/api2.chain" \
    --key "$T/api2.key")
expect_http 200 "$code" "RSA 2048 reenroll"
audited 'issued.*"name": "api"'
certs_of p7 api3.crt
assert_grep ' rsa-2048 api ' "$COTAI_CA_DIR/index"

# No client certificate.
code=$(post simplereenroll "$T/api3.csr" body)
expect_http 401 "$code" "no client cert"
audited 'refused.*no client certificate'
# A certificate from another CA.
COTAI_CA_DIR=$T/pki2 "$CA" init --trust-domain cotai.test \
    --passphrase-file <(echo other) >/dev/null
COTAI_CA_DIR=$T/pki2 "$CA" issue api --out "$T/foreign" >/dev/null
code=$(post simplereenroll "$T/api3.csr" body --cert "$T/foreign/api.crt" \
    --key "$T/foreign/api.key")
expect_http 403 "$code" "foreign cert"
audited 'refused.*not valid: unable to get local issuer'
# An expired certificate (issued two hours ago for one hour).
COTAI_CA_NOW=$(($(date +%s) - 7200)) "$CA" issue gone --ttl 1h \
    --out "$T/gone" >/dev/null
csr gone2 /CN=gone
code=$(post simplereenroll "$T/gone2.csr" body --cert "$T/gone/gone.crt" \
    --key "$T/gone/gone.key")
expect_http 403 "$code" "expired cert"
audited 'refused.*certificate has expired'
# A revoked certificate (revoked by the CLI while the server runs).
"$CA" issue db --out "$T/db" >/dev/null
"$CA" revoke db --reason keyCompromise >/dev/null
csr db2 /CN=db
code=$(post simplereenroll "$T/db2.csr" body --cert "$T/db/db.crt" \
    --key "$T/db/db.key")
expect_http 403 "$code" "revoked cert"
audited 'refused.*"name": "db".*client certificate revoked'
"$CA" list >"$T/list"
assert_no_grep '^db .* valid$' "$T/list"

# --- GET /crl: DER, caching headers, 304, a new ETag after a revocation.
curl -sS --cacert "$T/ca.crt" -D "$T/h" -o "$T/crl.der" "$URL/crl"
tr -d '\r' <"$T/h" >"$T/h2"
assert_grep '^Content-Type: application/pkix-crl' "$T/h2"
assert_grep '^Cache-Control: max-age=60$' "$T/h2"
assert_grep '^Last-Modified: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} ' "$T/h2"
etag=$(awk '/^ETag:/ {print $2}' "$T/h2")
[ -n "$etag" ] || fail "no ETag"
dbserial=$(openssl x509 -in "$T/db/db.crt" -noout -serial | cut -d= -f2)
openssl crl -inform DER -in "$T/crl.der" -noout -text | grep -q "$dbserial" ||
    fail "CRL does not list the revoked serial"
rm -f "$T/body"
code=$(curl -sS --cacert "$T/ca.crt" -H "If-None-Match: $etag" -o "$T/body" \
    -w '%{http_code}' "$URL/crl")
expect_http 304 "$code" "CRL If-None-Match"
[ ! -s "$T/body" ] || fail "304 with a body"
"$CA" revoke api >/dev/null
code=$(curl -sS --cacert "$T/ca.crt" -H "If-None-Match: $etag" -o "$T/crl2.der" \
    -D "$T/h" -w '%{http_code}' "$URL/crl")
expect_http 200 "$code" "CRL after a revocation"
assert_no_grep "$etag" "$T/h"

# --- SIGHUP reloads the server's own certificate; a bad one is refused.
served_serial() {
	openssl s_client -connect "localhost:${URL##*:}" </dev/null 2>/dev/null |
	    openssl x509 -noout -serial | cut -d= -f2
}
before=$(served_serial)
"$CA" renew est-server >/dev/null
after=$(openssl x509 -in "$T/srv/est-server.crt" -noout -serial | cut -d= -f2)
[ "$before" != "$after" ] || fail "renew did not change the serial"
kill -HUP "$est_pid"
wait_for "reloaded certificate" 10 sh -c "grep -q 'SIGHUP: reloaded' '$T/est.log'"
[ "$(served_serial)" = "$after" ] || fail "SIGHUP did not load the renewed certificate"
cp "$T/srv/est-server.key" "$T/good.key"
echo garbage >"$T/srv/est-server.key"
kill -HUP "$est_pid"
wait_for "refused reload" 10 sh -c "grep -q 'reload failed' '$T/est.log'"
[ "$(served_serial)" = "$after" ] || fail "a failed reload changed the certificate"
cp "$T/good.key" "$T/srv/est-server.key"

# --- bounds: body size, unknown path and method.
head -c 20000 /dev/zero | base64 >"$T/big.csr"
code=$(post simplereenroll "$T/big.csr" body --cert "$T/api2.chain" \
    --key "$T/api2.key")
expect_http 413 "$code" "oversized body"
code=$(curl -sS --cacert "$T/ca.crt" -o /dev/null -w '%{http_code}' "$URL/nope")
expect_http 404 "$code" "unknown path"
code=$(curl -sS --cacert "$T/ca.crt" -o /dev/null -w '%{http_code}' \
    "$URL/.well-known/est/simpleenroll")
expect_http 405 "$code" "GET simpleenroll"
# Only TLS 1.3.
if openssl s_client -connect "localhost:${URL##*:}" -tls1_2 \
    </dev/null >"$T/tls12" 2>&1; then
	fail "TLS 1.2 accepted"
fi

# --- 20 reenrollments at once, with CLI issues running alongside: every
# one answered, no duplicate serial, an index the CLI still reads.
for i in $(seq 20); do
	"$CA" issue "par$i" --out "$T/par$i" >/dev/null
	csr "par$i-new" "/CN=par$i"
done
jobs=()
for i in $(seq 20); do
	post simplereenroll "$T/par$i-new.csr" "par$i.p7" --cert "$T/par$i/par$i.crt" \
	    --key "$T/par$i/par$i.key" >"$T/par$i.code" &
	jobs+=($!)
done
for i in 1 2 3; do
	"$CA" issue "cli$i" --out "$T/cli$i" >/dev/null &
	jobs+=($!)
done
# (not a bare `wait`: it would wait for the server too)
wait "${jobs[@]}"
for i in $(seq 20); do
	[ "$(cat "$T/par$i.code")" = 200 ] || fail "parallel reenroll par$i: $(cat "$T/par$i.code")"
	certs_of "par$i.p7" "par$i-new.crt"
	openssl x509 -in "$T/par$i-new.crt" -noout -subject | grep -q "CN *= *par$i$" ||
	    fail "par$i got another identity"
done
dups=$(awk '/^[VSR] / {print $2}' "$COTAI_CA_DIR/index" | sort | uniq -d)
[ -z "$dups" ] || fail "duplicate serials: $dups"
"$CA" list >"$T/list"
[ "$(grep -Ec '^par[0-9]+ .* valid$' "$T/list")" = 20 ] || fail "index after parallel reenrolls"
[ "$(grep -Ec '^cli[0-9] .* valid$' "$T/list")" = 3 ] || fail "CLI issues lost"
audits=$((audits + 19))
audited 'issued.*simplereenroll'

# --- per-identity rate and the connection bound, on a second server.
serve lim --rate 2 --max-connections 1 --audit "$T/lim-audit.log"
for i in 1 2 3; do
	"$CA" issue "r$i" --out "$T/r$i" >/dev/null
done
code=$(post simplereenroll "$T/api3.csr" body --cert "$T/r1/r1.crt" --key "$T/r1/r1.key")
expect_http 403 "$code" "rate 1 (CSR for api)"
code=$(post simplereenroll "$T/api3.csr" body --cert "$T/r1/r1.crt" --key "$T/r1/r1.key")
expect_http 403 "$code" "rate 2"
code=$(post simplereenroll "$T/api3.csr" body --cert "$T/r1/r1.crt" --key "$T/r1/r1.key")
expect_http 429 "$code" "rate 3"
grep -q 'rate limit for this identity' "$T/lim-audit.log" || fail "rate not audited"
csr r2new /CN=r2
code=$(post simplereenroll "$T/r2new.csr" body --cert "$T/r2/r2.crt" --key "$T/r2/r2.key")
expect_http 200 "$code" "rate is per identity"
# One connection held open: the next client waits, then gets through.
mkfifo "$T/hold"
exec 7<>"$T/hold"
# (a background job's stdin is /dev/null unless redirected inside it)
spawn holder sh -c 'exec openssl s_client -connect "$1" <"$2" 7>&-' sh \
    "localhost:${URL##*:}" "$T/hold"
holder=$LAST_PID
# (after the TLS handshake, so the server has accepted it: CONNECTED is
# printed when the kernel completes the TCP handshake, before accept)
wait_for "holder's handshake" 10 grep -q 'Verify return code' "$T/holder.log"
code=$(curl -sS --cacert "$T/ca.crt" --max-time 2 -o /dev/null \
    -w '%{http_code}' "$URL/crl" 2>/dev/null || true)
[ "$code" = 000 ] || fail "second connection served past max_connections ($code)"
exec 7>&-
wait_exit "$holder"
code=$(curl -sS --cacert "$T/ca.crt" --max-time 5 -o /dev/null \
    -w '%{http_code}' "$URL/crl")
expect_http 200 "$code" "after the held connection closed"
# A connection that never says anything (not even a ClientHello) is closed
# after the timeout, so idle sockets cannot hold the slots forever.
serve idle --timeout 2s --audit "$T/idle-audit.log"
exec 8<>"/dev/tcp/127.0.0.1/${URL##*:}"
timeout 8 cat <&8 >/dev/null || fail "idle connection not closed after the timeout"
exec 8<&-

# --- the server keeps the CRL fresh: with less than half of its 4 days
# left (the CA's clock 3 days ahead), it signs a new one at start.
last=$(openssl crl -in "$COTAI_CA_DIR/crl.pem" -noout -lastupdate)
COTAI_CA_NOW=$(($(date +%s) + 3 * 86400)) serve fresh --audit "$T/fresh-audit.log"
wait_for "CRL refreshed" 10 grep -q 'signed a new CRL' "$T/fresh.log"
curl -sS --cacert "$T/ca.crt" -o "$T/crl3.der" "$URL/crl"
now3=$(openssl crl -inform DER -in "$T/crl3.der" -noout -lastupdate)
[ "$now3" != "$last" ] || fail "CRL not refreshed"
[ $(($(date -d "${now3#*=}" +%s) - $(date +%s))) -gt $((2 * 86400)) ] ||
    fail "new CRL not signed at the CA's clock: $now3"
cmp -s "$COTAI_CA_DIR/crl.pem" "$T/srv/crl.pem" || fail "crl.pem not copied to the output directories"

# --- config file: FILE:LINE:COL errors, --check, flags win.
cat >"$T/serve.yaml" <<YAML
listen: 127.0.0.1:0
tls_cert: $T/srv/est-server.crt
tls_key: $T/srv/est-server.key
ttl: 12h
rate: 5
YAML
expect_status 0 '^ttl: 43200s' "$CA" serve -c "$T/serve.yaml" --check
expect_status 0 '^rate: 9$' "$CA" serve -c "$T/serve.yaml" --rate 9 --check
printf 'listen: 127.0.0.1:0\nttl: 12h\n  bogus: 1\n' >"$T/bad1.yaml"
expect_status 1 "$T/bad1.yaml:3:8: yaml: " "$CA" serve -c "$T/bad1.yaml" --check
printf 'listen: 127.0.0.1:0\nmax_bodyy: 3\n' >"$T/bad2.yaml"
expect_status 1 "$T/bad2.yaml:2:1: max_bodyy: unknown key" "$CA" serve \
    -c "$T/bad2.yaml" --check
printf 'listen: 127.0.0.1:0\nttl: forever\n' >"$T/bad3.yaml"
expect_status 1 "$T/bad3.yaml:2:6: ttl: bad duration" "$CA" serve \
    -c "$T/bad3.yaml" --check
expect_status 1 'tls_cert and tls_key are required' "$CA" serve --check
expect_status 2 '[-]-max-connections: bad number' "$CA" serve \
    --max-connections 0 --check
echo "ok"
