#!/usr/bin/env bash
# Trust domain scoping. Two cotai-ca CAs, a.test and b.test, both in the
# trust bundle, each issuing a workload called "backend". A bare pattern
# (allow: backend) matches only in the home trust domain (the domain of the
# sidecar's own SPIFFE ID, or identity.trust_domain); a route widens it
# only explicitly (trust_domains: [...], or a spiffe:// pattern). The same
# holds for expect on an originate route. Config errors name file:line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

pass() { echo test-passphrase-please-ignore; }
for td in a b; do
	COTAI_CA_DIR=$T/pki-$td "$CA" init --trust-domain "$td.test" \
	    --passphrase-file <(pass) >/dev/null || fail "init $td.test"
	for n in backend pg; do
		COTAI_CA_DIR=$T/pki-$td "$CA" issue "$n" --out "$T/$td" \
		    >/dev/null || fail "issue $n in $td.test"
	done
done
cat "$T/a/ca.crt" "$T/b/ca.crt" >"$T/bundle.pem"

# The target writes 64 bytes and closes, so a client let through gets them
# and is closed at once.
relay_peer source -n 64

# route NAME EXTRA...: one terminate route to the peer, as pg of a.test.
route() {
	local name=$1
	shift
	printf '  - name: %s\n    mode: terminate\n    listen: 127.0.0.1:0\n' \
	    "$name"
	printf '    target: 127.0.0.1:%s\n' "$PEER_PORT"
	printf '    %s\n' "$@"
}
head_yaml() {
	cat <<YAML
$(relay_user_line)
log: { level: info }
admin: { enabled: false }
workers: 1
drain_timeout: 2s
$VG_YAML
identity:
  ca: $T/bundle.pem
  cert: $T/a/pg.crt
  key: $T/a/pg.key
routes:
YAML
}
{
	head_yaml
	route home "allow: [backend]"
	route wide "allow: [backend]" "trust_domains: [a.test, b.test]"
	route any "allow: [backend]" 'trust_domains: "*"'
	route full 'allow: ["spiffe://b.test/backend"]'
	route other "allow: [backend]" "identity: { trust_domain: b.test }"
} >"$T/term.yaml"

"$PROXY" --check -c "$T/term.yaml" >"$T/check.out" 2>&1 ||
    { cat "$T/check.out"; fail "--check refused the file"; }
assert_grep 'trust_domains \(bare patterns; home\): a.test$' "$T/check.out"
assert_grep 'trust_domains \(bare patterns; route key\): a.test, b.test$' \
    "$T/check.out"
assert_grep 'trust_domains \(bare patterns; home\): b.test$' "$T/check.out"
assert_grep 'trust_domains \(bare patterns; route key\): \*$' "$T/check.out"

spawn term "$PROXY" -c "$T/term.yaml" --ports-file "$T/term.ports"
wait_file "$T/term.ports" $((30 * TMO))
closes=0

# try ROUTE TD WANT: backend of TD.test through ROUTE; WANT ok or a reason.
try() {
	local route=$1 td=$2 want=$3 port line got
	port=$(port_of "$T/term.ports" "$route")
	echo "== $route: backend of $td.test -> $want"
	timeout $((10 * TMO)) openssl s_client \
	    -connect "127.0.0.1:$port" -CAfile "$T/bundle.pem" -quiet \
	    -cert "$T/$td/backend.crt" -cert_chain "$T/$td/backend.crt" \
	    -key "$T/$td/backend.key" </dev/null >"$T/out-$route-$td" \
	    2>"$T/err-$route-$td" || true
	got=$(wc -c <"$T/out-$route-$td")
	closes=$((closes + 1))
	wait_audit term "$closes"
	line=$(audit term | tail -n 1)
	echo "$line" | grep -q "route=$route " || fail "audit of $route: $line"
	echo "$line" | grep -q "spiffe=spiffe://$td.test/backend" ||
	    fail "$route: not the peer of $td.test: $line"
	if [ "$want" = ok ]; then
		[ "$got" = 64 ] ||
		    fail "$route: backend of $td.test got $got bytes: $line"
	else
		echo "$line" | grep -q "reason=$want " ||
		    fail "$route: expected reason=$want, got: $line"
		echo "$line" | grep -q 'bytes_up=0 bytes_down=0' ||
		    fail "$route: bytes relayed: $line"
		[ "$got" = 0 ] ||
		    fail "$route: backend of $td.test got $got bytes"
	fi
}
try home a ok
try home b identity_not_allowed
try wide a ok
try wide b ok
try any a ok
try any b ok
try full b ok
try full a identity_not_allowed
try other b ok
try other a identity_not_allowed

echo "== originate: expect pg is scoped as well"
# A server in b.test named pg; our side is backend of a.test.
spawn srv openssl s_server -accept 127.0.0.1:0 -tls1_3 \
    -cert "$T/b/pg.crt" -cert_chain "$T/b/pg.crt" -key "$T/b/pg.key" \
    -CAfile "$T/bundle.pem" -Verify 1 -rev
