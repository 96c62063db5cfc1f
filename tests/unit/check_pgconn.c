/*
 * Unit tests for proxy/proto/pgconn.c and pgconn_term.c over socketpair()s:
 * the answers to SSLRequest and GSSENCRequest, the startup packet handed
 * to the relay, the CVE-2021-23214 check on both sides, the one-byte reply
 * check (CVE-2021-23222) upstream, the roles refusal and 08P01 for
 * garbage, and plaintext cancels on the terminating side (relayed alone,
 * or dropped). local_tls is in check_pgconn_tls.c.
 */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "data/testcert.h"
#include "pgconn.h"

Suite *pgconn_suite(void);

#include "data/pgconn_fixture.h"

START_TEST(originate_n_then_startup)
{
	struct fixture f;
	uint8_t buf[256];
	char relay[64];
	struct pump p = {.buf = relay, .cap = sizeof(relay)};

	fx_init(&f, CONFIG_MODE_ORIGINATE);
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	write(f.peer[1], gss_req, sizeof(gss_req));
	write(f.peer[1], ssl_req, sizeof(ssl_req));
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	ck_assert_uint_eq(got(f.peer[1], buf, sizeof(buf)), 2);
	ck_assert(buf[0] == 'N' && buf[1] == 'N');
	write(f.peer[1], startup, 10);
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	write(f.peer[1], startup + 10, sizeof(startup) - 10);
	write(f.peer[1], "Q", 1); /* pipelined: relayed too */
	ck_assert_int_eq(io(&f), PGCONN_CONNECT);
	ck_assert_uint_eq(pgconn_pending(f.pg), sizeof(startup) + 1);
	pgconn_prefill(f.pg, &p);
	ck_assert_uint_eq(p.len, sizeof(startup) + 1);
	ck_assert_mem_eq(p.buf, startup, sizeof(startup));
	ck_assert_uint_eq(pgconn_pending(f.pg), 0);
	fx_free(&f);
}
END_TEST

