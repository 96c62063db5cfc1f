/*
 * policy: see policy.h.
 *
 * The glob is matched by simulating its automaton: the pattern is split
 * into tokens (a literal, '?', '*', '**') and a set of live token positions
 * advances over the subject one character at a time, so a pathological
 * pattern such as "**a**a**a**b" costs O(pattern * subject), never the
 * exponential time of naive backtracking.
 */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

#define POLICY_MAX 2048
#define SPIFFE_PREFIX "spiffe://"
#define SPIFFE_PREFIX_LEN 9

enum { TOK_Q = 256, TOK_STAR, TOK_DSTAR };

static bool
policy_segchar(char ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' ||
	    ch == '*' || ch == '?');
}

/* Check '/'-separated path segments (globs allowed). */
static int
policy_check_path(const char *p, const char **why)
{
	const char *seg = p;

	for (;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t len = (size_t)(p - seg);

			if (len == 0) {
				*why = "empty path segment";
				return (-1);
			}
			if ((len == 1 && seg[0] == '.') ||
			    (len == 2 && seg[0] == '.' && seg[1] == '.')) {
				*why = "'.' and '..' segments are not allowed";
				return (-1);
			}
			if (*p == '\0')
				return (0);
			seg = p + 1;
		} else if (!policy_segchar(*p)) {
			*why = "invalid character (allowed: A-Z a-z 0-9 . - _ "
			       "and the globs * ** ?)";
			return (-1);
		}
	}
}

/* A spiffe:// pattern: literal lower-case trust domain, glob path. */
static int
policy_check_spiffe(const char *p, const char **why)
{
	const char *td = p + SPIFFE_PREFIX_LEN, *q;

	for (q = td; *q != '\0' && *q != '/'; q++) {
		if (*q == '*' || *q == '?') {
			*why = "globs are not allowed in the trust domain";
			return (-1);
		}
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
			*q == '.' || *q == '-' || *q == '_')) {
			*why = "invalid trust domain (allowed: a-z 0-9 . - _)";
			return (-1);
		}
	}
	if (q == td) {
		*why = "empty trust domain";
		return (-1);
	}
	if (*q == '\0')
		return (0);
	return (policy_check_path(q + 1, why));
}

int
policy_pattern_check(const char *pattern, const char **why)
{
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (pattern == NULL || *pattern == '\0') {
		*why = "empty pattern";
		return (-1);
	}
	if (strlen(pattern) > POLICY_MAX) {
		*why = "pattern longer than 2048 bytes";
		return (-1);
	}
	if (strncmp(pattern, SPIFFE_PREFIX, SPIFFE_PREFIX_LEN) == 0)
		return (policy_check_spiffe(pattern, why));
	if (strchr(pattern, ':') != NULL) {
		*why = "not a name or a spiffe:// ID (the scheme must be "
		       "lower-case spiffe)";
		return (-1);
	}
	if (pattern[0] == '/') {
		*why = "a name has no leading '/' (or use spiffe://...)";
		return (-1);
	}
	return (policy_check_path(pattern, why));
}

/* Split PATTERN into tokens; returns how many. */
static size_t
policy_tokens(const char *pattern, int *tok)
{
	size_t n = 0;

	while (*pattern != '\0') {
		if (pattern[0] == '*' && pattern[1] == '*') {
			while (*pattern == '*')
				pattern++;
			tok[n++] = TOK_DSTAR;
		} else if (*pattern == '*') {
			pattern++;
			tok[n++] = TOK_STAR;
		} else if (*pattern == '?') {
			pattern++;
			tok[n++] = TOK_Q;
		} else
			tok[n++] = (unsigned char)*pattern++;
	}
	return (n);
}

/* Stars match the empty string: let live positions skip them. */
static void
policy_closure(const int *tok, size_t n, unsigned char *set)
{
	for (size_t j = 0; j < n; j++) {
		if (set[j] && (tok[j] == TOK_STAR || tok[j] == TOK_DSTAR))
			set[j + 1] = 1;
	}
}

bool
policy_glob(const char *pattern, const char *s)
{
	int *tok = NULL;
	unsigned char *cur = NULL, *next = NULL, *tmp;
	size_t n, plen;
	bool match = false;

	if (pattern == NULL || s == NULL)
		return (false);
	plen = strlen(pattern);
	if ((tok = calloc(plen + 1, sizeof(*tok))) == NULL ||
	    (cur = calloc(plen + 1, 1)) == NULL ||
	    (next = calloc(plen + 1, 1)) == NULL)
		goto out;
	n = policy_tokens(pattern, tok);
	cur[0] = 1;
	policy_closure(tok, n, cur);
	for (; *s != '\0'; s++) {
		int ch = (unsigned char)*s;
		bool live = false;

		memset(next, 0, n + 1);
		for (size_t j = 0; j < n; j++) {
			if (!cur[j])
				continue;
			if (tok[j] == TOK_DSTAR ||
			    (tok[j] == TOK_STAR && ch != '/'))
				next[j] = live = 1;
			else if (tok[j] == ch || (tok[j] == TOK_Q && ch != '/'))
				next[j + 1] = live = 1;
		}
		if (!live)
			goto out;
		policy_closure(tok, n, next);
		tmp = cur;
		cur = next;
		next = tmp;
	}
	match = cur[n] != 0;
out:
	free(tok);
	free(cur);
	free(next);
	return (match);
}

int
policy_match(char *const *patterns, size_t n, const struct identity *id)
{
	if (patterns == NULL || id == NULL || id->spiffe == NULL)
		return (-1);
	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];

		if (p == NULL)
			continue;
		if (strncmp(p, SPIFFE_PREFIX, SPIFFE_PREFIX_LEN) == 0) {
			if (policy_glob(p, id->spiffe))
				return ((int)i);
		} else if (id->name != NULL && policy_glob(p, id->name))
			return ((int)i);
	}
	return (-1);
}
