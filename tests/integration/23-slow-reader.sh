#!/usr/bin/env bash
# Slow reader: a source pushes 1 GiB at a client that reads slowly for the
# first seconds; neither proxy's RSS may grow by more than 16 MiB
# (backpressure), and every byte still arrives intact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

total=$(((1 << 30) / SCALE))
relay_pki
relay_peer source -n "$total"
relay_terminate term "$PEER_PORT"
term_pid=$PROXY_PID
relay_originate orig "$PORT"
orig_pid=$PROXY_PID
op=$PORT

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
base_t=$(rss "$term_pid")
base_o=$(rss "$orig_pid")
max_t=$base_t
max_o=$base_o

timeout $((300 * TMO)) "$TOOLS/client" -p "$op" -m source -n "$total" -s 10:4000 \
    >"$T/client.out" 2>&1 &
cpid=$!
while kill -0 "$cpid" 2>/dev/null; do
	r=$(rss "$term_pid"); [ "$r" -gt "$max_t" ] && max_t=$r
	r=$(rss "$orig_pid"); [ "$r" -gt "$max_o" ] && max_o=$r
	sleep 0.2
done
wait "$cpid" || { cat "$T/client.out"; fail "client failed"; }
cat "$T/client.out"
assert_grep 'failures=0' "$T/client.out"
echo "RSS growth: terminate $((max_t - base_t)) KiB, originate $((max_o - base_o)) KiB"
# Under valgrind or ASan, RSS measures their shadow memory and quarantine,
# not ours: the bound is only checked for a plain build.
# (grep reads all of ldd's output: with -q it may quit early, ldd then
# dies of SIGPIPE and pipefail turns the pipeline into "no ASan".)
if [ "${COTAI_VALGRIND:-0}" != 1 ] && ! ldd "$PROXY" | grep libasan >/dev/null; then
	[ $((max_t - base_t)) -lt 16384 ] || fail "terminate RSS grew too much"
	[ $((max_o - base_o)) -lt 16384 ] || fail "originate RSS grew too much"
fi
wait_audit orig 1
assert_grep "bytes_down=$total .*reason=eof" "$T/orig.log"
echo ok
