# Real database servers for the integration tests; source it after lib.sh:
#	. "$(dirname "$0")/lib.sh"
#	. "$(dirname "$0")/lib_db.sh"
#
# pg_start NAME [--tls CERT [--crl]]	PostgreSQL (Debian's, 15 preferred) in
#	$T/pg-NAME, on a unix socket in $T/pg-NAME/sock (trust) and on
#	127.0.0.1:$PG_PORT. Without --tls, TCP logins are trusted too. With
#	--tls CERT: ssl=on with $T/certs/CERT.crt/.key (issued if missing) and
#	ca.crt, and pg_hba "hostssl ... cert" (the client certificate's CN is
#	the database user), every other TCP login rejected. With --crl also
#	ssl_crl_file = a copy of $T/certs/crl.pem (cotai-ca's holds the root's
#	and the intermediate's CRLs: PostgreSQL checks the whole chain).
#	Sets PG_PORT, PG_SOCKDIR, PG_DATA, PG_PID, PG_CERT (CERT or empty) and
#	PG_TLSDIR (the server's copies of the TLS files, or empty) for the
#	server started last.
# pg_reload_crl			copy $T/certs/crl.pem to that server again and
#	make it reload (SIGHUP via pg_reload_conf(); takes effect for new
#	connections shortly after, so poll).
# pg_create_role NAME		CREATE ROLE NAME LOGIN on that server, and a
#	database NAME it owns: libpq's default database is the user's name,
#	and since PostgreSQL 15 an ordinary role may not create tables in
#	the postgres database (pgbench -i needs to).
# pg_sql SQL...			run SQL as the superuser over the socket;
#	prints unaligned tuples-only output.
# pg_conninfo_tls CLIENT [SERVERCERT]	a libpq conninfo string for psql
#	as user CLIENT to database CLIENT with CLIENT's certificate,
#	sslmode=verify-full
#	(host=SERVERCERT, default $PG_CERT: the name in the server's
#	certificate; hostaddr=127.0.0.1).
# redis_start NAME [--tls [--cert CERT]]	redis-server in $T/redis-NAME on
#	127.0.0.1:$REDIS_PORT; with --tls only a TLS port with
#	tls-auth-clients yes, certificate $T/certs/CERT (default NAME).
#	Sets REDIS_PORT, REDIS_TLS (0 or 1), REDIS_PID, REDIS_DIR.
# redis_cli [--cert NAME] ARGS...	redis-cli at that server (with TLS and
#	NAME's client certificate when given, or none if it is TLS without).
#
# Ports: neither server can bind port 0 and report it, so a random port
# below the kernel's ephemeral range that nothing listens on is tried, and
# a server that exits because the port was taken meanwhile is retried on
# another one. PostgreSQL refuses to run as root: as root, the server runs
# as user "postgres" (or "nobody") via setpriv, which execs, so the PID
# that lib.sh kills is the postmaster's; $T is then made traversable
# (0711) and each server's directory is given to that user.

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PG_BINDIR/postgres" ]; then
	PG_BINDIR=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V |
	    tail -n 1)
fi

# The user database servers run as, when the tests run as root.
if [ "$(id -u)" = 0 ]; then
	if id postgres >/dev/null 2>&1; then DB_USER=postgres; else
		DB_USER=nobody; fi
	chmod 711 "$T"
else
	DB_USER=$(id -un)
fi

# A fast shutdown (SIGINT) for every postmaster before lib.sh's SIGTERM,
# which would wait for clients (a "smart" shutdown).
db_cleanup() {
	local rc=$? pid
	if [ -f "$T/.pg_pids" ]; then
		while read -r pid; do
			kill -INT "$pid" 2>/dev/null || true
		done <"$T/.pg_pids"
	fi
	# lib_cleanup takes the test's status from $?; without set -e, since
	# a failing (exit) would end the shell here.
	set +e
	(exit "$rc")
	lib_cleanup
}
trap db_cleanup EXIT

# "${DB_AS[@]}" CMD...: run CMD as $DB_USER (as is, unless we are root).
# An external command, not a shell function, so that spawn's PID is the
# server's own: a backgrounded function would be a subshell whose death
# leaves the server running.
DB_AS=()
[ "$(id -u)" != 0 ] ||
    DB_AS=(setpriv --reuid="$DB_USER" --regid="$DB_USER" --init-groups --)

# db_own PATH...: give PATHs (recursively) to $DB_USER.
db_own() {
	[ "$(id -u)" != 0 ] || chown -R "$DB_USER:" "$@"
}

