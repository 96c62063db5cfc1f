/*
 * tls: see tls.h.
 *
 * Verification happens in two places. During a full handshake OpenSSL calls
 * tls_verify_cb() for every certificate in the chain; a chain error is
 * turned into a reason (expired, unknown CA, revoked...) and at depth 0 the
 * leaf's identity is matched against the route's patterns, so a peer that
 * is not allowed fails inside the handshake and gets an alert. A resumed
 * session skips certificate verification altogether, so
 * tls_after_handshake() re-reads the leaf stored in the session and checks
 * it again (patterns and notAfter).
 */
#include "tls.h"
#include "tls_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "policy.h"

/*
 * A leaf certificate's identity, parsed once per decoded certificate: it
 * hangs off the X509 (ex_data), which a session keeps and its resumptions
 * share (reference-counted), so a resumed handshake does not parse it
 * again and each connection holds a reference instead of its own copy.
 */
struct tls_ident {
	atomic_uint refs;
	struct identity id;
};

static int tls_peer_idx = -1;
static int tls_ident_idx = -1;

static void
tls_ident_unref(struct tls_ident *t)
{
	if (t == NULL ||
	    atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	identity_clear(&t->id);
	free(t);
}

/* X509_free(): the certificate's reference goes. */
static void
tls_ident_free_cb(
    void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	tls_ident_unref(ptr);
}

/* X509_dup() copies the pointer: the copy holds a reference too. */
static int
tls_ident_dup_cb(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **ptr,
    int idx, long argl, void *argp)
{
	struct tls_ident *t = *ptr;

	if (t != NULL)
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return (1);
}

int
tls_init(void)
{
	tls_peer_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	tls_ident_idx = X509_get_ex_new_index(
	    0, NULL, NULL, tls_ident_dup_cb, tls_ident_free_cb);
	return (tls_peer_idx < 0 || tls_ident_idx < 0 ? -1 : 0);
}

/*
 * CERT's identity, a new reference: the one attached to CERT, else parsed
 * now, and attached when ATTACH (only for a certificate no other thread
 * can see yet: the one a full handshake has just decoded). NULL when the
 * identity is malformed or memory runs out.
 */
static struct tls_ident *
tls_ident_get(X509 *cert, bool attach)
{
	struct tls_ident *t = X509_get_ex_data(cert, tls_ident_idx);

	if (t != NULL) {
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
		return (t);
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	if (identity_from_x509(cert, &t->id) != 0) {
		free(t);
		return (NULL);
	}
	atomic_init(&t->refs, 1);
	if (attach && X509_set_ex_data(cert, tls_ident_idx, t) == 1)
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return (t);
}

static struct tls_peer *
tls_peer_of(SSL *ssl)
{
	return (ssl == NULL ? NULL : SSL_get_ex_data(ssl, tls_peer_idx));
}

/* Map a chain verification error to a reason. */
static enum reason
tls_verify_reason(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return (REASON_CERT_EXPIRED);
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return (REASON_CERT_NOT_YET_VALID);
	case X509_V_ERR_CERT_REVOKED:
		return (REASON_CERT_REVOKED);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return (REASON_UNKNOWN_CA);
	default:
		return (REASON_BAD_CERT);
	}
}

/* Record the first failure on P. */
static void
tls_fail(struct tls_peer *p, enum reason r, const char *detail)
{
	if (p->reason != REASON_NONE)
		return;
	p->reason = r;
	p->detail = strdup(detail); /* NULL only costs the audit its text */
}

/*
 * Take CERT's identity into P (ATTACH: see tls_ident_get) and match it;
 * 0 or -1 with a reason.
 */
static int
tls_check_identity(struct tls_peer *p, X509 *cert, bool attach)
{
	const struct identity *id;

	tls_ident_unref(p->ident);
	if ((p->ident = tls_ident_get(cert, attach)) == NULL) {
		tls_fail(
		    p, REASON_BAD_CERT, "malformed identity in certificate");
		return (-1);
	}
	id = &p->ident->id;
	if (policy_match(
		p->patterns, p->npatterns, id, p->domains, p->ndomains) < 0) {
		tls_fail(p,
		    p->server ? REASON_IDENTITY_NOT_ALLOWED
			      : REASON_IDENTITY_NOT_EXPECTED,
		    id->spiffe != NULL ? id->spiffe : "no SPIFFE ID");
		return (-1);
	}
	return (0);
}

int
tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
	    xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_peer *p = tls_peer_of(ssl);
	int err = X509_STORE_CTX_get_error(xs);
	char buf[160];

	if (p == NULL)
		return (0);
	if (!ok) {
		snprintf(buf, sizeof(buf), "depth %d: %s",
		    X509_STORE_CTX_get_error_depth(xs),
		    X509_verify_cert_error_string(err));
		tls_fail(p, tls_verify_reason(err), buf);
		return (0);
	}
	if (X509_STORE_CTX_get_error_depth(xs) != 0)
		return (1);
	/* The leaf this handshake decoded: no other thread sees it yet. */
	if (tls_check_identity(p, X509_STORE_CTX_get_current_cert(xs), true) !=
	    0) {
		X509_STORE_CTX_set_error(
		    xs, X509_V_ERR_APPLICATION_VERIFICATION);
		return (0);
	}
	return (1);
}

