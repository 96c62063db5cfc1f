/*
 * ca_serve_conf: see ca_serve_conf.h.
 */
#include "ca_serve_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "duration.h"

enum ca_serve_conf_type {
	CONF_T_ADDR,
	CONF_T_PATH,
	CONF_T_DUR,
	CONF_T_UINT,
};

static const struct ca_serve_conf_key {
	const char *name;
	enum ca_serve_conf_type type;
	size_t off;
	uint64_t min, max; /* UINT: the value; DUR: milliseconds */
} ca_serve_conf_keys[] = {
    {"listen", CONF_T_ADDR, offsetof(struct ca_serve_conf, listen), 0, 0},
    {"tls_cert", CONF_T_PATH, offsetof(struct ca_serve_conf, tls_cert), 0, 0},
    {"tls_key", CONF_T_PATH, offsetof(struct ca_serve_conf, tls_key), 0, 0},
    {"audit", CONF_T_PATH, offsetof(struct ca_serve_conf, audit), 0, 0},
    {"port_file", CONF_T_PATH, offsetof(struct ca_serve_conf, port_file), 0, 0},
    {"ttl", CONF_T_DUR, offsetof(struct ca_serve_conf, ttl), 1000,
	365ULL * 86400 * 1000},
    {"timeout", CONF_T_DUR, offsetof(struct ca_serve_conf, timeout), 1000,
	3600 * 1000},
    {"crl_max_age", CONF_T_DUR, offsetof(struct ca_serve_conf, crl_max_age), 0,
	86400 * 1000},
    {"rollover_delay", CONF_T_DUR,
	offsetof(struct ca_serve_conf, rollover_delay), 0, 7ULL * 86400 * 1000},
    {"max_body", CONF_T_UINT, offsetof(struct ca_serve_conf, max_body), 1024,
	1048576},
    {"max_connections", CONF_T_UINT,
	offsetof(struct ca_serve_conf, max_connections), 1, 65536},
    {"rate", CONF_T_UINT, offsetof(struct ca_serve_conf, rate), 1, 1000000},
};
#define CONF_NKEYS (sizeof(ca_serve_conf_keys) / sizeof(ca_serve_conf_keys[0]))

void
ca_serve_conf_init(struct ca_serve_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->ttl = c->timeout = c->crl_max_age = c->rollover_delay = -1;
	c->max_body = c->max_connections = c->rate = UINT64_MAX;
}

static const struct ca_serve_conf_key *
ca_serve_conf_key(const char *name)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		if (strcmp(ca_serve_conf_keys[i].name, name) == 0)
			return (&ca_serve_conf_keys[i]);
	return (NULL);
}

/* Is K still unset in C? */
static int
ca_serve_conf_unset(
    const struct ca_serve_conf *c, const struct ca_serve_conf_key *k)
{
	const char *p = (const char *)c + k->off;

	switch (k->type) {
	case CONF_T_ADDR:
	case CONF_T_PATH:
		return (*p == '\0');
	case CONF_T_DUR:
		return (*(const int64_t *)(const void *)p == -1);
	case CONF_T_UINT:
		return (*(const uint64_t *)(const void *)p == UINT64_MAX);
	}
	return (0);
}

/* "host:port" or "[v6]:port" with a decimal port. */
static int
ca_serve_conf_addr_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end = NULL;
	unsigned long port;

	if (colon == NULL || colon == v || colon[1] == '\0')
		return (-1);
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	return (errno == 0 && *end == '\0' && port <= 65535 ? 0 : -1);
}

int
ca_serve_conf_set(struct ca_serve_conf *c, const char *key, const char *value,
    char *err, size_t errlen)
{
	const struct ca_serve_conf_key *k = ca_serve_conf_key(key);
	char *p, *end = NULL;
	uint64_t v;

	if (k == NULL) {
		snprintf(err, errlen, "unknown key");
		return (-1);
	}
	p = (char *)c + k->off;
	switch (k->type) {
	case CONF_T_ADDR:
		if (strlen(value) >= sizeof(c->listen) ||
		    ca_serve_conf_addr_ok(value) != 0) {
			snprintf(err, errlen,
			    "\"%s\" is not ADDRESS:PORT (e.g. 0.0.0.0:8443)",
			    value);
			return (-1);
		}
		memcpy(p, value, strlen(value) + 1);
		return (0);
	case CONF_T_PATH:
		if (*value == '\0' || strlen(value) >= PATH_MAX) {
			snprintf(err, errlen, "empty or too long path");
			return (-1);
		}
		memcpy(p, value, strlen(value) + 1);
		return (0);
	case CONF_T_DUR:
		if (duration_parse_ms(value, k->max, &v) != 0 || v < k->min ||
		    (v % 1000 != 0)) {
			snprintf(err, errlen,
			    "bad duration \"%s\" (whole seconds, e.g. 30s, "
			    "24h; %llus to %llus)",
			    value, (unsigned long long)(k->min / 1000),
			    (unsigned long long)(k->max / 1000));
			return (-1);
		}
		*(int64_t *)(void *)p = (int64_t)(v / 1000);
		return (0);
	case CONF_T_UINT:
		errno = 0;
		v = strtoull(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' ||
		    value[0] == '-' || v < k->min || v > k->max) {
			snprintf(err, errlen,
			    "bad number \"%s\" (%llu to %llu)", value,
			    (unsigned long long)k->min,
			    (unsigned long long)k->max);
			return (-1);
		}
		*(uint64_t *)(void *)p = v;
		return (0);
	}
	return (-1);
}

