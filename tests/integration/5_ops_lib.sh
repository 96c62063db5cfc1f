# Shared setup for the operations tests (5N-*.sh); source it after lib.sh
# and 2_relay_lib.sh. The proxies drop to "nobody" when run as root and
# must then read their files again on reload: certificates live in
# $T/certs and configs and ports files in $T/run, both owned by nobody.
# Gives:
#   ops_pki                      CA, leaves backend and pg, the directories
#   ops_config NAME MODE CERT TARGET_PORT PATTERNS [TOP_YAML] [ROUTES_YAML]
#                                write $T/run/NAME.yaml (admin on port 0)
#   ops_start NAME               start it; sets PORT, ADMIN, PROXY_PID
#   ops_chain [TOP_YAML] [ROUTE_YAML]
#                                an echo peer behind "term" (terminate,
#                                allows backend; the extra YAML is term's)
#                                behind "orig" (originate, expects pg); sets
#                                term_pid, tp, ta, orig_pid, op (pid, port,
#                                admin address of each)
#   say FD TEXT                  TEXT must come back on the held (echoed)
#                                connection FD
#   http_get ADDR PATH           the answer (head and body) on stdout
#   metric NAME SAMPLE           the value of SAMPLE (exact name{labels})
#   reloads NAME                 "reload done" lines in NAME's log
#   wait_reloads NAME N          wait until NAME has done N reloads

ops_pki() {
	relay_pki
	chmod 711 "$T"
	mkdir -p "$T/run"
	if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$T/certs" "$T/run"; fi
}

ops_chain() {
	relay_peer echo
	ops_config term terminate pg "$PEER_PORT" "allow: [backend]" \
	    "${1:-}" "${2:-}"
	ops_start term
	term_pid=$PROXY_PID tp=$PORT ta=$ADMIN
	ops_config orig originate backend "$tp" "expect: pg"
	ops_start orig
	orig_pid=$PROXY_PID op=$PORT
}

say() {
	local line
	echo "$2" >&"$1"
	read -r -t $((10 * TMO)) line <&"$1" || fail "fd $1: no echo of $2"
	[ "$line" = "$2" ] || fail "fd $1: echo of $2 was $line"
}

# ops_own: give the certificate files back to the proxies' user.
ops_own() {
	if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$T/certs"; fi
}

ops_config() {
	local name=$1 mode=$2 cert=$3 tport=$4 patterns=$5
	local reload=${OPS_RELOAD:-"reload: { debounce: 200ms }"}
	relay_yaml "admin: { listen: \"127.0.0.1:0\" }
$reload" "$name" "$mode" "$cert" "$tport" "$patterns" "${7:-}" "${6:-}" \
	    >"$T/run/$name.yaml.tmp"
	mv "$T/run/$name.yaml.tmp" "$T/run/$name.yaml"
	if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/run/$name.yaml"; fi
}

ops_start() {
	local name=$1
	spawn "$name" "$PROXY" -c "$T/run/$name.yaml" \
	    --ports-file "$T/run/$name.ports"
	PROXY_PID=$LAST_PID
	wait_file "$T/run/$name.ports" $((30 * TMO))
	PORT=$(port_of "$T/run/$name.ports" "$name")
	ADMIN=$(awk '$1 == "admin" { print $2 }' "$T/run/$name.ports")
	[ -n "$PORT" ] && [ -n "$ADMIN" ] || fail "no ports for $name"
}

metric() {
	local admin
	admin=$(awk '$1 == "admin" { print $2 }' "$T/run/$1.ports")
	http_get "$admin" /metrics | awk -v s="$2" '$1 == s { print $2 }'
}

reloads() {
	grep -c 'reload done' "$T/$1.log" || true
}

wait_reloads() {
	wait_for "$2 reloads of $1" $((${3:-20} * TMO)) \
	    sh -c "[ \$(grep -c 'reload done' '$T/$1.log') -ge $2 ]"
}
