/*
 * leg: see leg.h. The tcp and tls kinds' tables are here; the public
 * functions call through the table of the leg's kind (leg_ops()). Plain
 * legs use read(2)/send(2) with MSG_NOSIGNAL; TLS legs
 * SSL_read_ex/SSL_write_ex (partial writes on, read-ahead on, so one
 * read(2) can bring several records). SSL errors are turned into a
 * detail string and the thread's error queue is left empty, so that one
 * connection's failure never shows up in another's log line. Because every
 * path that can leave an error on the queue empties it (leg_ssl_result()
 * here, tls_handshake_failed() after leg_handshake(), log_ssl()), the
 * queue is known to be empty before SSL_read_ex/SSL_write_ex and is not
 * cleared there: ERR_clear_error() costs a thread-local lookup per call
 * (1-2 % of the CPU in bulk and request/response loads).
 */
#include "leg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

static const struct leg_ops leg_tcp_ops, leg_tls_ops;

/* The table of L's kind. */
static const struct leg_ops *
leg_ops(const struct leg *l)
{
	if (l->ops != NULL)
		return (l->ops);
	return (l->ssl != NULL ? &leg_tls_ops : &leg_tcp_ops);
}

void
leg_init(struct leg *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

void
leg_open(struct leg *l, struct event *ev, struct event_base *base, int fd,
    event_callback_fn cb, void *arg)
{
	l->fd = fd;
	l->ev = ev;
	l->armed = 0;
	(void)event_assign(ev, base, fd, EV_PERSIST, cb, arg);
	leg_set_bulk(l, l->bulk);
}

void
leg_clear(struct leg *l, bool abort)
{
	const struct leg_ops *ops = leg_ops(l);

	if (l->ev != NULL)
		event_del(l->ev);
	l->ev = NULL;
	l->armed = 0;
	ops->clear(l, abort);
	l->ops = NULL;
	l->ms = NULL;
	l->ssl = NULL;
	l->fd = -1;
}

/* tcp: close the socket (reset it when ABORT). */
static void
leg_tcp_clear(struct leg *l, bool abort)
{
	struct linger lin = {1, 0};

	if (l->fd < 0)
		return;
	if (abort)
		(void)setsockopt(
		    l->fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	close(l->fd);
	l->fd = -1;
}

/* tls: free the SSL, then close the socket. */
static void
leg_tls_clear(struct leg *l, bool abort)
{
	/*
	 * A session whose handshake finished stays good however the
	 * connection ends (TLS 1.3 asks nothing else): without this, SSL_free
	 * of a connection that sent no close_notify removes it from the
	 * server's cache and marks it not resumable, which every connection
	 * resuming from the same ticket would then pay for with a full
	 * handshake. Fatal alerts still remove it, inside OpenSSL.
	 */
	if (l->ssl != NULL && SSL_is_init_finished(l->ssl))
		SSL_set_shutdown(
		    l->ssl, SSL_get_shutdown(l->ssl) | SSL_SENT_SHUTDOWN);
	SSL_free(l->ssl);
	l->ssl = NULL;
	leg_tcp_clear(l, abort);
}

/* Note a syscall error. */
static enum leg_res
leg_errno(struct leg *l, int err)
{
	l->err = err;
	l->tls_err = 0;
	return (LEG_ERR);
}

const char *
leg_detail(const struct leg *l, char *buf, size_t len)
{
	if (l->err == ENOMEM)
		snprintf(buf, len, "out of memory");
	else if (l->err != 0)
		snprintf(buf, len, "%s", strerror(l->err));
	else if (l->tls_err != 0)
		ERR_error_string_n(l->tls_err, buf, len);
	else
		snprintf(buf, len, "TLS error");
	return (buf);
}

/*
 * Classify the result of an SSL call that returned RET; for AGAIN store
 * the awaited event in *BLOCK.
 */
static enum leg_res
leg_ssl_result(struct leg *l, int ret, short *block)
{
	unsigned long e;

	switch (SSL_get_error(l->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*block = EV_READ;
		return (LEG_AGAIN);
	case SSL_ERROR_WANT_WRITE:
		*block = EV_WRITE;
		return (LEG_AGAIN);
	case SSL_ERROR_ZERO_RETURN:
		return (LEG_EOF);
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return (leg_errno(l, errno != 0 ? errno : ECONNRESET));
	default:
		e = ERR_peek_error();
		ERR_clear_error();
		l->err = 0;
		l->tls_err = e; /* the text comes from the code: leg_detail() */
		return (LEG_ERR);
	}
}

/* tcp: the result R of a read(2) or recv(2) into *N. */
static enum leg_res
leg_tcp_got(struct leg *l, ssize_t r, size_t *n)
{
	if (r > 0) {
		*n = (size_t)r;
		return (LEG_OK);
	}
	if (r == 0)
		return (LEG_EOF);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		l->rd_block = EV_READ;
		return (LEG_AGAIN);
	}
	return (leg_errno(l, errno));
}

static enum leg_res
leg_tcp_read(struct leg *l, void *buf, size_t len, size_t *n)
{
	enum leg_res res = leg_tcp_got(l, read(l->fd, buf, len), n);

	if (res == LEG_OK)
		l->bytes_in += *n;
	return (res);
}

static enum leg_res
leg_tcp_peek(struct leg *l, void *buf, size_t len, size_t *n)
{
	return (
	    leg_tcp_got(l, recv(l->fd, buf, len, MSG_PEEK | MSG_DONTWAIT), n));
}

static enum leg_res
leg_tls_read(struct leg *l, void *buf, size_t len, size_t *n)
{
	if (SSL_read_ex(l->ssl, buf, len, n) == 1) {
		l->bytes_in += *n;
		return (LEG_OK);
	}
	return (leg_ssl_result(l, 0, &l->rd_block));
}

static enum leg_res
leg_tls_peek(struct leg *l, void *buf, size_t len, size_t *n)
{
	if (SSL_peek_ex(l->ssl, buf, len, n) == 1)
		return (LEG_OK);
	return (leg_ssl_result(l, 0, &l->rd_block));
}

enum leg_res
leg_read(struct leg *l, void *buf, size_t len, size_t *n)
{
	return (leg_ops(l)->read(l, buf, len, n));
}

enum leg_res
leg_peek(struct leg *l, void *buf, size_t len, size_t *n)
{
	return (leg_ops(l)->peek(l, buf, len, n));
}

bool
leg_can_rview(const struct leg *l)
{
	return (leg_ops(l)->rview != NULL);
}

enum leg_res
leg_rview(struct leg *l, const void **p, size_t *n)
{
	return (leg_ops(l)->rview(l, p, n));
}

void
leg_rtake(struct leg *l, size_t n)
{
	leg_ops(l)->rtake(l, n);
}

bool
leg_can_wspace(const struct leg *l)
{
	return (leg_ops(l)->wspace != NULL);
}

enum leg_res
leg_wspace(struct leg *l, void **p, size_t *n)
{
	return (leg_ops(l)->wspace(l, p, n));
}

void
leg_wput(struct leg *l, size_t n)
{
	leg_ops(l)->wput(l, n);
}

static void
leg_tls_idle(struct leg *l)
{
	(void)SSL_free_buffers(l->ssl); /* refused while not empty */
}

void
leg_idle(struct leg *l)
{
	const struct leg_ops *ops = leg_ops(l);

	if (ops->idle != NULL)
		ops->idle(l);
}

static bool
leg_tls_pending(const struct leg *l)
{
	return (SSL_has_pending(l->ssl) == 1);
}

bool
leg_pending(const struct leg *l)
{
	const struct leg_ops *ops = leg_ops(l);

	return (ops->pending != NULL && ops->pending(l));
}

static enum leg_res
leg_tcp_write(struct leg *l, const void *buf, size_t len, size_t *n)
{
	ssize_t r = send(l->fd, buf, len, MSG_NOSIGNAL);

	if (r >= 0) {
		*n = (size_t)r;
		l->bytes_out += *n;
		return (LEG_OK);
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		l->wr_block = EV_WRITE;
		return (LEG_AGAIN);
	}
	return (leg_errno(l, errno));
}

static enum leg_res
leg_tls_write(struct leg *l, const void *buf, size_t len, size_t *n)
{
	if (SSL_write_ex(l->ssl, buf, len, n) == 1) {
		l->bytes_out += *n;
		return (LEG_OK);
	}
	return (leg_ssl_result(l, 0, &l->wr_block));
}

enum leg_res
leg_write(struct leg *l, const void *buf, size_t len, size_t *n)
{
	return (leg_ops(l)->write(l, buf, len, n));
}

static enum leg_res
leg_tcp_shutdown(struct leg *l)
{
	if (shutdown(l->fd, SHUT_WR) != 0 && errno != ENOTCONN)
		return (leg_errno(l, errno));
	l->shut = true;
	return (LEG_OK);
}

static enum leg_res
leg_tls_shutdown(struct leg *l)
{
	int ret;

	ERR_clear_error();
	ret = SSL_shutdown(l->ssl);
	if (ret < 0) {
		enum leg_res res = leg_ssl_result(l, ret, &l->wr_block);

		return (res == LEG_EOF ? LEG_OK : res);
	}
	l->shut = true;
	return (LEG_OK);
}

enum leg_res
leg_shutdown(struct leg *l)
{
	if (l->shut)
		return (LEG_OK);
	return (leg_ops(l)->shutdown(l));
}

enum leg_res
leg_handshake(struct leg *l)
{
	int ret;

	ERR_clear_error();
	ret = SSL_do_handshake(l->ssl);
	if (ret == 1)
		return (LEG_OK);
	/* The caller reads the reason from the error queue; keep it. */
	switch (SSL_get_error(l->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		l->rd_block = EV_READ;
		return (LEG_AGAIN);
	case SSL_ERROR_WANT_WRITE:
		l->rd_block = EV_WRITE;
		return (LEG_AGAIN);
	default:
		return (LEG_ERR);
	}
}

void
leg_ready(struct leg *l, short what)
{
	if (l->rd_block & what)
		l->rd_block = 0;
	if (l->wr_block & what)
		l->wr_block = 0;
}

/*
 * One event per leg instead of one per direction (128 bytes less per leg):
 * a change of what is watched re-assigns it, which libevent allows once
 * the event is deleted (also from inside its own callback). A readiness
 * reported but not yet handled is dropped with it, as event_del() of a
 * second event would; epoll is level-triggered and reports it again.
 */
static void
leg_sock_watch(struct leg *l, short want)
{
	struct event_base *base;
	event_callback_fn cb;
	void *arg;

	if (l->ev == NULL || want == l->armed)
		return;
	base = event_get_base(l->ev);
	cb = event_get_callback(l->ev);
	arg = event_get_callback_arg(l->ev);
	event_del(l->ev);
	(void)event_assign(l->ev, base, l->fd, want | EV_PERSIST, cb, arg);
	leg_set_bulk(l, l->bulk);
	if (want != 0)
		event_add(l->ev, NULL);
	l->armed = want;
}

void
leg_watch(struct leg *l, short want)
{
	if (l->ev != NULL) /* a stream leg's too (leg.h) */
		leg_set_bulk(l, l->bulk);
	leg_ops(l)->watch(l, want);
}

static const struct leg_ops leg_tcp_ops = {
    .read = leg_tcp_read,
    .peek = leg_tcp_peek,
    .write = leg_tcp_write,
    .shutdown = leg_tcp_shutdown,
    .watch = leg_sock_watch,
    .clear = leg_tcp_clear,
};

static const struct leg_ops leg_tls_ops = {
    .read = leg_tls_read,
    .peek = leg_tls_peek,
    .write = leg_tls_write,
    .shutdown = leg_tls_shutdown,
    .watch = leg_sock_watch,
    .pending = leg_tls_pending,
    .idle = leg_tls_idle,
    .clear = leg_tls_clear,
};

void
leg_set_bulk(struct leg *l, bool bulk)
{
	int prio = bulk ? LEG_PRIO_BULK : LEG_PRIO_NORMAL;

	l->bulk = bulk;
	/* Fails harmlessly while active, or on a base without priorities. */
	if (l->ev != NULL && event_get_priority(l->ev) != prio)
		(void)event_priority_set(l->ev, prio);
}

struct event_base *
leg_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (cfg == NULL ||
	    event_config_set_max_dispatch_interval(
		cfg, NULL, 1, LEG_PRIO_BULK) != 0 ||
	    (base = event_base_new_with_config(cfg)) == NULL ||
	    event_base_priority_init(base, LEG_PRIOS) != 0) {
		if (base != NULL)
			event_base_free(base);
		base = NULL;
	}
	if (cfg != NULL)
		event_config_free(cfg);
	return (base);
}
