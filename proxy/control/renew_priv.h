/*
 * renew's internals, shared by renew.c (scheduling, state, reload) and
 * renew_est.c (the EST requests, keys, CSRs, PKCS#7, atomic files) and
 * renew_crl.c (CRL and bundle).
 */
#ifndef COTAI_RENEW_PRIV_H
#define COTAI_RENEW_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "renew.h"

struct renew_req;

/*
 * A finished request: STATUS is the HTTP status (0: no answer, the reason
 * logged), BODY the answer's body (NULL without), ETAG its ETag or NULL.
 */
typedef void (*renew_done_fn)(
    struct renew *rn, int status, struct evbuffer *body, const char *etag);

struct renew {
	char *host, *port, *ca, *dir, *token_file;
	double at;
	uint32_t crl_ms;
	struct event_base *base; /* borrowed */
	struct evdns_base *dns;  /* on base; NULL: getaddrinfo (blocking) */
	struct reload *rl;       /* borrowed; NULL while bootstrapping */
	SSL_CTX *ctx;            /* TLS 1.3 client, trusts renew.ca */
	struct event *ev_renew, *ev_crl;
	EVP_PKEY *newkey; /* the key of a request in flight */
	char crl_etag[128];
	uint64_t ok, failed;
	time_t next;            /* next renewal attempt (unix time) */
	time_t enrolled_at;     /* bootstrap: when it enrolled, or 0 */
	time_t crl_checked;     /* last CRL answer (200 or 304), or 0 */
	uint32_t backoff;       /* current retry wait, seconds; 0 = none */
	int boot;               /* bootstrap: 0 running, 1 done, -1 refused */
	struct renew_req *reqs; /* requests in flight or not yet reaped */
	bool busy_renew, busy_crl;
	bool fetch_changed; /* this fetch wrote the CRL */
	bool fetch_crl_ok;  /* this fetch's CRL is current (200 or 304) */
};

/* One request to the CA server; AUTH (Bearer token) and INM (If-None-Match)
 * may be NULL; BODY (owned from now) may be NULL for a GET; CLIENT presents
 * state_dir's certificate. 0, or -1 (logged; DONE is not called). */
int renew_http(struct renew *rn, bool post, const char *path, bool client,
    const char *auth, const char *inm, struct evbuffer *body,
    renew_done_fn done);

/* Apply state_dir's files by a reload (none while bootstrapping). 0 or -1. */
int renew_apply(struct renew *rn, const char *trigger);

/* renew_crl.c: fetch the CRL, then the bundle; apply a change. */
void renew_crl_fetch(struct renew *rn);

/* The crl_interval timer's callback (ARG: the struct renew). */
void renew_on_crl_timer(evutil_socket_t fd, short what, void *arg);

/* Free every request of RN and its connection (no callback runs). */
void renew_reap_all(struct renew *rn);

/* rn->dns on rn->base (a warning and NULL if it cannot be made), and its
 * release (NULL-safe); stop before the base is freed. */
void renew_dns_start(struct renew *rn);
void renew_dns_stop(struct renew *rn);

/* The token, first line of token_file, as an Authorization header value
 * ("Bearer TOKEN"); NULL (logged). */
char *renew_token(const struct renew *rn);

/* A new EC P-256 key, and a base64 DER CSR for it in *BODY. */
EVP_PKEY *renew_keygen(struct evbuffer **body);

/* The certificates of a base64 certs-only PKCS#7 BODY, or NULL. */
STACK_OF(X509) * renew_p7_certs(struct evbuffer *body);

/* Write DIR/NAME with LEN bytes of DATA atomically (mkstemp, fsync,
 * rename), mode 0600. 0 or -1 (logged). */
int renew_write(const char *dir, const char *name, const void *data, size_t len,
    const char *what);

/* The PEM of CERTS (and of KEY unless NULL) into a malloc'ed buffer. */
char *renew_pem(STACK_OF(X509) * certs, EVP_PKEY *key, size_t *len);

/* Read DIR/NAME (O_NOFOLLOW) into a malloc'ed NUL-terminated buffer. */
char *renew_read(const char *dir, const char *name, size_t *len);

/* The TLS client context trusting CA. NULL (logged). */
SSL_CTX *renew_ctx_new(const char *ca);

#endif
