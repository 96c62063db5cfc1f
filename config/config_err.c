/*
 * config_err: the errors of a configuration, as file:line:col: key:
 * message, and where each stored field was written (its YAML mark and key
 * path), so that a check made after parsing (defaults, several keys, the
 * files) can point at the line that set the field. See config_priv.h.
 */
#include "config_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int
cfg_err(
    struct cfg_ctx *c, yaml_mark_t mark, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->err == NULL || c->errlen == 0)
		return (-1);
	n = snprintf(c->err, c->errlen, "%s:%zu:%zu: %s: ", c->path,
	    mark.line + 1, mark.column + 1, key);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

int
cfg_where_add(
    struct cfg_ctx *c, const void *field, yaml_mark_t mark, const char *key)
{
	struct cfg_where *w;

	if (c->nwhere == c->capwhere) {
		size_t cap = c->capwhere ? c->capwhere * 2 : 64;

		if ((w = reallocarray(c->where, cap, sizeof(*w))) == NULL)
			return (-1);
		c->where = w;
		c->capwhere = cap;
	}
	w = &c->where[c->nwhere++];
	w->field = field;
	w->mark = mark;
	snprintf(w->key, sizeof(w->key), "%s", key);
	return (0);
}

const struct cfg_where *
cfg_where_find(const struct cfg_ctx *c, const void *field)
{
	for (size_t i = c->nwhere; i > 0; i--) {
		if (c->where[i - 1].field == field)
			return (&c->where[i - 1]);
	}
	return (NULL);
}

int
cfg_err_field(struct cfg_ctx *c, const void *field, const void *fallback,
    const char *fallback_key, const char *fmt, ...)
{
	const struct cfg_where *w = cfg_where_find(c, field);
	yaml_mark_t m = {0, 0, 0};
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w != NULL)
		return (cfg_err(c, w->mark, w->key, "%s", msg));
	if ((w = cfg_where_find(c, fallback)) != NULL)
		m = w->mark;
	return (cfg_err(c, m, fallback_key, "%s", msg));
}
