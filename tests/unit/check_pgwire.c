/*
 * Unit tests for proxy/proto/pgwire.c. Every packet is also fed one byte at a
 * time, each prefix in a heap buffer of exactly its size, so that ASan
 * catches a read past the bytes received.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire.h"

Suite *pgwire_suite(void);

static const uint8_t ssl_req[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
static const uint8_t gss_req[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30};

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Build a StartupMessage for MAJOR.MINOR from the NULL-terminated list
 * KV of keys and values, then the final NUL; returns its length.
 */
static size_t
mk_startup(uint8_t *out, uint16_t major, uint16_t minor, const char **kv)
{
	size_t off = 8;

	put32(out + 4, (uint32_t)major << 16 | minor);
	for (; *kv != NULL; kv++) {
		size_t n = strlen(*kv) + 1;
		memcpy(out + off, *kv, n);
		off += n;
	}
	out[off++] = '\0';
	put32(out, (uint32_t)off);
	return (off);
}

/* Build a CancelRequest with a KEYLEN-byte key; returns its length. */
static size_t
mk_cancel(uint8_t *out, uint32_t pid, size_t keylen)
{
	put32(out, (uint32_t)(12 + keylen));
	put32(out + 4, 0x04d2162e);
	put32(out + 8, pid);
	for (size_t i = 0; i < keylen; i++)
		out[12 + i] = (uint8_t)(i + 1);
	return (12 + keylen);
}

/* Parse PKT[0..N) from a heap copy of exactly N bytes. */
static enum pgwire_kind
parse_exact(const uint8_t *pkt, size_t n, size_t *consumed,
    struct pgwire_startup *st, const char **why)
{
	uint8_t *copy = malloc(n > 0 ? n : 1);
	enum pgwire_kind k;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, pkt, n);
	k = pgwire_parse(copy, n, consumed, st, why);
	free(copy);
	return (k);
}

/* Every proper prefix of PKT[0..N) needs more; all of it is WANT. */
static void
check_split(const uint8_t *pkt, size_t n, enum pgwire_kind want)
{
	size_t consumed = 99;
	enum pgwire_kind k;

	for (size_t i = 0; i < n; i++) {
		k = parse_exact(pkt, i, &consumed, NULL, NULL);
		ck_assert_msg(k == PGWIRE_NEED_MORE, "prefix %zu of %zu: %s", i,
		    n, pgwire_kind_name(k));
		ck_assert_uint_eq(consumed, 0);
	}
	k = parse_exact(pkt, n, &consumed, NULL, NULL);
	ck_assert_str_eq(pgwire_kind_name(k), pgwire_kind_name(want));
	ck_assert_uint_eq(consumed, n);
}

/* PKT[0..N) is refused, with a reason, once its first AT bytes are in. */
static void
check_refused_at(const uint8_t *pkt, size_t n, size_t at)
{
	const char *why = NULL;

	for (size_t i = 0; i < at; i++)
		ck_assert_msg(
		    parse_exact(pkt, i, NULL, NULL, NULL) == PGWIRE_NEED_MORE,
		    "prefix %zu of %zu refused early", i, at);
	for (size_t i = at; i <= n; i++) {
		size_t consumed = 99;
		why = NULL;
		ck_assert_msg(
		    parse_exact(pkt, i, &consumed, NULL, &why) == PGWIRE_ERROR,
		    "prefix %zu not refused", i);
		ck_assert_ptr_nonnull(why);
		ck_assert_uint_eq(consumed, 0);
	}
}

