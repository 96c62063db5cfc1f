# Shared helpers for the integration tests; source it first:
#	. "$(dirname "$0")/lib.sh"
# Gives: $T (a private temporary directory, removed at exit unless
# KEEP_TMP=1), $CA and $PROXY (the binaries), $TOOLS (tests/tools programs),
# and functions to start processes that are all killed by PID on exit.
set -euo pipefail

: "${COTAI_BUILD:?set COTAI_BUILD to the build directory}"
CA=$COTAI_BUILD/cotai-ca
PROXY=$COTAI_BUILD/cotai-proxy
TOOLS=$COTAI_BUILD/tools
T=$(mktemp -d "${TMPDIR:-/tmp}/cotai-test.XXXXXX")
chmod 700 "$T"
: >"$T/.pids"
export COTAI_CA_DIR=$T/pki

lib_cleanup() {
	local rc=$? pid pids=()
	trap - EXIT
	# The PIDs are read once: the loops below must not depend on the file.
	mapfile -t pids <"$T/.pids" || echo "lib.sh: $T/.pids unreadable" >&2
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	# Give processes up to 5 s (valgrind: 30 s, for its leak check) to
	# exit, then kill what is left.
	local polls=50
	[ "${COTAI_VALGRIND:-0}" = 1 ] && polls=300
	for _ in $(seq $polls); do
		local alive=0
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	# Memory errors fail the test: valgrind's log files (written only
	# when there is something to report, --quiet) and sanitizer reports
	# in the processes' logs.
	local f
	for f in "$T"/*.valgrind; do
		[ -f "$f" ] || continue
		if grep -Eq 'definitely lost: [1-9]|indirectly lost: [1-9]|Invalid (read|write|free)|uninitialised|Mismatched|overlap|ERROR SUMMARY: [1-9]' "$f"; then
			echo "FAIL: valgrind errors in $f:" >&2
			head -n 60 "$f" >&2
			[ $rc -ne 0 ] || rc=1
		fi
	done
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"; then
			echo "FAIL: sanitizer report in $f:" >&2
			grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 60 >&2
			[ $rc -ne 0 ] || rc=1
		fi
	done
	if [ $rc -ne 0 ] || [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "test directory kept: $T" >&2
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 20 lines)" >&2
			tail -n 20 "$f" >&2
		done
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap lib_cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# spawn NAME CMD...: start CMD in the background with stdout+stderr in
# $T/NAME.log; its PID is recorded for cleanup and stored in $LAST_PID.
# cotai-proxy runs under valgrind when COTAI_VALGRIND=1. With SPAWN_NETNS
# set, CMD runs in that network namespace (ip netns exec, which keeps the
# PID).
spawn() {
	local name=$1
	shift
	if [ "${COTAI_VALGRIND:-0}" = 1 ] && [ "$1" = "$PROXY" ]; then
		set -- valgrind --quiet --vgdb=no --error-exitcode=99 --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect \
		    --log-file="$T/$name.valgrind" "$@"
	fi
	if [ -n "${SPAWN_NETNS:-}" ]; then
		set -- ip netns exec "$SPAWN_NETNS" "$@"
	fi
	"$@" >"$T/$name.log" 2>&1 &
	LAST_PID=$!
	echo "$LAST_PID" >>"$T/.pids"
}

# wait_for DESC TIMEOUT_S CMD...: poll CMD until it succeeds.
wait_for() {
	local desc=$1 limit=$2 i
	shift 2
	for i in $(seq $((limit * 20))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "timed out after ${limit}s waiting for $desc"
}

# wait_file FILE [TIMEOUT_S]: wait until FILE exists and is not empty.
wait_file() {
	wait_for "$1" "${2:-10}" test -s "$1"
}

# wait_exit PID [TIMEOUT_S]: wait until PID has exited.
wait_exit() {
	wait_for "exit of $1" "${2:-10}" sh -c "! kill -0 $1"
}

# port_of PORTSFILE ROUTE: the port cotai-proxy bound for ROUTE.
port_of() {
	awk -v r="$2" '$1 == r { n = split($2, a, ":"); print a[n] }' "$1"
}

# assert_grep PATTERN FILE [MSG]: FILE must contain an extended regex match.
assert_grep() {
	grep -Eq -- "$1" "$2" || fail "${3:-expected /$1/ in $2}"
}

# assert_no_grep PATTERN FILE [MSG]
assert_no_grep() {
	if grep -Eq -- "$1" "$2"; then fail "${3:-unexpected /$1/ in $2}"; fi
}

# pki_init [TRUST_DOMAIN]: a fresh CA in $COTAI_CA_DIR permitting bare names.
pki_init() {
	"$CA" init --trust-domain "${1:-cotai.test}" \
	    --passphrase-file <(echo test-passphrase-please-ignore) \
	    >"$T/ca-init.log" 2>&1 || { cat "$T/ca-init.log"; fail "ca init"; }
}

# issue NAME [ARGS...]: issue a leaf into $T/certs.
issue() {
	"$CA" issue "$@" --out "$T/certs" >>"$T/ca-issue.log" 2>&1 ||
	    { tail "$T/ca-issue.log"; fail "ca issue $*"; }
}

# --- cotai-ca helpers (used by tests/integration/1x-ca-*.sh) ---

# ca_verify DIR NAME [OPENSSL-ARGS...]: `openssl verify` DIR/NAME.crt (leaf,
# then the intermediate as untrusted) against DIR/ca.crt with the CRLs of
# DIR/crl.pem; add -crl_check or -crl_check_all.
ca_verify() {
	local dir=$1 name=$2
	shift 2
	openssl verify -CAfile "$dir/ca.crt" -untrusted "$dir/$name.crt" \
	    -CRLfile "$dir/crl.pem" "$@" "$dir/$name.crt"
}

# expect_status CODE PATTERN CMD...: CMD must exit with CODE and print
# something matching the extended regex PATTERN (stdout and stderr are both
# kept in $T/expect.log).
expect_status() {
	local want=$1 pat=$2 rc=0
	shift 2
	"$@" >"$T/expect.log" 2>&1 || rc=$?
	if [ "$rc" != "$want" ]; then
		cat "$T/expect.log" >&2
		fail "$* exited $rc, expected $want"
	fi
	assert_grep "$pat" "$T/expect.log" "$*: no /$pat/ in: $(cat "$T/expect.log")"
}

# file_mode PATH: the octal permission bits of PATH.
file_mode() {
	stat -c %a "$1"
}

# http_get HOST:PORT PATH: the raw answer of a plain HTTP/1.0 GET.
http_get() {
	local host=${1%:*} port=${1##*:} fd
	exec {fd}<>"/dev/tcp/$host/$port" || return 1
	printf 'GET %s HTTP/1.0\r\n\r\n' "$2" >&$fd
	cat <&$fd
	exec {fd}>&-
}
