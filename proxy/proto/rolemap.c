/*
 * rolemap: see rolemap.h.
 */
#include "rolemap.h"

#include <string.h>

#include "policy.h"

/* Is S in LIST[0..N), or is "*" there? */
static bool
rolemap_listed(char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i], "*") == 0 || strcmp(list[i], s) == 0)
			return (true);
	}
	return (false);
}

bool
rolemap_allows(const struct config_route *rc, const struct identity *id,
    const char *user, const char *db)
{
	if (rc->nroles == 0)
		return (true);
	if (id == NULL || user == NULL || db == NULL)
		return (false);
	for (size_t i = 0; i < rc->nroles; i++) {
		const struct config_pg_role *r = &rc->roles[i];

		if (policy_match(&r->identity, 1, id, rc->trust_domains,
			rc->ntrust_domains) < 0 ||
		    !rolemap_listed(r->users, r->nusers, user))
			continue;
		if (r->ndatabases == 0 ||
		    rolemap_listed(r->databases, r->ndatabases, db))
			return (true);
	}
	return (false);
}