START_TEST(ssl_and_gssenc_requests)
{
	uint8_t buf[16];
	size_t consumed;

	check_split(ssl_req, sizeof(ssl_req), PGWIRE_SSL_REQUEST);
	check_split(gss_req, sizeof(gss_req), PGWIRE_GSSENC_REQUEST);

	/* Pipelined bytes after the request are left for the caller. */
	memcpy(buf, ssl_req, 8);
	memcpy(buf + 8, "garbage!", 8);
	ck_assert_int_eq(
	    pgwire_parse(buf, 16, &consumed, NULL, NULL), PGWIRE_SSL_REQUEST);
	ck_assert_uint_eq(consumed, 8);

	/* The SSL code with any other length is garbage. */
	memcpy(buf, ssl_req, 8);
	buf[3] = 12;
	check_refused_at(buf, 12, 8);
	memcpy(buf, gss_req, 8);
	buf[3] = 9;
	check_refused_at(buf, 9, 8);
}
END_TEST

START_TEST(cancel_requests)
{
	static const size_t ok[] = {4, 5, 32, 255, 256};
	uint8_t buf[12 + 300];
	struct pgwire_startup st;
	size_t n, consumed;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		n = mk_cancel(buf, 4242, ok[i]);
		check_split(buf, n, PGWIRE_CANCEL);
		ck_assert_int_eq(
		    pgwire_parse(buf, n, &consumed, &st, NULL), PGWIRE_CANCEL);
		ck_assert_uint_eq(consumed, n);
		ck_assert_uint_eq(st.cancel_pid, 4242);
		ck_assert_uint_eq(st.cancel_key_len, ok[i]);
		ck_assert_ptr_eq(st.cancel_key, buf + 12);
		ck_assert_ptr_null(st.user);
		/* The length is known from the header on. */
		ck_assert_uint_eq(pgwire_cancel_len(buf, 7), 0);
		ck_assert_uint_eq(pgwire_cancel_len(buf, 8), n);
		ck_assert_uint_eq(pgwire_cancel_len(buf, n), n);
	}
	/* Wrong key lengths are refused from the header alone. */
	n = mk_cancel(buf, 1, 3);
	check_refused_at(buf, n, 8);
	ck_assert_uint_eq(pgwire_cancel_len(buf, n), 0);
	n = mk_cancel(buf, 1, 257);
	check_refused_at(buf, n, 8);
	ck_assert_uint_eq(pgwire_cancel_len(buf, n), 0);
	n = mk_cancel(buf, 1, 0);
	check_refused_at(buf, n, 8);
	/* Not a cancel: an SSLRequest. */
	ck_assert_uint_eq(pgwire_cancel_len((const uint8_t *)"\0\0\0\x08"
							     "\x04\xd2\x16\x2f",
			      8),
	    0);
}
END_TEST

START_TEST(startup_messages)
{
	const char *kv[] = {"user", "alice", "database", "sales",
	    "application_name", "psql", "client_encoding", "UTF8", NULL};
	uint8_t buf[256];
	struct pgwire_startup st;
	size_t n, consumed;

	n = mk_startup(buf, 3, 0, kv);
	check_split(buf, n, PGWIRE_STARTUP);
	memset(&st, 0xa5, sizeof(st));
	ck_assert_int_eq(
	    pgwire_parse(buf, n, &consumed, &st, NULL), PGWIRE_STARTUP);
	ck_assert_uint_eq(consumed, n);
	ck_assert_uint_eq(st.major, 3);
	ck_assert_uint_eq(st.minor, 0);
	ck_assert_str_eq(st.user, "alice");
	ck_assert_uint_eq(st.user_len, 5);
	ck_assert_str_eq(st.database, "sales");
	ck_assert_uint_eq(st.database_len, 5);
	ck_assert_str_eq(st.application_name, "psql");
	ck_assert_uint_eq(st.application_name_len, 4);
	ck_assert_ptr_null(st.replication);
	ck_assert_ptr_null(st.cancel_key);
	ck_assert(
	    st.user >= (const char *)buf && st.user < (const char *)buf + n);

	/* Protocol 3.2, no database: the database is the user. */
	const char *kv2[] = {"user", "bob", "replication", "database", NULL};
	n = mk_startup(buf, 3, 2, kv2);
	check_split(buf, n, PGWIRE_STARTUP);
	ck_assert_int_eq(pgwire_parse(buf, n, NULL, &st, NULL), PGWIRE_STARTUP);
	ck_assert_uint_eq(st.minor, 2);
	ck_assert_str_eq(st.database, "bob");
	ck_assert_uint_eq(st.database_len, 3);
	ck_assert_ptr_null(st.application_name);
	ck_assert_str_eq(st.replication, "database");

	/* An empty database is the user too, as in PostgreSQL. */
	const char *kv3[] = {"database", "", "user", "carol", NULL};
	n = mk_startup(buf, 3, 0, kv3);
	ck_assert_int_eq(pgwire_parse(buf, n, NULL, &st, NULL), PGWIRE_STARTUP);
	ck_assert_str_eq(st.database, "carol");

	/* Another packet pipelined behind it is not looked at. */
	const char *kv4[] = {"user", "u", NULL};
	n = mk_startup(buf, 3, 0, kv4);
	memset(buf + n, 0xff, 20);
	ck_assert_int_eq(
	    pgwire_parse(buf, n + 20, &consumed, NULL, NULL), PGWIRE_STARTUP);
	ck_assert_uint_eq(consumed, n);
}
END_TEST

