/*
 * ca_serve: "cotai-ca serve", the CA as an EST server (RFC 7030) over TLS
 * 1.3, on libevent's evhttp with OpenSSL bufferevents.
 *
 *	GET  /.well-known/est/cacerts         the trust bundle: root and
 *	                                       intermediate, PKCS#7 certs-only
 *	POST /.well-known/est/simpleenroll    CSR + one-time bearer token
 *	POST /.well-known/est/simplereenroll  CSR + the client certificate
 *	                                       being replaced
 *	GET  /crl                             the intermediate's CRL, DER
 *	GET  /crl.pem                         every intermediate CRL (two
 *	                                       during a rollover), PEM
 *
 * ca_serve.c holds the HTTP and TLS plumbing and the two GETs;
 * ca_serve_est.c the two enrollments (authorization, checks, issuance,
 * audit). This header is shared by those two files only.
 */
#ifndef COTAI_CA_SERVE_H
#define COTAI_CA_SERVE_H

#include <stdint.h>
#include <stdio.h>

#include <event2/http.h>
#include <openssl/ssl.h>

#include "ca_ctx.h"
#include "ca_keyset.h"
#include "ca_serve_conf.h"

/* One identity's issuance attempts in the current minute. */
struct ca_serve_rate {
	char name[CA_NAME_MAX + 1];
	int64_t window; /* start of the minute, unix seconds */
	uint64_t count;
};

/* A file's identity, to notice that it was replaced. */
struct ca_serve_fid {
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	off_t size; /* -1: the file does not exist */
};

/* Most identities tracked by the rate limit at once. */
#define CA_SERVE_RATE_SLOTS 4096

struct ca_serve {
	const struct ca_serve_conf *conf;
	struct ca_ctx ca; /* opened once, with the issuing key, no lock */
	char state_dir[PATH_MAX];
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *lis;
	SSL_CTX *ssl;
	FILE *audit;
	uint64_t nconn; /* open TLS connections */
	int paused;     /* the listener is disabled at max_connections */
	struct ca_keyset *keys;
	size_t keys_scanned; /* index entries whose key is in KEYS */
	struct ca_serve_rate *rate;
	/* intermediate.crt and intermediate-old.crt as loaded into CA. */
	struct ca_serve_fid inter_file, old_file;
	unsigned char *cacerts; /* base64 PKCS#7 */
	size_t cacerts_len;
	/* GET /crl: the DER of DIR/crl.pem's first CRL, by file identity. */
	unsigned char *crl;
	size_t crl_len;
	char crl_etag[48];
	/* GET /crl.pem: every intermediate CRL of DIR/crl.pem (two during a
	 * rollover), PEM, with its own ETag. */
	char *crls;
	size_t crls_len;
	char crls_etag[48];
	char crl_modified[64];
	int64_t crl_next_update; /* of the loaded CRL, unix seconds */
	struct event *crl_timer;
	struct {
		dev_t dev;
		ino_t ino;
		int64_t mtime_ns;
		off_t size;
	} crl_file;
};

/* Send STATUS with a text/plain BODY line (an error or a refusal). */
void ca_serve_reply_text(struct evhttp_request *req, int status,
    const char *reason, const char *msg);

/*
 * Send a PKCS#7 certs-only answer (application/pkcs7-mime, base64) holding
 * CERTS; 0 or -1 (then the caller answers 500).
 */
int ca_serve_reply_certs(struct evhttp_request *req, STACK_OF(X509) * certs);

/* "ADDR:PORT" of REQ's peer into BUF. */
void ca_serve_peer(struct evhttp_request *req, char *buf, size_t len);

/* The TLS connection of REQ, or NULL (a request must never be plain). */
SSL *ca_serve_ssl(struct evhttp_request *req);

/* The SSL ex_data slot holding the server (its free function counts). */
extern int ca_serve_exidx;

/* The SSL ex_data free function: one connection fewer. */
void ca_serve_conn_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp);

/*
 * evhttp's bufferevent factory: a TLS server bufferevent (fd set later by
 * evhttp). On failure a plain one, which ca_serve_ssl() then refuses.
 */
struct bufferevent *ca_serve_bevcb(struct event_base *base, void *arg);

/* evhttp's request callback: route by method and path. */
void ca_serve_dispatch(struct evhttp_request *req, void *arg);

/*
 * Load DIR/crl.pem's first CRL into S (when the file changed); 0 or -1.
 */
int ca_serve_crl_load(struct ca_serve *s);

/* Build S->cacerts: root and intermediate (and during a rollover the
 * previous one), base64 PKCS#7; 0 or -1. */
int ca_serve_build_cacerts(struct ca_serve *s);

/* The identity of DIR/FILE into *F (size -1 when missing). */
void
ca_serve_fid_of(struct ca_serve *s, const char *file, struct ca_serve_fid *f);

/*
 * When intermediate.crt or intermediate-old.crt changed (cotai-ca rollover),
 * open the CA again (under the lock) and rebuild cacerts and the TLS
 * context; a CA that does not open is logged and the current one stays.
 */
void ca_serve_ca_check(struct ca_serve *s);

/*
 * Add the keys of index entries not yet seen to S->keys (loading
 * certs/SERIAL.pem); 0 or -1.
 */
int ca_serve_est_keys_sync(struct ca_serve *s);

/* POST simpleenroll (ca_serve_est.c). */
void ca_serve_est_enroll(struct ca_serve *s, struct evhttp_request *req);

/* POST simplereenroll (ca_serve_est.c). */
void ca_serve_est_reenroll(struct ca_serve *s, struct evhttp_request *req);

#endif
