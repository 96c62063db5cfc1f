/*
 * ca_ctx: see ca_ctx.h.
 */
#include "ca_ctx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca_cert.h"
#include "ca_crl.h"
#include "ca_util.h"

X509 *
ca_ctx_load_cert(const char *path)
{
	X509 *x = NULL;
	BIO *b = NULL;

	if ((b = ca_store_read_bio(path, 0)) == NULL)
		return (NULL);
	if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		ca_util_err_ssl("read certificate %s", path);
	BIO_free(b);
	return (x);
}

/* Read the one-line file DIR/FILE into BUF (LEN); 0 or -1. */
static int
ca_ctx_read_line(struct ca_ctx *c, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	BIO *b = NULL;
	int n;

	if (ca_store_path(c->store, file, path, sizeof(path)) != 0 ||
	    (b = ca_store_read_bio(path, 1)) == NULL)
		return (-1);
	n = BIO_gets(b, buf, (int)len);
	BIO_free(b);
	if (n <= 0) {
		ca_util_err("%s is empty", path);
		return (-1);
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return (0);
}

static int
ca_ctx_load_index(struct ca_ctx *c)
{
	char path[PATH_MAX], *data = NULL;
	BIO *b = NULL;
	long len;

	if (ca_store_path(c->store, "index", path, sizeof(path)) != 0 ||
	    (b = ca_store_read_bio(path, 1)) == NULL)
		return (-1);
	len = BIO_get_mem_data(b, &data);
	c->idx = ca_index_parse(data, len > 0 ? (size_t)len : 0);
	BIO_free(b);
	return (c->idx != NULL ? 0 : -1);
}

int
ca_ctx_reload_index(struct ca_ctx *c)
{
	ca_index_free(c->idx);
	c->idx = NULL;
	return (ca_ctx_load_index(c));
}

/* The previous intermediate (and with CA_CTX_KEY its key), if any. */
static int
ca_ctx_open_old(struct ca_ctx *c, int flags)
{
	char path[PATH_MAX];

	if (ca_store_path(c->store, CA_CTX_OLD_CRT, path, sizeof(path)) != 0)
		return (-1);
	if (!ca_store_exists(path))
		return (0);
	if ((c->old = ca_ctx_load_cert(path)) == NULL ||
	    ca_store_path(c->store, CA_CTX_OLD_KEY, path, sizeof(path)) != 0)
		return (-1);
	if (!(flags & CA_CTX_KEY))
		return (0);
	if ((c->old_key = ca_key_load(path, NULL)) == NULL)
		return (-1);
	if (X509_check_private_key(c->old, c->old_key) != 1) {
		ca_util_err_ssl("%s does not match %s", path, CA_CTX_OLD_CRT);
		return (-1);
	}
	return (0);
}

int
ca_ctx_open(struct ca_ctx *c, const char *dir, int flags)
{
	char path[PATH_MAX];

	memset(c, 0, sizeof(*c));
	c->now = ca_util_now();
	if ((c->store = ca_store_open(
		 dir, (flags & CA_CTX_LOCK) ? CA_STORE_LOCK : 0)) == NULL)
		return (-1);
	if (ca_store_path(c->store, "intermediate.crt", path, sizeof(path)))
		return (-1);
	if (!ca_store_exists(path)) {
		ca_util_err("no CA in %s; run cotai-ca init first", dir);
		return (-1);
	}
	if ((c->inter = ca_ctx_load_cert(path)) == NULL)
		return (-1);
	if (ca_store_path(c->store, "ca.crt", path, sizeof(path)) != 0 ||
	    (c->root = ca_ctx_load_cert(path)) == NULL)
		return (-1);
	if (ca_ctx_read_line(c, "trust-domain", c->td, sizeof(c->td)) != 0)
		return (-1);
	if (ca_name_trust_domain(c->td) != 0) {
		ca_util_err("bad trust domain in %s/trust-domain", dir);
		return (-1);
	}
	if (ca_ctx_load_index(c) != 0 || ca_ctx_open_old(c, flags) != 0)
		return (-1);
	if (!(flags & CA_CTX_KEY))
		return (0);
	if (ca_store_path(c->store, "intermediate.key", path, sizeof(path)) !=
		0 ||
	    (c->inter_key = ca_key_load(path, NULL)) == NULL)
		return (-1);
	if (X509_check_private_key(c->inter, c->inter_key) != 1) {
		ca_util_err_ssl("%s does not match intermediate.crt", path);
		return (-1);
	}
	return (0);
}

void
ca_ctx_close(struct ca_ctx *c)
{
	ca_index_free(c->idx);
	EVP_PKEY_free(c->inter_key);
	X509_free(c->inter);
	EVP_PKEY_free(c->old_key);
	X509_free(c->old);
	X509_free(c->root);
	ca_store_free(c->store);
	memset(c, 0, sizeof(*c));
}

int
ca_ctx_save_index(struct ca_ctx *c)
{
	char path[PATH_MAX];
	BIO *b = NULL;
	int rc = -1;

	if (ca_store_path(c->store, "index", path, sizeof(path)) != 0)
		return (-1);
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    ca_index_format(c->idx, b) != 0) {
		ca_util_err_ssl("format index");
		goto out;
	}
	rc = ca_store_write_bio(path, b, 0600);
out:
	BIO_free(b);
	return (rc);
}

