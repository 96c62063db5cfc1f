/*
 * rolemap: which database users (and databases) a peer identity may use on
 * a PostgreSQL route, from the route's `roles` map. Pure: nothing here
 * allocates, logs or looks at a connection.
 */
#ifndef COTAI_ROLEMAP_H
#define COTAI_ROLEMAP_H

#include <stdbool.h>

#include "config.h"
#include "identity.h"

/*
 * May ID log in as USER to database DB on route RC? True when RC has no
 * roles map, or when some entry's identity pattern matches ID and the entry
 * lists USER (or "*") and either lists no databases or lists DB (or "*").
 * An identity without a SPIFFE ID (or NULL) matches no entry.
 */
bool rolemap_allows(const struct config_route *rc, const struct identity *id,
    const char *user, const char *db);

#endif
