#!/usr/bin/env bash
# The audit stream (issue 15): a real rsyslogd on loopback, TLS with client
# certificates from the cotai CA required, collects the terminating
# sidecar's audit records (RFC 5424 over RFC 5425 octet-counted TLS 1.3).
# N connections through the two sidecars give exactly N connection records
# at the collector, each with the peer's SPIFFE ID, also when the collector
# is stopped for 30 s while traffic continues (records wait in memory and
# in the spool, then arrive in order). log.level warn suppresses none of
# them (stderr), the file sink has them too, and a full spool drops records
# counted in cotai_audit_records_dropped_total.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/6_audit_lib.sh"

RSYSLOGD=${RSYSLOGD:-/usr/sbin/rsyslogd}
[ -x "$RSYSLOGD" ] || fail "no $RSYSLOGD (mk/packages: rsyslog, rsyslog-openssl)"
STOP_S=${AUDIT_STOP_S:-30}

relay_pki
issue collector

rsyslog_start 0
echo "== collector on 127.0.0.1:$RS_PORT"

echo "== the collector refuses a client without a cotai certificate"
relay_bad_certs
timeout 10 openssl s_client -connect "127.0.0.1:$RS_PORT" -tls1_3 -quiet \
    >"$T/s_client.out" 2>&1 <<<'33 <13>1 - h x - - - rogue-no-cert' || true
timeout 10 openssl s_client -connect "127.0.0.1:$RS_PORT" -tls1_3 -quiet \
    -cert "$T/certs2/backend.crt" -key "$T/certs2/backend.key" \
    >"$T/s_client2.out" 2>&1 <<<'33 <13>1 - h x - - - rogue-other-ca' || true

# As root the proxies run as nobody; a reload must read the files again.
chmod 711 "$T"
if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$T/certs"; fi

relay_peer echo
LOGLEVEL=warn relay_yaml "admin: { listen: 127.0.0.1:0 }" term terminate pg \
    "$PEER_PORT" "allow: [backend]" "" "audit:
  file: $T/audit.jsonl
  syslog:
    target: 127.0.0.1:$RS_PORT
    expect: collector
    spool: $T/term.spool
    queue: 8
reload: { watch: false }" >"$T/term.yaml"
audit_chain_start

echo "== 20 connections with the collector up"
conns 20
wait_collected $TOTAL
[ "$(metric term cotai_audit_collector_up)" = 1 ] || fail "collector_up not 1"

echo "== traffic throughout; the collector stopped for ${STOP_S}s meanwhile"
# One connection after another (paced, 10/s) until $T/stop exists; one
# line per connection in $T/traffic.out.
spawn traffic bash -c 'while [ ! -e "$1/stop" ]; do
	if "$2/client" -p "$3" -m echo -n 1000 -c 1 2>&1 | grep -q "failures=0"
	then echo ok; else echo FAILED; fi >>"$1/traffic.out"
	sleep 0.1
done' traffic "$T" "$TOOLS" "$ORIG"
TRAFFIC_PID=$LAST_PID
traffic_n() { grep -c . "$T/traffic.out" 2>/dev/null || echo 0; }
traffic_at_least() { [ "$(traffic_n)" -ge "$1" ]; }
wait_for "traffic with the collector up" 20 traffic_at_least 10
kill -TERM "$RS_PID"
wait_exit "$RS_PID" 10
stopped_at=$(traffic_n)
last_before=$(ids | sed 's/.*-//' | sort -n | tail -1)
before=$(ids | wc -l)
sleep "$STOP_S" # the outage (traffic goes on)
up=$(metric term cotai_audit_collector_up)
spooled=$(metric term 'cotai_audit_queue_depth{where="spool"}')
inmem=$(metric term 'cotai_audit_queue_depth{where="memory"}')
echo "   $(($(traffic_n) - stopped_at)) connections while the collector was away"
echo "   collector_up=$up memory=$inmem spool=$spooled"
[ "$up" = 0 ] || fail "collector_up is $up while it is stopped"
[ "${spooled:-0}" -gt 0 ] || fail "nothing in the spool (queue: 8)"
[ "$(ids | wc -l)" -eq "$before" ] || fail "records arrived while the collector was down?"

echo "== collector back on the same port; traffic goes on a little"
rsyslog_start "$RS_PORT"
wait_for "the sidecar back at the collector" 20 \
    metric_is term cotai_audit_collector_up 1
resumed_at=$(traffic_n)
wait_for "traffic after the restart" 20 traffic_at_least $((resumed_at + 10))
touch "$T/stop"
wait_exit "$TRAFFIC_PID" 20
assert_no_grep FAILED "$T/traffic.out" "a connection failed"
TOTAL=$((TOTAL + $(traffic_n)))
wait_collected $TOTAL 30
n=$(ids | wc -l)
lines=$(collected | wc -l)
echo "   $TOTAL connections, $n distinct records, $lines lines (duplicates: $((lines - n)))"
[ "$n" -eq "$TOTAL" ] || fail "$n distinct connection records for $TOTAL connections"
# At least once: only records sent before the break (within its last
# second, audit_syslog.h) may come twice.
collected | sed -n 's/.*"id":"[0-9a-f]*-\([0-9]*\)".*/\1/p' | sort -n |
    uniq -d | awk -v m="$last_before" '$1 > m { print "duplicate " $1 " made after the break"; bad = 1 }
    END { exit bad }' || fail "duplicates beyond the at-least-once rule"