int
ca_ctx_out_dir(
    struct ca_ctx *c, const char *arg, const char *name, char *buf, size_t len)
{
	char want[PATH_MAX], real[PATH_MAX], state[PATH_MAX];
	int n;

	if (arg != NULL)
		n = snprintf(want, sizeof(want), "%s", arg);
	else
		n = snprintf(want, sizeof(want), "%s/issued/%s",
		    ca_store_dir(c->store), name);
	if (n <= 0 || (size_t)n >= sizeof(want)) {
		ca_util_err("output directory path too long");
		return (-1);
	}
	if (strchr(want, '\n') != NULL) {
		ca_util_err("output directory name contains a newline");
		return (-1);
	}
	if (ca_store_mkdirs(want) != 0)
		return (-1);
	if (realpath(want, real) == NULL) {
		ca_util_err("%s: %s", want, strerror(errno));
		return (-1);
	}
	if (strlen(real) >= len || strchr(real, '\n') != NULL) {
		ca_util_err("bad output directory %s", real);
		return (-1);
	}
	/* NAME.key in the state directory could replace a CA file. */
	if (realpath(ca_store_dir(c->store), state) != NULL &&
	    strcmp(state, real) == 0) {
		ca_util_err(
		    "the output directory must not be the state directory");
		return (-1);
	}
	memcpy(buf, real, strlen(real) + 1);
	return (0);
}

int
ca_ctx_due(const struct ca_index_entry *e, int64_t now)
{
	int64_t life = e->not_after - e->not_before;

	return ((e->not_after - now) * 3 <= life);
}

/* Write a PEM file in DIR: one or two certificates, or a key. */
static int
ca_ctx_write_pem(const char *dir, const char *file, X509 *x1, X509 *x2,
    EVP_PKEY *key, mode_t mode)
{
	char path[PATH_MAX];
	BIO *b = NULL;
	int rc = -1, n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		ca_util_err("path too long: %s/%s", dir, file);
		return (-1);
	}
	if (key != NULL)
		b = ca_key_to_pem(key, NULL, 0);
	else if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(b, x1) ||
	    (x2 != NULL && !PEM_write_bio_X509(b, x2))) {
		ca_util_err_ssl("encode %s", path);
		goto out;
	}
	if (b == NULL)
		goto out;
	rc = ca_store_write_bio(path, b, mode);
out:
	BIO_free(b);
	return (rc);
}

/*
 * NAME.pem: leaf, intermediate, then the key, in one 0600 file (MongoDB's
 * net.tls.certificateKeyFile, HAProxy's crt).
 */
static int
ca_ctx_write_combined(
    struct ca_ctx *c, const struct ca_ctx_req *req, X509 *leaf, EVP_PKEY *key)
{
	char path[PATH_MAX];
	BIO *b = NULL, *k = NULL;
	BUF_MEM *kb;
	int rc = -1, n;

