/*
 * Unit tests for ca/ca_name.c: workload names, trust domains, SPIFFE IDs.
 */
#include <check.h>
#include <string.h>

#include "ca_name.h"

Suite *ca_name_suite(void);

START_TEST(workload_accepts)
{
	static const char *good[] = {"postgres", "redis-0", "a", "0",
	    "db.svc.internal", "x1-y2.z",
	    "a23456789012345678901234567890"
	    "123456789012345678901234567890123"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(
		    ca_name_workload(good[i]) == 0, "refused %s", good[i]);
}
END_TEST

START_TEST(workload_refuses)
{
	static const char *bad[] = {"", "Postgres", "-db", "db-", "db.", ".db",
	    "a..b", "a_b", "a/b", "a b", "a:1", "ä", "db.-x", "x.db-", "*.db",
	    "../etc",
	    /* a 64-character label */
	    "a234567890123456789012345678901234567890123456789012345678901234"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(
		    ca_name_workload(bad[i]) == -1, "accepted %s", bad[i]);
	ck_assert_int_eq(ca_name_workload(NULL), -1);
}
END_TEST

START_TEST(workload_length_limit)
{
	char name[300];

	/* 4 labels of 63 + 3 dots = 255 > 253. */
	memset(name, 'a', sizeof(name));
	for (int i = 63; i < 255; i += 64)
		name[i] = '.';
	name[255] = '\0';
	ck_assert_int_eq(ca_name_workload(name), -1);
	name[253] = '\0';
	ck_assert_int_eq(ca_name_workload(name), 0);
}
END_TEST

START_TEST(trust_domain)
{
	ck_assert_int_eq(ca_name_trust_domain("cotai.test"), 0);
	ck_assert_int_eq(ca_name_trust_domain("prod_1.example"), 0);
	ck_assert_int_eq(ca_name_trust_domain("Cotai.test"), -1);
	ck_assert_int_eq(ca_name_trust_domain("cotai.test/"), -1);
	ck_assert_int_eq(ca_name_trust_domain("cotai:8443"), -1);
	ck_assert_int_eq(ca_name_trust_domain(""), -1);
}
END_TEST

START_TEST(ip_literals)
{
	ck_assert_int_eq(ca_name_ip("10.0.0.1"), 0);
	ck_assert_int_eq(ca_name_ip("::1"), 0);
	ck_assert_int_eq(ca_name_ip("fd00::42"), 0);
	ck_assert_int_eq(ca_name_ip("10.0.0.256"), -1);
	ck_assert_int_eq(ca_name_ip("10.0.0"), -1);
	ck_assert_int_eq(ca_name_ip("localhost"), -1);
	ck_assert_int_eq(ca_name_ip("10.0.0.0/8"), -1);
}
END_TEST

START_TEST(spiffe_id_build)
{
	char buf[CA_NAME_SPIFFE_MAX];

	ck_assert_int_eq(
	    ca_name_spiffe_id("cotai.test", "postgres", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "spiffe://cotai.test/postgres");
	ck_assert_int_eq(
	    ca_name_spiffe_id("cotai.test", "Bad", buf, sizeof(buf)), -1);
	ck_assert_int_eq(
	    ca_name_spiffe_id("cotai.test", "postgres", buf, 10), -1);
}
END_TEST

Suite *
ca_name_suite(void)
{
	Suite *s = suite_create("ca_name");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, workload_accepts);
	tcase_add_test(tc, workload_refuses);
	tcase_add_test(tc, workload_length_limit);
	tcase_add_test(tc, trust_domain);
	tcase_add_test(tc, ip_literals);
	tcase_add_test(tc, spiffe_id_build);
	suite_add_tcase(s, tc);
	return (s);
}
