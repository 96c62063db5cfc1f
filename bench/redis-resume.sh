#!/usr/bin/env bash
# bench/redis-resume.sh: does `tls_resumption` change what cotai costs per
# request on persistent connections? (issue 16's "redis oddity")
#
#   COTAI_BUILD=/abs/build bench/redis-resume.sh
#
# Paired trials: in each pair and for each transport (cotai: mux, the
# default; cotai-pc: `mux: off` on both ends), the same redis-benchmark
# load as bench/run.sh's redis scenario (-c 50 -n N -t set,get) runs once
# with `tls_resumption: true` and once with `false`, each on a fresh chain
# (bench/peers.sh's, the variants "resume" and "noresume"), back to back;
# the order of the two settings alternates from pair to pair, and so does
# which transport goes first. Load from other processes on the machine
# then hits both settings of a pair alike, and the ratio on ÷ off within a
# pair is what is compared.
#
# Each trial records: SET and GET req/s, p50 and max latency (redis-
# benchmark's --csv), the proxies' CPU per request (utime + stime from
# /proc/PID/stat before and after, A and B separately and summed, over
# the 2 N requests), redis-server's CPU per request, redis-benchmark's
# own CPU and wall time, the 1-minute load average before the trial, and
# from B's audit lines (the chains log at info: one line per connection,
# the same for both settings) how many handshakes there were and how many
# resumed, which checks that the setting did what it says.
#
# Environment:
#   RR_PAIRS=N      pairs per transport (default 10)
#   RR_N=N          requests per test (default 20000, as bench/run.sh)
#   RR_PEERS="..."  transports (default "cotai-pc cotai")
#   BENCH_OUT=DIR   output directory (default bench/out); writes
#                   redis-resume.tsv (one row per trial and figure) and
#                   redis-resume.md (the paired summary)
#   KEEP_TMP=1      keep the work directory
#   RR_SUMMARY=TSV  only print the summary of an earlier run's
#                   redis-resume.tsv (nothing is started)
#   RR_CALLGRIND=1  run both proxies under valgrind --tool=callgrind with
#                   collection only inside conn_relay_step() (and what it
#                   calls: the pumps, SSL_read/SSL_write, the syscalls), so
#                   handshakes and connection set-up are left out, and
#                   record the instructions each proxy executes per
#                   request there (ir_a, ir_b, ir: A+B): the relay's cost on
#                   an open connection, which the machine's load does not
#                   change. mux: off only (a mux stream is relayed by
#                   mux.c, not conn_relay_step); RR_N defaults to 2000
#                   (valgrind is ~50 times slower) and the handshake
#                   timeout to 300 s (COTAI_ROUTE_YAML, unless set: 50
#                   full handshakes at once take longer than the default
#                   10 s under valgrind). The CPU and req/s figures of such
#                   a run measure valgrind, not cotai.
#
# The summary gives, per transport and figure, the medians (min-max) of
# each setting, the median (min-max) of the per-pair ratio on ÷ off, in
# how many pairs "on" was higher, a two-sided sign test, and a 95 %
# interval for the mean ratio (t over the pairs' log ratios): an effect
# outside that interval is ruled out by the data, one inside it is not.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# summary_table TSV: the paired table of a run's redis-resume.tsv.
summary_table() {
	awk -F'\t' '
	NR == 1 { next }
	{ v[$1, $5, $4, $2] = $6; seen[$1] = 1; m[$5] = 1; p[$2] = 1
	  if (!(($1) in order)) { order[$1] = ++nt; tn[nt] = $1 } }
	function sortn(a, n,   i, j, x) {
		for (i = 2; i <= n; i++) {
			x = a[i]
			for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]
			a[j + 1] = x
		}
	}
	function med(a, n) {
		sortn(a, n)
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function tq(df) { # two-sided 95 % quantile of t
		split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 " \
		    "2.262 2.228 2.201 2.179 2.160 2.145 2.131 2.120 2.110 " \
		    "2.101 2.093 2.086 2.080 2.074 2.069 2.064 2.060 2.056 " \
		    "2.052 2.048 2.045 2.042", q, " ")
		return df <= 30 ? q[df] : 2.0
	}
	function signp(k, n,   i, c, s, lo) { # two-sided binomial(n, 1/2)
		lo = k < n - k ? k : n - k
		s = 0
		for (i = 0; i <= lo; i++) {
			c = 1
			for (j = 0; j < i; j++) c = c * (n - j) / (j + 1)
			s += c
		}
		s = 2 * s / 2 ^ n
		return s > 1 ? 1 : s
	}
	function fmt(x) {
		return x >= 1000 ? sprintf("%.0f", x) : x >= 10 ? \
		    sprintf("%.1f", x) : sprintf("%.2f", x)
	}
	END {
		split("ir ir_a ir_b set_rps get_rps cpu_us cpu_a_us cpu_b_us redis_cpu_us " \
		    "client_cpu_us wall_s set_p50_ms get_p50_ms set_max_ms " \
		    "get_max_ms handshakes resumed connections load1", ms, " ")
		print "| transport | figure | on | off | on/off per pair | on higher | sign p | 95 % interval of on/off |"
		print "|---|---|--:|--:|--:|--:|--:|--:|"
		for (t = 1; t <= nt; t++) for (k = 1; k in ms; k++) {
			f = ms[k]; if (!(f in m)) continue
			n = 0; no = 0; nf = 0; hi = 0; eq = 0; sl = 0; sl2 = 0
			delete A; delete B; delete R
			for (pp in p) {
				a = v[tn[t], f, "on", pp]; b = v[tn[t], f, "off", pp]
				if (a != "") A[++no] = a + 0
				if (b != "") B[++nf] = b + 0
				if (a == "" || b == "") continue
				n++
				if (a + 0 > b + 0) hi++
				else if (a + 0 == b + 0) eq++
				if (a > 0 && b > 0) {
					r = a / b; R[n] = r
					sl += log(r); sl2 += log(r) ^ 2
				} else R[n] = (a == b) ? 1 : 0
			}
			if (n == 0) continue
			mo = med(A, no); mf = med(B, nf)
			amin = A[1]; amax = A[no]; bmin = B[1]; bmax = B[nf]
			mr = med(R, n)
			ci = "-"
			if (n > 1 && f != "handshakes" && f != "resumed" &&
			    f != "connections") {
				mean = sl / n; sd = sqrt((sl2 - n * mean ^ 2) / (n - 1))
				h = tq(n - 1) * sd / sqrt(n)
				ci = sprintf("%.3f-%.3f", exp(mean - h), exp(mean + h))
			}
			printf "| %s | %s | %s (%s-%s) | %s (%s-%s) | %.3f (%.3f-%.3f) | %d of %d%s | %.2g | %s |\n",
			    tn[t], f, fmt(mo), fmt(amin), fmt(amax),
			    fmt(mf), fmt(bmin), fmt(bmax), mr, R[1], R[n],
			    hi, n, eq ? sprintf(" (%d ties)", eq) : "",
			    signp(hi, n - eq), ci
		}
	}' "$1"
}

