/*
 * proto: see proto.h. The four entries and the calls through them;
 * postgres's functions are pgconn's (pgconn.h), reached through thin
 * adapters that turn the generic connection back into a struct pgconn
 * (its first member).
 */
#include "proto.h"

#include "pgconn.h"

/*
 * tcp: between two cotai sidecars, ALPN "h2" makes the TLS connection a
 * tunnel that carries connections as streams (mux.h), unless mux is off.
 */
static void
proto_tcp_tls_opts(const struct config_route *rc, struct tls_ctx_opts *o)
{
	if (rc->mux != CONFIG_MUX_OFF)
		o->alpn = PROTO_ALPN_MUX;
}

/*
 * The database protocols, originate routes: the servers close TLS without
 * close_notify (redis-server does after every client EOF) and their
 * protocols frame their own messages, so a missing close_notify is an
 * EOF, not an attack.
 */
static void
proto_db_tls_opts(const struct config_route *rc, struct tls_ctx_opts *o)
{
	if (rc->mode == CONFIG_MODE_ORIGINATE)
		o->eof_ok = true;
}

/*
 * postgres: ALPN "postgresql" selected when a client offers it
 * (terminate: a client with sslnegotiation=direct), offered on originate
 * routes whose server is PostgreSQL reached with sslnegotiation: direct.
 * Between two cotai sidecars (upstream: sidecar, terminate) "h2" makes
 * the TLS connection a tunnel unless mux is off (the configuration leaves
 * it off with upstream: postgres): an originate route offers it, a
 * terminate route selects it before "postgresql".
 */
static void
proto_pg_tls_opts(const struct config_route *rc, struct tls_ctx_opts *o)
{
	bool mux = rc->mux != CONFIG_MUX_OFF;

	proto_db_tls_opts(rc, o);
	if (rc->mode == CONFIG_MODE_TERMINATE) {
		o->alpn = mux ? PROTO_ALPN_MUX : "postgresql";
		o->alpn_also = mux ? "postgresql" : NULL;
	} else if (rc->pg_upstream == CONFIG_PG_UP_SIDECAR) {
		o->alpn = mux ? PROTO_ALPN_MUX : NULL;
	} else if (rc->pg_sslnegotiation == CONFIG_PG_SSLNEG_DIRECT) {
		o->alpn = "postgresql";
	}
}

/*
 * postgres, the local_tls context: ALPN "postgresql" selected when
 * offered (PostgreSQL 17's direct TLS requires it); an EOF without
 * close_notify is an EOF, as on the database legs (the protocol ends
 * with its own Terminate).
 */
static void
proto_pg_local_tls_opts(const struct config_route *rc, struct tls_ctx_opts *o)
{
	o->alpn = "postgresql";
	o->eof_ok = true;
}

static struct pgconn *
proto_pg(struct proto_conn *pc)
{
	return ((struct pgconn *)pc); /* its first member */
}

static const struct pgconn *
proto_pg_const(const struct proto_conn *pc)
{
	return ((const struct pgconn *)pc);
}

static struct proto_conn *
proto_pg_new(const struct config_route *rc, SSL_CTX *ctx, SSL_CTX *local_ctx)
{
	return (pgconn_proto(pgconn_new(rc, ctx, local_ctx)));
}

static void
proto_pg_free(struct proto_conn *pc)
{
	pgconn_free(proto_pg(pc));
}

static void
proto_pg_rebind(
    struct proto_conn *pc, const struct config_route *rc, SSL_CTX *local_ctx)
{
	pgconn_rebind(proto_pg(pc), rc, local_ctx);
}

static enum proto_next
proto_pg_io(struct proto_conn *pc, struct leg *cl, struct leg *up,
    const struct identity *peer)
{
	/* The values are the same (pgconn.h). */
	return ((enum proto_next)pgconn_io(proto_pg(pc), cl, up, peer));
}

static bool
proto_pg_upstream_begin(struct proto_conn *pc)
{
	return (pgconn_upstream_begin(proto_pg(pc)));
}

static void
proto_pg_tls_done(struct proto_conn *pc)
{
	pgconn_tls_done(proto_pg(pc));
}

static size_t
proto_pg_pending(const struct proto_conn *pc)
{
	return (pgconn_pending(proto_pg_const(pc)));
}

static void
proto_pg_prefill(struct proto_conn *pc, struct pump *p)
{
	pgconn_prefill(proto_pg(pc), p);
}