# db_port: print a port that nothing listens on, outside the ephemeral
# range (so no outgoing connection takes it meanwhile).
db_port() {
	local lo hi base top p
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range ||
	    { lo=32768; hi=60999; }
	if [ "$lo" -gt 12000 ]; then
		base=10000 top=$lo
	else
		base=$((hi + 1)) top=65536
	fi
	for _ in $(seq 100); do
		p=$((base + (RANDOM * 32768 + RANDOM) % (top - base)))
		if command -v ss >/dev/null &&
		    [ -n "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
			continue
		fi
		echo "$p"
		return 0
	done
	fail "db_port: no free port found"
}

# db_cert_files CERT DIR: copy CERT's certificate, key and the CA bundle
# into DIR for the server's user (PostgreSQL wants the key 0600 and owned
# by itself), issuing CERT first if it is not there.
db_cert_files() {
	local cert=$1 dir=$2
	[ -f "$T/certs/$cert.crt" ] || issue "$cert"
	mkdir -p "$dir"
	cp "$T/certs/$cert.crt" "$dir/server.crt"
	cp "$T/certs/$cert.key" "$dir/server.key"
	cp "$T/certs/ca.crt" "$dir/ca.crt"
	[ ! -f "$T/certs/crl.pem" ] || cp "$T/certs/crl.pem" "$dir/crl.pem"
	chmod 600 "$dir/server.key"
}

# pg_ready_or_dead PID SOCKDIR PORT: true once the server answers or died.
pg_ready_or_dead() {
	! kill -0 "$1" 2>/dev/null ||
	    "$PG_BINDIR/pg_isready" -q -h "$2" -p "$3" -U postgres
}

pg_start() {
	local name=$1 cert="" crl=0 dir port pid tries
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--tls) cert=${2:?pg_start: --tls needs a certificate name}
			shift 2 ;;
		--crl) crl=1; shift ;;
		*) fail "pg_start: unknown argument $1" ;;
		esac
	done
	[ -x "$PG_BINDIR/postgres" ] ||
	    fail "pg_start: no PostgreSQL in /usr/lib/postgresql (make deps)"
	dir=$T/pg-$name
	[ ! -e "$dir" ] || fail "pg_start: $name already started"
	# A unix socket path has room for 107 bytes.
	[ ${#dir} -le 80 ] || fail "pg_start: $dir too long for a socket"
	mkdir -p "$dir/sock"
	db_own "$dir"
	"${DB_AS[@]}" "$PG_BINDIR/initdb" -D "$dir/data" -U postgres --auth=trust \
	    --no-locale -E UTF8 --no-sync >"$T/pg-$name-initdb.log" 2>&1 ||
	    fail "pg_start: initdb failed (see $T/pg-$name-initdb.log)"
	set -- -c listen_addresses=127.0.0.1 -c fsync=off \
	    -c full_page_writes=off -c synchronous_commit=off
	if [ -n "$cert" ]; then
		db_cert_files "$cert" "$dir/tls"
		db_own "$dir/tls"
		set -- "$@" -c ssl=on -c "ssl_cert_file=$dir/tls/server.crt" \
		    -c "ssl_key_file=$dir/tls/server.key" \
		    -c "ssl_ca_file=$dir/tls/ca.crt"
		if [ $crl = 1 ]; then
			[ -f "$dir/tls/crl.pem" ] ||
			    fail "pg_start: --crl without $T/certs/crl.pem"
			set -- "$@" -c "ssl_crl_file=$dir/tls/crl.pem"
		fi
		printf '%s\n' 'local all all trust' \
		    'hostssl all all 127.0.0.1/32 cert' \
		    'host all all 127.0.0.1/32 reject' \
		    'host all all ::1/128 reject' >"$dir/data/pg_hba.conf"
	else
		printf '%s\n' 'local all all trust' \
		    'host all all 127.0.0.1/32 trust' >"$dir/data/pg_hba.conf"
	fi
	for tries in $(seq 10); do
		port=$(db_port)
		spawn "pg-$name" "${DB_AS[@]}" "$PG_BINDIR/postgres" -D "$dir/data" \
		    -k "$dir/sock" -p "$port" "$@"
		pid=$LAST_PID
		wait_for "postgres $name" 60 pg_ready_or_dead "$pid" \
		    "$dir/sock" "$port"
		if kill -0 "$pid" 2>/dev/null; then
			echo "$pid" >>"$T/.pg_pids"
			[ "$(head -n 1 "$dir/data/postmaster.pid")" = "$pid" ] ||
			    fail "pg_start: $pid is not the postmaster"
			PG_PORT=$port PG_SOCKDIR=$dir/sock PG_DATA=$dir/data
			PG_PID=$pid PG_CERT=$cert PG_TLSDIR=${cert:+$dir/tls}
			export PG_PORT PG_SOCKDIR PG_DATA PG_PID PG_CERT PG_TLSDIR
			return 0
		fi
		grep -Eq 'could not (bind|create any TCP)|already in use' \
		    "$T/pg-$name.log" || fail "pg_start: postgres $name died"
	done
	fail "pg_start: no port for postgres $name after $tries tries"
}

# db_name_ok NAME: a name safe to quote into SQL and file names.
db_name_ok() {
	[[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] ||
	    fail "not a usable role/workload name: '$1'"
}

pg_sql() {
	"$PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" \
	    -p "$PG_PORT" -U postgres -d postgres -c "$*"
}

pg_create_role() {
	db_name_ok "$1"
	pg_sql "CREATE ROLE \"$1\" LOGIN" ||
	    fail "pg_create_role $1: CREATE ROLE failed"
	pg_sql "CREATE DATABASE \"$1\" OWNER \"$1\"" ||
	    fail "pg_create_role $1: CREATE DATABASE failed"
}

pg_reload_crl() {
	[ -n "$PG_TLSDIR" ] || fail "pg_reload_crl: the server has no TLS"
	cp "$T/certs/crl.pem" "$PG_TLSDIR/crl.pem"
	[ "$(pg_sql 'select pg_reload_conf()')" = t ] ||
	    fail "pg_reload_crl: pg_reload_conf failed"
}

pg_conninfo_tls() {
	local client=$1 server=${2:-$PG_CERT}
	db_name_ok "$client"
	[ -n "$server" ] || fail "pg_conninfo_tls: the server has no TLS"
	printf '%s' "host=$server hostaddr=127.0.0.1 port=$PG_PORT" \
	    " user=$client dbname=$client sslmode=verify-full" \
	    " sslcert=$T/certs/$client.crt sslkey=$T/certs/$client.key" \
	    " sslrootcert=$T/certs/ca.crt connect_timeout=10"
}

# redis_ping ARGS...: true when redis-cli ARGS ping answers PONG.
redis_ping() {
	[ "$(timeout 10 redis-cli "$@" ping 2>/dev/null)" = PONG ]
}

# redis_ready_or_dead PID ARGS...: true once redis answers or PID died.
redis_ready_or_dead() {
	local pid=$1
	shift
	! kill -0 "$pid" 2>/dev/null || redis_ping "$@"
}

redis_start() {
	local name=$1 tls=0 cert="" dir port pid tries
	local -a args cli=()
	shift
	cert=$name
	while [ $# -gt 0 ]; do
		case $1 in
		--tls) tls=1; shift ;;
		--cert) cert=${2:?redis_start: --cert needs a name}
			shift 2 ;;
		*) fail "redis_start: unknown argument $1" ;;
		esac
	done
	command -v redis-server >/dev/null ||
	    fail "redis_start: no redis-server (make deps)"
	dir=$T/redis-$name
	[ ! -e "$dir" ] || fail "redis_start: $name already started"
	mkdir -p "$dir"
	if [ $tls = 1 ]; then
		db_cert_files "$cert" "$dir/tls"
		# redis-server checks client certificates with tls-ca-cert-file;
		# our own readiness probe needs one too.
		cli=(--tls --cacert "$dir/tls/ca.crt" --cert "$dir/tls/server.crt"
		    --key "$dir/tls/server.key")
	fi
	for tries in $(seq 10); do
		port=$(db_port)
		args=(--bind 127.0.0.1 --save '' --appendonly no --dir "$dir"
		    --daemonize no --logfile '' --protected-mode yes)
		if [ $tls = 1 ]; then
			args+=(--port 0 --tls-port "$port"
			    --tls-cert-file "$dir/tls/server.crt"
			    --tls-key-file "$dir/tls/server.key"
			    --tls-ca-cert-file "$dir/tls/ca.crt"
			    --tls-auth-clients yes)
		else
			args+=(--port "$port")
		fi
		spawn "redis-$name" redis-server "${args[@]}"
		pid=$LAST_PID
		wait_for "redis $name" 30 redis_ready_or_dead "$pid" \
		    -h 127.0.0.1 -p "$port" "${cli[@]}"
		if kill -0 "$pid" 2>/dev/null; then
			REDIS_PORT=$port REDIS_TLS=$tls REDIS_PID=$pid
			REDIS_DIR=$dir
			export REDIS_PORT REDIS_TLS REDIS_PID REDIS_DIR
			return 0
		fi
		grep -Eq 'already in use|Could not create server' \
		    "$T/redis-$name.log" || fail "redis_start: redis $name died"
	done
	fail "redis_start: no port for redis $name after $tries tries"
}

redis_cli() {
	local -a tlsargs=()
	if [ "${1:-}" = --cert ]; then
		tlsargs=(--cert "$T/certs/$2.crt" --key "$T/certs/$2.key")
		shift 2
	fi
	if [ "$REDIS_TLS" = 1 ]; then
		tlsargs=(--tls --cacert "$T/certs/ca.crt" "${tlsargs[@]}")
	fi
	timeout 30 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "${tlsargs[@]}" "$@"
}
