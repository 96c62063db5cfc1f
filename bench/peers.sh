# bench/peers.sh: the two-hop chains under test, sourced by bench/run.sh.
#
# Every chain has the shape of cotai's:
#
#   client --plain--> A (TLS out) ==mTLS 1.3==> B (TLS in) --plain--> backend
#
# on 127.0.0.1, with TLS 1.3 only, TLS_AES_128_GCM_SHA256 only, the
# certificates in $PKI (client.* for A, server.* for B, ca.crt as the only
# trust anchor, client certificates required and verified by B) and one
# worker or thread per proxy where the proxy lets us choose.
#
#   chain_start PEER BACKEND_PORT [resume|noresume]
#	starts the chain; sets CHAIN_PORT (where clients connect),
#	CHAIN_TLS_PORT (B's TLS port) and CHAIN_PIDS (the proxy processes,
#	empty for "direct"); 0, 1 on failure, 2 if the peer cannot run
#	that variant.
#   chain_stop
#	stops the chain's processes by PID.
#
# "noresume" turns TLS session resumption off on both hops' ends (client
# cache and server tickets/cache); "resume" leaves each peer's defaults,
# which resume.
#
# Needs from run.sh: $W (work dir), $BT (benchtool), spawn, stop_pids,
# wait_listen, $PKI.

CIPHER=TLS_AES_128_GCM_SHA256

chain_start() {
	local peer=$1 backend=$2 variant=${3:-resume}
	CHAIN_PORT="" CHAIN_PIDS="" CHAIN_TLS_PORT=""
	case $peer in
	direct) CHAIN_PORT=$backend ;;
	stunnel) stunnel_start "$backend" "$variant" ;;
	haproxy) haproxy_start "$backend" "$variant" ;;
	nginx) nginx_start "$backend" "$variant" ;;
	cotai) COTAI_MUX="" cotai_start "$backend" "$variant" ;;
	cotai-pc) COTAI_MUX=off cotai_start "$backend" "$variant" ;;
	*) echo "bench: unknown peer $peer" >&2; return 1 ;;
	esac
}

chain_stop() {
	[ -z "$CHAIN_PIDS" ] || stop_pids $CHAIN_PIDS
	CHAIN_PIDS="" CHAIN_PORT="" CHAIN_TLS_PORT=""
}

# Two distinct free ports (below the ephemeral range) in PA and PB.
two_ports() {
	PA=$("$BT" freeport)
	PB=$("$BT" freeport)
	while [ "$PA" = "$PB" ]; do PB=$("$BT" freeport); done
}

# --- stunnel ---------------------------------------------------------------
# stunnel runs a thread per connection; it has no "one thread" setting.
# Resumption: the client side caches its session (sessionResume = yes by
# default) and the server issues TLS 1.3 tickets; "sessionResume = no" on both
# sides turns both off.

stunnel_conf() { # NAME ACCEPT CONNECT CLIENT(yes|no) CERT VARIANT
	local name=$1 acc=$2 con=$3 client=$4 cert=$5 variant=$6
	cat <<EOF
foreground = yes
pid =
syslog = no
debug = ${STUNNEL_DEBUG:-4}
output = $W/$name.log
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1
[$name]
client = $client
accept = 127.0.0.1:$acc
connect = 127.0.0.1:$con
cert = $PKI/$cert.crt
key = $PKI/$cert.key
CAfile = $PKI/ca.crt
verifyChain = yes
requireCert = yes
sslVersionMin = TLSv1.3
sslVersionMax = TLSv1.3
ciphersuites = $CIPHER
EOF
	[ "$variant" = resume ] || echo "sessionResume = no"
}

stunnel_start() {
	local backend=$1 variant=$2 try
	for try in 1 2 3; do
		two_ports
		stunnel_conf stunnel-b "$PB" "$backend" no server "$variant" \
		    >"$W/stunnel-b.conf"
		stunnel_conf stunnel-a "$PA" "$PB" yes client "$variant" \
		    >"$W/stunnel-a.conf"
		spawn stunnel-b stunnel "$W/stunnel-b.conf"
		CHAIN_PIDS=$LAST_PID
		spawn stunnel-a stunnel "$W/stunnel-a.conf"
		CHAIN_PIDS="$CHAIN_PIDS $LAST_PID"
		if wait_listen "$PB" && wait_listen "$PA"; then
			CHAIN_PORT=$PA CHAIN_TLS_PORT=$PB
			return 0
		fi
		chain_stop # a port was taken meanwhile: try others
	done
	return 1
}

# --- HAProxy ---------------------------------------------------------------
# mode tcp, nbthread 1. Resumption: the server line reuses its SSL session
# by default and the bind side has a session cache and TLS 1.3 tickets;
# "noresume" sets no-ssl-reuse on the server line, no-tls-tickets on the bind
# line and tune.ssl.cachesize 0.
# HAPROXY_LOG=1 logs one line per connection (ssl_fc_is_resumed, the
# cipher), which bench/run.sh reads on B to check resumption.

