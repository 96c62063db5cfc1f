# bench/lib.sh: what bench/run.sh and bench/profile.sh share: a private
# work directory ($W) removed at exit, processes started with spawn() and
# stopped by PID, the benchtool binary ($BT), certificates ($PKI), an echo
# backend, and per-process CPU and memory figures.
#
# Needs: $here (the bench directory), $COTAI_BUILD.

# --- processes and clean-up --------------------------------------------------

W=$(mktemp -d "${TMPDIR:-/tmp}/cotai-bench.XXXXXX")
chmod 755 "$W" # cotai drops to "nobody" and must still read its files
: >"$W/pids"
RESULTS=$W/results.tsv
: >"$RESULTS"

# stop_pids PID...: SIGTERM, up to 5 s grace, then SIGKILL; forget them.
stop_pids() {
	local pid i alive
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for i in $(seq 50); do
		alive=0
		for pid in "$@"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in "$@"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		grep -vx "$pid" "$W/pids" >"$W/pids.new" || true
		mv "$W/pids.new" "$W/pids"
	done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# shellcheck disable=SC2046
	[ ! -s "$W/pids" ] || stop_pids $(cat "$W/pids")
	if [ $rc -ne 0 ] || [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "bench: work directory kept: $W" >&2
	else
		rm -rf "$W"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# spawn NAME CMD...: run CMD in the background, output in $W/NAME.log; its
# PID goes to $LAST_PID and to the clean-up list.
spawn() {
	local name=$1
	shift
	"$@" >>"$W/$name.log" 2>&1 &
	LAST_PID=$!
	echo "$LAST_PID" >>"$W/pids"
}

# wait_file FILE [PID]: wait up to 10 s for FILE to be non-empty (and
# give up early if PID exits).
wait_file() {
	local i
	for i in $(seq 200); do
		[ -s "$1" ] && return 0
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			echo "bench: process $2 exited before writing $1" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "bench: timed out waiting for $1" >&2
	return 1
}

# wait_listen PORT: wait up to 10 s for a listener on 127.0.0.1:PORT.
wait_listen() {
	local i
	for i in $(seq 200); do
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on port $1" >&2
	return 1
}

note() { echo "bench: $*" >&2; }

# record SCENARIO METRIC PEER VALUE: one measurement, with the repetition
# it belongs to ($REP, set by the scenario's loop; 1 outside any).
record() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${REP:-1}" \
	    >>"$RESULTS"
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- tools and certificates ----------------------------------------------------

# benchtool: benchtool.c (main, shared helpers) and bt_*.c (the commands),
# rebuilt when any of them or benchtool.h is newer than the binary.
BT=$COTAI_BUILD/bench/benchtool
mkdir -p "$COTAI_BUILD/bench"
bt_stale() {
	local f
	[ -x "$BT" ] || return 0
	for f in "$here"/benchtool.[ch] "$here"/bt_*.c; do
		[ "$f" -nt "$BT" ] && return 0
	done
	return 1
}
if bt_stale; then
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$BT" \
	    "$here/benchtool.c" "$here"/bt_*.c
fi

# shellcheck source=bench/peers.sh
. "$here/peers.sh"

PKI=$W/certs
PKI_SOURCE=""
make_pki() {
	local ca=$COTAI_BUILD/cotai-ca
	if [ -x "$ca" ]; then
		echo bench-passphrase-not-secret >"$W/pass"
		if "$ca" --dir "$W/ca" init --trust-domain bench.test \
		    --passphrase-file "$W/pass" >"$W/ca.log" 2>&1 &&
		    "$ca" --dir "$W/ca" issue client --out "$PKI" \
		    >>"$W/ca.log" 2>&1 &&
		    "$ca" --dir "$W/ca" issue server --out "$PKI" \
		    >>"$W/ca.log" 2>&1; then
			PKI_SOURCE="cotai-ca"
			return 0
		fi
		note "cotai-ca failed (see below); using openssl instead"
		tail -n 5 "$W/ca.log" >&2
	fi
	make_pki_openssl
	PKI_SOURCE="openssl req/x509 (cotai-ca not built)"
}

# The same shape as cotai-ca's: P-256 root -> intermediate -> leaf with
# CN=name, URI SAN spiffe://bench.test/name and DNS SAN name; NAME.crt holds
# the leaf and the intermediate.
make_pki_openssl() {
	local d=$W/openssl-ca n
	mkdir -p "$d" "$PKI"
	cat >"$d/ext.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	ossl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$d/root.key" -out "$d/root.crt" -days 2 \
	    -subj "/CN=bench root" -config "$d/ext.cnf" -extensions root
	ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/inter.key" -out "$d/inter.csr" \
	    -subj "/CN=bench issuing" -config "$d/ext.cnf"
	ossl x509 -req -in "$d/inter.csr" -CA "$d/root.crt" \
	    -CAkey "$d/root.key" -CAcreateserial -days 2 \
	    -extfile "$d/ext.cnf" -extensions inter -out "$d/inter.crt"
	for n in client server; do
		cat >"$d/$n.cnf" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = URI:spiffe://bench.test/$n, DNS:$n
EOF
		ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout "$PKI/$n.key" -out "$d/$n.csr" \
		    -subj "/CN=$n" -config "$d/ext.cnf"
		ossl x509 -req -in "$d/$n.csr" -CA "$d/inter.crt" \
		    -CAkey "$d/inter.key" -CAcreateserial -days 2 \
		    -extfile "$d/$n.cnf" -out "$d/$n.leaf"
		cat "$d/$n.leaf" "$d/inter.crt" >"$PKI/$n.crt"
	done
	cp "$d/root.crt" "$PKI/ca.crt"
}

ossl() {
	openssl "$@" 2>>"$W/pki.log" || { tail -n 5 "$W/pki.log" >&2; return 1; }
}

make_pki
# HAProxy wants the certificate chain and the key in one file.
for n in client server; do
	cat "$PKI/$n.crt" "$PKI/$n.key" >"$PKI/$n.pem"
done
# cotai drops to "nobody" and wants its keys private (0600): give them to
# nobody (stunnel and HAProxy run as root here and read them anyway).
chmod 755 "$PKI"
chmod 644 "$PKI"/*
chmod 600 "$PKI"/*.key "$PKI"/*.pem
chown nobody "$PKI"/*.key
openssl verify -CAfile "$PKI/ca.crt" -untrusted "$PKI/client.crt" \
    "$PKI/client.crt" >/dev/null

# --- peers ---------------------------------------------------------------------

# start_echo: an echo backend; sets ECHO_PORT and ECHO_PID.
start_echo() {
	rm -f "$W/echo.port"
	spawn echo "$BT" echo "$W/echo.port"
	ECHO_PID=$LAST_PID
	wait_file "$W/echo.port"
	ECHO_PORT=$(cat "$W/echo.port")
}

# kv KEY "k=v k=v ...": the value of KEY.
kv() { echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# proc_tree PID...: the processes and all their descendants.
proc_tree() {
	local pids="$*" p next
	while [ -n "$pids" ]; do
		echo $pids
		next=""
		for p in $pids; do
			next="$next $(pgrep -P "$p" | tr '\n' ' ')"
		done
		pids=$(echo $next)
	done
}

# cpu_ticks PID...: user+system clock ticks used so far by the processes
# (all their threads) and their descendants; 0 for none.
HZ=$(getconf CLK_TCK)
cpu_ticks() {
	local p
	for p in $(proc_tree "$@"); do
		cat "/proc/$p/stat" 2>/dev/null
	done | sed 's/.*) //' | awk '{ t += $12 + $13 } END { print t + 0 }'
}

# threads PID...: the number of threads of the processes and descendants.
threads() {
	local p
	for p in $(proc_tree "$@"); do
		cat "/proc/$p/status" 2>/dev/null
	done | awk '$1 == "Threads:" { t += $2 } END { print t + 0 }'
}

# mem_kib PID...: "RSS PSS" in KiB summed over the processes (threads share
# their process's figures) and their descendants.
mem_kib() {
	local p
	for p in $(proc_tree "$@"); do
		cat "/proc/$p/smaps_rollup" 2>/dev/null
	done |
	    awk '$1 == "Rss:" { r += $2 } $1 == "Pss:" { p += $2 }
		END { printf "%d %d\n", r, p }'
}


# cotai_snapshot: copy cotai-proxy into $W as $COTAI_PROXY, so a rebuild of
# the shared build directory during the run cannot change (or truncate) the
# binary under test; COTAI_VERSION says which build it is.
cotai_snapshot() {
	COTAI_PROXY=$W/cotai-proxy
	COTAI_VERSION=""
	[ -x "$COTAI_BUILD/cotai-proxy" ] || return 0
	cp "$COTAI_BUILD/cotai-proxy" "$COTAI_PROXY"
	COTAI_VERSION="cotai-proxy built $(date -u -r "$COTAI_BUILD/cotai-proxy" \
	    '+%Y-%m-%d %H:%M UTC'), tree at $(git -C "$here/.." rev-parse --short HEAD \
	    2>/dev/null || echo '?')$([ -z "$(git -C "$here/.." status \
	    --porcelain -- proxy config lib 2>/dev/null)" ] ||
	    echo ' + uncommitted changes')"
}
