/*
 * config_crl: what a route's CRL file must be beyond "it parses". A CRL
 * that no CA of the route signed (another CA's, or a forgery under the
 * right name) revokes nothing of ours, while leaf checking then refuses
 * every peer for want of a matching CRL: the file is refused. A CRL past
 * its nextUpdate is still loaded (it is the best revocation data there
 * is, and a config must not fail to load because a CA job ran late), but
 * the loader warns, and the proxy's /readyz and metrics say so.
 *
 * The CAs of a route are the certificates of its CA bundle and the CA
 * certificates of its own certificate file that chain to that bundle (the
 * issuing intermediate, which the proxy also trusts as an anchor, see
 * tls_ctx.c): with cotai-ca's layout the bundle holds only the root, and
 * the intermediate signs the CRL. A CRL of an intermediate that issued
 * peers but not us needs that intermediate in the bundle. When the route's
 * own certificate does not chain to the bundle, the issuer is not judged
 * here: the TLS layer refuses that certificate, which is the real fault.
 */
#include "config_priv.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"

/* Every PEM certificate in PATH (appended to SK); 0 or -1. */
static int
crl_read_certs(const char *path, STACK_OF(X509) * sk)
{
	BIO *bio;
	X509 *x;

	if ((bio = BIO_new_file(path, "r")) == NULL)
		return (-1);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			BIO_free(bio);
			return (-1);
		}
	}
	ERR_clear_error(); /* the end of the file */
	BIO_free(bio);
	return (0);
}

/*
 * The route's CAs into CAS: the bundle's certificates, then each CA
 * certificate after the leaf of the certificate file that verifies up to
 * the bundle (signatures only: dates are the handshake's business).
 * *LEAF_OK says whether the leaf itself does: when it does not, the TLS
 * layer refuses the certificate with that reason, which says more than a
 * CRL without a CA would.
 */
static int
crl_route_cas(
    const struct config_identity *id, STACK_OF(X509) * cas, bool *leaf_ok)
{
	STACK_OF(X509) *own = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *xs = NULL;
	int rc = -1;

	if (own == NULL || store == NULL || crl_read_certs(id->ca, cas) != 0 ||
	    crl_read_certs(id->cert, own) != 0)
		goto out;
	for (int i = 0; i < sk_X509_num(cas); i++)
		if (!X509_STORE_add_cert(store, sk_X509_value(cas, i)))
			goto out;
	*leaf_ok = false;
	for (int i = 0; i < sk_X509_num(own); i++) {
		X509 *x = sk_X509_value(own, i);

		if (i > 0 && X509_check_ca(x) == 0)
			continue;
		X509_STORE_CTX_free(xs);
		if ((xs = X509_STORE_CTX_new()) == NULL ||
		    X509_STORE_CTX_init(xs, store, x, own) != 1)
			goto out;
		X509_VERIFY_PARAM_set_flags(
		    X509_STORE_CTX_get0_param(xs), X509_V_FLAG_NO_CHECK_TIME);
		if (X509_verify_cert(xs) != 1)
			continue;
		if (i == 0) {
			*leaf_ok = true;
			continue;
		}
		if (!sk_X509_push(cas, x))
			goto out;
		X509_up_ref(x);
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(xs);
	X509_STORE_free(store);
	sk_X509_pop_free(own, X509_free);
	return (rc);
}

/* Is CRL signed by one of CAS (same name, and the signature verifies)? */
static bool
crl_signed_by(X509_CRL *crl, STACK_OF(X509) * cas)
{
	for (int i = 0; i < sk_X509_num(cas); i++) {
		X509 *x = sk_X509_value(cas, i);
		EVP_PKEY *pk = X509_get0_pubkey(x);

		if (X509_NAME_cmp(X509_get_subject_name(x),
			X509_CRL_get_issuer(crl)) == 0 &&
		    pk != NULL && X509_CRL_verify(crl, pk) == 1)
			return (true);
	}
	ERR_clear_error();
	return (false);
}

/* The warning for an expired CRL, at the place the path was written. */
static void
crl_warn_expired(struct cfg_ctx *c, const struct config_route *r,
    const char *issuer, const ASN1_TIME *next)
{
	const struct cfg_where *w = cfg_where_find(c, &r->identity.crl);
	char when[64] = "?";
	struct tm tm;

	if (ASN1_TIME_to_tm(next, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_warn("%s:%zu:%zu: %s: route %s: the CRL of %s in %s is past its "
		 "nextUpdate (%s): revocations since are unknown, peers are "
		 "refused and /readyz fails until a fresh CRL is loaded",
	    c->path, w != NULL ? w->mark.line + 1 : 0,
	    w != NULL ? w->mark.column + 1 : 0,
	    w != NULL ? w->key : "identity.crl", r->name, issuer,
	    r->identity.crl, when);
}

int
cfg_check_crl(struct cfg_ctx *c, const struct config_route *r)
{
	const struct config_identity *id = &r->identity;
	STACK_OF(X509) *cas = sk_X509_new_null();
	BIO *bio = NULL;
	X509_CRL *crl = NULL;
	char issuer[256];
	bool leaf_ok = false;
	int rc = -1;

	if (cas == NULL || crl_route_cas(id, cas, &leaf_ok) != 0 ||
	    (bio = BIO_new_file(id->crl, "r")) == NULL) {
		cfg_err_field(c, &id->crl, &r->line, "identity.crl",
		    "cannot check %s against the CA bundle", id->crl);
		goto out;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

		X509_NAME_oneline(
		    X509_CRL_get_issuer(crl), issuer, (int)sizeof(issuer));
		if (leaf_ok && !crl_signed_by(crl, cas)) {
			cfg_err_field(c, &id->crl, &r->line, "identity.crl",
			    "the CRL of %s in %s is not signed by a CA of "
			    "%s (nor by an intermediate of %s issued under "
			    "it): refused",
			    issuer, id->crl, id->ca, id->cert);
			goto out;
		}
		if (next != NULL && X509_cmp_time(next, NULL) < 0)
			crl_warn_expired(c, r, issuer, next);
		X509_CRL_free(crl);
		crl = NULL;
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_CRL_free(crl);
	BIO_free(bio);
	sk_X509_pop_free(cas, X509_free);
	return (rc);
}
