/*
 * ca_cmd_verify: "cotai-ca verify CERT [--name NAME]": the chain to this
 * CA's root (at the CA's "now"), revocation against both CRLs in
 * DIR/crl.pem, and the leaf profile cotai-ca issues.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca_cert.h"
#include "ca_cmd.h"
#include "ca_ctx.h"
#include "ca_util.h"
#include "spiffe.h"

static const char ca_cmd_verify_usage[] =
    "usage: cotai-ca [--dir DIR] verify CERT [--name NAME] [--json]\n"
    "Check CERT (a PEM leaf, optionally followed by its chain): chain to\n"
    "this CA's root, not revoked (CRL of the intermediate and the root),\n"
    "the cotai leaf profile, and with --name that it names workload NAME.\n"
    "Prints \"ok\" or \"bad\" with the reasons; exit 0 when ok, 1 when not.\n";

/* Findings of the checks, "; "-separated. */
struct ca_cmd_why {
	char buf[1024];
	size_t len;
};

static void
ca_cmd_why_add(struct ca_cmd_why *w, const char *msg)
{
	int n = snprintf(w->buf + w->len, sizeof(w->buf) - w->len, "%s%s",
	    w->len > 0 ? "; " : "", msg);

	if (n > 0 && (size_t)n < sizeof(w->buf) - w->len)
		w->len += (size_t)n;
}

/* Is extension NID present and critical in X? */
static int
ca_cmd_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	return (i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i)));
}

/* Check the SANs: exactly one URI, the SPIFFE ID of CN, CN a DNS SAN. */
static void
ca_cmd_verify_sans(X509 *x, const char *td, const char *cn, char *id,
    size_t idlen, struct ca_cmd_why *w)
{
	GENERAL_NAMES *gens =
	    X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char want[CA_NAME_SPIFFE_MAX];
	int uris = 0, dns_cn = 0;

	snprintf(want, sizeof(want), "spiffe://%s/%s", td, cn);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s = g->d.ia5;

		if (g->type != GEN_URI && g->type != GEN_DNS)
			continue;
		if (g->type == GEN_DNS) {
			dns_cn |= (size_t)s->length == strlen(cn) &&
			    memcmp(s->data, cn, strlen(cn)) == 0;
			continue;
		}
		if (uris++ == 0)
			snprintf(id, idlen, "%.*s", s->length,
			    (const char *)s->data);
	}
	GENERAL_NAMES_free(gens);
	if (uris != 1)
		ca_cmd_why_add(w, "not exactly one URI SAN");
	else if (!spiffe_valid(id))
		ca_cmd_why_add(w, "URI SAN is not a valid SPIFFE ID");
	else if (strcmp(id, want) != 0)
		ca_cmd_why_add(w, "URI SAN is not the SPIFFE ID of its CN");
	if (!dns_cn)
		ca_cmd_why_add(w, "CN is not among the DNS SANs");
}

/* The cotai leaf profile; CN goes into CN (CNLEN), the URI into ID. */
static void
ca_cmd_verify_profile(X509 *x, const char *td, const char *name, char *cn,
    size_t cnlen, char *id, size_t idlen, struct ca_cmd_why *w)
{
	uint32_t ku, xku;

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
		cn, (int)cnlen) <= 0) {
		ca_cmd_why_add(w, "no CN");
		cn[0] = '\0';
	} else {
		ca_cmd_verify_sans(x, td, cn, id, idlen, w);
	}
	if (name != NULL && strcmp(cn, name) != 0)
		ca_cmd_why_add(w, "not issued to the expected name");
	ku = X509_get_key_usage(x);
	xku = X509_get_extended_key_usage(x);
	if (X509_check_ca(x) != 0 || !ca_cmd_critical(x, NID_basic_constraints))
		ca_cmd_why_add(w, "not a leaf with critical CA:FALSE");
	if (!ca_cmd_critical(x, NID_key_usage) ||
	    !(ku & KU_DIGITAL_SIGNATURE) ||
	    (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)))
		ca_cmd_why_add(w, "keyUsage is not critical digitalSignature");
	if ((xku & (XKU_SSL_SERVER | XKU_SSL_CLIENT)) !=
	    (XKU_SSL_SERVER | XKU_SSL_CLIENT))
		ca_cmd_why_add(w,
		    "extendedKeyUsage lacks serverAuth or "
		    "clientAuth");
	if (X509_get0_subject_key_id(x) == NULL ||
	    X509_get0_authority_key_id(x) == NULL)
		ca_cmd_why_add(w, "missing SKI or AKI");
}

/* Add every CRL in DIR/crl.pem to ST. */
static int
ca_cmd_verify_crls(struct ca_ctx *c, X509_STORE *st)
{
	char path[PATH_MAX];
	X509_CRL *crl = NULL;
	BIO *b = NULL;
	int n = 0;

	if (ca_store_path(c->store, "crl.pem", path, sizeof(path)) != 0 ||
	    (b = ca_store_read_bio(path, 1)) == NULL)
		return (-1);
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		if (!X509_STORE_add_crl(st, crl))
			n = -1000;
		X509_CRL_free(crl);
		n++;
	}
	ERR_clear_error();
	BIO_free(b);
	if (n <= 0)
		ca_util_err("no usable CRL in %s", path);
	return (n > 0 ? 0 : -1);
}

/*
 * Verification callback: record every problem (deduplicated) instead of
 * stopping at the first, so an expired leaf with a stale CRL says both.
 */
