/*
 * fuzz_policy: glob matching and pattern checks (lib/policy.c) and the
 * SPIFFE ID syntax (spiffe_valid in lib/identity.c).
 *
 * The input is split at NUL bytes: a pattern, a subject, then more patterns
 * for policy_match(). policy_glob() is compared with a plain dynamic-
 * programming matcher written from policy.h ('*' any run without '/', a run
 * of two or more '*' any run, '?' one character other than '/'), and
 * spiffe_valid() (lib/spiffe.c) with a checker written from spiffe.h. A valid
 * SPIFFE ID must also be a valid pattern that matches itself, both as a
 * spiffe:// pattern and by its bare name.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "spiffe.h"
#include "identity.h"
#include "policy.h"

#define MAX_PATTERNS 8

static char *const any[] = {"*"};

/*
 * Reference glob: M[i][j] says whether P[i..] matches S[j..], filled from
 * the ends. A run of stars is one token; positions inside a run are never
 * reached from outside it.
 */
static bool
ref_glob(const char *p, const char *s)
{
	size_t pl = strlen(p), sl = strlen(s), w = sl + 1;
	unsigned char *m = calloc((pl + 1) * w, 1);
	bool r;

	CHECK(m != NULL);
	m[pl * w + sl] = 1;
	for (size_t i = pl; i-- > 0;) {
		size_t run = 0;

		while (p[i + run] == '*')
			run++;
		for (size_t j = sl + 1; j-- > 0;) {
			unsigned char v;

			if (run > 0) {
				bool one =
				    s[j] != '\0' && (run >= 2 || s[j] != '/');

				v = m[(i + run) * w + j] ||
				    (one && m[i * w + j + 1]);
			} else if (p[i] == '?')
				v = s[j] != '\0' && s[j] != '/' &&
				    m[(i + 1) * w + j + 1];
			else
				v = s[j] == p[i] && m[(i + 1) * w + j + 1];
			m[i * w + j] = v;
		}
	}
	r = m[0] != 0;
	free(m);
	return (r);
}

static bool
td_char(char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-' || c == '_');
}

/* Reference SPIFFE ID check, written from spiffe.h. */
static bool
ref_spiffe(const char *u)
{
	size_t n = strlen(u), td;
	const char *p;

	if (n > 2048 || strncmp(u, "spiffe://", 9) != 0)
		return (false);
	p = u + 9;
	td = strcspn(p, "/");
	if (td == 0 || td > 255)
		return (false);
	for (size_t i = 0; i < td; i++) {
		if (!td_char(p[i]))
			return (false);
	}
	p += td;
	while (*p == '/') {
		size_t len = strcspn(++p, "/");

		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return (false);
		for (size_t i = 0; i < len; i++) {
			if (!td_char(p[i]) && !(p[i] >= 'A' && p[i] <= 'Z'))
				return (false);
		}
		p += len;
	}
	return (*p == '\0');
}

static void
check_pattern(const char *p)
{
	const char *why = "unset";
	int rc = spiffe_pattern_check(p, &why);

	CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		CHECK(why == NULL);
		CHECK(strlen(p) > 0 && strlen(p) <= 2048);
	} else
		CHECK(why != NULL && why[0] != '\0');
	CHECK(spiffe_pattern_check(p, NULL) == rc);
}

/* A valid SPIFFE ID: a valid pattern, and it matches itself. */
static void
check_valid_id(const char *u)
{
	struct identity id = {0};
	const char *slash = strchr(u + 9, '/');
	char *const self[] = {(char *)u};
	char td[256];

	CHECK(spiffe_pattern_check(u, NULL) == 0);
	CHECK(policy_glob(u, u));
	snprintf(td, sizeof(td), "%.*s",
	    (int)(slash != NULL ? (size_t)(slash - u - 9) : strlen(u + 9)),
	    u + 9);
	id.spiffe = (char *)u;
	id.trust_domain = td;
	CHECK(policy_match(self, 1, &id, NULL, 0) == 0);
	if (slash != NULL) {
		char *const bare[] = {(char *)slash + 1};

		id.name = (char *)slash + 1;
		CHECK(spiffe_pattern_check(id.name, NULL) == 0);
		CHECK(policy_match(bare, 1, &id, NULL, 0) == -1);
		CHECK(policy_match(bare, 1, &id, any, 1) == 0);
	}
}

/*
 * policy_match() is the first pattern that ref_glob() matches, a bare one
 * only when the subject's trust domain is in scope (HOME: its own, or
 * another, or "*").
 */
static void
check_match(char *const *pats, size_t n, const char *subject, bool home)
{
	struct identity id = {0};
	const char *slash;
	char td[256] = "", *const dom[] = {td};
	int want = -1;

	if (spiffe_valid(subject)) {
		id.spiffe = (char *)subject;
		slash = strchr(subject + 9, '/');
		if (slash != NULL)
			id.name = (char *)slash + 1;
		snprintf(td, sizeof(td), "%.*s",
		    (int)(slash != NULL ? (size_t)(slash - subject - 9)
					: strlen(subject + 9)),
		    subject + 9);
		id.trust_domain = td;
		for (size_t i = 0; i < n && want < 0; i++) {
			if (strncmp(pats[i], "spiffe://", 9) == 0
				? ref_glob(pats[i], id.spiffe)
				: home && id.name != NULL &&
				    ref_glob(pats[i], id.name))
				want = (int)i;
		}
	}
	CHECK(policy_match(pats, n, &id, home ? any : NULL, home ? 1 : 0) ==
	    want);
	/* Its own domain as the one home: the same answer. */
	if (home && id.spiffe != NULL)
		CHECK(policy_match(pats, n, &id, dom, 1) == want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2), *pats[MAX_PATTERNS + 1];
	const char *pattern, *subject;
	size_t n = 0;

	CHECK(buf != NULL);
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	pattern = buf;
	subject = pattern + strlen(pattern) + 1;
	if (subject > buf + size)
		subject = buf + size + 1;
	for (const char *p = subject + strlen(subject) + 1;
	     p < buf + size && n < MAX_PATTERNS; p += strlen(p) + 1)
		pats[n++] = (char *)p;

	CHECK(policy_glob(pattern, subject) == ref_glob(pattern, subject));
	CHECK(!policy_glob(NULL, subject) && !policy_glob(pattern, NULL));
	check_pattern(pattern);
	check_pattern(subject);
	CHECK(spiffe_valid(subject) == ref_spiffe(subject));
	CHECK(spiffe_valid(pattern) == ref_spiffe(pattern));
	if (ref_spiffe(subject))
		check_valid_id(subject);
	pats[n++] = (char *)pattern;
	check_match(pats, n, subject, true);
	check_match(pats, n, subject, false);
	free(buf);
	return (0);
}
