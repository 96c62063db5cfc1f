#!/usr/bin/env bash
# Soak: SOAK_SECONDS (default 180) of mixed traffic through the two-sidecar
# chain (originate -> terminate -> peer) while faults are injected on a
# schedule. Run by `make soak`; not part of make check.
#
# Traffic, each a loop of tests/tools/client runs that check every byte
# (echo: the same bytes back after the client's half-close; source: exactly
# the test stream):
#   bulk      echo, 2 connections x 16 MB
#   small     echo, 8 connections x 1 KB
#   churn     echo, 32 connections x 100 B
#   slow      source, 2 slow readers (16 KiB every 20 ms for 2 s) x 4 MB
#   batch     echo through a second originate sidecar with its own client
#             identity "batch", 4 connections x 100 KB
#   held      one connection as batch (the revocation must close it) and
#             one as backend (it must survive everything), to a second
#             echo peer that is never killed
# Faults, in turn every SOAK_FAULT_EVERY seconds (default 6):
#   upstream  the echo peer is killed and restarted 1 s later on its port
#   renew     cotai-ca renew of every leaf, then SIGHUP to both proxies
#   sighup    a storm of 50 SIGHUPs to both proxies
#   flood     300 TCP connections to the terminate port that never send a
#             ClientHello, held 2 s
#   emfile    the terminate proxy runs with ulimit -n 640: 800 idle
#             connections exhaust it (it logs EMFILE), then are released
# and once, half way: "batch" is revoked and the terminate proxy reloads.
#
# Failures: a client run that overlaps an upstream or emfile window (from
# the fault's start to 1 s after its end) may fail: counted as expected, as
# are batch failures after the revocation. Anything else is unexpected.
# Leaks: after the traffic stops, each proxy's fd count must be back to
# its baseline (measured after a warm-up at full size, with nothing open)
# and its RSS within SOAK_RSS_KIB (default 16384) of it.
# Prints: soak: connections=N bytes=N faults=N failures=N (expected=N
# unexpected=N) rss_kib=A->B fds=A->B leaks=none|...
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/../integration/2_relay_lib.sh"
. "$here/../integration/5_ops_lib.sh"

SECS=${SOAK_SECONDS:-180}
EVERY=${SOAK_FAULT_EVERY:-6}
RSS_BOUND=${SOAK_RSS_KIB:-16384}
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 2048 ] || fail "ulimit -n too low: $(ulimit -n)"

ops_pki
issue batch
ops_own
relay_peer source -n 4000000
src=$PEER_PORT
relay_peer echo
echo_port=$PEER_PORT
echo_pid=$LAST_PID
# A second echo peer, never killed, for the connections held throughout.
spawn peer-hold "$TOOLS/peer" -m echo -p "$T/peer-hold.port"
wait_file "$T/peer-hold.port"
hold_port=$(cat "$T/peer-hold.port")

export OPS_RELOAD="reload: { watch: false }"
ops_config term terminate pg "$echo_port" "allow: [backend, batch]" "" \
    "  - name: term_src
    mode: terminate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$src
    allow: [backend]
  - name: term_hold
    mode: terminate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$hold_port
    allow: [backend, batch]"
spawn term bash -c 'ulimit -n 640 && exec "$0" "$@"' "$PROXY" \
    -c "$T/run/term.yaml" --ports-file "$T/run/term.ports"
wait_file "$T/run/term.ports" 30
term_pid=$LAST_PID # bash execs the proxy: the same process
tp=$(port_of "$T/run/term.ports" term)
tsrc=$(port_of "$T/run/term.ports" term_src)
thold=$(port_of "$T/run/term.ports" term_hold)
ops_config orig originate backend "$tp" "expect: pg" "" \
    "  - name: orig_src
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$tsrc
    expect: pg
  - name: orig_hold
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$thold
    expect: pg"
