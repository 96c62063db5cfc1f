#!/usr/bin/env bash
# The audit collector's certificate is checked against the sidecar's CRL
# (audit.syslog.identity.crl, inherited from the global identity): a
# collector revoked while connected is disconnected at the next reload
# (the CRL written, SIGHUP), its handshakes are refused from then on, and
# no record reaches it; the records wait (memory, spool) and arrive, in
# full, once the collector has a new certificate. A CRL file that does not
# exist is refused by --check with file:line. Real rsyslogd as the
# collector (6_audit_lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/6_audit_lib.sh"

RSYSLOGD=${RSYSLOGD:-/usr/sbin/rsyslogd}
[ -x "$RSYSLOGD" ] || fail "no $RSYSLOGD (mk/packages: rsyslog, rsyslog-openssl)"

relay_pki
issue collector
rsyslog_start 0
echo "== collector on 127.0.0.1:$RS_PORT"

# As root the proxies run as nobody; a reload must read the files again.
chmod 711 "$T"
own() { if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$T/certs"; fi; }
own

audit_yaml() { # EXTRA: more lines under audit.syslog
	cat <<AUDIT
audit:
  syslog:
    target: 127.0.0.1:$RS_PORT
    expect: collector
    spool: $T/term.spool
$1
reload: { watch: false }
AUDIT
}

echo "== --check: a CRL for the collector that does not exist, file:line"
relay_yaml "admin: { listen: 127.0.0.1:0 }" term terminate pg 1 \
    "allow: [backend]" "" "$(audit_yaml "    identity: { crl: $T/none.pem }")" \
    >"$T/bad.yaml"
if "$PROXY" --check -c "$T/bad.yaml" >"$T/check.out" 2>&1; then
	fail "--check accepted a missing audit CRL"
fi
cat "$T/check.out"
assert_grep "bad.yaml:[0-9]+:.*none.pem" "$T/check.out"

relay_peer echo
relay_yaml "admin: { listen: 127.0.0.1:0 }" term terminate pg \
    "$PEER_PORT" "allow: [backend]" "" "$(audit_yaml "")" >"$T/term.yaml"
audit_chain_start

echo "== 5 connections, the collector has their records"
conns 5
wait_collected 5
[ "$(metric term cotai_audit_collector_up)" = 1 ] || fail "collector_up not 1"

echo "== the collector's certificate is revoked; a reload drops it"
"$CA" revoke collector >"$T/revoke.log" 2>&1 ||
    { cat "$T/revoke.log"; fail revoke; }
own
n=$(grep -c 'reload done' "$T/term.log" || true)
kill -HUP "$TERM_PID"
wait_for "the reload" $((10 * TMO)) sh -c \
    "[ \$(grep -c 'reload done' '$T/term.log') -gt $n ]"
wait_for "the collector dropped" $((10 * TMO)) grep -q \
    "audit: collector 127.0.0.1:$RS_PORT: its certificate fails after the reload: certificate revoked" \
    "$T/term.log"
wait_for "collector_up 0" $((10 * TMO)) metric_is term cotai_audit_collector_up 0

echo "== 5 more connections: relayed; their records do not reach the revoked collector"
conns 5
# The sidecar tries again (backoff from 250 ms): every handshake refused.
wait_for "a refused handshake with the revoked collector" $((10 * TMO)) \
    grep -q "audit: collector 127.0.0.1:$RS_PORT: connection failed.*certificate verify failed" \
    "$T/term.log"
sleep 2
[ "$(ids | wc -l)" -eq 5 ] || fail "records reached the revoked collector: $(ids | wc -l)"
[ "$(metric term cotai_audit_collector_up)" = 0 ] || fail "collector_up not 0"

echo "== the collector gets a new certificate: everything arrives"
issue collector
own
kill -TERM "$RS_PID"
wait_exit "$RS_PID" 10
rsyslog_start "$RS_PORT"
wait_for "the sidecar back at the collector" $((20 * TMO)) \
    metric_is term cotai_audit_collector_up 1
wait_collected $TOTAL 30
[ "$(ids | wc -l)" -eq "$TOTAL" ] || fail "$(ids | wc -l) records for $TOTAL connections"
echo "ok"
