/*
 * Unit tests for proxy/audit/spool.c: the audit collector's overflow file keeps
 * records in order across reads, acks, a rewind and a restart, refuses
 * appends past its bound, cuts a damaged tail and refuses a file that is
 * not a spool.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

Suite *spool_suite(void);

static char dir[64], path[96];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_spool.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.spool", dir);
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static off_t
file_size(void)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (st.st_size);
}

/* Append "rec-I" for I in [from, to). */
static void
add(struct spool *sp, int from, int to)
{
	char b[32];

	for (int i = from; i < to; i++) {
		int n = snprintf(b, sizeof(b), "rec-%d", i);
		ck_assert_int_eq(spool_append(sp, b, (size_t)n), 0);
	}
}

/* Read the next record and check it is "rec-I"; its end in *next. */
static void
expect(struct spool *sp, int i, uint64_t *next)
{
	static char buf[SPOOL_REC_MAX];
	char want[32];
	size_t len;

	snprintf(want, sizeof(want), "rec-%d", i);
	ck_assert_int_eq(spool_next(sp, buf, &len, next), 1);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_int_eq(memcmp(buf, want, len), 0);
}

START_TEST(order_ack_and_shrink)
{
	struct spool *sp = spool_open(path, 1 << 20);
	char buf[64];
	uint64_t next = 0;
	size_t len;

	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(file_size(), SPOOL_HDR);
	add(sp, 0, 5);
	ck_assert_uint_eq(spool_pending(sp), 5);
	for (int i = 0; i < 5; i++)
		expect(sp, i, &next);
	ck_assert_int_eq(spool_next(sp, buf, &len, &next), 0);
	/* Read is not delivered: still pending until acked. */
	ck_assert_uint_eq(spool_pending(sp), 5);
	ck_assert_int_eq(spool_ack(sp, next, 5), 0);
	ck_assert_uint_eq(spool_pending(sp), 0);
	ck_assert_int_eq(file_size(), SPOOL_HDR);
	/* Appends after the shrink start at the header again. */
	add(sp, 5, 7);
	ck_assert_int_eq(file_size(), SPOOL_HDR + 2 * (SPOOL_REC_HDR + 5));
	expect(sp, 5, &next);
	expect(sp, 6, &next);
	spool_free(sp);
}
END_TEST

START_TEST(rewind_sends_again_from_the_head)
{
	struct spool *sp = spool_open(path, 1 << 20);
	uint64_t next = 0, after2 = 0;

	add(sp, 0, 4);
	expect(sp, 0, &next);
	expect(sp, 1, &after2);
	ck_assert_int_eq(spool_ack(sp, after2, 2), 0);
	expect(sp, 2, &next);
	expect(sp, 3, &next);
	/* The connection broke before 2 and 3 were delivered. */
	spool_rewind(sp);
	expect(sp, 2, &next);
	expect(sp, 3, &next);
	ck_assert(!spool_unread(sp));
	spool_free(sp);
}
END_TEST

START_TEST(restart_keeps_what_was_not_delivered)
{
	struct spool *sp = spool_open(path, 1 << 20);
	uint64_t next = 0;

	add(sp, 0, 6);
	expect(sp, 0, &next);
	expect(sp, 1, &next);
	expect(sp, 2, &next);
	ck_assert_int_eq(spool_ack(sp, next, 3), 0);
	expect(sp, 3, &next); /* read, never acked */
	spool_free(sp);

	sp = spool_open(path, 1 << 20);
	ck_assert_ptr_nonnull(sp);
	ck_assert_uint_eq(spool_pending(sp), 3);
	expect(sp, 3, &next);
	add(sp, 6, 7);
	expect(sp, 4, &next);
	expect(sp, 5, &next);
	expect(sp, 6, &next);
	spool_free(sp);
}
END_TEST

START_TEST(full_refuses_and_keeps_the_bound)
{
	struct spool *sp = spool_open(path, 4096);
	char rec[1000];
	int ok = 0, full = 0;

	memset(rec, 'x', sizeof(rec));
	for (int i = 0; i < 10; i++) {
		int rc = spool_append(sp, rec, sizeof(rec));
		ck_assert(rc == 0 || rc == 1);
		if (rc == 0)
			ok++;
		else
			full++;
	}
	ck_assert_int_eq(ok, 4); /* 16 + 4 * 1008 <= 4096 */
	ck_assert_int_eq(full, 6);
	ck_assert_int_le(file_size(), 4096);
	ck_assert_uint_eq(spool_pending(sp), 4);
	/* Bad lengths are refused outright. */
	ck_assert_int_eq(spool_append(sp, rec, 0), -1);
	spool_free(sp);
}
END_TEST

START_TEST(damaged_tail_is_cut)
{
	struct spool *sp = spool_open(path, 1 << 20);
	off_t good;
	int fd;

	add(sp, 0, 3);
	spool_free(sp);
	good = file_size();
	/* A crash in the middle of an append: half a record header. */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "\x05\x00\x00", 3), 3);
	close(fd);
	sp = spool_open(path, 1 << 20);
	ck_assert_ptr_nonnull(sp);
	ck_assert_uint_eq(spool_pending(sp), 3);
	ck_assert_int_eq(file_size(), good);
	spool_free(sp);
	/* A flipped byte in the second record (\"rec-1\"): it and what
	 * follows are cut. */
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "X", 1,
			     SPOOL_HDR + SPOOL_REC_HDR + 5 + SPOOL_REC_HDR + 1),
	    1);
	close(fd);
	sp = spool_open(path, 1 << 20);
	ck_assert_uint_eq(spool_pending(sp), 1);
	spool_free(sp);
}
END_TEST

START_TEST(not_a_spool_is_refused_and_kept)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	ck_assert_int_eq(write(fd, "important data\n", 15), 15);
	close(fd);
	ck_assert_ptr_null(spool_open(path, 1 << 20));
	ck_assert_int_eq(file_size(), 15);
}
END_TEST

START_TEST(scan_rejects_a_head_off_the_records)
{
	struct spool_scan sc;
	uint8_t img[SPOOL_HDR] = {'C', 'T', 'S', 'P', 'O', 'O', 'L', '1', 99};

	ck_assert_int_eq(spool_scan(img, sizeof(img), &sc), 0);
	ck_assert(sc.bad_head);
	ck_assert_uint_eq(sc.head, SPOOL_HDR);
	ck_assert_int_eq(spool_scan(img, 7, &sc), -1);
	ck_assert(sc.bad_header);
}
END_TEST

Suite *
spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, order_ack_and_shrink);
	tcase_add_test(tc, rewind_sends_again_from_the_head);
	tcase_add_test(tc, restart_keeps_what_was_not_delivered);
	tcase_add_test(tc, full_refuses_and_keeps_the_bound);
	tcase_add_test(tc, damaged_tail_is_cut);
	tcase_add_test(tc, not_a_spool_is_refused_and_kept);
	tcase_add_test(tc, scan_rejects_a_head_off_the_records);
	suite_add_tcase(s, tc);
	return (s);
}
