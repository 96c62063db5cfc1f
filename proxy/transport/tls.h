/*
 * tls: OpenSSL contexts for routes and the per-connection TLS glue.
 *
 * One SSL_CTX per route, shared by every worker thread (so TLS 1.3 ticket
 * keys are the same whichever worker accepts a resumed connection). The
 * peer's identity is checked inside the verify callback at depth 0, so a
 * peer that is not in allow/expect fails the handshake with an alert, and
 * again after the handshake when the session was resumed (no certificate
 * is verified then).
 */
#ifndef COTAI_TLS_H
#define COTAI_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"
#include "identity.h"
#include "reason.h"

/*
 * Client side: the newest TLS 1.3 session of one route in one worker thread
 * (no locking), which every new connection resumes from: the same object,
 * not a copy (~1.1 KiB less per connection). An OpenSSL 3.0 client marks
 * the session a handshake used as not resumable when the handshake
 * finishes ("use a ticket once"), but only in a context with
 * SSL_SESS_CACHE_CLIENT: ours has the cache off, and tls_peer_poll()
 * picks up new tickets instead. The server keeps the session in its cache
 * (SSL_OP_NO_ANTI_REPLAY, no early data), so one ticket serves them all.
 * Who fetches the first session while there is none (the ticket burst) is
 * the connections' business (conn_table.h, struct conn_session).
 */
struct tls_cache {
	SSL_SESSION *s; /* an owned reference, or NULL */
};

struct tls_ident;

/*
 * What one TLS leg learns about its peer. The connection owns it (embedded)
 * and initialises it with tls_peer_init(); tls.c fills it during the
 * handshake; tls_peer_clear() frees what it holds.
 */
struct tls_peer {
	char *const *patterns; /* borrowed: the route's allow or expect */
	size_t npatterns;
	char *const *domains; /* borrowed: the route's trust_domains */
	size_t ndomains;
	bool server;             /* we are the TLS server (terminate) */
	struct tls_cache *cache; /* client, resumption on: the worker's */
	const SSL_SESSION *seen; /* client: the session offered, then the
				    one tls_peer_poll saw */
	bool refused; /* client: the server did not resume the one offered */
	struct tls_ident *ident; /* the peer leaf's identity, or NULL */
	enum reason reason;      /* first failure found, REASON_NONE if none */
	char *detail;            /* human text for the failure, or NULL */
};

/* Register the ex_data indexes; call once before any thread starts. 0/-1. */
int tls_init(void);

/*
 * What the layers above add to a context, handed over as data: the
 * protocol's settings (its entry in proto.h's table: ALPN "postgresql",
 * or "h2" for the tunnels of mux.h; the EOF rule of the databases). All
 * zero: nothing added.
 */
struct tls_ctx_opts {
	/* ALPN, one protocol name of static storage: a client offers it, a
	 * server selects it when a client offers it; NULL for none. */
	const char *alpn;
	/* Server only: a second protocol, selected when a client offers it
	 * and not alpn (a postgres terminate route: "h2" for a cotai
	 * sidecar's tunnel, else "postgresql" for a direct libpq). */
	const char *alpn_also;
	/* A TLS EOF without close_notify counts as an EOF (protocols that
	 * frame their own messages, whose servers close so). */
	bool eof_ok;
};

/*
 * Build the SSL_CTX for route RC (certificate chain, key, CA store, optional
 * CRL with leaf-only checking, protocol floor, verify mode and callback,
 * tickets) with the settings O (NULL: none). Returns a new context the
 * caller frees with SSL_CTX_free(), or NULL after logging why.
 */
SSL_CTX *
tls_ctx_new_opts(const struct config_route *rc, const struct tls_ctx_opts *o);

/* tls_ctx_new_opts() with nothing added (the admin endpoint's). */
SSL_CTX *tls_ctx_new(const struct config_route *rc);

/*
 * The server context of the app's leg on an originate route with
 * local_tls (RC->pg_local_tls.cert not NULL): that certificate chain and
 * key, local_tls.min_version, no client certificate asked for, no
 * resumption, the settings O (NULL: none; the protocol's, proto.h). A
 * new context the caller frees, or NULL after logging why (or when RC
 * has no local_tls).
 */
