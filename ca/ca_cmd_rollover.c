/*
 * ca_cmd_rollover: "cotai-ca rollover" replaces the issuing intermediate
 * while the mesh runs, in two steps:
 *
 *   rollover [--root-key FILE] [--passphrase-file FILE]
 *	with the root key (brought back for this step only): a new
 *	intermediate (a new P-256 key, the same name constraints) becomes
 *	intermediate.crt/.key; the previous one moves to intermediate-old.*
 *	and stays in the trust bundle (cacerts) and in crl.pem (its own CRL,
 *	still signed) during the overlap. cotai-ca serve notices the change
 *	and issues under the new one; renewals move every workload over.
 *   rollover --finish [--force]
 *	once no unexpired, unrevoked certificate of the previous
 *	intermediate is left (--force: regardless), remove it: it leaves
 *	the bundle and crl.pem.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca_cert.h"
#include "ca_cmd.h"
#include "ca_crl.h"
#include "ca_ctx.h"
#include "ca_util.h"

static const char ca_cmd_rollover_usage[] =
    "usage: cotai-ca [--dir DIR] rollover [--root-key FILE] "
    "[--passphrase-file FILE]\n"
    "       cotai-ca [--dir DIR] rollover --finish [--force]\n"
    "Replace the issuing intermediate while the mesh runs. The first form\n"
    "(the root key needed: default DIR/ca.key, passphrase default\n"
    "DIR/ca.pass) makes a new intermediate with the same name constraints;\n"
    "the previous one stays in the trust bundle and keeps its CRL until\n"
    "--finish, which removes it once none of its certificates is still\n"
    "valid (--force: even then).\n";

struct ca_cmd_rollover_opts {
	const char *root_key;
	const char *pass_file;
	int finish, force;
};

/* The permitted DNS subtrees of X into V (at most CA_CTX_MAX_SANS). */
static int
ca_cmd_rollover_permits(X509 *x, char v[][CA_NAME_MAX + 1], size_t *n)
{
	NAME_CONSTRAINTS *nc =
	    X509_get_ext_d2i(x, NID_name_constraints, NULL, NULL);
	int rc = 0;

	*n = 0;
	for (int i = 0;
	     nc != NULL && i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees);
	     i++) {
		GENERAL_NAME *g =
		    sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i)->base;
		const ASN1_IA5STRING *s;

		if (g->type != GEN_DNS)
			continue;
		s = g->d.dNSName;
		if (*n == CA_CTX_MAX_SANS || s->length > CA_NAME_MAX) {
			ca_util_err("too many or too long DNS constraints");
			rc = -1;
			break;
		}
		memcpy(v[*n], s->data, (size_t)s->length);
		v[(*n)++][s->length] = '\0';
	}
	NAME_CONSTRAINTS_free(nc);
	return (rc);
}