haproxy_conf() { # BIND_LINE SERVER_LINE VARIANT
	cat <<EOF
global
	nbthread 1
	maxconn 5000
	log stderr format short local0 $([ "${HAPROXY_LOG:-0}" = 0 ] &&
	    echo warning || echo info)
	ssl-default-bind-ciphersuites $CIPHER
	ssl-default-server-ciphersuites $CIPHER
	ssl-default-bind-options ssl-min-ver TLSv1.3
	ssl-default-server-options ssl-min-ver TLSv1.3
EOF
	[ "$3" = resume ] || printf '\ttune.ssl.cachesize 0\n'
	cat <<EOF
defaults
	mode tcp
	log global
	maxconn 5000
	timeout connect 5s
	timeout client 1h
	timeout server 1h
listen chain
	$1
	$2
EOF
	[ "${HAPROXY_LOG:-0}" = 0 ] || printf '\t%s\n' \
	    'log-format "resumed=%[ssl_fc_is_resumed] cipher=%[ssl_fc_cipher] verify=%[ssl_c_verify]"'
}

haproxy_start() {
	local backend=$1 variant=$2 try nores_b="" nores_s=""
	if [ "$variant" = noresume ]; then
		nores_b=" no-tls-tickets" nores_s=" no-ssl-reuse"
	fi
	for try in 1 2 3; do
		two_ports
		haproxy_conf "bind 127.0.0.1:$PB ssl crt $PKI/server.pem ca-file $PKI/ca.crt verify required$nores_b" \
		    "server s 127.0.0.1:$backend" "$variant" >"$W/haproxy-b.cfg"
		haproxy_conf "bind 127.0.0.1:$PA" \
		    "server b 127.0.0.1:$PB ssl crt $PKI/client.pem ca-file $PKI/ca.crt verify required$nores_s" \
		    "$variant" >"$W/haproxy-a.cfg"
		spawn haproxy-b haproxy -db -f "$W/haproxy-b.cfg"
		CHAIN_PIDS=$LAST_PID
		spawn haproxy-a haproxy -db -f "$W/haproxy-a.cfg"
		CHAIN_PIDS="$CHAIN_PIDS $LAST_PID"
		if wait_listen "$PB" && wait_listen "$PA"; then
			CHAIN_PORT=$PA CHAIN_TLS_PORT=$PB
			return 0
		fi
		chain_stop
	done
	return 1
}

# --- nginx -----------------------------------------------------------------
# The stream module (Debian: nginx-light + libnginx-mod-stream), one worker
# (worker_processes 1) run as root, master in the foreground (daemon off)
# so that the PID bench holds is the master's; the worker is its child and
# counts in the CPU and memory figures. Each end has its own prefix
# directory, pid file and error log in $W.
# A originates: proxy_ssl with the client certificate, proxy_ssl_verify on
# against ca.crt, and the name B must present (proxy_ssl_name server).
# B terminates: ssl_verify_client on against ca.crt. Like stunnel and
# HAProxy, nginx checks only that the peer chains to the CA (no identity).
# Resumption: "resume" is proxy_ssl_session_reuse on (A caches the session
# it gets from B) and, on B, TLS 1.3 tickets with a shared session cache
# (the usual production settings); "noresume" is proxy_ssl_session_reuse
# off, ssl_session_tickets off and ssl_session_cache off.
# NGINX_ACCESS_LOG=1 makes B log one line per connection with
# $ssl_session_reused, which bench/run.sh reads to check resumption.

NGINX_STREAM_MODULE=${NGINX_STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}

