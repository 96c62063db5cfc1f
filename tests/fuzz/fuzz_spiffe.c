/*
 * fuzz_spiffe: the one SPIFFE grammar (lib/spiffe.c) on arbitrary strings.
 *
 * The input is split at its first NUL into S and TD. S goes through
 * spiffe_parse() under every flag combination, spiffe_valid() and
 * spiffe_pattern_check(), each compared with a reference written from
 * spiffe.h; a parse that succeeds must return parts that point into S and
 * put S together again; a failure must give a reason and a success none.
 * spiffe_in_domain(S, TD) is compared with the parts, and a trust domain
 * that cotai-ca accepts (ca_name_trust_domain) must be one the grammar
 * accepts. Both strings are heap copies of exactly the input bytes, so
 * ASan sees a read past them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca_name.h"
#include "fuzz.h"
#include "spiffe.h"

static bool
ref_tdchar(char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-' || c == '_');
}

/* Segments of P (no leading '/'), globs allowed when GLOB. */
static bool
ref_path(const char *p, bool glob)
{
	for (;;) {
		size_t len = strcspn(p, "/");

		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return (false);
		for (size_t i = 0; i < len; i++) {
			char c = p[i];

			if (!ref_tdchar(c) && !(c >= 'A' && c <= 'Z') &&
			    !(glob && (c == '*' || c == '?')))
				return (false);
		}
		if (p[len] == '\0')
			return (true);
		p += len + 1;
	}
}

/* The grammar of spiffe.h, written separately. */
static bool
ref_parse(const char *s, unsigned flags)
{
	size_t td;

	if (strlen(s) > 2048 || strncmp(s, "spiffe://", 9) != 0)
		return (false);
	s += 9;
	td = strcspn(s, "/");
	if (td == 0 || td > 255)
		return (false);
	for (size_t i = 0; i < td; i++) {
		if (!ref_tdchar(s[i]))
			return (false);
	}
	if (s[td] == '\0')
		return (!(flags & SPIFFE_NEED_PATH));
	return (ref_path(s + td + 1, (flags & SPIFFE_GLOB) != 0));
}

static bool
ref_pattern(const char *p)
{
	if (p[0] == '\0' || strlen(p) > 2048)
		return (false);
	if (strncmp(p, "spiffe://", 9) == 0)
		return (ref_parse(p, SPIFFE_GLOB));
	if (strchr(p, ':') != NULL || p[0] == '/')
		return (false);
	return (ref_path(p, true));
}

static void
check_parse(const char *s, unsigned flags)
{
	struct spiffe_id id;
	const char *why = "unset";
	int rc = spiffe_parse(s, flags, &id, &why);
	size_t n = strlen(s);

	CHECK(rc == 0 || rc == -1);
	CHECK((rc == 0) == ref_parse(s, flags));
	CHECK(spiffe_parse(s, flags, NULL, NULL) == rc);
	if (rc != 0) {
		CHECK(why != NULL && why[0] != '\0');
		return;
	}
	CHECK(why == NULL);
	CHECK(id.td == s + 9 && id.tdlen > 0 && id.tdlen <= SPIFFE_TD_MAX);
	if (id.path[0] == '\0') {
		/* "spiffe://td": the path is a static "" or S's end. */
		CHECK(n == 9 + id.tdlen);
	} else {
		CHECK(id.path == s + 9 + id.tdlen + 1);
		CHECK(s[9 + id.tdlen] == '/');
		CHECK(spiffe_path_check(id.path, flags, NULL) == 0);
	}
	CHECK(spiffe_td_check(id.td, id.tdlen, NULL) == 0);
	/* Every valid ID, with or without globs, is a valid pattern. */
	CHECK(spiffe_pattern_check(s, NULL) == 0);
	if (id.path[0] != '\0')
		CHECK(spiffe_pattern_check(id.path, NULL) == 0);
}

static void
check_domain(const char *s, const char *td)
{
	bool in = false;
	struct spiffe_id id;

	if (spiffe_parse(s, SPIFFE_GLOB, &id, NULL) == 0)
		in = id.tdlen == strlen(td) && memcmp(id.td, td, id.tdlen) == 0;
	CHECK(spiffe_in_domain(s, td) == in);
	if (ca_name_trust_domain(td) == 0)
		CHECK(spiffe_td_check(td, strlen(td), NULL) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *td;
	const char *why = "unset";
	size_t ls;
	int rc;

	CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	ls = strlen(s);
	td = strdup(ls < size ? s + ls + 1 : "");
	CHECK(td != NULL);

	for (unsigned f = 0; f < 4; f++)
		check_parse(s, f);
	CHECK(spiffe_valid(s) == ref_parse(s, 0));
	rc = spiffe_pattern_check(s, &why);
	CHECK((rc == 0) == ref_pattern(s));
	CHECK(rc == 0 ? why == NULL : why != NULL && why[0] != '\0');
	check_domain(s, td);
	free(td);
	free(s);
	return (0);
}
