/*
 * pgconn: see pgconn.h. Phases:
 *
 *   PG_P_DETECT   terminate, before TLS: ClientHello, SSLRequest or refuse
 *   PG_P_STARTUP  read startup packets from cl (plain on originate, inside
 *                 TLS on terminate) until a StartupMessage or cancel
 *   PG_P_UPREQ    originate: SSLRequest to up, then its one-byte answer
 *   PG_P_CLOSING  an ErrorResponse is being written; then close
 *   PG_P_READY    waiting for the connect / handshake / relay
 *
 * Replies to the client ('N', 'S', ErrorResponse) go through out[] and are
 * flushed before anything else is read, so the client never sees them out
 * of order. The DETECT phase never reads past the 8-byte request it
 * judges: the bytes after an SSLRequest must stay in the kernel so that a
 * pipelined plaintext packet is noticed (and the connection closed)
 * instead of being taken as coming over TLS.
 */
#include "pgconn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pgwire.h"
#include "rolemap.h"

/* Room for the largest startup packet and whatever follows it. */
#define PGCONN_IN (PGWIRE_MAX_PACKET + 2048)
#define PGCONN_OUT 512
#define PG_TLS_RECORD 0x16 /* first byte of a TLS handshake record */

enum pgconn_phase {
	PG_P_DETECT,
	PG_P_STARTUP,
	PG_P_UPREQ,
	PG_P_CLOSING,
	PG_P_READY
};

struct pgconn {
	const struct config_route *rc;
	enum pgconn_phase phase;
	bool ssl_seen, gss_seen; /* requests answered so far */
	bool go_tls;             /* DETECT: 'S' queued, TLS after the flush */
	bool cancel;             /* the packet is a CancelRequest */
	uint8_t *in;             /* client bytes not yet relayed */
	size_t inlen;
	uint8_t out[PGCONN_OUT]; /* to the client */
	size_t outoff, outlen;
	size_t reqoff; /* SSLRequest bytes written upstream */
	enum reason why;
	bool by_upstream;
	char detail[160];
	struct identity self; /* originate with roles: our own identity */
	char user[PGWIRE_NAMEDATALEN], database[PGWIRE_NAMEDATALEN];
};

struct pgconn *
pgconn_new(const struct config_route *rc, SSL_CTX *ctx)
{
	struct pgconn *pg;
	X509 *own;

	if ((pg = calloc(1, sizeof(*pg))) == NULL ||
	    (pg->in = malloc(PGCONN_IN)) == NULL) {
		free(pg);
		return (NULL);
	}
	pg->rc = rc;
	pg->phase =
	    rc->mode == CONFIG_MODE_TERMINATE ? PG_P_DETECT : PG_P_STARTUP;
	if (rc->mode == CONFIG_MODE_ORIGINATE && rc->nroles > 0 &&
	    ctx != NULL && (own = SSL_CTX_get0_certificate(ctx)) != NULL)
		(void)identity_from_x509(own, &pg->self);
	return (pg);
}

void
pgconn_free(struct pgconn *pg)
{
	if (pg == NULL)
		return;
	identity_clear(&pg->self);
	free(pg->in);
	free(pg);
}

/* Record why the connection ends; returns PGCONN_CLOSE. */
static enum pgconn_next
pg_fail(struct pgconn *pg, enum reason why, bool upstream, const char *detail)
{
	pg->why = why;
	pg->by_upstream = upstream;
	snprintf(pg->detail, sizeof(pg->detail), "%s", detail);
	return (PGCONN_CLOSE);
}

/* A leg error or EOF while negotiating. */
static enum pgconn_next
pg_leg_fail(struct pgconn *pg, const struct leg *l, enum leg_res res, bool up)
{
	char buf[120];

	if (res == LEG_EOF)
		return (
		    pg_fail(pg, up ? REASON_UPSTREAM_NO_TLS : REASON_EOF, up,
			up ? "server closed during negotiation"
			   : "client closed during startup"));
	return (pg_fail(pg, l->ssl != NULL ? REASON_TLS_ERROR : REASON_RESET,
	    up, leg_detail(l, buf, sizeof(buf))));
}