/* Format "PATH:LINE:COL: KEY: MSG" into ERR. */
static int
ca_serve_conf_err(char *err, size_t errlen, const char *path, yaml_mark_t m,
    const char *key, const char *msg)
{
	snprintf(err, errlen, "%s:%zu:%zu: %s: %s", path, m.line + 1,
	    m.column + 1, key, msg);
	return (-1);
}

static int
ca_serve_conf_mapping(struct ca_serve_conf *c, yaml_document_t *doc,
    const char *path, int only_unset, char *err, size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_pair_t *pair;
	unsigned seen = 0;
	char msg[512];

	if (root == NULL)
		return (ca_serve_conf_err(err, errlen, path,
		    (yaml_mark_t){0, 0, 0}, "(root)", "empty configuration"));
	if (root->type != YAML_MAPPING_NODE)
		return (ca_serve_conf_err(err, errlen, path, root->start_mark,
		    "(root)", "expected a mapping of keys"));
	for (pair = root->data.mapping.pairs.start;
	     pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *kn = yaml_document_get_node(doc, pair->key);
		yaml_node_t *vn = yaml_document_get_node(doc, pair->value);
		const struct ca_serve_conf_key *k;
		const char *key;
		unsigned bit;

		if (kn == NULL || kn->type != YAML_SCALAR_NODE)
			return (ca_serve_conf_err(err, errlen, path,
			    kn != NULL ? kn->start_mark : root->start_mark,
			    "(key)", "expected a plain key"));
		key = (const char *)kn->data.scalar.value;
		if ((k = ca_serve_conf_key(key)) == NULL)
			return (ca_serve_conf_err(err, errlen, path,
			    kn->start_mark, key, "unknown key"));
		bit = 1u << (unsigned)(k - ca_serve_conf_keys);
		if (seen & bit)
			return (ca_serve_conf_err(err, errlen, path,
			    kn->start_mark, key, "duplicate key"));
		seen |= bit;
		if (vn == NULL || vn->type != YAML_SCALAR_NODE ||
		    strlen((const char *)vn->data.scalar.value) !=
			vn->data.scalar.length)
			return (ca_serve_conf_err(err, errlen, path,
			    vn != NULL ? vn->start_mark : kn->start_mark, key,
			    "expected a single value"));
		if (only_unset && !ca_serve_conf_unset(c, k))
			continue;
		if (ca_serve_conf_set(c, key,
			(const char *)vn->data.scalar.value, msg,
			sizeof(msg)) != 0)
			return (ca_serve_conf_err(
			    err, errlen, path, vn->start_mark, key, msg));
	}
	return (0);
}

int
ca_serve_conf_load(struct ca_serve_conf *c, const char *path, int only_unset,
    char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *fp;
	int rc = -1;

	if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		snprintf(err, errlen, "%s: out of memory", path);
		return (-1);
	}
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		ca_serve_conf_err(err, errlen, path, parser.problem_mark,
		    "yaml",
		    parser.problem != NULL ? parser.problem : "syntax error");
		goto out;
	}
	rc = ca_serve_conf_mapping(c, &doc, path, only_unset, err, errlen);
	yaml_document_delete(&doc);
out:
	yaml_parser_delete(&parser);
	fclose(fp);
	return (rc);
}

int
ca_serve_conf_finish(struct ca_serve_conf *c, char *err, size_t errlen)
{
	if (c->listen[0] == '\0')
		snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8443");
	if (c->ttl == -1)
		c->ttl = 86400;
	if (c->timeout == -1)
		c->timeout = 10;
	if (c->crl_max_age == -1)
		c->crl_max_age = 60;
	if (c->rollover_delay == -1)
		c->rollover_delay = 600;
	if (c->max_body == UINT64_MAX)
		c->max_body = 16384;
	if (c->max_connections == UINT64_MAX)
		c->max_connections = 256;
	if (c->rate == UINT64_MAX)
		c->rate = 10;
	if (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0') {
		snprintf(err, errlen,
		    "tls_cert and tls_key are required (the server's own "
		    "certificate, e.g. from \"cotai-ca issue ca --dns HOST\")");
		return (-1);
	}
	return (0);
}

void
ca_serve_conf_print(const struct ca_serve_conf *c)
{
	printf("listen: %s\ntls_cert: %s\ntls_key: %s\n", c->listen,
	    c->tls_cert, c->tls_key);
	printf("ttl: %llds\ntimeout: %llds\ncrl_max_age: %llds\n",
	    (long long)c->ttl, (long long)c->timeout,
	    (long long)c->crl_max_age);
	printf("rollover_delay: %llds\n", (long long)c->rollover_delay);
	printf("max_body: %llu\nmax_connections: %llu\nrate: %llu\n",
	    (unsigned long long)c->max_body,
	    (unsigned long long)c->max_connections,
	    (unsigned long long)c->rate);
	printf("audit: %s\nport_file: %s\n",
	    c->audit[0] ? c->audit : "(standard output)",
	    c->port_file[0] ? c->port_file : "(none)");
}
