#!/usr/bin/python3
"""cotai-backend: a stand-in for CotAi's backend that really uses its
databases, and only through its cotai sidecar.

  cotai-backend serve   every $BACKEND_INTERVAL seconds (default 5) run the
                        checks and log one line per database
  cotai-backend check   run the checks once; print one line per database;
                        exit 0 only if every enabled check passed (this is
                        the container's healthcheck)

Checks (enable with BACKEND_CHECKS, default "postgres redis mongo"):
  postgres  CREATE TABLE IF NOT EXISTS, INSERT a row, count the rows
  redis     INCR a counter, GET it back
  mongo     insert a document, count the documents

Where each database is reached (the sidecar's plaintext listeners; the
defaults are the Unix sockets the compose stack shares with the sidecar):
  POSTGRES_HOST (/run/cotai: libpq opens /run/cotai/.s.PGSQL.5432),
  POSTGRES_PORT (5432), POSTGRES_USER (cotai), POSTGRES_DB (cotai),
  POSTGRES_PASSWORD_FILE (/run/secrets/db-password)
  REDIS_SOCKET (/run/cotai/redis.sock) or REDIS_HOST + REDIS_PORT
  MONGO_URL (mongodb://%2Frun%2Fcotai%2Fmongo.sock/?directConnection=true)
"""
import os
import signal
import socket
import sys
import time

TIMEOUT = float(os.environ.get("BACKEND_TIMEOUT", "5"))


def env(name, default):
    return os.environ.get(name) or default


def check_postgres():
    import psycopg2

    password = None
    pwfile = env("POSTGRES_PASSWORD_FILE", "/run/secrets/db-password")
    if os.path.exists(pwfile):
        with open(pwfile) as f:
            password = f.read().strip()
    conn = psycopg2.connect(
        host=env("POSTGRES_HOST", "/run/cotai"),
        port=int(env("POSTGRES_PORT", "5432")),
        user=env("POSTGRES_USER", "cotai"),
        dbname=env("POSTGRES_DB", "cotai"),
        password=password,
        connect_timeout=int(TIMEOUT),
        sslmode="disable",  # the sidecar carries it over mTLS
        application_name="cotai-backend",
    )
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS cotai_probe ("
                " id bigserial PRIMARY KEY,"
                " at timestamptz NOT NULL DEFAULT now(),"
                " host text NOT NULL)"
            )
            cur.execute(
                "INSERT INTO cotai_probe (host) VALUES (%s)",
                (socket.gethostname(),),
            )
            cur.execute("SELECT count(*), current_user FROM cotai_probe")
            n, user = cur.fetchone()
        return "rows=%d user=%s" % (n, user)
    finally:
        conn.close()


def check_redis():
    import redis

    sock = env("REDIS_SOCKET", "/run/cotai/redis.sock")
    if os.environ.get("REDIS_HOST"):
        r = redis.Redis(
            host=os.environ["REDIS_HOST"],
            port=int(env("REDIS_PORT", "6379")),
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
        )
    else:
        r = redis.Redis(unix_socket_path=sock, socket_timeout=TIMEOUT,
                        socket_connect_timeout=TIMEOUT)
    try:
        n = r.incr("cotai:probe")
        got = int(r.get("cotai:probe"))
        if got < n:
            raise RuntimeError("GET returned %d after INCR %d" % (got, n))
        return "counter=%d" % got
    finally:
        r.close()


def check_mongo():
    import pymongo

    url = env("MONGO_URL",
              "mongodb://%2Frun%2Fcotai%2Fmongo.sock/?directConnection=true")
    c = pymongo.MongoClient(url, serverSelectionTimeoutMS=int(TIMEOUT * 1000),
                            connectTimeoutMS=int(TIMEOUT * 1000))
    try:
        coll = c[env("MONGO_DB", "cotai")]["probe"]
        coll.insert_one({"host": socket.gethostname(), "at": time.time()})
        return "documents=%d" % coll.count_documents({})
    finally:
        c.close()


CHECKS = {"postgres": check_postgres, "redis": check_redis,
          "mongo": check_mongo}


def run_checks():
    names = env("BACKEND_CHECKS", "postgres redis mongo").replace(",", " ")
    ok = True
    for name in names.split():
        fn = CHECKS.get(name)
        if fn is None:
            print("check=%s result=fail error=unknown-check" % name)
            ok = False
            continue
        start = time.monotonic()
        try:
            detail = fn()
            print("check=%s result=ok ms=%d %s" %
                  (name, (time.monotonic() - start) * 1000, detail))
        except Exception as e:  # report every failure, keep going
            msg = " ".join(str(e).split()) or type(e).__name__
            print("check=%s result=fail ms=%d error=%r" %
                  (name, (time.monotonic() - start) * 1000, msg))
            ok = False
    sys.stdout.flush()
    return ok


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "serve"
    if cmd == "check":
        return 0 if run_checks() else 1
    if cmd == "serve":
        # As PID 1 in a container nothing is done on SIGTERM by default:
        # without this, every stop would wait for the SIGKILL timeout.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        interval = float(env("BACKEND_INTERVAL", "5"))
        while True:
            run_checks()
            time.sleep(interval)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