void
tls_peer_init(
    struct tls_peer *p, const struct config_route *rc, struct tls_cache *cache)
{
	memset(p, 0, sizeof(*p));
	p->server = rc->mode == CONFIG_MODE_TERMINATE;
	p->patterns = p->server ? rc->allow : rc->expect;
	p->npatterns = p->server ? rc->nallow : rc->nexpect;
	p->domains = rc->trust_domains;
	p->ndomains = rc->ntrust_domains;
	p->cache = p->server || !rc->tls_resumption ? NULL : cache;
}

void
tls_peer_share(struct tls_peer *dst, struct tls_peer *src, SSL *ssl)
{
	*dst = *src;
	dst->detail = NULL;
	dst->reason = REASON_NONE;
	if (dst->ident != NULL)
		atomic_fetch_add_explicit(
		    &dst->ident->refs, 1, memory_order_relaxed);
	dst->cache = NULL;
	if (ssl != NULL)
		(void)SSL_set_ex_data(ssl, tls_peer_idx, dst);
}

void
tls_peer_clear(struct tls_peer *p)
{
	tls_ident_unref(p->ident);
	p->ident = NULL;
	free(p->detail);
	p->detail = NULL;
}

const struct identity *
tls_peer_identity(const struct tls_peer *p)
{
	static const struct identity none;

	return (p->ident != NULL ? &p->ident->id : &none);
}

void
tls_peer_poll(SSL *ssl, struct tls_peer *p)
{
	SSL_SESSION *s = ssl != NULL ? SSL_get0_session(ssl) : NULL;
	struct tls_cache *c = p->cache;

	if (s == p->seen)
		return;
	p->seen = s; /* a new object: OpenSSL copies, then frees the old */
	if (c == NULL || s == NULL || !SSL_SESSION_is_resumable(s) ||
	    SSL_SESSION_up_ref(s) != 1)
		return;
	SSL_SESSION_free(c->s);
	c->s = s;
}

/* True when HOST is an IPv4 or IPv6 literal. */
static bool
tls_is_ip(const char *host)
{
	unsigned char buf[16];

	return (inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1);
}

SSL *
tls_ssl_new(SSL_CTX *ctx, int fd, struct tls_peer *p, const char *host)
{
	SSL *ssl = NULL, *ret = NULL;

	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_ex_data(ssl, tls_peer_idx, p) != 1) {
		log_ssl("SSL_new");
		goto out;
	}
	if (p->server) {
		SSL_set_accept_state(ssl);
	} else {
		SSL_set_connect_state(ssl);
		if (host != NULL && !tls_is_ip(host) &&
		    SSL_set_tlsext_host_name(ssl, host) != 1) {
			log_ssl("SNI %s", host);
			goto out;
		}
		if (p->cache != NULL && p->cache->s != NULL) {
			if (SSL_set_session(ssl, p->cache->s) != 1) {
				log_ssl("SSL_set_session");
				goto out;
			}
			p->seen = p->cache->s;
		}
	}
	ret = ssl;
	ssl = NULL;
