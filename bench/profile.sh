#!/usr/bin/env bash
# bench/profile.sh: where cotai-proxy's time goes under one bench load.
#
#   COTAI_BUILD=/abs/build bench/profile.sh [WORKLOAD...]
#
# WORKLOAD (default: bulk handshake fullhs):
#   bulk       iperf3, 1 stream, through the cotai chain
#   bulk4      iperf3, 4 streams (-P 4): one tunnel with mux, four TLS
#              connections with cotai-pc
#   handshake  a new connection per request (benchtool connrate), resumed
#   fullhs     the same with resumption off (full handshakes)
#   rtt        sequential 64-byte round trips on one connection
#   redis      redis-benchmark -c 50 -t set,get
#
# Starts the cotai chain of bench/run.sh (same certificates, config and
# OPENSSL_CONF), runs the load for PROFILE_SECONDS (default 5) with
# `perf record` attached to each proxy, and writes for each workload and
# proxy (a = originate, b = terminate) into bench/out/ (or $BENCH_OUT):
#   profile-WORKLOAD-X.txt  CPU used, shares by library (dso) and the flat
#                           profile (self time by symbol, >= 0.5 %)
#   profile-WORKLOAD-X.data the perf data, for `perf report -i`
# PROFILE_CALLGRAPH=dwarf (default; needed for OpenSSL, which has no frame
# pointers), fp or none. PROFILE_PEER=cotai (default: mux, streams over a
# tunnel) or cotai-pc (`mux: off`, a TLS connection per connection).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${COTAI_BUILD:?set COTAI_BUILD to the absolute build directory}"
export LC_ALL=C
SECS=${PROFILE_SECONDS:-5}
CG=${PROFILE_CALLGRAPH:-dwarf}
PEER=${PROFILE_PEER:-cotai}
case $PEER in
cotai | cotai-pc) ;;
*) echo "profile: PROFILE_PEER is cotai or cotai-pc" >&2; exit 2 ;;
esac
OUT=${BENCH_OUT:-$here/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
command -v perf >/dev/null || { echo "profile: perf is not installed" >&2; exit 1; }
[ -x "$COTAI_BUILD/cotai-proxy" ] || { echo "profile: no cotai-proxy" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
cotai_snapshot

case $CG in
dwarf) CGARGS=(--call-graph dwarf,16384) ;;
fp) CGARGS=(--call-graph fp) ;;
*) CGARGS=() ;;
esac

# load WORKLOAD: run the load against $CHAIN_PORT for about $SECS seconds.
load() {
	case $1 in
	bulk) iperf3 -c 127.0.0.1 -p "$CHAIN_PORT" -t "$SECS" -f M |
		grep -E 'receiver' ;;
	bulk4) iperf3 -c 127.0.0.1 -p "$CHAIN_PORT" -t "$SECS" -f M -P 4 |
		grep -E 'SUM.*receiver' ;;
	handshake | fullhs) "$BT" connrate "$CHAIN_PORT" "$SECS" 8 ;;
	rtt) timeout $((SECS + 30)) "$BT" rtt "$CHAIN_PORT" $((SECS * 4000)) ;;
	redis) timeout $((SECS + 60)) redis-benchmark -h 127.0.0.1 \
		-p "$CHAIN_PORT" -c 50 -n $((SECS * 8000)) -t set,get -q |
		tr '\r' '\n' | grep -E '^(SET|GET):' ;;
	esac
}

# backend WORKLOAD: start the server the load talks to; sets BACKEND.
backend() {
	local port
	case $1 in
	bulk | bulk4)
		port=$("$BT" freeport)
		spawn iperf3 iperf3 -s -B 127.0.0.1 -p "$port"
		wait_listen "$port"
		BACKEND=$port BACKEND_PID=$LAST_PID ;;
	redis)
		port=$("$BT" freeport)
		spawn redis redis-server --bind 127.0.0.1 --port "$port" \
		    --save '' --appendonly no --dir "$W" --daemonize no
		wait_listen "$port"
		BACKEND=$port BACKEND_PID=$LAST_PID ;;
	*)
		start_echo
		BACKEND=$ECHO_PORT BACKEND_PID=$ECHO_PID ;;
	esac
}

profile_one() {
	local wl=$1 variant=resume a b pa pb c0 c1 x
	[ "$wl" = fullhs ] && variant=noresume
	backend "$wl"
	chain_start "$PEER" "$BACKEND" "$variant" || { note "$wl: no chain"; return 1; }
	read -r b a <<<"$CHAIN_PIDS"
	perf record -q -F 999 -g "${CGARGS[@]}" -p "$a" \
	    -o "$OUT/profile-$wl-a.data" 2>"$W/perf-a.log" &
	pa=$!
	perf record -q -F 999 -g "${CGARGS[@]}" -p "$b" \
	    -o "$OUT/profile-$wl-b.data" 2>"$W/perf-b.log" &
	pb=$!
	sleep 0.5
	c0=$(cpu_ticks "$a")" "$(cpu_ticks "$b")
	note "$wl: $(load "$wl" | tr '\n' ' ')"
	c1=$(cpu_ticks "$a")" "$(cpu_ticks "$b")
	kill -INT "$pa" "$pb"
	wait "$pa" "$pb" 2>/dev/null || true
	chain_stop
	stop_pids "$BACKEND_PID"
	set -- $c0 $c1
	for x in a b; do
		{
			echo "# cotai-proxy ($x: $([ $x = a ] && echo originate ||
			    echo terminate)) as $PEER under '$wl'," \
			    "$(date -u '+%F %T UTC')"
			[ $x = a ] && echo "# CPU: $(( ($3 - $1) * 1000 / HZ )) ms" ||
			    echo "# CPU: $(( ($4 - $2) * 1000 / HZ )) ms"
			echo "# $COTAI_VERSION"
			echo
			echo "## by library"
			perf report -i "$OUT/profile-$wl-$x.data" --no-children \
			    --stdio --sort dso -g none 2>/dev/null |
			    grep -v '^#' | grep -v '^$' | head -n 12
			echo
			echo "## flat profile (self)"
			perf report -i "$OUT/profile-$wl-$x.data" --no-children \
			    --stdio --sort dso,sym -g none --percent-limit 0.5 \
			    2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 45
		} >"$OUT/profile-$wl-$x.txt"
	done
	note "$wl: $OUT/profile-$wl-a.txt, $OUT/profile-$wl-b.txt"
}

for wl in ${*:-bulk handshake fullhs}; do
	case $wl in
	bulk | bulk4 | handshake | fullhs | rtt | redis) profile_one "$wl" ;;
	*) note "unknown workload $wl"; exit 2 ;;
	esac
done
