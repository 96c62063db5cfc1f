#!/usr/bin/env bash
# Intermediate rollover while the mesh runs: two sidecars renewing from a
# real `cotai-ca serve` (40 s certificates; web renews at a quarter, api at
# three quarters of the lifetime) relay continuously while
#   1. `cotai-ca rollover` makes a new intermediate: the server notices it,
#      publishes old and new in cacerts and both CRLs in /crl.pem, and the
#      sidecars' bundle.pem and crl.pem carry both;
#   2. after rollover_delay the server issues under the new one: web moves
#      first (a mixed mesh: each side verifies a peer of the other
#      intermediate, CRL checks included), then api;
#   3. a certificate of the previous intermediate revoked during the overlap
#      is in the CRL the sidecars fetched (the old CRL is still signed);
#   4. `rollover --finish` is refused while a certificate of the previous
#      intermediate is valid, then succeeds: it leaves cacerts, the
#      sidecars' bundle.pem and crl.pem, and renewals go on (`renew --all`
#      from the CLI leaves the sidecars' certificates to them).
# Every new connection keeps working throughout, and a held connection
# through each phase (a live connection lasts at most its certificates'
# lifetime: the mesh closes it when the peer's certificate expires).
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

pki_init
# The server's own certificate is a leaf of the intermediate too: short, so
# that it expires with the sidecars' old ones (renewed after the rollover).
"$CA" issue est-server --dns localhost --ttl 45s --out "$T/srv" >/dev/null
chmod 711 "$T"
mkdir -p "$T/run"
cp "$T/srv/ca.crt" "$T/run/est-ca.crt"
if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$T/run"; fi
A=$T/est-audit.log

rm -f "$T/est.port"
spawn est "$CA" serve --tls-cert "$T/srv/est-server.crt" \
    --tls-key "$T/srv/est-server.key" --listen "127.0.0.1:0" \
    --port-file "$T/est.port" --ttl 40s --rate 100 --rollover-delay 4s \
    --audit "$A"
est_pid=$LAST_PID
wait_file "$T/est.port"
EST_PORT=$(cut -d: -f2 "$T/est.port")
URL=https://localhost:$EST_PORT

# side NAME MODE TARGET_PORT PATTERNS AT: a sidecar renewing at AT.
side() {
	local name=$1 mode=$2 tport=$3 patterns=$4 at=$5
	cat >"$T/run/$name.yaml" <<YAML
$(relay_user_line)
log: { level: info }
admin: { listen: "127.0.0.1:0" }
reload: { debounce: 100ms }
workers: 2
drain_timeout: 2s
identity:
  renew:
    url: $URL
    ca: $T/run/est-ca.crt
    state_dir: $T/state-$name
    token_file: $T/$name.token
    at: "$at"
    crl_interval: 1s
routes:
  - name: $name
    mode: $mode
    listen: 127.0.0.1:0
    target: 127.0.0.1:$tport
    $patterns
YAML
	rm -f "$T/run/$name.ports"
	spawn "$name" "$PROXY" -c "$T/run/$name.yaml" \
	    --ports-file "$T/run/$name.ports"
	wait_file "$T/run/$name.ports" 30
	PORT=$(port_of "$T/run/$name.ports" "$name")
}

# keyid FILE EXT: the hex key identifier of FILE's first certificate.
keyid() {
	openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null | sed -n 2p |
	    sed 's/keyid://; s/[ :]//g'
}
issuer_of() { keyid "$T/state-$1/cert.pem" authorityKeyIdentifier; }
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }
cacerts() {
	curl -sS --cacert "$T/run/est-ca.crt" "$URL/.well-known/est/cacerts" |
	    base64 -d | openssl pkcs7 -inform DER -print_certs |
	    grep -c 'BEGIN CERTIFICATE'
}

"$CA" token web --ttl 10m >"$T/web.token" 2>/dev/null
"$CA" token api --ttl 10m >"$T/api.token" 2>/dev/null
relay_peer echo
side web terminate "$PEER_PORT" "allow: [api]" "1/4"
tp=$PORT
side api originate "$tp" "expect: [web]" "3/4"
op=$PORT
OLD=$(keyid "$COTAI_CA_DIR/intermediate.crt" subjectKeyIdentifier)
[ -n "$OLD" ] && [ "$(issuer_of web)" = "$OLD" ] &&
    [ "$(issuer_of api)" = "$OLD" ] || fail "enrolled under $OLD?"
[ "$(cacerts)" = 2 ] || fail "cacerts before the rollover: $(cacerts)"
# A certificate of the old intermediate from the CLI, revoked later.
"$CA" issue legacy --ttl 30s --out "$T/legacy" >/dev/null
cp "$COTAI_CA_DIR/intermediate.crt" "$T/old.crt"

exec 3<>"/dev/tcp/127.0.0.1/$op"
say 3 first
conns=0
# traffic_until DESC LIMIT CMD...: new connections (and a line on the held
# one) every 0.1 s until CMD succeeds; any failure fails the test.
traffic_until() {
	local desc=$1 end=$((SECONDS + $2 * TMO))
	shift 2
	until "$@"; do
		[ $SECONDS -le $end ] || fail "not in time: $desc"
		timeout 10 "$TOOLS/client" -p "$op" -n 1000 >"$T/c.out" 2>&1 ||
		    { cat "$T/c.out"; fail "connection $conns failed ($desc)"; }
		conns=$((conns + 1))
		say 3 "held-$conns"
		sleep 0.1
	done
}

echo "== rollover: both intermediates published, both CRLs fetched"
"$CA" rollover --passphrase-file <(echo test-passphrase-please-ignore) \
    >"$T/rollover.log" 2>&1 || { cat "$T/rollover.log"; fail rollover; }
