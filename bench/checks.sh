# bench/checks.sh: what bench/run.sh checks of each chain before measuring
# it, sourced by run.sh after lib.sh: it relays; B negotiates TLS 1.3 with
# $CIPHER and refuses a client without a certificate; connections resume in
# the default variant and none in "noresume" (read from B's own
# per-connection log); cotai's default transport carries every connection
# as a stream over a tunnel or two.
#
#   check_peer PEER   0 when PEER passes; else 1 with CHECK_MSG saying why.
#                     Appends what it checked to CHECKS and adds a peer that
#                     cannot turn resumption off to NORESUME_BROKEN.
#
# Needs from run.sh and lib.sh: chain_start, chain_stop, $BT, $W, $PKI,
# $CIPHER, $ECHO_PORT, note.

# check_tls: B's TLS port must speak TLS 1.3 with $CIPHER and our CA.
check_tls() {
	local out
	out=$(openssl s_client -brief -connect "127.0.0.1:$CHAIN_TLS_PORT" \
	    -cert "$PKI/client.crt" -key "$PKI/client.key" \
	    -CAfile "$PKI/ca.crt" </dev/null 2>&1) || true
	if ! grep -q "Protocol version: TLSv1.3" <<<"$out" ||
	    ! grep -q "Ciphersuite: $CIPHER" <<<"$out"; then
		CHECK_MSG="B does not negotiate TLS 1.3 with $CIPHER: $(echo "$out" |
		    grep -E 'Protocol|Ciphersuite|error' | head -n 3 |
		    tr '\n' ' ')"
		return 1
	fi
	# A client without a certificate must not reach the echo backend.
	# (-quiet implies -ign_eof: timeout ends it if B relays and keeps
	# the connection open; a B that refuses closes it at once.)
	out=$( (echo bench-no-cert; sleep 1) | timeout 3 openssl s_client \
	    -quiet -connect "127.0.0.1:$CHAIN_TLS_PORT" -CAfile "$PKI/ca.crt" \
	    2>/dev/null) || true
	if grep -q bench-no-cert <<<"$out"; then
		CHECK_MSG="B relays for a client without a certificate"
		return 1
	fi
}

# peer_resumed PEER VARIANT: start PEER's chain with B's per-connection log
# on (stunnel at debug level 6, HAProxy's log-format with ssl_fc_is_resumed,
# nginx's access log with $ssl_session_reused, cotai's audit lines), make a
# few dozen connections and print "RESUMED CONNECTIONS CIPHER" from B's log.
peer_resumed() {
	local peer=$1 variant=$2
	: >"$W/${peer%-pc}-b.log" # cotai-pc's processes are cotai-a and -b
	case $peer in
	stunnel)
		STUNNEL_DEBUG=6 chain_start stunnel "$ECHO_PORT" "$variant" ;;
	haproxy)
		HAPROXY_LOG=1 chain_start haproxy "$ECHO_PORT" "$variant" ;;
	cotai | cotai-pc)
		COTAI_LOG_LEVEL=info chain_start "$peer" "$ECHO_PORT" "$variant" ;;
	nginx)
		rm -f "$W/nginx-b.access"
		NGINX_ACCESS_LOG=1 chain_start nginx "$ECHO_PORT" "$variant" ;;
	esac || {
		tail -n 3 "$W/${peer%-pc}-a.log" "$W/${peer%-pc}-b.log" >&2
		chain_stop
		return 1
	}
	"$BT" connrate "$CHAIN_PORT" 0.5 2 >/dev/null || true
	chain_stop
	case $peer in
	stunnel)
		awk '/TLS accepted:/ { n++; if (/previous session reused/) r++ }
		    /ciphersuite:/ { c = $0; sub(/.*ciphersuite: /, "", c)
			sub(/ .*/, "", c) }
		    END { printf "%d %d %s\n", r, n, c }' "$W/stunnel-b.log" ;;
	haproxy)
		awk '/verify=0/ { n++; if (/resumed=1/) r++
		    if (match($0, /cipher=[^ ]*/))
			c = substr($0, RSTART + 7, RLENGTH - 7) }
		    END { printf "%d %d %s\n", r, n, c }' "$W/haproxy-b.log" ;;
	cotai | cotai-pc)
		# Per connection: "close" lines (resumed= is the
		# connection's handshake). With mux a connection is a
		# stream (stream= on its close line) and the handshakes
		# are the tunnels' ("tunnel_close" lines): printed as
		# "RESUMED CONNECTIONS CIPHER TUNNELS STREAMS", RESUMED
		# then counting resumed tunnels.
		awk '/event=close / { n++; if (/ stream=/) s++
		    else if (/resumed=true/) r++ }
		    /event=tunnel_close / { t++; if (/resumed=true/) r++ }
		    /event=(tunnel_)?close / && match($0, /cipher=[^ ]*/) {
			x = substr($0, RSTART + 7, RLENGTH - 7)
			if (x != "-") c = x }
		    END { if (c == "") c = "-"
			printf "%d %d %s %d %d\n", r, n, c, t, s }' \
		    "$W/cotai-b.log" ;;
	nginx)
		# $ssl_session_reused is "r" or "."; only connections
		# whose client certificate verified count.
		awk '/verify=SUCCESS/ { n++; if (/reused=r/) r++
		    if (match($0, /cipher=[^ ]*/))
			c = substr($0, RSTART + 7, RLENGTH - 7) }
		    END { printf "%d %d %s\n", r, n, c }' \
		    "$W/nginx-b.access" 2>/dev/null || echo "0 0 -" ;;
	esac
}

