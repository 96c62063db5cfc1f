/*
 * ca_cmd_revoke: "cotai-ca revoke" and "cotai-ca crl".
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ca_cmd.h"
#include "ca_crl.h"
#include "ca_ctx.h"
#include "ca_util.h"

static const char ca_cmd_revoke_usage[] =
    "usage: cotai-ca [--dir DIR] revoke NAME | --serial HEX "
    "[--reason REASON]\n"
    "Revoke every unexpired certificate of NAME (or the one with serial\n"
    "HEX), then rewrite the CRL and copy crl.pem into every output\n"
    "directory in the index. REASON: unspecified (default), keyCompromise,\n"
    "caCompromise, affiliationChanged, superseded, cessationOfOperation,\n"
    "privilegeWithdrawn.\n";

static const char ca_cmd_crl_usage[] =
    "usage: cotai-ca [--dir DIR] crl\n"
    "Sign a new CRL (valid 4 days) and copy crl.pem into every output\n"
    "directory in the index.\n";

/* Mark E revoked; 1 when it was, 0 when already revoked. */
static int
ca_cmd_revoke_entry(struct ca_ctx *c, struct ca_index_entry *e, int reason)
{
	if (e->status == CA_INDEX_REVOKED)
		return (0);
	e->status = CA_INDEX_REVOKED;
	e->revoked_at = c->now;
	e->reason = reason;
	printf("revoked %s serial %s\n", e->name, e->serial);
	return (1);
}

/* Revoke NAME's unexpired certificates or the one with SERIAL. */
static int
ca_cmd_revoke_do(
    struct ca_ctx *c, const char *name, const char *serial, int reason)
{
	struct ca_index_entry *e;
	int n = 0;

	if (serial != NULL) {
		if ((e = ca_index_find_serial(c->idx, serial)) == NULL) {
			ca_util_err("no certificate with serial %s", serial);
			return (-1);
		}
		if (ca_cmd_revoke_entry(c, e, reason) == 0) {
			ca_util_err("serial %s is already revoked", serial);
			return (-1);
		}
		return (0);
	}
	for (size_t i = 0; i < ca_index_len(c->idx); i++) {
		e = ca_index_at(c->idx, i);
		if (strcmp(e->name, name) == 0 && e->not_after > c->now)
			n += ca_cmd_revoke_entry(c, e, reason);
	}
	if (n == 0) {
		ca_util_err("%s has no unrevoked, unexpired certificate", name);
		return (-1);
	}
	return (0);
}

int
ca_cmd_revoke(const char *dir, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"serial", required_argument, NULL, 's'},
	    {"reason", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *serial = NULL, *name = NULL;
	struct ca_ctx c;
	int ch, reason = 0, rc = CA_CMD_FAIL;

	memset(&c, 0, sizeof(c));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			serial = optarg;
			break;
		case 'r':
			if (ca_index_reason_parse(optarg, &reason) != 0)
				return (ca_cmd_usage_error(ca_cmd_revoke_usage,
				    "bad --reason \"%s\"", optarg));
			break;
		case 'h':
			fputs(ca_cmd_revoke_usage, stdout);
			return (CA_CMD_OK);
		default:
			return (ca_cmd_bad_option(
			    ca_cmd_revoke_usage, argv, optind, optopt));
		}
	}
	if (optind < argc)
		name = argv[optind++];
	if (optind < argc || (name == NULL) == (serial == NULL))
		return (ca_cmd_usage_error(
		    ca_cmd_revoke_usage, "give either NAME or --serial HEX"));
	if (name != NULL && ca_name_workload(name) != 0)
		return (ca_cmd_usage_error(
		    ca_cmd_revoke_usage, "malformed name \"%s\"", name));
	if (ca_ctx_open(&c, dir, CA_CTX_LOCK | CA_CTX_KEY) != 0 ||
	    ca_cmd_revoke_do(&c, name, serial, reason) != 0 ||
	    ca_ctx_save_index(&c) != 0 || ca_ctx_publish_crl(&c, NULL, 1) != 0)
		goto out;
	rc = CA_CMD_OK;
out:
	ca_ctx_close(&c);
	return (rc);
}

int
ca_cmd_crl(const char *dir, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ca_ctx c;
	char t[CA_UTIL_TIME_LEN];
	int ch, rc = CA_CMD_FAIL;

	memset(&c, 0, sizeof(c));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(ca_cmd_crl_usage, stdout);
			return (CA_CMD_OK);
		}
		return (
		    ca_cmd_bad_option(ca_cmd_crl_usage, argv, optind, optopt));
	}
	if (optind < argc)
		return (ca_cmd_usage_error(
		    ca_cmd_crl_usage, "unexpected argument: %s", argv[optind]));
	if (ca_ctx_open(&c, dir, CA_CTX_LOCK | CA_CTX_KEY) != 0 ||
	    ca_ctx_publish_crl(&c, NULL, 1) != 0)
		goto out;
	printf("CRL written to %s/crl.pem, next update %s\n", dir,
	    ca_util_fmt_time(c.now + CA_CRL_VALIDITY, t));
	rc = CA_CMD_OK;
out:
	ca_ctx_close(&c);
	return (rc);
}
