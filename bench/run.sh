#!/usr/bin/env bash
# bench/run.sh: cotai's benchmark suite (see bench/README.md).
#
#   COTAI_BUILD=/abs/build bench/run.sh [SCENARIO...]
#
# Scenarios: speed bulk latency hol hol-paced handshake memory redis pgbench
# (default: all).
# Every scenario runs the same load through each peer's two-hop chain
# (bench/peers.sh): direct (the ceiling), stunnel, haproxy, nginx, cotai (its
# default transport: mux, streams over one tunnel) and cotai-pc (mux: off,
# one TLS connection per connection),
# BENCH_REPEAT times (default 3), the peers interleaved, and reports medians
# with their spread (min-max).
#
# Environment:
#   BENCH_REPEAT=N    repetitions (default 3; 1 with BENCH_QUICK=1); a full
#                     run (one that writes into bench/) needs at least 3
#   BENCH_QUICK=1     a ~2-minute smoke run (short durations, one repeat)
#   BENCH_PEERS="..." peers to run (default: direct stunnel haproxy nginx
#                     cotai cotai-pc)
#   BENCH_OUT=DIR     where RESULTS.md, results.png and results.tsv go; the
#                     default is bench/ for a full run (all scenarios and
#                     peers, not quick, no COTAI_*YAML) and bench/out/
#                     otherwise, so smoke runs and experiments never
#                     overwrite the committed results
#   BENCH_HOL_MBS=R   hol-paced: the bulk connection's pace in MB/s (default
#                     50: a quarter to a third of what hol's unpaced bulk
#                     connection moves through a sidecar chain here; echoed,
#                     so each proxy carries twice that)
#   KEEP_TMP=1        keep the work directory (configs, logs)
#   COTAI_YAML, COTAI_ROUTE_YAML  extra top-level / per-route lines for the
#                     cotai configs (experiments; shown in RESULTS.md)
#
# Everything runs on 127.0.0.1; every process started here is stopped by PID
# when the script exits, and the work directory is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${COTAI_BUILD:?set COTAI_BUILD to the absolute build directory}"
export LC_ALL=C

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	REPEAT=${BENCH_REPEAT:-1}
	T_BULK=1 T_HS=1 N_RTT=2000 N_HOLD=2000 N_REDIS=10000 T_PG=2
	N_REDIS_K0=1000 N_HOL=200
else
	REPEAT=${BENCH_REPEAT:-3}
	T_BULK=3 T_HS=2 N_RTT=5000 N_HOLD=2000 N_REDIS=20000 T_PG=3
	N_REDIS_K0=4000 N_HOL=500
fi
HS_CONC=8
ALL_SCENARIOS="speed bulk latency hol hol-paced handshake memory redis pgbench"
HOL_PACE=${BENCH_HOL_MBS:-50}
SCENARIOS=${*:-$ALL_SCENARIOS}
for s in $SCENARIOS; do
	case " $ALL_SCENARIOS " in
	*" $s "*) ;;
	*) echo "bench: unknown scenario '$s' (have: $ALL_SCENARIOS)" >&2
		exit 2 ;;
	esac
done
if [ -n "${BENCH_OUT:-}" ]; then
	OUT=$BENCH_OUT
elif [ "$SCENARIOS" = "$ALL_SCENARIOS" ] && [ "$QUICK" != 1 ] &&
    [ -z "${BENCH_PEERS:-}${COTAI_YAML:-}${COTAI_ROUTE_YAML:-}" ]; then
	OUT=$here
else
	OUT=$here/out
