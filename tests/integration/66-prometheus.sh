#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes two cotai-proxy sidecars' admin
# endpoints over mutual TLS with a certificate cotai-ca issued to
# "prometheus", evaluating deploy/monitoring/alerts.yml every second:
#  - every cotai target is up (/api/v1/targets);
#  - a job scraping with the certificate of "rogue" (same CA, not in
#    admin.allow) is down, and so is one without a client certificate;
#  - rogue and a client without a certificate get nothing from the admin
#    endpoint by hand either (curl);
#  - rogue's connection attempts to the terminate route make
#    CotaiIdentityRefused fire for that route (/api/v1/alerts).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

RULES=$(cd "$(dirname "$0")/../../deploy/monitoring" && pwd)/alerts.yml
[ -f "$RULES" ] || fail "no $RULES"
command -v prometheus >/dev/null || fail "prometheus is not installed (mk/packages, group test)"

ops_pki
issue prometheus
issue rogue
ops_own
relay_peer echo

# admin_yaml: an mTLS admin endpoint on a free port of loopback.
admin_yaml() {
	cat <<YAML
admin:
  listen: "127.0.0.1:0"
  tls: true
  allow: [prometheus]
  health_listen: "127.0.0.1:0"
YAML
}

# Two sidecars: "term" (certificate pg) lets backend in, "orig"
# (certificate backend) reaches it.
relay_yaml "$(admin_yaml)" term terminate pg "$PEER_PORT" "allow: [backend]" \
    "" "" >"$T/run/term.yaml"
relay_yaml "$(admin_yaml)" orig originate backend 1 "expect: pg" "" "" \
    >"$T/run/orig.yaml"
if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/run/"*.yaml; fi
ops_start term
term_admin=$ADMIN tp=$PORT
ops_start orig
orig_admin=$ADMIN

echo "== the admin endpoints give nothing without an allowed certificate"
for who in rogue -; do
	cert=()
	[ "$who" = - ] || cert=(--cert "$T/certs/$who.crt" --key "$T/certs/$who.key")
	if curl -sS --max-time $((5 * TMO)) --cacert "$T/certs/ca.crt" "${cert[@]}" \
	    --resolve "pg:${term_admin##*:}:127.0.0.1" \
	    "https://pg:${term_admin##*:}/metrics" >"$T/curl-$who.out" 2>&1; then
		fail "$who read /metrics"
	fi
	assert_no_grep '^cotai_' "$T/curl-$who.out"
done

# job NAME SERVER_NAME TARGET [CERT]: one scrape job over TLS.
job() {
	local cert=""
	[ -z "${4:-}" ] || cert="
      cert_file: $T/certs/$4.crt
      key_file: $T/certs/$4.key"
	cat <<YAML
  - job_name: $1
    scheme: https
    tls_config:
      ca_file: $T/certs/ca.crt
      server_name: $2$cert
    static_configs:
      - targets: ["$3"]
YAML
}

mkdir "$T/prom"
cat >"$T/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: ["$RULES"]
scrape_configs:
$(job cotai-term pg "$term_admin" prometheus)
$(job cotai-orig backend "$orig_admin" prometheus)
$(job rogue-identity pg "$term_admin" rogue)
$(job no-certificate pg "$term_admin")
YAML
promtool check config "$T/prom/prometheus.yml" >"$T/promtool.log" 2>&1 ||
    { cat "$T/promtool.log"; fail "promtool check config"; }

# Prometheus cannot report a port it chose: try free-looking ones.
PROM=""
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 30000))
	ss -Hltn "sport = :$port" | grep -q . && continue
	spawn prometheus prometheus --config.file="$T/prom/prometheus.yml" \
	    --storage.tsdb.path="$T/prom/data" \
	    --web.listen-address="127.0.0.1:$port" --log.level=warn
	prom_pid=$LAST_PID
	for _ in $(seq 200); do
		curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 &&
		    { PROM=127.0.0.1:$port; break; }
		kill -0 "$prom_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$PROM" ] && break
	kill "$prom_pid" 2>/dev/null || true
	wait_exit "$prom_pid"
done
[ -n "$PROM" ] || { tail "$T/prometheus.log"; fail "prometheus did not start"; }
echo "prometheus on $PROM"

api() {
	curl -fsS --max-time 5 "http://$PROM/api/v1/$1"
}

# health JOB: the health of JOB's one target ("up", "down", "unknown").
health() {
	api targets | jq -r --arg j "$1" \
	    '.data.activeTargets[] | select(.labels.job == $j) | .health'
}

targets_settled() {
	[ "$(health cotai-term)" = up ] && [ "$(health cotai-orig)" = up ] &&
	    [ "$(health rogue-identity)" = down ] &&
	    [ "$(health no-certificate)" = down ]
}

echo "== targets: cotai up, rogue identity and no certificate down"
wait_for "targets to settle" $((20 * TMO)) targets_settled
api targets >"$T/targets.json"
jq -r '.data.activeTargets[] | "\(.labels.job) \(.health) \(.lastError)"' \
    "$T/targets.json"
# Never up in between either: the refusals are in the sidecar's log.
assert_grep 'event=admin_refused .*reason=identity_not_allowed .*peer=spiffe://cotai.test/rogue' \
    "$T/term.log"
assert_grep 'event=admin_refused .*reason=no_client_certificate' "$T/term.log"
api 'query?query=up%7Bjob%3D%22rogue-identity%22%7D' >"$T/up-rogue.json"
jq -e '[.data.result[].value[1]] | all(. == "0")' "$T/up-rogue.json" >/dev/null ||
    fail "rogue-identity scrape was up: $(cat "$T/up-rogue.json")"

echo "== no alert before the knock"
api alerts >"$T/alerts0.json"
if jq -e '.data.alerts[] | select(.labels.alertname == "CotaiIdentityRefused")' \
    "$T/alerts0.json" >/dev/null; then
	fail "CotaiIdentityRefused before any refusal: $(cat "$T/alerts0.json")"
fi

echo "== rogue knocks on the terminate route"
for _ in 1 2 3; do
	openssl s_client -connect "127.0.0.1:$tp" -servername pg \
	    -cert "$T/certs/rogue.crt" -key "$T/certs/rogue.key" \
	    -CAfile "$T/certs/ca.crt" </dev/null >>"$T/knock.log" 2>&1 || true
done
wait_for "the route's refusals" $((10 * TMO)) grep -q \
    'route=term .*reason=identity_not_allowed' "$T/term.log"

firing() {
	api alerts | jq -e --arg i "$term_admin" '.data.alerts[] |
	    select(.labels.alertname == "CotaiIdentityRefused" and
		   .labels.route == "term" and
		   .labels.reason == "identity_not_allowed" and
		   .labels.instance == $i and .state == "firing")' >/dev/null
}
wait_for "CotaiIdentityRefused to fire" $((20 * TMO)) firing
api alerts | jq -c '.data.alerts[] | {a: .labels.alertname, route: .labels.route, reason: .labels.reason, state}'
[ "$(health cotai-term)" = up ] && [ "$(health cotai-orig)" = up ] ||
    fail "a cotai target went down"
echo "PASS"
