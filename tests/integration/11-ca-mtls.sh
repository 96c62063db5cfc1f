#!/usr/bin/env bash
# Two leaves from cotai-ca complete a mutual TLS 1.3 round trip through
# openssl s_server -Verify / s_client (chain + leaf CRL on both sides), and
# a client without a certificate or with a certificate from another CA is
# refused.
. "$(dirname "$0")/lib.sh"

pki_init
issue postgres
issue backend
C=$T/certs

# start_server LOG: s_server on an ephemeral port (it prints "ACCEPT
# host:port" once listening), requiring a client certificate from our CA.
start_server() {
	spawn "$1" openssl s_server -accept 127.0.0.1:0 -naccept 1 -tls1_3 \
	    -cert "$C/postgres.crt" -cert_chain "$C/postgres.crt" \
	    -key "$C/postgres.key" -CAfile "$C/ca.crt" -CRL "$C/crl.pem" \
	    -crl_check -Verify 1 -verify_return_error -rev
	wait_for "s_server to listen" 10 grep -q '^ACCEPT' "$T/$1.log"
	PORT=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$T/$1.log")
	[ -n "$PORT" ] || fail "no port in $T/$1.log"
}

# client CERT KEY: send one line, print the reply.
client() {
	local args=()
	if [ -n "$1" ]; then
		args=(-cert "$1" -cert_chain "$1" -key "$2")
	fi
	printf 'hello over mtls\nCLOSE\n' | timeout 20 openssl s_client \
	    -connect "127.0.0.1:$PORT" -tls1_3 "${args[@]}" \
	    -CAfile "$C/ca.crt" -CRL "$C/crl.pem" -crl_check \
	    -verify_return_error -verify_hostname postgres -ign_eof -quiet
}

start_server srv1
client "$C/backend.crt" "$C/backend.key" >"$T/reply.txt" 2>"$T/client1.err" ||
    { cat "$T/client1.err"; fail "mTLS client failed"; }
assert_grep 'sltm revo olleh' "$T/reply.txt" "no echo over mTLS"
wait_exit "$LAST_PID" 10
assert_grep 'CN ?= ?backend' "$T/srv1.log" "server did not see the client cert"
assert_grep 'TLSv1.3' "$T/srv1.log" "not TLS 1.3"

# No client certificate: the server refuses the handshake.
start_server srv2
if client "" "" >"$T/reply2.txt" 2>"$T/client2.err" &&
    grep -q 'olleh' "$T/reply2.txt"; then
	fail "server accepted a client without a certificate"
fi
wait_exit "$LAST_PID" 10
assert_grep 'peer did not return a certificate|no certificate' "$T/srv2.log"

# A client certificate from another CA: refused.
COTAI_CA_DIR=$T/other "$CA" init --trust-domain cotai.test \
    --passphrase-file <(echo other) >/dev/null
COTAI_CA_DIR=$T/other "$CA" issue backend --out "$T/other-certs" >/dev/null
start_server srv3
if client "$T/other-certs/backend.crt" "$T/other-certs/backend.key" \
    >"$T/reply3.txt" 2>"$T/client3.err" && grep -q 'olleh' "$T/reply3.txt"; then
	fail "server accepted a client certificate from another CA"
fi
wait_exit "$LAST_PID" 10
assert_grep 'verify error|unable to get local issuer|certificate verify failed' \
    "$T/srv3.log"
echo "11-ca-mtls: ok"
