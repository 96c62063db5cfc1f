/*
 * renew_crl: the CRLs and the trust bundle from the CA server (renew.h):
 * GET /crl.pem with If-None-Match (every intermediate's CRL: two during an
 * intermediate rollover, so peers under either are checked), then GET
 * cacerts; a new CRL or bundle is
 * written to state_dir and applied by a reload, which closes the live
 * connections of peers now revoked.
 */
#include "renew_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"

static void
renew_on_cacerts(
    struct renew *rn, int status, struct evbuffer *body, const char *etag)
{
	STACK_OF(X509) *certs = NULL;
	char *pem = NULL, *old = NULL;
	size_t len = 0, olen = 0;
	bool changed = rn->fetch_changed;

	if (status != 200 || (certs = renew_p7_certs(body)) == NULL ||
	    (pem = renew_pem(certs, NULL, &len)) == NULL) {
		if (status != 0)
			log_error("renew: GET cacerts: status %d", status);
		goto done;
	}
	old = renew_read(rn->dir, "bundle.pem", &olen);
	if (old == NULL || olen != len || memcmp(old, pem, len) != 0) {
		if (renew_write(
			rn->dir, "bundle.pem", pem, len, "trust bundle") == 0)
			changed = true;
	}
done:
	sk_X509_pop_free(certs, X509_free);
	free(pem);
	free(old);
	rn->busy_crl = false;
	if (rn->boot == 0 && status == 200 && rn->fetch_crl_ok)
		rn->boot = 1;
	if (changed && renew_apply(rn, "crl or bundle") != 0)
		log_error("renew: the new CRL or bundle did not load: the "
			  "current ones stay");
	if (rn->rl == NULL)
		event_base_loopbreak(rn->base);
}

/*
 * The PEM of every CRL in the PEM BODY (at least one, nothing else) into a
 * new memory BIO, or NULL.
 */
static BIO *
renew_crls(struct evbuffer *body)
{
	size_t len = evbuffer_get_length(body);
	BIO *in = BIO_new_mem_buf(evbuffer_pullup(body, -1), (int)len);
	BIO *out = BIO_new(BIO_s_mem());
	X509_CRL *crl;
	int n = 0;

	while (in != NULL && out != NULL &&
	    (crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL)) != NULL) {
		if (PEM_write_bio_X509_CRL(out, crl) == 1)
			n++;
		X509_CRL_free(crl);
	}
	ERR_clear_error(); /* the end of the body */
	BIO_free(in);
	if (n == 0) {
		BIO_free(out);
		return (NULL);
	}
	return (out);
}

static void
renew_on_crl(
    struct renew *rn, int status, struct evbuffer *body, const char *etag)
{
	BIO *b = NULL;
	char *pem;
	long n;

	rn->fetch_changed = false;
	rn->fetch_crl_ok = status == 200 || status == 304;
	if (rn->fetch_crl_ok)
		rn->crl_checked = time(NULL);
	if (status == 200 && body != NULL) {
		if ((b = renew_crls(body)) == NULL ||
		    (n = BIO_get_mem_data(b, &pem)) <= 0) {
			log_error("renew: GET /crl.pem: no PEM CRL");
			rn->fetch_crl_ok = false;
		} else if (renew_write(rn->dir, "crl.pem", pem, (size_t)n,
			       "CRL") == 0) {
			rn->fetch_changed = true;
			snprintf(rn->crl_etag, sizeof(rn->crl_etag), "%s",
			    etag != NULL ? etag : "");
		}
		BIO_free(b);
	} else if (status != 304 && status != 0) {
		log_error("renew: GET /crl.pem: status %d", status);
	}
	if (renew_http(rn, false, "/.well-known/est/cacerts", false, NULL, NULL,
		NULL, renew_on_cacerts) != 0)
		renew_on_cacerts(rn, 0, NULL, NULL);
}

void
renew_crl_fetch(struct renew *rn)
{
	if (rn->busy_crl)
		return;
	rn->busy_crl = true;
	if (renew_http(rn, false, "/crl.pem", false, NULL, rn->crl_etag, NULL,
		renew_on_crl) != 0)
		renew_on_crl(rn, 0, NULL, NULL);
}

void
renew_on_crl_timer(evutil_socket_t fd, short what, void *arg)
{
	renew_crl_fetch(arg);
}