wait_for "s_server to listen" 10 grep -q '^ACCEPT' "$T/srv.log"
sp=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$T/srv.log")
cat >"$T/orig.yaml" <<YAML
$(relay_user_line)
log: { level: info }
admin: { enabled: false }
workers: 1
identity:
  ca: $T/bundle.pem
  cert: $T/a/backend.crt
  key: $T/a/backend.key
routes:
  - name: orig
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$sp
    expect: pg
  - name: orig-b
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$sp
    expect: pg
    trust_domains: b.test
YAML
spawn orig "$PROXY" -c "$T/orig.yaml" --ports-file "$T/orig.ports"
wait_file "$T/orig.ports" $((30 * TMO))
timeout $((30 * TMO)) "$TOOLS/client" -p "$(port_of "$T/orig.ports" orig)" \
    -m refused | tee "$T/refused.out"
assert_grep 'failures=0' "$T/refused.out"
wait_audit orig 1
audit orig | tail -n 1 | grep -q 'route=orig .*spiffe=spiffe://b.test/pg .*reason=identity_not_expected ' ||
    fail "originate: expected identity_not_expected: $(audit orig | tail -n 1)"
# s_server -rev answers each line reversed.
exec 3<>"/dev/tcp/127.0.0.1/$(port_of "$T/orig.ports" orig-b)"
printf 'olleh\n' >&3
reply=""
read -r -t $((10 * TMO)) reply <&3 || true
exec 3<&-
[ "$reply" = hello ] ||
    fail "orig-b (trust_domains: b.test) got no reply: $(audit orig | tail -n 1)"
wait_audit orig 2
audit orig | grep 'route=orig-b ' | grep -q 'bytes_up=6 bytes_down=6 .*reason=eof' ||
    fail "orig-b: $(audit orig | grep 'route=orig-b ')"

echo "== config errors name file:line"
# bad_config NAME REGEX: $T/NAME.yaml must be refused with REGEX.
bad_config() {
	if "$PROXY" --check -c "$T/$1.yaml" >"$T/$1.out" 2>&1; then
		fail "$1: --check accepted it"
	fi
	assert_grep "$2" "$T/$1.out" "$1: no /$2/ in: $(cat "$T/$1.out")"
}
{ head_yaml; route r "allow: backend" "trust_domains: [Bad.Domain]"; } \
    >"$T/c1.yaml"
bad_config c1 "c1.yaml:1[0-9]:[0-9]+: routes\[0\]\.trust_domains\[0\]: bad trust domain \"Bad.Domain\""
{ head_yaml; route r "allow: backend" 'trust_domains: ["*", a.test]'; } \
    >"$T/c2.yaml"
bad_config c2 'c2.yaml:1[0-9]:[0-9]+: routes\[0\]\.trust_domains: "\*" \(any trust domain\) must be the only entry'
{ head_yaml; route r "allow: backend" "trust_domains: [a.test, a.test]"; } \
    >"$T/c3.yaml"
bad_config c3 'listed twice'
sed 's|^  key: .*|&\n  trust_domain: "a.test:443"|' "$T/term.yaml" >"$T/c4.yaml"
bad_config c4 'c4.yaml:[0-9]+:[0-9]+: identity.trust_domain: bad trust domain "a.test:443"'
# An own certificate without a SPIFFE ID: a bare pattern has no home.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=legacy -days 1 -keyout "$T/legacy.key" -out "$T/legacy.crt" \
    2>/dev/null
chmod 600 "$T/legacy.key"
sed -e "s|$T/a/pg.crt|$T/legacy.crt|" -e "s|$T/a/pg.key|$T/legacy.key|" \
    "$T/term.yaml" | awk '/- name: wide/ { exit } { print }' >"$T/c5.yaml"
bad_config c5 'c5.yaml:1[0-9]:[0-9]+: routes\[0\]\.allow: bare pattern "backend" matches only in the home trust domain, and there is none'
# ... fine with identity.trust_domain, or with spiffe:// patterns only.
sed 's|^  key: .*|&\n  trust_domain: a.test|' "$T/c5.yaml" >"$T/c6.yaml"
"$PROXY" --check -c "$T/c6.yaml" >"$T/c6.out" 2>&1 ||
    { cat "$T/c6.out"; fail "c6: refused with identity.trust_domain"; }
sed 's|allow: \[backend\]|allow: ["spiffe://a.test/backend"]|' "$T/c5.yaml" \
    >"$T/c7.yaml"
"$PROXY" --check -c "$T/c7.yaml" >"$T/c7.out" 2>&1 ||
    { cat "$T/c7.out"; fail "c7: refused spiffe:// patterns"; }
assert_grep 'trust_domains: none \(spiffe:// patterns only\)' "$T/c7.out"
echo ok
