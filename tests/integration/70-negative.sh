#!/usr/bin/env bash
# The security negative matrix, in one place: every way in that must fail
# against a terminate sidecar (and, where it applies, the originate side),
# each asserting the refusal, the reason= the proxy logged and that nothing
# reached the upstream (a sink peer: bytes_up=0 in the audit line). After
# every raw-bytes case a valid client must still get through. Prints one
# line per case:  case | expected | reason logged | result
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

relay_pki
relay_bad_certs

# A serverAuth-only leaf for "backend", signed by our own intermediate
# (cotai-ca always issues serverAuth+clientAuth, so openssl makes this one).
san=$(openssl x509 -in "$T/certs/backend.crt" -noout -ext subjectAltName |
    grep -o 'URI:[^ ,]*' | head -n 1)
[ -n "$san" ] || fail "no URI SAN in backend.crt"
cat >"$T/srvonly.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
EXT
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/certs/srvonly.key" -subj "/CN=backend" \
    -out "$T/srvonly.csr" 2>/dev/null || fail "srvonly csr"
openssl x509 -req -in "$T/srvonly.csr" -CA "$COTAI_CA_DIR/intermediate.crt" \
    -CAkey "$COTAI_CA_DIR/intermediate.key" -CAcreateserial -days 1 \
    -extfile "$T/srvonly.ext" -out "$T/srvonly.leaf" 2>/dev/null ||
    fail "srvonly sign"
cat "$T/srvonly.leaf" "$COTAI_CA_DIR/intermediate.crt" >"$T/certs/srvonly.crt"

# s_client -cert sends only the leaf; give it the intermediate as well.
chain() { awk '/BEGIN CERT/ { n++ } n >= 2' "$1" >"$1.chain"; }
for c in "$T"/certs/*.crt "$T"/certs2/backend.crt; do chain "$c"; done
cert() { # cert DIR/NAME: the s_client arguments for that identity
	echo "-cert $1.crt -cert_chain $1.crt.chain -key $1.key"
}

relay_peer sink
sink=$PEER_PORT
relay_peer echo
plain=$PEER_PORT
# Route term (TLS 1.3 only, the default) and term12 (tls_min_version 1.2,
# for the renegotiation case), both to the sink.
relay_terminate term "$sink" "  - name: term12
    mode: terminate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$sink
    allow: [backend]
    tls_min_version: \"1.2\""
tp=$PORT
tp12=$(port_of "$T/term.ports" term12)
[ -n "$tp12" ] || fail "no port for term12"
# A good path for the "still serving" checks: originate -> term -> sink.
relay_originate orig "$tp"
op=$PORT

ncase=0 nclose=0 norig=0
: >"$T/matrix"
row() { # row CASE EXPECTED LOGGED RESULT
	printf '%-24s | %-24s | %-24s | %s\n' "$1" "$2" "$3" "$4" | tee -a "$T/matrix"
}

# check NAME EXPECTED PROXY [DETAIL]: the next close line of PROXY (term or
# an originate proxy) must carry reason=EXPECTED (and DETAIL, an extended
# regex, in its detail=) and have relayed nothing upstream (bytes_up=0).
check() {
	local name=$1 want=$2 p=$3 pat=${4:-} n line got detail
	if [ "$p" = term ]; then nclose=$((nclose + 1)); n=$nclose; else n=1; fi
	wait_audit "$p" "$n"
	line=$(audit "$p" | sed -n "${n}p")
	got=$(echo "$line" | sed -n 's/.* reason=\([^ ]*\).*/\1/p')
	detail=$(echo "$line" | sed -n 's/.* detail=//p' | tr -d '"')
	ncase=$((ncase + 1))
	if [ "$got" != "$want" ]; then
		row "$name" "$want" "${got:-?}" "FAIL ($detail)"
		fail "$name: expected reason=$want, got: $line"
	fi
	if ! echo "$line" | grep -q ' bytes_up=0 '; then
		row "$name" "$want" "$got" "FAIL: relayed"
		fail "$name: bytes were relayed upstream: $line"
	fi
	if [ -n "$pat" ] && ! echo "$detail" | grep -Eq -- "$pat"; then
		row "$name" "$want" "$got" "FAIL ($detail)"
		fail "$name: detail is not /$pat/: $line"
	fi
	row "$name" "$want" "$got" "refused, 0 bytes up ($detail)"
}

# good: a valid client through originate -> term still gets its bytes to
# the sink and the right checksum back.
good() {
	timeout $((30 * TMO)) "$TOOLS/client" -p "$op" -m sink -n 10000 \
	    >"$T/good.out" 2>&1 || { cat "$T/good.out"; fail "valid client after $1"; }
	nclose=$((nclose + 1)); norig=$((norig + 1))
	wait_audit term "$nclose"
	wait_audit orig "$norig"
}