ops_start orig
orig_pid=$PROXY_PID
op=$PORT
osrc=$(port_of "$T/run/orig.ports" orig_src)
ohold=$(port_of "$T/run/orig.ports" orig_hold)
ops_config origb originate batch "$tp" "expect: pg" "" \
    "  - name: origb_hold
    mode: originate
    listen: 127.0.0.1:0
    target: 127.0.0.1:$thold
    expect: pg"
ops_start origb
origb_pid=$PROXY_PID
ob=$PORT
obhold=$(port_of "$T/run/origb.ports" origb_hold)

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
nfd() { ls "/proc/$1/fd" | wc -l; }
# Warm up once at full size (TLS contexts, session caches, worker buffers,
# the allocator's arenas: 800 connections held on the terminate port, then
# one run of every traffic class at once), then take the baseline with
# nothing open: glibc keeps freed memory, so a cold baseline would only
# measure the warm-up.
r_cold=$(( $(rss "$term_pid") + $(rss "$orig_pid") ))
wfds=()
for _ in $(seq 800); do
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$tp"; } 2>/dev/null || break
	wfds+=("$fd")
done
sleep 1
for fd in "${wfds[@]}"; do exec {fd}>&-; done
wait_for "the terminate proxy to accept again" 20 \
    timeout 20 "$TOOLS/client" -p "$op" -c 2 -n 10000
timeout 60 "$TOOLS/client" -p "$op" -c 2 -n 16000000 >/dev/null &
w1=$!
timeout 60 "$TOOLS/client" -p "$op" -c 32 -n 100 >/dev/null &
w2=$!
timeout 60 "$TOOLS/client" -p "$osrc" -m source -c 2 -n 4000000 >/dev/null &
w3=$!
timeout 60 "$TOOLS/client" -p "$ob" -c 4 -n 100000 >/dev/null &
w4=$!
wait $w1 && wait $w2 && wait $w3 && wait $w4 || fail "warm-up traffic"
sleep 1
r0_t=$(rss "$term_pid"); f0_t=$(nfd "$term_pid")
r0_o=$(rss "$orig_pid"); f0_o=$(nfd "$orig_pid")

now() { date +%s.%N | cut -c1-14; }
: >"$T/runs" >"$T/windows" >"$T/faults"
# load CLASS PORT CLIENT-ARGS...: client runs in a loop until $T/stop;
# one line per run in $T/runs: class start end rc conns failures bytes.
load() {
	local class=$1 port=$2 s e rc out conns fails bytes
	shift 2
	while [ ! -e "$T/stop" ]; do
		s=$(now)
		rc=0
		out=$(timeout 120 "$TOOLS/client" -p "$port" "$@" 2>&1) || rc=$?
		e=$(now)
		conns=$(echo "$out" | sed -n 's/^client: .*conns=\([0-9]*\).*/\1/p')
		# Failed connections (the client may report one twice).
		fails=$(echo "$out" | sed -n 's/^client: conn \([0-9]*\):.*/\1/p' |
		    sort -u | wc -l)
		bytes=$(echo "$out" | sed -n 's/^client: .*bytes=\([0-9]*\).*/\1/p')
		[ -n "$conns" ] || { conns=1; fails=1; bytes=0; }
		echo "$class $s $e $rc $conns $fails $bytes" >>"$T/runs"
		[ "$rc" = 0 ] || echo "$class $s $e: $out" >>"$T/failed.log"
		[ "$class" != batch ] || [ ! -e "$T/revoked" ] || break
	done
}
loads=""
bg() { "$@" & loads="$loads $!"; echo $! >>"$T/.pids"; }
bg load bulk "$op" -m echo -c 2 -n 16000000
bg load small "$op" -m echo -c 8 -n 1000
bg load churn "$op" -m echo -c 32 -n 100
bg load slow "$osrc" -m source -c 2 -n 4000000 -s 20:2000
bg load batch "$ob" -m echo -c 4 -n 100000
# Held connections, to a peer that is never killed: one as batch (the
# revocation must close it), one as backend (nothing may close it).
exec 3<>"/dev/tcp/127.0.0.1/$obhold" 4<>"/dev/tcp/127.0.0.1/$ohold"
say() { # say FD WORD: WORD must come back on FD
	local line
	echo "$2" >&"$1"
	read -r -t 10 line <&"$1" && [ "$line" = "$2" ] ||
	    fail "held connection $1: no echo of $2"
}
say 3 held
say 4 held

