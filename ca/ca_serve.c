/*
 * ca_serve: see ca_serve.h. The HTTP/TLS plumbing, GET cacerts and GET
 * crl, and the "serve" verb.
 *
 * Connections: evhttp accepts through our own evconnlistener; each new
 * connection gets an SSL object carrying an ex_data slot whose free
 * function counts the connection closed, whatever path freed it. At
 * max_connections the listener is disabled (further clients wait in the
 * kernel's backlog) and enabled again when one closes. A request that does
 * not arrive over TLS (possible only if creating the TLS bufferevent
 * failed) is refused, never served in plaintext.
 */
#include "ca_serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>

#include "ca_cmd.h"
#include "ca_util.h"

int ca_serve_exidx = -1;

void
ca_serve_conn_gone(
    void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct ca_serve *s = ptr;

	if (s == NULL)
		return;
	s->nconn--;
	if (s->paused && s->nconn < s->conf->max_connections &&
	    s->lis != NULL) {
		evconnlistener_enable(s->lis);
		s->paused = 0;
	}
}

struct bufferevent *
ca_serve_bevcb(struct event_base *base, void *arg)
{
	struct ca_serve *s = arg;
	struct bufferevent *bev = NULL;
	SSL *ssl;

	if ((ssl = SSL_new(s->ssl)) != NULL &&
	    SSL_set_ex_data(ssl, ca_serve_exidx, s) == 1) {
		s->nconn++;
		bev = bufferevent_openssl_socket_new(base, -1, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		/* libevent frees SSL on this failure path (CLOSE_ON_FREE). */
		ssl = NULL;
	}
	SSL_free(ssl);
	if (bev == NULL) {
		ca_util_err_ssl("new TLS connection");
		return (
		    bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE));
	}
	if (s->nconn >= s->conf->max_connections && !s->paused) {
		evconnlistener_disable(s->lis);
		s->paused = 1;
	}
	return (bev);
}

SSL *
ca_serve_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;

	if (evcon == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return (NULL);
	return (bufferevent_openssl_get_ssl(bev));
}

void
ca_serve_peer(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(buf, len, "%s:%u", addr != NULL ? addr : "?", port);
}

void
ca_serve_reply_text(
    struct evhttp_request *req, int status, const char *reason, const char *msg)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	if (b != NULL)
		evbuffer_add_printf(b, "%s\n", msg);
	evhttp_send_reply(req, status, reason, b);
	evbuffer_free(b);
}

/* A certs-only PKCS#7 of CERTS, base64 with line breaks, in a memory BIO. */
static BIO *
ca_serve_p7_b64(STACK_OF(X509) * certs)
{
	PKCS7 *p7 = NULL;
	BIO *mem = NULL, *b64 = NULL;
	int ok = 0;

	if ((p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data))
		goto out;
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i)))
			goto out;
	if ((mem = BIO_new(BIO_s_mem())) == NULL ||
	    (b64 = BIO_new(BIO_f_base64())) == NULL)
		goto out;
	b64 = BIO_push(b64, mem);
	ok = i2d_PKCS7_bio(b64, p7) == 1 && BIO_flush(b64) == 1;
out:
	if (b64 != NULL) {
		BIO_pop(b64);
		BIO_free(b64);
	}
	PKCS7_free(p7);
	if (!ok) {
		BIO_free(mem);
		return (NULL);
	}
	return (mem);
}

int
ca_serve_reply_certs(struct evhttp_request *req, STACK_OF(X509) * certs)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = NULL;
	char *data = NULL;
	BIO *b;
	long len;

	if ((b = ca_serve_p7_b64(certs)) == NULL ||
	    (out = evbuffer_new()) == NULL) {
		BIO_free(b);
		ca_util_err_ssl("encode PKCS#7");
		return (-1);
	}
	len = BIO_get_mem_data(b, &data);
	evbuffer_add(out, data, (size_t)len);
	evhttp_add_header(
	    h, "Content-Type", "application/pkcs7-mime; smime-type=certs-only");
	evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
	BIO_free(b);
	return (0);
}

/* GET cacerts: the root and the intermediate(s) (built at start and when
 * the intermediate changes). */
static void
ca_serve_cacerts(struct ca_serve *s, struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		ca_serve_reply_text(req, 500, "Internal Server Error", "oom");
		return;
	}
	evbuffer_add(out, s->cacerts, s->cacerts_len);
	evhttp_add_header(h, "Content-Type", "application/pkcs7-mime");
	evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