SSL_CTX *
tls_local_ctx_new(const struct config_route *rc, const struct tls_ctx_opts *o);

/* Set up *P for a connection on route RC with CACHE, the worker's session
 * store for RC (ignored on terminate routes and with resumption off). */
void tls_peer_init(
    struct tls_peer *p, const struct config_route *rc, struct tls_cache *cache);

/*
 * Make *DST (uninitialised) a copy of SRC for another holder of SSL, the
 * connection SRC's handshake ran on (or NULL): the same patterns and
 * identity (a reference of its own), no session cache, no failure; SSL's
 * verify data points to DST from now on.
 */
void tls_peer_share(struct tls_peer *dst, struct tls_peer *src, SSL *ssl);

/* Free what *P holds; idempotent. */
void tls_peer_clear(struct tls_peer *p);

/*
 * The identity of P's peer leaf (valid until tls_peer_clear()): all NULL
 * and empty when none was seen.
 */
const struct identity *tls_peer_identity(const struct tls_peer *p);

/*
 * A new SSL on socket FD for CTX, in client or server state per P->server.
 * P is borrowed and must outlive the SSL. As a client, SNI is set to HOST
 * when it is a name (not an IP literal; HOST may be NULL) and the session
 * in P->cache, if any, is offered for resumption. Returns the SSL (the
 * caller frees it with SSL_free(); FD stays the caller's) or NULL, logged.
 */
SSL *tls_ssl_new(SSL_CTX *ctx, int fd, struct tls_peer *p, const char *host);

/*
 * A new SSL in server state on socket FD for CTX, for a leg whose peer is
 * not checked (CTX verifies nothing: local_tls's app on this host). The
 * caller frees it (a leg given it as l->ssl does); NULL, logged.
 */
SSL *tls_server_ssl_new(SSL_CTX *ctx, int fd);

/* True when the handshake on SSL selected ALPN protocol NAME. */
bool tls_alpn_is(SSL *ssl, const char *name);

/*
 * After a successful handshake: fill P->id from the peer certificate when
 * the verify callback did not (resumed session) and check it against the
 * patterns and its notAfter. Client side, when the server did not resume
 * the session offered (it dropped it: expired, evicted, a fatal alert on
 * another connection), set P->refused and take it out of P->cache.
 * Returns 0, or -1 with P->reason set.
 */
int tls_after_handshake(SSL *ssl, struct tls_peer *p);

/*
 * Client side, after each relay step: when OpenSSL has replaced the
 * connection's session (it does on a NewSessionTicket), keep the new one
 * in P->cache for the connections to come. SSL NULL (a plaintext leg,
 * as the mux fuzz harness gives a tunnel): nothing to do.
 */
void tls_peer_poll(SSL *ssl, struct tls_peer *p);

/*
 * After a failed handshake: make sure P->reason and P->detail say why,
 * draining OpenSSL's error queue. Empties P->cache, so that sessions from a
 * server that now fails are not offered again.
 */
void tls_handshake_failed(struct tls_peer *p);

/*
 * After a failed handshake on a leg without a tls_peer: the reason for the
 * first error on OpenSSL's queue (tls_error, tls_version, ...) and its
 * text in DETAIL[0..LEN) ("connection closed" when the queue is empty).
 * Empties the queue.
 */
enum reason tls_take_error(char *detail, size_t len);

/*
 * The reason for OpenSSL error code E (as tls_take_error() maps it) and
 * its text in DETAIL[0..LEN) ("connection closed" when E is 0). The queue
 * is not touched.
 */
enum reason tls_error_reason(unsigned long e, char *detail, size_t len);

/*
 * Server side: drop the sessions of CTX's cache that have expired, or all
 * of them when ALL (a context that a reload replaced: no new connection
 * uses its cache). Sessions live connections hold stay theirs.
 */
void tls_sessions_flush(SSL_CTX *ctx, bool all);

/* Free the sessions in CACHE; NULL-safe. */
void tls_cache_clear(struct tls_cache *cache);

#endif
