#!/usr/bin/env bash
# identity.renew: sidecars that enroll with a real `cotai-ca serve` from a
# one-time token (empty state), renew short-lived certificates (40 s, at a quarter) at
# least twice while a connection relays data and new connections keep
# succeeding, keep the key in state_dir (0600, nowhere on the CA side),
# restart from their state without a token, survive the CA server being
# down (failures counted, backoff, the current certificate keeps working)
# and pick up a revocation within crl_interval (2 s), closing the revoked
# peer's live connection; each renewal and CRL fetch reloads once (the
# files it wrote itself do not trigger the watch again).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

pki_init
"$CA" issue est-server --dns localhost --out "$T/srv" >/dev/null
# As root the sidecars run as nobody: their state directories (which they
# create and give to nobody) must be reachable, the CA server's trust anchor
# readable.
chmod 711 "$T"
mkdir -p "$T/run"
cp "$T/srv/ca.crt" "$T/run/est-ca.crt"
if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$T/run"; fi
A=$T/est-audit.log

# est [PORT]: start the CA server (certificates of 40 s); sets EST_PORT.
est() {
	rm -f "$T/est.port"
	spawn est "$CA" serve --tls-cert "$T/srv/est-server.crt" \
	    --tls-key "$T/srv/est-server.key" --listen "127.0.0.1:${1:-0}" \
	    --port-file "$T/est.port" --ttl 40s --rate 100 --audit "$A"
	est_pid=$LAST_PID
	wait_file "$T/est.port"
	EST_PORT=$(cut -d: -f2 "$T/est.port")
}

# side NAME MODE TARGET_PORT PATTERNS [LISTEN_PORT]: a sidecar whose identity NAME comes
# from the CA server; token in $T/NAME.token, state in $T/state-NAME.
side() {
	local name=$1 mode=$2 tport=$3 patterns=$4 lport=${5:-0}
	cat >"$T/run/$name.yaml" <<YAML
$(relay_user_line)
log: { level: info }
admin: { listen: "127.0.0.1:0" }
reload: { debounce: 200ms }
workers: 2
drain_timeout: 2s
identity:
  renew:
    url: https://localhost:$EST_PORT
    ca: $T/run/est-ca.crt
    state_dir: $T/state-$name
    token_file: $T/$name.token
    at: "1/4"
    crl_interval: 2s
routes:
  - name: $name
    mode: $mode
    listen: 127.0.0.1:$lport
    target: 127.0.0.1:$tport
    $patterns
YAML
	rm -f "$T/run/$name.ports"
	spawn "$name" "$PROXY" -c "$T/run/$name.yaml" \
	    --ports-file "$T/run/$name.ports"
	PROXY_PID=$LAST_PID
	wait_file "$T/run/$name.ports" 30
	PORT=$(port_of "$T/run/$name.ports" "$name")
}

renewed() {
	grep -c 'renew: renewed' "$T/$1.log" || true
}

serial() {
	openssl x509 -in "$T/state-$1/cert.pem" -noout -serial | cut -d= -f2
}

est
"$CA" token web --ttl 10m >"$T/web.token" 2>/dev/null
"$CA" token api --ttl 10m >"$T/api.token" 2>/dev/null
relay_peer echo

echo "== bootstrap from a token, state empty"
side web terminate "$PEER_PORT" "allow: [api]"
term_pid=$PROXY_PID tp=$PORT
side api originate "$tp" "expect: [web]"
orig_pid=$PROXY_PID op=$PORT
for n in web api; do
	assert_grep 'renew: enrolling' "$T/$n.log"
	[ "$(file_mode "$T/state-$n/key.pem")" = 600 ] || fail "$n key mode"
	for f in cert.pem key.pem bundle.pem crl.pem; do
		[ -s "$T/state-$n/$f" ] || fail "$n: no $f"
	done
	grep -q "\"event\": \"issued\", \"op\": \"simpleenroll\".*\"name\": \"$n\"" "$A" ||
	    fail "no simpleenroll of $n in the CA's audit"
done

echo "== renewals while a connection relays and new ones succeed"
exec 3<>"/dev/tcp/127.0.0.1/$op"
say 3 first
web0=$(serial web) api0=$(serial api)
conns=0 i=0
until [ "$(renewed web)" -ge 2 ] && [ "$(renewed api)" -ge 2 ]; do
	i=$((i + 1))
	[ $i -le 400 ] || fail "no two renewals each in time: web $(renewed web), api $(renewed api)"
	timeout 10 "$TOOLS/client" -p "$op" -n 2000 >"$T/c.out" 2>&1 ||
	    { cat "$T/c.out"; fail "new connection $conns failed during renewals"; }
	conns=$((conns + 1))
	say 3 "held-$i"
	sleep 0.1
