#!/usr/bin/env bash
# Run the integration tests (tests/integration/NN-*.sh), each in its own bash
# process; with arguments, only the tests whose names contain one of them.
# Prints one line per test as it ends and a closing "N passed, N failed"
# line.
#
# COTAI_ITEST_JOBS=N runs up to N tests at once (default: the number of
# CPUs, at most 4). Every test has its own temporary directory, binds port
# 0 and names its network namespaces at random, so tests do not share
# anything but the machine; most of a test's time is spent waiting for
# processes, timers and expiries, which overlap well. A test whose file
# has a line "# itest: alone" runs with no other test beside it, after
# the others (a test that asserts how long things take: certificates of
# seconds, 1 s deadlines). COTAI_ITEST_JOBS=1 runs everything one by one.
#
# COTAI_ITEST_SANITIZER=1 (make asan) leaves out the tests whose file has
# a line "# itest: runs no cotai binary": they test scripts, ran in the
# plain pass, and a sanitizer build changes nothing for them. They are
# listed as "--" and counted apart, never as passed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${COTAI_BUILD:?set COTAI_BUILD to the build directory}"
export COTAI_BUILD
jobs=${COTAI_ITEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
case "$jobs" in '' | *[!0-9]* | 0) echo "run.sh: COTAI_ITEST_JOBS=$jobs: not a count" >&2; exit 2 ;; esac
[ "${COTAI_ITEST_JOBS:-}" ] || [ "$jobs" -le 4 ] || jobs=4
# Under valgrind every test is CPU-bound: one at a time.
[ "${COTAI_VALGRIND:-0}" = 1 ] && jobs=1

work=$(mktemp -d "${TMPDIR:-/tmp}/cotai-itest.XXXXXX")
declare -A pid_of=() start_of=()
pass=0 fail=0 failed="" left=0
trap 'for p in "${pid_of[@]}"; do kill -TERM "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

start_test() { # NAME FILE
	start_of[$1]=$(date +%s)
	timeout 600 bash "$2" >"$work/$1.log" 2>&1 &
	pid_of[$1]=$!
}

# finish_one: wait for one running test to end and report it.
finish_one() {
	local name done_pid rc=0 took
	wait -n -p done_pid "${pid_of[@]}" || rc=$?
	for name in "${!pid_of[@]}"; do
		[ "${pid_of[$name]}" = "$done_pid" ] && break
	done
	if [ "${pid_of[$name]:-}" != "$done_pid" ]; then
		echo "run.sh: wait returned no test ($rc)" >&2
		exit 2
	fi
	unset "pid_of[$name]"
	took=$(($(date +%s) - start_of[$name]))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok   $name (${took}s)"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "FAIL $name (${took}s, exit $rc)"
		sed 's/^/    | /' "$work/$name.log" | tail -n 60
	fi
	rm -f "$work/$name.log"
}

alone=()
for t in "$here"/[0-9][0-9]-*.sh; do
	name=$(basename "$t" .sh)
	if [ $# -gt 0 ]; then
		want=0
		for pat in "$@"; do case "$name" in *"$pat"*) want=1 ;; esac; done
		[ $want = 1 ] || continue
	fi
	if [ "${COTAI_ITEST_SANITIZER:-0}" = 1 ] &&
	    grep -q '^# itest: runs no cotai binary' "$t"; then
		echo "--   $name (runs no cotai binary: not run again under the sanitizers)"
		left=$((left + 1))
		continue
	fi
	if grep -q '^# itest: alone' "$t"; then
		alone+=("$t")
		continue
	fi
	while [ ${#pid_of[@]} -ge "$jobs" ]; do finish_one; done
	start_test "$name" "$t"
done
while [ ${#pid_of[@]} -gt 0 ]; do finish_one; done
# Then the tests that must not share the machine, one by one.
for t in "${alone[@]}"; do
	start_test "$(basename "$t" .sh)" "$t"
	finish_one
done
[ -z "$failed" ] || echo "failed:$failed"
if [ $left -gt 0 ]; then
	echo "$pass passed, $fail failed ($left not run again: no cotai binary)"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ] && [ $pass -gt 0 ]
