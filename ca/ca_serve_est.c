/*
 * ca_serve_est: the two enrollments of cotai-ca serve (see ca_serve.h).
 *
 * Both run with the state directory's lock held from the authorization
 * check to the saved index, exactly like the CLI verbs, so that an
 * issuance, a "revoke" or a "renew" never interleave: a certificate revoked
 * a moment before is seen revoked. The identity issued never comes from
 * the CSR: simplereenroll copies the names of the CA's stored copy of the
 * presented certificate, simpleenroll issues the name the token is bound
 * to. Every answer other than a success is a refusal with one audit line.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca_cert.h"
#include "ca_csr.h"
#include "ca_serve.h"
#include "ca_token.h"
#include "ca_util.h"

/* One request being handled. */
struct est_req {
	struct ca_serve *s;
	struct evhttp_request *req;
	const char *op;             /* "simpleenroll" or "simplereenroll" */
	char name[CA_NAME_MAX + 1]; /* the identity, once known */
	char old_serial[CA_CERT_SERIAL_HEX];
	int locked;
};

/* Write S as a JSON string to F. */
static void
est_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* One audit line: issued (E set) or refused (REASON set). */
static void
est_audit(struct est_req *r, const struct ca_index_entry *e, const char *reason)
{
	char ts[CA_UTIL_TIME_LEN], peer[128];
	FILE *f = r->s->audit;

	ca_serve_peer(r->req, peer, sizeof(peer));
	fprintf(f,
	    "{\"ts\": \"%s\", \"event\": \"%s\", \"op\": \"%s\", "
	    "\"peer\": ",
	    ca_util_fmt_time(ca_util_now(), ts),
	    e != NULL ? "issued" : "refused", r->op);
	est_json_str(f, peer);
	fprintf(f, ", \"name\": ");
	est_json_str(f, r->name[0] != '\0' ? r->name : "-");
	if (r->old_serial[0] != '\0')
		fprintf(f, ", \"old_serial\": \"%s\"", r->old_serial);
	if (e != NULL)
		fprintf(f, ", \"serial\": \"%s\", \"not_after\": \"%s\"",
		    e->serial, ca_util_fmt_time(e->not_after, ts));
	else {
		fprintf(f, ", \"reason\": ");
		est_json_str(f, reason != NULL ? reason : "-");
	}
	fprintf(f, "}\n");
	fflush(f);
}

static void
est_unlock(struct est_req *r)
{
	if (r->locked)
		ca_store_unlock(r->s->ca.store);
	r->locked = 0;
}

/* Refuse with STATUS and REASON (audited, answered); drops the lock. */
static void
est_refuse(struct est_req *r, int status, const char *reason)
{
	static const struct {
		int status;
		const char *text;
	} texts[] = {
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {429, "Too Many Requests"},
	    {500, "Internal Server Error"},
	};
	const char *text = "Error";

	est_unlock(r);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].status == status)
			text = texts[i].text;
	est_audit(r, NULL, reason);
	if (status == 401)
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
		    "WWW-Authenticate",
		    strcmp(r->op, "simpleenroll") == 0 ? "Bearer" : "TLS");
	if (status == 429)
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
		    "Retry-After", "60");
	ca_serve_reply_text(r->req, status, text, reason);
}

/* Take the lock and read the index again; -1 after answering 500. */
static int
est_lock(struct est_req *r)
{
	struct ca_serve *s = r->s;

	if (ca_store_lock(s->ca.store) != 0) {
		est_refuse(r, 500, "cannot lock the CA");
		return (-1);
	}
	r->locked = 1;
	s->ca.now = ca_util_now();
	if (ca_ctx_reload_index(&s->ca) != 0 ||
	    ca_serve_est_keys_sync(s) != 0) {
		est_refuse(r, 500, "cannot read the CA's index");
		return (-1);
	}
	return (0);
}

/* Count an attempt of NAME; 0 when within the per-minute rate. */
static int
est_rate(struct ca_serve *s, const char *name, int64_t now)
{
	int64_t win = now - now % 60;
	struct ca_serve_rate *slot = NULL;

	for (size_t i = 0; i < CA_SERVE_RATE_SLOTS; i++) {
		struct ca_serve_rate *r = &s->rate[i];

		if (r->name[0] != '\0' && strcmp(r->name, name) == 0) {
			if (r->window != win) {
				r->window = win;
				r->count = 0;
			}
			return (++r->count <= s->conf->rate ? 0 : -1);
		}
		if (slot == NULL && (r->name[0] == '\0' || r->window < win))
			slot = r;
	}
	if (slot == NULL)
		return (-1); /* too many identities at once: fail closed */
	snprintf(slot->name, sizeof(slot->name), "%s", name);
	slot->window = win;
	slot->count = 1;
	return (0);
}