if [ -n "${RR_SUMMARY:-}" ]; then
	summary_table "$RR_SUMMARY"
	exit 0
fi
: "${COTAI_BUILD:?set COTAI_BUILD to the absolute build directory}"
export LC_ALL=C
PAIRS=${RR_PAIRS:-10}
CALLGRIND=${RR_CALLGRIND:-0}
if [ "$CALLGRIND" = 1 ]; then
	N=${RR_N:-2000}
	export COTAI_ROUTE_YAML=${COTAI_ROUTE_YAML:-"timeouts: { handshake: 300s }"}
	TRANSPORTS=${RR_PEERS:-cotai-pc}
else
	N=${RR_N:-20000}
	TRANSPORTS=${RR_PEERS:-cotai-pc cotai}
fi
OUT=${BENCH_OUT:-$here/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
cotai_snapshot
[ -x "$COTAI_PROXY" ] || { note "no cotai-proxy in $COTAI_BUILD"; exit 1; }
export COTAI_LOG_LEVEL=info
if [ "$CALLGRIND" = 1 ]; then
	# valgrind keeps the PID: the profile is named after the PID in
	# CHAIN_PIDS. Callgrind opens it at the start (as root) and again
	# at the exit, when cotai runs as "nobody": nobody must own it.
	CGD=$W/callgrind
	mkdir -m 1777 "$CGD"
	cat >"$W/cotai-cg" <<EOF
#!/bin/sh
: >$CGD/\$\$.cg
chown nobody $CGD/\$\$.cg
exec valgrind --tool=callgrind --toggle-collect=conn_relay_step \\
    --callgrind-out-file=$CGD/%p.cg --log-file=$CGD/%p.log \\
    $COTAI_PROXY "\$@"
EOF
	chmod 755 "$W/cotai-cg"
	COTAI_PROXY=$W/cotai-cg
fi

TSV=$OUT/redis-resume.tsv
printf 'transport\tpair\tpos\tsetting\tmetric\tvalue\n' >"$TSV"
# rec METRIC VALUE: one figure of the current trial.
rec() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$T" "$PAIR" "$POS" "$SET" "$1" "$2" \
	    >>"$TSV"
}

