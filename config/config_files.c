/*
 * config_files: open every certificate, key, CA bundle and CRL a route
 * uses, so that a config that loads can also build its TLS contexts. Each
 * error is reported where the path was written (for inherited paths: at
 * the global identity key).
 */
#include "config_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* Never prompt for a passphrase: encrypted keys are refused. */
static int
files_no_pass(char *buf, int size, int rwflag, void *u)
{
	return (0);
}

const char *
cfg_file_note(struct cfg_ctx *c, const char *path, int err)
{
	const char *note;

	if (c->opts == NULL || c->opts->file_note == NULL ||
	    (note = c->opts->file_note(path, err)) == NULL)
		return ("");
	snprintf(c->note, sizeof(c->note), " (%s)", note);
	return (c->note);
}

/* Open FIELD's file for reading; NULL after an error. */
static BIO *
files_open(
    struct cfg_ctx *c, char *const *field, const void *route, const char *what)
{
	FILE *fp;
	BIO *bio;

	if ((fp = fopen(*field, "rb")) == NULL) {
		int e = errno;

		cfg_err_field(c, field, route, what, "cannot read %s: %s%s",
		    *field, strerror(e), cfg_file_note(c, *field, e));
		return (NULL);
	}
	if ((bio = BIO_new_fp(fp, BIO_CLOSE)) == NULL) {
		fclose(fp);
		cfg_err_field(c, field, route, what, "out of memory");
	}
	return (bio);
}

/* A CA bundle: at least one PEM certificate. */
static int
files_ca(struct cfg_ctx *c, char *const *field, const void *route)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	int n = 0, rc = -1;

	if ((bio = files_open(c, field, route, "identity.ca")) == NULL)
		goto out;
	while (
	    (x = PEM_read_bio_X509(bio, NULL, files_no_pass, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	if (n == 0) {
		cfg_err_field(c, field, route, "identity.ca",
		    "no PEM certificate in %s", *field);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	return (rc);
}

static int
files_crl(struct cfg_ctx *c, char *const *field, const void *route)
{
	BIO *bio = NULL;
	X509_CRL *crl = NULL;
	int rc = -1;

	if ((bio = files_open(c, field, route, "identity.crl")) == NULL)
		goto out;
	if ((crl = PEM_read_bio_X509_CRL(bio, NULL, files_no_pass, NULL)) ==
	    NULL) {
		cfg_err_field(c, field, route, "identity.crl",
		    "no PEM CRL in %s", *field);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_CRL_free(crl);
	BIO_free(bio);
	return (rc);
}

/*
 * PostgreSQL's rule for ssl_key_file: no access for others, and none for
 * the group either unless root owns the file, in which case group read
 * (0640) is fine. That is how Kubernetes mounts secrets with an fsGroup
 * (root:GROUP, 0440), and how a root-managed key is shared with a service
 * group.
 */
static bool
files_key_mode_ok(const struct stat *st)
{
	mode_t m = st->st_mode & 0777;

	if (st->st_uid == 0)
		return ((m & 037) == 0);
	return ((m & 077) == 0);
}

/* The private key: private permissions, PEM, unencrypted; WHAT is its
 * key name for the error when the path was inherited. */
static EVP_PKEY *
files_key(
    struct cfg_ctx *c, char *const *field, const void *route, const char *what)
{
	struct stat st;
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;

	if (stat(*field, &st) == 0 && !files_key_mode_ok(&st)) {
		cfg_err_field(c, field, route, what,
		    "%s is accessible by group or others (mode %04o); "
		    "chmod 600 it (0640 is allowed when root owns it)",
		    *field, (unsigned)(st.st_mode & 07777));
		return (NULL);
	}
	if ((bio = files_open(c, field, route, what)) == NULL)
		return (NULL);
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, files_no_pass, NULL)) ==
	    NULL)
		cfg_err_field(c, field, route, what,
		    "no unencrypted PEM private key in %s", *field);
	ERR_clear_error();
	BIO_free(bio);
	return (pk);
}

/*
 * A certificate and its key (matching): CERT and KEY point at the path
 * fields, WHAT is "identity" or "local_tls" for inherited paths' errors.
 */
static int
files_pair(struct cfg_ctx *c, char *const *cert, char *const *key,
    const void *route, const char *what)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	char kc[32], kk[32];
	int rc = -1;

	snprintf(kc, sizeof(kc), "%s.cert", what);
	snprintf(kk, sizeof(kk), "%s.key", what);
	if ((bio = files_open(c, cert, route, kc)) == NULL)
		goto out;
	if ((x = PEM_read_bio_X509(bio, NULL, files_no_pass, NULL)) == NULL) {
		cfg_err_field(
		    c, cert, route, kc, "no PEM certificate in %s", *cert);
		goto out;
	}
	if ((pk = files_key(c, key, route, kk)) == NULL)
		goto out;
	if (X509_check_private_key(x, pk) != 1) {
		cfg_err_field(c, key, route, kk,
		    "%s does not match the certificate in %s", *key, *cert);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(pk);
	X509_free(x);
	BIO_free(bio);
	return (rc);
}

/* The route's CA, certificate, key, optional CRL and local TLS pair. */
static int
files_route(struct cfg_ctx *c, const struct config_route *r)
{
	const struct config_identity *id = &r->identity;
	const struct config_local_tls *lt = &r->pg_local_tls;

	if (files_ca(c, &id->ca, &r->line) == -1 ||
	    files_pair(c, &id->cert, &id->key, &r->line, "identity") == -1)
		return (-1);
	if (id->crl != NULL &&
	    (files_crl(c, &id->crl, &r->line) == -1 ||
		cfg_check_crl(c, r) == -1))
		return (-1);
	if (lt->cert != NULL &&
	    files_pair(c, &lt->cert, &lt->key, &r->line, "local_tls") == -1)
		return (-1);
	return (0);
}

int
cfg_check_files(struct cfg_ctx *c, const struct cotai_config *cfg)
{
	const struct config_audit *a = &cfg->audit;

	/* The renewal's files do not exist before the first enrollment. */
	if (a->target.text != NULL && !cfg_renew_audit_waiting(cfg) &&
	    (files_ca(c, &a->identity.ca, &a->target) == -1 ||
		files_pair(c, &a->identity.cert, &a->identity.key, &a->target,
		    "audit.syslog.identity") == -1 ||
		(a->identity.crl != NULL &&
		    files_crl(c, &a->identity.crl, &a->target) == -1)))
		return (-1);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		if (cfg_renew_waiting(cfg, &cfg->routes[i]))
			continue;
		if (files_route(c, &cfg->routes[i]) == -1)
			return (-1);
	}
	if (cfg->admin_enabled && cfg->admin_tls &&
	    !cfg_renew_waiting(cfg, &cfg->admin_route))
		return (files_route(c, &cfg->admin_route));
	return (0);
}