int
ca_serve_est_keys_sync(struct ca_serve *s)
{
	size_t n = ca_index_len(s->ca.idx);
	unsigned char id[CA_CSR_KEY_ID];
	char file[CA_CERT_SERIAL_HEX + 16], path[PATH_MAX];

	if (n < s->keys_scanned)
		s->keys_scanned = 0;
	for (size_t i = s->keys_scanned; i < n; i++) {
		const struct ca_index_entry *e = ca_index_at(s->ca.idx, i);
		X509 *x;
		int ok;

		snprintf(file, sizeof(file), "certs/%s.pem", e->serial);
		if (ca_store_path(s->ca.store, file, path, sizeof(path)) != 0 ||
		    (x = ca_ctx_load_cert(path)) == NULL)
			return (-1);
		ok = ca_csr_key_id(X509_get0_pubkey(x), id) == 0 &&
		    ca_keyset_add(s->keys, id) == 0;
		X509_free(x);
		if (!ok) {
			ca_util_err("key of %s", path);
			return (-1);
		}
	}
	s->keys_scanned = n;
	return (0);
}

/* The request body, NUL-terminated, in a new buffer (*LEN bytes). */
static char *
est_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	char *buf;

	*len = evbuffer_get_length(in);
	if ((buf = malloc(*len + 1)) == NULL)
		return (NULL);
	evbuffer_copyout(in, buf, *len);
	buf[*len] = '\0';
	return (buf);
}

/*
 * ca_ctx_issue_pub() under the intermediate to issue with, in *ISSUER:
 * during a rollover the previous one until the new one is rollover_delay
 * old (its notBefore is its creation minus CA_CERT_BACKDATE), so that the
 * sidecars hold the new CRL (GET /crl.pem) before any peer presents a
 * certificate it covers.
 */
static int
est_issue_pub(struct ca_serve *s, const struct ca_ctx_req *creq, EVP_PKEY *pub,
    const char *key_type, X509 **leaf, struct ca_index_entry *e, X509 **issuer)
{
	X509 *inter = s->ca.inter;
	EVP_PKEY *key = s->ca.inter_key;
	int64_t nb, na;
	int rc;

	if (s->ca.old != NULL && s->ca.old_key != NULL &&
	    ca_cert_times(inter, &nb, &na) == 0 &&
	    s->ca.now < nb + CA_CERT_BACKDATE + s->conf->rollover_delay) {
		s->ca.inter = s->ca.old;
		s->ca.inter_key = s->ca.old_key;
	}
	*issuer = s->ca.inter;
	rc = ca_ctx_issue_pub(&s->ca, creq, pub, key_type, leaf, e);
	s->ca.inter = inter;
	s->ca.inter_key = key;
	return (rc);
}

/*
 * Check the CSR of R against NAME and NAMES, then issue; CUR is the entry
 * being replaced (NULL: none), TOKENS/TOKEN the token to consume (enroll).
 * Holds the lock on entry; answers and audits in every case.
 */
static void
est_issue(struct est_req *r, const struct ca_ctx_names *names,
    struct ca_index_entry *cur, struct ca_tokens *tokens, const char *token)
{
	struct ca_serve *s = r->s;
	char spiffe[CA_NAME_SPIFFE_MAX], key_type[16], out[PATH_MAX];
	unsigned char id[CA_CSR_KEY_ID];
	struct ca_csr_identity ident;
	struct ca_index_entry e;
	struct ca_ctx_req creq;
	STACK_OF(X509) *chain = NULL;
	const char *why = NULL;
	X509_REQ *csr = NULL;
	X509 *leaf = NULL, *issuer = NULL;
	char *body = NULL;
	size_t len = 0;

