#!/usr/bin/env bash
# drain_delay: after SIGTERM the listeners keep accepting for that long
# (the admin endpoint answers 503), then the usual drain starts and the
# proxy exits 0 by itself; a second SIGTERM starts the drain at once.
# Bad values are refused with file:line. What an orchestrator needs when
# it takes a task out of DNS as it stops it (Docker Swarm, Kubernetes):
# clients that still hold the old address are served, not refused.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

relay_pki
relay_peer echo
ADMIN_ON='admin: { listen: "127.0.0.1:0" }'
DELAY=$((3 * TMO))

relay_yaml "$ADMIN_ON" term terminate pg "$PEER_PORT" "allow: [backend]" "" \
    "drain_delay: ${DELAY}s" >"$T/term.yaml"
relay_start term
tp=$PORT
term_pid=$PROXY_PID
admin=$(awk '$1 == "admin" { print $2 }' "$T/term.ports")
relay_originate orig "$tp"
op=$PORT

"$PROXY" --check -c "$T/term.yaml" >"$T/check.out" 2>&1 || fail "--check"
assert_grep "^drain_delay: ${DELAY}s$" "$T/check.out"

echo "== before SIGTERM (control)"
timeout $((30 * TMO)) "$TOOLS/client" -p "$op" -m echo -n 4096 -c 4 | tee "$T/c0.out"
assert_grep 'failures=0' "$T/c0.out"

echo "== SIGTERM: still accepting during drain_delay, admin 503"
start=$(date +%s%N)
kill -TERM "$term_pid"
wait_for "the drain_delay log line" $((5 * TMO)) \
    grep -q 'still accepting for drain_delay' "$T/term.log"
"$PROXY" health --admin "$admin" >"$T/h.out" 2>&1 && fail "healthy during drain_delay"
assert_grep 'HTTP 503' "$T/h.out"
# New connections, each a new TLS handshake to term, all served.
for i in 1 2 3; do
	timeout $((30 * TMO)) "$TOOLS/client" -p "$op" -m echo -n 4096 -c 4 \
	    >"$T/c$i.out" 2>&1 || { cat "$T/c$i.out"; fail "refused during drain_delay ($i)"; }
	assert_grep 'failures=0' "$T/c$i.out"
	sleep 0.3
done
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt $((DELAY * 1000)) ] || fail "the checks took $ms ms, longer than the delay"
kill -0 "$term_pid" || fail "exited during drain_delay"
echo "served 3 x 4 new connections within $ms ms of SIGTERM"

echo "== after drain_delay: the drain, exit 0 by itself"
rc=0
wait "$term_pid" || rc=$?
[ "$rc" -eq 0 ] || fail "cotai-proxy exited $rc"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge $((DELAY * 1000 - 100)) ] || fail "exited after $ms ms, before drain_delay"
[ "$ms" -le $((DELAY * 1000 + 5000 * TMO)) ] || fail "exited only after $ms ms"
assert_grep 'drain_delay over: draining' "$T/term.log"
assert_grep 'msg=stopped' "$T/term.log"
echo "exited 0 after $ms ms"
# Nothing listens there any more: through orig, the upstream is refused.
timeout $((30 * TMO)) "$TOOLS/client" -p "$op" -m refused | tee "$T/after.out"
assert_grep 'failures=0' "$T/after.out"

echo "== a second SIGTERM drains at once"
relay_yaml "$ADMIN_ON" term2 terminate pg "$PEER_PORT" "allow: [backend]" "" \
    "drain_delay: 10m" >"$T/term2.yaml"
relay_start term2
start=$(date +%s)
kill -TERM "$PROXY_PID"
wait_for "the drain_delay log line" $((5 * TMO)) \
    grep -q 'still accepting for drain_delay 10m' "$T/term2.log"
kill -TERM "$PROXY_PID"
rc=0
wait "$PROXY_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "cotai-proxy exited $rc"
[ $(($(date +%s) - start)) -le $((5 * TMO)) ] || fail "the second SIGTERM did not cut the delay"
assert_grep 'again: draining now' "$T/term2.log"

echo "== refused: too long, negative, not a duration (file:line)"
for v in 11m -1s soon; do
	relay_yaml "$ADMIN_ON" bad terminate pg "$PEER_PORT" "allow: [backend]" "" \
	    "drain_delay: $v" >"$T/bad.yaml"
	line=$(grep -n '^drain_delay:' "$T/bad.yaml" | cut -d: -f1)
	if "$PROXY" --check -c "$T/bad.yaml" >"$T/bad.out" 2>&1; then
		fail "drain_delay: $v accepted"
	fi
	cat "$T/bad.out"
	assert_grep "bad.yaml:$line:[0-9]+: drain_delay" "$T/bad.out"
	[ "$v" != 11m ] || assert_grep 'must be at most 10m' "$T/bad.out"
done
"$PROXY" --check -c "$T/term2.yaml" >/dev/null 2>&1 || fail "drain_delay: 10m refused"
echo ok
