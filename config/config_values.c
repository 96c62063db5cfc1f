/*
 * config_values: parsers for single YAML values (scalars, sizes, booleans,
 * durations, addresses, pattern lists). Each reports its own error through
 * cfg_err() at the value's position and returns -1 (or NULL).
 */
#include "config_priv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "spiffe.h"

#define NKEYS(a) (sizeof(a) / sizeof(a[0]))
#define CFG_DUR_MAX (7ULL * 86400000) /* 7 days */

const char *
cfg_node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return ("a mapping");
	case YAML_SEQUENCE_NODE:
		return ("a sequence");
	default:
		return ("a scalar");
	}
}

/* The scalar text of N, or NULL after an error if N is not a scalar. */
/* A plain scalar YAML reads as null. */
static bool
cfg_is_null(const char *s)
{
	return (strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0);
}

const char *
cfg_scalar(struct cfg_ctx *c, yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE) {
		cfg_err(c, n->start_mark, key, "expected a scalar, got %s",
		    cfg_node_kind(n));
		return (NULL);
	}
	if (n->data.scalar.length == 0 ||
	    (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		cfg_is_null((const char *)n->data.scalar.value))) {
		cfg_err(c, n->start_mark, key, "empty value");
		return (NULL);
	}
	if (strlen((const char *)n->data.scalar.value) !=
	    n->data.scalar.length) {
		cfg_err(c, n->start_mark, key, "value contains a NUL byte");
		return (NULL);
	}
	return ((const char *)n->data.scalar.value);
}

/* Parse a decimal uint32 in [min, max]; 0 or -1. */
int
cfg_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return (-1);
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return (-1);
	}
	if (*s != '\0' || v < min)
		return (-1);
	*out = (uint32_t)v;
	return (0);
}

/* Bytes: digits with an optional k/K (KiB) or m/M (MiB) suffix. */
int
cfg_bytes(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char buf[32];
	size_t len = strlen(s);
	uint32_t mul = 1, v;

	if (len == 0 || len >= sizeof(buf))
		return (-1);
	memcpy(buf, s, len + 1);
	if (buf[len - 1] == 'k' || buf[len - 1] == 'K')
		mul = 1024;
	else if (buf[len - 1] == 'm' || buf[len - 1] == 'M')
		mul = 1024 * 1024;
	if (mul != 1)
		buf[len - 1] = '\0';
	if (cfg_u32(buf, 0, max / mul, &v) == -1 || v * mul < min)
		return (-1);
	*out = v * mul;
	return (0);
}

int
cfg_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};

	for (size_t i = 0; i < NKEYS(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return (0);
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return (0);
		}
	}
	return (-1);
}

bool
cfg_name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return (false);
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' &&
		    *s != '-')
			return (false);
	}
	return (true);
}

/* "KEY[I]" into BUF, cut to fit. */
void
cfg_key_index(char *buf, size_t len, const char *key, size_t i)
{
	if (snprintf(buf, len, "%s[%zu]", key, i) < 0)
		buf[0] = '\0';
}

/* Store one pattern after spiffe_pattern_check; 0 or -1. */
static int
cfg_pattern(struct cfg_ctx *c, yaml_node_t *n, const char *key, char **slot)
{
	const char *s, *why = NULL;

	if ((s = cfg_scalar(c, n, key)) == NULL)
		return (-1);
	if (spiffe_pattern_check(s, &why) == -1)
		return (cfg_err(c, n->start_mark, key, "bad pattern \"%s\": %s",
		    s, why != NULL ? why : "invalid"));
	if ((*slot = strdup(s)) == NULL)
		return (cfg_err(c, n->start_mark, key, "out of memory"));
	return (0);
}

int
cfg_list(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    const struct cfg_list_spec *spec, char ***list, size_t *count)
{
	yaml_node_item_t *it;
	size_t max;
	char k[CFG_KEYLEN];

	if (n->type == YAML_MAPPING_NODE)
		return (
		    cfg_err(c, n->start_mark, key, "%s", spec->not_mapping));
	max = n->type == YAML_SCALAR_NODE
	    ? 1
	    : (size_t)(n->data.sequence.items.top -
		  n->data.sequence.items.start);
	if (max == 0)
		return (cfg_err(c, n->start_mark, key, "empty list"));
	if ((*list = calloc(max, sizeof(**list))) == NULL)
		return (cfg_err(c, n->start_mark, key, "out of memory"));
	if (n->type == YAML_SCALAR_NODE) {
		if (spec->elem(c, n, key, &(*list)[0]) == -1)
			return (-1);
		*count = 1;
		return (0);
	}
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);

		cfg_key_index(k, sizeof(k), key, *count);
		if (spec->elem(c, e, k, &(*list)[*count]) == -1)
			return (-1);
		(*count)++;
	}
	return (0);
}

/* expect/allow: a scalar or a non-empty sequence of scalars. */
int
cfg_patterns(struct cfg_ctx *c, yaml_node_t *n, const char *key, char ***list,
    size_t *count)
{
	static const struct cfg_list_spec spec = {
	    cfg_pattern, "expected a scalar or a sequence, got a mapping"};

	return (cfg_list(c, n, key, &spec, list, count));
}

/* Look VALUE up in NAMES; its index or -1 after an error. */
int
cfg_enum(struct cfg_ctx *c, yaml_node_t *n, const char *key,
    const char *const *names, size_t nnames)
{
	const char *s;
	char list[128] = "";

	if ((s = cfg_scalar(c, n, key)) == NULL)
		return (-1);
	for (size_t i = 0; i < nnames; i++) {
		if (strcmp(s, names[i]) == 0)
			return ((int)i);
		if (i > 0)
			strncat(list, i + 1 == nnames ? " or " : ", ",
			    sizeof(list) - strlen(list) - 1);
		strncat(list, names[i], sizeof(list) - strlen(list) - 1);
	}
	return (cfg_err(c, n->start_mark, key,
	    "invalid value \"%s\" (expected %s)", s, list));
}

int
cfg_addr(struct cfg_ctx *c, yaml_node_t *n, const char *key, bool listen,
    struct config_addr *a)
{
	const char *s;

	if ((s = cfg_scalar(c, n, key)) == NULL)
		return (-1);
	if (config_addr_parse(s, a) == -1)
		return (cfg_err(c, n->start_mark, key,
		    "invalid address \"%s\" (expected host:port, "
		    "[v6]:port or unix:/path)",
		    s));
	if (!listen && a->kind == CONFIG_ADDR_INET && strcmp(a->port, "0") == 0)
		return (cfg_err(c, n->start_mark, key,
		    "port 0 is only allowed for listen"));
	return (0);
}

int
cfg_duration(struct cfg_ctx *c, yaml_node_t *n, const char *key, bool zero,
    uint32_t *out)
{
	const char *s;
	uint64_t ms;

	if ((s = cfg_scalar(c, n, key)) == NULL)
		return (-1);
	if (strcmp(s, "0") == 0)
		ms = 0;
	else if (duration_parse_ms(s, CFG_DUR_MAX, &ms) == -1)
		return (cfg_err(c, n->start_mark, key,
		    "invalid duration \"%s\" (e.g. 500ms, 30s, 1h30m; "
		    "at most 7d)",
		    s));
	if (ms == 0 && !zero)
		return (cfg_err(c, n->start_mark, key, "must not be 0"));
	*out = (uint32_t)ms;
	return (0);
}
