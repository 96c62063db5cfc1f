/*
 * Unit tests for proxy/proto/rolemap.c: which identities may log in as which
 * database users and databases, from a route's roles map.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rolemap.h"

Suite *rolemap_suite(void);

static char *backend_users[] = {"app", "app_ro"};
static char *jobs_users[] = {"batch"};
static char *jobs_dbs[] = {"jobs", "reports"};
static char *any[] = {"*"};
static char *admin_dbs[] = {"*"};
/* The route's effective trust_domains (config_scope.c): home only. */
static char *home[] = {"cotai.internal"};

static struct config_pg_role roles[] = {
    {"backend", backend_users, 2, NULL, 0},
    {"jobs/*", jobs_users, 1, jobs_dbs, 2},
    {"spiffe://cotai.internal/admin", any, 1, admin_dbs, 1},
};

/* An identity with SPIFFE ID spiffe://TD/NAME (NAME NULL: none). */
static struct identity
id_of(const char *td, const char *name)
{
	static char spiffe[256];
	struct identity id;

	memset(&id, 0, sizeof(id));
	if (name == NULL)
		return (id);
	snprintf(spiffe, sizeof(spiffe), "spiffe://%s/%s", td, name);
	id.spiffe = spiffe;
	id.name = (char *)(spiffe + strlen("spiffe://") + strlen(td) + 1);
	id.trust_domain = (char *)td;
	return (id);
}

struct role_case {
	const char *td, *name, *user, *db;
	bool want;
};

static const struct role_case cases[] = {
    {"cotai.internal", "backend", "app", "app", true},
    /* A bare role pattern matches only in the home trust domain. */
    {"other.td", "backend", "app_ro", "anything", false},
    {"cotai.internal", "backend", "app_ro", "anything", true},
    {"cotai.internal", "backend", "batch", "jobs", false},
    {"cotai.internal", "backend", "App", "app", false},
    {"cotai.internal", "backend", "app ", "app", false},
    {"cotai.internal", "jobs/nightly", "batch", "jobs", true},
    {"cotai.internal", "jobs/nightly", "batch", "reports", true},
    {"cotai.internal", "jobs/nightly", "batch", "app", false},
    {"cotai.internal", "jobs/nightly", "app", "jobs", false},
    {"cotai.internal", "jobs/a/b", "batch", "jobs", false},
    {"cotai.internal", "admin", "postgres", "postgres", true},
    {"other.td", "admin", "postgres", "postgres", false},
    {"cotai.internal", "intruder", "app", "app", false},
    {"cotai.internal", NULL, "app", "app", false},
};

START_TEST(allows)
{
	const struct role_case *c = &cases[_i];
	struct config_route rc;
	struct identity id = id_of(c->td, c->name);

	memset(&rc, 0, sizeof(rc));
	rc.roles = roles;
	rc.nroles = sizeof(roles) / sizeof(roles[0]);
	rc.trust_domains = home;
	rc.ntrust_domains = 1;
	ck_assert_msg(rolemap_allows(&rc, &id, c->user, c->db) == c->want,
	    "case %d: %s as %s/%s", _i, c->name ? c->name : "(none)", c->user,
	    c->db);
}
END_TEST

START_TEST(no_map_allows_all)
{
	struct config_route rc;
	struct identity id = id_of("td", "x");

	memset(&rc, 0, sizeof(rc));
	ck_assert(rolemap_allows(&rc, &id, "anyone", "anything"));
	ck_assert(rolemap_allows(&rc, NULL, "anyone", "anything"));
	rc.roles = roles;
	rc.nroles = 1;
	ck_assert(!rolemap_allows(&rc, NULL, "app", "app"));
	ck_assert(!rolemap_allows(&rc, &id, NULL, "app"));
}
END_TEST

Suite *
rolemap_suite(void)
{
	Suite *s = suite_create("rolemap");
	TCase *tc = tcase_create("rolemap");

	tcase_add_loop_test(
	    tc, allows, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, no_map_allows_all);
	suite_add_tcase(s, tc);
	return (s);
}
