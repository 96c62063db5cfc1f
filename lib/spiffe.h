/*
 * spiffe: the one SPIFFE ID grammar of cotai, shared by cotai-ca (names it
 * issues and verifies), the identity taken from a peer certificate, and
 * the allow/expect patterns of the proxy's configuration. Pure functions:
 * no allocation, no logging; every check returns 0, or -1 with a static
 * reason in *why (why may be NULL).
 *
 * A SPIFFE ID is "spiffe://" (lower case) + a trust domain + zero or more
 * path segments "/seg":
 * - the trust domain is 1-255 characters of [a-z0-9._-]: no upper case,
 *   port, user info or percent-encoding;
 * - each segment is non-empty, not "." or "..", of [A-Za-z0-9._-]; no
 *   trailing '/', no query or fragment;
 * - the whole ID is at most SPIFFE_MAX bytes.
 * A pattern (allow:, expect:, roles[].identity) is either such an ID whose
 * path segments may also hold the globs '*', '**' and '?' (never the trust
 * domain), or a bare path ("backend", "jobs/nightly-*") with the same
 * segment rules and no leading '/'.
 */
#ifndef COTAI_SPIFFE_H
#define COTAI_SPIFFE_H

#include <stdbool.h>
#include <stddef.h>

#define SPIFFE_PREFIX "spiffe://"
#define SPIFFE_PREFIX_LEN 9
/* Longest SPIFFE ID or pattern, in bytes. */
#define SPIFFE_MAX 2048
/* Longest trust domain. */
#define SPIFFE_TD_MAX 255

/* Flags for spiffe_parse() and spiffe_path_check(). */
#define SPIFFE_GLOB 0x1u      /* segments may hold '*' and '?' */
#define SPIFFE_NEED_PATH 0x2u /* "spiffe://td" alone is refused */

/* The parts of a parsed ID; both point into the parsed string. */
struct spiffe_id {
	const char *td; /* the trust domain, TDLEN bytes (not terminated) */
	size_t tdlen;
	const char *path; /* the path after the first '/', or "" if none */
};

/*
 * Parse S as a SPIFFE ID (with FLAGS). On success fills *OUT (may be NULL)
 * and returns 0; -1 with the reason otherwise.
 */
int spiffe_parse(
    const char *s, unsigned flags, struct spiffe_id *out, const char **why);

/* True when S is a valid SPIFFE ID (no globs; the path may be empty). */
bool spiffe_valid(const char *s);

/* The LEN bytes at TD as a trust domain; 0 or -1 with the reason. */
int spiffe_td_check(const char *td, size_t len, const char **why);

/*
 * PATH ("a/b/c", no leading '/') as one or more segments, '*' and '?'
 * allowed with SPIFFE_GLOB; 0 or -1 with the reason.
 */
int spiffe_path_check(const char *path, unsigned flags, const char **why);

/*
 * An allow/expect pattern: a spiffe:// ID with SPIFFE_GLOB or a bare
 * path with globs (see above); 0 or -1 with the reason.
 */
int spiffe_pattern_check(const char *pattern, const char **why);

/*
 * Does the trust domain of the SPIFFE ID ID (valid, or NULL) equal the
 * NUL-terminated TD? False for NULL arguments.
 */
bool spiffe_in_domain(const char *id, const char *td);

#endif
