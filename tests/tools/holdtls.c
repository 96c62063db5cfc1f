/*
 * holdtls: a TLS client (mutual TLS, TLS 1.3) that can stop in the middle
 * of its handshake, for the tests of what a reload does to a connection
 * that has not finished it. It connects to 127.0.0.1:PORT at once, then:
 *
 *   -H hello   holds before its ClientHello (the TCP connection is open,
 *              nothing is sent);
 *   -H final   runs the handshake through memory BIOs and holds its last
 *              flight (Certificate, CertificateVerify, Finished: what the
 *              server needs to judge the client) once it has it.
 *
 * While held it prints "held" on standard output and waits until GOFILE
 * exists, then sends the rest. With -s it first speaks PostgreSQL's
 * SSLRequest (and needs 'S'); after the handshake it sends a
 * StartupMessage (user and database "app"), else the line
 * "hello-holdtls". The target is an echo server behind the proxy: when
 * the same bytes come back it prints "relayed" and exits 0; when the
 * connection ends first it prints "closed: WHY" and exits 1; 2 for usage
 * and set-up errors. It prints "handshaken" when its side of the
 * handshake is done. With -K it keeps the connection open after
 * "relayed" until the peer closes it or SECS pass (an authenticated
 * connection held for a limits test).
 *
 * usage: holdtls -p PORT -c CERT -k KEY -a CAFILE -g GOFILE
 *               [-H hello|final] [-s] [-K] [-t SECS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct ht {
	int fd;
	SSL *ssl;
	BIO *rb, *wb;   /* network side: what came in, what goes out */
	int timeout_ms; /* per wait for the peer */
};

static int
ht_closed(const char *why)
{
	printf("closed: %s\n", why);
	fflush(stdout);
	return (1);
}

/* Print "held" and wait until GOFILE exists; -1 after SECS seconds. */
static int
ht_hold(const char *gofile, int secs)
{
	struct stat st;
	struct timespec ts = {0, 10 * 1000 * 1000};

	printf("held\n");
	fflush(stdout);
	for (long i = 0; i < (long)secs * 100; i++) {
		if (stat(gofile, &st) == 0)
			return (0);
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "holdtls: %s never appeared\n", gofile);
	return (-1);
}

static int
ht_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Send what TLS wrote to the memory BIO; -1 when the socket fails. */
static int
ht_flush(struct ht *h)
{
	char *data;
	long len = BIO_get_mem_data(h->wb, &data);
	int rc = 0;

	if (len > 0)
		rc = ht_write_all(h->fd, data, (size_t)len);
	(void)BIO_reset(h->wb);
	return (rc);
}

/* Read from the socket into the memory BIO: 1, 0 at EOF, -1 on error. */
static int
ht_fill(struct ht *h)
{
	struct pollfd pfd = {h->fd, POLLIN, 0};
	char buf[16384];
	ssize_t n;

	if (poll(&pfd, 1, h->timeout_ms) != 1)
		return (-1);
	if ((n = read(h->fd, buf, sizeof(buf))) <= 0)
		return (n == 0 ? 0 : -1);
	BIO_write(h->rb, buf, (int)n);
	return (1);
}

/* The handshake; hold the last flight when HOLD. 0, or 1 when closed. */
static int
ht_handshake(struct ht *h, bool hold, const char *gofile, int secs)
{
	int r, e;

	for (;;) {
		r = SSL_do_handshake(h->ssl);
		if (r == 1) {
			/* Done on our side: the last flight is in wb. */
			if (hold && ht_hold(gofile, secs) != 0)
				return (2);
			return (ht_flush(h) == 0 ? 0 : ht_closed("write"));
		}
		e = SSL_get_error(h->ssl, r);
		if (ht_flush(h) != 0)
			return (ht_closed("write during the handshake"));
		if (e != SSL_ERROR_WANT_READ) {
			ERR_print_errors_fp(stderr);
			return (ht_closed("handshake failed"));
		}
		switch (ht_fill(h)) {
		case 0:
			return (ht_closed("eof during the handshake"));
		case -1:
			return (ht_closed("read during the handshake"));
		default:
			break;
		}
	}
}

/* Read LEN bytes through TLS and compare with WANT; 0 or 1 (closed). */
static int
ht_expect(struct ht *h, const unsigned char *want, size_t len)
{
	unsigned char buf[4096];
	size_t got = 0;
	int n, e, f;

	while (got < len) {
		n = SSL_read(h->ssl, buf + got, (int)(len - got));
		if (n > 0) {
			if (memcmp(buf + got, want + got, (size_t)n) != 0)
				return (ht_closed("other bytes came back"));
			got += (size_t)n;
			continue;
		}
		e = SSL_get_error(h->ssl, n);
		if (ht_flush(h) != 0)
			return (ht_closed("write"));
		if (e != SSL_ERROR_WANT_READ) {
			ERR_print_errors_fp(stderr);
			return (ht_closed(e == SSL_ERROR_ZERO_RETURN
				? "close_notify"
				: "tls error"));
		}
		if ((f = ht_fill(h)) <= 0)
			return (ht_closed(f == 0 ? "eof" : "read error"));
	}
	return (0);
}

static SSL_CTX *
ht_ctx(const char *cert, const char *key, const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
		ERR_print_errors_fp(stderr);
		SSL_CTX_free(ctx);
		return (NULL);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return (ctx);
}

