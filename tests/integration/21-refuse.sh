#!/usr/bin/env bash
# Refused handshakes, each with its reason in the terminating (or, for a
# server that is not the expected one, the originating) proxy's audit line
# and nothing relayed: no client certificate, another CA, expired, not yet
# valid, revoked, an identity not in allow, a TLS 1.2-only client, a server
# identity that is not expect.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

relay_pki
relay_bad_certs

# s_client -cert sends only the leaf; give it the intermediate as well.
chain() { awk '/BEGIN CERT/ { n++ } n >= 2' "$1" >"$1.chain"; echo "$1.chain"; }
for c in "$T"/certs/*.crt "$T"/certs2/backend.crt; do chain "$c" >/dev/null; done

relay_peer echo
relay_terminate term "$PEER_PORT"
tp=$PORT
closes=0

# try_client NAME REASON [s_client args...]: one handshake that must fail
# with REASON=... on the terminating side and relay nothing.
try_client() {
	local name=$1 reason=$2 line
	shift 2
	echo "== $name -> $reason"
	echo hello | timeout $((10 * TMO)) openssl s_client -connect "127.0.0.1:$tp" \
	    -CAfile "$T/certs/ca.crt" -quiet "$@" >"$T/$name.out" 2>&1 || true
	closes=$((closes + 1))
	wait_audit term "$closes"
	line=$(audit term | tail -n 1)
	echo "$line" | grep -q "reason=$reason " ||
	    fail "$name: expected reason=$reason, got: $line"
	echo "$line" | grep -q "bytes_up=0 bytes_down=0" ||
	    fail "$name: bytes were relayed: $line"
	[ ! -s "$T/$name.out" ] || ! grep -q hello "$T/$name.out" ||
	    fail "$name: got an echo"
}

try_client nocert no_client_certificate
try_client otherca unknown_ca -cert "$T/certs2/backend.crt" -cert_chain "$T/certs2/backend.crt.chain" \
    -key "$T/certs2/backend.key"
try_client expired cert_expired -cert "$T/certs/expired.crt" -cert_chain "$T/certs/expired.crt.chain" \
    -key "$T/certs/expired.key"
try_client notyet cert_not_yet_valid -cert "$T/certs/notyet.crt" -cert_chain "$T/certs/notyet.crt.chain" \
    -key "$T/certs/notyet.key"
try_client revoked cert_revoked -cert "$T/certs/revoked.crt" -cert_chain "$T/certs/revoked.crt.chain" \
    -key "$T/certs/revoked.key"
try_client mallory identity_not_allowed -cert "$T/certs/mallory.crt" -cert_chain "$T/certs/mallory.crt.chain" \
    -key "$T/certs/mallory.key"
try_client tls12 tls_version -tls1_2 -cert "$T/certs/backend.crt" -cert_chain "$T/certs/backend.crt.chain" \
    -key "$T/certs/backend.key"
assert_grep 'peer=mallory .*reason=identity_not_allowed' "$T/term.log"

echo "== the good certificate still works"
echo hello | timeout $((10 * TMO)) openssl s_client -connect "127.0.0.1:$tp" \
    -CAfile "$T/certs/ca.crt" -quiet -cert "$T/certs/backend.crt" -cert_chain "$T/certs/backend.crt.chain" \
    -key "$T/certs/backend.key" >"$T/good.out" 2>&1 || true
assert_grep '^hello' "$T/good.out" "the good client got no echo"

echo "== originate refuses a server that is not the expected one"
relay_config orig originate backend "$tp" "expect: [redis, \"spiffe://cotai.test/db/*\"]" "" ""
relay_start orig
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m refused | tee "$T/refused.out"
assert_grep 'failures=0' "$T/refused.out"
wait_audit orig 1
assert_grep 'peer=pg .*reason=identity_not_expected' "$T/orig.log"
echo ok
