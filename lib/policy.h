/*
 * policy: pure decisions about who may use a route. A route lists patterns
 * (allow: on terminate routes, expect: on originate routes); a pattern is
 * either a bare workload name ("backend", "jobs/nightly-*"), matched against
 * the path of the peer's SPIFFE ID, or a full SPIFFE ID ("spiffe://td/backend",
 * globs allowed in the path), matched against the whole ID. The pattern
 * grammar is checked by spiffe_pattern_check() (lib/spiffe.h) when the
 * configuration is loaded. Nothing here allocates state, logs or looks at
 * a connection.
 */
#ifndef COTAI_POLICY_H
#define COTAI_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"

/*
 * Glob: '*' matches any run of characters except '/', '**' any run
 * including '/', '?' one character other than '/'; every other character
 * matches itself (case-sensitive). Runs in O(strlen(pattern) * strlen(s)).
 * False for NULL arguments or when memory runs out (fail closed).
 */
bool policy_glob(const char *pattern, const char *s);

/*
 * First pattern that matches the identity, or -1. A spiffe:// pattern
 * matches id->spiffe (its trust domain is part of it); a bare pattern
 * matches id->name, and only when id->trust_domain is one of DOMAINS
 * (NDOMAINS; "*" = any; none = no bare pattern matches: the route's
 * effective trust_domains, config.h). An identity without a SPIFFE ID
 * matches nothing.
 */
int policy_match(char *const *patterns, size_t n, const struct identity *id,
    char *const *domains, size_t ndomains);

#endif