static int
ht_connect(int port)
{
	struct sockaddr_in sin;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("holdtls: connect");
		if (fd >= 0)
			close(fd);
		return (-1);
	}
	return (fd);
}

/* PostgreSQL's SSLRequest; 0 when the answer is 'S', else 1 (closed). */
static int
ht_sslrequest(struct ht *h)
{
	static const unsigned char req[8] = {0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f};
	struct pollfd pfd = {h->fd, POLLIN, 0};
	char c;

	if (ht_write_all(h->fd, req, sizeof(req)) != 0)
		return (ht_closed("write of the SSLRequest"));
	if (poll(&pfd, 1, h->timeout_ms) != 1 || read(h->fd, &c, 1) != 1)
		return (ht_closed("no answer to the SSLRequest"));
	return (c == 'S' ? 0 : ht_closed("SSLRequest refused"));
}

/* A StartupMessage for user and database "app", protocol 3.0. */
static size_t
ht_startup(unsigned char *buf)
{
	static const char body[] = "user\0app\0database\0app\0";
	size_t len = 8 + sizeof(body); /* with the final NUL */

	buf[0] = 0;
	buf[1] = 0;
	buf[2] = (unsigned char)(len >> 8);
	buf[3] = (unsigned char)len;
	buf[4] = 0;
	buf[5] = 3;
	buf[6] = 0;
	buf[7] = 0;
	memcpy(buf + 8, body, sizeof(body));
	return (len);
}

struct ht_opts {
	const char *gofile;
	bool hold_hello; /* else hold the last flight */
	bool pg;         /* SSLRequest first, a StartupMessage after */
	bool keep;       /* -K */
	int secs;
};

/* Connect, hold, handshake, send, expect the echo: the exit status. */
static int
ht_session(struct ht *h, SSL_CTX *ctx, const struct ht_opts *o)
{
	unsigned char msg[128];
	size_t mlen;
	int rc;

	if (o->hold_hello && ht_hold(o->gofile, o->secs) != 0)
		return (2);
	if (o->pg && (rc = ht_sslrequest(h)) != 0)
		return (rc);
	if ((h->rb = BIO_new(BIO_s_mem())) == NULL ||
	    (h->wb = BIO_new(BIO_s_mem())) == NULL ||
	    (h->ssl = SSL_new(ctx)) == NULL) {
		ERR_print_errors_fp(stderr);
		return (2);
	}
	BIO_set_mem_eof_return(h->rb, -1);
	SSL_set_bio(h->ssl, h->rb, h->wb); /* the SSL owns both now */
	SSL_set_connect_state(h->ssl);
	if ((rc = ht_handshake(h, !o->hold_hello, o->gofile, o->secs)) != 0)
		return (rc);
	printf("handshaken\n");
	fflush(stdout);
	if (o->pg) {
		mlen = ht_startup(msg);
	} else {
		mlen = strlen("hello-holdtls\n");
		memcpy(msg, "hello-holdtls\n", mlen);
	}
	if (SSL_write(h->ssl, msg, (int)mlen) != (int)mlen) {
		ERR_print_errors_fp(stderr);
		return (ht_closed("SSL_write"));
	}
	if (ht_flush(h) != 0)
		return (ht_closed("write of the message"));
	if ((rc = ht_expect(h, msg, mlen)) != 0)
		return (rc);
	printf("relayed\n");
	fflush(stdout);
	if (o->keep) /* until the peer closes (or the time is up) */
		(void)ht_expect(h, msg, 1);
	(void)SSL_shutdown(h->ssl); /* close_notify */
	(void)ht_flush(h);
	return (0);
}

int
main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *ca = NULL, *hold = "final";
	struct ht_opts o = {NULL, false, false, false, 30};
	struct ht h = {-1, NULL, NULL, NULL, 30000};
	SSL_CTX *ctx;
	int ch, port = 0, rc;

	while ((ch = getopt(argc, argv, "p:c:k:a:g:H:sKt:")) != -1) {
		switch (ch) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'a':
			ca = optarg;
			break;
		case 'g':
			o.gofile = optarg;
			break;
		case 'H':
			hold = optarg;
			break;
		case 's':
			o.pg = true;
			break;
		case 'K':
			o.keep = true;
			break;
		case 't':
			o.secs = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (port <= 0 || cert == NULL || key == NULL || ca == NULL ||
	    o.gofile == NULL || o.secs <= 0 ||
	    (strcmp(hold, "hello") != 0 && strcmp(hold, "final") != 0))
		goto usage;
	o.hold_hello = strcmp(hold, "hello") == 0;
	signal(SIGPIPE, SIG_IGN);
	h.timeout_ms = o.secs * 1000;
	if ((ctx = ht_ctx(cert, key, ca)) == NULL)
		return (2);
	if ((h.fd = ht_connect(port)) < 0)
		rc = 2;
	else
		rc = ht_session(&h, ctx, &o);
	if (h.ssl != NULL) {
		SSL_free(h.ssl); /* and the BIOs */
	} else {
		BIO_free(h.rb);
		BIO_free(h.wb);
	}
	SSL_CTX_free(ctx);
	if (h.fd >= 0)
		close(h.fd);
	return (rc);
usage:
	fprintf(stderr,
	    "usage: holdtls -p PORT -c CERT -k KEY -a CAFILE -g "
	    "GOFILE [-H hello|final] [-s] [-K] [-t SECS]\n");
	return (2);
}
