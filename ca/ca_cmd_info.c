/*
 * ca_cmd_info: the read-only verbs "cotai-ca list" and "cotai-ca check".
 * Neither takes the lock: every file they read is replaced atomically.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "ca_cert.h"
#include "ca_cmd.h"
#include "ca_ctx.h"
#include "ca_util.h"

static const char ca_cmd_list_usage[] =
    "usage: cotai-ca [--dir DIR] list [--json]\n"
    "Every certificate issued: name, serial, notAfter and status (valid,\n"
    "due, expired, revoked, or superseded by a renewal).\n";

static const char ca_cmd_check_usage[] =
    "usage: cotai-ca [--dir DIR] check [--json]\n"
    "Exit 0 when every current certificate is valid and the CRL fresh, 3\n"
    "when something is due for renewal, 4 when something expired or the\n"
    "CRL is stale.\n";

/* Parse "[--json]" (the only option of list and check); -1 after help. */
static int
ca_cmd_info_parse(int argc, char **argv, const char *usage, int *json)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'j') {
			*json = 1;
		} else if (ch == 'h') {
			fputs(usage, stdout);
			return (-1);
		} else {
			return (ca_cmd_bad_option(usage, argv, optind, optopt));
		}
	}
	if (optind < argc)
		return (ca_cmd_usage_error(
		    usage, "unexpected argument: %s", argv[optind]));
	return (CA_CMD_OK);
}

/* The status of E at NOW. */
static const char *
ca_cmd_status(const struct ca_index_entry *e, int64_t now)
{
	if (e->status == CA_INDEX_REVOKED)
		return ("revoked");
	if (e->not_after <= now)
		return ("expired");
	if (e->status == CA_INDEX_SUPERSEDED)
		return ("superseded");
	return (ca_ctx_due(e, now) ? "due" : "valid");
}

int
ca_cmd_list(const char *dir, int argc, char **argv)
{
	struct ca_ctx c;
	char nb[CA_UTIL_TIME_LEN], na[CA_UTIL_TIME_LEN];
	int json = 0, rc;

	memset(&c, 0, sizeof(c));
	if ((rc = ca_cmd_info_parse(argc, argv, ca_cmd_list_usage, &json)) !=
	    CA_CMD_OK)
		return (rc == -1 ? CA_CMD_OK : rc);
	rc = CA_CMD_FAIL;
	if (ca_ctx_open(&c, dir, 0) != 0)
		goto out;
	if (json)
		printf("[");
	else
		printf("%-24s %-34s %-20s %s\n", "NAME", "SERIAL", "NOT_AFTER",
		    "STATUS");
	for (size_t i = 0; i < ca_index_len(c.idx); i++) {
		const struct ca_index_entry *e = ca_index_at(c.idx, i);
		const char *st = ca_cmd_status(e, c.now);

		ca_util_fmt_time(e->not_before, nb);
		ca_util_fmt_time(e->not_after, na);
		if (!json) {
			printf("%-24s %-34s %-20s %s\n", e->name, e->serial, na,
			    st);
			continue;
		}
		printf("%s\n  {\"name\": \"%s\", \"serial\": \"%s\", "
		       "\"not_before\": \"%s\", \"not_after\": \"%s\", "
		       "\"status\": \"%s\", \"key_type\": \"%s\", \"out\": ",
		    i > 0 ? "," : "", e->name, e->serial, nb, na, st,
		    e->key_type);
		ca_cmd_json_str(e->out_dir);
		printf("}");
	}
	if (json)
		printf("%s]\n", ca_index_len(c.idx) > 0 ? "\n" : "");
	rc = CA_CMD_OK;
out:
	ca_ctx_close(&c);
	return (rc);
}

/* One finding of check, printed as text or a JSON array element. */
static void
ca_cmd_check_report(
    int json, int *n, const char *what, const char *name, const char *detail)
{
	if (json) {
		printf("%s\n    {\"problem\": \"%s\", \"name\": ",
		    *n > 0 ? "," : "", what);
		ca_cmd_json_str(name);
		printf(", \"detail\": ");
		ca_cmd_json_str(detail);
		printf("}");
	} else {
		printf("%s %s: %s\n", what, name, detail);
	}
	(*n)++;
}