# per_req TICKS: microseconds of CPU per request over the trial's 2 N.
per_req() {
	awk -v c="$1" -v hz="$HZ" -v n="$N" \
	    'BEGIN { printf "%.2f", c / hz * 1e6 / (2 * n) }'
}

# cg_total PID: the instructions callgrind counted in PID (0: no profile).
cg_total() {
	awk '$1 == "totals:" || $1 == "summary:" { t = $2 }
	    END { print t + 0 }' "$CGD/$1.cg" 2>/dev/null || echo 0
}

# ir_req IR: instructions per request over the trial's 2 N.
ir_req() {
	awk -v i="$1" -v n="$N" 'BEGIN { printf "%.0f", i / (2 * n) }'
}

# csv_field TEST COLUMN: a column of redis-benchmark's --csv line for TEST
# ("test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...).
csv_field() {
	echo "$CSV" | awk -F'"' -v t="$1" -v c="$2" \
	    '$2 == t { print $(2 * c) }'
}

# trial: one redis-benchmark run through a fresh chain of transport $T
# with setting $SET (on|off).
trial() {
	local variant=resume a b ca0 cb0 cr0 ca1 cb1 cr1 tm res ia ib
	[ "$SET" = on ] || variant=noresume
	: >"$W/cotai-a.log"
	: >"$W/cotai-b.log"
	chain_start "$T" "$RPORT" "$variant" || {
		tail -n 5 "$W/cotai-a.log" "$W/cotai-b.log" >&2
		return 1
	}
	read -r b a <<<"$CHAIN_PIDS"
	rec load1 "$(cut -d' ' -f1 /proc/loadavg)"
	ca0=$(cpu_ticks "$a") cb0=$(cpu_ticks "$b") cr0=$(cpu_ticks "$RPID")
	TIMEFORMAT='%R %U %S'
	{ time CSV=$(timeout 300 redis-benchmark -h 127.0.0.1 \
	    -p "$CHAIN_PORT" -c 50 -n "$N" -t set,get --csv 2>/dev/null) ||
	    CSV=""; } \
	    2>"$W/time"
	ca1=$(cpu_ticks "$a") cb1=$(cpu_ticks "$b") cr1=$(cpu_ticks "$RPID")
	chain_stop
	if [ "$CALLGRIND" = 1 ]; then
		ia=$(cg_total "$a") ib=$(cg_total "$b")
		rec ir_a "$(ir_req "$ia")"
		rec ir_b "$(ir_req "$ib")"
		rec ir "$(ir_req $((ia + ib)))"
		note "$T $SET (pair $PAIR): instructions per request in conn_relay_step: A $(ir_req "$ia"), B $(ir_req "$ib")"
	fi
	read -r tm <"$W/time"
	rec set_rps "$(csv_field SET 2)"
	rec get_rps "$(csv_field GET 2)"
	rec set_p50_ms "$(csv_field SET 5)"
	rec get_p50_ms "$(csv_field GET 5)"
	rec set_max_ms "$(csv_field SET 8)"
	rec get_max_ms "$(csv_field GET 8)"
	rec cpu_us "$(per_req $((ca1 - ca0 + cb1 - cb0)))"
	rec cpu_a_us "$(per_req $((ca1 - ca0)))"
	rec cpu_b_us "$(per_req $((cb1 - cb0)))"
	rec redis_cpu_us "$(per_req $((cr1 - cr0)))"
	# shellcheck disable=SC2086 # three numbers
	set -- $tm
	rec wall_s "$1"
	rec client_cpu_us "$(awk -v u="$2" -v s="$3" -v n="$N" \
	    'BEGIN { printf "%.2f", (u + s) * 1e6 / (2 * n) }')"
	# B's audit lines: with mux: off one "close" line per connection
	# (resumed= is its handshake's); with mux the handshakes are the
	# tunnels' ("tunnel_close"), the connections are streams.
	res=$(awk '/event=close / && !/ stream=/ { h++; if (/resumed=true/) r++ }
	    /event=tunnel_close / { h++; if (/resumed=true/) r++ }
	    /event=close / { n++ }
	    END { printf "%d %d %d\n", h, r, n }' "$W/cotai-b.log")
	# shellcheck disable=SC2086 # three numbers
	set -- $res
	rec handshakes "$1"
	rec resumed "$2"
	rec connections "$3"
	note "$T $SET (pair $PAIR): SET $(csv_field SET 2) GET $(csv_field GET 2) req/s, $(per_req $((ca1 - ca0 + cb1 - cb0))) us CPU/req, $2 of $1 handshakes resumed, $3 connections, load $(cut -d' ' -f1 /proc/loadavg)"
}

RPORT=$("$BT" freeport)
mkdir -p "$W/redis"
spawn redis redis-server --bind 127.0.0.1 --port "$RPORT" --save '' \
    --appendonly no --dir "$W/redis" --daemonize no --maxclients 1000
RPID=$LAST_PID
wait_listen "$RPORT"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date -u '+%F %T UTC')
for PAIR in $(seq "$PAIRS"); do
	ts=$TRANSPORTS
	if [ $((PAIR % 2)) = 0 ]; then # the other way round
		ts=""
		for T in $TRANSPORTS; do ts="$T $ts"; done
	fi
	for T in $ts; do
		ss="on off"
		[ $((PAIR % 2)) = 1 ] || ss="off on"
		POS=0
		for SET in $ss; do
			POS=$((POS + 1))
			trial || note "$T $SET (pair $PAIR): failed"
		done
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
stop_pids "$RPID"

# --- summary ---------------------------------------------------------------

summary() {
	cat <<EOF
# redis -c 50, tls_resumption on vs off, paired

\`COTAI_BUILD=$COTAI_BUILD${RR_CALLGRIND:+ RR_CALLGRIND=$RR_CALLGRIND}${RR_PAIRS:+ RR_PAIRS=$RR_PAIRS}${RR_N:+ RR_N=$RR_N}${RR_PEERS:+ RR_PEERS="$RR_PEERS"} bench/redis-resume.sh\`${COTAI_ROUTE_YAML:+ (COTAI_ROUTE_YAML="$COTAI_ROUTE_YAML")},
$START, $PAIRS pairs per transport, $N requests per test;
load average $LOAD_START at the start, $LOAD_END at the end.
$COTAI_VERSION.

Each figure: median (min-max) per setting; the per-pair ratio on/off:
median (min-max); pairs where "on" is higher; the sign test's two-sided p;
the 95 % interval of the mean ratio (t over the log ratios).

EOF
	summary_table "$TSV"
}
summary >"$OUT/redis-resume.md"
cat "$OUT/redis-resume.md"
note "$TSV, $OUT/redis-resume.md"