fi
if [ "$OUT" = "$here" ] && [ "$REPEAT" -lt 3 ]; then
	echo "bench: a full run writes bench/RESULTS.md and needs at least 3" \
	    "repetitions (BENCH_REPEAT=$REPEAT); use BENCH_OUT for fewer" >&2
	exit 2
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if ! [[ $HOL_PACE =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
    ! awk -v r="$HOL_PACE" 'BEGIN { exit !(r > 0) }'; then
	echo "bench: BENCH_HOL_MBS must be a positive number of MB/s" \
	    "('$HOL_PACE')" >&2
	exit 2
fi
COMMAND="COTAI_BUILD=$COTAI_BUILD${BENCH_QUICK:+ BENCH_QUICK=$BENCH_QUICK}${BENCH_HOL_MBS:+ BENCH_HOL_MBS=$BENCH_HOL_MBS}${BENCH_REPEAT:+ BENCH_REPEAT=$BENCH_REPEAT}${BENCH_PEERS:+ BENCH_PEERS=\"$BENCH_PEERS\"}${COTAI_YAML:+ COTAI_YAML=\"$COTAI_YAML\"}${COTAI_ROUTE_YAML:+ COTAI_ROUTE_YAML=\"$COTAI_ROUTE_YAML\"} bench/run.sh${*:+ $*}"

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

ALL_PEERS="direct stunnel haproxy nginx cotai cotai-pc"
PEERS=${BENCH_PEERS:-$ALL_PEERS}
case " $PEERS " in
*" cotai "* | *" cotai-pc "*) COTAI_STATUS=ok ;;
*) COTAI_STATUS="n/a (not in BENCH_PEERS)" ;;
esac
# The build directory is shared: wait (up to 30 s) for a binary that is
# there and has not changed for 2 s, so a rebuild in progress is not caught.
if [ "$COTAI_STATUS" = ok ]; then
	for i in $(seq 30); do
		[ -x "$COTAI_BUILD/cotai-proxy" ] &&
		    [ $(($(date +%s) - $(stat -c %Y "$COTAI_BUILD/cotai-proxy"))) -ge 2 ] &&
		    break
		sleep 1
	done
	[ -x "$COTAI_BUILD/cotai-proxy" ] || COTAI_STATUS="n/a (not built)"
fi
[ "$COTAI_STATUS" != ok ] || cotai_snapshot
# The checks each peer passes before it is measured: check_peer.
# shellcheck source=bench/checks.sh
. "$here/checks.sh"

# Peers whose "noresume" variant still resumed in the check: not measured.
NORESUME_BROKEN=""
CHECKS=""
start_echo
for peer in $PEERS; do
	[ "$peer" != direct ] || continue
	case $peer in cotai*) [ "$COTAI_STATUS" = ok ] || continue ;; esac
	if check_peer "$peer"; then
		continue
	fi
	note "$peer: $CHECK_MSG; left out"
	for f in "${peer%-pc}"-a "${peer%-pc}"-b; do
		[ -f "$W/$f.log" ] && tail -n 5 "$W/$f.log" >&2
	done
	if [ "$peer" = cotai ]; then
		COTAI_STATUS="n/a ($CHECK_MSG)"
		CHECKS="$CHECKS $peer: left out ($CHECK_MSG);"
	else
		CHECKS="$CHECKS $peer: left out ($CHECK_MSG);"
	fi
	PEERS=$(echo " $PEERS " | sed "s/ $peer / /")
done
[ "$COTAI_STATUS" = ok ] ||
    PEERS=$(echo " $PEERS " | sed "s/ cotai / /; s/ cotai-pc / /")
PEERS=$(echo $PEERS)
stop_pids "$ECHO_PID"