/* nextUpdate of the first CRL in DIR/crl.pem; 0 or -1. */
static int
ca_cmd_check_crl(struct ca_ctx *c, int64_t *next)
{
	char path[PATH_MAX];
	X509_CRL *crl = NULL;
	BIO *b = NULL;
	int rc = -1;

	if (ca_store_path(c->store, "crl.pem", path, sizeof(path)) != 0 ||
	    (b = ca_store_read_bio(path, 1)) == NULL)
		return (-1);
	if ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) == NULL ||
	    ca_util_asn1_time(X509_CRL_get0_nextUpdate(crl), next) != 0)
		ca_util_err_ssl("read CRL %s", path);
	else
		rc = 0;
	X509_CRL_free(crl);
	BIO_free(b);
	return (rc);
}

/* The worse of two check results (EXPIRED > DUE > OK). */
static int
ca_cmd_worse(int a, int b)
{
	return (a > b ? a : b);
}

/* Check C and print findings; returns the exit status. */
static int
ca_cmd_check_run(struct ca_ctx *c, int json)
{
	struct ca_index_entry ie;
	char t[CA_UTIL_TIME_LEN], d[128];
	int64_t next;
	int rc = CA_CMD_OK, n = 0, valid = 0;

	memset(&ie, 0, sizeof(ie));
	if (ca_cmd_check_crl(c, &next) != 0 ||
	    ca_cert_times(c->inter, &ie.not_before, &ie.not_after) != 0)
		return (CA_CMD_FAIL);
	if (json)
		printf("{\"problems\": [");
	if (next <= c->now) {
		snprintf(d, sizeof(d), "nextUpdate %s passed; run cotai-ca crl",
		    ca_util_fmt_time(next, t));
		ca_cmd_check_report(json, &n, "stale", "crl", d);
		rc = CA_CMD_EXPIRED;
	}
	if (ie.not_after <= c->now || ca_ctx_due(&ie, c->now)) {
		snprintf(d, sizeof(d), "intermediate CA until %s",
		    ca_util_fmt_time(ie.not_after, t));
		ca_cmd_check_report(json, &n,
		    ie.not_after <= c->now ? "expired" : "due", "intermediate",
		    d);
		rc = ca_cmd_worse(
		    rc, ie.not_after <= c->now ? CA_CMD_EXPIRED : CA_CMD_DUE);
	}
	for (size_t i = 0; i < ca_index_len(c->idx); i++) {
		const struct ca_index_entry *e = ca_index_at(c->idx, i);
		const char *st;

		if (e->status != CA_INDEX_VALID)
			continue;
		st = ca_cmd_status(e, c->now);
		if (strcmp(st, "valid") == 0) {
			valid++;
			continue;
		}
		snprintf(d, sizeof(d), "serial %s until %s", e->serial,
		    ca_util_fmt_time(e->not_after, t));
		ca_cmd_check_report(json, &n, st, e->name, d);
		rc = ca_cmd_worse(rc,
		    strcmp(st, "expired") == 0 ? CA_CMD_EXPIRED : CA_CMD_DUE);
	}
	if (json)
		printf("%s], \"valid\": %d, \"crl_next_update\": \"%s\", "
		       "\"exit\": %d}\n",
		    n > 0 ? "\n" : "", valid, ca_util_fmt_time(next, t), rc);
	else if (rc == CA_CMD_OK)
		printf("ok: %d certificates valid, CRL fresh until %s\n", valid,
		    ca_util_fmt_time(next, t));
	return (rc);
}

int
ca_cmd_check(const char *dir, int argc, char **argv)
{
	struct ca_ctx c;
	int json = 0, rc;

	memset(&c, 0, sizeof(c));
	if ((rc = ca_cmd_info_parse(argc, argv, ca_cmd_check_usage, &json)) !=
	    CA_CMD_OK)
		return (rc == -1 ? CA_CMD_OK : rc);
	rc = CA_CMD_FAIL;
	if (ca_ctx_open(&c, dir, 0) == 0)
		rc = ca_cmd_check_run(&c, json);
	ca_ctx_close(&c);
	return (rc);
}