int
ca_serve_build_cacerts(struct ca_serve *s)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	char *data = NULL;
	BIO *b = NULL;
	long len;
	int rc = -1;

	if (certs == NULL || !sk_X509_push(certs, s->ca.root) ||
	    !sk_X509_push(certs, s->ca.inter) ||
	    (s->ca.old != NULL && !sk_X509_push(certs, s->ca.old)) ||
	    (b = ca_serve_p7_b64(certs)) == NULL) {
		ca_util_err_ssl("encode the CA certificates");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	if ((s->cacerts = malloc((size_t)len)) == NULL)
		goto out;
	memcpy(s->cacerts, data, (size_t)len);
	s->cacerts_len = (size_t)len;
	rc = 0;
out:
	sk_X509_free(certs);
	BIO_free(b);
	return (rc);
}

/* ETAG (48 bytes): a quoted SHA-256 prefix of LEN bytes at DATA. */
static int
ca_serve_etag(const void *data, size_t len, char *etag)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
		return (-1);
	etag[0] = '"';
	for (int i = 0; i < 16; i++)
		snprintf(etag + 1 + 2 * i, 3, "%02x", md[i]);
	strcat(etag, "\"");
	return (0);
}

/*
 * The PEM of FIRST and of every further CRL in B not issued by the root
 * (the previous intermediate's during a rollover): a new memory BIO, or
 * NULL after printing the error.
 */
static BIO *
ca_serve_crls_pem(struct ca_serve *s, X509_CRL *first, BIO *b)
{
	X509_NAME *root = X509_get_subject_name(s->ca.root);
	BIO *out = BIO_new(BIO_s_mem());
	X509_CRL *c;

	if (out == NULL || !PEM_write_bio_X509_CRL(out, first))
		goto err;
	while ((c = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		int ok = X509_NAME_cmp(X509_CRL_get_issuer(c), root) == 0 ||
		    PEM_write_bio_X509_CRL(out, c);

		X509_CRL_free(c);
		if (!ok)
			goto err;
	}
	ERR_clear_error(); /* the end of the file */
	return (out);
err:
	ca_util_err_ssl("encode the CRLs");
	BIO_free(out);
	return (NULL);
}

/* Keep the PEM in ALL as S->crls with its ETag; 0 or -1. */
static int
ca_serve_crls_keep(struct ca_serve *s, BIO *all)
{
	char *data = NULL;
	long len = BIO_get_mem_data(all, &data);

	free(s->crls);
	s->crls_len = 0;
	if (len <= 0 || (s->crls = malloc((size_t)len)) == NULL)
		return (-1);
	memcpy(s->crls, data, (size_t)len);
	s->crls_len = (size_t)len;
	return (ca_serve_etag(s->crls, s->crls_len, s->crls_etag));
}

/*
 * Load DIR/crl.pem's first CRL as DER, with its ETag (SHA-256 prefix) and
 * Last-Modified (its lastUpdate), when the file changed since last time.
 */
int
ca_serve_crl_load(struct ca_serve *s)
{
	char path[PATH_MAX];
	unsigned char *der = NULL;
	X509_CRL *crl = NULL;
	struct stat st;
	struct tm tm;
	int64_t t;
	BIO *b = NULL, *all = NULL;
	int len, rc = -1;

	if (ca_store_path(s->ca.store, "crl.pem", path, sizeof(path)) != 0)
		return (-1);
	if (stat(path, &st) == -1) {
		ca_util_err("%s: %s", path, strerror(errno));
		return (-1);
	}
	if (s->crl != NULL && st.st_dev == s->crl_file.dev &&
	    st.st_ino == s->crl_file.ino && st.st_size == s->crl_file.size &&
	    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec ==
		s->crl_file.mtime_ns)
		return (0);
	if ((b = ca_store_read_bio(path, 1)) == NULL)
		return (-1);
	if ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) == NULL ||
	    (len = i2d_X509_CRL(crl, &der)) <= 0 ||
	    ca_util_asn1_time(X509_CRL_get0_lastUpdate(crl), &t) != 0 ||
	    X509_CRL_get0_nextUpdate(crl) == NULL ||
	    ca_util_asn1_time(
		X509_CRL_get0_nextUpdate(crl), &s->crl_next_update) != 0) {
		ca_util_err_ssl("read CRL %s", path);
		goto out;
	}
	if ((all = ca_serve_crls_pem(s, crl, b)) == NULL)
		goto out;
	free(s->crl);
	if ((s->crl = malloc((size_t)len)) == NULL)
		goto out;
	memcpy(s->crl, der, (size_t)len);
	s->crl_len = (size_t)len;
	if (ca_serve_etag(der, (size_t)len, s->crl_etag) != 0)
		goto out;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(s->crl_modified, sizeof(s->crl_modified),
	    "%a, %d %b %Y %H:%M:%S GMT", &tm);
	s->crl_file.dev = st.st_dev;
	s->crl_file.ino = st.st_ino;
	s->crl_file.size = st.st_size;
	s->crl_file.mtime_ns =
	    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	rc = ca_serve_crls_keep(s, all);
