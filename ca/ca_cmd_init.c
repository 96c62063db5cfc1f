/*
 * ca_cmd_init: "cotai-ca init" creates the state directory, the root and
 * the issuing intermediate. The root key is written encrypted and is not
 * needed again by any other verb.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "ca_cert.h"
#include "ca_cmd.h"
#include "ca_crl.h"
#include "ca_ctx.h"
#include "ca_util.h"

static const char ca_cmd_init_usage[] =
    "usage: cotai-ca [--dir DIR] init --trust-domain TD "
    "[--passphrase-file FILE]\n"
    "                [--permit-dns NAME]...\n"
    "Create a CA in DIR: an ECDSA P-384 root (10 years, key encrypted with\n"
    "scrypt and AES-256) and an ECDSA P-256 issuing intermediate (1 year) "
    "whose name\n"
    "constraints permit URI spiffe://TD/... and, when --permit-dns is given,\n"
    "only DNS names equal to or under each NAME. Without\n"
    "--passphrase-file a random passphrase is written to DIR/ca.pass.\n";

struct ca_cmd_init_opts {
	const char *td;
	const char *pass_file;
	const char *permit[CA_CTX_MAX_SANS];
	size_t npermit;
};

static int
ca_cmd_init_parse(int argc, char **argv, struct ca_cmd_init_opts *o)
{
	static const struct option longopts[] = {
	    {"trust-domain", required_argument, NULL, 't'},
	    {"passphrase-file", required_argument, NULL, 'p'},
	    /* An exact match beats getopt_long's prefix matching. */
	    {"passphrase", required_argument, NULL, 'P'},
	    {"permit-dns", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			o->td = optarg;
			break;
		case 'p':
			o->pass_file = optarg;
			break;
		case 'd':
			if (o->npermit == CA_CTX_MAX_SANS)
				return (ca_cmd_usage_error(ca_cmd_init_usage,
				    "too many --permit-dns"));
			if (ca_name_dns(optarg) != 0)
				return (ca_cmd_usage_error(ca_cmd_init_usage,
				    "bad --permit-dns name: %s", optarg));
			o->permit[o->npermit++] = optarg;
			break;
		case 'P':
			return (ca_cmd_usage_error(ca_cmd_init_usage,
			    "a passphrase is never taken on the command line; "
			    "use --passphrase-file FILE"));
		case 'h':
			fputs(ca_cmd_init_usage, stdout);
			return (-1);
		default:
			return (ca_cmd_bad_option(
			    ca_cmd_init_usage, argv, optind, optopt));
		}
	}
	if (optind != argc)
		return (ca_cmd_usage_error(ca_cmd_init_usage,
		    "unexpected argument: %s", argv[optind]));
	if (o->td == NULL)
		return (ca_cmd_usage_error(
		    ca_cmd_init_usage, "--trust-domain is required"));
	if (ca_name_trust_domain(o->td) != 0)
		return (ca_cmd_usage_error(ca_cmd_init_usage,
		    "bad trust domain: %s (lower-case letters, digits, '.', "
		    "'-', '_')",
		    o->td));
	return (CA_CMD_OK);
}

/* Refuse to overwrite any part of an existing CA. */
static int
ca_cmd_init_fresh(struct ca_store *s)
{
	static const char *const files[] = {"ca.crt", "ca.key",
	    "intermediate.crt", "intermediate.key", "index"};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (ca_store_path(s, files[i], path, sizeof(path)) != 0)
			return (-1);
		if (ca_store_exists(path)) {
			ca_util_err(
			    "%s exists: a CA is already in %s; refusing "
			    "to overwrite it",
			    path, ca_store_dir(s));
			return (-1);
		}
	}
	return (0);
}

/* Write DIR/FILE from a memory BIO, or a string when B is NULL. */
static int
ca_cmd_init_write(struct ca_store *s, const char *file, BIO *b, const char *str)
{
	char path[PATH_MAX];

	if (ca_store_path(s, file, path, sizeof(path)) != 0)
		return (-1);
	if (b == NULL)
		return (ca_store_write_atomic(path, str, strlen(str), 0600));
	return (ca_store_write_bio(path, b, 0600));
}

/* Write a certificate or CRL as PEM to DIR/FILE. */
static int
ca_cmd_init_write_pem(
    struct ca_store *s, const char *file, X509 *x, X509_CRL *crl)
{
	BIO *b = NULL;
	int rc = -1;

	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    (x != NULL && !PEM_write_bio_X509(b, x)) ||
	    (crl != NULL && !PEM_write_bio_X509_CRL(b, crl))) {
		ca_util_err_ssl("encode %s", file);
		goto out;
	}
	rc = ca_cmd_init_write(s, file, b, NULL);
out:
	BIO_free(b);
	return (rc);
}

