/*
 * Unit tests for ca/ca_store.c: atomic writes, private-file checks,
 * mkdir -p, opening (and locking) the state directory.
 */
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca_store.h"

Suite *ca_store_suite(void);

static char tmp[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

static void
setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/check_ca_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void
teardown(void)
{
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
path_in(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", tmp, name);
	return (buf);
}

/* Number of entries in the temporary directory (without . and ..). */
static int
count_entries(void)
{
	DIR *d = opendir(tmp);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return (n);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	return (st.st_mode & 07777);
}

START_TEST(atomic_write_replaces)
{
	char buf[32] = "";
	FILE *f;

	ck_assert_int_eq(
	    ca_store_write_atomic(path_in("a.key"), "one\n", 4, 0600), 0);
	ck_assert_uint_eq(mode_of(path_in("a.key")), 0600);
	ck_assert_int_eq(
	    ca_store_write_atomic(path_in("a.key"), "second\n", 7, 0644), 0);
	ck_assert_uint_eq(mode_of(path_in("a.key")), 0644);
	f = fopen(path_in("a.key"), "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "second\n");
	/* No temporary file is left behind. */
	ck_assert_int_eq(count_entries(), 1);
}
END_TEST

START_TEST(atomic_write_fails_cleanly)
{
	ck_assert_int_eq(
	    ca_store_write_atomic(path_in("missing/x"), "x", 1, 0600), -1);
	ck_assert_int_eq(count_entries(), 0);
}
END_TEST

START_TEST(private_checks)
{
	ck_assert_int_eq(chmod(tmp, 0700), 0);
	ck_assert_int_eq(ca_store_check_private(tmp), 0);
	ck_assert_int_eq(chmod(tmp, 0750), 0);
	ck_assert_int_eq(ca_store_check_private(tmp), -1);
	ck_assert_int_eq(chmod(tmp, 0701), 0);
	ck_assert_int_eq(ca_store_check_private(tmp), -1);
	ck_assert_int_eq(chmod(tmp, 0700), 0);
	ck_assert_int_eq(ca_store_write_atomic(path_in("k"), "k", 1, 0640), 0);
	ck_assert_int_eq(ca_store_check_private(path_in("k")), -1);
	ck_assert_int_eq(chmod(path_in("k"), 0600), 0);
	ck_assert_int_eq(ca_store_check_private(path_in("k")), 0);
	ck_assert_int_eq(symlink("k", path_in("link")), 0);
	ck_assert_int_eq(ca_store_check_private(path_in("link")), -1);
	ck_assert_int_eq(ca_store_check_private(path_in("nope")), -1);
}
END_TEST

START_TEST(read_refuses_symlink)
{
	BIO *b;

	ck_assert_int_eq(
	    ca_store_write_atomic(path_in("f"), "data", 4, 0600), 0);
	ck_assert_int_eq(symlink("f", path_in("l")), 0);
	ck_assert_ptr_null(ca_store_read_bio(path_in("l"), 1));
	b = ca_store_read_bio(path_in("l"), 0);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(BIO_pending(b), 4);
	BIO_free(b);
}
END_TEST

START_TEST(mkdirs_nested)
{
	ck_assert_int_eq(ca_store_mkdirs(path_in("a/b/c")), 0);
	ck_assert_uint_eq(mode_of(path_in("a/b/c")), 0700);
	ck_assert_int_eq(ca_store_mkdirs(path_in("a/b/c/")), 0);
	ck_assert_int_eq(
	    ca_store_write_atomic(path_in("file"), "x", 1, 0600), 0);
	ck_assert_int_eq(ca_store_mkdirs(path_in("file/sub")), -1);
}
END_TEST

START_TEST(open_create_and_lock)
{
	struct ca_store *s;
	char p[256];

	s = ca_store_open(path_in("pki"), CA_STORE_CREATE | CA_STORE_LOCK);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(mode_of(path_in("pki")), 0700);
	ck_assert_int_eq(ca_store_path(s, "index", p, sizeof(p)), 0);
	ck_assert_str_eq(p, path_in("pki/index"));
	ck_assert_int_eq(ca_store_path(s, "index", p, 8), -1);
	ck_assert_uint_eq(mode_of(path_in("pki/lock")), 0600);
	ca_store_free(s);
	ca_store_free(NULL);
	/* A symlink to a good directory is refused, as is a missing one. */
	ck_assert_int_eq(symlink("pki", path_in("pki-link")), 0);
	ck_assert_ptr_null(ca_store_open(path_in("pki-link"), 0));
	ck_assert_ptr_null(ca_store_open(path_in("none"), 0));
}
END_TEST

Suite *
ca_store_suite(void)
{
	Suite *s = suite_create("ca_store");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, atomic_write_replaces);
	tcase_add_test(tc, atomic_write_fails_cleanly);
	tcase_add_test(tc, private_checks);
	tcase_add_test(tc, read_refuses_symlink);
	tcase_add_test(tc, mkdirs_nested);
	tcase_add_test(tc, open_create_and_lock);
	suite_add_tcase(s, tc);
	return (s);
}