out:
	BIO_free(all);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	BIO_free(b);
	return (rc);
}

/* Does the If-None-Match value INM name ETAG (or "*")? */
static int
ca_serve_etag_match(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	for (const char *p = inm; *p != '\0';) {
		p += strspn(p, " \t,");
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p == '*' ||
		    (strncmp(p, etag, n) == 0 &&
			(p[n] == '\0' || p[n] == ',' || p[n] == ' ' ||
			    p[n] == '\t')))
			return (1);
		p += strcspn(p, ",");
	}
	return (0);
}

/*
 * GET /crl (DER, the current intermediate's) or, with PEM, /crl.pem (every
 * intermediate CRL): ETag, Last-Modified, Cache-Control; 304 when
 * unchanged.
 */
static void
ca_serve_crl(struct ca_serve *s, struct evhttp_request *req, int pem)
{
	const char *etag = pem ? s->crls_etag : s->crl_etag;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *inm = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "If-None-Match");
	struct evbuffer *out = NULL;
	char cc[64];

	if (ca_serve_crl_load(s) != 0) {
		ca_serve_reply_text(req, 503, "Service Unavailable",
		    "the CRL cannot be read; see the server's log");
		return;
	}
	snprintf(
	    cc, sizeof(cc), "max-age=%lld", (long long)s->conf->crl_max_age);
	etag = pem ? s->crls_etag : s->crl_etag;
	evhttp_add_header(h, "ETag", etag);
	evhttp_add_header(h, "Last-Modified", s->crl_modified);
	evhttp_add_header(h, "Cache-Control", cc);
	if (inm != NULL && ca_serve_etag_match(inm, etag)) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return;
	}
	if ((out = evbuffer_new()) == NULL) {
		ca_serve_reply_text(req, 500, "Internal Server Error", "oom");
		return;
	}
	if (pem)
		evbuffer_add(out, s->crls, s->crls_len);
	else
		evbuffer_add(out, s->crl, s->crl_len);
	evhttp_add_header(h, "Content-Type",
	    pem ? "application/x-pem-file" : "application/pkix-crl");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

void
ca_serve_dispatch(struct evhttp_request *req, void *arg)
{
	static const struct {
		const char *path;
		enum evhttp_cmd_type method;
		int est;
	} routes[] = {
	    {"/.well-known/est/cacerts", EVHTTP_REQ_GET, 0},
	    {"/.well-known/est/simpleenroll", EVHTTP_REQ_POST, 1},
	    {"/.well-known/est/simplereenroll", EVHTTP_REQ_POST, 2},
	    {"/crl", EVHTTP_REQ_GET, 3},
	    {"/crl.pem", EVHTTP_REQ_GET, 4},
	};
	struct ca_serve *s = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;

	if (ca_serve_ssl(req) == NULL) {
		ca_serve_reply_text(req, 403, "Forbidden", "TLS required");
		return;
	}
	ca_serve_ca_check(s);
	for (size_t i = 0;
	     path != NULL && i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(path, routes[i].path) != 0)
			continue;
		if (evhttp_request_get_command(req) != routes[i].method) {
			evhttp_add_header(
			    evhttp_request_get_output_headers(req), "Allow",
			    routes[i].method == EVHTTP_REQ_GET ? "GET"
							       : "POST");
			ca_serve_reply_text(req, 405, "Method Not Allowed",
			    "method not allowed");
			return;
		}
		switch (routes[i].est) {
		case 0:
			ca_serve_cacerts(s, req);
			return;
		case 1:
			ca_serve_est_enroll(s, req);
			return;
		case 2:
			ca_serve_est_reenroll(s, req);
			return;
		default:
			ca_serve_crl(s, req, routes[i].est == 4);
			return;
		}
	}
	ca_serve_reply_text(req, 404, "Not Found", "not found");
}
