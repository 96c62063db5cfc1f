/*
 * cotai-ca: the small certificate authority of cotai.
 *
 *	cotai-ca [--dir DIR] VERB [ARGS...]
 *	cotai-ca --version | -h
 *
 * DIR comes from --dir, then $COTAI_CA_DIR, then ./pki. This file only
 * picks the verb; each verb lives in ca_cmd_*.c. Exit statuses: 0 ok, 1 an
 * error (one line "cotai-ca: VERB: ..." on standard error), 2 a usage
 * error, 3/4 from check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "ca_cmd.h"
#include "ca_util.h"
#include "version.h"

static const char main_usage[] =
    "usage: cotai-ca [--dir DIR] VERB [ARGS...]\n"
    "       cotai-ca [--dir DIR] VERB --help\n"
    "       cotai-ca --version | -h\n"
    "\n"
    "verbs:\n"
    "  init --trust-domain TD [--passphrase-file F] [--permit-dns NAME]...\n"
    "  issue NAME [--dns H]... [--ip A]... [--ttl DUR] [--key-type T]\n"
    "             [--out OUTDIR] [--combined] [--json]\n"
    "  renew NAME | --all [--if-due] [--ttl DUR] [--out OUTDIR] [--json]\n"
    "  revoke NAME | --serial HEX [--reason R]\n"
    "  crl\n"
    "  list [--json]\n"
    "  verify CERT [--name NAME] [--json]\n"
    "  check [--json]\n"
    "  token NAME [--ttl DUR]\n"
    "  rollover [--root-key F] [--passphrase-file F] | --finish [--force]\n"
    "  serve [-c|--config FILE] [--check] [--listen ADDR:PORT]\n"
    "        [--tls-cert F] [--tls-key F] [--ttl DUR] [--timeout DUR]\n"
    "        [--max-body N] [--max-connections N] [--rate N]\n"
    "        [--crl-max-age DUR] [--rollover-delay DUR] [--audit F]\n"
    "        [--port-file F]\n"
    "\n"
    "  --dir DIR      the CA directory; default $COTAI_CA_DIR, then ./pki\n"
    "  -V, --version  print the version, commit and OpenSSL's version\n"
    "  -h, --help     this text; VERB --help: the verb's own\n"
    "See cotai-ca(8) and ca/README.md.\n";

static const struct {
	const char *name;
	int (*run)(const char *dir, int argc, char **argv);
} main_verbs[] = {
    {"init", ca_cmd_init},
    {"issue", ca_cmd_issue},
    {"renew", ca_cmd_renew},
    {"revoke", ca_cmd_revoke},
    {"crl", ca_cmd_crl},
    {"list", ca_cmd_list},
    {"verify", ca_cmd_verify},
    {"check", ca_cmd_check},
    {"token", ca_cmd_token},
    {"rollover", ca_cmd_rollover},
    {"serve", ca_cmd_serve},
};

static int
main_usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "cotai-ca: %s%s\n%s", msg, arg != NULL ? arg : "",
	    main_usage);
	return (CA_CMD_USAGE);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	int i = 1;

	umask(077);
	/* Global options come before the verb. */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(main_usage, stdout);
			return (CA_CMD_OK);
		}
		if (strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0) {
			printf("cotai-ca %s (commit %s)\n%s\n", COTAI_VERSION,
			    COTAI_COMMIT, OpenSSL_version(OPENSSL_VERSION));
			return (CA_CMD_OK);
		}
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			dir = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--dir=", 6) == 0) {
			dir = argv[i] + 6;
			i++;
		} else {
			return (main_usage_error("unknown option: ", argv[i]));
		}
	}
	if (i == argc)
		return (main_usage_error("no verb given", NULL));
	if (dir == NULL)
		dir = getenv("COTAI_CA_DIR");
	if (dir == NULL || *dir == '\0')
		dir = "./pki";
	if (ca_util_clock_init() != 0)
		return (main_usage_error(
		    "COTAI_CA_NOW must be unix seconds", NULL));
	for (size_t v = 0; v < sizeof(main_verbs) / sizeof(main_verbs[0]);
	     v++) {
		if (strcmp(argv[i], main_verbs[v].name) != 0)
			continue;
		ca_util_set_verb(main_verbs[v].name);
		return (main_verbs[v].run(dir, argc - i, argv + i));
	}
	return (main_usage_error("unknown verb: ", argv[i]));
}