done
echo "renewals: web $(renewed web), api $(renewed api); $conns new connections, all relayed; the held one too"
[ "$(serial web)" != "$web0" ] && [ "$(serial api)" != "$api0" ] ||
    fail "serials did not change"
[ "$(file_mode "$T/state-api/key.pem")" = 600 ] || fail "key mode after renewal"
assert_grep 'event=cert_change .*route=api' "$T/api.log"
assert_grep 'event=renewal .*op=simplereenroll result=ok' "$T/api.log"
ok=$(metric api 'cotai_renewals_total{result="ok"}')
[ "${ok:-0}" -ge 3 ] || fail "cotai_renewals_total ok: $ok"
next=$(metric api cotai_renewal_next_seconds)
[ "${next:-0}" -ge "$(date +%s)" ] || fail "cotai_renewal_next_seconds $next is past"
grep -q '"op": "simplereenroll".*"name": "api"' "$A" || fail "no reenroll in the CA audit"
crl=$(metric web cotai_renewal_crl_checked_seconds)
[ "${crl:-0}" -ge $(($(date +%s) - 5)) ] || fail "CRL last checked at $crl"

echo "== the key never leaves the sidecar (nothing on the CA side holds it)"
for n in web api; do
	priv=$(openssl pkey -in "$T/state-$n/key.pem" -outform DER | tail -c 100 | head -c 32 | od -An -tx1 | tr -d ' \n')
	[ ${#priv} = 64 ] || fail "key bytes"
	if find "$COTAI_CA_DIR" "$T/srv" "$A" "$T/est.log" -type f -print0 |
	    xargs -0 cat | od -An -tx1 | tr -d ' \n' | grep -q "$priv"; then
		fail "$n's private key found on the CA side"
	fi
done

echo "== restart with state: the same certificate, no token"
s=$(serial web)
rm -f "$T/web.token"
kill -TERM "$term_pid"
wait_exit "$term_pid"
exec 3>&-
# The same port: the originate side's sandbox allows only that target.
side web terminate "$PEER_PORT" "allow: [api]" "$tp"
term_pid=$PROXY_PID
assert_no_grep 'renew: enrolling' "$T/web.log"
assert_grep "event=start .*cert_serial=$s" "$T/web.log" \
    "the restarted sidecar does not present the state's certificate $s"
timeout 10 "$TOOLS/client" -p "$op" -n 1000 >"$T/c.out" 2>&1 ||
    { cat "$T/c.out"; fail "relay after the restart"; }

echo "== the CA server down: renewals fail, counted, current cert works"
err0=$(metric api 'cotai_renewals_total{result="error"}')
kill -TERM "$est_pid"
wait_exit "$est_pid"
wait_for "a failed renewal" 30 sh -c "grep -q 'renewal failed' '$T/api.log'"
err1=$(metric api 'cotai_renewals_total{result="error"}')
[ "${err1:-0}" -gt "${err0:-0}" ] || fail "errors not counted: $err0 -> $err1"
assert_grep 'next attempt in [0-9]+s' "$T/api.log"
timeout 10 "$TOOLS/client" -p "$op" -n 1000 >"$T/c.out" 2>&1 ||
    { cat "$T/c.out"; fail "relay with the CA down"; }
ok0=$(metric api 'cotai_renewals_total{result="ok"}')
est "$EST_PORT"
for _ in $(seq 300); do
	v=$(metric api 'cotai_renewals_total{result="ok"}')
	[ "${v:-0}" -gt "$ok0" ] && break
	sleep 0.1
done
[ "${v:-0}" -gt "$ok0" ] || fail "no renewal after the CA came back ($ok0 -> $v)"

echo "== a revocation reaches the peer sidecar within crl_interval"
exec 4<>"/dev/tcp/127.0.0.1/$op"
say 4 before-revoke
"$CA" revoke api >"$T/revoke.log" 2>&1 || { cat "$T/revoke.log"; fail revoke; }
t0=$(date +%s)
wait_for "revoked_after_reload" 10 sh -c \
    "grep -q 'peer=api .*reason=revoked_after_reload' '$T/web.log'"
echo "revocation applied in $(($(date +%s) - t0))s"
if read -r -t 5 line <&4 2>/dev/null; then fail "revoked connection still open"; fi
exec 4>&-
timeout 10 "$TOOLS/client" -p "$op" -m refused >"$T/r.out" 2>&1 ||
    { cat "$T/r.out"; fail "revoked client not refused"; }

echo "== one reload per renewal or CRL fetch (reload.watch is on)"
# The files a sidecar writes itself right before its reload must not
# trigger a second one through the watch; nothing else changed them here.
for n in api web; do
	assert_grep 'event=reload .*trigger=renewal result=ok' "$T/$n.log"
	assert_no_grep 'event=reload .*trigger="files changed"' "$T/$n.log"
done
echo "ok"
