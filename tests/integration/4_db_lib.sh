# Shared setup for the database route tests (4N-*.sh); source it after
# lib.sh, lib_db.sh and 2_relay_lib.sh. Gives:
#   db_proxy NAME MODE CERT TARGET_PORT PATTERNS [ROUTE_YAML]
#       write $T/NAME.yaml (one route NAME, protocol and the rest in
#       ROUTE_YAML, indented by four spaces), start cotai-proxy; sets PORT
#       and PROXY_PID (as relay_start does)
#   last_close NAME     the last audit line of proxy NAME
#   psql_at PORT USER [ARGS...]    psql in plaintext (sslmode=prefer, the
#       libpq default) at 127.0.0.1:PORT as USER to database USER

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