/* Write out[] to CL: 1 all written, 0 blocked (watched), -1 error. */
static int
pg_flush(struct pgconn *pg, struct leg *cl)
{
	size_t n;

	while (pg->outoff < pg->outlen) {
		switch (leg_write(
		    cl, pg->out + pg->outoff, pg->outlen - pg->outoff, &n)) {
		case LEG_OK:
			pg->outoff += n;
			break;
		case LEG_AGAIN:
			leg_watch(cl, cl->wr_block);
			return (0);
		default:
			return (-1);
		}
	}
	pg->outoff = pg->outlen = 0;
	return (1);
}

/* Queue the one-byte answer C. */
static void
pg_answer(struct pgconn *pg, char c)
{
	if (pg->outlen < sizeof(pg->out))
		pg->out[pg->outlen++] = (uint8_t)c;
}

/* Send the remaining reply, finish sending and close. */
static enum pgconn_next
pg_closing(struct pgconn *pg, struct leg *cl)
{
	int r = pg_flush(pg, cl);

	if (r == 0)
		return (PGCONN_WAIT);
	if (r == 1)
		(void)leg_shutdown(cl);
	return (PGCONN_CLOSE);
}

/* Refuse with an ErrorResponse (SQLSTATE), then close for WHY. */
static enum pgconn_next
pg_refuse(struct pgconn *pg, struct leg *cl, const char *sqlstate,
    enum reason why, const char *detail)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "cotai: %s", detail);
	pg->outlen += pgwire_error_response(
	    pg->out + pg->outlen, sizeof(pg->out) - pg->outlen, sqlstate, msg);
	pg->phase = PG_P_CLOSING;
	(void)pg_fail(pg, why, false, detail);
	return (pg_closing(pg, cl));
}