START_TEST(protocol_versions)
{
	static const uint16_t ok_minor[] = {0, 1, 2, 3, 9999, 0xffff};
	static const uint32_t bad[] = {0x00000000, 0x00020000, 0x00040000,
	    0x00010000, 0xffff0003, 0x04d2162d, 0x04d21631, 0x04d20000};
	const char *kv[] = {"user", "alice", NULL};
	uint8_t buf[64];
	struct pgwire_startup st;
	size_t n;

	/* Any 3.x: the server negotiates the minor version down itself. */
	for (size_t i = 0; i < sizeof(ok_minor) / sizeof(ok_minor[0]); i++) {
		n = mk_startup(buf, 3, ok_minor[i], kv);
		ck_assert_int_eq(
		    pgwire_parse(buf, n, NULL, &st, NULL), PGWIRE_STARTUP);
		ck_assert_uint_eq(st.minor, ok_minor[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = mk_startup(buf, 3, 0, kv);
		put32(buf + 4, bad[i]);
		check_refused_at(buf, n, 8);
	}
}
END_TEST

START_TEST(lengths)
{
	uint8_t buf[16] = {0};
	const char *why = NULL;

	/* Too short: known from the length word. */
	for (uint8_t l = 0; l < 8; l++) {
		put32(buf, l);
		put32(buf + 4, 0x00030000);
		check_refused_at(buf, 8, 4);
	}
	/* Too long: refused as soon as the received bytes prove it. */
	put32(buf, PGWIRE_MAX_PACKET + 1);
	check_refused_at(buf, 8, 4);
	put32(buf, 0x01000000);
	check_refused_at(buf, 8, 1);
	put32(buf, 0x00010000);
	check_refused_at(buf, 8, 2);
	put32(buf, 0x00002800); /* 10240 */
	check_refused_at(buf, 8, 3);
	put32(buf, 0xffffffff);
	ck_assert_int_eq(pgwire_parse(buf, 1, NULL, NULL, &why), PGWIRE_ERROR);
	ck_assert_str_eq(why, "startup packet too long");

	/* The largest packet allowed is waited for. */
	put32(buf, PGWIRE_MAX_PACKET);
	put32(buf + 4, 0x00030000);
	for (size_t i = 0; i <= 8; i++)
		ck_assert_int_eq(
		    parse_exact(buf, i, NULL, NULL, NULL), PGWIRE_NEED_MORE);
}
END_TEST

START_TEST(largest_startup)
{
	uint8_t *buf = calloc(1, PGWIRE_MAX_PACKET);
	struct pgwire_startup st;
	size_t consumed;

	ck_assert_ptr_nonnull(buf);
	/* user=a, then one big option filling the packet exactly. */
	put32(buf, PGWIRE_MAX_PACKET);
	put32(buf + 4, 0x00030000);
	memcpy(buf + 8, "user\0a\0options\0", 15);
	memset(buf + 23, 'x', PGWIRE_MAX_PACKET - 23 - 2);
	ck_assert_int_eq(
	    pgwire_parse(buf, PGWIRE_MAX_PACKET, &consumed, &st, NULL),
	    PGWIRE_STARTUP);
	ck_assert_uint_eq(consumed, PGWIRE_MAX_PACKET);
	ck_assert_str_eq(st.user, "a");
	ck_assert_int_eq(
	    parse_exact(buf, PGWIRE_MAX_PACKET - 1, NULL, NULL, NULL),
	    PGWIRE_NEED_MORE);
	free(buf);
}
END_TEST

/* The complete packet built from KV (with the final NUL) is refused. */
static const char *
refused(const char **kv)
{
	uint8_t buf[512];
	const char *why = NULL;
	size_t n = mk_startup(buf, 3, 0, kv), consumed = 99;

	ck_assert_int_eq(
	    parse_exact(buf, n, &consumed, NULL, &why), PGWIRE_ERROR);
	ck_assert_ptr_nonnull(why);
	ck_assert_uint_eq(consumed, 0);
	return (why);
}

START_TEST(bad_parameters)
{
	const char *none[] = {NULL};
	const char *nouser[] = {"database", "x", NULL};
	const char *empty[] = {"user", "", NULL};
	const char *twice[] = {"user", "a", "user", "b", NULL};
	const char *twicedb[] = {
	    "user", "a", "database", "b", "database", "c", NULL};
	char name[PGWIRE_NAMEDATALEN + 1];
	const char *longuser[] = {"user", name, NULL};
	const char *longdb[] = {"user", "a", "database", name, NULL};

	ck_assert_str_eq(refused(none), "no user name in startup packet");
	ck_assert_str_eq(refused(nouser), "no user name in startup packet");
	refused(empty);
	refused(twice);
	refused(twicedb);
	memset(name, 'n', PGWIRE_NAMEDATALEN);
	name[PGWIRE_NAMEDATALEN] = '\0';
	refused(longuser);
	refused(longdb);

	/* 63 bytes is the longest name that PostgreSQL keeps whole. */
	uint8_t buf[256];
	struct pgwire_startup st;
	name[PGWIRE_NAMEDATALEN - 1] = '\0';
	size_t n = mk_startup(buf, 3, 0, longuser);
	ck_assert_int_eq(pgwire_parse(buf, n, NULL, &st, NULL), PGWIRE_STARTUP);
	ck_assert_uint_eq(st.user_len, PGWIRE_NAMEDATALEN - 1);
}
END_TEST

START_TEST(bad_layout)
{
	const char *kv[] = {"user", "alice", NULL};
	uint8_t buf[64];
	const char *why;
	size_t n;

	/* No final NUL: the packet ends after the last value. */
	n = mk_startup(buf, 3, 0, kv) - 1;
	put32(buf, (uint32_t)n);
	why = NULL;
	ck_assert_int_eq(parse_exact(buf, n, NULL, NULL, &why), PGWIRE_ERROR);
	ck_assert_str_eq(why, "missing terminator in startup packet");

	/* A value without its NUL. */
	n = mk_startup(buf, 3, 0, kv) - 2;
	put32(buf, (uint32_t)n);
	ck_assert_int_eq(parse_exact(buf, n, NULL, NULL, &why), PGWIRE_ERROR);
	ck_assert_str_eq(why, "unterminated startup parameter");

	/* A key without a value. */
	memcpy(buf + 8, "user", 4);
	put32(buf, 12);
	ck_assert_int_eq(parse_exact(buf, 12, NULL, NULL, &why), PGWIRE_ERROR);
	ck_assert_str_eq(why, "unterminated startup parameter");
	memcpy(buf + 8, "user\0", 5);
	put32(buf, 13);
	ck_assert_int_eq(parse_exact(buf, 13, NULL, NULL, &why), PGWIRE_ERROR);

	/* Bytes after the terminator, inside the packet. */
	n = mk_startup(buf, 3, 0, kv);
	buf[n] = 'x';
	put32(buf, (uint32_t)n + 1);
	ck_assert_int_eq(
	    parse_exact(buf, n + 1, NULL, NULL, &why), PGWIRE_ERROR);
	ck_assert_str_eq(why, "data after terminator in startup packet");

	/* A bare header: no parameters, no terminator. */
	put32(buf, 8);
	put32(buf + 4, 0x00030000);
	ck_assert_int_eq(parse_exact(buf, 8, NULL, NULL, &why), PGWIRE_ERROR);
}
END_TEST

/* The shapes a client sends in one go are taken apart one by one. */
START_TEST(pipelined_sequences)
{
	const char *kv[] = {"user", "alice", NULL};
	uint8_t buf[128];
	struct pgwire_startup st;
	size_t n = 0, off = 0, used;

	/* SSLRequest, then (after our 'N') a CancelRequest; */
	memcpy(buf, ssl_req, 8);
	n = 8 + mk_cancel(buf + 8, 7, 32);
	ck_assert_int_eq(
	    pgwire_parse(buf, n, &used, &st, NULL), PGWIRE_SSL_REQUEST);
	off += used;
	ck_assert_int_eq(
	    pgwire_parse(buf + off, n - off, &used, &st, NULL), PGWIRE_CANCEL);
	ck_assert_uint_eq(st.cancel_pid, 7);
	ck_assert_uint_eq(off + used, n);

	/* GSSENCRequest, SSLRequest, StartupMessage. */
	memcpy(buf, gss_req, 8);
	memcpy(buf + 8, ssl_req, 8);
	n = 16 + mk_startup(buf + 16, 3, 0, kv);
	off = 0;
	ck_assert_int_eq(
	    pgwire_parse(buf, n, &used, NULL, NULL), PGWIRE_GSSENC_REQUEST);
	off += used;
	ck_assert_int_eq(pgwire_parse(buf + off, n - off, &used, NULL, NULL),
	    PGWIRE_SSL_REQUEST);
	off += used;
	ck_assert_int_eq(
	    pgwire_parse(buf + off, n - off, &used, &st, NULL), PGWIRE_STARTUP);
	ck_assert_str_eq(st.user, "alice");
	ck_assert_uint_eq(off + used, n);

	/* A TLS ClientHello where a startup packet belongs is garbage. */
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0xf4};
	ck_assert_int_eq(
	    pgwire_parse(hello, 1, NULL, NULL, NULL), PGWIRE_ERROR);
}
END_TEST

/* Random bytes: never a crash, never consumed past LEN. */
START_TEST(random_garbage)
{
	uint32_t x = 0x2545f491;
	uint8_t pkt[600] = {0};
	struct pgwire_startup st;
	const char *why;
	size_t consumed;

	for (int round = 0; round < 20000; round++) {
		size_t n = 0;
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		n = x % sizeof(pkt);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			pkt[i] = (uint8_t)(x % 7 == 0 ? 0 : x);
		}
		/* Plausible headers half of the time. */
		if (round % 2 == 0 && n >= 8) {
			put32(pkt, (uint32_t)(8 + x % (n - 7)));
			put32(
			    pkt + 4, round % 4 == 0 ? 0x00030000 : 0x04d2162e);
		}
		why = NULL;
		enum pgwire_kind k = parse_exact(pkt, n, &consumed, &st, &why);
		ck_assert(consumed <= n);
		if (k == PGWIRE_ERROR)
			ck_assert_ptr_nonnull(why);
		if (k == PGWIRE_STARTUP) {
			ck_assert(st.user_len > 0);
			ck_assert(st.user[st.user_len] == '\0');
			ck_assert(st.database[st.database_len] == '\0');
		}
	}
}
END_TEST

