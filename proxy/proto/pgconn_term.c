/*
 * pgconn_term: the terminating side of pgconn before TLS (the DETECT
 * phase: a ClientHello, an SSLRequest, a GSSENCRequest or a plaintext
 * CancelRequest), and the relay of a plaintext cancel (UPCANCEL). See
 * pgconn.c for the phases.
 */
#include "pgconn.h"
#include "pgconn_priv.h"

#include "pgwire.h"

/* Terminate: the 8-byte request read in DETECT is complete in pg->in. */
static enum pgconn_next
pg_detect_request(struct pgconn *pg, struct leg *cl, enum pgwire_kind kind)
{
	pg->inlen = 0;
	if (kind == PGWIRE_GSSENC_REQUEST && !pg->gss_seen) {
		pg->gss_seen = true;
		pgconn_answer(pg, 'N');
		return (PGCONN_WAIT);
	}
	if (kind != PGWIRE_SSL_REQUEST)
		return (pgconn_refuse(pg, cl, "08P01", REASON_PROTOCOL,
		    "repeated encryption request"));
	if (pgconn_answer_s(pg, cl) != PGCONN_WAIT)
		return (PGCONN_CLOSE);
	pg->go_tls = true;
	return (PGCONN_WAIT);
}

/*
 * Terminate: a whole CancelRequest came in plaintext (libpq before 17
 * sends its cancels so, also for a TLS session). It carries no identity:
 * its secret key is what authenticates it, as at PostgreSQL's own port.
 * With plaintext_cancel it is relayed alone, so nothing may follow it.
 */
static enum pgconn_next
pg_detect_cancel(struct pgconn *pg, struct leg *cl)
{
	pg->cancel = pg->plain_cancel = true;
	pg->refused = true;
	if (!pg->rc->pg_plaintext_cancel)
		return (pgconn_fail(pg, REASON_PROTOCOL, false,
		    "plaintext cancel request dropped (plaintext_cancel is "
		    "off)"));
	if (pgconn_more(cl))
		return (pgconn_fail(pg, REASON_PROTOCOL, false,
		    "bytes after a plaintext cancel request"));
	pg->refused = false;
	return (pgconn_ready(pg, cl, PGCONN_CONNECT));
}

/* Terminate, before TLS: the bytes to read, a request's 8 or the length
 * of the CancelRequest whose header is in. */
static size_t
pg_detect_want(const struct pgconn *pg)
{
	size_t n = pgwire_cancel_len(pg->in, pg->inlen);

	return (n > 0 ? n : PGWIRE_SSL_REQUEST_LEN);
}

/* Terminate, before TLS: look at the first bytes. */
enum pgconn_next
pgconn_detect(struct pgconn *pg, struct leg *cl)
{
	enum pgconn_next next;
	enum pgwire_kind kind;
	enum leg_res res;
	const char *why = NULL;
	uint8_t b;
	size_t n;

	for (;;) {
		if (pgconn_flushing(pg, cl, &next))
			return (next);
		if (pg->go_tls)
			return (pgconn_ready(pg, cl, PGCONN_TLS));
		if (pg->inlen == 0) {
			res = leg_peek(cl, &b, 1, &n);
			if (pgconn_stop(pg, cl, res, false, &next))
				return (next);
			if (b == PG_TLS_RECORD)
				return (pgconn_ready(pg, cl, PGCONN_TLS));
		}
		res = leg_read(
		    cl, pg->in + pg->inlen, pg_detect_want(pg) - pg->inlen, &n);
		if (pgconn_stop(pg, cl, res, false, &next))
			return (next);
		pg->inlen += n;
		kind = pgwire_parse(pg->in, pg->inlen, NULL, NULL, &why);
		if (kind == PGWIRE_ERROR)
			return (pgconn_refuse(
			    pg, cl, "08P01", REASON_PROTOCOL, why));
		if (pg->inlen < pg_detect_want(pg))
			continue;
		if (kind == PGWIRE_CANCEL)
			return (pg_detect_cancel(pg, cl));
		if (kind == PGWIRE_NEED_MORE)
			return (pgconn_refuse(pg, cl, "28000", REASON_PROTOCOL,
			    "TLS with a client certificate is required "
			    "(sslmode=verify-full)"));
		next = pg_detect_request(pg, cl, kind);
		if (next != PGCONN_WAIT || pg->phase == PG_P_CLOSING)
			return (next);
	}
}

/*
 * Terminate: write the plaintext cancel to the server, finish sending and
 * wait for the server to close (it has then acted on the request; the
 * client learns so only then, as from PostgreSQL itself). A server sends
 * nothing on a cancel connection; whatever it might send is dropped.
 */
enum pgconn_next
pgconn_upcancel(struct pgconn *pg, struct leg *up)
{
	uint8_t sink[64];
	enum pgconn_next next;
	enum leg_res res;
	size_t n;

	while (pg->upoff < pg->inlen) {
		res = leg_write(
		    up, pg->in + pg->upoff, pg->inlen - pg->upoff, &n);
		if (pgconn_stop(pg, up, res, true, &next))
			return (next);
		pg->upoff += n;
	}
	if (leg_shutdown(up) != LEG_OK)
		return (pgconn_leg_fail(pg, up, LEG_ERR, true));
	for (;;) {
		res = leg_read(up, sink, sizeof(sink), &n);
		if (res == LEG_EOF)
			return (pgconn_fail(pg, REASON_EOF, true, ""));
		if (pgconn_stop(pg, up, res, true, &next))
			return (next);
	}
}
