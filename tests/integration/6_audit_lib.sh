# Shared by the audit collector tests (62-audit-stream, 71-audit-revoked):
# a real rsyslogd as the collector (TLS 1.3, client certificates from the
# cotai CA required, the certificate $T/certs/collector.crt), what it
# collected, the sidecars' metrics, and connections through the chain.
# Needs lib.sh and 2_relay_lib.sh; RSYSLOGD (the daemon) set by the test.

# rsyslog_conf PORT: an imtcp input over TLS (ossl driver) that requires a
# client certificate chaining to the cotai CA; messages (MSG only) to
# $T/collected.log.
rsyslog_conf() {
	mkdir -p "$T/rs"
	cat >"$T/rsyslog.conf" <<RS
global(workDirectory="$T/rs"
  DefaultNetstreamDriver="ossl"
  DefaultNetstreamDriverCAFile="$T/certs/ca.crt"
  DefaultNetstreamDriverCertFile="$T/certs/collector.crt"
  DefaultNetstreamDriverKeyFile="$T/certs/collector.key")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1"
  StreamDriver.AuthMode="x509/certvalid")
input(type="imtcp" port="$1" listenPortFileName="$T/rs.port"
  ruleset="audit")
template(name="msgonly" type="string" string="%msg%\n")
ruleset(name="audit") {
  action(type="omfile" file="$T/collected.log" template="msgonly")
}
RS
}

# rsyslog_start PORT: 0 = any, written to rs.port (only then).
rsyslog_start() {
	rm -f "$T/rs.port"
	rsyslog_conf "$1"
	spawn "rsyslogd$1" "$RSYSLOGD" -n -f "$T/rsyslog.conf" -i "$T/rs.pid"
	RS_PID=$LAST_PID
	if [ "$1" = 0 ]; then
		wait_file "$T/rs.port" 10
		RS_PORT=$(cat "$T/rs.port")
	fi
}

# collected: the connection records at the collector; ids: their unique ids.
collected() {
	grep '"event":"close"' "$T/collected.log" 2>/dev/null || true
}
ids() {
	collected | sed -n 's/.*"id":"\([^"]*\)".*/\1/p' | sort -u
}
have_ids() {
	[ "$(ids | wc -l)" -ge "$1" ]
}
wait_collected() {
	wait_for "$1 connection records at the collector" "${2:-20}" have_ids "$1"
}

# metric NAME SERIES: a value from proxy NAME's /metrics.
metric() {
	local admin
	admin=$(awk '$1 == "admin" { print $2 }' "$T/$1.ports")
	http_get "$admin" /metrics | awk -v s="$2" '$1 == s { print $2 }'
}
metric_is() {
	[ "$(metric "$1" "$2")" = "$3" ]
}

# audit_chain_start: the terminate sidecar "term" from $T/term.yaml
# (TERM_PID), and an originate sidecar "orig" in front of it (ORIG, the
# port conns uses).
audit_chain_start() {
	if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/term.yaml"; fi
	relay_start term
	TERM_PID=$PROXY_PID
	relay_originate orig "$PORT"
	ORIG=$PORT
}

# conns N: N sequential connections through the chain, each must succeed.
TOTAL=0
conns() {
	local i
	for i in $(seq "$1"); do
		"$TOOLS/client" -p "$ORIG" -m echo -n 1000 -c 1 >"$T/client.out" 2>&1 ||
		    { cat "$T/client.out"; fail "connection $((TOTAL + 1))"; }
		assert_grep 'failures=0' "$T/client.out"
		TOTAL=$((TOTAL + 1))
	done
}