START_TEST(error_response_bytes)
{
	static const uint8_t want[] = {'E', 0, 0, 0, 35, 'S', 'F', 'A', 'T',
	    'A', 'L', 0, 'V', 'F', 'A', 'T', 'A', 'L', 0, 'C', '2', '8', '0',
	    '0', '0', 0, 'M', 'n', 'o', 't', ' ', 'y', 'o', 'u', 0, 0};
	uint8_t out[64];

	memset(out, 0xee, sizeof(out));
	ck_assert_uint_eq(
	    pgwire_error_response(out, sizeof(out), "28000", "not you"),
	    sizeof(want));
	ck_assert_mem_eq(out, want, sizeof(want));
	ck_assert_uint_eq(out[sizeof(want)], 0xee);

	/* Exactly big enough, one too small, bad SQLSTATEs. */
	ck_assert_uint_eq(
	    pgwire_error_response(out, sizeof(want), "28000", "not you"),
	    sizeof(want));
	memset(out, 0xee, sizeof(out));
	ck_assert_uint_eq(
	    pgwire_error_response(out, sizeof(want) - 1, "28000", "not you"),
	    0);
	ck_assert_uint_eq(out[0], 0xee);
	ck_assert_uint_eq(
	    pgwire_error_response(out, sizeof(out), "2800", "x"), 0);
	ck_assert_uint_eq(
	    pgwire_error_response(out, sizeof(out), "280000", "x"), 0);
	ck_assert_uint_eq(
	    pgwire_error_response(out, sizeof(out), "08p01", "x"), 0);
	ck_assert_uint_eq(
	    pgwire_error_response(out, sizeof(out), "08P01", ""), 29);
}
END_TEST

