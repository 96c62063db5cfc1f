#!/usr/bin/env bash
# The admin endpoint over mutual TLS (admin.tls, admin.allow):
#  - --check refuses a plaintext admin beyond loopback (file:line) unless
#    admin.plaintext_bind_any says so;
#  - an allowed client certificate (prometheus) reads /metrics, and the
#    answer ends with close_notify (a cotai originate route relaying a
#    scrape logs reason=eof, not tls_error); one of the
#    same CA that is not allowed (rogue), none at all, and plain HTTP get
#    nothing, and each refusal is logged (event=admin_refused, reason)
#    and counted in cotai_admin_refused_total;
#  - admin.health_listen answers /healthz and /readyz in plaintext on
#    loopback, never /metrics; `cotai-proxy health -c` uses it, and says
#    what to set when an mTLS admin has none;
#  - a reload swaps the admin context: after a renewal the endpoint shows
#    the new certificate, after a revocation (CRL) the client is refused
#    as cert_revoked; a reload that would turn admin.tls off is refused
#    and the endpoint stays mTLS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

ops_pki
issue prometheus
issue rogue
ops_own
relay_peer echo

ADMIN_TLS='admin:
  listen: "127.0.0.1:0"
  tls: true
  allow: [prometheus]
  health_listen: "127.0.0.1:0"
reload: { debounce: 200ms }'

echo "== --check: plaintext admin beyond loopback"
relay_yaml 'admin: { listen: "0.0.0.0:0" }' term terminate pg "$PEER_PORT" \
    "allow: [backend]" "" "" >"$T/wide.yaml"
expect_status 1 "wide\.yaml:[0-9]+:[0-9]+: admin\.listen: a plaintext admin endpoint must be loopback" \
    "$PROXY" --check -c "$T/wide.yaml"
relay_yaml 'admin: { listen: "0.0.0.0:0", plaintext_bind_any: true }' term \
    terminate pg "$PEER_PORT" "allow: [backend]" "" "" >"$T/wide-ok.yaml"
expect_status 0 "plaintext_bind_any" "$PROXY" --check -c "$T/wide-ok.yaml"

relay_yaml "$ADMIN_TLS" term terminate pg "$PEER_PORT" "allow: [backend]" \
    "" "" >"$T/run/term.yaml"
