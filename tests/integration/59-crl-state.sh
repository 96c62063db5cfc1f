#!/usr/bin/env bash
# A route's CRL state (issue 11): a CRL no CA of the route signed is a
# config error (--check, start-up and reload refuse it with file, line and
# reason; a refused reload keeps the old state); a CRL past its nextUpdate
# is a warning from --check and reload, makes /readyz answer 503 with the
# reason while it lasts, and cotai_crl_next_update_seconds{route} exports
# its nextUpdate. CRLs: cotai-ca's (fresh, and signed at a time 10 days
# back), and `openssl ca -gencrl` ones from a foreign CA and from a forged
# CA that bears the name of cotai's issuing CA.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

C=$T/certs
ops_pki
relay_peer echo
ops_config term terminate pg "$PEER_PORT" "allow: [backend]"
Y=$T/run/term.yaml
crl_line=$(grep -n '^  crl:' "$Y" | cut -d: -f1)

# next_update FILE: the first CRL's nextUpdate as Unix time.
next_update() {
	date -d "$(openssl crl -in "$1" -noout -nextupdate | cut -d= -f2)" +%s
}
# put_crl FILE: install FILE as the route's CRL (atomically, for the watch).
put_crl() {
	cp "$1" "$C/crl.pem.new"
	if [ "$(id -u)" -eq 0 ]; then chown nobody "$C/crl.pem.new"; fi
	mv "$C/crl.pem.new" "$C/crl.pem"
}
readyz() {
	http_get "$ta" /readyz >"$T/ready.out" || fail "readyz unreachable"
	assert_grep "^HTTP/1.0 $1" "$T/ready.out" "readyz: $(cat "$T/ready.out")"
	[ -z "${2:-}" ] || assert_grep "$2" "$T/ready.out"
}
crl_metric() {
	metric term 'cotai_crl_next_update_seconds{route="term"}'
}
# wait_metric VALUE: until the running proxy has loaded that CRL (the file
# watch may fold several writes into one reload: count no reloads).
wait_metric() {
	local i
	for i in $(seq $((200 * TMO))); do
		[ "$(crl_metric)" = "$1" ] && return 0
		sleep 0.05
	done
	fail "metric $(crl_metric), want $1"
}

# openssl_ca NAME SUBJECT: a throwaway CA made by `openssl req`, and a CRL
# it signs with `openssl ca -gencrl` in $T/NAME/crl.pem.
openssl_ca() {
	local d=$T/$1
	mkdir -p "$d"
	: >"$d/index.txt"
	echo 01 >"$d/crlnumber"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/ca.key" -out "$d/ca.crt" -days 30 -subj "$2" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null ||
	    fail "openssl req $1"
	cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = this
[this]
database = $d/index.txt
crlnumber = $d/crlnumber
certificate = $d/ca.crt
private_key = $d/ca.key
default_md = sha256
default_crl_days = 4
CNF
	openssl ca -config "$d/ca.cnf" -gencrl -out "$d/crl.pem" \
	    2>"$d/ca.log" || { cat "$d/ca.log"; fail "openssl ca $1"; }
}

echo "== a fresh CRL: --check is silent, ready, nextUpdate exported"
"$PROXY" --check -c "$Y" >"$T/check.out" 2>&1 || fail "--check: $(cat "$T/check.out")"
assert_no_grep 'nextUpdate|warn' "$T/check.out"
ops_start term
ta=$ADMIN term_pid=$PROXY_PID
readyz 200 '^ready'
fresh=$(next_update "$C/crl.pem")
[ "$(crl_metric)" = "$fresh" ] || fail "metric $(crl_metric), want $fresh"
http_get "$ta" /metrics >"$T/m.out"
assert_grep '^# TYPE cotai_crl_next_update_seconds gauge$' "$T/m.out"

echo "== an expired CRL (cotai-ca crl signed 10 days back)"
cp "$C/crl.pem" "$T/fresh-crl.pem"
COTAI_CA_NOW=$(($(date +%s) - 10 * 86400)) "$CA" crl >/dev/null 2>&1 ||
    fail "cotai-ca crl"
cp "$C/crl.pem" "$T/expired-crl.pem"
put_crl "$T/expired-crl.pem"
old=$(next_update "$T/expired-crl.pem")
[ "$old" -lt "$(date +%s)" ] || fail "the CRL is not expired"
expect_status 0 "term.yaml:$crl_line:[0-9]+: identity.crl: route term: the CRL of /CN=cotai.test issuing CA in $C/crl.pem is past its nextUpdate" \
    "$PROXY" --check -c "$Y"
wait_metric "$old"
assert_grep "level=warn .*term.yaml:$crl_line:[0-9]+: identity.crl: route term: .*past its nextUpdate" \
    "$T/term.log"
readyz 503 'route term: CRL past its nextUpdate [0-9]+s ago'
# /healthz is unaffected: the process is alive, only not ready.
http_get "$ta" /healthz | grep -q '^HTTP/1.0 200' || fail "healthz"

echo "== a fresh CRL again: ready again"
"$CA" crl >/dev/null 2>&1 || fail "cotai-ca crl"
cp "$C/crl.pem" "$T/fresh2-crl.pem"
put_crl "$T/fresh2-crl.pem"
fresh=$(next_update "$C/crl.pem")
wait_metric "$fresh"
readyz 200 '^ready'

echo "== a CRL from a foreign CA (openssl ca): refused everywhere"
openssl_ca foreign "/CN=foreign CA"
put_crl "$T/foreign/crl.pem"
why="term.yaml:$crl_line:[0-9]+: identity.crl: the CRL of /CN=foreign CA in $C/crl.pem is not signed by a CA of $C/ca.crt"
expect_status 1 "$why" "$PROXY" --check -c "$Y"
wait_for "reload failed" $((20 * TMO)) grep -q 'reload failed' "$T/term.log"
assert_grep "reload: .*$why" "$T/term.log"
# The old state is kept: the fresh CRL is still in force.
readyz 200 '^ready'
[ "$(crl_metric)" = "$fresh" ] || fail "metric after a refused reload"
kill -0 "$term_pid" || fail "the proxy died"
rc=0
timeout $((30 * TMO)) "$PROXY" -c "$Y" >"$T/start.log" 2>&1 || rc=$?
[ $rc = 1 ] || fail "start-up with a foreign CRL exited $rc"
assert_grep "$why" "$T/start.log"

echo "== a forged CRL under the issuing CA's name: refused"
openssl_ca forged "/CN=cotai.test issuing CA"
put_crl "$T/forged/crl.pem"
expect_status 1 "identity.crl: the CRL of /CN=cotai.test issuing CA in $C/crl.pem is not signed by a CA of" \
    "$PROXY" --check -c "$Y"
echo PASS
