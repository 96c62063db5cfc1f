#!/usr/bin/env bash
# revoke rewrites the CRL and copies it into every output directory, after
# which `openssl verify -crl_check` and `cotai-ca verify` reject the leaf;
# a leaf from another cotai-ca init is rejected too.
. "$(dirname "$0")/lib.sh"

pki_init
issue backend
issue postgres
"$CA" issue redis --out "$T/redis-certs" >/dev/null
C=$T/certs
ca_verify "$C" backend -crl_check >/dev/null || fail "backend before revoke"
num_before=$(openssl crl -in "$C/crl.pem" -noout -crlnumber | sed "s/.*=0x//")

expect_status 0 'revoked backend serial' "$CA" revoke backend \
    --reason keyCompromise
# The CRL in every output directory (and the state dir) changed.
for d in "$C" "$T/redis-certs" "$COTAI_CA_DIR"; do
	cmp -s "$d/crl.pem" "$COTAI_CA_DIR/crl.pem" || fail "$d/crl.pem stale"
done
openssl crl -in "$C/crl.pem" -noout -text >"$T/crl.txt"
assert_grep 'Version 2' "$T/crl.txt"
assert_grep 'X509v3 CRL Number' "$T/crl.txt"
assert_grep 'X509v3 Authority Key Identifier' "$T/crl.txt"
assert_grep 'Key Compromise' "$T/crl.txt"
serial=$(openssl x509 -in "$C/backend.crt" -noout -serial | cut -d= -f2)
assert_grep "Serial Number: $serial" "$T/crl.txt"
num_after=$(openssl crl -in "$C/crl.pem" -noout -crlnumber | sed "s/.*=0x//")
[ "$((16#$num_after))" -gt "$((16#$num_before))" ] || fail "CRL number"
next=$(date -d "$(openssl crl -in "$C/crl.pem" -noout -nextupdate |
    cut -d= -f2)" +%s)
[ $((next - $(date +%s))) -gt $((3 * 86400)) ] || fail "nextUpdate too close"

# openssl and cotai-ca now reject the revoked leaf, not the others.
if ca_verify "$C" backend -crl_check >"$T/v.log" 2>&1; then
	fail "revoked leaf passed openssl verify -crl_check"
fi
assert_grep 'certificate revoked' "$T/v.log"
ca_verify "$C" postgres -crl_check >/dev/null || fail "postgres after revoke"
ca_verify "$T/redis-certs" redis -crl_check_all >/dev/null ||
    fail "redis after revoke"
expect_status 1 '^bad .*certificate revoked' "$CA" verify "$C/backend.crt"
expect_status 0 '^ok ' "$CA" verify "$C/postgres.crt" --name postgres
"$CA" list >"$T/list.txt"
assert_grep "^backend +$serial .* revoked$" "$T/list.txt"

# Revoking again fails; renew refuses a revoked name; issue is allowed.
expect_status 1 'cotai-ca: revoke: backend has no unrevoked' "$CA" revoke \
    backend
expect_status 1 "cotai-ca: revoke: serial $serial is already revoked" \
    "$CA" revoke --serial "$serial"
expect_status 1 'cotai-ca: renew: backend has no current certificate' \
    "$CA" renew backend
issue backend
ca_verify "$C" backend -crl_check >/dev/null || fail "re-issued backend"

# Revoke by serial (lower case works).
pserial=$(openssl x509 -in "$C/postgres.crt" -noout -serial | cut -d= -f2)
expect_status 0 'revoked postgres' "$CA" revoke --serial \
    "$(echo "$pserial" | tr A-F a-f)"
if ca_verify "$C" postgres -crl_check >/dev/null 2>&1; then
	fail "postgres revoked by serial still verifies"
fi
expect_status 1 'no certificate with serial' "$CA" revoke --serial ABCDEF
expect_status 2 'bad --reason' "$CA" revoke redis --reason because

# A leaf from another CA (same trust domain) is rejected.
COTAI_CA_DIR=$T/other "$CA" init --trust-domain cotai.test \
    --passphrase-file <(echo other) >/dev/null
COTAI_CA_DIR=$T/other "$CA" issue redis --out "$T/oc" >/dev/null
if openssl verify -CAfile "$C/ca.crt" -untrusted "$T/oc/redis.crt" \
    "$T/oc/redis.crt" >"$T/o.log" 2>&1; then
	fail "other CA's leaf passed openssl verify"
fi
assert_grep 'unable to get local issuer certificate' "$T/o.log"
expect_status 1 '^bad .*chain: ' "$CA" verify "$T/oc/redis.crt"

# crl: regenerates with a higher number and the same revocations.
expect_status 0 'CRL written' "$CA" crl
n3=$(openssl crl -in "$C/crl.pem" -noout -crlnumber | sed "s/.*=0x//")
[ "$((16#$n3))" -gt "$((16#$num_after))" ] || fail "crl did not renumber"
openssl crl -in "$C/crl.pem" -noout -text | grep -q "Serial Number: $serial" ||
    fail "crl lost a revocation"
echo "12-ca-revoke: ok"
