#!/usr/bin/env bash
# Reload proof. A client keeps opening connections and streaming data
# through originate -> terminate (the client checks every byte), and one
# connection stays open throughout, while both proxies' certificates are
# renewed with `cotai-ca renew` and the proxies reload 20 times: zero
# failed connections, zero corrupted bytes, every reload ok. Then 200 more
# reloads: open file descriptors must stay the same and RSS flat (growth
# under 4 MiB; plain builds only, as in 23-slow-reader).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

ROUNDS=20
MANY=200
if [ "${COTAI_VALGRIND:-0}" = 1 ]; then ROUNDS=3; MANY=20; fi

ops_pki
export OPS_RELOAD="reload: { watch: false }" # SIGHUP only: exact counts
ops_chain

# A connection held open across every reload.
exec 3<>"/dev/tcp/127.0.0.1/$op"
say 3 start

# The churn: new connections, each streaming and checking its bytes.
: >"$T/churn.out"
(
	while [ ! -e "$T/stop" ]; do
		"$TOOLS/client" -p "$op" -c 4 -n $((2000000 / SCALE)) \
		    >>"$T/churn.out" 2>&1 || echo "CLIENT-EXIT $?" >>"$T/churn.out"
	done
) &
churn=$!
echo "$churn" >>"$T/.pids"

renew() { # renew NAME: into a staging directory, then renamed into place
	"$CA" renew "$1" --out "$T/stage" >>"$T/renew.log" 2>&1 ||
	    { tail "$T/renew.log"; fail "renew $1"; }
	if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/stage/$1".*; fi
	mv "$T/stage/$1.key" "$T/certs/$1.key.new"
	mv "$T/stage/$1.crt" "$T/certs/$1.crt"
	mv "$T/certs/$1.key.new" "$T/certs/$1.key"
}
mkdir -p "$T/stage"
for i in $(seq "$ROUNDS"); do
	renew backend
	renew pg
	kill -HUP "$term_pid" "$orig_pid"
	wait_reloads term "$i"
	wait_reloads orig "$i"
	say 3 "round-$i"
done
touch "$T/stop"
wait "$churn" || true
runs=$(grep -c '^client:' "$T/churn.out" || true)
cat "$T/churn.out" | tail -n 3
[ "$runs" -ge 1 ] || fail "the churn client never ran"
assert_no_grep 'failures=[1-9]|CLIENT-EXIT|mismatch|failed' "$T/churn.out" \
    "a churn connection failed"
for p in term orig; do
	assert_no_grep 'reload failed' "$T/$p.log"
	[ "$(metric $p 'cotai_reloads_total{result="ok"}')" = "$ROUNDS" ] ||
	    fail "$p: not $ROUNDS reloads ok"
done
serials=$(grep -o 'route=term .*peer=backend [^ ]* serial=[0-9A-F]*' "$T/term.log" |
    sed 's/.*serial=//' | sort -u | wc -l)
echo "churn: $runs client runs x 4 connections, 0 failed;" \
    "terminate saw $serials client certificates"
[ "$serials" -ge 2 ] || fail "renewed certificates were not used"

echo "== $MANY reloads: fds and RSS"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
nfd() { ls "/proc/$1/fd" | wc -l; }
# The baseline once the churn's last connections are closed on both sides
# (another worker may still be closing one): the held connection only.
one_left() {
	[ "$(metric "$1" "cotai_connections_active{route=\"$1\"}")" = 1 ]
}
wait_for "term: the held connection only" $((10 * TMO)) one_left term
wait_for "orig: the held connection only" $((10 * TMO)) one_left orig
# With mux (the default), the churn's idle tunnels stay open until a
# reload sends them GOAWAY: one more reload first, after which only the
# held connection's tunnel is left (none without mux).
kill -HUP "$term_pid" "$orig_pid"
wait_reloads term $((ROUNDS + 1))
wait_reloads orig $((ROUNDS + 1))
ROUNDS=$((ROUNDS + 1))
tunnels_settled() { [ "$(metric "$1" cotai_mux_tunnels)" -le 1 ]; }
wait_for "orig: the held connection's tunnel only" $((10 * TMO)) tunnels_settled orig
wait_for "term: the held connection's tunnel only" $((10 * TMO)) tunnels_settled term
say 3 before-many
r0_t=$(rss "$term_pid"); r0_o=$(rss "$orig_pid")
f0_t=$(nfd "$term_pid"); f0_o=$(nfd "$orig_pid")
for i in $(seq "$MANY"); do
	kill -HUP "$term_pid" "$orig_pid"
	wait_reloads term $((ROUNDS + i))
	wait_reloads orig $((ROUNDS + i))
done
say 3 after-many
# Workers let go of the old routes between two events: allow a moment.
same_fds() { [ "$(nfd "$1")" -eq "$2" ]; }
wait_for "terminate: $f0_t fds" $((5 * TMO)) same_fds "$term_pid" "$f0_t"
wait_for "originate: $f0_o fds" $((5 * TMO)) same_fds "$orig_pid" "$f0_o"
r1_t=$(rss "$term_pid"); r1_o=$(rss "$orig_pid")
f1_t=$(nfd "$term_pid"); f1_o=$(nfd "$orig_pid")
echo "terminate: RSS $r0_t -> $r1_t KiB, fds $f0_t -> $f1_t"
echo "originate: RSS $r0_o -> $r1_o KiB, fds $f0_o -> $f1_o"
[ "$f1_t" -eq "$f0_t" ] || fail "terminate: fds $f0_t -> $f1_t"
[ "$f1_o" -eq "$f0_o" ] || fail "originate: fds $f0_o -> $f1_o"
if [ "${COTAI_VALGRIND:-0}" != 1 ] && ! ldd "$PROXY" | grep -q libasan; then
	[ $((r1_t - r0_t)) -lt 4096 ] || fail "terminate RSS grew"
	[ $((r1_o - r0_o)) -lt 4096 ] || fail "originate RSS grew"
fi
exec 3>&-
echo ok