# The peers in a different order on each repetition, so slow drift on a
# shared machine does not always favour the same one.
peer_order() {
	local rep=$1 arr i n
	read -ra arr <<<"$PEERS"
	n=${#arr[@]}
	for ((i = 0; i < n; i++)); do
		printf '%s ' "${arr[$(((i + rep) % n))]}"
	done
}

# with_chain PEER BACKEND VARIANT SCENARIO CMD...: run CMD with the chain up;
# a chain that does not start is noted and skipped.
with_chain() {
	local peer=$1 backend=$2 variant=$3 scen=$4 rc=0
	shift 4
	if [ "$variant" = noresume ] &&
	    [[ " $NORESUME_BROKEN " == *" $peer "* ]]; then
		return 0
	fi
	chain_start "$peer" "$backend" "$variant" || rc=$?
	if [ $rc -eq 2 ]; then
		return 0
	elif [ $rc -ne 0 ]; then
		note "$scen: $peer chain did not start; skipped"
		chain_stop
		return 0
	fi
	"$@" "$peer" || note "$scen: $peer: measurement failed"
	chain_stop
}

# --- scenarios ---------------------------------------------------------------

scen_speed() {
	local rep
	for rep in $(seq "$REPEAT"); do
		REP=$rep
		note "speed: openssl speed (the ceiling) ($rep/$REPEAT)"
		speed_one
	done
}

speed_one() {
	local out
	out=$(openssl speed -seconds 1 -bytes 16384 -evp aes-128-gcm 2>/dev/null)
	record speed aes_gcm_mbs - "$(echo "$out" |
	    awk '/^(AES-128-GCM|aes-128-gcm)/ { v = $NF; sub(/k$/, "", v);
		printf "%.0f", v / 1000 }')"
	out=$(openssl speed -seconds 1 ecdsap256 2>/dev/null)
	record speed ecdsa_sign - "$(echo "$out" |
	    awk '/ecdsa \(nistp256\)/ { printf "%.0f", $(NF-1) }')"
	record speed ecdsa_verify - "$(echo "$out" |
	    awk '/ecdsa \(nistp256\)/ { printf "%.0f", $NF }')"
	out=$(openssl speed -seconds 1 ecdhx25519 2>/dev/null)
	record speed x25519 - "$(echo "$out" |
	    awk '/ecdh \(X25519\)/ { printf "%.0f", $NF }')"
}