bad=$(collected | grep -vc '"spiffe":"spiffe://cotai.test/backend"' || true)
[ "$bad" -eq 0 ] || fail "$bad records without the peer's SPIFFE ID"
# In order: the sequence numbers of the ids rise through the file.
collected | sed -n 's/.*"id":"[0-9a-f]*-\([0-9]*\)".*/\1/p' | awk '
    { if ($1 + 0 < max && !seen[$1]) { print "out of order: " $1 " after " max; bad = 1 }
      seen[$1] = 1; if ($1 + 0 > max) max = $1 + 0 }
    END { exit bad }' || fail "records delivered out of order"
spool_empty() {
	[ "$(stat -c %s "$T/term.spool")" -eq 16 ]
}
wait_for "an empty spool" 10 spool_empty
[ "$(metric term 'cotai_audit_queue_depth{where="spool"}')" = 0 ] ||
    fail "spool depth not 0 after delivery"

echo "== log.level warn: every record on stderr too; and in the file sink"
n=$(grep -c 'event=close' "$T/term.log" || true)
[ "$n" -eq "$TOTAL" ] || fail "$n close records on stderr, $TOTAL connections"
n=$(grep -c '"event":"close"' "$T/audit.jsonl" || true)
[ "$n" -eq "$TOTAL" ] || fail "$n close records in the file, $TOTAL connections"
assert_no_grep 'level=info' "$T/term.log" "an info message despite level warn"
assert_grep '"v":1,' "$T/audit.jsonl"
assert_grep '"event":"start".*"route":"term"' "$T/collected.log"
[ "$(metric term 'cotai_audit_records_total{sink="syslog"}')" -ge "$TOTAL" ] ||
    fail "cotai_audit_records_total{sink=syslog} below $TOTAL"

echo "== no rogue message reached the collector"
assert_no_grep 'rogue' "$T/collected.log"

echo "== a refused peer: a refused and a close record"
timeout 10 openssl s_client -connect "127.0.0.1:$(port_of "$T/term.ports" term)" \
    -cert "$T/certs/mallory.crt" -key "$T/certs/mallory.key" -quiet </dev/null \
    >/dev/null 2>&1 || true
wait_for "a refused record" 20 grep -q '"event":"refused".*"peer":"mallory".*identity_not_allowed' "$T/collected.log"
wait_for "its close record" 20 grep -q '"event":"close".*"peer":"mallory".*identity_not_allowed' "$T/collected.log"
TOTAL=$((TOTAL + 1)) # a connection too

echo "== a renewed certificate and a reload: cert_change and reload records"
mkdir -p "$T/stage"
"$CA" renew pg --out "$T/stage" >>"$T/ca-issue.log" 2>&1 || fail "renew pg"
if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/stage"/pg.*; fi
mv "$T/stage/pg.key" "$T/certs/pg.key"
mv "$T/stage/pg.crt" "$T/certs/pg.crt"
new=$(openssl x509 -in "$T/certs/pg.crt" -noout -serial | cut -d= -f2)
kill -HUP "$TERM_PID"
wait_for "a reload record" 20 grep -q \
    '"event":"reload".*"trigger":"SIGHUP".*"result":"ok"' "$T/collected.log"
wait_for "a cert_change record" 20 grep -q \
    "\"event\":\"cert_change\".*\"route\":\"term\".*\"new_serial\":\"$new\"" \
    "$T/collected.log"

echo "== at exit, records not delivered go to the spool for the next start"
kill -TERM "$RS_PID"
wait_exit "$RS_PID" 10
wait_for "collector_up 0" 10 metric_is term cotai_audit_collector_up 0
conns 5
kill -TERM "$TERM_PID"
rc=0
wait "$TERM_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "term exited $rc"
assert_grep 'audit: [0-9]+ records saved to the spool' "$T/term.log"
spawn term-again "$PROXY" -c "$T/term.yaml" --ports-file "$T/term-again.ports"
wait_file "$T/term-again.ports" 10
assert_grep 'records to deliver' "$T/term-again.log"
rsyslog_start "$RS_PORT"
wait_collected $TOTAL 30
n=$(ids | wc -l)
[ "$n" -eq "$TOTAL" ] || fail "$n distinct connection records for $TOTAL connections"

echo "== a full spool drops records, counted and logged"
relay_yaml "admin: { listen: 127.0.0.1:0 }" small terminate pg \
    "$PEER_PORT" "allow: [backend]" "" "audit:
  stderr: false
  syslog:
    target: 127.0.0.1:1
    expect: collector
    spool: $T/small.spool
    spool_size: 4k
    queue: 1" >"$T/small.yaml"
relay_start small
SMALL=$PORT
relay_originate orig2 "$SMALL"
ORIG=$PORT
conns 20
wait_for "dropped records" 10 grep -q 'dropping audit records' "$T/small.log"
d=$(metric small cotai_audit_records_dropped_total)
echo "   dropped: $d"
[ "${d:-0}" -gt 0 ] || fail "cotai_audit_records_dropped_total is ${d:-none}"
[ "$(stat -c %s "$T/small.spool")" -le 4096 ] || fail "spool past its bound"
assert_no_grep 'event=close' "$T/small.log" "stderr: false still wrote records"
echo "ok"