START_TEST(originate_cancel_after_n)
{
	struct fixture f;
	uint8_t buf[16];

	fx_init(&f, CONFIG_MODE_ORIGINATE);
	write(f.peer[1], ssl_req, sizeof(ssl_req));
	write(f.peer[1], cancel, sizeof(cancel));
	ck_assert_int_eq(io(&f), PGCONN_CONNECT);
	ck_assert_uint_eq(got(f.peer[1], buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'N');
	ck_assert_uint_eq(pgconn_pending(f.pg), sizeof(cancel));
	fx_free(&f);
}
END_TEST

START_TEST(originate_garbage_08p01)
{
	static const uint8_t bad[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x31};
	struct fixture f;
	uint8_t buf[256];
	const char *detail;
	bool up;

	fx_init(&f, CONFIG_MODE_ORIGINATE);
	write(f.peer[1], bad, sizeof(bad));
	ck_assert_int_eq(io(&f), PGCONN_CLOSE);
	ck_assert_int_eq(pgconn_result(f.pg, &detail, &up), REASON_PROTOCOL);
	ck_assert(!up);
	ck_assert_str_eq(detail, "unknown request code");
	ck_assert_uint_gt(got(f.peer[1], buf, sizeof(buf)), 20);
	ck_assert_int_eq(buf[0], 'E');
	ck_assert_ptr_nonnull(memmem(buf, 40, "C08P01", 7));
	fx_free(&f);
}
END_TEST

START_TEST(roles_refused_28000)
{
	static char *users[] = {"other"};
	static struct config_pg_role role = {"backend", users, 1, NULL, 0};
	struct fixture f;
	uint8_t buf[256];
	const char *detail;
	bool up;

	fx_init(&f, CONFIG_MODE_TERMINATE);
	f.rc.roles = &role;
	f.rc.nroles = 1;
	write(f.peer[1], startup, sizeof(startup));
	pgconn_tls_done(f.pg); /* as if after the handshake */
	ck_assert_int_eq(io(&f), PGCONN_CLOSE);
	ck_assert_int_eq(
	    pgconn_result(f.pg, &detail, &up), REASON_ROLE_NOT_ALLOWED);
	ck_assert_ptr_nonnull(strstr(detail, "role \"app\""));
	ck_assert_uint_gt(got(f.peer[1], buf, sizeof(buf)), 20);
	ck_assert_ptr_nonnull(memmem(buf, 40, "C28000", 7));
	fx_free(&f);
}
END_TEST

START_TEST(terminate_ssl_request)
{
	struct fixture f;
	uint8_t buf[16];

	fx_init(&f, CONFIG_MODE_TERMINATE);
	write(f.peer[1], gss_req, sizeof(gss_req));
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	ck_assert_uint_eq(got(f.peer[1], buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'N');
	write(f.peer[1], ssl_req, 3);
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	write(f.peer[1], ssl_req + 3, 5);
	ck_assert_int_eq(io(&f), PGCONN_TLS);
	ck_assert_uint_eq(got(f.peer[1], buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'S');
	fx_free(&f);
}
END_TEST

START_TEST(terminate_pipelined_cve_2021_23214)
{
	struct fixture f;
	uint8_t buf[16];
	const char *detail;
	bool up;

	fx_init(&f, CONFIG_MODE_TERMINATE);
	write(f.peer[1], ssl_req, sizeof(ssl_req));
	write(f.peer[1], startup, sizeof(startup));
	ck_assert_int_eq(io(&f), PGCONN_CLOSE);
	ck_assert_int_eq(pgconn_result(f.pg, &detail, &up), REASON_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(detail, "CVE-2021-23214"));
	ck_assert_uint_eq(got(f.peer[1], buf, sizeof(buf)), 0); /* no 'S' */
	fx_free(&f);
}
END_TEST

START_TEST(terminate_client_hello)
{
	struct fixture f;

	fx_init(&f, CONFIG_MODE_TERMINATE);
	write(f.peer[1], "\x16\x03\x01", 3);
	ck_assert_int_eq(io(&f), PGCONN_TLS);
	/* Nothing consumed: OpenSSL reads the ClientHello itself. */
	ck_assert_int_eq(recv(f.peer[0], (char[4]){0}, 4, MSG_PEEK), 3);
	fx_free(&f);
}
END_TEST

/* The server's answer to our SSLRequest: REPLY, then what pgconn does. */
struct reply_case {
	const char *reply;
	size_t len;
	enum pgconn_next want;
};

static const struct reply_case replies[] = {
    {"S", 1, PGCONN_TLS}, {"Sx", 2, PGCONN_CLOSE}, /* CVE-2021-23222 */
    {"N", 1, PGCONN_CLOSE}, {"EFATAL", 6, PGCONN_CLOSE}, {"H", 1, PGCONN_CLOSE},
    {"", 0, PGCONN_CLOSE}, /* EOF */
};

START_TEST(upstream_reply)
{
	const struct reply_case *c = &replies[_i];
	struct fixture f;
	uint8_t buf[16];
	const char *detail;
	bool up;

	fx_init(&f, CONFIG_MODE_ORIGINATE);
	ck_assert(pgconn_upstream_begin(f.pg));
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	ck_assert_uint_eq(got(f.upp[1], buf, sizeof(buf)), 8);
	ck_assert_mem_eq(buf, ssl_req, 8);
	if (c->len > 0)
		write(f.upp[1], c->reply, c->len);
	else
		shutdown(f.upp[1], SHUT_WR);
	ck_assert_int_eq(io(&f), c->want);
	if (c->want == PGCONN_CLOSE) {
		ck_assert_int_eq(
		    pgconn_result(f.pg, &detail, &up), REASON_UPSTREAM_NO_TLS);
		ck_assert(up);
	} else {
		ck_assert_int_eq(recv(f.upp[0], buf, 1, MSG_DONTWAIT), -1);
	}
	fx_free(&f);
}
END_TEST

START_TEST(upstream_sidecar_or_direct)
{
	struct fixture f;

	fx_init(&f, CONFIG_MODE_ORIGINATE);
	f.rc.pg_upstream = CONFIG_PG_UP_SIDECAR;
	ck_assert(!pgconn_upstream_begin(f.pg));
	f.rc.pg_upstream = CONFIG_PG_UP_POSTGRES;
	f.rc.pg_sslnegotiation = CONFIG_PG_SSLNEG_DIRECT;
	ck_assert(!pgconn_upstream_begin(f.pg));
	fx_free(&f);
}
END_TEST

/* --- plaintext cancels at the terminating side --- */

START_TEST(terminate_plain_cancel_relayed)
{
	struct fixture f;
	uint8_t buf[64];
	const char *detail;
	bool up, tls = true, refused = true;

	fx_init(&f, CONFIG_MODE_TERMINATE);
	f.rc.pg_plaintext_cancel = true;
	write(f.peer[1], cancel, 5); /* in pieces */
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	write(f.peer[1], cancel + 5, 6);
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	write(f.peer[1], cancel + 11, sizeof(cancel) - 11);
	ck_assert_int_eq(io(&f), PGCONN_CONNECT);
	ck_assert(pgconn_upstream_begin(f.pg));
	ck_assert_int_eq(io(&f), PGCONN_WAIT); /* sent; waits for the EOF */
	ck_assert_uint_eq(got(f.upp[1], buf, sizeof(buf)), sizeof(cancel));
	ck_assert_mem_eq(buf, cancel, sizeof(cancel));
	ck_assert_int_eq(recv(f.upp[1], buf, 1, MSG_DONTWAIT), 0); /* FIN */
	shutdown(f.upp[1], SHUT_WR);
	ck_assert_int_eq(io(&f), PGCONN_CLOSE);
	ck_assert_int_eq(pgconn_result(f.pg, &detail, &up), REASON_EOF);
	ck_assert(up);
	ck_assert(pgconn_cancel_info(f.pg, &tls, &refused));
	ck_assert(!tls && !refused);
	ck_assert_uint_eq(got(f.peer[1], buf, sizeof(buf)), 0); /* no reply */
	fx_free(&f);
}
END_TEST

START_TEST(terminate_plain_cancel_long_key)
{
	uint8_t pkt[12 + 256];
	struct fixture f;

	memcpy(pkt, cancel, 12);
	pkt[2] = 0x01; /* length 268 */
	pkt[3] = 0x0c;
	memset(pkt + 12, 0xab, 256);
	fx_init(&f, CONFIG_MODE_TERMINATE);
	f.rc.pg_plaintext_cancel = true;
	write(f.peer[1], pkt, sizeof(pkt));
	ck_assert_int_eq(io(&f), PGCONN_CONNECT);
	ck_assert_uint_eq(pgconn_pending(f.pg), sizeof(pkt));
	fx_free(&f);
}
END_TEST

/* Plaintext cancels that are not relayed: no reply, a close. */
struct drop_case {
	bool on;          /* plaintext_cancel */
	size_t extra;     /* bytes sent after the cancel */
	const char *want; /* in the detail */
	bool refused;     /* counted as refused */
};

static const struct drop_case drops[] = {
    {false, 0, "plaintext cancel request dropped", true},
    {true, 1, "bytes after a plaintext cancel request", true},
    {false, 1, "plaintext cancel request dropped", true},
};

START_TEST(terminate_plain_cancel_dropped)
{
	const struct drop_case *c = &drops[_i];
	struct fixture f;
	const char *detail;
	bool up, tls, refused;

	fx_init(&f, CONFIG_MODE_TERMINATE);
	f.rc.pg_plaintext_cancel = c->on;
	write(f.peer[1], cancel, sizeof(cancel));
	if (c->extra > 0)
		write(f.peer[1], "x", 1);
	ck_assert_int_eq(io(&f), PGCONN_CLOSE);
	ck_assert_int_eq(pgconn_result(f.pg, &detail, &up), REASON_PROTOCOL);
	ck_assert_msg(strstr(detail, c->want) != NULL, "%s", detail);
	ck_assert(pgconn_cancel_info(f.pg, &tls, &refused));
	ck_assert(!tls);
	ck_assert(refused == c->refused);
	ck_assert(!pgconn_upstream_begin(f.pg)); /* nothing to send */
	ck_assert_uint_eq(got(f.peer[1], (uint8_t[4]){0}, 4), 0);
	fx_free(&f);
}
END_TEST

START_TEST(terminate_oversized_cancel)
{
	static const uint8_t big[] = {0, 0, 0x02, 0, 0x04, 0xd2, 0x16, 0x2e};
	struct fixture f;
	uint8_t buf[128];
	const char *detail;
	bool up;

	fx_init(&f, CONFIG_MODE_TERMINATE);
	f.rc.pg_plaintext_cancel = true;
	write(f.peer[1], big, sizeof(big));
	ck_assert_int_eq(io(&f), PGCONN_CLOSE);
	ck_assert_int_eq(pgconn_result(f.pg, &detail, &up), REASON_PROTOCOL);
	ck_assert_str_eq(detail, "bad cancel request length");
	ck_assert_uint_gt(got(f.peer[1], buf, sizeof(buf)), 20);
	ck_assert_ptr_nonnull(memmem(buf, 60, "C08P01", 7));
	fx_free(&f);
}
END_TEST

Suite *
pgconn_suite(void)
{
	Suite *s = suite_create("pgconn");
	TCase *tc = tcase_create("pgconn");

	tcase_add_test(tc, originate_n_then_startup);
	tcase_add_test(tc, originate_cancel_after_n);
	tcase_add_test(tc, originate_garbage_08p01);
	tcase_add_test(tc, roles_refused_28000);
	tcase_add_test(tc, terminate_ssl_request);
	tcase_add_test(tc, terminate_pipelined_cve_2021_23214);
	tcase_add_test(tc, terminate_client_hello);
	tcase_add_loop_test(
	    tc, upstream_reply, 0, (int)(sizeof(replies) / sizeof(replies[0])));
	tcase_add_test(tc, upstream_sidecar_or_direct);
	tcase_add_test(tc, terminate_plain_cancel_relayed);
	tcase_add_test(tc, terminate_plain_cancel_long_key);
	tcase_add_loop_test(tc, terminate_plain_cancel_dropped, 0,
	    (int)(sizeof(drops) / sizeof(drops[0])));
	tcase_add_test(tc, terminate_oversized_cancel);
	suite_add_tcase(s, tc);
	return (s);
}
