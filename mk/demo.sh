#!/usr/bin/env bash
# make demo: two cotai sidecars in front of a real Redis, on loopback.
#
#   redis-cli --plain--> cotai-proxy (originate, identity "backend")
#             ==mTLS==> cotai-proxy (terminate, allows "backend", identity
#             "redis") --plain--> redis-server
#
# Everything lives in a temporary directory and every process started here is
# stopped on exit.
set -euo pipefail
: "${COTAI_BUILD:?run through make demo}"
CA=$COTAI_BUILD/cotai-ca
PROXY=$COTAI_BUILD/cotai-proxy
D=$(mktemp -d /tmp/cotai-demo.XXXXXX)
chmod 755 "$D"
pids=()
cleanup() {
	local rc=$?
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$D"
	exit $rc
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_for() { # DESC CMD...: poll up to 10 s
	local desc=$1
	shift
	for _ in $(seq 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
	echo "demo: timed out waiting for $desc" >&2
	exit 1
}
port_of() { awk -v r="$2" '$1 == r { n = split($2, a, ":"); print a[n] }' "$1"; }

say "1. A throwaway PKI: cotai-ca init, then a certificate per workload"
export COTAI_CA_DIR=$D/pki
"$CA" init --trust-domain demo.cotai \
    --passphrase-file <(head -c 24 /dev/urandom | base64)
"$CA" issue backend --out "$D/certs"
"$CA" issue redis --out "$D/certs"
"$CA" list

# As root the sidecars drop to "nobody" after binding; let it read its keys.
user_line=""
if [ "$(id -u)" -eq 0 ]; then
	user_line="user: nobody"
	chown -R nobody "$D/certs"
fi

say "2. A real Redis on loopback (plaintext, reachable only by its sidecar)"
redis_port=""
for _ in $(seq 20); do
	p=$((20000 + RANDOM % 20000))
	if redis-server --port "$p" --bind 127.0.0.1 --save '' \
	    --appendonly no --daemonize no --dir "$D" >"$D/redis.log" 2>&1 &
	then
		pids+=($!)
		if wait_for "redis" redis-cli -p "$p" ping; then redis_port=$p; break; fi
	fi
done
[ -n "$redis_port" ] || { echo "demo: redis did not start" >&2; exit 1; }
echo "redis-server on 127.0.0.1:$redis_port"

say "3. The terminating sidecar in front of Redis: mTLS in, allows only 'backend'"
cat >"$D/redis-sidecar.yaml" <<YAML
$user_line
log: { level: info }
admin: { enabled: false }
identity: { ca: $D/certs/ca.crt, cert: $D/certs/redis.crt, key: $D/certs/redis.key, crl: $D/certs/crl.pem }
routes:
  - name: redis-in
    mode: terminate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$redis_port
    allow: [backend]
YAML
cat "$D/redis-sidecar.yaml"
"$PROXY" -c "$D/redis-sidecar.yaml" --ports-file "$D/redis.ports" \
    2>"$D/redis-sidecar.log" &
pids+=($!)
wait_for "redis sidecar" test -s "$D/redis.ports"
tls_port=$(port_of "$D/redis.ports" redis-in)

say "4. The backend's originating sidecar: plaintext on loopback, expects 'redis'"
cat >"$D/backend-sidecar.yaml" <<YAML
$user_line
log: { level: info }
admin: { enabled: false }
identity: { ca: $D/certs/ca.crt, cert: $D/certs/backend.crt, key: $D/certs/backend.key }
routes:
  - name: redis
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$tls_port
    expect: redis
YAML
cat "$D/backend-sidecar.yaml"
"$PROXY" -c "$D/backend-sidecar.yaml" --ports-file "$D/backend.ports" \
    2>"$D/backend-sidecar.log" &
pids+=($!)
wait_for "backend sidecar" test -s "$D/backend.ports"
local_port=$(port_of "$D/backend.ports" redis)

say "5. redis-cli talks plaintext to its sidecar; mTLS carries it to Redis"
redis-cli -p "$local_port" set greeting "hello through cotai"
redis-cli -p "$local_port" get greeting
redis-cli -p "$local_port" ping

say "6. A stranger without a certificate goes straight at the mTLS port"
if echo PING | timeout 5 openssl s_client -connect "127.0.0.1:$tls_port" \
    -tls1_3 -quiet >"$D/stranger.out" 2>&1 && grep -q PONG "$D/stranger.out"; then
	echo "demo: the stranger got through!" >&2
	exit 1
fi
echo "refused: $(grep -oE 'alert [a-z ]+' "$D/stranger.out" | head -n 1 || true)"

say "7. A valid certificate with the wrong identity ('intruder')"
"$CA" issue intruder --out "$D/certs" >/dev/null
if echo PING | timeout 5 openssl s_client -connect "127.0.0.1:$tls_port" \
    -cert "$D/certs/intruder.crt" -cert_chain "$D/certs/intruder.crt" \
    -key "$D/certs/intruder.key" \
    -CAfile "$D/certs/ca.crt" -quiet >"$D/intruder.out" 2>&1 &&
    grep -q PONG "$D/intruder.out"; then
	echo "demo: the intruder got through!" >&2
	exit 1
fi
echo "refused: $(grep -oE 'alert [a-z ]+' "$D/intruder.out" | head -n 1 || true)"

# Let the sidecars write their close lines: three redis-cli connections on
# each side, plus the stranger and the intruder on the redis side.
closes() { [ "$(grep -c 'event=close' "$1")" -ge "$2" ]; }
wait_for "audit lines" closes "$D/backend-sidecar.log" 3
wait_for "refusal audit lines" closes "$D/redis-sidecar.log" 5

say "8. The audit trail: one line per connection, with the verified identity"
echo "-- backend sidecar (originate):"
grep 'event=close' "$D/backend-sidecar.log"
echo "-- redis sidecar (terminate):"
grep 'event=close' "$D/redis-sidecar.log"

say "Done: stopping everything"