nginx_conf() { # NAME SERVER_LINES...
	local name=$1
	shift
	cat <<EOF
load_module $NGINX_STREAM_MODULE;
daemon off;
master_process on;
worker_processes 1;
user root root;
pid $W/$name.pid;
error_log $W/$name.err warn;
events {
	worker_connections 10000;
}
stream {
	log_format bench 'proto=\$ssl_protocol cipher=\$ssl_cipher reused=\$ssl_session_reused verify=\$ssl_client_verify';
	server {
EOF
	printf '\t\t%s\n' "$@"
	printf '\t}\n}\n'
}

nginx_start() {
	local backend=$1 variant=$2 try reuse=on tickets=on
	local cache="shared:bench:10m" log="access_log off;"
	if [ "$variant" = noresume ]; then
		reuse=off tickets=off cache=off
	fi
	[ "${NGINX_ACCESS_LOG:-0}" = 0 ] ||
	    log="access_log $W/nginx-b.access bench;"
	for try in 1 2 3; do
		two_ports
		mkdir -p "$W/nginx-a" "$W/nginx-b"
		nginx_conf nginx-b "listen 127.0.0.1:$PB ssl;" \
		    "proxy_pass 127.0.0.1:$backend;" \
		    "proxy_timeout 1h;" \
		    "ssl_certificate $PKI/server.crt;" \
		    "ssl_certificate_key $PKI/server.key;" \
		    "ssl_client_certificate $PKI/ca.crt;" \
		    "ssl_verify_client on;" \
		    "ssl_verify_depth 2;" \
		    "ssl_protocols TLSv1.3;" \
		    "ssl_conf_command Ciphersuites $CIPHER;" \
		    "ssl_session_tickets $tickets;" \
		    "ssl_session_cache $cache;" \
		    "$log" >"$W/nginx-b.conf"
		nginx_conf nginx-a "listen 127.0.0.1:$PA;" \
		    "proxy_pass 127.0.0.1:$PB;" \
		    "proxy_timeout 1h;" \
		    "proxy_ssl on;" \
		    "proxy_ssl_certificate $PKI/client.crt;" \
		    "proxy_ssl_certificate_key $PKI/client.key;" \
		    "proxy_ssl_trusted_certificate $PKI/ca.crt;" \
		    "proxy_ssl_verify on;" \
		    "proxy_ssl_verify_depth 2;" \
		    "proxy_ssl_name server;" \
		    "proxy_ssl_protocols TLSv1.3;" \
		    "proxy_ssl_conf_command Ciphersuites $CIPHER;" \
		    "proxy_ssl_session_reuse $reuse;" >"$W/nginx-a.conf"
		spawn nginx-b nginx -p "$W/nginx-b/" -e "$W/nginx-b.err" \
		    -c "$W/nginx-b.conf"
		CHAIN_PIDS=$LAST_PID
		spawn nginx-a nginx -p "$W/nginx-a/" -e "$W/nginx-a.err" \
		    -c "$W/nginx-a.conf"
		CHAIN_PIDS="$CHAIN_PIDS $LAST_PID"
		if wait_listen "$PB" && wait_listen "$PA"; then
			CHAIN_PORT=$PA CHAIN_TLS_PORT=$PB
			return 0
		fi
		chain_stop
	done
	return 1
}

# --- cotai -----------------------------------------------------------------
# workers: 1; ports are bound as 0 and read back from --ports-file.
# For experiments, COTAI_YAML adds top-level lines and COTAI_ROUTE_YAML one
# line to each route (e.g. COTAI_ROUTE_YAML="buffer_size: 16384").
# "noresume" is the route setting `tls_resumption: false` on both ends.
# Two peers: "cotai" is the default transport (mux: auto, so the two
# sidecars carry connections as HTTP/2 streams over a long-lived tunnel),
# "cotai-pc" is `mux: off` on both ends (one TLS connection per connection).
# cotai has no setting for the TLS 1.3 cipher suites, so Ciphersuites comes
# from an OpenSSL configuration file (OPENSSL_CONF, applied by OpenSSL to
# every SSL_CTX cotai creates). bench/run.sh checks both effects in cotai's
# audit lines (cipher=, resumed=) before measuring.

cotai_conf() { # MODE LISTEN TARGET CERT PEERKEY PEERNAME VARIANT
	cat <<EOF
user: nobody
workers: 1
log: { level: ${COTAI_LOG_LEVEL:-warn} }
admin: { enabled: false }
max_connections: 20000
identity: { ca: $PKI/ca.crt, cert: $PKI/$4.crt, key: $PKI/$4.key }
${COTAI_YAML:-}
routes:
  - name: r
    mode: $1
    listen: $2
    target: $3
    $5: [$6]
    max_connections: 10000
EOF
	[ "${7:-resume}" = resume ] || echo "    tls_resumption: false"
	[ -z "${COTAI_MUX:-}" ] || echo "    mux: $COTAI_MUX"
	[ -z "${COTAI_ROUTE_YAML:-}" ] || printf '    %s\n' "$COTAI_ROUTE_YAML"
}

cotai_openssl_conf() {
	cat <<EOF
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1.3
Ciphersuites = $CIPHER
EOF
}

cotai_start() {
	local backend=$1 variant=$2 pb
	rm -f "$W/cotai-a.ports" "$W/cotai-b.ports"
	cotai_openssl_conf >"$W/cotai-openssl.cnf"
	cotai_conf terminate 127.0.0.1:0 "127.0.0.1:$backend" server allow \
	    client "$variant" >"$W/cotai-b.yaml"
	spawn cotai-b env OPENSSL_CONF="$W/cotai-openssl.cnf" \
	    "$COTAI_PROXY" -c "$W/cotai-b.yaml" \
	    --ports-file "$W/cotai-b.ports"
	CHAIN_PIDS=$LAST_PID
	wait_file "$W/cotai-b.ports" "$LAST_PID" || return 1
	pb=$(awk '$1 == "r" { n = split($2, a, ":"); print a[n] }' \
	    "$W/cotai-b.ports")
	cotai_conf originate 127.0.0.1:0 "127.0.0.1:$pb" client expect \
	    server "$variant" >"$W/cotai-a.yaml"
	spawn cotai-a env OPENSSL_CONF="$W/cotai-openssl.cnf" \
	    "$COTAI_PROXY" -c "$W/cotai-a.yaml" \
	    --ports-file "$W/cotai-a.ports"
	CHAIN_PIDS="$CHAIN_PIDS $LAST_PID"
	wait_file "$W/cotai-a.ports" "$LAST_PID" || return 1
	CHAIN_PORT=$(awk '$1 == "r" { n = split($2, a, ":"); print a[n] }' \
	    "$W/cotai-a.ports")
	CHAIN_TLS_PORT=$pb
	[ -n "$CHAIN_PORT" ]
}
