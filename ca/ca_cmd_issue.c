/*
 * ca_cmd_issue: "cotai-ca issue" and "cotai-ca renew".
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ca_cert.h"
#include "ca_cmd.h"
#include "ca_ctx.h"
#include "ca_readback.h"
#include "ca_util.h"
#include "duration.h"

static const char ca_cmd_issue_usage[] =
    "usage: cotai-ca [--dir DIR] issue NAME [--dns HOST]... [--ip ADDR]...\n"
    "                [--ttl DURATION] [--key-type ec-p256|ed25519|rsa-3072]\n"
    "                [--out OUTDIR] [--combined] [--json]\n"
    "Issue a certificate for workload NAME: CN=NAME, URI SAN\n"
    "spiffe://TD/NAME, DNS SAN NAME and each HOST, IP SAN each ADDR.\n"
    "Default lifetime 7d (capped at the intermediate's), default key\n"
    "ec-p256, default OUTDIR DIR/issued/NAME. Writes OUTDIR/NAME.crt (leaf\n"
    "then intermediate), OUTDIR/NAME.key (0600), OUTDIR/ca.crt and\n"
    "OUTDIR/crl.pem; with --combined also OUTDIR/NAME.pem (leaf,\n"
    "intermediate and key in one 0600 file, for MongoDB). Refuses a NAME\n"
    "that already has a valid certificate, and the names ca and crl (they\n"
    "would replace OUTDIR/ca.crt or OUTDIR/crl.pem).\n";

static const char ca_cmd_renew_usage[] =
    "usage: cotai-ca [--dir DIR] renew NAME | --all [--if-due]\n"
    "                [--ttl DURATION] [--out OUTDIR] [--json]\n"
    "Issue a new key and certificate with the same names as the current\n"
    "one, into the directory it was issued to (or OUTDIR, recorded for\n"
    "later renewals). --if-due renews only certificates with a third of\n"
    "their lifetime or less left (or expired). The lifetime stays the same\n"
    "unless --ttl is given. --all also refreshes the CRL everywhere, so a\n"
    "periodic \"renew --all --if-due\" keeps everything current.\n"
    "A combined NAME.pem in that directory is rewritten too.\n";

struct ca_cmd_issue_opts {
	const char *name;
	const char *out;
	int64_t ttl; /* 0: default */
	enum ca_key_type key_type;
	int all;
	int if_due;
	int json;
	int combined;
	struct ca_ctx_names names;
};

/* Parse a --ttl value into seconds. */
static int
ca_cmd_ttl(const char *s, int64_t *ttl)
{
	uint64_t ms;

	if (duration_parse_ms(s, CA_CTX_MAX_TTL_MS, &ms) != 0 || ms < 1000)
		return (-1);
	*ttl = (int64_t)(ms / 1000);
	return (0);
}

static int
ca_cmd_issue_opt(int ch, const char *usage, struct ca_cmd_issue_opts *o)
{
	struct ca_ctx_names *n = &o->names;

	switch (ch) {
	case 'd':
		if (ca_name_dns(optarg) != 0)
			return (ca_cmd_usage_error(
			    usage, "bad DNS name for --dns: \"%s\"", optarg));
		if (n->ndns == CA_CTX_MAX_SANS)
			return (ca_cmd_usage_error(usage, "too many --dns"));
		n->dns[n->ndns++] = optarg;
		return (CA_CMD_OK);
	case 'i':
		if (ca_name_ip(optarg) != 0)
			return (ca_cmd_usage_error(
			    usage, "bad IP address for --ip: \"%s\"", optarg));
		if (n->nips == CA_CTX_MAX_SANS)
			return (ca_cmd_usage_error(usage, "too many --ip"));
		n->ips[n->nips++] = optarg;
		return (CA_CMD_OK);
	case 't':
		if (ca_cmd_ttl(optarg, &o->ttl) != 0)
			return (ca_cmd_usage_error(usage,
			    "bad --ttl \"%s\" (e.g. 12h, 7d; 1s to 365d)",
			    optarg));
		return (CA_CMD_OK);
	case 'k':
		if (ca_key_type_parse(optarg, &o->key_type) != 0)
			return (ca_cmd_usage_error(usage,
			    "bad --key-type \"%s\" (ec-p256, ed25519, "
			    "rsa-3072)",
			    optarg));
		return (CA_CMD_OK);
	case 'o':
		o->out = optarg;
		return (CA_CMD_OK);
	case 'a':
		o->all = 1;
		return (CA_CMD_OK);
	case 'u':
		o->if_due = 1;
		return (CA_CMD_OK);
	case 'j':
		o->json = 1;
		return (CA_CMD_OK);
	case 'c':
		o->combined = 1;
		return (CA_CMD_OK);
	}
	return (CA_CMD_USAGE);
}