/* Write X (a certificate) or B (a BIO) as DIR/FILE, 0600. */
static int
ca_cmd_rollover_write(struct ca_ctx *c, const char *file, X509 *x, BIO *b)
{
	char path[PATH_MAX];
	BIO *m = b;
	int rc;

	if (ca_store_path(c->store, file, path, sizeof(path)) != 0)
		return (-1);
	if (x != NULL &&
	    ((m = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(m, x))) {
		ca_util_err_ssl("encode %s", file);
		BIO_free(m);
		return (-1);
	}
	rc = ca_store_write_bio(path, m, 0600);
	if (m != b)
		BIO_free(m);
	return (rc);
}

/* A new root CRL lasting as long as the new intermediate; 0 or -1. */
static int
ca_cmd_rollover_root_crl(struct ca_ctx *c, EVP_PKEY *root_key)
{
	char path[PATH_MAX];
	X509_CRL *cur = NULL, *crl = NULL;
	ASN1_INTEGER *num = NULL;
	BIO *b = NULL, *m = NULL;
	int64_t nb, na;
	int rc = -1;
	long n = 0;

	if (ca_store_path(c->store, "ca-crl.pem", path, sizeof(path)) != 0 ||
	    (b = ca_store_read_bio(path, 1)) == NULL ||
	    (cur = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) == NULL) {
		ca_util_err_ssl("read %s", path);
		goto out;
	}
	if ((num = X509_CRL_get_ext_d2i(cur, NID_crl_number, NULL, NULL)) !=
	    NULL)
		n = ASN1_INTEGER_get(num);
	if (n < 0 || ca_cert_times(c->inter, &nb, &na) != 0 ||
	    (crl = ca_crl_build(c->root, root_key, NULL, (uint64_t)n + 1,
		 c->now - CA_CERT_BACKDATE, na)) == NULL)
		goto out;
	if ((m = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_CRL(m, crl)) {
		ca_util_err_ssl("encode the root CRL");
		goto out;
	}
	rc = ca_store_write_bio(path, m, 0600);
out:
	ASN1_INTEGER_free(num);
	X509_CRL_free(cur);
	X509_CRL_free(crl);
	BIO_free(b);
	BIO_free(m);
	return (rc);
}

/* Step one: a new intermediate, the current one kept as the old one. */
static int
ca_cmd_rollover_start(struct ca_ctx *c, const struct ca_cmd_rollover_opts *o)
{
	char path[PATH_MAX], pass[CA_KEY_PASS_MAX + 2];
	char permit[CA_CTX_MAX_SANS][CA_NAME_MAX + 1];
	const char *pv[CA_CTX_MAX_SANS];
	EVP_PKEY *root_key = NULL, *key = NULL;
	X509 *inter = NULL;
	BIO *b = NULL, *oldb = NULL;
	size_t np;
	int rc = -1;

	if (c->old != NULL) {
		ca_util_err("a rollover is in progress (%s): finish it with "
			    "`rollover --finish` first",
		    CA_CTX_OLD_CRT);
		return (-1);
	}
	memset(pass, 0, sizeof(pass));
	if (o->pass_file != NULL)
		snprintf(path, sizeof(path), "%s", o->pass_file);
	else if (ca_store_path(c->store, "ca.pass", path, sizeof(path)) != 0)
		goto out;
	if (ca_key_read_pass(path, pass, sizeof(pass)) != 0)
		goto out;
	if (o->root_key != NULL)
		snprintf(path, sizeof(path), "%s", o->root_key);
	else if (ca_store_path(c->store, "ca.key", path, sizeof(path)) != 0)
		goto out;
	if ((root_key = ca_key_load(path, pass)) == NULL)
		goto out;
	if (X509_check_private_key(c->root, root_key) != 1) {
		ca_util_err_ssl("%s is not the key of ca.crt", path);
		goto out;
	}
	if (ca_cmd_rollover_permits(c->inter, permit, &np) != 0)
		goto out;
	for (size_t i = 0; i < np; i++)
		pv[i] = permit[i];
	if ((key = ca_key_generate(CA_KEY_EC_P256)) == NULL ||
	    (inter = ca_cert_intermediate(
		 c->td, pv, np, key, c->root, root_key, c->now)) == NULL ||
	    (b = ca_key_to_pem(key, NULL, 0)) == NULL ||
	    (oldb = ca_key_to_pem(c->inter_key, NULL, 0)) == NULL)
		goto out;
	/* The old pair first: until the new certificate is written, the
	 * current pair is what ca_ctx_open() loads. A crash between the new
	 * key and certificate leaves a pair that does not match (every verb
	 * says so); intermediate-old.* then still hold the previous one. */
	if (ca_cmd_rollover_write(c, CA_CTX_OLD_KEY, NULL, oldb) != 0 ||
	    ca_cmd_rollover_write(c, CA_CTX_OLD_CRT, c->inter, NULL) != 0 ||
	    ca_cmd_rollover_write(c, "intermediate.key", NULL, b) != 0 ||
	    ca_cmd_rollover_write(c, "intermediate.crt", inter, NULL) != 0)
		goto out;
	c->old = c->inter;
	c->old_key = c->inter_key;
	c->inter = inter;
	c->inter_key = key;
	inter = NULL;
	key = NULL;
	rc = ca_cmd_rollover_root_crl(c, root_key);
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	BIO_free(b);
	BIO_free(oldb);
	EVP_PKEY_free(key);
	X509_free(inter);
	EVP_PKEY_free(root_key);
	return (rc);
}

/*
 * Count the certificates in the index that the previous intermediate
 * issued and that are still valid (not expired, not revoked).
 */
static int
ca_cmd_rollover_left(struct ca_ctx *c, size_t *left)
{
	char file[64], path[PATH_MAX];

	*left = 0;
	for (size_t i = 0; i < ca_index_len(c->idx); i++) {
		const struct ca_index_entry *e = ca_index_at(c->idx, i);
		X509 *x;
		int mine;

		if (e->status == CA_INDEX_REVOKED || e->not_after <= c->now)
			continue;
		snprintf(file, sizeof(file), "certs/%s.pem", e->serial);
		if (ca_store_path(c->store, file, path, sizeof(path)) != 0 ||
		    (x = ca_ctx_load_cert(path)) == NULL)
			return (-1);
		mine = X509_check_issued(c->old, x) == X509_V_OK;
		X509_free(x);
		if (mine) {
			if (*left == 0)
				fprintf(stderr,
				    "cotai-ca: rollover: still valid under the "
				    "previous intermediate: %s (%s)\n",
				    e->name, e->serial);
			(*left)++;
		}
	}
	return (0);
}

/* Step two: the previous intermediate leaves the bundle and crl.pem. */
static int
ca_cmd_rollover_finish(struct ca_ctx *c, const struct ca_cmd_rollover_opts *o)
{
	char path[PATH_MAX];
	size_t left;

	if (c->old == NULL) {
		ca_util_err("no rollover in progress (no %s)", CA_CTX_OLD_CRT);
		return (-1);
	}
	if (ca_cmd_rollover_left(c, &left) != 0)
		return (-1);
	if (left > 0 && !o->force) {
		ca_util_err("%zu certificate(s) of the previous intermediate "
			    "are still valid: wait until they are renewed and "
			    "have expired, or use --force",
		    left);
		return (-1);
	}
	/* The certificate first: without it the key is never loaded. */
	if (ca_store_path(c->store, CA_CTX_OLD_CRT, path, sizeof(path)) != 0 ||
	    unlink(path) != 0 ||
	    ca_store_path(c->store, CA_CTX_OLD_KEY, path, sizeof(path)) != 0 ||
	    unlink(path) != 0) {
		ca_util_err("remove %s: %s", path, strerror(errno));
		return (-1);
	}
	X509_free(c->old);
	EVP_PKEY_free(c->old_key);
	c->old = NULL;
	c->old_key = NULL;
	return (0);
}

int
ca_cmd_rollover(const char *dir, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"root-key", required_argument, NULL, 'r'},
	    {"passphrase-file", required_argument, NULL, 'p'},
	    {"finish", no_argument, NULL, 'f'},
	    {"force", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ca_cmd_rollover_opts o;
	struct ca_ctx c;
	char t[CA_UTIL_TIME_LEN];
	int64_t nb, na;
	int ch, rc = CA_CMD_FAIL;

	memset(&o, 0, sizeof(o));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o.root_key = optarg;
			break;
		case 'p':
			o.pass_file = optarg;
			break;
		case 'f':
			o.finish = 1;
			break;
		case 'F':
			o.force = 1;
			break;
		case 'h':
			fputs(ca_cmd_rollover_usage, stdout);
			return (CA_CMD_OK);
		default:
			return (ca_cmd_bad_option(
			    ca_cmd_rollover_usage, argv, optind, optopt));
		}
	}
	if (optind < argc)
		return (ca_cmd_usage_error(ca_cmd_rollover_usage,
		    "unexpected argument: %s", argv[optind]));
	if (o.finish && (o.root_key != NULL || o.pass_file != NULL))
		return (ca_cmd_usage_error(
		    ca_cmd_rollover_usage, "--finish needs no root key"));
	if (o.force && !o.finish)
		return (ca_cmd_usage_error(
		    ca_cmd_rollover_usage, "--force goes with --finish"));
	if (ca_ctx_open(&c, dir, CA_CTX_LOCK | CA_CTX_KEY) != 0 ||
	    (o.finish ? ca_cmd_rollover_finish(&c, &o)
		      : ca_cmd_rollover_start(&c, &o)) != 0 ||
	    ca_ctx_publish_crl(&c, NULL, 1) != 0 ||
	    ca_cert_times(c.inter, &nb, &na) != 0)
		goto out;
	if (o.finish)
		printf("rollover finished: the previous intermediate left the "
		       "bundle and crl.pem\n");
	else
		printf("new intermediate: %s/intermediate.crt (until %s); the "
		       "previous one stays in the bundle until rollover "
		       "--finish\n",
		    dir, ca_util_fmt_time(na, t));
	rc = CA_CMD_OK;
out:
	ca_ctx_close(&c);
	return (rc);
}
