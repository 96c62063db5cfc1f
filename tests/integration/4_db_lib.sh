# Shared setup for the database route tests (4N-*.sh); source it after
# lib.sh, lib_db.sh and 2_relay_lib.sh. Gives:
#   db_proxy NAME MODE CERT TARGET_PORT PATTERNS [ROUTE_YAML]
#       write $T/NAME.yaml (one route NAME, protocol and the rest in
#       ROUTE_YAML, indented by four spaces), start cotai-proxy; sets PORT
#       and PROXY_PID (as relay_start does)
#   last_close NAME     the last audit line of proxy NAME
#   psql_at PORT USER [ARGS...]    psql in plaintext (sslmode=prefer, the
#       libpq default) at 127.0.0.1:PORT as USER to database USER
#   psql_refused NAME PATTERN   psql as app through proxy NAME (at $PORT)
#       must fail, and NAME's one audit line match PATTERN
#   pg_raw, pg_startup_hex, pg_cancel_long_query and the pg_long_query_*
#       steps it is made of: see below

db_proxy() {
	relay_config "$1" "$2" "$3" "$4" "$5" "${6:-}" ""
	relay_start "$1"
}

last_close() {
	audit "$1" | tail -n 1
}

psql_at() {
	local port=$1 user=$2
	shift 2
	timeout $((60 * TMO)) "$PG_BINDIR/psql" "host=127.0.0.1 port=$port \
user=$user dbname=$user connect_timeout=$((10 * TMO))" -X -A -t "$@"
}

psql_refused() {
	if psql_at "$PORT" app -c 'select 1' >"$T/$1.out" 2>&1; then
		fail "$1: psql got through"
	fi
	wait_audit "$1" 1
	last_close "$1" | grep -q -- "$2" || fail "$1: $(last_close "$1")"
}

# pg_raw [-w] PORT HEX...: send the bytes given as hex pairs (spaces
# allowed) to 127.0.0.1:PORT, shut down writing, and print what comes back
# until the peer closes (at most 5 s), NUL bytes as '|' (tests/tools/rawpeer).
# With -w each HEX argument goes on its own, after a reply to the one
# before (garbage after the 'S' to an SSLRequest).
pg_raw() {
	local -a opt=()
	if [ "$1" = -w ]; then
		opt=(-w)
		shift
	fi
	local port=$1
	shift
	"$TOOLS/rawpeer" "${opt[@]}" -t $((5 * TMO)) "$port" "$@" \
	    2>/dev/null || true
}

# pg_startup_hex USER DB: a protocol 3.0 StartupMessage as hex.
pg_startup_hex() {
	local body len
	body=$(printf 'user\0%s\0database\0%s\0\0' "$1" "$2" | od -v -An -tx1 |
	    tr -d ' \n')
	len=$((${#body} / 2 + 8))
	printf '%08x00030000%s' "$len" "$body"
}

# pg_role_refused PORT: through the originate sidecar on PORT, psql as
# identity backend asking for role "other" is refused by the roles map
# ("may not log in"), and the ErrorResponse carries SQLSTATE 28000 (psql
# does not show it for a failed login: the raw bytes do).
pg_role_refused() {
	local out
	if psql_at "$1" other -v VERBOSITY=verbose -c 'select 1' \
	    >"$T/other.out" 2>&1; then
		fail "backend logged in as other"
	fi
	assert_grep 'may not log in as role "other"' "$T/other.out"
	out=$(pg_raw "$1" "$(pg_startup_hex other other)")
	case $out in
	E*'SFATAL|VFATAL|C28000|M'*) ;;
	*) fail "expected an ErrorResponse with 28000, got '$out'" ;;
	esac
}

# pg_long_query_start CONNINFO: start `select pg_sleep(30)` with psql in
# the background and wait until PostgreSQL runs it; sets LONG_PID (psql's
# PID). psql's output goes to $T/cancel.out.
pg_long_query_start() {
	"$PG_BINDIR/psql" "$1" -X -v VERBOSITY=verbose \
	    -c 'select pg_sleep(30)' >"$T/cancel.out" 2>&1 &
	LONG_PID=$!
	echo "$LONG_PID" >>"$T/.pids"
	wait_for "the long query" $((20 * TMO)) pg_long_query_running
}

# pg_long_query_running: true while that query runs.
pg_long_query_running() {
	[ "$(pg_sql "select count(*) from pg_stat_activity where \
query = 'select pg_sleep(30)' and state = 'active'")" = 1 ]
}

# pg_long_query_cancelled: wait for that psql and require the query to
# have ended with SQLSTATE 57014.
pg_long_query_cancelled() {
	local rc=0
	wait "$LONG_PID" || rc=$?
	[ $rc != 0 ] || fail "the cancelled query succeeded"
	assert_grep '57014' "$T/cancel.out" \
	    "no SQLSTATE 57014: $(cat "$T/cancel.out")"
}

# pg_cancel_long_query CONNINFO: start `select pg_sleep(30)` with psql,
# wait until PostgreSQL runs it, send psql SIGINT (libpq then sends a
# CancelRequest on a new connection) and require the query to end with
# SQLSTATE 57014. psql's output is in $T/cancel.out.
pg_cancel_long_query() {
	pg_long_query_start "$1"
	kill -INT "$LONG_PID"
	pg_long_query_cancelled
}
