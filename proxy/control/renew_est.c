/*
 * renew_est: the EST client's pieces (renew_priv.h): one HTTPS request per
 * connection on the main event base (the CA server's name looked up by
 * evdns on that loop, never blocking it), the token, keys and CSRs, PKCS#7
 * answers, and the state directory's atomic files.
 */
#include "renew_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"

#define RENEW_TIMEOUT_S 10
/* The whole request, name lookup included (evhttp's timeout starts with
 * the connection: a name server that does not answer, as Docker's for a
 * stopped container on an internal network, would hold it much longer). */
#define RENEW_DEADLINE_S 15
#define RENEW_MAX_ANSWER (1024 * 1024)

/*
 * One request and its connection, on RN's list until reaped: a connection
 * is freed one loop turn after its request's callback (libevent still
 * holds it during the callback), or by renew_reap_all().
 */
struct renew_req {
	struct renew *rn;
	renew_done_fn done;
	struct evhttp_connection *ec;
	struct event *deadline; /* RENEW_DEADLINE_S */
	bool finished;          /* DONE was called */
	struct renew_req *next;
	char what[96]; /* "POST /path", for the log */
};

/* Unlink Q from its list, free its connection and Q. */
static void
renew_req_free(struct renew_req *q)
{
	struct renew_req **pp = &q->rn->reqs;

	while (*pp != NULL && *pp != q)
		pp = &(*pp)->next;
	if (*pp == q)
		*pp = q->next;
	if (q->deadline != NULL)
		event_free(q->deadline);
	if (q->ec != NULL)
		evhttp_connection_free(q->ec);
	free(q);
}

static void
renew_reap(evutil_socket_t fd, short what, void *arg)
{
	renew_req_free(arg);
}

void
renew_reap_all(struct renew *rn)
{
	while (rn->reqs != NULL)
		renew_req_free(rn->reqs);
}

/* evdns's own messages into our log (not raw lines on stderr): a name
 * server that stops answering is a warning, the rest debug. */
static void
renew_evdns_log(int is_warning, const char *msg)
{
	if (is_warning)
		log_warn("evdns: %s", msg);
	else
		log_debug("evdns: %s", msg);
}

void
renew_dns_start(struct renew *rn)
{
	evdns_set_log_fn(renew_evdns_log); /* process-wide, idempotent */
	/* resolv.conf and hosts are read now (before the sandbox, which
	 * leaves /etc readable anyway); DISABLE_WHEN_INACTIVE: an idle
	 * resolver keeps no loop alive (the bootstrap's loop ends). */
	if ((rn->dns = evdns_base_new(rn->base,
		 EVDNS_BASE_INITIALIZE_NAMESERVERS |
		     EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL)
		log_warn("renew: no asynchronous resolver (resolv.conf?): the "
			 "CA server's name is looked up with getaddrinfo");
}

void
renew_dns_stop(struct renew *rn)
{
	if (rn->dns != NULL)
		evdns_base_free(rn->dns, 0);
	rn->dns = NULL;
}

/* Log why the CA server's certificate was refused (the handshake fails). */
static int
renew_verify_cb(int ok, X509_STORE_CTX *xs)
{
	if (!ok)
		log_error("renew: the CA server's certificate is refused: %s "
			  "(check identity.renew.ca and url)",
		    X509_verify_cert_error_string(
			X509_STORE_CTX_get_error(xs)));
	return (ok);
}

SSL_CTX *
renew_ctx_new(const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		log_ssl(
		    "renew: cannot load the CA server's trust anchor %s", ca);
		SSL_CTX_free(ctx);
		return (NULL);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, renew_verify_cb);
	return (ctx);
}

/* The client SSL for RN: SNI, host or IP check, maybe our certificate. */
static SSL *
renew_ssl(struct renew *rn, bool client)
{
	SSL *ssl = SSL_new(rn->ctx);
	char cert[4096], key[4096];
	X509_VERIFY_PARAM *vp;
	bool ip;

	if (ssl == NULL)
		goto fail;
	vp = SSL_get0_param(ssl);
	ip = strchr(rn->host, ':') != NULL ||
	    strspn(rn->host, "0123456789.") == strlen(rn->host);
	if (ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, rn->host) != 1
	       : (SSL_set_tlsext_host_name(ssl, rn->host) != 1 ||
		     SSL_set1_host(ssl, rn->host) != 1))
		goto fail;
	if (client) {
		snprintf(cert, sizeof(cert), "%s/cert.pem", rn->dir);
		snprintf(key, sizeof(key), "%s/key.pem", rn->dir);
		if (SSL_use_certificate_chain_file(ssl, cert) != 1 ||
		    SSL_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) != 1)
			goto fail;
	}
	return (ssl);
fail:
	log_ssl("renew: cannot set up TLS to %s", rn->host);
	SSL_free(ssl);
	return (NULL);
}

