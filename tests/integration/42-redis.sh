#!/usr/bin/env bash
# protocol: redis, originate straight to redis-server's TLS port (only
# tls-port, tls-auth-clients yes, tls-ca-cert-file = cotai's CA): redis-cli
# and redis-benchmark speak plaintext to the sidecar; plaintext without the
# sidecar is refused; a server that is not the expected identity is
# refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_db.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/4_db_lib.sh"

pki_init cotai.test
issue cache
issue backend
redis_start cache --tls

db_proxy redisout originate backend "$REDIS_PORT" "expect: cache" \
    "    protocol: redis"
rport=$PORT
cli() { timeout $((30 * TMO)) redis-cli -h 127.0.0.1 -p "$rport" "$@"; }

echo "== redis-cli through the sidecar"
[ "$(cli ping)" = PONG ] || fail "ping through the sidecar"
[ "$(cli set greeting hello)" = OK ] || fail "set"
[ "$(cli get greeting)" = hello ] || fail "get"
wait_audit redisout 3
last_close redisout | grep -q 'peer=cache .*reason=eof' ||
    fail "audit: $(last_close redisout)"

echo "== redis-benchmark through the sidecar"
timeout $((120 * TMO)) redis-benchmark -h 127.0.0.1 -p "$rport" \
    -n $((2000 / SCALE)) -c 4 -t set,get -q >"$T/bench.out" 2>&1 ||
    { cat "$T/bench.out"; fail "redis-benchmark"; }
assert_grep 'SET: .*requests per second' "$T/bench.out"
assert_grep 'GET: .*requests per second' "$T/bench.out"

echo "== plaintext without the sidecar is refused"
out=$(timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1) || true
[ "$out" != PONG ] || fail "plaintext at the TLS port answered"

echo "== a server that is not the expected identity"
db_proxy wrongexp originate backend "$REDIS_PORT" "expect: postgres" \
    "    protocol: redis"
out=$(timeout $((30 * TMO)) redis-cli -h 127.0.0.1 -p "$PORT" ping 2>&1) ||
    true
[ "$out" != PONG ] || fail "wrong server identity accepted"
wait_audit wrongexp 1
last_close wrongexp | grep -q 'reason=identity_not_expected' ||
    fail "wrongexp: $(last_close wrongexp)"

echo "ok"
