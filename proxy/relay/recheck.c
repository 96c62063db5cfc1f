/*
 * recheck: see recheck.h. A resumed session carries the peer's leaf but
 * not the chain it sent; the chain is then rebuilt from the trust bundle,
 * and when that cannot be done the chain is not held against the peer
 * (only the leaf-level checks apply: CRL, dates, identity).
 */
#include "recheck.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "identity.h"
#include "log.h"
#include "policy.h"

/*
 * Allowed by the route's patterns? FRESH: answer with the reasons of a
 * refusal in the handshake, else with the *_after_reload ones.
 */
static enum reason
recheck_identity(X509 *leaf, const struct config_route *rc, bool fresh,
    char *detail, size_t len)
{
	bool server = rc->mode == CONFIG_MODE_TERMINATE;
	struct identity id;
	enum reason why = REASON_NONE;

	memset(&id, 0, sizeof(id));
	if (identity_from_x509(leaf, &id) != 0) {
		snprintf(detail, len, "malformed identity in certificate");
		return (
		    fresh ? REASON_BAD_CERT : REASON_NOT_ALLOWED_AFTER_RELOAD);
	}
	if (policy_match(server ? rc->allow : rc->expect,
		server ? rc->nallow : rc->nexpect, &id, rc->trust_domains,
		rc->ntrust_domains) < 0) {
		snprintf(detail, len, "%s no longer in %s",
		    id.spiffe != NULL ? id.spiffe : "peer",
		    server ? "allow" : "expect");
		if (!fresh)
			why = REASON_NOT_ALLOWED_AFTER_RELOAD;
		else
			why = server ? REASON_IDENTITY_NOT_ALLOWED
				     : REASON_IDENTITY_NOT_EXPECTED;
	}
	identity_clear(&id);
	return (why);
}

/* Map a verification error; NONE for "the chain cannot be rebuilt". */
static enum reason
recheck_error(int err, bool have_chain, bool fresh)
{
	switch (err) {
	case X509_V_ERR_CERT_REVOKED:
		return (
		    fresh ? REASON_CERT_REVOKED : REASON_REVOKED_AFTER_RELOAD);
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return (
		    fresh ? REASON_CERT_EXPIRED : REASON_EXPIRED_AFTER_RELOAD);
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return (fresh ? REASON_CERT_NOT_YET_VALID
			      : REASON_NOT_ALLOWED_AFTER_RELOAD);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		if (!have_chain)
			return (REASON_NONE);
		return (fresh ? REASON_UNKNOWN_CA
			      : REASON_NOT_ALLOWED_AFTER_RELOAD);
	default:
		return (
		    fresh ? REASON_BAD_CERT : REASON_NOT_ALLOWED_AFTER_RELOAD);
	}
}

/* recheck_peer() and recheck_handshake(): FRESH picks the reasons. */
static enum reason
recheck_run(
    SSL *ssl, const struct route *r, bool fresh, char *detail, size_t len)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509_STORE_CTX *xs = NULL;
	enum reason why;
	int err;

	detail[0] = '\0';
	if (leaf == NULL)
		return (REASON_NONE);
	why = recheck_identity(leaf, r->cfg, fresh, detail, len);
	if (why != REASON_NONE)
		return (why);
	if ((xs = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(
		xs, SSL_CTX_get_cert_store(r->ssl_ctx), leaf, chain) != 1) {
		log_ssl("route %s: cannot recheck a peer", r->cfg->name);
		X509_STORE_CTX_free(xs);
		/* A live connection stays; a new one is not let in unchecked.
		 */
		snprintf(detail, len, "cannot check the peer");
		return (fresh ? REASON_INTERNAL : REASON_NONE);
	}
	X509_STORE_CTX_set_default(xs,
	    r->cfg->mode == CONFIG_MODE_TERMINATE ? "ssl_client"
						  : "ssl_server");
	if (X509_verify_cert(xs) != 1) {
		err = X509_STORE_CTX_get_error(xs);
		why = recheck_error(err, chain != NULL, fresh);
		snprintf(detail, len, "depth %d: %s",
		    X509_STORE_CTX_get_error_depth(xs),
		    X509_verify_cert_error_string(err));
	}
	X509_STORE_CTX_free(xs);
	/* This runs on a worker: leg.c reads with an empty error queue. */
	ERR_clear_error();
	return (why);
}

enum reason
recheck_peer(SSL *ssl, const struct route *r, char *detail, size_t len)
{
	return (recheck_run(ssl, r, false, detail, len));
}

enum reason
recheck_handshake(SSL *ssl, const struct route *r, char *detail, size_t len)
{
	return (recheck_run(ssl, r, true, detail, len));
}