# iperf_run PEER METRIC ARGS...: one iperf3 run through the chain; records
# MB/s received and the proxies' CPU time per GB carried.
iperf_run() {
	local peer=$1 m=$2 c0 c1 js
	shift 2
	c0=$(cpu_ticks $CHAIN_PIDS)
	js=$(timeout $((T_BULK + 30)) iperf3 -c 127.0.0.1 -p "$CHAIN_PORT" \
	    -J "$@" 2>/dev/null) || return 1
	c1=$(cpu_ticks $CHAIN_PIDS)
	# "bytes" and "bits_per_second" of the end's "sum_received" object
	# (iperf3 prints one key per line; no JSON tool needed).
	set -- $(echo "$js" | awk -F'[:,]' '
	    /"sum_received"/ { on = 1; next }
	    on && /"bytes"/ { b = $2 + 0 }
	    on && /"bits_per_second"/ { r = $2 + 0 }
	    on && /}/ { printf "%.0f %.0f\n", b, r; exit }')
	[ $# -eq 2 ] || return 1
	record bulk "$m" "$peer" "$(awk -v r="$2" 'BEGIN { printf "%d", r / 8e6 }')"
	[ -z "$CHAIN_PIDS" ] || record bulk "cpu_$m" "$peer" \
	    "$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v b="$1" \
		'BEGIN { printf "%.2f", c / hz / (b / 1e9) }')"
}

bulk_one() {
	local peer=$1
	iperf_run "$peer" mbs_1 -t "$T_BULK" -P 1
	iperf_run "$peer" mbs_4 -t "$T_BULK" -P 4
	iperf_run "$peer" mbs_1r -t "$T_BULK" -P 1 -R
}

scen_bulk() {
	local port rep peer
	port=$("$BT" freeport)
	spawn iperf3 iperf3 -s -B 127.0.0.1 -p "$port"
	local ipid=$LAST_PID
	wait_listen "$port"
	for rep in $(seq "$REPEAT"); do
		for peer in $(peer_order "$rep"); do
			REP=$rep
			note "bulk: $peer ($rep/$REPEAT)"
			with_chain "$peer" "$port" resume bulk bulk_one
		done
	done
	stop_pids "$ipid"
}

latency_one() {
	local peer=$1 out
	out=$(timeout 120 "$BT" rtt "$CHAIN_PORT" "$N_RTT") || return 1
	record latency p50_us "$peer" "$(kv p50_us "$out")"
	record latency p99_us "$peer" "$(kv p99_us "$out")"
}


scen_latency() {
	local rep peer
	start_echo
	for rep in $(seq "$REPEAT"); do
		for peer in $(peer_order "$rep"); do
			REP=$rep
			note "latency: $peer ($rep/$REPEAT)"
			with_chain "$peer" "$ECHO_PORT" resume latency latency_one
		done
	done
	stop_pids "$ECHO_PID"
}

# hol: 64-byte round trips on one connection alone, then while a second
# connection through the same chain moves bulk data (with cotai's mux both
# are streams of one tunnel: head-of-line blocking shows here). The bulk
# connection is unpaced: it keeps both cores busy, so the scheduler has its
# share in the p99. hol-paced: the same with the bulk connection paced to
# $HOL_PACE MB/s (BENCH_HOL_MBS), which leaves the machine CPU to spare;
# the two side by side tell the transport's share from the scheduler's.
HOL_SCEN=hol HOL_MBS=0
hol_one() {
	local peer=$1 out
	# N_HOL, not N_RTT: under bulk a round trip can take tens of ms.
	out=$(timeout 90 "$BT" hol "$CHAIN_PORT" "$N_HOL" "$HOL_MBS") ||
	    return 1
	record "$HOL_SCEN" p99_idle_us "$peer" "$(kv p99_idle_us "$out")"
	record "$HOL_SCEN" p99_bulk_us "$peer" "$(kv p99_bulk_us "$out")"
	record "$HOL_SCEN" p50_bulk_us "$peer" "$(kv p50_bulk_us "$out")"
	record "$HOL_SCEN" bulk_mbs "$peer" "$(kv bulk_mbs "$out")"
	record "$HOL_SCEN" p99_ratio "$peer" "$(awk \
	    -v a="$(kv p99_bulk_us "$out")" -v b="$(kv p99_idle_us "$out")" \
	    'BEGIN { printf "%.2f", a / b }')"
}

# hol_rounds SCENARIO MBS: hol_one through every peer, REPEAT times.
hol_rounds() {
	local rep peer
	HOL_SCEN=$1 HOL_MBS=$2
	start_echo
	for rep in $(seq "$REPEAT"); do
		for peer in $(peer_order "$rep"); do
			REP=$rep
			note "$HOL_SCEN: $peer ($rep/$REPEAT)"
			with_chain "$peer" "$ECHO_PORT" resume "$HOL_SCEN" hol_one
		done
	done
	stop_pids "$ECHO_PID"
}

scen_hol() { hol_rounds hol 0; }
scen_hol_paced() { hol_rounds hol-paced "$HOL_PACE"; }

HS_VARIANT=resume
handshake_one() {
	local peer=$1 out c0 c1
	c0=$(cpu_ticks $CHAIN_PIDS)
	out=$("$BT" connrate "$CHAIN_PORT" "$T_HS" "$HS_CONC") || return 1
	c1=$(cpu_ticks $CHAIN_PIDS)
	# CPU per connection, over all the connections the run made (the
	# warm-up too: connrate counts those in total=).
	[ -z "$CHAIN_PIDS" ] || record handshake "cpu_$HS_VARIANT" "$peer" \
	    "$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v n="$(kv total "$out")" \
		'BEGIN { printf "%.3f", c / hz * 1000 / n }')"
	record handshake "cps_$HS_VARIANT" "$peer" "$(kv cps "$out")"
	record handshake "p50ms_$HS_VARIANT" "$peer" "$(kv p50_ms "$out")"
	[ "$(kv errors "$out")" = 0 ] ||
	    note "handshake: $peer: $(kv errors "$out") failed connections"
}

scen_handshake() {
	local rep peer
	start_echo
	for rep in $(seq "$REPEAT"); do
		for peer in $(peer_order "$rep"); do
			REP=$rep
			for HS_VARIANT in resume noresume; do
				note "handshake: $peer $HS_VARIANT ($rep/$REPEAT)"
				with_chain "$peer" "$ECHO_PORT" "$HS_VARIANT" \
				    handshake handshake_one
			done
		done
	done
	stop_pids "$ECHO_PID"
}

memory_one() {
	local peer=$1 before after hpid th0 i
	[ -n "$CHAIN_PIDS" ] || return 0 # direct: no proxy, nothing to weigh
	sleep 0.2
	before=$(mem_kib $CHAIN_PIDS)
	th0=$(threads $CHAIN_PIDS)
	rm -f "$W/hold.ready"
	spawn hold "$BT" hold "$CHAIN_PORT" "$N_HOLD" "$W/hold.ready"
	hpid=$LAST_PID
	for i in $(seq 600); do # up to 60 s for the handshakes
		[ -s "$W/hold.ready" ] && break
		sleep 0.1
	done
	if [ ! -s "$W/hold.ready" ] ||
	    [ "$(kv ok "$(cat "$W/hold.ready")")" != "$N_HOLD" ]; then
		note "memory: $peer held $(cat "$W/hold.ready" 2>/dev/null)"
		stop_pids "$hpid"
		return 1
	fi
	sleep 0.5
	after=$(mem_kib $CHAIN_PIDS)
	stop_pids "$hpid"
	# stunnel crashes if stopped with its connection threads still
	# running: let the proxies wind down to their idle thread count.
	for i in $(seq 50); do
		[ "$(threads $CHAIN_PIDS)" -le "$th0" ] && break
		sleep 0.1
	done
	set -- $before $after
	record memory rss_kib "$peer" "$(awk -v a="$1" -v b="$3" -v n="$N_HOLD" \
	    'BEGIN { printf "%.1f", (b - a) / n }')"
	record memory pss_kib "$peer" "$(awk -v a="$2" -v b="$4" -v n="$N_HOLD" \
	    'BEGIN { printf "%.1f", (b - a) / n }')"
}

scen_memory() {
	local rep peer
	start_echo
	for rep in $(seq "$REPEAT"); do
		for peer in $(peer_order "$rep"); do
			REP=$rep
			[ "$peer" = direct ] && continue
			note "memory: $peer ($rep/$REPEAT)"
			with_chain "$peer" "$ECHO_PORT" resume memory memory_one
		done
	done
	stop_pids "$ECHO_PID"
}

# redis_one PEER: -c 50 persistent connections; in the resume variant then
# -k 0 (a new connection per request). REDIS_VARIANT=noresume (cotai's
# two transports only) measures the persistent load with tls_resumption
# off, as set_rps_noresume and get_rps_noresume, in the same repetition.
REDIS_VARIANT=resume
redis_one() {
	local peer=$1 out c0 c1
	if [ "$REDIS_VARIANT" = noresume ]; then
		c0=$(cpu_ticks $CHAIN_PIDS)
		out=$(timeout 120 redis-benchmark -h 127.0.0.1 \
		    -p "$CHAIN_PORT" -c 50 -n "$N_REDIS" -t set,get --csv \
		    2>/dev/null) || return 1
		c1=$(cpu_ticks $CHAIN_PIDS)
		[ -z "$CHAIN_PIDS" ] || record redis cpu_us_noresume "$peer" \
		    "$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v n="$N_REDIS" \
			'BEGIN { printf "%.1f", c / hz * 1e6 / (2 * n) }')"
		record redis set_rps_noresume "$peer" "$(echo "$out" |
		    awk -F'"' '$2 == "SET" { printf "%.0f", $4 }')"
		record redis get_rps_noresume "$peer" "$(echo "$out" |
		    awk -F'"' '$2 == "GET" { printf "%.0f", $4 }')"
		return 0
	fi
	c0=$(cpu_ticks $CHAIN_PIDS)
	out=$(timeout 120 redis-benchmark -h 127.0.0.1 -p "$CHAIN_PORT" -c 50 \
	    -n "$N_REDIS" -t set,get --csv 2>/dev/null) || return 1
	c1=$(cpu_ticks $CHAIN_PIDS)
	[ -z "$CHAIN_PIDS" ] || record redis cpu_us "$peer" \
	    "$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v n="$N_REDIS" \
		'BEGIN { printf "%.1f", c / hz * 1e6 / (2 * n) }')"
	record redis set_rps "$peer" "$(echo "$out" |
	    awk -F'"' '$2 == "SET" { printf "%.0f", $4 }')"
	record redis get_rps "$peer" "$(echo "$out" |
	    awk -F'"' '$2 == "GET" { printf "%.0f", $4 }')"
	# After the persistent load, so both variants' persistent runs start
	# on a fresh chain.
	out=$(timeout 120 redis-benchmark -h 127.0.0.1 -p "$CHAIN_PORT" \
	    -k 0 -c 8 -n "$N_REDIS_K0" -t get --csv 2>/dev/null) || return 1
	record redis get_rps_k0 "$peer" "$(echo "$out" |
	    awk -F'"' '$2 == "GET" { printf "%.0f", $4 }')"
}

