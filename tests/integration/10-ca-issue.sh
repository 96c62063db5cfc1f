#!/usr/bin/env bash
# cotai-ca init + issue: the files, their modes, the certificate profile,
# and `openssl verify -crl_check` / `-crl_check_all` against the bundle.
. "$(dirname "$0")/lib.sh"

pki_init
[ "$(file_mode "$COTAI_CA_DIR")" = 700 ] || fail "state dir not 0700"
for f in ca.crt ca.key intermediate.crt intermediate.key index crl.pem; do
	[ -f "$COTAI_CA_DIR/$f" ] || fail "init did not write $f"
	[ "$(file_mode "$COTAI_CA_DIR/$f")" = 600 ] || fail "$f not 0600"
done
[ ! -e "$COTAI_CA_DIR/ca.pass" ] || fail "ca.pass written despite a file"

# The root key is PKCS#8, AES-256 encrypted, opened by the passphrase only.
assert_grep '^-----BEGIN ENCRYPTED PRIVATE KEY-----' "$COTAI_CA_DIR/ca.key"
openssl asn1parse -in "$COTAI_CA_DIR/ca.key" >"$T/asn1.txt"
assert_grep 'aes-256-cbc' "$T/asn1.txt"
openssl pkey -in "$COTAI_CA_DIR/ca.key" -noout \
    -passin pass:test-passphrase-please-ignore ||
    fail "root key does not open with the passphrase"
if openssl pkey -in "$COTAI_CA_DIR/ca.key" -noout -passin pass:wrong \
    2>/dev/null; then
	fail "root key opened with a wrong passphrase"
fi

# Root: P-384, 10 years, critical CA:TRUE pathlen:1, keyCertSign+cRLSign.
openssl x509 -in "$COTAI_CA_DIR/ca.crt" -noout -text >"$T/root.txt"
assert_grep 'NIST CURVE: P-384' "$T/root.txt"
assert_grep 'Basic Constraints: critical' "$T/root.txt"
assert_grep 'CA:TRUE, pathlen:1' "$T/root.txt"
assert_grep 'Key Usage: critical' "$T/root.txt"
assert_grep 'Certificate Sign, CRL Sign' "$T/root.txt"
assert_grep 'Subject Key Identifier' "$T/root.txt"
end=$(date -d "$(openssl x509 -in "$COTAI_CA_DIR/ca.crt" -noout -enddate |
    cut -d= -f2)" +%s)
[ $((end - $(date +%s))) -gt $((3649 * 86400)) ] || fail "root not 10 years"
openssl x509 -in "$COTAI_CA_DIR/intermediate.crt" -noout -text >"$T/int.txt"
assert_grep 'NIST CURVE: P-256' "$T/int.txt"
assert_grep 'CA:TRUE, pathlen:0' "$T/int.txt"
assert_grep 'Name Constraints: critical' "$T/int.txt"
assert_grep 'URI:cotai.test' "$T/int.txt"
assert_no_grep 'DNS:' "$T/int.txt" "no --permit-dns must mean no DNS constraint"

issue backend --dns backend.local --ip 10.0.0.7 --ip fd00::7
issue postgres --key-type rsa-3072
issue redis --key-type ed25519 --ttl 12h
C=$T/certs
[ "$(file_mode "$C/backend.key")" = 600 ] || fail "key not 0600"
assert_grep '^-----BEGIN PRIVATE KEY-----' "$C/backend.key"
[ "$(grep -c 'BEGIN CERTIFICATE' "$C/backend.crt")" = 2 ] ||
    fail "NAME.crt must hold the leaf and the intermediate"
[ "$(grep -c 'BEGIN X509 CRL' "$C/crl.pem")" = 2 ] ||
    fail "crl.pem must hold the intermediate's and the root's CRL"
cmp -s "$C/ca.crt" "$COTAI_CA_DIR/ca.crt" || fail "ca.crt is not the root"
# The key matches the certificate.
[ "$(openssl pkey -in "$C/backend.key" -pubout)" = \
    "$(openssl x509 -in "$C/backend.crt" -noout -pubkey)" ] ||
    fail "key does not match certificate"