out:
	SSL_free(ssl);
	return (ret);
}

SSL *
tls_server_ssl_new(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		log_ssl("SSL_new");
		SSL_free(ssl);
		return (NULL);
	}
	SSL_set_accept_state(ssl);
	return (ssl);
}

bool
tls_alpn_is(SSL *ssl, const char *name)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	SSL_get0_alpn_selected(ssl, &p, &n);
	return (n > 0 && n == strlen(name) && memcmp(p, name, n) == 0);
}

static int
tls_check_session(SSL *ssl, struct tls_peer *p)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);

	if (cert == NULL) {
		tls_fail(p, REASON_NO_CLIENT_CERT, "no peer certificate");
		return (-1);
	}
	if (SSL_get_verify_result(ssl) != X509_V_OK) {
		tls_fail(p, REASON_BAD_CERT, "session not verified");
		return (-1);
	}
	if (!SSL_session_reused(ssl) && p->ident != NULL)
		return (0);
	/*
	 * Resumed: no chain was verified, check the stored leaf again. Its
	 * identity was attached when the session's full handshake decoded it
	 * (other threads may use the certificate now: no attaching here).
	 */
	if (tls_check_identity(p, cert, false) != 0)
		return (-1);
	if (p->ident->id.not_after < time(NULL)) {
		tls_fail(p, REASON_CERT_EXPIRED, "resumed session: expired");
		return (-1);
	}
	return (0);
}

int
tls_after_handshake(SSL *ssl, struct tls_peer *p)
{
	int ret = tls_check_session(ssl, p);

	if (p->seen != NULL && !SSL_session_reused(ssl)) {
		p->refused = true;
		if (p->cache != NULL && p->cache->s == p->seen)
			tls_cache_clear(p->cache);
	}
	p->seen = SSL_get0_session(ssl); /* tickets come after it */
	/*
	 * Whatever the handshake and the identity parsing left on the error
	 * queue goes now: leg_read()/leg_write() rely on an empty queue.
	 */
	ERR_clear_error();
	return (ret);
}

enum reason
tls_take_error(char *detail, size_t len)
{
	enum reason r = tls_error_reason(ERR_peek_error(), detail, len);

	ERR_clear_error();
	return (r);
}

enum reason
tls_error_reason(unsigned long e, char *detail, size_t len)
{
	enum reason r = REASON_TLS_ERROR;

	if (ERR_GET_LIB(e) == ERR_LIB_SSL) {
		switch (ERR_GET_REASON(e)) {
		case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
			r = REASON_NO_CLIENT_CERT;
			break;
		case SSL_R_UNSUPPORTED_PROTOCOL:
		case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		case SSL_R_VERSION_TOO_LOW:
			r = REASON_TLS_VERSION;
			break;
		default:
			break;
		}
	}
	if (e != 0)
		ERR_error_string_n(e, detail, len);
	else
		snprintf(detail, len, "connection closed");
	return (r);
}

void
tls_handshake_failed(struct tls_peer *p)
{
	char buf[160];
	enum reason r;

	tls_cache_clear(p->cache);
	r = tls_take_error(buf, sizeof(buf));
	tls_fail(p, r, buf); /* keeps a reason found earlier */
}

void
tls_sessions_flush(SSL_CTX *ctx, bool all)
{
	/* 0 flushes everything; OpenSSL compares the time as a long. */
	SSL_CTX_flush_sessions(ctx, all ? 0 : (long)time(NULL));
}

void
tls_cache_clear(struct tls_cache *cache)
{
	if (cache == NULL)
		return;
	SSL_SESSION_free(cache->s);
	cache->s = NULL;
}