static int
ca_cmd_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	struct ca_cmd_why *w = X509_STORE_CTX_get_app_data(ctx);
	char msg[256];

	if (ok || w == NULL)
		return (ok);
	snprintf(msg, sizeof(msg), "chain: %s",
	    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	if (strstr(w->buf, msg) == NULL)
		ca_cmd_why_add(w, msg);
	return (1);
}

/* Verify the chain of LEAF (+ EXTRA) at C's "now"; add failures to W. */
static int
ca_cmd_verify_chain(
    struct ca_ctx *c, X509 *leaf, STACK_OF(X509) * extra, struct ca_cmd_why *w)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = NULL;
	char msg[256];
	int rc = -1;

	if ((st = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(st, c->root) ||
	    !sk_X509_push(extra, c->inter) || !X509_up_ref(c->inter)) {
		ca_util_err_ssl("certificate store");
		goto out;
	}
	/* During a rollover, certificates of the previous intermediate. */
	if (c->old != NULL &&
	    (!sk_X509_push(extra, c->old) || !X509_up_ref(c->old))) {
		ca_util_err_ssl("certificate store");
		goto out;
	}
	if (ca_cmd_verify_crls(c, st) != 0)
		goto out;
	X509_STORE_set_flags(st,
	    X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
		X509_V_FLAG_X509_STRICT);
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, st, leaf, extra)) {
		ca_util_err_ssl("certificate store");
		goto out;
	}
	X509_STORE_CTX_set_time(ctx, 0, (time_t)c->now);
	X509_STORE_CTX_set_app_data(ctx, w);
	X509_STORE_CTX_set_verify_cb(ctx, ca_cmd_verify_cb);
	if (X509_verify_cert(ctx) != 1 && w->len == 0) {
		snprintf(msg, sizeof(msg), "chain: %s",
		    X509_verify_cert_error_string(
			X509_STORE_CTX_get_error(ctx)));
		ca_cmd_why_add(w, msg);
	}
	ERR_clear_error();
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return (rc);
}

/* Read every certificate of PATH: the first into *LEAF, the rest EXTRA. */
static int
ca_cmd_verify_load(const char *path, X509 **leaf, STACK_OF(X509) * extra)
{
	X509 *x = NULL;
	BIO *b = NULL;

	if ((b = ca_store_read_bio(path, 0)) == NULL)
		return (-1);
	if ((*leaf = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		ca_util_err_ssl("no certificate in %s", path);
		BIO_free(b);
		return (-1);
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(extra, x))
			X509_free(x);
	ERR_clear_error();
	BIO_free(b);
	return (0);
}

/* Print the verdict. */
static void
ca_cmd_verify_print(const char *path, X509 *x, const char *cn, const char *id,
    const struct ca_cmd_why *w, int json)
{
	char serial[CA_CERT_SERIAL_HEX] = "", t[CA_UTIL_TIME_LEN];
	int64_t nb = 0, na = 0;

	(void)ca_cert_serial_hex(x, serial, sizeof(serial));
	(void)ca_cert_times(x, &nb, &na);
	ca_util_fmt_time(na, t);
	if (!json && w->len == 0)
		printf("ok %s: %s (%s) serial %s until %s\n", path, cn, id,
		    serial, t);
	else if (!json)
		printf("bad %s: %s\n", path, w->buf);
	if (!json)
		return;
	printf("{\"ok\": %s, \"name\": ", w->len == 0 ? "true" : "false");
	ca_cmd_json_str(cn);
	printf(", \"spiffe_id\": ");
	ca_cmd_json_str(id);
	printf(", \"serial\": \"%s\", \"not_after\": \"%s\", \"problems\": ",
	    serial, t);
	ca_cmd_json_str(w->buf);
	printf("}\n");
}

int
ca_cmd_verify(const char *dir, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct ca_cmd_why w;
	STACK_OF(X509) *extra = NULL;
	const char *name = NULL, *path;
	X509 *leaf = NULL;
	struct ca_ctx c;
	char cn[CA_NAME_MAX + 1] = "", id[CA_NAME_SPIFFE_MAX] = "";
	int ch, json = 0, rc = CA_CMD_FAIL;

	memset(&c, 0, sizeof(c));
	memset(&w, 0, sizeof(w));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(ca_cmd_verify_usage, stdout);
			return (CA_CMD_OK);
		default:
			return (ca_cmd_bad_option(
			    ca_cmd_verify_usage, argv, optind, optopt));
		}
	}
	if (optind + 1 != argc)
		return (ca_cmd_usage_error(
		    ca_cmd_verify_usage, "give exactly one CERT"));
	path = argv[optind];
	if ((extra = sk_X509_new_null()) == NULL ||
	    ca_ctx_open(&c, dir, 0) != 0 ||
	    ca_cmd_verify_load(path, &leaf, extra) != 0 ||
	    ca_cmd_verify_chain(&c, leaf, extra, &w) != 0)
		goto out;
	ca_cmd_verify_profile(
	    leaf, c.td, name, cn, sizeof(cn), id, sizeof(id), &w);
	ca_cmd_verify_print(path, leaf, cn, id, &w, json);
	rc = w.len == 0 ? CA_CMD_OK : CA_CMD_FAIL;
out:
	sk_X509_pop_free(extra, X509_free);
	X509_free(leaf);
	ca_ctx_close(&c);
	return (rc);
}
