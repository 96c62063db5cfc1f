#!/usr/bin/env bash
# bench/regress.sh: is this build of cotai-proxy slower than an older one?
#
#   COTAI_BUILD=/abs/build bench/regress.sh [BASE]
#   make bench-regress [BASE=<commit>]
#
# BASE (default 1c4edd0, main before issue 12's refactoring) is exported
# with `git archive` into the work directory and its cotai-proxy built
# there (kept in $COTAI_BUILD/bench/base-<commit>/ for the next run); the
# other side is $COTAI_BUILD/cotai-proxy, the tree being tested. Both are
# copied into the work directory first, so a rebuild meanwhile changes
# nothing. Then, for each transport (mux: the default, streams over one
# tunnel; pc: `mux: off`, a TLS connection per connection) and each of
# REGRESS_REPEAT repetitions (default 3), a base chain and a new chain run
# the same loads one after the other, which of the two goes first
# alternating from one repetition to the next:
#
#   bulk     iperf3 -P 1 for T_BULK s (MB/s) and the proxies' CPU per GB
#   rtt      benchtool rtt: N_RTT sequential 64-byte round trips (p50, p99)
#   connect  benchtool connrate: a new connection per request, 8 in
#            flight, T_HS s, with resumption (conn/s) and CPU per connection
#
# The chains are bench/peers.sh's cotai chain (two proxies, mutual TLS 1.3,
# one worker each) with the same certificates. For each figure it prints
# the medians of base and new and the ratio new/base: its median over the
# repetitions (each repetition's pair compared) and min-max, and whether
# new is better or worse. A ratio whose min-max range holds 1 is within the
# noise of this run. The table goes to standard output and, with every raw
# figure, to $BENCH_OUT (default bench/out/): regress.md, regress.tsv.
#
# Environment:
#   REGRESS_REPEAT=N  repetitions (default 3; at least 3 for a verdict)
#   BENCH_QUICK=1     short loads (1 s, 2,000 round trips): a smoke run
#   BENCH_OUT=DIR     where regress.md and regress.tsv go
#   KEEP_TMP=1        keep the work directory (configs, logs, base tree)
#
# Everything runs on 127.0.0.1; every process started here is stopped by
# PID when the script exits, and the work directory is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${COTAI_BUILD:?set COTAI_BUILD to the absolute build directory}"
export LC_ALL=C

BASE=${1:-${BASE:-1c4edd0}}
REPEAT=${REGRESS_REPEAT:-3}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	T_BULK=1 N_RTT=2000 T_HS=1
else
	T_BULK=3 N_RTT=5000 T_HS=2
fi
HS_CONC=8
OUT=${BENCH_OUT:-$here/out}
REPO=$(git -C "$here/.." rev-parse --show-toplevel)
BASE_SHA=$(git -C "$REPO" rev-parse --verify --quiet "$BASE^{commit}") || {
	echo "regress: $BASE is not a commit of $REPO" >&2
	exit 2
}
BASE_SHORT=${BASE_SHA:0:12}
[ -x "$COTAI_BUILD/cotai-proxy" ] || {
	echo "regress: $COTAI_BUILD/cotai-proxy is not built" >&2
	exit 2
}
command -v iperf3 >/dev/null || {
	echo "regress: iperf3 is missing (make deps, or mk/deps.sh bench)" >&2
	exit 2
}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

# --- the two binaries ----------------------------------------------------------

# The base: built once per commit, from a git archive of it (no worktree,
# nothing written into the repository).
BASE_BUILD=$COTAI_BUILD/bench/base-$BASE_SHORT
if [ ! -x "$BASE_BUILD/cotai-proxy" ]; then
	note "building cotai-proxy at $BASE_SHORT (once; kept in $BASE_BUILD)"
	mkdir -p "$W/base-src"
	git -C "$REPO" archive "$BASE_SHA" | tar -x -C "$W/base-src"
	if ! make -C "$W/base-src" -j"$(nproc)" BUILD="$W/base-build" \
	    COTAI_COMMIT="$BASE_SHORT" "$W/base-build/cotai-proxy" \
	    >"$W/base-build.log" 2>&1; then
		tail -n 20 "$W/base-build.log" >&2
		echo "regress: building $BASE_SHORT failed" >&2
		exit 1
	fi
	mkdir -p "$BASE_BUILD"
	cp "$W/base-build/cotai-proxy" "$BASE_BUILD/cotai-proxy.tmp"
	mv "$BASE_BUILD/cotai-proxy.tmp" "$BASE_BUILD/cotai-proxy"