NEW=$(keyid "$COTAI_CA_DIR/intermediate.crt" subjectKeyIdentifier)
[ "$NEW" != "$OLD" ] || fail "the intermediate did not change"
[ "$(keyid "$COTAI_CA_DIR/intermediate-old.crt" subjectKeyIdentifier)" = "$OLD" ] ||
    fail "intermediate-old.crt is not the previous one"
[ "$(count 'BEGIN X509 CRL' "$COTAI_CA_DIR/crl.pem")" = 3 ] ||
    fail "crl.pem: new, old and root CRLs expected"
openssl x509 -in "$COTAI_CA_DIR/intermediate.crt" -noout -text |
    grep -A3 'Name Constraints: critical' | grep -q 'URI:cotai.test' ||
    fail "the new intermediate lost its name constraints"
[ "$(cacerts)" = 3 ] || fail "cacerts during the overlap: $(cacerts)"
assert_grep 'issuing intermediate .*previous one still published' "$T/est.log"
# The server's own certificate moves too (renew, then SIGHUP).
"$CA" renew est-server --ttl 1h >/dev/null 2>&1 || fail "renew est-server"
kill -HUP "$est_pid"
wait_for "the server's new certificate" 10 \
    grep -q 'SIGHUP: reloaded' "$T/est.log"
both() {
	[ "$(count 'BEGIN CERTIFICATE' "$T/state-$1/bundle.pem")" = 3 ] &&
	    [ "$(count 'BEGIN X509 CRL' "$T/state-$1/crl.pem")" = 2 ]
}
both_all() { both web && both api; }
traffic_until "both bundles and CRLs on the sidecars" 15 both_all

echo "== the revocation of an old-intermediate certificate reaches the sidecars"
"$CA" revoke legacy >/dev/null 2>&1 || fail "revoke legacy"
revoked() {
	local out
	out=$(openssl verify -CAfile "$COTAI_CA_DIR/ca.crt" -untrusted "$T/old.crt" \
	    -crl_check -CRLfile "$T/state-$1/crl.pem" "$T/legacy/legacy.crt" 2>&1)
	case $out in *"certificate revoked"*) return 0 ;; esac
	return 1
}
traffic_until "the old CRL listing legacy on web" 10 revoked web
traffic_until "the old CRL listing legacy on api" 10 revoked api

echo "== web renews under the new intermediate first: a mixed mesh"
under_new() { [ "$(issuer_of "$1")" = "$NEW" ]; }
traffic_until "web under the new intermediate" 30 under_new web
[ "$(issuer_of api)" = "$OLD" ] || fail "api left the old intermediate too early: no mixed phase"
mixed0=$conns
mixed_enough() { [ $((conns - mixed0)) -ge 10 ]; }
traffic_until "a few connections in the mixed mesh" 10 mixed_enough
echo "mixed mesh (web new, api old): $((conns - mixed0)) connections"
grep -q '"event": "issued".*"name": "web"' "$A" || fail "no issuance to web in the audit"

echo "== api follows"
traffic_until "api under the new intermediate" 40 under_new api

# The held connection's tunnel was set up with the first certificates,
# which expire soon: the mesh then closes it (expired_after_reload, by
# design). A new held connection, under the new intermediate, from here.
say 3 "last-of-the-first"
exec 3>&-
exec 3<>"/dev/tcp/127.0.0.1/$op"
say 3 second

echo "== rollover --finish: refused while an old certificate is valid"
if "$CA" rollover --finish >"$T/finish.log" 2>&1; then
	fail "finish accepted while the superseded old certificates are valid"
fi
assert_grep 'still valid' "$T/finish.log"
finished() { "$CA" rollover --finish >"$T/finish.log" 2>&1; }
traffic_until "rollover --finish accepted (old certificates expired)" 60 finished
[ ! -e "$COTAI_CA_DIR/intermediate-old.crt" ] && [ ! -e "$COTAI_CA_DIR/intermediate-old.key" ] ||
    fail "the previous intermediate is still in the state directory"
[ "$(count 'BEGIN X509 CRL' "$COTAI_CA_DIR/crl.pem")" = 2 ] || fail "crl.pem after finish"
one() {
	[ "$(count 'BEGIN CERTIFICATE' "$T/state-$1/bundle.pem")" = 2 ] &&
	    [ "$(count 'BEGIN X509 CRL' "$T/state-$1/crl.pem")" = 1 ]
}
one_all() { one web && one api; }
traffic_until "the old intermediate out of the sidecars' bundle and CRL" 15 one_all
[ "$(cacerts)" = 2 ] || fail "cacerts after finish: $(cacerts)"

echo "== renew --all from the CLI leaves the sidecars' certificates to them"
"$CA" renew --all >"$T/renew-all.out" 2>&1 || { cat "$T/renew-all.out"; fail "renew --all"; }
for n in web api; do
	grep -q "renew: $n (.*left to its holder" "$T/renew-all.out" ||
	    { cat "$T/renew-all.out"; fail "renew --all renewed $n"; }
	[ ! -e "$COTAI_CA_DIR/issued/$n/$n.key" ] || fail "renew --all wrote a key for $n"
done
grep -q '^renewed est-server' "$T/renew-all.out" || fail "renew --all skipped est-server"

echo "== renewals go on under the new intermediate"
w=$(count 'renew: renewed' "$T/web.log")
web_renewed() { [ "$(count 'renew: renewed' "$T/web.log")" -gt "$w" ]; }
traffic_until "one more renewal of web" 20 web_renewed
[ "$(issuer_of web)" = "$NEW" ] || fail "web renewed under another intermediate"
say 3 last
exec 3>&-
echo "$conns new connections, all relayed; the held one too"
echo "ok"