if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/run/term.yaml"; fi
expect_status 0 "admin tls: allow prometheus" "$PROXY" --check -c "$T/run/term.yaml"
ops_start term
HEALTH=$(awk '$1 == "admin-health" { print $2 }' "$T/run/term.ports")
[ -n "$HEALTH" ] || fail "no admin-health line in the ports file"
aport=${ADMIN##*:}

# scrape NAME [CURL-ARGS...]: GET /metrics over TLS as NAME ("-" = no
# certificate), verifying the server as pg; the body goes to $T/NAME.out.
scrape() {
	local who=$1 cert=()
	shift
	[ "$who" = - ] ||
	    cert=(--cert "$T/certs/$who.crt" --key "$T/certs/$who.key")
	curl -sS --max-time $((5 * TMO)) --cacert "$T/certs/ca.crt" \
	    "${cert[@]}" --resolve "pg:$aport:127.0.0.1" \
	    "https://pg:$aport/metrics" "$@" >"$T/$who.out" 2>"$T/$who.err"
}

echo "== an allowed client reads /metrics"
scrape prometheus || { cat "$T/prometheus.err"; fail "prometheus refused"; }
assert_grep '^cotai_handshakes_total\{route="term"\}' "$T/prometheus.out"
assert_grep '^cotai_cert_expiry_timestamp_seconds\{route="\(admin\)"\} [0-9]+$' \
    "$T/prometheus.out"
assert_grep '^cotai_admin_refused_total\{reason="identity_not_allowed"\} 0$' \
    "$T/prometheus.out"

echo "== the answer ends with close_notify (not a bare FIN, a truncation)"
printf 'GET /healthz HTTP/1.0\r\nHost: pg\r\n\r\n' |
    timeout $((5 * TMO)) openssl s_client -connect "127.0.0.1:$aport" \
    -servername pg -cert "$T/certs/prometheus.crt" \
    -key "$T/certs/prometheus.key" -CAfile "$T/certs/ca.crt" -ign_eof -msg \
    >"$T/notify.out" 2>&1 || true
assert_grep '^HTTP/1.0 200' "$T/notify.out"
assert_grep '^<<< .*Alert.*' "$T/notify.out"
assert_grep 'close_notify' "$T/notify.out"

term_pid=$PROXY_PID term_admin=$ADMIN
echo "== a scrape relayed by a cotai originate route closes cleanly"
ops_config scr originate prometheus "$aport" "expect: [pg]"
ops_start scr
http_get "127.0.0.1:$PORT" /healthz >"$T/relayed.out"
assert_grep '^HTTP/1.0 200' "$T/relayed.out"
wait_for "the relayed scrape's close record" $((10 * TMO)) grep -q \
    'event=close .*route=scr .*closed_by=upstream reason=eof' "$T/scr.log"
assert_no_grep 'event=close .*reason=tls_error' "$T/scr.log"
kill "$PROXY_PID"
PROXY_PID=$term_pid ADMIN=$term_admin

echo "== refused: another identity, no certificate, plaintext"
if scrape rogue; then fail "rogue read /metrics"; fi
assert_no_grep cotai_ "$T/rogue.out"
wait_for "rogue refusal logged" $((10 * TMO)) grep -q \
    'event=admin_refused .*reason=identity_not_allowed .*peer=spiffe://cotai.test/rogue' \
    "$T/term.log"
if scrape -; then fail "a client without certificate read /metrics"; fi
assert_no_grep cotai_ "$T/-.out"
wait_for "no-certificate refusal logged" $((10 * TMO)) grep -q \
    'event=admin_refused .*reason=no_client_certificate' "$T/term.log"
http_get "$ADMIN" /metrics >"$T/plain.out" 2>/dev/null || true
assert_no_grep 'cotai_|HTTP/1' "$T/plain.out"
wait_for "plaintext refusal logged" $((10 * TMO)) grep -q \
    'event=admin_refused .*reason=tls_error' "$T/term.log"
scrape prometheus || fail "prometheus refused after the others"
assert_grep '^cotai_admin_refused_total\{reason="identity_not_allowed"\} 1$' \
    "$T/prometheus.out"
assert_grep '^cotai_admin_refused_total\{reason="no_client_certificate"\} 1$' \
    "$T/prometheus.out"

echo "== health listener: loopback, plaintext, no /metrics"
http_get "$HEALTH" /healthz >"$T/h.out"
assert_grep '^HTTP/1.0 200' "$T/h.out"
http_get "$HEALTH" /readyz >"$T/r.out"
assert_grep '^HTTP/1.0 200' "$T/r.out"
http_get "$HEALTH" /metrics >"$T/m.out"
assert_grep '^HTTP/1.0 404' "$T/m.out"
assert_no_grep cotai_ "$T/m.out"
sed "s/health_listen: \"127.0.0.1:0\"/health_listen: \"$HEALTH\"/" \
    "$T/run/term.yaml" >"$T/probe.yaml"
assert_grep "health_listen: \"$HEALTH\"" "$T/probe.yaml"
"$PROXY" health -c "$T/probe.yaml" | grep -q "^healthy: $HEALTH" ||
    fail "health -c did not use admin.health_listen"
"$PROXY" health -c "$T/probe.yaml" --ready >/dev/null || fail "health --ready"
grep -v health_listen "$T/probe.yaml" >"$T/nohealth.yaml"
expect_status 1 "mTLS only; set admin.health_listen" \
    "$PROXY" health -c "$T/nohealth.yaml"

echo "== reload: renewal swaps the admin certificate"
serial() {
	openssl s_client -connect "127.0.0.1:$aport" -servername pg \
	    -cert "$T/certs/prometheus.crt" -key "$T/certs/prometheus.key" \
	    -CAfile "$T/certs/ca.crt" </dev/null 2>/dev/null |
	    openssl x509 -noout -serial
}
before=$(serial)
[ -n "$before" ] || fail "no admin certificate seen"
"$CA" renew pg --out "$T/certs" >"$T/renew.log" 2>&1 || { cat "$T/renew.log"; fail renew; }
ops_own
kill -HUP "$PROXY_PID"
wait_reloads term 1
after=$(serial)
[ -n "$after" ] && [ "$after" != "$before" ] ||
    fail "admin certificate not renewed by the reload ($before -> $after)"

echo "== reload: a revoked client is refused"
"$CA" revoke prometheus >"$T/revoke.log" 2>&1 || { cat "$T/revoke.log"; fail revoke; }
ops_own
kill -HUP "$PROXY_PID"
wait_reloads term 2
if scrape prometheus; then fail "revoked prometheus read /metrics"; fi
wait_for "revoked refusal logged" $((10 * TMO)) grep -q \
    'event=admin_refused .*reason=cert_revoked' "$T/term.log"

echo "== reload: admin.tls cannot be turned off"
issue prometheus # a fresh, unrevoked one
ops_own
scrape prometheus || { cat "$T/prometheus.err"; fail "re-issued prometheus refused"; }
sed -e 's/^  tls: true$/  tls: false/' -e '/^  allow: \[prometheus\]$/d' \
    "$T/run/term.yaml" >"$T/run/term.yaml.tmp"
mv "$T/run/term.yaml.tmp" "$T/run/term.yaml"
if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/run/term.yaml"; fi
kill -HUP "$PROXY_PID"
wait_for "refused reload" $((10 * TMO)) grep -q \
    'admin.tls changes only with a restart' "$T/term.log"
http_get "$ADMIN" /metrics >"$T/plain2.out" 2>/dev/null || true
assert_no_grep 'cotai_|HTTP/1' "$T/plain2.out"
scrape prometheus || fail "prometheus refused after the refused reload"
assert_grep '^cotai_reloads_total\{result="config_error"\} [1-9]' \
    "$T/prometheus.out"
echo "PASS"
