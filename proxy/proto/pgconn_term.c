/*
 * pgconn_term: the terminating side of pgconn before TLS (the DETECT
 * phase: a ClientHello, an SSLRequest, a GSSENCRequest or a plaintext
 * CancelRequest), and the relay of a plaintext cancel (UPCANCEL). See
 * pgconn.c for the phases.
 */
#include "pgconn.h"
#include "pgconn_priv.h"

#include <errno.h>
#include <sys/socket.h>

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
	uint8_t b;

	pg->cancel = pg->plain_cancel = true;
	pg->refused = true;
	if (!pg->rc->pg_plaintext_cancel)
		return (pgconn_fail(pg, REASON_PROTOCOL, false,
		    "plaintext cancel request dropped (plaintext_cancel is "
		    "off)"));
	if (recv(cl->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
		return (pgconn_fail(pg, REASON_PROTOCOL, false,
		    "bytes after a plaintext cancel request"));
	pg->refused = false;
	leg_watch(cl, 0);
	pg->phase = PG_P_READY;
	return (PGCONN_CONNECT);
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
	ssize_t r;
	int f;

	for (;;) {
		if ((f = pgconn_flush(pg, cl)) <= 0)
			return (f == 0
				? PGCONN_WAIT
				: pgconn_leg_fail(pg, cl, LEG_ERR, false));
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
				return (pgconn_leg_fail(
				    pg, cl, r == 0 ? LEG_EOF : LEG_ERR, false));
			if (b == PG_TLS_RECORD) {
				leg_watch(cl, 0);
				pg->phase = PG_P_READY;
				return (PGCONN_TLS);
			}
		}
		res = leg_read(
		    cl, pg->in + pg->inlen, pg_detect_want(pg) - pg->inlen, &n);
		if (res == LEG_AGAIN) {
			leg_watch(cl, cl->rd_block);
			return (PGCONN_WAIT);
		}
		if (res != LEG_OK)
			return (pgconn_leg_fail(pg, cl, res, false));
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
	enum leg_res res;
	size_t n;

	while (pg->upoff < pg->inlen) {
		res = leg_write(
		    up, pg->in + pg->upoff, pg->inlen - pg->upoff, &n);
		if (res == LEG_AGAIN) {
			leg_watch(up, up->wr_block);
			return (PGCONN_WAIT);
		}
		if (res != LEG_OK)
			return (pgconn_leg_fail(pg, up, res, true));
		pg->upoff += n;
	}
	if (leg_shutdown(up) != LEG_OK)
		return (pgconn_leg_fail(pg, up, LEG_ERR, true));
	for (;;) {
		res = leg_read(up, sink, sizeof(sink), &n);
		if (res == LEG_AGAIN) {
			leg_watch(up, EV_READ);
			return (PGCONN_WAIT);
		}
		if (res == LEG_EOF)
			return (pgconn_fail(pg, REASON_EOF, true, ""));
		if (res != LEG_OK)
			return (pgconn_leg_fail(pg, up, res, true));
	}
}
