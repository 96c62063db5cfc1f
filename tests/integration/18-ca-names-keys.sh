#!/usr/bin/env bash
# Names that collide with an output directory's fixed files are refused
# (issue ca would replace ca.crt, issue crl --combined would let crl.pem
# replace the file holding the key), nothing is written, and the root key
# is encrypted with scrypt (PKCS#8 PBES2), still readable by openssl.
. "$(dirname "$0")/lib.sh"

pki_init
issue backend

for name in ca crl; do
	for extra in "" --combined; do
		# shellcheck disable=SC2086
		expect_status 2 "^cotai-ca: issue: name \"$name\" is reserved" \
		    "$CA" issue "$name" --out "$T/certs" $extra
	done
	[ ! -e "$T/certs/$name.key" ] ||
	    fail "a refused issue of $name wrote $name.key"
	expect_status 2 "^cotai-ca: issue: name \"$name\" is reserved" \
	    "$CA" issue "$name"
	[ ! -e "$COTAI_CA_DIR/issued/$name" ] || fail "issue $name made a dir"
done
# Nor can an EST enrolment token be minted for them.
for name in ca crl; do
	expect_status 2 "^cotai-ca: token: name \"$name\" is reserved" \
	    "$CA" token "$name"
done
[ "$(grep -c '^V ' "$COTAI_CA_DIR/index")" = 1 ] || fail "index changed"
# The shared directory still holds the trust bundle and a CRL.
cmp -s "$T/certs/ca.crt" "$COTAI_CA_DIR/ca.crt" || fail "ca.crt replaced"
openssl crl -in "$T/certs/crl.pem" -noout || fail "crl.pem is not a CRL"
openssl x509 -in "$T/certs/backend.crt" -noout -subject |
    grep -q 'CN *= *backend' || fail "backend.crt changed"
# Names that merely contain the reserved ones are fine.
issue ca-proxy --combined
issue crl-sync --combined
ca_verify "$T/certs" ca-proxy -crl_check >/dev/null
ca_verify "$T/certs" crl-sync -crl_check >/dev/null
openssl crl -in "$T/certs/crl.pem" -noout || fail "crl.pem replaced"

# The root key: PBES2 with scrypt (N=16384, r=8, p=5) and AES-256-CBC.
openssl asn1parse -in "$COTAI_CA_DIR/ca.key" >"$T/ca-key.asn1"
assert_grep 'OBJECT +:PBES2' "$T/ca-key.asn1"
assert_grep 'OBJECT +:scrypt' "$T/ca-key.asn1" "root key KDF is not scrypt"
assert_no_grep 'PBKDF2' "$T/ca-key.asn1" "root key still uses PBKDF2"
assert_grep 'INTEGER +:4000$' "$T/ca-key.asn1" "scrypt N is not 16384"
assert_grep 'OBJECT +:aes-256-cbc' "$T/ca-key.asn1"
openssl pkey -in "$COTAI_CA_DIR/ca.key" -noout \
    -passin file:<(echo test-passphrase-please-ignore) ||
    fail "openssl cannot decrypt the root key"
if openssl pkey -in "$COTAI_CA_DIR/ca.key" -noout -passin pass:wrong \
    2>/dev/null; then
	fail "the root key decrypts with a wrong passphrase"
fi
[ "$(file_mode "$COTAI_CA_DIR/ca.key")" = 600 ] || fail "ca.key mode"
echo "ok: reserved names refused, root key scrypt-encrypted"