/* Terminate: the 8-byte request read in DETECT is complete in pg->in. */
static enum pgconn_next
pg_detect_request(struct pgconn *pg, struct leg *cl, enum pgwire_kind kind)
{
	uint8_t b;

	pg->inlen = 0;
	if (kind == PGWIRE_GSSENC_REQUEST && !pg->gss_seen) {
		pg->gss_seen = true;
		pg_answer(pg, 'N');
		return (PGCONN_WAIT);
	}
	if (kind != PGWIRE_SSL_REQUEST)
		return (pg_refuse(pg, cl, "08P01", REASON_PROTOCOL,
		    "repeated encryption request"));
	/* Anything already behind the SSLRequest: CVE-2021-23214. */
	if (recv(cl->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
		return (pg_fail(pg, REASON_PROTOCOL, false,
		    "bytes after SSLRequest before TLS (CVE-2021-23214)"));
	pg_answer(pg, 'S');
	pg->go_tls = true;
	return (PGCONN_WAIT);
}

/* Terminate, before TLS: look at the first bytes. */
static enum pgconn_next
pg_detect(struct pgconn *pg, struct leg *cl)
{
	enum pgconn_next next;
	enum pgwire_kind kind;
	enum leg_res res;
	const char *why = NULL;
	uint8_t b;
	size_t n;
	ssize_t r;
	int f;

	for (;;) {
		if ((f = pg_flush(pg, cl)) <= 0)
			return (f == 0 ? PGCONN_WAIT
				       : pg_leg_fail(pg, cl, LEG_ERR, false));
		if (pg->go_tls) {
			leg_watch(cl, 0);
			pg->phase = PG_P_READY;
			return (PGCONN_TLS);
		}
		if (pg->inlen == 0) {
			r = recv(cl->fd, &b, 1, MSG_PEEK);
			if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
				cl->rd_block = EV_READ;
				leg_watch(cl, EV_READ);
				return (PGCONN_WAIT);
			}
			if (r <= 0)
				return (pg_leg_fail(
				    pg, cl, r == 0 ? LEG_EOF : LEG_ERR, false));
			if (b == PG_TLS_RECORD) {
				leg_watch(cl, 0);
				pg->phase = PG_P_READY;
				return (PGCONN_TLS);
			}
		}
		res = leg_read(cl, pg->in + pg->inlen,
		    PGWIRE_SSL_REQUEST_LEN - pg->inlen, &n);
		if (res == LEG_AGAIN) {
			leg_watch(cl, cl->rd_block);
			return (PGCONN_WAIT);
		}
		if (res != LEG_OK)
			return (pg_leg_fail(pg, cl, res, false));
		pg->inlen += n;
		kind = pgwire_parse(pg->in, pg->inlen, NULL, NULL, &why);
		if (kind == PGWIRE_ERROR)
			return (
			    pg_refuse(pg, cl, "08P01", REASON_PROTOCOL, why));
		if (pg->inlen < PGWIRE_SSL_REQUEST_LEN)
			continue;
		if (kind == PGWIRE_NEED_MORE)
			return (pg_refuse(pg, cl, "28000", REASON_PROTOCOL,
			    "TLS with a client certificate is required "
			    "(sslmode=verify-full)"));
		next = pg_detect_request(pg, cl, kind);
		if (next != PGCONN_WAIT || pg->phase == PG_P_CLOSING)
			return (next);
	}
}

/* A complete StartupMessage: check the role, then connect. */
static enum pgconn_next
pg_startup_done(struct pgconn *pg, struct leg *cl,
    const struct pgwire_startup *st, const struct identity *peer)
{
	const struct identity *who =
	    pg->rc->mode == CONFIG_MODE_TERMINATE ? peer : &pg->self;
	char msg[200];

	memcpy(pg->user, st->user, st->user_len + 1);
	memcpy(pg->database, st->database, st->database_len);
	pg->database[st->database_len] = '\0';
	if (!rolemap_allows(pg->rc, who, pg->user, pg->database)) {
		snprintf(msg, sizeof(msg),
		    "identity %s may not log in as role \"%s\" to "
		    "database \"%s\"",
		    who != NULL && who->name != NULL ? who->name : "(none)",
		    pg->user, pg->database);
		return (
		    pg_refuse(pg, cl, "28000", REASON_ROLE_NOT_ALLOWED, msg));
	}
	leg_watch(cl, 0);
	pg->phase = PG_P_READY;
	return (PGCONN_CONNECT);
}

/* Read startup packets from CL until a StartupMessage or cancel. */
static enum pgconn_next
pg_startup(struct pgconn *pg, struct leg *cl, const struct identity *peer)
{
	struct pgwire_startup st;
	enum pgwire_kind kind;
	enum leg_res res;
	const char *why = NULL;
	size_t used = 0, n;
	int f;

	for (;;) {
		if ((f = pg_flush(pg, cl)) <= 0)
			return (f == 0 ? PGCONN_WAIT
				       : pg_leg_fail(pg, cl, LEG_ERR, false));
		kind = pgwire_parse(pg->in, pg->inlen, &used, &st, &why);
		switch (kind) {
		case PGWIRE_ERROR:
			return (
			    pg_refuse(pg, cl, "08P01", REASON_PROTOCOL, why));
		case PGWIRE_SSL_REQUEST:
		case PGWIRE_GSSENC_REQUEST:
			if (kind == PGWIRE_SSL_REQUEST ? pg->ssl_seen
						       : pg->gss_seen)
				return (
				    pg_refuse(pg, cl, "08P01", REASON_PROTOCOL,
					"repeated encryption request"));
			*(kind == PGWIRE_SSL_REQUEST ? &pg->ssl_seen
						     : &pg->gss_seen) = true;
			memmove(pg->in, pg->in + used, pg->inlen - used);
			pg->inlen -= used;
			pg_answer(pg, 'N');
			continue;
		case PGWIRE_CANCEL:
			pg->cancel = true;
			leg_watch(cl, 0);
			pg->phase = PG_P_READY;
			return (PGCONN_CONNECT);
		case PGWIRE_STARTUP:
			return (pg_startup_done(pg, cl, &st, peer));
		default:
			break;
		}
		res =
		    leg_read(cl, pg->in + pg->inlen, PGCONN_IN - pg->inlen, &n);
		if (res == LEG_AGAIN) {
			leg_watch(cl, cl->rd_block);
			return (PGCONN_WAIT);
		}
		if (res != LEG_OK)
			return (pg_leg_fail(pg, cl, res, false));
		pg->inlen += n;
	}
}

/* Originate: SSLRequest to the server, then exactly one byte back. */
static enum pgconn_next
pg_upreq(struct pgconn *pg, struct leg *up)
{
	uint8_t req[PGWIRE_SSL_REQUEST_LEN], b[2];
	enum leg_res res;
	const char *why = NULL;
	size_t n, len = 1;

	(void)pgwire_ssl_request(req, sizeof(req));
	while (pg->reqoff < sizeof(req)) {
		res = leg_write(
		    up, req + pg->reqoff, sizeof(req) - pg->reqoff, &n);
		if (res == LEG_AGAIN) {
			leg_watch(up, up->wr_block);
			return (PGCONN_WAIT);
		}
		if (res != LEG_OK)
			return (pg_leg_fail(pg, up, res, true));
		pg->reqoff += n;
	}
	/* Exactly one byte: what follows an 'S' belongs to TLS. */
	res = leg_read(up, b, 1, &n);
	if (res == LEG_AGAIN) {
		leg_watch(up, up->rd_block);
		return (PGCONN_WAIT);
	}
	if (res != LEG_OK)
		return (pg_leg_fail(pg, up, res, true));
	if (recv(up->fd, b + 1, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
		len = 2;
	if (pgwire_ssl_reply(b, len, &why) != PGWIRE_SSL_ACCEPT)
		return (pg_fail(pg, REASON_UPSTREAM_NO_TLS, true, why));
	leg_watch(up, 0);
	pg->phase = PG_P_READY;
	return (PGCONN_TLS);
}

enum pgconn_next
pgconn_io(struct pgconn *pg, struct leg *cl, struct leg *up,
    const struct identity *peer)
{
	switch (pg->phase) {
	case PG_P_DETECT:
		return (pg_detect(pg, cl));
	case PG_P_STARTUP:
		return (pg_startup(pg, cl, peer));
	case PG_P_UPREQ:
		return (pg_upreq(pg, up));
	case PG_P_CLOSING:
		return (pg_closing(pg, cl));
	default:
		return (PGCONN_WAIT);
	}
}

bool
pgconn_upstream_begin(struct pgconn *pg)
{
	if (pg->rc->pg_upstream != CONFIG_PG_UP_POSTGRES ||
	    pg->rc->pg_sslnegotiation != CONFIG_PG_SSLNEG_POSTGRES)
		return (false);
	pg->phase = PG_P_UPREQ;
	return (true);
}

void
pgconn_tls_done(struct pgconn *pg)
{
	pg->phase = PG_P_STARTUP;
}

size_t
pgconn_pending(const struct pgconn *pg)
{
	return (pg != NULL ? pg->inlen : 0);
}

void
pgconn_prefill(struct pgconn *pg, struct pump *p)
{
	if (pg == NULL || pg->in == NULL)
		return;
	memcpy(p->buf, pg->in, pg->inlen);
	p->off = 0;
	p->len = pg->inlen;
	pg->inlen = 0;
	free(pg->in);
	pg->in = NULL;
}

enum reason
pgconn_result(const struct pgconn *pg, const char **detail, bool *upstream)
{
	*detail = pg->detail;
	*upstream = pg->by_upstream;
	return (pg->why != REASON_NONE ? pg->why : REASON_INTERNAL);
}

void
pgconn_audit(const struct pgconn *pg, struct log_rec *rec)
{
	if (pg == NULL)
		return;
	if (pg->cancel)
		log_str(rec, "pg_request", "cancel");
	if (pg->user[0] != '\0') {
		log_str(rec, "pg_user", pg->user);
		log_str(rec, "pg_database", pg->database);
	}
}

/* Terminate: select "postgresql" when the client offers it. */
static int
pg_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char name[] = "postgresql";
	unsigned int i = 0;

	while (i < inlen) {
		unsigned int n = in[i];

		if (i + 1 + n > inlen)
			break;
		if (n == sizeof(name) - 1 && memcmp(in + i + 1, name, n) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return (SSL_TLSEXT_ERR_OK);
		}
		i += 1 + n;
	}
	return (SSL_TLSEXT_ERR_NOACK);
}

int
pgconn_ctx_setup(SSL_CTX *ctx, const struct config_route *rc)
{
	static const unsigned char alpn[] = "\012postgresql";

	/*
	 * Database servers close TLS without close_notify (redis-server
	 * does after every client EOF); their protocols frame their own
	 * messages, so a missing close_notify is an EOF, not an attack.
	 */
	if (rc->protocol != CONFIG_PROTO_TCP &&
	    rc->mode == CONFIG_MODE_ORIGINATE)
		SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (rc->protocol != CONFIG_PROTO_POSTGRES)
		return (0);
	if (rc->mode == CONFIG_MODE_TERMINATE) {
		SSL_CTX_set_alpn_select_cb(ctx, pg_alpn_select, NULL);
		return (0);
	}
	if (rc->pg_upstream == CONFIG_PG_UP_POSTGRES &&
	    rc->pg_sslnegotiation == CONFIG_PG_SSLNEG_DIRECT &&
	    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
		log_ssl("route %s: ALPN", rc->name);
		return (-1);
	}
	return (0);
}