static enum reason
proto_pg_result(
    const struct proto_conn *pc, const char **detail, bool *upstream)
{
	return (pgconn_result(proto_pg_const(pc), detail, upstream));
}

static void
proto_pg_audit(const struct proto_conn *pc, struct audit_rec *rec)
{
	pgconn_audit(proto_pg_const(pc), rec);
}

static bool
proto_pg_cancel_info(
    const struct proto_conn *pc, bool *client_tls, bool *refused)
{
	return (pgconn_cancel_info(proto_pg_const(pc), client_tls, refused));
}

/* Two cotai sidecars: mutual TLS, mux tunnels when allowed. */
const struct proto proto_tcp = {
    .name = "tcp",
    .tls_opts = proto_tcp_tls_opts,
};

const struct proto proto_postgres = {
    .name = "postgres",
    .tls_opts = proto_pg_tls_opts,
    .local_tls_opts = proto_pg_local_tls_opts,
    .conn_new = proto_pg_new,
    .conn_free = proto_pg_free,
    .rebind = proto_pg_rebind,
    .io = proto_pg_io,
    .upstream_begin = proto_pg_upstream_begin,
    .tls_done = proto_pg_tls_done,
    .pending = proto_pg_pending,
    .prefill = proto_pg_prefill,
    .result = proto_pg_result,
    .audit = proto_pg_audit,
    .cancel_info = proto_pg_cancel_info,
};

/* TLS from the first byte, the server's own (native upstream TLS). */
const struct proto proto_redis = {
    .name = "redis",
    .tls_opts = proto_db_tls_opts,
};

const struct proto proto_mongo = {
    .name = "mongo",
    .tls_opts = proto_db_tls_opts,
};

const struct proto *
proto_of(enum config_proto p)
{
	switch (p) {
	case CONFIG_PROTO_POSTGRES:
		return (&proto_postgres);
	case CONFIG_PROTO_REDIS:
		return (&proto_redis);
	case CONFIG_PROTO_MONGO:
		return (&proto_mongo);
	default:
		return (&proto_tcp);
	}
}

void
proto_tls_opts(const struct config_route *rc, struct tls_ctx_opts *o,
    struct tls_ctx_opts *local)
{
	const struct proto *p = proto_of(rc->protocol);

	*o = (struct tls_ctx_opts){0};
	*local = (struct tls_ctx_opts){0};
	if (p->tls_opts != NULL)
		p->tls_opts(rc, o);
	if (p->local_tls_opts != NULL)
		p->local_tls_opts(rc, local);
}

bool
proto_negotiates(const struct config_route *rc)
{
	return (proto_of(rc->protocol)->conn_new != NULL);
}

struct proto_conn *
proto_conn_new(const struct config_route *rc, SSL_CTX *ctx, SSL_CTX *local_ctx)
{
	return (proto_of(rc->protocol)->conn_new(rc, ctx, local_ctx));
}

void
proto_conn_free(struct proto_conn *pc)
{
	if (pc != NULL)
		pc->type->conn_free(pc);
}

void
proto_conn_rebind(
    struct proto_conn *pc, const struct config_route *rc, SSL_CTX *local_ctx)
{
	if (pc != NULL)
		pc->type->rebind(pc, rc, local_ctx);
}

enum proto_next
proto_conn_io(struct proto_conn *pc, struct leg *cl, struct leg *up,
    const struct identity *peer)
{
	return (pc->type->io(pc, cl, up, peer));
}

bool
proto_conn_upstream_begin(struct proto_conn *pc)
{
	return (pc != NULL && pc->type->upstream_begin(pc));
}

void
proto_conn_tls_done(struct proto_conn *pc)
{
	pc->type->tls_done(pc);
}

size_t
proto_conn_pending(const struct proto_conn *pc)
{
	return (pc != NULL ? pc->type->pending(pc) : 0);
}

void
proto_conn_prefill(struct proto_conn *pc, struct pump *p)
{
	if (pc != NULL)
		pc->type->prefill(pc, p);
}

enum reason
proto_conn_result(
    const struct proto_conn *pc, const char **detail, bool *upstream)
{
	return (pc->type->result(pc, detail, upstream));
}

void
proto_conn_audit(const struct proto_conn *pc, struct audit_rec *rec)
{
	if (pc != NULL)
		pc->type->audit(pc, rec);
}

bool
proto_conn_cancel_info(
    const struct proto_conn *pc, bool *client_tls, bool *refused)
{
	return (pc != NULL && pc->type->cancel_info(pc, client_tls, refused));
}
