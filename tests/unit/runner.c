/*
 * The one Check runner: every tests/unit/check_<name>.c contributes
 * <name>_suite(), listed by the Makefile in unit_suites.h. CK_FORK=yes (the
 * Makefile's default) runs each test in its own process.
 */
#include <check.h>
#include <stdlib.h>

#include "unit_suites.h"

#define X(name) Suite *name##_suite(void);
UNIT_SUITES
#undef X

int
main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#define X(name) srunner_add_suite(sr, name##_suite());
	UNIT_SUITES
#undef X
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