/* Free Q one loop turn from now (libevent may still hold it). */
static void
renew_req_release(struct renew_req *q)
{
	if (event_base_once(q->rn->base, -1, EV_TIMEOUT, renew_reap, q,
		&(struct timeval){0, 0}) != 0)
		log_error("renew: cannot schedule a connection's release");
}

/* The deadline passed: the request fails as without an answer. */
static void
renew_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct renew_req *q = arg;

	if (q->finished)
		return;
	q->finished = true;
	log_error("renew: %s to %s:%s: no answer within %ds (name lookup, "
		  "connection, TLS or server)",
	    q->what, q->rn->host, q->rn->port, RENEW_DEADLINE_S);
	q->done(q->rn, 0, NULL, NULL);
	renew_req_release(q);
}

static void
renew_on_answer(struct evhttp_request *req, void *arg)
{
	struct renew_req *q = arg;
	struct renew *rn = q->rn;
	struct evbuffer *body = NULL;
	const char *etag = NULL;
	int status = 0;

	if (q->finished)
		return;
	q->finished = true;

	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		log_error("renew: %s to %s:%s: no answer (connection, TLS or "
			  "timeout)",
		    q->what, rn->host, rn->port);
	} else {
		status = evhttp_request_get_response_code(req);
		body = evhttp_request_get_input_buffer(req);
		etag = evhttp_find_header(
		    evhttp_request_get_input_headers(req), "ETag");
		if (evbuffer_get_length(body) > RENEW_MAX_ANSWER) {
			log_error("renew: %s: answer too large", q->what);
			status = 0;
			body = NULL;
		}
	}
	q->done(rn, status, body, etag);
	renew_req_release(q);
}