	n = snprintf(path, sizeof(path), "%s/%s.pem", req->out_dir, req->name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		ca_util_err(
		    "path too long: %s/%s.pem", req->out_dir, req->name);
		return (-1);
	}
	if ((k = ca_key_to_pem(key, NULL, 0)) == NULL)
		goto out;
	BIO_get_mem_ptr(k, &kb);
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(b, leaf) || !PEM_write_bio_X509(b, c->inter) ||
	    BIO_write(b, kb->data, (int)kb->length) != (int)kb->length) {
		ca_util_err_ssl("encode %s", path);
		goto out;
	}
	rc = ca_store_write_bio(path, b, 0600);
out:
	BIO_free(k);
	BIO_free(b);
	return (rc);
}

/* Write the issued files for LEAF/KEY named NAME. */
static int
ca_ctx_write_issued(struct ca_ctx *c, const struct ca_ctx_req *req, X509 *leaf,
    EVP_PKEY *key, const char *serial)
{
	char file[CA_NAME_MAX + 16], certs[PATH_MAX];

	if (ca_store_path(c->store, "certs", certs, sizeof(certs)) != 0 ||
	    ca_store_mkdirs(certs) != 0)
		return (-1);
	snprintf(file, sizeof(file), "%s.pem", serial);
	if (ca_ctx_write_pem(certs, file, leaf, NULL, NULL, 0600) != 0)
		return (-1);
	/* The key first: a watcher then sees a cert whose key is there. */
	snprintf(file, sizeof(file), "%s.key", req->name);
	if (ca_ctx_write_pem(req->out_dir, file, NULL, NULL, key, 0600) != 0)
		return (-1);
	snprintf(file, sizeof(file), "%s.crt", req->name);
	if (ca_ctx_write_pem(req->out_dir, file, leaf, c->inter, NULL, 0644) !=
	    0)
		return (-1);
	if (req->combined && ca_ctx_write_combined(c, req, leaf, key) != 0)
		return (-1);
	return (ca_ctx_write_pem(
	    req->out_dir, "ca.crt", c->root, NULL, NULL, 0644));
}

/*
 * Sign a leaf for REQ over KEY (a key pair, or a CSR's public key) and fill
 * E as its index entry (KEY_TYPE's name); the serial must be new. The
 * caller writes the files and adds E. NULL (said) on failure.
 */
static X509 *
ca_ctx_sign(struct ca_ctx *c, const struct ca_ctx_req *req, EVP_PKEY *key,
    const char *key_type, struct ca_index_entry *e)
{
	struct ca_cert_leaf_req lr;
	X509 *leaf;

	memset(e, 0, sizeof(*e));
	/* Also for renew of a name issued before names were reserved. */
	if (ca_name_reserved(req->name) != NULL) {
		ca_util_err("name \"%s\" is reserved: %s/%s is the output "
			    "directory's own file",
		    req->name, req->out_dir, ca_name_reserved(req->name));
		return (NULL);
	}
	memset(&lr, 0, sizeof(lr));
	lr.name = req->name;
	lr.trust_domain = c->td;
	lr.sans = req->sans;
	lr.now = c->now;
	lr.ttl = req->ttl;
	lr.key = key;
	if ((leaf = ca_cert_leaf(&lr, c->inter, c->inter_key)) == NULL)
		return (NULL);
	e->status = CA_INDEX_VALID;
	e->revoked_at = -1;
	e->reason = -1;
	snprintf(e->key_type, sizeof(e->key_type), "%s", key_type);
	snprintf(e->name, sizeof(e->name), "%s", req->name);
	snprintf(e->out_dir, sizeof(e->out_dir), "%s", req->out_dir);
	if (ca_cert_serial_hex(leaf, e->serial, sizeof(e->serial)) != 0 ||
	    ca_cert_times(leaf, &e->not_before, &e->not_after) != 0)
		goto fail;
	if (ca_index_find_serial(c->idx, e->serial) != NULL) {
		ca_util_err("serial %s already used; try again", e->serial);
		goto fail;
	}
	return (leaf);
fail:
	X509_free(leaf);
	return (NULL);
}

