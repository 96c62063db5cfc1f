# Shared setup for the relay tests (2N-*.sh); source it after lib.sh.
# Gives:
#   relay_pki                     a CA and leaves "backend" and "pg" in $T/certs
#   relay_peer MODE [ARGS]        start tests/tools/peer; sets PEER_PORT
#   relay_terminate NAME TARGET_PORT [EXTRA_ROUTE_YAML] [EXTRA_TOP_YAML]
#   relay_originate NAME TARGET_PORT [EXTRA_ROUTE_YAML] [EXTRA_TOP_YAML]
#                                 write $T/NAME.yaml, start cotai-proxy with
#                                 --ports-file; set PORT (route NAME's port)
#                                 and PROXY_PID
#   audit NAME                    the close lines of proxy NAME's log

# Under valgrind everything is ~20x slower: longer timeouts (TMO), less
# data (SCALE divides the big transfers). COTAI_MUX=auto|on|off sets the
# transport of every tcp route without its own mux key (defaults.mux), to
# run the relay tests in either mode.
TMO=1
SCALE=1
CONC=200
VG_YAML=""
if [ "${COTAI_VALGRIND:-0}" = 1 ]; then
	TMO=10
	SCALE=16
	CONC=40
	VG_YAML="timeouts: { handshake: 300s, connect: 60s }"
fi
if [ -n "${COTAI_MUX:-}" ]; then
	VG_YAML="${VG_YAML:+$VG_YAML, }mux: $COTAI_MUX"
fi
if [ -n "$VG_YAML" ]; then
	VG_YAML="defaults: { $VG_YAML }"
fi

# As root, the proxy must be told whom to become.
relay_user_line() {
	if [ "$(id -u)" -eq 0 ]; then echo "user: nobody"; fi
}

relay_pki() {
	pki_init
	issue backend
	issue pg
}

relay_peer() {
	local mode=$1
	shift
	spawn "peer-$mode" "$TOOLS/peer" -m "$mode" -p "$T/peer-$mode.port" "$@"
	wait_file "$T/peer-$mode.port"
	PEER_PORT=$(cat "$T/peer-$mode.port")
}

# relay_yaml HEAD NAME MODE CERT TARGET_PORT PATTERNS ROUTE_EXTRA TOP_EXTRA:
# print a one-route config; HEAD holds the admin (and reload) lines.
relay_yaml() {
	local head=$1 name=$2 mode=$3 cert=$4 tport=$5 patterns=$6
	local rextra=$7 textra=$8
	cat <<YAML
$(relay_user_line)
log: { level: ${LOGLEVEL:-info} }
$head
workers: ${WORKERS:-2}
drain_timeout: 2s
$VG_YAML
$textra
identity:
  ca: $T/certs/ca.crt
  cert: $T/certs/$cert.crt
  key: $T/certs/$cert.key
  crl: $T/certs/crl.pem
routes:
  - name: $name
    mode: $mode
    listen: 127.0.0.1:0
    target: 127.0.0.1:$tport
    $patterns
$rextra
YAML
}

# relay_config NAME MODE CERT TARGET_PORT PATTERNS ROUTE_EXTRA TOP_EXTRA
relay_config() {
	relay_yaml "admin: { enabled: false }" "$1" "$2" "$3" "$4" "$5" \
	    "$6" "$7" >"$T/$1.yaml"
}

relay_start() {
	local name=$1
	spawn "$name" "$PROXY" -c "$T/$name.yaml" --ports-file "$T/$name.ports"
	PROXY_PID=$LAST_PID
	wait_file "$T/$name.ports" $((30 * TMO))
	PORT=$(port_of "$T/$name.ports" "$name")
	[ -n "$PORT" ] || fail "no port for $name"
}

relay_terminate() {
	relay_config "$1" terminate pg "$2" "allow: [backend]" "${3:-}" "${4:-}"
	relay_start "$1"
}

relay_originate() {
	relay_config "$1" originate backend "$2" "expect: pg" "${3:-}" "${4:-}"
	relay_start "$1"
}

audit() {
	grep 'event=close' "$T/$1.log" || true
}

# wait_audit NAME N: wait until proxy NAME has written N close lines.
wait_audit() {
	wait_for "$2 close lines from $1" $((${3:-20} * TMO)) \
	    sh -c "[ \$(grep -c 'event=close' '$T/$1.log') -ge $2 ]"
}

# relay_bad_certs: after relay_pki, the certificates that must be refused:
# mallory (valid, not allowed), revoked, expired, notyet (not yet valid) in
# $T/certs, and a "backend" from a second, unrelated CA in $T/certs2.
relay_bad_certs() {
	local now
	issue mallory
	issue revoked
	"$CA" revoke revoked >>"$T/ca-issue.log" 2>&1 || fail "revoke"
	now=$(date +%s)
	COTAI_CA_NOW=$((now - 30 * 86400)) issue expired --ttl 1d
	COTAI_CA_NOW=$((now + 30 * 86400)) issue notyet --ttl 1d
	# Those issues signed CRLs at their fake times; sign a current one.
	"$CA" crl >>"$T/ca-issue.log" 2>&1 || fail "crl"
	COTAI_CA_DIR=$T/pki2 "$CA" init --trust-domain cotai.test \
	    --passphrase-file <(echo other-passphrase-please-ignore) \
	    >/dev/null 2>&1 || fail "second CA"
	COTAI_CA_DIR=$T/pki2 "$CA" issue backend --out "$T/certs2" \
	    >/dev/null 2>&1 || fail "second CA issue"
}
