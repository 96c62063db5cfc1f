/*
 * ca_cmd: the verbs of cotai-ca. Each takes the state directory and its own
 * argument vector (ARGV[0] is the verb), prints its errors as
 * "cotai-ca: VERB: ...", and returns the process exit status.
 */
#ifndef COTAI_CA_CMD_H
#define COTAI_CA_CMD_H

enum ca_cmd_exit {
	CA_CMD_OK = 0,
	CA_CMD_FAIL = 1,    /* an error, or verify's "bad" verdict */
	CA_CMD_USAGE = 2,   /* bad command line */
	CA_CMD_DUE = 3,     /* check: something is due for renewal */
	CA_CMD_EXPIRED = 4, /* check: something expired or the CRL is stale */
};

int ca_cmd_init(const char *dir, int argc, char **argv);
int ca_cmd_issue(const char *dir, int argc, char **argv);
int ca_cmd_renew(const char *dir, int argc, char **argv);
int ca_cmd_revoke(const char *dir, int argc, char **argv);
int ca_cmd_crl(const char *dir, int argc, char **argv);
int ca_cmd_list(const char *dir, int argc, char **argv);
int ca_cmd_verify(const char *dir, int argc, char **argv);
int ca_cmd_check(const char *dir, int argc, char **argv);
int ca_cmd_token(const char *dir, int argc, char **argv);
int ca_cmd_rollover(const char *dir, int argc, char **argv);
int ca_cmd_serve(const char *dir, int argc, char **argv);

/*
 * Print "cotai-ca: VERB: MSG" and USAGE on standard error; returns
 * CA_CMD_USAGE.
 */
int ca_cmd_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The usage error for getopt's '?' (unknown option or missing argument):
 * ARGV[OPTIND_ - 1] names the option; OPT (optopt) is not needed.
 */
int ca_cmd_bad_option(const char *usage, char **argv, int optind_, int opt);

/* Print S as a JSON string (quoted, escaped) on standard output. */
void ca_cmd_json_str(const char *s);

#endif