/* Parse issue's (RENEW: renew's) arguments; -1 after --help. */
static int
ca_cmd_issue_parse(
    int argc, char **argv, int renew, struct ca_cmd_issue_opts *o)
{
	static const struct option issue_opts[] = {
	    {"dns", required_argument, NULL, 'd'},
	    {"ip", required_argument, NULL, 'i'},
	    {"ttl", required_argument, NULL, 't'},
	    {"key-type", required_argument, NULL, 'k'},
	    {"out", required_argument, NULL, 'o'},
	    {"combined", no_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const struct option renew_opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"if-due", no_argument, NULL, 'u'},
	    {"ttl", required_argument, NULL, 't'},
	    {"out", required_argument, NULL, 'o'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *usage = renew ? ca_cmd_renew_usage : ca_cmd_issue_usage;
	int ch, rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h",
		    renew ? renew_opts : issue_opts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage, stdout);
			return (-1);
		}
		if (ch == '?' || ch == ':')
			return (ca_cmd_bad_option(usage, argv, optind, optopt));
		if ((rc = ca_cmd_issue_opt(ch, usage, o)) != CA_CMD_OK)
			return (rc);
	}
	if (optind < argc)
		o->name = argv[optind++];
	if (optind < argc)
		return (ca_cmd_usage_error(
		    usage, "unexpected argument: %s", argv[optind]));
	if (o->all && (o->name != NULL || o->out != NULL))
		return (ca_cmd_usage_error(
		    usage, "--all takes no NAME and no --out"));
	if (!o->all && o->name == NULL)
		return (ca_cmd_usage_error(usage, "NAME is required"));
	if (o->name != NULL && ca_name_workload(o->name) != 0)
		return (ca_cmd_usage_error(usage,
		    "malformed name \"%s\": use DNS labels of [a-z0-9-] "
		    "separated by '.'",
		    o->name));
	if (o->name != NULL && ca_name_reserved(o->name) != NULL)
		return (ca_cmd_usage_error(usage,
		    "name \"%s\" is reserved: OUTDIR/%s is the output "
		    "directory's own file",
		    o->name, ca_name_reserved(o->name)));
	return (CA_CMD_OK);
}

/* Print what was issued. */
static void
ca_cmd_issue_report(const char *verb, const struct ca_index_entry *e, int json)
{
	char t[CA_UTIL_TIME_LEN], path[PATH_MAX + CA_NAME_MAX + 8];

	ca_util_fmt_time(e->not_after, t);
	if (json) {
		printf(
		    "{\"event\": \"%s\", \"name\": \"%s\", \"serial\": \"%s\", "
		    "\"not_after\": \"%s\", \"out\": ",
		    verb, e->name, e->serial, t);
		ca_cmd_json_str(e->out_dir);
		snprintf(path, sizeof(path), "%s/%s.crt", e->out_dir, e->name);
		printf(", \"cert\": ");
		ca_cmd_json_str(path);
		snprintf(path, sizeof(path), "%s/%s.key", e->out_dir, e->name);
		printf(", \"key\": ");
		ca_cmd_json_str(path);
		printf("}\n");
		return;
	}
	printf("%s %s serial %s until %s: %s/%s.crt %s/%s.key\n", verb, e->name,
	    e->serial, t, e->out_dir, e->name, e->out_dir, e->name);
}

