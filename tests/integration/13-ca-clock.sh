#!/usr/bin/env bash
# Renewal thresholds, expiry and CRL staleness with the test-only clock
# override COTAI_CA_NOW (unix seconds), and renew keeping names and out dir.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"

D=86400
N=$(date +%s)
at() { # at OFFSET_SECONDS CMD...: run CMD with the CA clock at N+OFFSET
	local off=$1
	shift
	COTAI_CA_NOW=$((N + off)) "$@"
}

pki_init
at 0 "$CA" issue alpha --out "$T/a" >/dev/null          # 7 days
at 0 "$CA" issue beta --ttl 3d --out "$T/b" >/dev/null   # 3 days
expect_status 0 '^ok: 2 certificates valid' at $D "$CA" check

# beta is due once a third (1 day) or less is left: 2 days in.
expect_status 0 'ok' at $((2 * D - 60)) "$CA" check
expect_status 3 '^due beta: ' at $((2 * D + 120)) "$CA" check
at $((2 * D + 120)) "$CA" list >"$T/list.txt"
assert_grep '^alpha .* valid$' "$T/list.txt"
assert_grep '^beta .* due$' "$T/list.txt"
at $((2 * D + 120)) "$CA" check --json >"$T/check.json" || true
assert_grep '"problem": "due", "name": "beta"' "$T/check.json"
assert_grep '"exit": 3' "$T/check.json"

# renew --all --if-due renews beta only, then all is well again.
at $((2 * D + 120)) "$CA" renew --all --if-due >"$T/renew.txt"
assert_grep '^renewed beta ' "$T/renew.txt"
assert_no_grep 'alpha' "$T/renew.txt"
expect_status 0 '^ok: 2 certificates valid' at $((2 * D + 180)) "$CA" check
expect_status 0 'not due' at $((2 * D + 180)) "$CA" renew alpha --if-due
expect_status 0 '^\{"event": "not_due", "name": "alpha"\}$' \
    at $((2 * D + 180)) "$CA" renew alpha --if-due --json
at $((2 * D + 180)) "$CA" list >"$T/list2.txt"
assert_grep '^beta .* superseded$' "$T/list2.txt"
# The renewed beta lasts 3 days again, from its renewal.
end=$(date -d "$(openssl x509 -in "$T/b/beta.crt" -noout -enddate |
    cut -d= -f2)" +%s)
[ "$end" = $((N + 5 * D + 120)) ] || fail "renewed beta ends at $end"

# alpha (7 days) is due at 4.7 days; at 8 days both have expired.
expect_status 0 'ok' at $((4 * D)) "$CA" check
expect_status 3 '^due alpha: ' at $((5 * D)) "$CA" check
expect_status 4 '^expired alpha: ' at $((8 * D)) "$CA" check
at $((8 * D)) "$CA" list >"$T/list3.txt"
assert_grep '^alpha .* expired$' "$T/list3.txt"
expect_status 1 'chain: certificate has expired' at $((8 * D)) \
    "$CA" verify "$T/a/alpha.crt"
# An expired name may be issued again.
at $((8 * D)) "$CA" issue alpha --out "$T/a" >/dev/null

# CRL staleness: nextUpdate is 4 days after the last CRL was written.
COTAI_CA_DIR=$T/pki2 "$CA" init --trust-domain cotai.test \
    --passphrase-file <(echo pass2) >/dev/null
COTAI_CA_DIR=$T/pki2 "$CA" issue gamma --ttl 30d --out "$T/g" >/dev/null
export COTAI_CA_DIR=$T/pki2
expect_status 0 'ok' at $((4 * D - 120)) "$CA" check
expect_status 4 '^stale crl: ' at $((4 * D + 60)) "$CA" check
expect_status 1 'chain: CRL has expired' at $((4 * D + 60)) \
    "$CA" verify "$T/g/gamma.crt"
at $((4 * D + 60)) "$CA" crl >/dev/null
expect_status 0 'ok: 1 certificates valid' at $((4 * D + 60)) "$CA" check
cmp -s "$T/g/crl.pem" "$T/pki2/crl.pem" || fail "crl not copied to out dir"

# renew keeps the names and the lifetime, makes a new key, and --out moves
# the files (the new directory is recorded for later CRL copies).
"$CA" issue delta --dns delta.local --ip 10.1.1.1 --ttl 2d --out "$T/d" \
    >/dev/null
san() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2; }
san "$T/d/delta.crt" >"$T/san1.txt"
cp "$T/d/delta.key" "$T/old.key"
"$CA" renew delta --out "$T/d2" >/dev/null
san "$T/d2/delta.crt" >"$T/san2.txt"
cmp -s "$T/san1.txt" "$T/san2.txt" || fail "renew changed the names"
assert_grep 'DNS:delta.local' "$T/san2.txt"
assert_grep 'IP Address:10.1.1.1' "$T/san2.txt"
cmp -s "$T/old.key" "$T/d2/delta.key" && fail "renew kept the old key"
nb=$(date -d "$(openssl x509 -in "$T/d2/delta.crt" -noout -startdate |
    cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$T/d2/delta.crt" -noout -enddate |
    cut -d= -f2)" +%s)
[ $((na - nb)) = $((2 * D + 60)) ] || fail "renew changed the lifetime"
"$CA" revoke gamma >/dev/null
cmp -s "$T/d2/crl.pem" "$T/pki2/crl.pem" || fail "crl not copied to new out"

# The intermediate (1 year) is due with a third of its life left.
export COTAI_CA_DIR=$T/pki3
"$CA" init --trust-domain cotai.test --passphrase-file <(echo pass3) >/dev/null
at $((250 * D)) "$CA" crl >/dev/null
expect_status 3 '^due intermediate: intermediate CA until' at $((250 * D)) "$CA" check
at $((366 * D)) "$CA" crl >/dev/null
expect_status 4 '^expired intermediate: ' at $((366 * D)) "$CA" check
expect_status 1 '^cotai-ca: issue: the issuing CA expired' at $((366 * D)) \
    "$CA" issue late --out "$T/late"

# The clock override must be numeric.
expect_status 2 'COTAI_CA_NOW must be unix seconds' env COTAI_CA_NOW=soon \
    "$CA" check
echo "13-ca-clock: ok"
