#!/usr/bin/env bash
# deploy/systemd/cotai-proxy@.service's SystemCallFilter allows every
# system call cotai-proxy makes. Without systemd as PID 1 the filter cannot
# be applied here, so the set is computed the way systemd does (the first
# line's list, minus the "~" lines' lists; groups expanded by
# `systemd-analyze syscall-filter`), and two proxies run as the unit runs
# them (an unprivileged user, no "user:" in the config) under strace -f:
# start-up with the Landlock sandbox, mutual-TLS traffic, the health
# probe, /metrics, a reload on SIGHUP, a refused bad reload, the drain on
# SIGTERM. Every system call seen must be in the allowed set.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

command -v strace >/dev/null || fail "strace missing (mk/packages, group test)"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing"
[ "$(id -u)" -eq 0 ] || fail "needs root (strace -u nobody)"
src=$(cd "$(dirname "$0")/../.." && pwd)
unit=$src/deploy/systemd/cotai-proxy@.service.in

# expand NAME: the system calls NAME stands for (a @group, recursively).
expand() {
	case $1 in
	@*)
		local x
		systemd-analyze syscall-filter "$1" >"$T/group.out" 2>&1 ||
			fail "systemd-analyze does not know $1"
		for x in $(sed -n '2,$p' "$T/group.out" | grep -v '^ *#' |
			awk '{ print $1 }'); do
			expand "$x"
		done
		;;
	*) echo "$1" ;;
	esac
}
first=1
: >"$T/allowed"
while IFS= read -r line; do
	list=${line#SystemCallFilter=}
	if [ "${list#\~}" != "$list" ]; then
		for n in ${list#\~}; do expand "$n"; done | sort -u >"$T/deny"
		comm -23 "$T/allowed" "$T/deny" >"$T/allowed.new"
		mv "$T/allowed.new" "$T/allowed"
	else
		[ $first = 1 ] || fail "a second allow-list line (not modelled)"
		for n in $list; do expand "$n"; done | sort -u >"$T/allowed"
	fi
	first=0
done < <(grep '^SystemCallFilter=' "$unit")
[ $first = 0 ] || fail "no SystemCallFilter in $unit"
echo "allowed: $(wc -l <"$T/allowed") system calls"

# strace_start NAME: like ops_start, the proxy as nobody under strace.
strace_start() {
	local name=$1 pid
	sed -i '/^user:/d' "$T/run/$name.yaml"
	spawn "$name" strace -f -qq -u nobody -o "$T/$name.strace" \
		"$PROXY" -c "$T/run/$name.yaml" --ports-file "$T/run/$name.ports"
	wait_file "$T/run/$name.ports" 30
	PORT=$(port_of "$T/run/$name.ports" "$name")
	ADMIN=$(awk '$1 == "admin" { print $2 }' "$T/run/$name.ports")
	pid=$(ps -o pid= --ppid "$LAST_PID" | tr -d ' ')
	[ -n "$pid" ] || fail "no proxy under strace $LAST_PID"
	echo "$pid" >>"$T/.pids"
	PROXY_PID=$pid
}

ops_pki
relay_peer echo
ops_config term terminate pg "$PEER_PORT" "allow: [backend]"
strace_start term
term_pid=$PROXY_PID ta=$ADMIN tp=$PORT
ops_config orig originate backend "$tp" "expect: pg"
strace_start orig
orig_pid=$PROXY_PID op=$PORT
assert_grep 'sandbox: landlock ABI [0-9]+ applied' "$T/term.log"

timeout 60 "$TOOLS/client" -p "$op" -n 1000000 -c 8 >"$T/c.out" 2>&1 ||
	{ cat "$T/c.out"; fail "client through the chain failed"; }
"$PROXY" health --admin "$ta" >/dev/null || fail "health"
metric term 'cotai_reloads_total{result="ok"}' >"$T/m.out"
kill -HUP "$term_pid" "$orig_pid"
wait_reloads term 1
wait_reloads orig 1
cp "$T/run/term.yaml" "$T/run/term.good"
sed -i 's/^routes:/bogus_key: 1\nroutes:/' "$T/run/term.yaml"
kill -HUP "$term_pid"
wait_for "the refused reload" 20 grep -q 'bogus_key' "$T/term.log"
timeout 60 "$TOOLS/client" -p "$op" -n 100000 -c 2 >"$T/c.out" 2>&1 ||
	{ cat "$T/c.out"; fail "client after the reloads failed"; }
kill -TERM "$orig_pid" "$term_pid"
wait_exit "$orig_pid" 20
wait_exit "$term_pid" 20
assert_grep 'stopped' "$T/term.log"

# Every system call made, by every thread, must be allowed.
sed -nE 's/^[0-9]+ +([a-z_0-9]+)\(.*/\1/p' "$T"/term.strace "$T"/orig.strace |
	sort -u >"$T/used"
[ "$(wc -l <"$T/used")" -ge 30 ] || fail "strace saw too little: $(cat "$T/used")"
grep -qx landlock_restrict_self "$T/used" || fail "no landlock_restrict_self seen"
comm -23 "$T/used" "$T/allowed" >"$T/denied"
if [ -s "$T/denied" ]; then
	fail "SystemCallFilter of $unit refuses: $(tr '\n' ' ' <"$T/denied")"
fi
echo "used: $(wc -l <"$T/used") system calls, all allowed"
echo ok
