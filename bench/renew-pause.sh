#!/usr/bin/env bash
# bench/renew-pause.sh: does a sidecar pause relaying while it renews?
#
#   COTAI_BUILD=/abs/build bench/renew-pause.sh [COUNT] [REPS]
#
# A sidecar pair whose identities come from a real `cotai-ca serve`
# (identity.renew): api (originate) -> web (terminate) -> benchtool echo.
# `benchtool rtt` makes COUNT (default 60000, some 10 s) sequential 64-byte round
# trips over one connection through the pair, in two set-ups that
# alternate REPS (default 3) times:
#   steady    certificates of 1 h: no renewal during the run;
#   renewing  certificates of 30 s renewed at a tenth of their lifetime:
#             both sidecars renew every ~3 s during the run (a new key,
#             the EST exchange, the files written and fsynced, the reload
#             that builds and swaps the TLS contexts).
# The measured connection must end within the lifetime of the certificates
# its tunnel was set up with: when a peer's certificate expires, the next
# reload closes the live connections that presented it
# (expired_after_reload), by design. Hence 30 s certificates and ~10 s
# runs, not shorter certificates.
# Each set-up starts its own CA server and fresh sidecars (enrolled from a
# token). Prints, per run, p50/p99/p99.9/max of the round trips in µs, how
# many took over 5 ms, and
# the renewals that completed during it; and /readyz, polled every 0.2 s on
# both sidecars during the run (admin.ready_min_validity 5s): the polls
# that were not 200.
set -euo pipefail
: "${COTAI_BUILD:?set COTAI_BUILD to the absolute build directory}"
here=$(cd "$(dirname "$0")" && pwd)
export LC_ALL=C
COUNT=${1:-60000}
REPS=${2:-3}
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
CA=$COTAI_BUILD/cotai-ca
PROXY=$COTAI_BUILD/cotai-proxy
export COTAI_CA_DIR=$W/pki
user_line=""
[ "$(id -u)" -ne 0 ] || user_line="user: nobody"

"$CA" init --trust-domain bench.test --passphrase-file <(echo bench) >/dev/null
"$CA" issue est-server --dns localhost --out "$W/srv" >/dev/null
cp "$W/srv/ca.crt" "$W/est-ca.crt"
chmod 644 "$W/est-ca.crt"
start_echo

# side NAME MODE TARGET PATTERNS: a sidecar enrolling from $W/NAME.token.
side() {
	local name=$1 mode=$2 target=$3 patterns=$4
	cat >"$W/$name.yaml" <<YAML
$user_line
log: { level: info }
admin: { listen: "127.0.0.1:0", ready_min_validity: 5s }
workers: 2
identity:
  renew:
    url: https://localhost:$EST_PORT
    ca: $W/est-ca.crt
    state_dir: $W/run/state-$name
    token_file: $W/$name.token
    at: "1/10"
    crl_interval: 60s
routes:
  - name: $name
    mode: $mode
    listen: 127.0.0.1:0
    target: $target
    $patterns
YAML
	rm -f "$W/$name.ports"
	spawn "$name" "$PROXY" -c "$W/$name.yaml" --ports-file "$W/$name.ports"
	SIDE_PID=$LAST_PID
	wait_file "$W/$name.ports" "$SIDE_PID"
	PORT=$(awk -v n="$name" '$1 == n { print $2 }' "$W/$name.ports")
	ADMIN=$(awk '$1 == "admin" { print $2 }' "$W/$name.ports")
}

renewals() { grep -c 'renew: renewed' "$W/$1.log" 2>/dev/null || true; }

# poll_ready OUT ADMIN...: every 0.2 s, one line per non-200 /readyz.
poll_ready() {
	local out=$1 a code
	shift
	while :; do
		for a in "$@"; do
			code=$(curl -s -o /dev/null -w '%{http_code}' \
			    "http://$a/readyz" || true)
			[ "$code" = 200 ] || echo "$a $code" >>"$out"
		done
		sleep 0.2
	done
}

# run SETUP TTL: one measurement; prints one result line.
run() {
	local setup=$1 ttl=$2 pids w0 a0 out notready poller
	rm -rf "$W/run" "$W/est.port"
	mkdir -p "$W/run"
	chmod 755 "$W/run"
	spawn "est-$setup" "$CA" serve --tls-cert "$W/srv/est-server.crt" \
	    --tls-key "$W/srv/est-server.key" --listen 127.0.0.1:0 \
	    --port-file "$W/est.port" --ttl "$ttl" --rate 100000 \
	    --audit "$W/est-audit.log"
	pids=$LAST_PID
	wait_file "$W/est.port" "$pids"
	EST_PORT=$(cut -d: -f2 "$W/est.port")
	"$CA" token web >"$W/web.token" 2>/dev/null
	"$CA" token api >"$W/api.token" 2>/dev/null
	side web terminate "127.0.0.1:$ECHO_PORT" "allow: [api]"
	pids="$pids $SIDE_PID"
	local web_admin=$ADMIN tp=$PORT
	side api originate "$tp" "expect: [web]"
	pids="$pids $SIDE_PID"
	local op=${PORT##*:} api_admin=$ADMIN
	: >"$W/notready"
	poll_ready "$W/notready" "$web_admin" "$api_admin" &
	poller=$!
	w0=$(renewals web)
	a0=$(renewals api)
	out=$("$BT" rtt "$op" "$COUNT" 64) || out="failed"
	kill "$poller" 2>/dev/null || true
	wait "$poller" 2>/dev/null || true
	notready=$(wc -l <"$W/notready")
	printf '%-9s p50 %6s  p99 %6s  p99.9 %7s  max %8s µs  >5ms %4s  renewals web %s api %s  /readyz not 200: %s\n' \
	    "$setup" "$(kv p50_us "$out")" "$(kv p99_us "$out")" \
	    "$(kv p999_us "$out")" "$(kv max_us "$out")" "$(kv over5ms "$out")" \
	    $(($(renewals web) - w0)) $(($(renewals api) - a0)) "$notready"
	# shellcheck disable=SC2086
	stop_pids $pids
	for n in web api "est-$setup"; do
		mv "$W/$n.log" "$W/$n.log.$setup.$REP" 2>/dev/null || true
	done
	[ "$out" != failed ]
}

echo "renew-pause: $COUNT round trips of 64 bytes per run, $REPS repetitions; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for REP in $(seq "$REPS"); do
	run steady 1h
	run renewing 30s
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
