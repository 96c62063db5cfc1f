/*
 * config_limits: what a config file may cost before it is parsed into a
 * document. libyaml builds the whole document, and some of its work grows
 * with the square of the nesting depth (every open flow collection is a
 * pending simple key, checked again at each token) and of the number of
 * anchors (each new one is compared with all before it); the loader's own
 * checks compare each route, and each role of a route, with all before it.
 * So the file is read into memory, at most CFG_MAX_BYTES, and its event
 * stream is scanned once, stopping at the first nesting level, collection
 * size, anchor or alias over the limit: rejection costs time linear in the
 * bytes read, and a file that passes is cheap to load.
 */
#include "config_priv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cfg_read_bounded(struct cfg_ctx *c, FILE *fp, unsigned char **buf, size_t *len)
{
	yaml_mark_t m0 = {0, 0, 0};
	unsigned char *b;
	size_t n = 0, got;

	*buf = NULL;
	*len = 0;
	/* One byte more than allowed tells "too large" from "exactly". */
	if ((b = malloc(CFG_MAX_BYTES + 1)) == NULL)
		return (cfg_err(c, m0, "(file)", "out of memory"));
	while (n < CFG_MAX_BYTES + 1 &&
	    (got = fread(b + n, 1, CFG_MAX_BYTES + 1 - n, fp)) > 0)
		n += got;
	if (ferror(fp)) {
		int e = errno;

		free(b);
		return (
		    cfg_err(c, m0, "(file)", "cannot read: %s", strerror(e)));
	}
	if (n > CFG_MAX_BYTES) {
		free(b);
		return (cfg_err(c, m0, "(file)",
		    "larger than %d bytes (1 MiB): not a configuration",
		    CFG_MAX_BYTES));
	}
	*buf = b;
	*len = n;
	return (0);
}

/* The anchor or alias limit for event E; 0 or -1 after the error. */
static int
cfg_count_anchor(struct cfg_ctx *c, const yaml_event_t *e, const char *anchor,
    size_t *anchors, size_t *aliases)
{
	if (e->type == YAML_ALIAS_EVENT && ++*aliases > CFG_MAX_ALIASES)
		return (cfg_err(c, e->start_mark, "yaml",
		    "more than %d aliases", CFG_MAX_ALIASES));
	if (anchor != NULL && ++*anchors > CFG_MAX_ALIASES)
		return (cfg_err(c, e->start_mark, "yaml",
		    "more than %d anchors", CFG_MAX_ALIASES));
	return (0);
}

/* One more node in the collection open at the top of STACK; 0 or -1. */
static int
cfg_count_item(struct cfg_ctx *c, const yaml_event_t *e, size_t *items,
    const bool *is_map, size_t depth)
{
	if (depth == 0)
		return (0);
	/* A mapping's items are pairs: its keys and values both count. */
	if (++items[depth] > (is_map[depth] ? 2 : 1) * (size_t)CFG_MAX_ITEMS)
		return (cfg_err(c, e->start_mark, "yaml",
		    "more than %d items in one %s", CFG_MAX_ITEMS,
		    is_map[depth] ? "mapping" : "sequence"));
	return (0);
}

int
cfg_check_shape(struct cfg_ctx *c, const unsigned char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t e;
	yaml_mark_t m0 = {0, 0, 0};
	/* Per open collection, by depth: its nodes so far, its kind. */
	size_t items[CFG_MAX_DEPTH + 1] = {0};
	bool is_map[CFG_MAX_DEPTH + 1] = {false};
	size_t depth = 0, anchors = 0, aliases = 0;
	int rc = 0;
	bool done = false;

	if (!yaml_parser_initialize(&p))
		return (cfg_err(c, m0, "(file)", "out of memory"));
	yaml_parser_set_input_string(&p, buf, len);
	while (!done && rc == 0) {
		const char *anchor = NULL;

		/* A syntax error is reported by the loader, at the same
		 * place: stop here without a word. */
		if (!yaml_parser_parse(&p, &e))
			break;
		switch (e.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			anchor = e.type == YAML_SEQUENCE_START_EVENT
			    ? (const char *)e.data.sequence_start.anchor
			    : (const char *)e.data.mapping_start.anchor;
			rc = cfg_count_item(c, &e, items, is_map, depth);
			if (rc == 0 && depth == CFG_MAX_DEPTH)
				rc = cfg_err(c, e.start_mark, "yaml",
				    "nested deeper than %d levels",
				    CFG_MAX_DEPTH);
			if (rc == 0) {
				depth++;
				items[depth] = 0;
				is_map[depth] =
				    e.type == YAML_MAPPING_START_EVENT;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
			anchor = (const char *)e.data.scalar.anchor;
			rc = cfg_count_item(c, &e, items, is_map, depth);
			break;
		case YAML_ALIAS_EVENT:
			rc = cfg_count_item(c, &e, items, is_map, depth);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		if (rc == 0)
			rc =
			    cfg_count_anchor(c, &e, anchor, &anchors, &aliases);
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	return (rc);
}
