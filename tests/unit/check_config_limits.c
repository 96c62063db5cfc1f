/*
 * Unit tests for config/config_limits.c: what a config file may cost. A
 * file over 1 MiB, nesting deeper than 32, a collection of more than 1024
 * items, and more than 256 anchors or aliases are refused with the file,
 * line and column, before libyaml builds a document (whose work grows with
 * the square of the depth: a 400 KB file of '[' took minutes). Each limit
 * is also shown to let its exact maximum through to the ordinary checks.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

Suite *config_limits_suite(void);

static char path[64];
static char err[1024];

/* Write N bytes of TEXT (or, when TEXT is NULL, of FILL) to a temp file. */
static void
put(const char *text, size_t n)
{
	int fd;
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/check_config_limits.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
	ck_assert_uint_eq(fwrite(text, 1, n, fp), n);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Load the file; it must fail with "PATH:WANT...". */
static void
refused(const char *want)
{
	struct cotai_config *cfg = (void *)1;
	size_t plen = strlen(path);

	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	unlink(path);
	ck_assert_msg(strncmp(err, path, plen) == 0 && err[plen] == ':' &&
		strncmp(err + plen + 1, want, strlen(want)) == 0,
	    "got \"%s\", want \"%s:%s\"", err, path, want);
}

/* Load the file; it must fail, but not with a limit's message. */
static void
not_limited(void)
{
	struct cotai_config *cfg = NULL;

	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), -1);
	unlink(path);
	ck_assert_msg(strstr(err, "yaml: nested") == NULL &&
		strstr(err, "yaml: more than") == NULL &&
		strstr(err, "larger than") == NULL,
	    "limit hit: %s", err);
}

/* "KEY: " + N '[' + N ']' on one line, padded with a comment to LEN. */
static char *
flow(size_t n, size_t *len)
{
	char *b;
	size_t k = 0, want = *len;

	if (want < n * 2 + 16)
		want = n * 2 + 16;
	ck_assert_ptr_nonnull(b = malloc(want + 1));
	k += (size_t)sprintf(b, "routes: ");
	memset(b + k, '[', n);
	k += n;
	memset(b + k, ']', n);
	k += n;
	b[k++] = '\n';
	if (k < want) {
		b[k++] = '#';
		memset(b + k, 'x', want - k - 1);
		k = want - 1;
		b[k++] = '\n';
	}
	*len = k;
	return (b);
}

/* A 400 KB file of nested flow sequences: refused at the 33rd level. */
START_TEST(deep_flow)
{
	size_t len = 0;
	char *b = flow(200000, &len);

	ck_assert_uint_ge(len, 400000);
	put(b, len);
	free(b);
	/* The root mapping is level 1; the 32nd '[' (column 9 + 31) is 33. */
	refused("1:40: yaml: nested deeper than 32 levels");
	len = 0;
	b = flow(31, &len);
	put(b, len);
	free(b);
	not_limited(); /* 32 levels: on to "routes[0]: expected a mapping" */
	ck_assert_ptr_nonnull(strstr(err, "routes[0]: expected a mapping"));
}
END_TEST

/* Block mappings, one level per line: the error names line 33. */
START_TEST(deep_block)
{
	char *b;
	size_t k = 0, cap = 64 * 64 * 4;

	ck_assert_ptr_nonnull(b = malloc(cap));
	for (int i = 0; i < 40; i++) {
		memset(b + k, ' ', (size_t)i * 2);
		k += (size_t)i * 2;
		k += (size_t)sprintf(b + k, "k%d:\n", i);
	}
	put(b, k);
	free(b);
	refused("33:65: yaml: nested deeper than 32 levels");
}
END_TEST

/* Over 1 MiB is refused unread; exactly 1 MiB is parsed. */
START_TEST(size)
{
	size_t n = 1024 * 1024;
	char *b;

	ck_assert_ptr_nonnull(b = malloc(n + 1));
	memset(b, ' ', n + 1);
	b[0] = '#';
	b[n - 1] = b[n] = '\n';
	put(b, n + 1);
	refused("1:1: (file): larger than 1048576 bytes (1 MiB)");
	put(b, n);
	free(b);
	not_limited();
	ck_assert_ptr_nonnull(strstr(err, "empty configuration"));
}
END_TEST

/* OPEN ITEM, ITEM, ... CLOSE: N items, PREFIX and the index, plus SUFFIX. */
static void
put_list(const char *open, const char *prefix, const char *suffix,
    const char *close, int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
	fputs(open, fp);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", fp);
		fprintf(fp, "%s%d%s", prefix, i, suffix);
	}
	fputs(close, fp);
	fclose(fp);
	put(buf, len);
	free(buf);
}

/* At most 1024 items in a sequence, and 1024 pairs in a mapping. */
START_TEST(items)
{
	put_list("routes: [", "a", "", "]\n", 1025);
	refused("1:");
	ck_assert_ptr_nonnull(
	    strstr(err, ": yaml: more than 1024 items in one sequence"));
	put_list("routes: [", "a", "", "]\n", 1024);
	not_limited();
	put_list("routes: {", "k", ": v", "}\n", 1025);
	refused("1:");
	ck_assert_ptr_nonnull(
	    strstr(err, ": yaml: more than 1024 items in one mapping"));
	put_list("routes: {", "k", ": v", "}\n", 1024);
	not_limited();
}
END_TEST

/* At most 256 anchors and 256 aliases. */
START_TEST(anchors_aliases)
{
	put_list("routes: [", "&a", " x", "]\n", 257);
	refused("1:");
	ck_assert_ptr_nonnull(strstr(err, ": yaml: more than 256 anchors"));
	put_list("routes: [", "&a", " x", "]\n", 256);
	not_limited();
	/* One alias a line ("*a #I"): the 257th is on line 2 + 256. */
	put_list("x: &a y\nroutes: [", "*a #", "\n", "]\n", 257);
	refused("258:3: yaml: more than 256 aliases");
	put_list("x: &a y\nroutes: [", "*a #", "\n", "]\n", 256);
	not_limited();
}
END_TEST

Suite *
config_limits_suite(void)
{
	Suite *s = suite_create("config_limits");
	TCase *tc = tcase_create("config_limits");

	tcase_add_test(tc, deep_flow);
	tcase_add_test(tc, deep_block);
	tcase_add_test(tc, size);
	tcase_add_test(tc, items);
	tcase_add_test(tc, anchors_aliases);
	suite_add_tcase(s, tc);
	return (s);
}
