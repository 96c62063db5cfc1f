#!/usr/bin/env bash
# Run the integration tests (tests/integration/NN-*.sh), each in its own bash
# process; with arguments, only the tests whose names contain one of them.
# Prints one line per test and a closing "N passed, N failed" line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${COTAI_BUILD:?set COTAI_BUILD to the build directory}"
export COTAI_BUILD
pass=0 fail=0 failed=""
for t in "$here"/[0-9][0-9]-*.sh; do
	name=$(basename "$t" .sh)
	if [ $# -gt 0 ]; then
		want=0
		for pat in "$@"; do case "$name" in *"$pat"*) want=1 ;; esac; done
		[ $want = 1 ] || continue
	fi
	start=$(date +%s)
	log=$(mktemp)
	if timeout 600 bash "$t" >"$log" 2>&1; then
		pass=$((pass + 1))
		echo "ok   $name ($(($(date +%s) - start))s)"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "FAIL $name ($(($(date +%s) - start))s)"
		sed 's/^/    | /' "$log" | tail -n 60
	fi
	rm -f "$log"
done
[ -z "$failed" ] || echo "failed:$failed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