scen_redis() {
	local port rep peer vs
	port=$("$BT" freeport)
	mkdir -p "$W/redis"
	spawn redis redis-server --bind 127.0.0.1 --port "$port" --save '' \
	    --appendonly no --dir "$W/redis" --daemonize no --maxclients 1000
	local rpid=$LAST_PID
	wait_listen "$port"
	for rep in $(seq "$REPEAT"); do
		for peer in $(peer_order "$rep"); do
			REP=$rep
			# The two variants in turn first, so that neither
			# always runs after the other.
			vs="resume noresume"
			[ $((rep % 2)) = 1 ] || vs="noresume resume"
			for REDIS_VARIANT in $vs; do
				case $peer:$REDIS_VARIANT in
				*:resume | cotai*:noresume) ;;
				*) continue ;;
				esac
				note "redis: $peer $REDIS_VARIANT ($rep/$REPEAT)"
				with_chain "$peer" "$port" "$REDIS_VARIANT" \
				    redis redis_one
			done
		done
	done
	stop_pids "$rpid"
}

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
pg() { (cd "$W" && runuser -u postgres -- "$@"); }

pgbench_one() {
	local peer=$1 out
	out=$(timeout $((T_PG + 60)) pgbench -h 127.0.0.1 -p "$CHAIN_PORT" \
	    -U postgres -n -S -c 8 -j 2 -T "$T_PG" bench 2>&1) || return 1
	record pgbench tps "$peer" "$(echo "$out" |
	    awk '/^tps = / { printf "%.0f", $3; exit }')"
	out=$(timeout $((T_PG + 60)) pgbench -h 127.0.0.1 -p "$CHAIN_PORT" \
	    -U postgres -n -S -C -c 8 -j 2 -T "$T_PG" bench 2>&1) || return 1
	record pgbench tps_C "$peer" "$(echo "$out" |
	    awk '/^tps = / { printf "%.0f", $3; exit }')"
}