# sclient NAME PORT [s_client args...]: a handshake that must fail.
sclient() {
	local name=$1 port=$2
	shift 2
	echo hello | timeout $((10 * TMO)) openssl s_client -connect "127.0.0.1:$port" \
	    -CAfile "$T/certs/ca.crt" -quiet "$@" >"$T/$name.out" 2>&1 || true
	! grep -q '^[0-9]* [0-9a-f]\{64\}$' "$T/$name.out" ||
	    fail "$name: the sink answered"
}

# raw NAME HEX...: bytes straight to the terminate port.
raw() {
	local name=$1
	shift
	timeout $((20 * TMO)) "$TOOLS/rawpeer" -t $((10 * TMO)) "$tp" "$@" \
	    >"$T/$name.out" 2>&1 || fail "$name: rawpeer could not connect"
}

row case expected "reason logged" result
good start
C="$T/certs"
sclient nocert "$tp"; check "no client cert" no_client_certificate term
sclient otherca "$tp" $(cert "$T/certs2/backend")
check "other CA" unknown_ca term
sclient expired "$tp" $(cert "$C/expired"); check "expired" cert_expired term
sclient notyet "$tp" $(cert "$C/notyet"); check "not yet valid" cert_not_yet_valid term
sclient revoked "$tp" $(cert "$C/revoked"); check "revoked" cert_revoked term
sclient mallory "$tp" $(cert "$C/mallory")
check "identity not in allow" identity_not_allowed term
sclient srvonly "$tp" $(cert "$C/srvonly")
check "serverAuth-only EKU" bad_certificate term "unsuitable certificate purpose"
sclient tls12 "$tp" -tls1_2 $(cert "$C/backend")
check "TLS 1.2 downgrade" tls_version term

# Renegotiation: a TLS 1.2 route, a valid client, "R" on s_client's stdin
# asks for a new handshake (no -quiet: it turns commands off). Nothing is
# sent before R; the text after it must never reach the sink.
{ sleep $((1 * TMO)); echo R; sleep $((1 * TMO)); echo after-renegotiation; sleep $((2 * TMO)); } |
    timeout $((15 * TMO)) openssl s_client -connect "127.0.0.1:$tp12" -tls1_2 \
    -CAfile "$C/ca.crt" $(cert "$C/backend") >"$T/reneg.out" 2>&1 || true
grep -q 'RENEGOTIATING' "$T/reneg.out" || fail "renegotiation: s_client did not try"
grep -q "no renegotiation" "$T/reneg.out" || fail "renegotiation: not refused with no_renegotiation"
check "renegotiation (TLS 1.2)" tls_error term "handshake failure"
audit term | tail -n 1 | grep -q 'peer=backend .*tls_version=TLSv1.2' ||
    fail "renegotiation: the first handshake should have been accepted"
good renegotiation

# Raw records. A ClientHello record header, then a handshake header.
raw oversized 16030148 01 01000000
check "record length 0x4801" tls_error term "length too long"
good oversized
raw garbage 1603010040 0100003c 0303 $(printf '%064d' 0) ff 00 ffffffffffffffffffffffffffffffffffffffffffffffffffffffff
check "garbage in ClientHello" tls_error term
good garbage
raw nontls ff00ff00ff00ff00
check "non-TLS first byte" tls_error term "wrong version number"
good nontls
raw http "$(printf 'GET / HTTP/1.0\r\n\r\n' | od -An -tx1 | tr -d ' \n')"
check "plaintext HTTP" tls_error term "http request"
good http
raw redis "$(printf '*1\r\n$4\r\nPING\r\n' | od -An -tx1 | tr -d ' \n')"
check "plaintext redis PING" tls_error term
good redis

# The originate side: a server whose identity is not in expect, and a
# plaintext server where a TLS one should be. The application's bytes
# never leave the proxy (bytes_up=0).
relay_config orig_expect originate backend "$tp" "expect: [redis]" "" ""
relay_start orig_expect
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m refused >"$T/oe.out" 2>&1 ||
    { cat "$T/oe.out"; fail "orig_expect: the client was not refused"; }
check "server not in expect" identity_not_expected orig_expect "pg"
relay_config orig_plain originate backend "$plain" "expect: pg" "" ""
relay_start orig_plain
timeout $((30 * TMO)) "$TOOLS/client" -p "$PORT" -m refused >"$T/op.out" 2>&1 ||
    { cat "$T/op.out"; fail "orig_plain: the client was not refused"; }
check "plaintext server" tls_error orig_plain
good end

echo "negative matrix: $ncase cases, all refused with the expected reason"
[ "$(grep -c 'refused, 0 bytes up' "$T/matrix")" -eq "$ncase" ] || fail "matrix"
echo ok
