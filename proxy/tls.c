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
#include "pgconn.h"
#include "policy.h"

/* TLS 1.2 (only when a route allows it): ECDHE key exchange, AEAD only. */
#define TLS_CIPHERS_12 "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"
/*
 * TLS 1.3 suites, fastest first: AES-128-GCM costs less than AES-256-GCM
 * per byte on AES-NI machines and is as strong as the P-256 keys behind it.
 */
#define TLS_SUITES_13                                                          \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                       \
	"TLS_CHACHA20_POLY1305_SHA256"

/*
 * How long a server session may be resumed. A client that resumes gets a
 * new ticket after half of it (tls_info_cb); what bounds the memory is
 * the cache size (tls_session_cache) and this: a session from a client
 * that never resumes holds its decoded certificate chain, ~11 KiB.
 */
#define TLS_SESSION_LIFETIME (5 * 60)

/* Read-ahead buffer per TLS connection. */
#define TLS_READ_BUFFER (64 * 1024)

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
	if (policy_match(p->patterns, p->npatterns, id) < 0) {
		tls_fail(p,
		    p->server ? REASON_IDENTITY_NOT_ALLOWED
			      : REASON_IDENTITY_NOT_EXPECTED,
		    id->spiffe != NULL ? id->spiffe : "no SPIFFE ID");
		return (-1);
	}
	return (0);
}

static int
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

/*
 * Server side, once the ServerHello is chosen: a resumed session gets no
 * new ticket while it is younger than half its lifetime. The client
 * resumes every connection from the ticket it has (struct tls_cache), so
 * a ticket per connection would only cost a session copy, a key
 * derivation and a cache entry each (~1 KiB until it times out); past
 * half its life the session is replaced, so the client never holds an
 * expired one.
 */
static void
tls_info_cb(const SSL *cssl, int where, int ret)
{
	SSL *ssl = (SSL *)cssl; /* OpenSSL passes the SSL it owns as const */
	SSL_SESSION *sess;

	(void)ret;
	if ((where & SSL_CB_ACCEPT_LOOP) == 0 ||
	    SSL_get_state(ssl) != TLS_ST_SW_SRVR_HELLO ||
	    !SSL_session_reused(ssl) || (sess = SSL_get_session(ssl)) == NULL)
		return;
	if (time(NULL) - SSL_SESSION_get_time(sess) <
	    SSL_SESSION_get_timeout(sess) / 2)
		SSL_set_num_tickets(ssl, 0);
}

/* Add every CRL in FILE to STORE and turn on leaf-only checking. */
static int
tls_load_crl(SSL_CTX *ctx, const char *file)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	X509_CRL *crl;
	BIO *bio = NULL;
	int n = 0, ret = -1;

	if ((bio = BIO_new_file(file, "r")) == NULL) {
		log_ssl("cannot open CRL %s", file);
		goto out;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		int added = X509_STORE_add_crl(store, crl);

		X509_CRL_free(crl);
		if (!added) {
			log_ssl("cannot add CRL from %s", file);
			goto out;
		}
		n++;
	}
	ERR_clear_error(); /* the end of the file */
	if (n == 0) {
		log_error("no CRL in %s", file);
		goto out;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	ret = 0;
out:
	BIO_free(bio);
	return (ret);
}

/*
 * Make the CA certificates of our own chain (the intermediates we were
 * issued under) trust anchors, with X509_V_FLAG_PARTIAL_CHAIN, so a peer
 * issued by the same intermediate is verified up to it and no further:
 * its signature by the root (P-384 in cotai-ca's layout, generic-code
 * ECDSA in OpenSSL 3.0: ~40 % of a full handshake's CPU on each side) was
 * checked once here instead of in every handshake. An intermediate is
 * added only if it verifies against the CA file now (CRLs aside: peers'
 * chains are checked at the leaf only, see tls_load_crl); a trust anchor's
 * validity dates are still checked on every handshake.
 */
static void
tls_trust_own_issuers(SSL_CTX *ctx)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *xs = NULL;
	int added = 0;

	if (SSL_CTX_get0_chain_certs(ctx, &chain) != 1 || chain == NULL)
		goto out;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *ca = sk_X509_value(chain, i);

		if (X509_check_ca(ca) == 0 ||
		    X509_check_issued(ca, ca) == X509_V_OK)
			continue; /* not a CA, or a root: nothing to save */
		X509_STORE_CTX_free(xs);
		if ((xs = X509_STORE_CTX_new()) == NULL ||
		    X509_STORE_CTX_init(xs, store, ca, chain) != 1)
			goto out;
		X509_VERIFY_PARAM_clear_flags(
		    X509_STORE_CTX_get0_param(xs), X509_V_FLAG_CRL_CHECK);
		if (X509_verify_cert(xs) == 1 && X509_STORE_add_cert(store, ca))
			added++;
	}
	if (added > 0)
		X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
out:
	X509_STORE_CTX_free(xs);
	ERR_clear_error(); /* a failed check only means no shortcut */
}

/* Certificate, key, trust store and CRL from ID into CTX. */
static int
tls_load_identity(SSL_CTX *ctx, const struct config_identity *id)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, id->cert) != 1) {
		log_ssl("cannot load certificate %s", id->cert);
		return (-1);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, id->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl("cannot load key %s", id->key);
		return (-1);
	}
	if (SSL_CTX_load_verify_locations(ctx, id->ca, NULL) != 1) {
		log_ssl("cannot load CA %s", id->ca);
		return (-1);
	}
	if (id->crl != NULL && tls_load_crl(ctx, id->crl) != 0)
		return (-1);
	tls_trust_own_issuers(ctx);
	return (0);
}

