/*
 * ca_cmd_token: "cotai-ca token NAME [--ttl DUR]": mint a one-time
 * enrollment token for cotai-ca serve (see ca_token.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ca_cmd.h"
#include "ca_ctx.h"
#include "ca_token.h"
#include "ca_util.h"
#include "duration.h"

/* Default and longest token lifetime. */
#define CA_CMD_TOKEN_TTL (15 * 60)
#define CA_CMD_TOKEN_MAX_MS (30ULL * 86400 * 1000)

static const char ca_cmd_token_usage[] =
    "usage: cotai-ca [--dir DIR] token NAME [--ttl DURATION]\n"
    "Mint a one-time enrollment token for workload NAME and print it on\n"
    "standard output. cotai-ca serve issues one certificate for NAME to the\n"
    "first POST /.well-known/est/simpleenroll that presents it as\n"
    "\"Authorization: Bearer TOKEN\" before it expires (default 15m, at most\n"
    "30d). Only its SHA-256 is stored (DIR/tokens).\n";

int
ca_cmd_token(const char *dir, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"ttl", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ca_tokens *t = NULL;
	struct ca_store *s = NULL;
	char tok[CA_TOKEN_HEX + 1], when[CA_UTIL_TIME_LEN];
	const char *name = NULL;
	int64_t ttl = CA_CMD_TOKEN_TTL, now;
	uint64_t ms;
	int ch, rc = CA_CMD_FAIL;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (duration_parse_ms(
				optarg, CA_CMD_TOKEN_MAX_MS, &ms) != 0 ||
			    ms < 1000)
				return (ca_cmd_usage_error(ca_cmd_token_usage,
				    "bad --ttl \"%s\" (e.g. 15m, 1h; 1s to "
				    "30d)",
				    optarg));
			ttl = (int64_t)(ms / 1000);
			break;
		case 'h':
			fputs(ca_cmd_token_usage, stdout);
			return (CA_CMD_OK);
		default:
			return (ca_cmd_bad_option(
			    ca_cmd_token_usage, argv, optind, optopt));
		}
	}
	if (optind < argc)
		name = argv[optind++];
	if (optind < argc)
		return (ca_cmd_usage_error(ca_cmd_token_usage,
		    "unexpected argument: %s", argv[optind]));
	if (name == NULL)
		return (
		    ca_cmd_usage_error(ca_cmd_token_usage, "NAME is required"));
	if (ca_name_workload(name) != 0)
		return (ca_cmd_usage_error(ca_cmd_token_usage,
		    "malformed name \"%s\": use DNS labels of [a-z0-9-] "
		    "separated by '.'",
		    name));
	/* As issue: a certificate named so could never be renewed. */
	if (ca_name_reserved(name) != NULL)
		return (ca_cmd_usage_error(ca_cmd_token_usage,
		    "name \"%s\" is reserved: OUTDIR/%s is an output "
		    "directory's own file",
		    name, ca_name_reserved(name)));
	now = ca_util_now();
	if ((s = ca_store_open(dir, CA_STORE_LOCK)) == NULL ||
	    (t = ca_tokens_load(s)) == NULL ||
	    ca_tokens_mint(t, name, now + ttl, tok) != 0 ||
	    ca_tokens_save(s, t, now) != 0)
		goto out;
	printf("%s\n", tok);
	fprintf(stderr, "cotai-ca: token: for %s, one use, until %s\n", name,
	    ca_util_fmt_time(now + ttl, when));
	rc = CA_CMD_OK;
out:
	OPENSSL_cleanse(tok, sizeof(tok));
	ca_tokens_free(t);
	ca_store_free(s);
	return (rc);
}
