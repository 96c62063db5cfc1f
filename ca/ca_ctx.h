/*
 * ca_ctx: an opened CA (state directory, certificates, issuing key, index)
 * and the operations that several verbs share: issuing one leaf, saving the
 * index, publishing the CRL.
 */
#ifndef COTAI_CA_CTX_H
#define COTAI_CA_CTX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca_index.h"
#include "ca_key.h"
#include "ca_name.h"
#include "ca_store.h"

/* Default leaf lifetime (--ttl). */
#define CA_CTX_DEFAULT_TTL (7 * 86400)
/* The previous intermediate's files during a rollover. */
#define CA_CTX_OLD_CRT "intermediate-old.crt"
#define CA_CTX_OLD_KEY "intermediate-old.key"

/* Longest --ttl accepted (the intermediate caps it anyway). */
#define CA_CTX_MAX_TTL_MS (365ULL * 86400 * 1000)
/* Most --dns or --ip values on one certificate. */
#define CA_CTX_MAX_SANS 64

/* Flags for ca_ctx_open(). */
#define CA_CTX_LOCK 0x1 /* take the state directory's lock */
#define CA_CTX_KEY 0x2  /* load the issuing key */

struct ca_ctx {
	struct ca_store *store;
	X509 *root;
	X509 *inter;
	EVP_PKEY *inter_key; /* NULL unless CA_CTX_KEY */
	/* During an intermediate rollover (ca_cmd_rollover.c): the previous
	 * intermediate, still published and still signing its CRL until
	 * `rollover --finish`. NULL otherwise; OLD_KEY NULL unless KEY. */
	X509 *old;
	EVP_PKEY *old_key;
	struct ca_index *idx;
	char td[CA_NAME_TD_MAX + 1];
	int64_t now;
};

/* What to issue: validated names, an absolute output directory. */
struct ca_ctx_req {
	const char *name;
	struct ca_sans sans;
	int64_t ttl;
	enum ca_key_type key_type;
	const char *out_dir;
	int combined; /* also write NAME.pem: chain then key, 0600 */
};

/* The DNS and IP SANs of a certificate (besides NAME), copied out of it. */
struct ca_ctx_names {
	const char *dns[CA_CTX_MAX_SANS];
	size_t ndns;
	const char *ips[CA_CTX_MAX_SANS];
	size_t nips;
	char dbuf[CA_CTX_MAX_SANS][CA_NAME_MAX + 1];
	char ibuf[CA_CTX_MAX_SANS][46]; /* INET6_ADDRSTRLEN */
};

/*
 * Open the CA in DIR: check it, load certificates, trust domain, index and
 * (CA_CTX_KEY) the issuing key. Returns 0, or -1 after printing the error;
 * call ca_ctx_close() in both cases (C is zeroed first).
 */
int ca_ctx_open(struct ca_ctx *c, const char *dir, int flags);

/* Free everything C holds and drop the lock. */
void ca_ctx_close(struct ca_ctx *c);

/* Write C's index atomically; 0 or -1. */
int ca_ctx_save_index(struct ca_ctx *c);

/*
 * Issue a leaf for REQ, write NAME.key, NAME.crt, ca.crt (and NAME.pem when
 * REQ->combined) into REQ->out_dir
 * and certs/SERIAL.pem into the state directory, and append a V entry to
 * the index (in memory; the caller saves it). Returns 0 or -1.
 */
int ca_ctx_issue(struct ca_ctx *c, const struct ca_ctx_req *req,
    struct ca_index_entry *entry);

/*
 * Issue a leaf for REQ carrying the public key PUB (from a CSR; REQ->key_type
 * is ignored, KEY_TYPE is recorded), write only certs/SERIAL.pem and append
 * a V entry to the index in memory (the caller saves it). On success *LEAF
 * is the new certificate (the caller frees it). Returns 0 or -1.
 */
int
ca_ctx_issue_pub(struct ca_ctx *c, const struct ca_ctx_req *req, EVP_PKEY *pub,
    const char *key_type, X509 **leaf, struct ca_index_entry *entry);

/* Read the index again from disk (call it with the lock held); 0 or -1. */
int ca_ctx_reload_index(struct ca_ctx *c);

/*
 * Copy the DNS SANs (except NAME) and IP SANs of X into N; 0, or -1 after
 * printing an error.
 */
int ca_ctx_names_of(X509 *x, const char *name, struct ca_ctx_names *n);

/* N's names as the struct ca_sans requests carry (borrowing N's arrays). */
struct ca_sans ca_ctx_names_sans(const struct ca_ctx_names *n);

/*
 * Sign a new intermediate CRL, write DIR/crl.pem (the new CRL, during a
 * rollover the previous intermediate's CRL, then the root's CRL) and copy it to
 * OUT_DIR (may be NULL) and, when ALL, to every existing output directory
 * recorded in the index. 0 or -1.
 */
int ca_ctx_publish_crl(struct ca_ctx *c, const char *out_dir, int all);

/*
 * Resolve the output directory: ARG (from --out) or DIR/issued/NAME;
 * create it (0700) and store its absolute path in BUF. 0 or -1.
 */
int ca_ctx_out_dir(
    struct ca_ctx *c, const char *arg, const char *name, char *buf, size_t len);

/* True when E is due: a third of its lifetime or less left at NOW. */
int ca_ctx_due(const struct ca_index_entry *e, int64_t now);

/* Load the first certificate of PEM file PATH; NULL after an error. */
X509 *ca_ctx_load_cert(const char *path);

#endif
