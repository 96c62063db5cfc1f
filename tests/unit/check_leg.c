/*
 * Unit tests for proxy/transport/leg.c over socketpair()s (and one TCP
 * pair on loopback, for the reset): the tcp and tls kinds read, peek,
 * write, report EOF, finish sending (half-close: the other direction
 * keeps working), say LEG_AGAIN with the event to wait for when the
 * socket buffer is full or empty, and leg_clear() closes (or resets) the
 * socket. The TLS legs run a real handshake with a certificate made in
 * memory, both ends being legs. A leg of another kind calls through the
 * table it is given.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "data/testcert.h"
#include "leg.h"

Suite *leg_suite(void);

/* Two legs joined by a socketpair: a[0] is the one under test. */
struct pair {
	struct leg l[2];
};

static void
nonblock(int fd)
{
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
}

static void
pair_init(struct pair *p)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (int i = 0; i < 2; i++) {
		nonblock(sv[i]);
		leg_init(&p->l[i]);
		p->l[i].fd = sv[i];
	}
}

static void
pair_clear(struct pair *p)
{
	leg_clear(&p->l[0], false);
	leg_clear(&p->l[1], false);
}

/* Read from L until LEN bytes are in BUF (the other end has sent them). */
static void
read_all(struct leg *l, char *buf, size_t len)
{
	size_t got = 0, n;

	for (int i = 0; got < len && i < 1000; i++) {
		enum leg_res res = leg_read(l, buf + got, len - got, &n);

		ck_assert(res == LEG_OK || res == LEG_AGAIN);
		if (res == LEG_OK)
			got += n;
	}
	ck_assert_uint_eq(got, len);
}