fault() { echo "$(now) $*" >>"$T/faults"; echo "fault: $*"; }
window() { echo "$1 $(now | awk '{ printf "%.3f", $1 + 1 }') $2" >>"$T/windows"; }

f_upstream() {
	local s
	s=$(now)
	fault "upstream killed"
	kill -KILL "$echo_pid"
	wait "$echo_pid" 2>/dev/null || true
	sleep 1
	rm -f "$T/peer-echo.port"
	# Not inheriting the held connections (3, 4): they would stay open.
	{ spawn peer-echo "$TOOLS/peer" -m echo -p "$T/peer-echo.port" \
	    -l "$echo_port"; } 3>&- 4>&-
	echo_pid=$LAST_PID
	wait_file "$T/peer-echo.port"
	window "$s" upstream
}
renew_one() {
	"$CA" renew "$1" --out "$T/stage" >>"$T/renew.log" 2>&1 ||
	    { tail "$T/renew.log"; fail "renew $1"; }
	if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/stage/$1".*; fi
	mv "$T/stage/$1.key" "$T/certs/$1.key.new"
	mv "$T/stage/$1.crt" "$T/certs/$1.crt"
	mv "$T/certs/$1.key.new" "$T/certs/$1.key"
}
f_renew() {
	local nt no
	fault "renew + reload"
	nt=$(reloads term); no=$(reloads orig)
	renew_one backend
	renew_one pg
	[ -e "$T/revoked" ] || renew_one batch
	kill -HUP "$term_pid" "$orig_pid" "$origb_pid"
	wait_reloads term $((nt + 1))
	wait_reloads orig $((no + 1))
}
f_sighup() {
	fault "50 SIGHUPs"
	for _ in $(seq 50); do kill -HUP "$term_pid" "$orig_pid"; done
}
f_flood() {
	local fds=() fd
	fault "handshake flood (300 idle connections)"
	for _ in $(seq 300); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$tp" || break
		fds+=("$fd")
	done
	sleep 2
	for fd in "${fds[@]}"; do exec {fd}>&-; done
}
f_emfile() {
	local fds=() fd s n0
	s=$(now)
	fault "fd exhaustion (800 connections, terminate ulimit -n 640)"
	n0=$(grep -c 'Too many open files' "$T/term.log" || true)
	for _ in $(seq 800); do
		{ exec {fd}<>"/dev/tcp/127.0.0.1/$tp"; } 2>/dev/null || break
		fds+=("$fd")
	done
	wait_for "EMFILE in the terminate proxy" 10 sh -c \
	    "[ \$(grep -c 'Too many open files' '$T/term.log') -gt $n0 ]"
	sleep 1
	for fd in "${fds[@]}"; do exec {fd}>&-; done
	# Recovery: a new client gets through.
	wait_for "recovery after EMFILE" 20 \
	    timeout 20 "$TOOLS/client" -p "$op" -c 2 -n 10000
	window "$s" emfile
}
f_revoke() {
	local n
	fault "revoke batch + reload"
	n=$(reloads term)
	"$CA" revoke batch >>"$T/renew.log" 2>&1 || fail "revoke batch"
	ops_own
	touch "$T/revoked"
	echo "$(now)" >"$T/revoked"
	kill -HUP "$term_pid"
	wait_reloads term $((n + 1))
	wait_for "revoked_after_reload" 10 sh -c \
	    "grep -q 'peer=batch .*reason=revoked_after_reload' '$T/term.log'"
	if read -r -t 10 line <&3 2>/dev/null; then fail "batch held connection still open"; fi
	exec 3>&-
	say 4 after-revocation
}

