/*
 * tls_ctx: building the SSL_CTX of a route (see tls.h: tls_ctx_new_opts,
 * tls_local_ctx_new): protocol floor and suites, identity and trust
 * (CRLs, our own issuing intermediates as anchors), verification, the
 * server session cache with its ticket policy, and what the caller adds
 * (struct tls_ctx_opts: ALPN, the EOF rule), which this file only applies.
 */
#include "tls.h"
#include "tls_priv.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crl.h"
#include "log.h"

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

/* Is protocol WANT in the client's ALPN list IN of INLEN bytes? Then *OUT
 * points at it there (of strlen(WANT) bytes). */
static bool
tls_alpn_offered(const char *want, const unsigned char *in, unsigned int inlen,
    const unsigned char **out)
{
	size_t wlen = strlen(want);

	for (unsigned int i = 0; i < inlen;) {
		unsigned int n = in[i];

		if (i + 1 + n > inlen)
			break;
		if (n == wlen && memcmp(in + i + 1, want, n) == 0) {
			*out = in + i + 1;
			return (true);
		}
		i += 1 + n;
	}
	return (false);
}

/*
 * A server context's ALPN choices, in order of preference (static strings
 * from struct tls_ctx_opts), held in the context's ex_data so that they
 * live as long as it does.
 */
struct tls_ctx_alpn {
	const char *name[2];
};

static int tls_alpn_idx = -1;
static pthread_once_t tls_alpn_once = PTHREAD_ONCE_INIT;

static void
tls_alpn_free(
    void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	OPENSSL_free(ptr);
}

static void
tls_alpn_init(void)
{
	tls_alpn_idx =
	    SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_alpn_free);
}

/*
 * Server: select ARG's first name (struct tls_ctx_alpn) the client offers;
 * none offered: no ALPN.
 */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct tls_ctx_alpn *a = arg;

	for (int i = 0; i < 2; i++) {
		if (a->name[i] != NULL &&
		    tls_alpn_offered(a->name[i], in, inlen, out)) {
			*outlen = (unsigned char)strlen(a->name[i]);
			return (SSL_TLSEXT_ERR_OK);
		}
	}
	return (SSL_TLSEXT_ERR_NOACK);
}

/*
 * Apply O (NULL: nothing) to CTX, a server's when SERVER, of route NAME:
 * ALPN offered or selected, the EOF rule. 0, or -1 after logging.
 */
static int
tls_ctx_apply(
    SSL_CTX *ctx, bool server, const struct tls_ctx_opts *o, const char *name)
{
	struct tls_ctx_alpn *a;
	unsigned char wire[256];
	size_t n;

	if (o == NULL)
		return (0);
	if (o->eof_ok)
		SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (o->alpn == NULL)
		return (0);
	if (server) {
		(void)pthread_once(&tls_alpn_once, tls_alpn_init);
		if (tls_alpn_idx < 0 ||
		    (a = OPENSSL_malloc(sizeof(*a))) == NULL) {
			log_ssl("route %s: ALPN", name);
			return (-1);
		}
		a->name[0] = o->alpn;
		a->name[1] = o->alpn_also;
		if (SSL_CTX_set_ex_data(ctx, tls_alpn_idx, a) != 1) {
			OPENSSL_free(a);
			log_ssl("route %s: ALPN", name);
			return (-1);
		}
		SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, a);
		return (0);
	}
	n = strlen(o->alpn);
	if (n == 0 || n >= sizeof(wire)) {
		log_error("route %s: ALPN name of %zu bytes", name, n);
		return (-1);
	}
	wire[0] = (unsigned char)n;
	memcpy(wire + 1, o->alpn, n);
	if (SSL_CTX_set_alpn_protos(ctx, wire, (unsigned int)n + 1) != 0) {
		log_ssl("route %s: ALPN %s", name, o->alpn);
		return (-1);
	}
	return (0);
}

/*
 * Make the CA certificates of our own chain (the intermediates we were
 * issued under) trust anchors, with X509_V_FLAG_PARTIAL_CHAIN, so a peer
 * issued by the same intermediate is verified up to it and no further:
 * its signature by the root (P-384 in cotai-ca's layout, generic-code
 * ECDSA in OpenSSL 3.0: ~40 % of a full handshake's CPU on each side) was
 * checked once here instead of in every handshake. An intermediate is
 * added only if it verifies against the CA file now (CRLs aside: peers'
 * chains are checked at the leaf only, see crl_load); a trust anchor's
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
	if (id->crl != NULL &&
	    crl_load(SSL_CTX_get_cert_store(ctx), id->crl) != 0)
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
	return (tls_ctx_new_opts(rc, NULL));
}

SSL_CTX *
tls_ctx_new_opts(const struct config_route *rc, const struct tls_ctx_opts *o)
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
	    tls_ctx_apply(ctx, server, o, rc->name) != 0)
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
tls_local_ctx_new(const struct config_route *rc, const struct tls_ctx_opts *o)
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
	 * tickets to send.
	 */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (tls_ctx_apply(ctx, true, o, rc->name) != 0) {
		SSL_CTX_free(ctx);
		return (NULL);
	}
	return (ctx);
}
