#!/bin/sh
# PostgreSQL for deploy/compose.local.yaml: Debian's postgresql-15 doing what
# the official image's entrypoint does with POSTGRES_USER, POSTGRES_DB and
# POSTGRES_PASSWORD_FILE, on a read-only root: the cluster lives in /tmp (a
# tmpfs), password authentication for every TCP client.
set -eu
PATH=/usr/lib/postgresql/15/bin:$PATH
data=/tmp/pgdata
if [ ! -s "$data/PG_VERSION" ]; then
	initdb -D "$data" -U "$POSTGRES_USER" --pwfile="$POSTGRES_PASSWORD_FILE" \
	    --auth-local=trust --auth-host=scram-sha-256 >/tmp/initdb.log
	echo "host all all all scram-sha-256" >>"$data/pg_hba.conf"
	echo "CREATE DATABASE $POSTGRES_DB;" |
	    postgres --single -D "$data" -c unix_socket_directories=/tmp \
	    postgres >/dev/null
fi
exec postgres -D "$data" -c listen_addresses='*' \
    -c unix_socket_directories=/tmp