for n in backend postgres redis; do
	ca_verify "$C" "$n" -crl_check >/dev/null || fail "$n: -crl_check"
	ca_verify "$C" "$n" -crl_check_all >/dev/null ||
	    fail "$n: -crl_check_all"
	ca_verify "$C" "$n" -purpose sslserver >/dev/null || fail "$n: server"
	ca_verify "$C" "$n" -purpose sslclient >/dev/null || fail "$n: client"
	"$CA" verify "$C/$n.crt" --name "$n" >"$T/v.log" ||
	    fail "cotai-ca verify $n: $(cat "$T/v.log")"
	assert_grep "^ok .*spiffe://cotai.test/$n" "$T/v.log"
done

# The leaf profile as openssl prints it.
openssl x509 -in "$C/backend.crt" -noout -text >"$T/leaf.txt"
assert_grep 'Subject: CN ?= ?backend$' "$T/leaf.txt"
assert_grep 'Basic Constraints: critical' "$T/leaf.txt"
assert_grep 'CA:FALSE' "$T/leaf.txt"
assert_grep 'Key Usage: critical' "$T/leaf.txt"
assert_grep '^ *Digital Signature$' "$T/leaf.txt"
assert_grep 'TLS Web Server Authentication, TLS Web Client Authentication' \
    "$T/leaf.txt"
assert_grep 'URI:spiffe://cotai.test/backend, DNS:backend, DNS:backend.local, IP Address:10.0.0.7, IP Address:FD00:0:0:0:0:0:0:7' \
    "$T/leaf.txt"
assert_grep 'Subject Key Identifier' "$T/leaf.txt"
assert_grep 'Authority Key Identifier' "$T/leaf.txt"
[ "$(grep -c 'URI:' "$T/leaf.txt")" = 1 ] || fail "more than one URI SAN"
serial=$(openssl x509 -in "$C/backend.crt" -noout -serial | cut -d= -f2)
[ ${#serial} = 32 ] || fail "serial $serial is not 128 bits"
case $serial in [89A-F]*) ;; *) fail "serial $serial: top bit not set" ;; esac
openssl x509 -in "$C/postgres.crt" -noout -text >"$T/rsa.txt"
assert_grep 'Digital Signature, Key Encipherment' "$T/rsa.txt"
assert_grep 'Public-Key: \(3072 bit\)' "$T/rsa.txt"
openssl x509 -in "$C/redis.crt" -noout -text | grep -q ED25519 ||
    fail "redis key is not Ed25519"

# Lifetimes: default 7 days, --ttl 12h; notBefore backdated a minute.
life() {
	local nb na
	nb=$(date -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s)
	na=$(date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s)
	echo $((na - nb))
}
[ "$(life "$C/backend.crt")" = $((7 * 86400 + 60)) ] || fail "default ttl"
[ "$(life "$C/redis.crt")" = $((12 * 3600 + 60)) ] || fail "--ttl 12h"

# Default output directory (and --json); index and list.
"$CA" issue web --json >"$T/web.json"
assert_grep "^\{\"event\": \"issued\", \"name\": \"web\", \"serial\": \"[0-9A-F]{32}\", .*\"cert\": \"$COTAI_CA_DIR/issued/web/web.crt\", \"key\": \"$COTAI_CA_DIR/issued/web/web.key\"\}$" \
    "$T/web.json"
W=$COTAI_CA_DIR/issued/web
for f in web.crt web.key ca.crt crl.pem; do
	[ -f "$W/$f" ] || fail "default out dir lacks $f"
done
ca_verify "$W" web -crl_check_all >/dev/null || fail "web: verify"
[ "$(grep -c '^V ' "$COTAI_CA_DIR/index")" = 4 ] || fail "index entries"
"$CA" list --json >"$T/list.json"
[ "$(grep -c '"status": "valid"' "$T/list.json")" = 4 ] || fail "list --json"
"$CA" check >"$T/check.log" || fail "check after issue"
assert_grep '^ok: 4 certificates valid' "$T/check.log"

# Without --passphrase-file, init generates one into a 0600 file.
COTAI_CA_DIR=$T/pki2 "$CA" init --trust-domain other.test >"$T/init2.log"
assert_grep 'ca.pass' "$T/init2.log"
[ "$(file_mode "$T/pki2/ca.pass")" = 600 ] || fail "ca.pass not 0600"
openssl pkey -in "$T/pki2/ca.key" -noout -passin "file:$T/pki2/ca.pass" ||
    fail "generated passphrase does not open the root key"
echo "10-ca-issue: ok"