start=$(date +%s)
kinds=(upstream renew sighup flood emfile)
k=0 revoked=0
while [ $(($(date +%s) - start)) -lt $((SECS - EVERY)) ]; do
	sleep "$EVERY"
	if [ $revoked = 0 ] && [ $(($(date +%s) - start)) -ge $((SECS / 2)) ]; then
		f_revoke
		revoked=1
		continue
	fi
	"f_${kinds[$((k % ${#kinds[@]}))]}"
	k=$((k + 1))
	kill -0 "$term_pid" "$orig_pid" "$origb_pid" || fail "a proxy died"
done
[ $revoked = 1 ] || f_revoke
left=$((SECS - ($(date +%s) - start)))
[ $left -le 0 ] || sleep "$left"
touch "$T/stop"
for p in $loads; do wait "$p" 2>/dev/null || true; done
kill -0 "$term_pid" "$orig_pid" "$origb_pid" || fail "a proxy died"
say 4 at-the-end
exec 4>&-
elapsed=$(($(date +%s) - start))

# Classify every run.
rev_t=$(cat "$T/revoked")
read -r conns bytes failures expected unexpected < <(awk -v rev="$rev_t" '
	FNR == NR { ws[++nw] = $1; we[nw] = $2; next }
	{
		c += $5; f += $6; b += ($5 - $6) * $7
		if ($6 == 0) next
		ok = 0
		for (i = 1; i <= nw; i++) if ($2 <= we[i] && $3 >= ws[i]) ok = 1
		if ($1 == "batch" && $3 >= rev) ok = 1
		if (ok) x += $6; else { u += $6; print "unexpected: " $0 > "/dev/stderr" }
	}
	END { printf "%d %.0f %d %d %d\n", c, b, f, x, u }
' "$T/windows" "$T/runs")
nfaults=$(wc -l <"$T/faults")

# Only batch was closed by the revocation; the held batch connection was.
leaks=""
assert_no_grep 'peer=backend .*reason=(revoked_after_reload|cert_revoked)' \
    "$T/term.log" "backend lost connections to the revocation"
assert_grep 'peer=batch .*reason=revoked_after_reload' "$T/term.log"
assert_no_grep 'reload failed' "$T/term.log"
assert_no_grep 'reload failed' "$T/orig.log"

# Leaks: let the last connections close, then compare with the baseline.
sleep 2
r1_t=$(rss "$term_pid"); f1_t=$(nfd "$term_pid")
r1_o=$(rss "$orig_pid"); f1_o=$(nfd "$orig_pid")
echo "RSS: $r_cold KiB cold, before the warm-up (both proxies)"
echo "terminate: RSS $r0_t -> $r1_t KiB, fds $f0_t -> $f1_t"
echo "originate: RSS $r0_o -> $r1_o KiB, fds $f0_o -> $f1_o"
[ "$f1_t" -le "$f0_t" ] || leaks="$leaks term_fds"
[ "$f1_o" -le "$f0_o" ] || leaks="$leaks orig_fds"
if ! ldd "$PROXY" | grep -q libasan; then
	[ $((r1_t - r0_t)) -le "$RSS_BOUND" ] || leaks="$leaks term_rss"
	[ $((r1_o - r0_o)) -le "$RSS_BOUND" ] || leaks="$leaks orig_rss"
fi
leaks=${leaks# }
echo "faults: $(cut -d' ' -f2- "$T/faults" | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
echo "classes: $(awk '{ c[$1] += $5; f[$1] += $6 } END { for (k in c) printf "%s=%d/%d ", k, c[k] - f[k], c[k] }' "$T/runs")(ok/connections)"
echo "duration: ${elapsed}s"
echo "soak: connections=$conns bytes=$bytes faults=$nfaults failures=$failures" \
    "(expected=$expected unexpected=$unexpected)" \
    "rss_kib=$((r0_t + r0_o))->$((r1_t + r1_o)) fds=$((f0_t + f0_o))->$((f1_t + f1_o))" \
    "leaks=${leaks:-none}"
[ "$unexpected" -eq 0 ] || fail "$unexpected unexpected connection failures (see $T/failed.log)"
[ -z "$leaks" ] || fail "leaks: $leaks"