# check_peer PEER: the chain must carry round trips and negotiate what we
# asked for; on failure CHECK_MSG says why. Adds to CHECKS.
check_peer() {
	local peer=$1 res
	CHECK_MSG=""
	if ! chain_start "$peer" "$ECHO_PORT" resume; then
		CHECK_MSG="the chain does not start"
		chain_stop
		return 1
	fi
	if ! "$BT" rtt "$CHAIN_PORT" 10 >/dev/null 2>"$W/check.err"; then
		CHECK_MSG="the chain does not relay ($(head -c 200 "$W/check.err"))"
	else
		check_tls || true
	fi
	chain_stop
	[ -z "$CHECK_MSG" ] || return 1
	CHECKS="$CHECKS $peer: relays, TLSv1.3 $CIPHER, refuses a client without certificate;"
	[ "$peer" != cotai ] || { check_mux; return; }
	res=$(peer_resumed "$peer" resume) || res="0 0 -"
	set -- $res
	if [ "${1:-0}" -eq 0 ] || [ "${3:--}" != "$CIPHER" ]; then
		CHECK_MSG="resumption: ${1:-0} of ${2:-0} connections resumed, cipher ${3:--}"
		return 1
	fi
	if [ "${5:-0}" -ne 0 ]; then # cotai-pc: no connection on a tunnel
		CHECK_MSG="mux: off, yet $5 of $2 connections were streams"
		return 1
	fi
	CHECKS="$CHECKS $peer resumes $1 of $2 connections"
	res=$(peer_resumed "$peer" noresume) || res="1 0 -"
	set -- $res
	if [ "${1:-1}" -ne 0 ] || [ "${2:-0}" -eq 0 ]; then
		note "$peer: cannot turn resumption off (${1:-?} of ${2:-?} resumed);" \
		    "its full-handshake rows read n/a"
		NORESUME_BROKEN="$NORESUME_BROKEN $peer"
		CHECKS="$CHECKS, and cannot turn it off;"
	else
		CHECKS="$CHECKS, and 0 of $2 with noresume;"
	fi
}

# check_mux: cotai's default transport must carry every connection as a
# stream over a tunnel or two (one handshake each, not one per connection),
# in both variants; with noresume no tunnel may resume.
check_mux() {
	local v res
	for v in resume noresume; do
		res=$(peer_resumed cotai "$v") || res="0 0 - 0 0"
		set -- $res
		if [ "${2:-0}" -eq 0 ] || [ "${5:-0}" -ne "$2" ] ||
		    [ "${4:-0}" -lt 1 ] || [ "${4:-0}" -gt 4 ] ||
		    [ "${3:--}" != "$CIPHER" ]; then
			CHECK_MSG="mux ($v): ${5:-0} of ${2:-0} connections on ${4:-0} tunnels, cipher ${3:--}"
			return 1
		fi
		if [ "$v" = noresume ] && [ "$1" -ne 0 ]; then
			CHECK_MSG="mux (noresume): $1 of $4 tunnels resumed"
			return 1
		fi
		CHECKS="$CHECKS cotai ($v) carries $5 of $2 connections as streams over $4 tunnel handshake(s)"
		[ "$v" = resume ] && CHECKS="$CHECKS," ||
		    CHECKS="$CHECKS, none resumed"
	done
	CHECKS="$CHECKS;"
}