scen_pgbench() {
	local port rep peer d=$W/pg
	port=$("$BT" freeport)
	mkdir -p "$d/sock"
	chown -R postgres "$d"
	pg "$PG_BIN/initdb" -D "$d/data" -A trust -U postgres >"$W/initdb.log"
	spawn postgres runuser -u postgres -- "$PG_BIN/postgres" -D "$d/data" \
	    -p "$port" -k "$d/sock" -c listen_addresses=127.0.0.1 \
	    -c max_connections=100 -c fsync=off -c synchronous_commit=off \
	    -c full_page_writes=off
	local ppid=$LAST_PID
	wait_listen "$port"
	local i
	for i in $(seq 100); do
		"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break
		sleep 0.1
	done
	createdb -h 127.0.0.1 -p "$port" -U postgres bench
	pgbench -h 127.0.0.1 -p "$port" -U postgres -i -s 1 -q bench \
	    >"$W/pgbench-init.log" 2>&1
	for rep in $(seq "$REPEAT"); do
		for peer in $(peer_order "$rep"); do
			REP=$rep
			note "pgbench: $peer ($rep/$REPEAT)"
			with_chain "$peer" "$port" resume pgbench pgbench_one
		done
	done
	# postgres under runuser: stop the server itself (smart shutdown).
	pg "$PG_BIN/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null 2>&1 || true
	stop_pids "$ppid"
}

# libpq: no TLS or GSSAPI negotiation on the plaintext legs.
export PGSSLMODE=disable PGGSSENCMODE=disable

START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $SCENARIOS; do
	"scen_${s//-/_}"
done
ELAPSED=$(($(date +%s) - START))

# --- report ----------------------------------------------------------------------

. "$here/report.sh"
write_report
note "done in ${ELAPSED}s: $OUT/RESULTS.md"
