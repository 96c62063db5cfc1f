/*
 * spiffe: see spiffe.h.
 */
#include "spiffe.h"

#include <string.h>

static bool
spiffe_tdchar(char ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	    ch == '.' || ch == '-' || ch == '_');
}

static bool
spiffe_segchar(char ch, unsigned flags)
{
	return (spiffe_tdchar(ch) || (ch >= 'A' && ch <= 'Z') ||
	    ((flags & SPIFFE_GLOB) && (ch == '*' || ch == '?')));
}

/* Store the reason and fail. */
static int
spiffe_fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return (-1);
}

int
spiffe_td_check(const char *td, size_t len, const char **why)
{
	if (why != NULL)
		*why = NULL;
	if (td == NULL || len == 0)
		return (spiffe_fail(why, "empty trust domain"));
	if (len > SPIFFE_TD_MAX)
		return (spiffe_fail(
		    why, "trust domain longer than 255 characters"));
	for (size_t i = 0; i < len; i++) {
		if (td[i] == '*' || td[i] == '?')
			return (spiffe_fail(
			    why, "globs are not allowed in the trust domain"));
		if (!spiffe_tdchar(td[i]))
			return (spiffe_fail(why,
			    "invalid trust domain (allowed: a-z 0-9 . - _)"));
	}
	return (0);
}

int
spiffe_path_check(const char *path, unsigned flags, const char **why)
{
	const char *seg = path, *p;

	if (why != NULL)
		*why = NULL;
	if (path == NULL)
		return (spiffe_fail(why, "empty path segment"));
	for (p = path;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t len = (size_t)(p - seg);

			if (len == 0)
				return (spiffe_fail(why, "empty path segment"));
			if ((len == 1 && seg[0] == '.') ||
			    (len == 2 && seg[0] == '.' && seg[1] == '.'))
				return (spiffe_fail(why,
				    "'.' and '..' segments are not allowed"));
			if (*p == '\0')
				return (0);
			seg = p + 1;
		} else if (!spiffe_segchar(*p, flags)) {
			return (spiffe_fail(why,
			    (flags & SPIFFE_GLOB)
				? "invalid character (allowed: A-Z a-z 0-9 . "
				  "- _ and the globs * ** ?)"
				: "invalid character (allowed: A-Z a-z 0-9 . "
				  "- _)"));
		}
	}
}

int
spiffe_parse(
    const char *s, unsigned flags, struct spiffe_id *out, const char **why)
{
	const char *td, *slash;
	size_t tdlen;

	if (why != NULL)
		*why = NULL;
	if (s == NULL || *s == '\0')
		return (spiffe_fail(why, "empty SPIFFE ID"));
	if (strnlen(s, SPIFFE_MAX + 1) > SPIFFE_MAX)
		return (spiffe_fail(why, "longer than 2048 bytes"));
	if (strncmp(s, SPIFFE_PREFIX, SPIFFE_PREFIX_LEN) != 0)
		return (spiffe_fail(why,
		    "not a spiffe:// ID (the scheme must "
		    "be lower-case spiffe)"));
	td = s + SPIFFE_PREFIX_LEN;
	slash = strchr(td, '/');
	tdlen = slash != NULL ? (size_t)(slash - td) : strlen(td);
	if (spiffe_td_check(td, tdlen, why) != 0)
		return (-1);
	if (slash == NULL && (flags & SPIFFE_NEED_PATH))
		return (spiffe_fail(why, "no path after the trust domain"));
	if (slash != NULL && spiffe_path_check(slash + 1, flags, why) != 0)
		return (-1);
	if (out != NULL) {
		out->td = td;
		out->tdlen = tdlen;
		out->path = slash != NULL ? slash + 1 : "";
	}
	return (0);
}

bool
spiffe_valid(const char *s)
{
	return (spiffe_parse(s, 0, NULL, NULL) == 0);
}

int
spiffe_pattern_check(const char *pattern, const char **why)
{
	if (why != NULL)
		*why = NULL;
	if (pattern == NULL || *pattern == '\0')
		return (spiffe_fail(why, "empty pattern"));
	if (strnlen(pattern, SPIFFE_MAX + 1) > SPIFFE_MAX)
		return (spiffe_fail(why, "pattern longer than 2048 bytes"));
	if (strncmp(pattern, SPIFFE_PREFIX, SPIFFE_PREFIX_LEN) == 0)
		return (spiffe_parse(pattern, SPIFFE_GLOB, NULL, why));
	if (strchr(pattern, ':') != NULL)
		return (spiffe_fail(why,
		    "not a name or a spiffe:// ID (the "
		    "scheme must be lower-case spiffe)"));
	if (pattern[0] == '/')
		return (spiffe_fail(
		    why, "a name has no leading '/' (or use spiffe://...)"));
	return (spiffe_path_check(pattern, SPIFFE_GLOB, why));
}

bool
spiffe_in_domain(const char *id, const char *td)
{
	struct spiffe_id p;

	if (id == NULL || td == NULL ||
	    spiffe_parse(id, SPIFFE_GLOB, &p, NULL) != 0)
		return (false);
	return (p.tdlen == strlen(td) && memcmp(p.td, td, p.tdlen) == 0);
}