fi
cp "$BASE_BUILD/cotai-proxy" "$W/cotai-proxy-base"
cp "$COTAI_BUILD/cotai-proxy" "$W/cotai-proxy-new"
NEW_DESC="$COTAI_BUILD/cotai-proxy ($("$W/cotai-proxy-new" --version 2>&1 |
    head -n 1))"
BASE_DESC="$BASE_SHORT ($("$W/cotai-proxy-base" --version 2>&1 | head -n 1))"

# --- loads -------------------------------------------------------------------------

# chain_up SIDE TRANSPORT BACKEND: bench/peers.sh's cotai chain with SIDE's
# binary (base or new), TRANSPORT mux (the default) or pc (mux: off).
chain_up() {
	local mux=""
	[ "$2" = mux ] || mux=off
	COTAI_PROXY=$W/cotai-proxy-$1 COTAI_MUX=$mux cotai_start "$3" resume
}

# record_r LOAD METRIC SIDE TRANSPORT VALUE: one figure of repetition $REP.
record_r() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$REP" \
	    >>"$RESULTS"
}

load_bulk() { # SIDE TRANSPORT
	local c0 c1 js
	c0=$(cpu_ticks $CHAIN_PIDS)
	js=$(timeout $((T_BULK + 30)) iperf3 -c 127.0.0.1 -p "$CHAIN_PORT" \
	    -J -t "$T_BULK" -P 1 2>/dev/null) || return 1
	c1=$(cpu_ticks $CHAIN_PIDS)
	set -- "$1" "$2" $(echo "$js" | awk -F'[:,]' '
	    /"sum_received"/ { on = 1; next }
	    on && /"bytes"/ { b = $2 + 0 }
	    on && /"bits_per_second"/ { r = $2 + 0 }
	    on && /}/ { printf "%.0f %.0f\n", b, r; exit }')
	[ $# -eq 4 ] || return 1
	record_r bulk mbs "$1" "$2" "$(awk -v r="$4" 'BEGIN { printf "%.1f", r / 8e6 }')"
	record_r bulk cpu_s_per_gb "$1" "$2" "$(awk -v c=$((c1 - c0)) \
	    -v hz="$HZ" -v b="$3" 'BEGIN { printf "%.3f", c / hz / (b / 1e9) }')"
}

load_rtt() { # SIDE TRANSPORT
	local out
	out=$(timeout 120 "$BT" rtt "$CHAIN_PORT" "$N_RTT") || return 1
	record_r rtt p50_us "$1" "$2" "$(kv p50_us "$out")"
	record_r rtt p99_us "$1" "$2" "$(kv p99_us "$out")"
}

load_connect() { # SIDE TRANSPORT
	local out c0 c1
	c0=$(cpu_ticks $CHAIN_PIDS)
	out=$("$BT" connrate "$CHAIN_PORT" "$T_HS" "$HS_CONC") || return 1
	c1=$(cpu_ticks $CHAIN_PIDS)
	[ "$(kv errors "$out")" = 0 ] ||
	    note "connect: $1 $2: $(kv errors "$out") failed connections"
	record_r connect cps "$1" "$2" "$(kv cps "$out")"
	record_r connect cpu_ms_per_conn "$1" "$2" "$(awk -v c=$((c1 - c0)) \
	    -v hz="$HZ" -v n="$(kv total "$out")" \
	    'BEGIN { printf "%.3f", c / hz * 1000 / n }')"
}

# run_side SIDE TRANSPORT: every load on a fresh chain each (a load does
# not inherit the previous one's session cache, buffers or tunnel).
run_side() {
	local side=$1 tr=$2 load backend
	for load in bulk rtt connect; do
		backend=$ECHO_PORT
		[ "$load" != bulk ] || backend=$IPERF_PORT
		note "$load: $side, $tr ($REP/$REPEAT)"
		if ! chain_up "$side" "$tr" "$backend"; then
			note "$load: the $side chain did not start"
			tail -n 3 "$W/cotai-a.log" "$W/cotai-b.log" >&2 || true
			chain_stop
			FAILED=$((FAILED + 1))
			continue
		fi
		"load_$load" "$side" "$tr" || {
			note "$load: $side, $tr: measurement failed"
			FAILED=$((FAILED + 1))
		}
		chain_stop
	done
}

# --- run -------------------------------------------------------------------------------

FAILED=0
START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
start_echo
IPERF_PORT=$("$BT" freeport)
spawn iperf3 iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
IPERF_PID=$LAST_PID
wait_listen "$IPERF_PORT"
for REP in $(seq "$REPEAT"); do
	for tr in mux pc; do
		if [ $((REP % 2)) = 1 ]; then
			run_side base "$tr"
			run_side new "$tr"
		else
			run_side new "$tr"
			run_side base "$tr"
		fi
	done
done
stop_pids "$IPERF_PID" "$ECHO_PID"
ELAPSED=$(($(date +%s) - START))

# --- report ------------------------------------------------------------------------

# Per load, metric and transport: base and new medians, and the ratios
# new/base of each repetition (median, min, max). hi: more is better.
report() {
	awk -F'\t' -v OFS='\t' '
	function med(a, n,   i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ key = $1 "\t" $2 "\t" $4; keys[key] = 1; v[key, $3, $6] = $5
	  reps[$6] = 1 }
	END {
		for (key in keys) {
			split(key, k, "\t")
			hi = (k[2] == "mbs" || k[2] == "cps")
			nb = nn = nr = 0
			for (r in reps) {
				b = v[key, "base", r]; n = v[key, "new", r]
				if (b != "") bs[++nb] = b
				if (n != "") ns[++nn] = n
				if (b != "" && n != "" && b > 0) rs[++nr] = n / b
			}
			if (nr == 0) continue
			m = med(rs, nr)
			lo = rs[1]; top = rs[nr]
			if (nr < 3)
				verdict = "too few runs"
			else if (lo <= 1 && top >= 1)
				verdict = "noise"
			else
				verdict = ((m > 1) == hi) ? "better" : "worse"
			printf "%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%.3f\t%d\t%s\n",
			    k[1], k[2], k[3], med(bs, nb), med(ns, nn), m, lo,
			    top, nr, verdict
		}
	}' "$RESULTS" | sort -t"$(printf '\t')" -k1,1 -k2,2 -k3,3
}

SUMMARY=$(report)
{
	echo "# cotai-proxy: new against base"
	echo
	echo "- base: $BASE_DESC"
	echo "- new: $NEW_DESC"
	echo "- $REPEAT repetition(s), base and new alternating which runs first;" \
	    "loads: bulk $T_BULK s, rtt $N_RTT round trips, connect $T_HS s" \
	    "with $HS_CONC in flight"
	echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), ${ELAPSED} s, load average" \
	    "$LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at" \
	    "the end, $(nproc) CPUs; $FAILED failed measurements"
	echo
	echo "| load | figure | transport | base | new | new/base | min-max | n | |"
	echo "|---|---|---|---:|---:|---:|---|---:|---|"
	echo "$SUMMARY" | awk -F'\t' 'NF { printf "| %s | %s | %s | %s | %s | %s | %s-%s | %s | %s |\n",
	    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
	echo
	echo "mbs and cps: higher is better; the others lower. \"noise\": the"
	echo "ratio's min-max holds 1; a verdict needs at least 3 repetitions."
} >"$OUT/regress.md"
{
	printf 'load\tmetric\tside\ttransport\tvalue\trepetition\n'
	cat "$RESULTS"
} >"$OUT/regress.tsv"
cat "$OUT/regress.md"
note "done in ${ELAPSED}s: $OUT/regress.md, $OUT/regress.tsv"
[ "$FAILED" = 0 ]