/*
 * A new context of METHOD with the settings every cotai TLS leg shares:
 * protocol floor MINV, AEAD suites, no renegotiation or compression,
 * partial writes, read-ahead. NULL after logging (NAME is the route's).
 */
static SSL_CTX *
tls_ctx_base(const SSL_METHOD *method, int minv, const char *name)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (ctx == NULL) {
		log_ssl("SSL_CTX_new");
		return (NULL);
	}
	if (SSL_CTX_set_min_proto_version(ctx, minv) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS_SUITES_13) != 1) {
		log_ssl("route %s: protocol settings", name);
		SSL_CTX_free(ctx);
		return (NULL);
	}
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
		SSL_OP_NO_COMPRESSION);
	/*
	 * RELEASE_BUFFERS: an idle connection gives its 16 KiB write and 64
	 * KiB read buffers back (measured: 91 -> 71 KiB per proxied idle
	 * connection, both proxies of a chain).
	 */
	SSL_CTX_set_mode(ctx,
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* One read(2) may bring several 16 KiB records. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_BUFFER);
	return (ctx);
}

SSL_CTX *
tls_ctx_new(const struct config_route *rc)
{
	bool server = rc->mode == CONFIG_MODE_TERMINATE;
	int minv =
	    rc->tls_min_version != 0 ? rc->tls_min_version : TLS1_3_VERSION;
	SSL_CTX *ctx = NULL, *ret = NULL;
	size_t sidlen = strlen(rc->name);

	ctx = tls_ctx_base(
	    server ? TLS_server_method() : TLS_client_method(), minv, rc->name);
	if (ctx == NULL)
		goto out;
	if (tls_load_identity(ctx, &rc->identity) != 0 ||
	    pgconn_ctx_setup(ctx, rc) != 0)
		goto out;
	SSL_CTX_set_verify(ctx,
	    SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
	    tls_verify_cb);
	if (server && !rc->tls_resumption) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_num_tickets(ctx, 0);
	} else if (server) {
		/*
		 * Stateful TLS 1.3 tickets (NO_TICKET) over a server cache in
		 * this SSL_CTX, which every worker shares: a resumed session
		 * is found by id and reference-counted instead of decrypted
		 * and decoded from the ticket, client certificate included
		 * (45 % of the CPU of a resumed handshake in OpenSSL 3.0).
		 * NO_ANTI_REPLAY keeps a session in the cache when it is
		 * resumed, so a burst of connections can share one ticket
		 * (see struct tls_cache); there is no early data to replay.
		 */
		if (sidlen > SSL_MAX_SID_CTX_LENGTH)
			sidlen = SSL_MAX_SID_CTX_LENGTH;
		SSL_CTX_set_session_id_context(
		    ctx, (const unsigned char *)rc->name, (unsigned int)sidlen);
		SSL_CTX_set_options(
		    ctx, SSL_OP_NO_TICKET | SSL_OP_NO_ANTI_REPLAY);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, rc->tls_session_cache);
		SSL_CTX_set_timeout(ctx, TLS_SESSION_LIFETIME);
		SSL_CTX_set_num_tickets(ctx, 1);
		SSL_CTX_set_info_callback(ctx, tls_info_cb);
	} else {
		/* Client: no cache in OpenSSL (see struct tls_cache). */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	ret = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	return (ret);
}

SSL_CTX *
tls_local_ctx_new(const struct config_route *rc)
{
	const struct config_local_tls *lt = &rc->pg_local_tls;
	SSL_CTX *ctx;

	if (lt->cert == NULL)
		return (NULL);
	ctx = tls_ctx_base(TLS_server_method(),
	    lt->min_version != 0 ? lt->min_version : TLS1_3_VERSION, rc->name);
	if (ctx == NULL)
		return (NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, lt->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, lt->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl(
		    "route %s: local_tls %s, %s", rc->name, lt->cert, lt->key);
		SSL_CTX_free(ctx);
		return (NULL);
	}
	/*
	 * The app is on this host and is not asked for a certificate. libpq
	 * opens a new connection for every session: no resumption, no
	 * tickets to send. An EOF without close_notify is an EOF, as on
	 * the database legs (the protocol ends with its own Terminate).
	 */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(
	    ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	pgconn_local_ctx_setup(ctx);
	return (ctx);
}

void
tls_peer_init(
    struct tls_peer *p, const struct config_route *rc, struct tls_cache *cache)
{
	memset(p, 0, sizeof(*p));
	p->server = rc->mode == CONFIG_MODE_TERMINATE;
	p->patterns = p->server ? rc->allow : rc->expect;
	p->npatterns = p->server ? rc->nallow : rc->nexpect;
	p->cache = p->server || !rc->tls_resumption ? NULL : cache;
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
	SSL_SESSION *s = SSL_get0_session(ssl);
	struct tls_cache *c = p->cache;

	if (s == p->seen)
		return;
	p->seen = s; /* a new object: OpenSSL copies, then frees the old */
	if (c == NULL || s == NULL || !SSL_SESSION_is_resumable(s) ||
	    SSL_SESSION_up_ref(s) != 1)
		return;
	SSL_SESSION_free(c->s);
	c->s = s;
	c->no_tickets = false;
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
	unsigned long e = ERR_peek_error();
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
	ERR_clear_error();
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