int
ca_cmd_issue(const char *dir, int argc, char **argv)
{
	static struct ca_cmd_issue_opts o;
	struct ca_index_entry *cur, e;
	struct ca_ctx_req req;
	struct ca_ctx c;
	char out[PATH_MAX], t[CA_UTIL_TIME_LEN];
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	if ((rc = ca_cmd_issue_parse(argc, argv, 0, &o)) != CA_CMD_OK)
		return (rc == -1 ? CA_CMD_OK : rc);
	rc = CA_CMD_FAIL;
	if (ca_ctx_open(&c, dir, CA_CTX_LOCK | CA_CTX_KEY) != 0)
		goto out;
	if ((cur = ca_index_current(c.idx, o.name)) != NULL) {
		if (cur->not_after > c.now) {
			ca_util_err("%s already has a valid certificate "
				    "(serial %s, until %s); use renew, or "
				    "revoke it first",
			    o.name, cur->serial,
			    ca_util_fmt_time(cur->not_after, t));
			goto out;
		}
		cur->status = CA_INDEX_SUPERSEDED;
	}
	if (ca_ctx_out_dir(&c, o.out, o.name, out, sizeof(out)) != 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.name = o.name;
	req.sans = ca_ctx_names_sans(&o.names);
	req.ttl = o.ttl != 0 ? o.ttl : CA_CTX_DEFAULT_TTL;
	req.key_type = o.key_type;
	req.out_dir = out;
	req.combined = o.combined;
	if (ca_ctx_issue(&c, &req, &e) != 0 || ca_ctx_save_index(&c) != 0 ||
	    ca_ctx_publish_crl(&c, out, 0) != 0 ||
	    ca_readback_check(out, &e, req.combined) != 0)
		goto out;
	ca_cmd_issue_report("issued", &e, o.json);
	rc = CA_CMD_OK;
out:
	ca_ctx_close(&c);
	return (rc);
}

/* Renew the entry at index position I with --out/--ttl/--json of O. */
static int
ca_cmd_renew_one(struct ca_ctx *c, size_t i, const struct ca_cmd_issue_opts *o)
{
	static struct ca_ctx_names names;
	struct ca_index_entry old = *ca_index_at(c->idx, i), e;
	struct ca_ctx_req req;
	char path[PATH_MAX], file[CA_CERT_SERIAL_HEX + 16], out[PATH_MAX];
	X509 *x = NULL;
	int rc = -1;

	memset(&names, 0, sizeof(names));
	memset(&req, 0, sizeof(req));
	snprintf(file, sizeof(file), "certs/%s.pem", old.serial);
	if (ca_store_path(c->store, file, path, sizeof(path)) != 0 ||
	    (x = ca_ctx_load_cert(path)) == NULL ||
	    ca_ctx_names_of(x, old.name, &names) != 0 ||
	    ca_ctx_out_dir(c, o->out != NULL ? o->out : old.out_dir, old.name,
		out, sizeof(out)) != 0)
		goto out;
	/* A key from a CSR (serve) may have no --key-type: use the default. */
	if (ca_key_type_parse(old.key_type, &req.key_type) != 0)
		req.key_type = CA_KEY_EC_P256;
	req.name = old.name;
	req.sans = ca_ctx_names_sans(&names);
	req.ttl = o->ttl != 0
	    ? o->ttl
	    : old.not_after - old.not_before - CA_CERT_BACKDATE;
	req.out_dir = out;
	/* Keep a combined file (issue --combined) up to date. */
	req.combined = snprintf(path, sizeof(path), "%s/%s.pem", out,
			   old.name) < (int)sizeof(path) &&
	    access(path, F_OK) == 0;
	ca_index_at(c->idx, i)->status = CA_INDEX_SUPERSEDED;
	if (ca_ctx_issue(c, &req, &e) != 0) {
		ca_index_at(c->idx, i)->status = CA_INDEX_VALID;
		goto out;
	}
	if (ca_readback_check(out, &e, req.combined) != 0)
		goto out;
	ca_cmd_issue_report("renewed", &e, o->json);
	rc = 0;
out:
	X509_free(x);
	return (rc);
}

/*
 * Is E renewed by its holder rather than here? An EST enrollment
 * (cotai-ca serve) records DIR/issued/NAME and writes nothing there: its
 * certificate is in no OUTDIR/NAME.crt. Renewing it from the CLI would
 * write a new key into that directory and supersede the certificate the
 * sidecar renews with, so `renew --all` leaves it to its holder.
 */
static int
ca_cmd_renew_held(const struct ca_index_entry *e)
{
	char path[PATH_MAX], hex[CA_CERT_SERIAL_HEX];
	X509 *x;
	int held;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.crt", e->out_dir,
		e->name) >= sizeof(path) ||
	    access(path, F_OK) != 0)
		return (1);
	if ((x = ca_ctx_load_cert(path)) == NULL)
		return (0); /* unreadable: renewing it rewrites it */
	held = ca_cert_serial_hex(x, hex, sizeof(hex)) == 0 &&
	    strcmp(hex, e->serial) != 0;
	X509_free(x);
	return (held);
}

int
ca_cmd_renew(const char *dir, int argc, char **argv)
{
	static struct ca_cmd_issue_opts o;
	struct ca_index_entry *cur;
	struct ca_ctx c;
	size_t n;
	int rc, failed = 0;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	if ((rc = ca_cmd_issue_parse(argc, argv, 1, &o)) != CA_CMD_OK)
		return (rc == -1 ? CA_CMD_OK : rc);
	rc = CA_CMD_FAIL;
	if (ca_ctx_open(&c, dir, CA_CTX_LOCK | CA_CTX_KEY) != 0)
		goto out;
	if (!o.all && (cur = ca_index_current(c.idx, o.name)) == NULL) {
		ca_util_err("%s has no current certificate (never issued, or "
			    "revoked); use issue",
		    o.name);
		goto out;
	}
	n = ca_index_len(c.idx);
	for (size_t i = 0; i < n; i++) {
		const struct ca_index_entry *e = ca_index_at(c.idx, i);

		if (e->status != CA_INDEX_VALID ||
		    (!o.all && strcmp(e->name, o.name) != 0) ||
		    (o.if_due && !ca_ctx_due(e, c.now)))
			continue;
		if (o.all && ca_cmd_renew_held(e)) {
			fprintf(stderr,
			    "cotai-ca: renew: %s (%s): not in %s/%s.crt, "
			    "left to its holder (cotai-ca serve)\n",
			    e->name, e->serial, e->out_dir, e->name);
			continue;
		}
		if (ca_cmd_renew_one(&c, i, &o) != 0)
			failed = 1;
	}
	if (ca_index_len(c.idx) == n && !o.all && !failed)
		printf(o.json ? "{\"event\": \"not_due\", \"name\": \"%s\"}\n"
			      : "%s is not due for renewal\n",
		    o.name);
	/* Save what was renewed even when another renewal failed. */
	if (ca_ctx_save_index(&c) != 0)
		goto out;
	if (ca_ctx_publish_crl(&c, NULL, 1) != 0)
		goto out;
	rc = failed ? CA_CMD_FAIL : CA_CMD_OK;
out:
	ca_ctx_close(&c);
	return (rc);
}