	if ((body = est_body(r->req, &len)) == NULL) {
		est_refuse(r, 500, "out of memory");
		return;
	}
	if ((csr = ca_csr_decode(body, len, &why)) == NULL) {
		est_refuse(r, 400, why);
		goto out;
	}
	memset(&ident, 0, sizeof(ident));
	ca_name_spiffe_id(s->ca.td, r->name, spiffe, sizeof(spiffe));
	ident.name = r->name;
	ident.spiffe = spiffe;
	ident.sans = ca_ctx_names_sans(names);
	if (ca_csr_check(csr, &ident, key_type, &why) != 0) {
		est_refuse(r, strstr(why, "identity") != NULL ? 403 : 400, why);
		goto out;
	}
	if (ca_csr_key_id(X509_REQ_get0_pubkey(csr), id) != 0) {
		est_refuse(r, 500, "cannot hash the key");
		goto out;
	}
	if (ca_keyset_has(s->keys, id)) {
		est_refuse(r, 400,
		    "key reused: a certificate was already "
		    "issued for this key; generate a new key");
		goto out;
	}
	if ((size_t)snprintf(out, sizeof(out), "%s/issued/%s", s->state_dir,
		r->name) >= sizeof(out)) {
		est_refuse(r, 500, "state directory path too long");
		goto out;
	}
	memset(&creq, 0, sizeof(creq));
	creq.name = r->name;
	creq.sans = ca_ctx_names_sans(names);
	creq.ttl = s->conf->ttl;
	creq.out_dir = out;
	if (cur != NULL)
		cur->status = CA_INDEX_SUPERSEDED;
	if (est_issue_pub(s, &creq, X509_REQ_get0_pubkey(csr), key_type, &leaf,
		&e, &issuer) != 0 ||
	    (tokens != NULL &&
		(ca_tokens_remove(tokens, token) != 0 ||
		    ca_tokens_save(s->ca.store, tokens, s->ca.now) != 0)) ||
	    ca_ctx_save_index(&s->ca) != 0) {
		est_refuse(r, 500, "issuance failed; see the server's log");
		goto out;
	}
	est_unlock(r);
	ca_keyset_add(s->keys, id);
	if ((chain = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(chain, leaf) || !sk_X509_push(chain, issuer) ||
	    ca_serve_reply_certs(r->req, chain) != 0) {
		/* Issued and recorded; the client may retry with a new key. */
		ca_serve_reply_text(
		    r->req, 500, "Internal Server Error", "encoding failed");
	}
	est_audit(r, &e, NULL);
out:
	est_unlock(r);
	sk_X509_free(chain);
	X509_free(leaf);
	X509_REQ_free(csr);
	free(body);
}

void
ca_serve_est_reenroll(struct ca_serve *s, struct evhttp_request *req)
{
	static struct ca_ctx_names names;
	struct est_req r = {.s = s, .req = req, .op = "simplereenroll"};
	char file[CA_CERT_SERIAL_HEX + 16], path[PATH_MAX], why[256];
	struct ca_index_entry *cur;
	SSL *ssl = ca_serve_ssl(req);
	X509 *peer = SSL_get0_peer_certificate(ssl), *stored = NULL;
	long v;

	memset(&names, 0, sizeof(names));
	if (peer == NULL) {
		est_refuse(&r, 401, "no client certificate");
		return;
	}
	if (ca_cert_serial_hex(peer, r.old_serial, sizeof(r.old_serial)) != 0) {
		est_refuse(&r, 400, "unreadable client certificate serial");
		return;
	}
	if ((v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(why, sizeof(why), "client certificate not valid: %s",
		    X509_verify_cert_error_string(v));
		est_refuse(&r, 403, why);
		return;
	}
	if (est_lock(&r) != 0)
		return;
	if ((cur = ca_index_find_serial(s->ca.idx, r.old_serial)) == NULL) {
		est_refuse(&r, 403, "client certificate not in the CA's index");
		return;
	}
	snprintf(r.name, sizeof(r.name), "%s", cur->name);
	if (cur->status == CA_INDEX_REVOKED) {
		est_refuse(&r, 403, "client certificate revoked");
		return;
	}
	if (cur->status == CA_INDEX_SUPERSEDED) {
		est_refuse(&r, 403,
		    "client certificate superseded: renew "
		    "with the current one");
		return;
	}
	if (cur->not_after <= s->ca.now) {
		est_refuse(&r, 403, "client certificate expired");
		return;
	}
	snprintf(file, sizeof(file), "certs/%s.pem", cur->serial);
	if (ca_store_path(s->ca.store, file, path, sizeof(path)) != 0 ||
	    (stored = ca_ctx_load_cert(path)) == NULL) {
		est_refuse(
		    &r, 500, "the CA's copy of the certificate is missing");
		return;
	}
	if (X509_cmp(stored, peer) != 0)
		est_refuse(&r, 403,
		    "client certificate differs from the CA's "
		    "record");
	else if (est_rate(s, r.name, s->ca.now) != 0)
		est_refuse(&r, 429, "rate limit for this identity");
	else if (ca_ctx_names_of(stored, r.name, &names) != 0)
		est_refuse(&r, 500, "unusable names in the CA's record");
	else
		est_issue(&r, &names, cur, NULL, NULL);
	X509_free(stored);
}

void
ca_serve_est_enroll(struct ca_serve *s, struct evhttp_request *req)
{
	static const struct ca_ctx_names none;
	struct est_req r = {.s = s, .req = req, .op = "simpleenroll"};
	const char *auth = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization");
	struct ca_tokens *tokens = NULL;
	char token[CA_TOKEN_HEX + 1];

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		est_refuse(&r, 401, "no bearer token");
		return;
	}
	if (ca_token_from_auth(auth, token) != 0) {
		est_refuse(&r, 403, "malformed token");
		return;
	}
	if (est_lock(&r) != 0)
		return;
	if ((tokens = ca_tokens_load(s->ca.store)) == NULL) {
		est_refuse(&r, 500, "cannot read the tokens");
		return;
	}
	switch (ca_tokens_find(tokens, token, s->ca.now, r.name)) {
	case CA_TOKEN_OK:
		break;
	case CA_TOKEN_EXPIRED:
		ca_tokens_save(s->ca.store, tokens, s->ca.now);
		est_refuse(&r, 403, "token expired");
		goto out;
	default:
		est_refuse(&r, 403, "unknown or already used token");
		goto out;
	}
	if (est_rate(s, r.name, s->ca.now) != 0) {
		est_refuse(&r, 429, "rate limit for this identity");
		goto out;
	}
	est_issue(
	    &r, &none, ca_index_current(s->ca.idx, r.name), tokens, token);
out:
	OPENSSL_cleanse(token, sizeof(token));
	ca_tokens_free(tokens);
}
