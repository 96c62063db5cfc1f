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

#include "spiffe.h"

enum { TOK_Q = 256, TOK_STAR, TOK_DSTAR };

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

/* Is TD one of DOMAINS (N), or is "*" among them? */
static bool
policy_domain(char *const *domains, size_t n, const char *td)
{
	for (size_t i = 0; td != NULL && i < n; i++) {
		if (domains[i] != NULL &&
		    (strcmp(domains[i], "*") == 0 ||
			strcmp(domains[i], td) == 0))
			return (true);
	}
	return (false);
}

int
policy_match(char *const *patterns, size_t n, const struct identity *id,
    char *const *domains, size_t ndomains)
{
	bool home;

	if (patterns == NULL || id == NULL || id->spiffe == NULL)
		return (-1);
	home = policy_domain(domains, ndomains, id->trust_domain);
	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];

		if (p == NULL)
			continue;
		if (strncmp(p, SPIFFE_PREFIX, SPIFFE_PREFIX_LEN) == 0) {
			if (policy_glob(p, id->spiffe))
				return ((int)i);
		} else if (home && id->name != NULL && policy_glob(p, id->name))
			return ((int)i);
	}
	return (-1);
}