int
ca_ctx_issue(
    struct ca_ctx *c, const struct ca_ctx_req *req, struct ca_index_entry *e)
{
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	int rc = -1;

	if ((key = ca_key_generate(req->key_type)) == NULL ||
	    (leaf = ca_ctx_sign(
		 c, req, key, ca_key_type_name(req->key_type), e)) == NULL)
		goto out;
	if (ca_ctx_write_issued(c, req, leaf, key, e->serial) != 0 ||
	    ca_index_add(c->idx, e) != 0)
		goto out;
	rc = 0;
out:
	X509_free(leaf);
	EVP_PKEY_free(key);
	return (rc);
}

int
ca_ctx_issue_pub(struct ca_ctx *c, const struct ca_ctx_req *req, EVP_PKEY *pub,
    const char *key_type, X509 **leafp, struct ca_index_entry *e)
{
	char certs[PATH_MAX], file[CA_CERT_SERIAL_HEX + 8];
	X509 *leaf;

	if ((leaf = ca_ctx_sign(c, req, pub, key_type, e)) == NULL)
		return (-1);
	snprintf(file, sizeof(file), "%s.pem", e->serial);
	if (ca_store_path(c->store, "certs", certs, sizeof(certs)) != 0 ||
	    ca_store_mkdirs(certs) != 0 ||
	    ca_ctx_write_pem(certs, file, leaf, NULL, NULL, 0600) != 0 ||
	    ca_index_add(c->idx, e) != 0) {
		X509_free(leaf);
		return (-1);
	}
	*leafp = leaf;
	return (0);
}

int
ca_ctx_names_of(X509 *x, const char *name, struct ca_ctx_names *n)
{
	GENERAL_NAMES *gens = NULL;
	int rc = -1;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s;

		if (g->type == GEN_DNS && n->ndns < CA_CTX_MAX_SANS) {
			s = g->d.dNSName;
			if (s->length > CA_NAME_MAX)
				goto out;
			memcpy(n->dbuf[n->ndns], s->data, (size_t)s->length);
			n->dbuf[n->ndns][s->length] = '\0';
			if (strcmp(n->dbuf[n->ndns], name) != 0) {
				n->dns[n->ndns] = n->dbuf[n->ndns];
				n->ndns++;
			}
		} else if (g->type == GEN_IPADD && n->nips < CA_CTX_MAX_SANS) {
			s = g->d.iPAddress;
			if ((s->length != 4 && s->length != 16) ||
			    inet_ntop(s->length == 4 ? AF_INET : AF_INET6,
				s->data, n->ibuf[n->nips],
				sizeof(n->ibuf[0])) == NULL)
				goto out;
			n->ips[n->nips] = n->ibuf[n->nips];
			n->nips++;
		}
	}
	rc = 0;
out:
	if (rc != 0)
		ca_util_err("certificate of %s has unusable names", name);
	GENERAL_NAMES_free(gens);
	return (rc);
}

/* Read DIR/crlnumber (missing: 0) and return the next number in *NUM. */
static int
ca_ctx_crl_number(struct ca_ctx *c, uint64_t *num, char *path, size_t len)
{
	char buf[32], *end = NULL;
	unsigned long long v = 0;

	if (ca_store_path(c->store, "crlnumber", path, len) != 0)
		return (-1);
	if (ca_store_exists(path)) {
		if (ca_ctx_read_line(c, "crlnumber", buf, sizeof(buf)) != 0)
			return (-1);
		errno = 0;
		v = strtoull(buf, &end, 10);
		if (errno != 0 || end == buf || *end != '\0') {
			ca_util_err("%s is corrupt", path);
			return (-1);
		}
	}
	*num = v + 1;
	return (0);
}

/*
 * Build the crl.pem contents: the new intermediate CRL, during a rollover
 * the previous intermediate's (the same revoked serials, signed by its
 * key), then the root's CRL.
 */
