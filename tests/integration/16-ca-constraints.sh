#!/usr/bin/env bash
# Name constraints: with --permit-dns the intermediate permits only those DNS
# subtrees (plus URI spiffe://TD/...); issue refuses names outside them, the
# constrained chain verifies with openssl, and a leaf signed outside the
# constraints with the intermediate key (by openssl, not cotai-ca) is
# rejected by openssl verify and cotai-ca verify.
. "$(dirname "$0")/lib.sh"

"$CA" init --trust-domain cotai.test --passphrase-file <(echo pw) \
    --permit-dns postgres --permit-dns redis --permit-dns svc.internal \
    >"$T/init.log"
openssl x509 -in "$COTAI_CA_DIR/intermediate.crt" -noout \
    -ext nameConstraints >"$T/nc.txt"
assert_grep 'critical' "$T/nc.txt"
assert_grep 'URI:cotai.test' "$T/nc.txt"
assert_grep 'DNS:postgres' "$T/nc.txt"
assert_grep 'DNS:svc.internal' "$T/nc.txt"

# Inside: bare permitted names, their subdomains, names under svc.internal.
issue postgres --dns db.svc.internal --ip 10.0.0.5
issue redis
issue api.svc.internal
issue replica.postgres
for n in postgres redis api.svc.internal replica.postgres; do
	ca_verify "$T/certs" "$n" -crl_check_all >/dev/null ||
	    fail "$n does not verify under the constrained chain"
done

# Outside: refused by issue, nothing written, nothing indexed.
for args in "backend" "postgres2" "svc.internal.evil" \
    "mongo --dns mongo.svc.internal" "api2.svc.internal --dns evil.com"; do
	# shellcheck disable=SC2086
	expect_status 1 \
	    "^cotai-ca: issue: a name is outside the CA's name constraints" \
	    "$CA" issue $args --out "$T/certs"
done
expect_status 1 "constraints \(permitted subtree violation: DNS:evil.com\); permitted DNS subtrees: postgres, redis, svc.internal" \
    "$CA" issue api3.svc.internal --dns evil.com --out "$T/certs"
[ ! -e "$T/certs/backend.crt" ] || fail "refused issue wrote a file"
[ "$(grep -c '^V ' "$COTAI_CA_DIR/index")" = 4 ] || fail "index changed"

# A leaf signed with the intermediate key outside the constraints.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/evil.key" -subj /CN=backend \
    -addext "subjectAltName=URI:spiffe://cotai.test/backend,DNS:backend" \
    -out "$T/evil.csr" 2>/dev/null
openssl x509 -req -in "$T/evil.csr" -CA "$COTAI_CA_DIR/intermediate.crt" \
    -CAkey "$COTAI_CA_DIR/intermediate.key" -set_serial 0x1234 -days 1 \
    -copy_extensions copyall -out "$T/evil.crt" 2>/dev/null
cat "$COTAI_CA_DIR/intermediate.crt" >>"$T/evil.crt"
if openssl verify -CAfile "$COTAI_CA_DIR/ca.crt" -untrusted "$T/evil.crt" \
    "$T/evil.crt" >"$T/evil.log" 2>&1; then
	fail "out-of-constraint leaf passed openssl verify"
fi
assert_grep 'permitted subtree violation' "$T/evil.log"
expect_status 1 '^bad .*permitted subtree violation' "$CA" verify \
    "$T/evil.crt"

# A foreign trust domain in the URI is outside the URI constraint too.
openssl req -new -key "$T/evil.key" -subj /CN=postgres \
    -addext "subjectAltName=URI:spiffe://evil.test/postgres,DNS:postgres" \
    -out "$T/evil2.csr" 2>/dev/null
openssl x509 -req -in "$T/evil2.csr" -CA "$COTAI_CA_DIR/intermediate.crt" \
    -CAkey "$COTAI_CA_DIR/intermediate.key" -set_serial 0x1235 -days 1 \
    -copy_extensions copyall -out "$T/evil2.crt" 2>/dev/null
if openssl verify -CAfile "$COTAI_CA_DIR/ca.crt" \
    -untrusted "$COTAI_CA_DIR/intermediate.crt" "$T/evil2.crt" \
    >"$T/evil2.log" 2>&1; then
	fail "foreign-trust-domain leaf passed openssl verify"
fi
assert_grep 'permitted subtree violation' "$T/evil2.log"
echo "16-ca-constraints: ok"
