#!/usr/bin/env bash
# X.509-SVID: a SPIFFE ID must be the certificate's only URI SAN. A leaf
# signed by our own intermediate (within its name constraints) that carries
# spiffe://cotai.test/backend and also https://cotai.test/admin is refused
# by a terminate route (client) and an originate route (server) with
# reason=bad_certificate, nothing relayed, and by `cotai-ca verify`. The
# same leaf made the same way without the second URI is accepted, so the
# extra URI is what is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

relay_pki
C=$T/certs

# craft NAME SANS: a leaf for CN=backend signed with the intermediate's key
# by openssl (not cotai-ca), with the cotai leaf profile and SANS; writes
# $C/NAME.crt (leaf then intermediate) and $C/NAME.key.
craft() {
	local name=$1 sans=$2
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$C/$name.key" 2>/dev/null
	openssl req -new -key "$C/$name.key" -subj /CN=backend \
	    -out "$T/$name.csr"
	cat >"$T/$name.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $sans
EXT
	openssl x509 -req -in "$T/$name.csr" -days 1 -sha256 \
	    -CA "$COTAI_CA_DIR/intermediate.crt" \
	    -CAkey "$COTAI_CA_DIR/intermediate.key" -set_serial "0x$(openssl rand -hex 16)" \
	    -extfile "$T/$name.ext" -out "$T/$name.leaf" 2>/dev/null ||
	    fail "openssl x509 -req $name"
	cat "$T/$name.leaf" "$COTAI_CA_DIR/intermediate.crt" >"$C/$name.crt"
}
craft one "DNS:backend, URI:spiffe://cotai.test/backend"
craft two "DNS:backend, URI:spiffe://cotai.test/backend, URI:https://cotai.test/admin"
craft rev "DNS:backend, URI:https://cotai.test/admin, URI:spiffe://cotai.test/backend"

echo "== cotai-ca verify"
"$CA" verify "$C/one.crt" >"$T/verify-one.out" ||
    { cat "$T/verify-one.out"; fail "verify refused the one-URI leaf"; }
for n in two rev; do
	expect_status 1 'not exactly one URI SAN' "$CA" verify "$C/$n.crt"
done
# Both chain to our root within the name constraints: only the URI differs.
for n in one two rev; do
	ca_verify "$C" "$n" -crl_check >/dev/null || fail "chain of $n"
done

# The target writes 64 bytes and closes: a client let through gets them.
relay_peer source -n 64
relay_terminate term "$PEER_PORT"
tp=$PORT

# tls_client NAME: connect through the terminate route with $C/NAME.crt.
tls_client() {
	timeout $((10 * TMO)) openssl s_client \
	    -connect "127.0.0.1:$tp" -CAfile "$C/ca.crt" -quiet \
	    -cert "$C/$1.crt" -cert_chain "$C/$1.crt" -key "$C/$1.key" \
	    </dev/null >"$T/client-$1.out" 2>"$T/client-$1.err" || true
}

echo "== terminate: the one-URI leaf is allowed"
tls_client one
[ "$(wc -c <"$T/client-one.out")" = 64 ] || fail "the one-URI client got no data"
wait_audit term 1
audit term | tail -n 1 | grep -q 'peer=backend .*reason=' ||
    fail "no audit line for the good client"
n=1
for c in two rev; do
	echo "== terminate: $c URI SANs refused"
	tls_client "$c"
	n=$((n + 1))
	wait_audit term "$n"
	line=$(audit term | tail -n 1)
	echo "$line" | grep -q 'reason=bad_certificate ' ||
	    fail "$c: expected reason=bad_certificate, got: $line"
	echo "$line" | grep -q 'bytes_up=0 bytes_down=0' ||
	    fail "$c: bytes were relayed: $line"
	echo "$line" | grep -q 'peer=backend' &&
	    fail "$c: the refused peer was named backend: $line"
	[ ! -s "$T/client-$c.out" ] || fail "$c: got data"
done
assert_grep 'malformed identity in certificate' "$T/term.log"

echo "== originate: a server with two URI SANs is refused"
spawn srv openssl s_server -accept 127.0.0.1:0 -naccept 1 -tls1_3 \
    -cert "$C/two.crt" -cert_chain "$C/two.crt" -key "$C/two.key" \
    -CAfile "$C/ca.crt" -Verify 1 -rev
wait_for "s_server to listen" 10 grep -q '^ACCEPT' "$T/srv.log"
sp=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$T/srv.log")
relay_config orig originate backend "$sp" "expect: [backend]" "" ""
relay_start orig
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m refused | tee "$T/refused.out"
assert_grep 'failures=0' "$T/refused.out"
wait_audit orig 1
line=$(audit orig | tail -n 1)
echo "$line" | grep -q 'reason=bad_certificate ' ||
    fail "originate: expected reason=bad_certificate, got: $line"
echo ok