/* Get the root passphrase from FILE, or generate one into DIR/ca.pass. */
static int
ca_cmd_init_pass(struct ca_store *s, const char *file, char *pass, size_t len)
{
	char line[CA_KEY_PASS_MAX + 4];
	int rc;

	if (file != NULL)
		return (ca_key_read_pass(file, pass, len));
	if (ca_key_random_pass(pass, len) != 0)
		return (-1);
	snprintf(line, sizeof(line), "%s\n", pass);
	rc = ca_cmd_init_write(s, "ca.pass", NULL, line);
	OPENSSL_cleanse(line, sizeof(line));
	return (rc);
}

/* Make the keys and certificates and write them; C holds the results. */
static int
ca_cmd_init_build(
    struct ca_ctx *c, const struct ca_cmd_init_opts *o, const char *pass)
{
	EVP_PKEY *root_key = NULL;
	X509_CRL *root_crl = NULL;
	BIO *b = NULL;
	int64_t nb, na;
	char line[CA_NAME_TD_MAX + 2];
	int rc = -1;

	if ((root_key = ca_key_generate(CA_KEY_EC_P384)) == NULL ||
	    (c->root = ca_cert_root(o->td, root_key, c->now)) == NULL ||
	    (c->inter_key = ca_key_generate(CA_KEY_EC_P256)) == NULL ||
	    (c->inter = ca_cert_intermediate(o->td, o->permit, o->npermit,
		 c->inter_key, c->root, root_key, c->now)) == NULL ||
	    ca_cert_times(c->inter, &nb, &na) != 0)
		goto out;
	/* The root's CRL lasts as long as the intermediate it covers. */
	if ((root_crl = ca_crl_build(c->root, root_key, NULL, 1,
		 c->now - CA_CERT_BACKDATE, na)) == NULL)
		goto out;
	if ((b = ca_key_to_pem(root_key, pass, strlen(pass))) == NULL ||
	    ca_cmd_init_write(c->store, "ca.key", b, NULL) != 0)
		goto out;
	BIO_free(b);
	snprintf(line, sizeof(line), "%s\n", o->td);
	if ((b = ca_key_to_pem(c->inter_key, NULL, 0)) == NULL ||
	    ca_cmd_init_write(c->store, "intermediate.key", b, NULL) != 0 ||
	    ca_cmd_init_write(c->store, "trust-domain", NULL, line) != 0 ||
	    ca_cmd_init_write_pem(c->store, "ca-crl.pem", NULL, root_crl) !=
		0 ||
	    ca_cmd_init_write_pem(
		c->store, "intermediate.crt", c->inter, NULL) != 0 ||
	    ca_ctx_save_index(c) != 0 || ca_ctx_publish_crl(c, NULL, 0) != 0 ||
	    ca_cmd_init_write_pem(c->store, "ca.crt", c->root, NULL) != 0)
		goto out;
	rc = 0;
out:
	BIO_free(b);
	X509_CRL_free(root_crl);
	EVP_PKEY_free(root_key);
	return (rc);
}

int
ca_cmd_init(const char *dir, int argc, char **argv)
{
	struct ca_cmd_init_opts o;
	struct ca_ctx c;
	char pass[CA_KEY_PASS_MAX + 2], t[CA_UTIL_TIME_LEN];
	int64_t nb, na;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	memset(pass, 0, sizeof(pass));
	if ((rc = ca_cmd_init_parse(argc, argv, &o)) != CA_CMD_OK)
		return (rc == -1 ? CA_CMD_OK : rc);
	rc = CA_CMD_FAIL;
	c.now = ca_util_now();
	snprintf(c.td, sizeof(c.td), "%s", o.td);
	if ((c.store = ca_store_open(dir, CA_STORE_CREATE | CA_STORE_LOCK)) ==
		NULL ||
	    ca_cmd_init_fresh(c.store) != 0 ||
	    (c.idx = ca_index_new()) == NULL ||
	    ca_cmd_init_pass(c.store, o.pass_file, pass, sizeof(pass)) != 0 ||
	    ca_cmd_init_build(&c, &o, pass) != 0 ||
	    ca_cert_times(c.inter, &nb, &na) != 0)
		goto out;
	printf("initialized CA for trust domain %s in %s\n", o.td, dir);
	printf("root:         %s/ca.crt (the trust bundle)\n", dir);
	printf("root key:     %s/ca.key (PKCS#8, scrypt + AES-256; only init "
	       "needs it)\n",
	    dir);
	if (o.pass_file == NULL)
		printf(
		    "passphrase:   %s/ca.pass (generated; move it and ca.key "
		    "offline)\n",
		    dir);
	printf("intermediate: %s/intermediate.crt (until %s)\n", dir,
	    ca_util_fmt_time(na, t));
	if (o.npermit == 0)
		printf(
		    "name constraints: URI spiffe://%s/*, DNS unconstrained\n",
		    o.td);
	for (size_t i = 0; i < o.npermit; i++)
		printf("permitted DNS subtree: %s\n", o.permit[i]);
	rc = CA_CMD_OK;
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	ca_ctx_close(&c);
	return (rc);
}