int
renew_http(struct renew *rn, bool post, const char *path, bool client,
    const char *auth, const char *inm, struct evbuffer *body,
    renew_done_fn done)
{
	struct timeval deadline = {RENEW_DEADLINE_S, 0};
	struct evhttp_connection *ec = NULL;
	struct evhttp_request *req = NULL;
	struct bufferevent *bev = NULL;
	struct evkeyvalq *h;
	struct renew_req *q;
	SSL *ssl;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		log_errno("calloc");
		evbuffer_free(body);
		return (-1);
	}
	q->rn = rn;
	q->done = done;
	snprintf(
	    q->what, sizeof(q->what), "%s %s", post ? "POST" : "GET", path);
	if ((ssl = renew_ssl(rn, client)) == NULL)
		goto fail;
	/* On failure libevent frees the SSL only with CLOSE_ON_FREE set and
	 * a bufferevent made: free it ourselves when there is none. */
	if ((bev = bufferevent_openssl_socket_new(rn->base, -1, ssl,
		 BUFFEREVENT_SSL_CONNECTING,
		 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL) {
		SSL_free(ssl);
		log_error("renew: bufferevent_openssl_socket_new failed");
		goto fail;
	}
	if ((ec = evhttp_connection_base_bufferevent_new(rn->base, rn->dns, bev,
		 rn->host, (unsigned short)atoi(rn->port))) == NULL) {
		bufferevent_free(bev);
		log_error(
		    "renew: evhttp_connection_base_bufferevent_new failed");
		goto fail;
	}
	evhttp_connection_set_timeout(ec, RENEW_TIMEOUT_S);
	/* A bounded answer, whoever holds the server's key. */
	evhttp_connection_set_max_body_size(ec, RENEW_MAX_ANSWER);
	evhttp_connection_set_max_headers_size(ec, 16384);
	if ((req = evhttp_request_new(renew_on_answer, q)) == NULL)
		goto fail_ec;
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", rn->host);
	evhttp_add_header(h, "Connection", "close");
	if (auth != NULL)
		evhttp_add_header(h, "Authorization", auth);
	if (inm != NULL && inm[0] != '\0')
		evhttp_add_header(h, "If-None-Match", inm);
	if (body != NULL) {
		evhttp_add_header(h, "Content-Type", "application/pkcs10");
		evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
		evbuffer_add_buffer(
		    evhttp_request_get_output_buffer(req), body);
		evbuffer_free(body);
		body = NULL;
	}
	if (evhttp_make_request(
		ec, req, post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, path) != 0) {
		/* evhttp_make_request frees REQ on failure. */
		req = NULL;
		goto fail_ec;
	}
	q->ec = ec;
	q->next = rn->reqs;
	rn->reqs = q;
	if ((q->deadline = evtimer_new(rn->base, renew_on_deadline, q)) ==
		NULL ||
	    evtimer_add(q->deadline, &deadline) != 0)
		log_warn("renew: no deadline for %s", q->what);
	return (0);
fail_ec:
	if (req != NULL)
		evhttp_request_free(req);
	evhttp_connection_free(ec);
	log_error("renew: cannot send %s", q->what);
fail:
	evbuffer_free(body);
	free(q);
	return (-1);
}

/* The token, first line of token_file; NULL (logged). */
char *
renew_token(const struct renew *rn)
{
	FILE *fp = fopen(rn->token_file, "re");
	char line[512], *auth;

	if (fp == NULL) {
		log_errno("renew: cannot read the token %s", rn->token_file);
		return (NULL);
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	line[strcspn(line, "\r\n \t")] = '\0';
	if (line[0] == '\0') {
		log_error("renew: the token file %s is empty", rn->token_file);
		return (NULL);
	}
	if ((auth = malloc(strlen(line) + 8)) != NULL)
		snprintf(auth, strlen(line) + 8, "Bearer %s", line);
	OPENSSL_cleanse(line, sizeof(line));
	return (auth);
}

EVP_PKEY *
renew_keygen(struct evbuffer **body)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL;
	char *b64 = NULL;
	int n;

	*body = NULL;
	if (pk == NULL || req == NULL || X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_pubkey(req, pk) != 1 ||
	    X509_REQ_sign(req, pk, EVP_sha256()) <= 0 ||
	    (n = i2d_X509_REQ(req, &der)) <= 0)
		goto fail;
	if ((b64 = malloc(((size_t)n + 2) / 3 * 4 + 1)) == NULL ||
	    (*body = evbuffer_new()) == NULL)
		goto fail;
	n = EVP_EncodeBlock((unsigned char *)b64, der, n);
	if (evbuffer_add(*body, b64, (size_t)n) != 0)
		goto fail;
	free(b64);
	OPENSSL_free(der);
	X509_REQ_free(req);
	return (pk);
fail:
	log_ssl("renew: cannot make a key and CSR");
	evbuffer_free(*body);
	*body = NULL;
	free(b64);
	OPENSSL_free(der);
	X509_REQ_free(req);
	EVP_PKEY_free(pk);
	return (NULL);
}

STACK_OF(X509) * renew_p7_certs(struct evbuffer *body)
{
	BIO *mem = NULL, *b64 = NULL;
	PKCS7 *p7 = NULL;
	STACK_OF(X509) *out = NULL, *in;
	size_t len = evbuffer_get_length(body);

	if ((mem = BIO_new_mem_buf(evbuffer_pullup(body, -1), (int)len)) ==
		NULL ||
	    (b64 = BIO_new(BIO_f_base64())) == NULL)
		goto out;
	mem = BIO_push(b64, mem);
	b64 = NULL;
	if ((p7 = d2i_PKCS7_bio(mem, NULL)) == NULL ||
	    !PKCS7_type_is_signed(p7) || p7->d.sign == NULL ||
	    (in = p7->d.sign->cert) == NULL || sk_X509_num(in) < 1)
		goto out;
	if ((out = sk_X509_new_null()) == NULL)
		goto out;
	for (int i = 0; i < sk_X509_num(in); i++) {
		X509 *x = sk_X509_value(in, i);

		if (!X509_up_ref(x) || !sk_X509_push(out, x)) {
			sk_X509_pop_free(out, X509_free);
			out = NULL;
			goto out;
		}
	}
out:
	if (out == NULL)
		log_ssl("renew: the answer is not a certs-only PKCS#7");
	PKCS7_free(p7);
	BIO_free_all(mem);
	BIO_free(b64);
	return (out);
}

char *
renew_pem(STACK_OF(X509) * certs, EVP_PKEY *key, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out = NULL;
	long n;

	if (b == NULL)
		return (NULL);
	for (int i = 0; certs != NULL && i < sk_X509_num(certs); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(certs, i)) != 1)
			goto out;
	if (key != NULL &&
	    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	if ((n = BIO_get_mem_data(b, &p)) < 0 ||
	    (out = malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
out:
	BIO_free(b);
	return (out);
}

int
renew_write(const char *dir, const char *name, const void *data, size_t len,
    const char *what)
{
	char tmp[4096], dst[4096];
	const char *p = data;
	struct stat st;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	/* mkstemp: O_CREAT|O_EXCL (no symlink followed), mode 0600. */
	if ((fd = mkstemp(tmp)) == -1) {
		log_errno("renew: mkstemp %s", tmp);
		return (-1);
	}
	/* Owned like the directory (as root: the user it will run as). */
	if (geteuid() == 0 &&
	    (stat(dir, &st) != 0 || fchown(fd, st.st_uid, st.st_gid) != 0))
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	/* rename replaces DST itself, never what a symlink there names. */
	if (rename(tmp, dst) != 0)
		goto fail;
	log_info("renew: wrote %s (%s)", dst, what);
	return (0);
fail:
	log_errno("renew: cannot write %s", dst);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return (-1);
}

char *
renew_read(const char *dir, const char *name, size_t *len)
{
	char path[4096], *buf = NULL;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return (NULL);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size < RENEW_MAX_ANSWER &&
	    (buf = malloc((size_t)st.st_size + 1)) != NULL) {
		ssize_t n = read(fd, buf, (size_t)st.st_size);

		if (n != st.st_size) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	close(fd);
	return (buf);
}
