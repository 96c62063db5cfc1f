/*
 * Unit tests for ca/ca_index.c: parse/format round trip, corrupt lines.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca_index.h"

Suite *ca_index_suite(void);

static const char ca_index_sample[] =
    "# cotai-ca index v1\n"
    "S 0A1B2C3D4E5F60718293A4B5C6D7E8F9 1795847229 1796452089 - - ec-p256 "
    "backend /srv/certs\n"
    "R C01151420787C1FC8BFF384DC8B844D4 1795847229 1796452089 1795847300 "
    "keyCompromise ed25519 postgres /srv/my certs/with spaces\n"
    "V 8C01151420787C1FC8BFF384DC8B844D 1795847300 1796452100 - - rsa-3072 "
    "backend /srv/certs\n";

/* Format IDX into a malloc'd NUL-terminated string. */
static char *
format_index(const struct ca_index *idx)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *out;
	long len;

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(ca_index_format(idx, b), 0);
	len = BIO_get_mem_data(b, &data);
	out = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, data, (size_t)len);
	BIO_free(b);
	return (out);
}

START_TEST(round_trip)
{
	struct ca_index *idx;
	struct ca_index_entry *e;
	char *text;

	idx = ca_index_parse(ca_index_sample, strlen(ca_index_sample));
	ck_assert_ptr_nonnull(idx);
	ck_assert_uint_eq(ca_index_len(idx), 3);
	e = ca_index_at(idx, 1);
	ck_assert_int_eq(e->status, CA_INDEX_REVOKED);
	ck_assert_int_eq(e->reason, 1);
	ck_assert_int_eq(e->revoked_at, 1795847300);
	ck_assert_str_eq(e->out_dir, "/srv/my certs/with spaces");
	ck_assert_str_eq(e->key_type, "ed25519");
	ck_assert_int_eq(ca_index_at(idx, 0)->revoked_at, -1);
	text = format_index(idx);
	ck_assert_str_eq(text, ca_index_sample);
	free(text);
	ca_index_free(idx);
}
END_TEST

START_TEST(lookups)
{
	struct ca_index *idx;
	struct ca_index_entry *e;

	idx = ca_index_parse(ca_index_sample, strlen(ca_index_sample));
	ck_assert_ptr_nonnull(idx);
	e = ca_index_current(idx, "backend");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->serial, "8C01151420787C1FC8BFF384DC8B844D");
	ck_assert_ptr_null(ca_index_current(idx, "postgres"));
	ck_assert_ptr_null(ca_index_current(idx, "nobody"));
	e = ca_index_find_serial(idx, "00c01151420787c1fc8bff384dc8b844d4");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->name, "postgres");
	ck_assert_ptr_null(ca_index_find_serial(idx, "C0"));
	ca_index_free(idx);
}
END_TEST

START_TEST(add_and_format)
{
	struct ca_index *idx = ca_index_new();
	struct ca_index_entry e;
	char *text;

	ck_assert_ptr_nonnull(idx);
	memset(&e, 0, sizeof(e));
	e.status = CA_INDEX_VALID;
	snprintf(e.serial, sizeof(e.serial), "ABCDEF");
	e.not_before = 100;
	e.not_after = 200;
	e.revoked_at = -1;
	e.reason = -1;
	snprintf(e.key_type, sizeof(e.key_type), "ec-p256");
	snprintf(e.name, sizeof(e.name), "redis");
	snprintf(e.out_dir, sizeof(e.out_dir), "/out");
	ck_assert_int_eq(ca_index_add(idx, &e), 0);
	text = format_index(idx);
	ck_assert_str_eq(text,
	    "# cotai-ca index v1\n"
	    "V ABCDEF 100 200 - - ec-p256 redis /out\n");
	free(text);
	/* An entry the parser would refuse is refused here too. */
	snprintf(e.name, sizeof(e.name), "Bad_Name");
	ck_assert_int_eq(ca_index_add(idx, &e), -1);
	snprintf(e.name, sizeof(e.name), "redis");
	e.revoked_at = 150;
	ck_assert_int_eq(ca_index_add(idx, &e), -1);
	ck_assert_uint_eq(ca_index_len(idx), 1);
	ca_index_free(idx);
}
END_TEST

START_TEST(corrupt_lines_refused)
{
	static const char *bad[] = {
	    /* unknown status */
	    "X ABCDEF 100 200 - - ec-p256 redis /out\n",
	    /* too few fields */
	    "V ABCDEF 100 200 - - ec-p256 redis\n",
	    /* lower-case / non-hex serial */
	    "V abcdef 100 200 - - ec-p256 redis /out\n",
	    "V XYZ 100 200 - - ec-p256 redis /out\n",
	    /* notAfter before notBefore, non-numeric times */
	    "V ABCDEF 200 100 - - ec-p256 redis /out\n",
	    "V ABCDEF 1OO 200 - - ec-p256 redis /out\n",
	    "V ABCDEF -5 200 - - ec-p256 redis /out\n",
	    /* revoked without a date or reason; valid with one */
	    "R ABCDEF 100 200 - - ec-p256 redis /out\n",
	    "V ABCDEF 100 200 150 keyCompromise ec-p256 redis /out\n",
	    "R ABCDEF 100 200 150 bogusReason ec-p256 redis /out\n",
	    /* key type, name, output directory */
	    "V ABCDEF 100 200 - - dsa-1024 redis /out\n",
	    "V ABCDEF 100 200 - - ec-p256 Redis /out\n",
	    "V ABCDEF 100 200 - - ec-p256 redis relative/out\n",
	    /* double space, missing final newline, NUL byte */
	    "V ABCDEF  100 200 - - ec-p256 redis /out\n",
	    "V ABCDEF 100 200 - - ec-p256 redis /out",
	    "",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *s = bad[i];
		size_t len = strlen(s);
		struct ca_index *idx;

		if (len == 0) {
			static const char nul[] =
			    "V ABCDEF 100 200 - - ec-p256 re\0is /out\n";
			s = nul;
			len = sizeof(nul) - 1;
		}
		idx = ca_index_parse(s, len);
		ck_assert_msg(idx == NULL, "accepted line %zu: %s", i, s);
	}
}
END_TEST

START_TEST(good_line_after_bad_still_refused)
{
	static const char text[] = "# cotai-ca index v1\n"
				   "V ABCDEF 100 200 - - ec-p256 redis /out\n"
				   "garbage\n"
				   "V ABCDE0 100 200 - - ec-p256 redis2 /out\n";

	ck_assert_ptr_null(ca_index_parse(text, strlen(text)));
}
END_TEST

START_TEST(reasons)
{
	int code = -5;

	ck_assert_int_eq(ca_index_reason_parse("keyCompromise", &code), 0);
	ck_assert_int_eq(code, 1);
	ck_assert_int_eq(
	    ca_index_reason_parse("cessationofoperation", &code), 0);
	ck_assert_int_eq(code, 5);
	ck_assert_int_eq(ca_index_reason_parse("certificateHold", &code), -1);
	ck_assert_str_eq(ca_index_reason_name(4), "superseded");
	ck_assert_str_eq(ca_index_reason_name(-1), "-");
}
END_TEST

Suite *
ca_index_suite(void)
{
	Suite *s = suite_create("ca_index");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, lookups);
	tcase_add_test(tc, add_and_format);
	tcase_add_test(tc, corrupt_lines_refused);
	tcase_add_test(tc, good_line_after_bad_still_refused);
	tcase_add_test(tc, reasons);
	suite_add_tcase(s, tc);
	return (s);
}