static BIO *
ca_ctx_crl_pem(struct ca_ctx *c, uint64_t num)
{
	char path[PATH_MAX], *data = NULL;
	X509_CRL *crl = NULL, *old = NULL;
	BIO *b = NULL, *root = NULL;
	long len;

	if ((crl = ca_crl_build(c->inter, c->inter_key, c->idx, num,
		 c->now - CA_CERT_BACKDATE, c->now + CA_CRL_VALIDITY)) == NULL)
		goto err;
	if (c->old != NULL && c->old_key == NULL) {
		ca_util_err("the previous intermediate's key is not loaded");
		goto err;
	}
	if (c->old != NULL &&
	    (old = ca_crl_build(c->old, c->old_key, c->idx, num,
		 c->now - CA_CERT_BACKDATE, c->now + CA_CRL_VALIDITY)) == NULL)
		goto err;
	if (ca_store_path(c->store, "ca-crl.pem", path, sizeof(path)) != 0 ||
	    (root = ca_store_read_bio(path, 1)) == NULL)
		goto err;
	len = BIO_get_mem_data(root, &data);
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_CRL(b, crl) ||
	    (old != NULL && !PEM_write_bio_X509_CRL(b, old)) ||
	    (len > 0 && BIO_write(b, data, (int)len) != (int)len)) {
		ca_util_err_ssl("encode CRL");
		goto err;
	}
	X509_CRL_free(crl);
	X509_CRL_free(old);
	BIO_free(root);
	return (b);
err:
	X509_CRL_free(crl);
	X509_CRL_free(old);
	BIO_free(root);
	BIO_free(b);
	return (NULL);
}

/* Write B as DIR/crl.pem; a missing DIR is skipped when OPTIONAL. */
static int
ca_ctx_copy_crl(const char *dir, BIO *b, int optional)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	if (optional && (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)))
		return (0);
	n = snprintf(path, sizeof(path), "%s/crl.pem", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		ca_util_err("path too long: %s/crl.pem", dir);
		return (-1);
	}
	return (ca_store_write_bio(path, b, 0644));
}

/* True when an entry before I (or OUT_DIR) already names DIR. */
static int
ca_ctx_dir_seen(
    struct ca_ctx *c, size_t i, const char *dir, const char *out_dir)
{
	if (out_dir != NULL && strcmp(out_dir, dir) == 0)
		return (1);
	for (size_t j = 0; j < i; j++)
		if (strcmp(ca_index_at(c->idx, j)->out_dir, dir) == 0)
			return (1);
	return (0);
}

int
ca_ctx_publish_crl(struct ca_ctx *c, const char *out_dir, int all)
{
	char path[PATH_MAX], numpath[PATH_MAX], numbuf[32];
	uint64_t num;
	BIO *b = NULL;
	int rc = -1;

	if (ca_ctx_crl_number(c, &num, numpath, sizeof(numpath)) != 0 ||
	    (b = ca_ctx_crl_pem(c, num)) == NULL)
		goto out;
	snprintf(numbuf, sizeof(numbuf), "%llu\n", (unsigned long long)num);
	if (ca_store_write_atomic(numpath, numbuf, strlen(numbuf), 0600) != 0 ||
	    ca_store_path(c->store, "crl.pem", path, sizeof(path)) != 0 ||
	    ca_store_write_bio(path, b, 0600) != 0)
		goto out;
	if (out_dir != NULL && ca_ctx_copy_crl(out_dir, b, 0) != 0)
		goto out;
	for (size_t i = 0; all && i < ca_index_len(c->idx); i++) {
		const char *dir = ca_index_at(c->idx, i)->out_dir;

		if (!ca_ctx_dir_seen(c, i, dir, out_dir) &&
		    ca_ctx_copy_crl(dir, b, 1) != 0)
			goto out;
	}
	rc = 0;
out:
	BIO_free(b);
	return (rc);
}

struct ca_sans
ca_ctx_names_sans(const struct ca_ctx_names *n)
{
	struct ca_sans s = {n->dns, n->ndns, n->ips, n->nips};

	return (s);
}