START_TEST(ssl_request_and_reply)
{
	uint8_t out[8];
	const char *why;

	ck_assert_uint_eq(pgwire_ssl_request(out, 7), 0);
	ck_assert_uint_eq(pgwire_ssl_request(out, sizeof(out)), 8);
	ck_assert_mem_eq(out, ssl_req, 8);

	why = NULL;
	ck_assert_int_eq(pgwire_ssl_reply(out, 0, &why), PGWIRE_SSL_NEED_MORE);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(
	    pgwire_ssl_reply((const uint8_t *)"S", 1, &why), PGWIRE_SSL_ACCEPT);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(pgwire_ssl_reply((const uint8_t *)"S\x16", 2, &why),
	    PGWIRE_SSL_BAD);
	ck_assert_ptr_nonnull(strstr(why, "CVE-2021-23222"));
	ck_assert_int_eq(
	    pgwire_ssl_reply((const uint8_t *)"N", 1, &why), PGWIRE_SSL_REFUSE);
	ck_assert_int_eq(
	    pgwire_ssl_reply((const uint8_t *)"NE", 2, &why), PGWIRE_SSL_BAD);
	ck_assert_int_eq(
	    pgwire_ssl_reply((const uint8_t *)"E\0\0\0\x10", 5, &why),
	    PGWIRE_SSL_SERVER_ERR);
	ck_assert_int_eq(
	    pgwire_ssl_reply((const uint8_t *)"\x16", 1, NULL), PGWIRE_SSL_BAD);
	ck_assert_int_eq(
	    pgwire_ssl_reply((const uint8_t *)"s", 1, &why), PGWIRE_SSL_BAD);
}
END_TEST

Suite *
pgwire_suite(void)
{
	Suite *s = suite_create("pgwire");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, ssl_and_gssenc_requests);
	tcase_add_test(tc, cancel_requests);
	tcase_add_test(tc, startup_messages);
	tcase_add_test(tc, protocol_versions);
	tcase_add_test(tc, lengths);
	tcase_add_test(tc, largest_startup);
	tcase_add_test(tc, bad_parameters);
	tcase_add_test(tc, bad_layout);
	tcase_add_test(tc, pipelined_sequences);
	tcase_add_test(tc, random_garbage);
	tcase_add_test(tc, error_response_bytes);
	tcase_add_test(tc, ssl_request_and_reply);
	suite_add_tcase(s, tc);
	return (s);
}