START_TEST(tcp_read_peek_write)
{
	struct pair p;
	char buf[16];
	size_t n;

	pair_init(&p);
	ck_assert_int_eq(leg_write(&p.l[1], "hello", 5, &n), LEG_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(p.l[1].bytes_out, 5);
	/* A peek leaves the bytes where they are, uncounted. */
	ck_assert_int_eq(leg_peek(&p.l[0], buf, 2, &n), LEG_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(buf, "he", 2);
	ck_assert_uint_eq(p.l[0].bytes_in, 0);
	ck_assert_int_eq(leg_read(&p.l[0], buf, sizeof(buf), &n), LEG_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_uint_eq(p.l[0].bytes_in, 5);
	ck_assert(!leg_pending(&p.l[0]));
	pair_clear(&p);
}
END_TEST

START_TEST(tcp_again_when_empty)
{
	struct pair p;
	char buf[4];
	size_t n;

	pair_init(&p);
	ck_assert_int_eq(leg_read(&p.l[0], buf, sizeof(buf), &n), LEG_AGAIN);
	ck_assert_int_eq(p.l[0].rd_block, EV_READ);
	leg_ready(&p.l[0], EV_READ);
	ck_assert_int_eq(p.l[0].rd_block, 0);
	ck_assert_int_eq(leg_peek(&p.l[0], buf, sizeof(buf), &n), LEG_AGAIN);
	ck_assert_int_eq(p.l[0].rd_block, EV_READ);
	pair_clear(&p);
}
END_TEST

START_TEST(tcp_eof_and_half_close)
{
	struct pair p;
	char buf[8];
	size_t n;

	pair_init(&p);
	ck_assert_int_eq(leg_write(&p.l[1], "x", 1, &n), LEG_OK);
	ck_assert_int_eq(leg_shutdown(&p.l[1]), LEG_OK);
	ck_assert(p.l[1].shut);
	ck_assert_int_eq(leg_shutdown(&p.l[1]), LEG_OK); /* once is enough */
	/* The byte before the FIN first, then EOF (also to a peek). */
	ck_assert_int_eq(leg_read(&p.l[0], buf, sizeof(buf), &n), LEG_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(leg_peek(&p.l[0], buf, sizeof(buf), &n), LEG_EOF);
	ck_assert_int_eq(leg_read(&p.l[0], buf, sizeof(buf), &n), LEG_EOF);
	/* The other direction still flows. */
	ck_assert_int_eq(leg_write(&p.l[0], "back", 4, &n), LEG_OK);
	read_all(&p.l[1], buf, 4);
	ck_assert_mem_eq(buf, "back", 4);
	pair_clear(&p);
}
END_TEST

/* What fill() writes: the same bytes again after LEG_AGAIN (leg.h). */
static char big[65536];

/* Write to L until LEG_AGAIN; the bytes written. */
static size_t
fill(struct leg *l)
{
	size_t total = 0, n;
	enum leg_res res;

	for (int i = 0; i < 10000; i++) {
		res = leg_write(l, big, sizeof(big), &n);
		if (res == LEG_AGAIN)
			return (total);
		ck_assert_int_eq(res, LEG_OK);
		total += n;
	}
	ck_abort_msg("the socket buffer never filled");
	return (0);
}

/* Read (and drop) what the other end has until it would block. */
static size_t
drain(struct leg *l)
{
	static char buf[65536];
	size_t total = 0, n;

	while (leg_read(l, buf, sizeof(buf), &n) == LEG_OK)
		total += n;
	return (total);
}

START_TEST(tcp_again_when_full)
{
	struct pair p;
	size_t sent, n;

	pair_init(&p);
	sent = fill(&p.l[0]);
	ck_assert_uint_gt(sent, 0);
	ck_assert_int_eq(p.l[0].wr_block, EV_WRITE);
	ck_assert_uint_eq(drain(&p.l[1]), sent);
	leg_ready(&p.l[0], EV_WRITE);
	ck_assert_int_eq(p.l[0].wr_block, 0);
	ck_assert_int_eq(leg_write(&p.l[0], "y", 1, &n), LEG_OK);
	ck_assert_uint_eq(p.l[0].bytes_out, sent + 1);
	pair_clear(&p);
}
END_TEST

START_TEST(tcp_error_detail)
{
	struct pair p;
	char buf[64];
	size_t n;

	pair_init(&p);
	leg_clear(&p.l[1], false);
	ck_assert_int_eq(leg_write(&p.l[0], "z", 1, &n), LEG_ERR);
	ck_assert_int_eq(p.l[0].err, EPIPE);
	ck_assert_str_eq(
	    leg_detail(&p.l[0], buf, sizeof(buf)), strerror(EPIPE));
	p.l[0].err = ENOMEM;
	ck_assert_str_eq(
	    leg_detail(&p.l[0], buf, sizeof(buf)), "out of memory");
	pair_clear(&p);
}
END_TEST

/* leg_clear() closes the socket, once, and leaves a closed leg. */
START_TEST(clear_closes)
{
	struct pair p;
	char buf[4];
	size_t n;
	int fd;

	pair_init(&p);
	fd = p.l[0].fd;
	leg_clear(&p.l[0], false);
	ck_assert_int_eq(p.l[0].fd, -1);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	leg_clear(&p.l[0], false); /* idempotent */
	ck_assert_int_eq(leg_read(&p.l[1], buf, sizeof(buf), &n), LEG_EOF);
	pair_clear(&p);
}
END_TEST

/* A connected TCP pair on loopback, both ends non-blocking. */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int ls;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(ls = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(ls, 1), 0);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_ge(sv[1] = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(sv[1], (struct sockaddr *)&sin, len), 0);
	ck_assert_int_ge(sv[0] = accept(ls, NULL, NULL), 0);
	close(ls);
	nonblock(sv[0]);
	nonblock(sv[1]);
}

/* ABORT resets a TCP leg: the peer sees ECONNRESET, not a FIN. */
START_TEST(clear_abort_resets)
{
	struct leg a, b;
	char buf[4];
	size_t n;
	int sv[2];
	enum leg_res res = LEG_AGAIN;

	for (int abort = 0; abort < 2; abort++) {
		tcp_pair(sv);
		leg_init(&a);
		leg_init(&b);
		a.fd = sv[0];
		b.fd = sv[1];
		leg_clear(&a, abort == 1);
		for (int i = 0; i < 2000 && res == LEG_AGAIN; i++) {
			res = leg_read(&b, buf, sizeof(buf), &n);
			if (res == LEG_AGAIN)
				usleep(1000);
		}
		if (abort == 1) {
			ck_assert_int_eq(res, LEG_ERR);
			ck_assert_int_eq(b.err, ECONNRESET);
		} else {
			ck_assert_int_eq(res, LEG_EOF);
		}
		leg_clear(&b, false);
		res = LEG_AGAIN;
	}
}
END_TEST

/* A TLS server and client context with one self-signed certificate;
 * nothing is verified (tls.c's checks have their own suite). */
static SSL_CTX *srv_ctx, *cli_ctx;

static void
tls_ctxs(void)
{
	EVP_PKEY *k = testcert_key();
	X509 *x = testcert_make(k, "leg.test", "DNS:leg.test");

	ck_assert_ptr_nonnull(srv_ctx = SSL_CTX_new(TLS_server_method()));
	ck_assert_ptr_nonnull(cli_ctx = SSL_CTX_new(TLS_client_method()));
	ck_assert_int_eq(SSL_CTX_use_certificate(srv_ctx, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(srv_ctx, k), 1);
	SSL_CTX_set_mode(srv_ctx,
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_mode(cli_ctx,
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* A socketpair whose l[0] is the TLS server and l[1] the client,
 * handshaken: each side steps until both are done. */
static void
tls_pair(struct pair *p)
{
	enum leg_res r[2] = {LEG_AGAIN, LEG_AGAIN};

	tls_ctxs();
	pair_init(p);
	ck_assert_ptr_nonnull(p->l[0].ssl = SSL_new(srv_ctx));
	ck_assert_ptr_nonnull(p->l[1].ssl = SSL_new(cli_ctx));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(SSL_set_fd(p->l[i].ssl, p->l[i].fd), 1);
	SSL_set_accept_state(p->l[0].ssl);
	SSL_set_connect_state(p->l[1].ssl);
	for (int i = 0; i < 50 && (r[0] != LEG_OK || r[1] != LEG_OK); i++)
		for (int j = 0; j < 2; j++) {
			if (r[j] != LEG_OK)
				r[j] = leg_handshake(&p->l[j]);
			ck_assert_int_ne(r[j], LEG_ERR);
		}
	ck_assert_int_eq(r[0], LEG_OK);
	ck_assert_int_eq(r[1], LEG_OK);
	ck_assert_str_eq(SSL_get_version(p->l[0].ssl), "TLSv1.3");
}

static void
tls_pair_clear(struct pair *p)
{
	pair_clear(p);
	SSL_CTX_free(srv_ctx);
	SSL_CTX_free(cli_ctx);
}

START_TEST(tls_handshake_read_peek_write)
{
	struct pair p;
	char buf[32];
	size_t n;

	tls_pair(&p);
	/* The server's tickets reach the client with its first read. */
	ck_assert_int_eq(leg_read(&p.l[1], buf, sizeof(buf), &n), LEG_AGAIN);
	ck_assert_int_eq(p.l[1].rd_block, EV_READ);
	ck_assert_int_eq(leg_write(&p.l[1], "over tls", 8, &n), LEG_OK);
	ck_assert_uint_eq(p.l[1].bytes_out, 8);
	for (int i = 0; i < 10; i++)
		if (leg_peek(&p.l[0], buf, 4, &n) == LEG_OK)
			break;
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(buf, "over", 4);
	ck_assert_uint_eq(p.l[0].bytes_in, 0);
	/* The record is decrypted now: only OpenSSL knows it is there. */
	ck_assert(leg_pending(&p.l[0]));
	ck_assert_int_eq(leg_read(&p.l[0], buf, sizeof(buf), &n), LEG_OK);
	ck_assert_uint_eq(n, 8);
	ck_assert_mem_eq(buf, "over tls", 8);
	ck_assert_uint_eq(p.l[0].bytes_in, 8);
	ck_assert(!leg_pending(&p.l[0]));
	ck_assert_int_eq(leg_write(&p.l[0], "reply", 5, &n), LEG_OK);
	read_all(&p.l[1], buf, 5);
	ck_assert_mem_eq(buf, "reply", 5);
	leg_idle(&p.l[1]); /* nothing inside: the buffers go */
	tls_pair_clear(&p);
}
END_TEST

/* close_notify is the TLS leg's EOF; the other direction keeps going. */
START_TEST(tls_shutdown_half_close)
{
	struct pair p;
	char buf[16];
	size_t n;
	enum leg_res res = LEG_AGAIN;

	tls_pair(&p);
	ck_assert_int_eq(leg_shutdown(&p.l[1]), LEG_OK);
	ck_assert(p.l[1].shut);
	for (int i = 0; i < 10 && res == LEG_AGAIN; i++)
		res = leg_read(&p.l[0], buf, sizeof(buf), &n);
	ck_assert_int_eq(res, LEG_EOF);
	ck_assert_int_eq(leg_write(&p.l[0], "still", 5, &n), LEG_OK);
	read_all(&p.l[1], buf, 5);
	ck_assert_mem_eq(buf, "still", 5);
	ck_assert_int_eq(leg_shutdown(&p.l[0]), LEG_OK);
	res = LEG_AGAIN;
	for (int i = 0; i < 10 && res == LEG_AGAIN; i++)
		res = leg_read(&p.l[1], buf, sizeof(buf), &n);
	ck_assert_int_eq(res, LEG_EOF);
	tls_pair_clear(&p);
}
END_TEST

START_TEST(tls_again_when_full)
{
	struct pair p;
	size_t sent, got = 0, n = 0;
	enum leg_res res = LEG_AGAIN;

	tls_pair(&p);
	sent = fill(&p.l[0]);
	ck_assert_uint_gt(sent, 0);
	ck_assert_int_eq(p.l[0].wr_block, EV_WRITE);
	/* A record is half out: the same bytes again once there is room. */
	for (int i = 0; i < 1000 && res == LEG_AGAIN; i++) {
		got += drain(&p.l[1]);
		leg_ready(&p.l[0], EV_WRITE);
		ck_assert_int_eq(p.l[0].wr_block, 0);
		res = leg_write(&p.l[0], big, sizeof(big), &n);
		ck_assert(res == LEG_OK || res == LEG_AGAIN);
	}
	ck_assert_int_eq(res, LEG_OK);
	sent += n;
	got += drain(&p.l[1]);
	ck_assert_uint_eq(got, sent);
	ck_assert_uint_eq(p.l[1].bytes_in, sent);
	ck_assert_uint_eq(p.l[0].bytes_out, sent);
	tls_pair_clear(&p);
}
END_TEST

/* An error on a TLS leg comes with OpenSSL's text, and the queue is
 * left empty for the next connection on the thread. */
START_TEST(tls_error_detail)
{
	struct pair p;
	char buf[160];
	size_t n;

	tls_pair(&p);
	/* Garbage where a record should be. */
	ck_assert_int_eq(write(p.l[1].fd, "\x17\x03\x03\x00\x05hello", 10), 10);
	ck_assert_int_eq(leg_read(&p.l[0], buf, sizeof(buf), &n), LEG_ERR);
	ck_assert_int_eq(p.l[0].err, 0);
	ck_assert_uint_ne(p.l[0].tls_err, 0);
	leg_detail(&p.l[0], buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "error:") == buf, "detail %s", buf);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	tls_pair_clear(&p);
}
END_TEST

/* Another kind: a leg with its own table calls through it. */
static int calls_read, calls_peek, calls_clear;

static enum leg_res
fake_read(struct leg *l, void *buf, size_t len, size_t *n)
{
	calls_read++;
	*n = 0;
	return (LEG_EOF);
}

static enum leg_res
fake_peek(struct leg *l, void *buf, size_t len, size_t *n)
{
	calls_peek++;
	l->rd_block = EV_READ;
	return (LEG_AGAIN);
}

static enum leg_res
fake_write(struct leg *l, const void *buf, size_t len, size_t *n)
{
	*n = len;
	return (LEG_OK);
}

static enum leg_res
fake_shutdown(struct leg *l)
{
	l->shut = true;
	return (LEG_OK);
}

static void
fake_watch(struct leg *l, short want)
{
	l->armed = want;
}

static void
fake_clear(struct leg *l, bool abort)
{
	calls_clear++;
}

static const struct leg_ops fake_ops = {
    .read = fake_read,
    .peek = fake_peek,
    .write = fake_write,
    .shutdown = fake_shutdown,
    .watch = fake_watch,
    .clear = fake_clear,
};

START_TEST(other_kind_calls_its_table)
{
	struct leg l;
	char buf[4];
	size_t n;

	leg_init(&l);
	l.ops = &fake_ops;
	ck_assert_int_eq(leg_read(&l, buf, sizeof(buf), &n), LEG_EOF);
	ck_assert_int_eq(leg_peek(&l, buf, sizeof(buf), &n), LEG_AGAIN);
	ck_assert_int_eq(leg_write(&l, "abc", 3, &n), LEG_OK);
	ck_assert_uint_eq(n, 3);
	leg_watch(&l, EV_READ);
	ck_assert_int_eq(l.armed, EV_READ);
	ck_assert(!leg_pending(&l)); /* no pending op: none */
	leg_idle(&l);
	ck_assert_int_eq(leg_shutdown(&l), LEG_OK);
	ck_assert(l.shut);
	leg_clear(&l, false);
	ck_assert_int_eq(calls_read, 1);
	ck_assert_int_eq(calls_peek, 1);
	ck_assert_int_eq(calls_clear, 1);
	ck_assert_ptr_null(l.ops); /* a closed socket leg again */
	leg_clear(&l, false);
	ck_assert_int_eq(calls_clear, 1);
}
END_TEST

Suite *
leg_suite(void)
{
	Suite *s = suite_create("leg");
	TCase *tc = tcase_create("leg");

	tcase_add_test(tc, tcp_read_peek_write);
	tcase_add_test(tc, tcp_again_when_empty);
	tcase_add_test(tc, tcp_eof_and_half_close);
	tcase_add_test(tc, tcp_again_when_full);
	tcase_add_test(tc, tcp_error_detail);
	tcase_add_test(tc, clear_closes);
	tcase_add_test(tc, clear_abort_resets);
	tcase_add_test(tc, tls_handshake_read_peek_write);
	tcase_add_test(tc, tls_shutdown_half_close);
	tcase_add_test(tc, tls_again_when_full);
	tcase_add_test(tc, tls_error_detail);
	tcase_add_test(tc, other_kind_calls_its_table);
	suite_add_tcase(s, tc);
	return (s);
}
