/*
 * Unit tests for proxy/proto/pgconn.c's local_tls (originate): a TLS
 * handshake with an OpenSSL client on the test's end, after 'S' or direct
 * with ALPN "postgresql"; cancels inside and beside it, the
 * CVE-2021-23214 check inside TLS, garbage after 'S', and 'N' without
 * local_tls. The context is made by tls_local_ctx_new() from files, as the
 * proxy makes it.
 */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "data/testcert.h"
#include "pgconn.h"
#include "proto.h"
#include "tls.h"

Suite *pgconn_tls_suite(void);

#include "data/pgconn_fixture.h"

static char tmpdir[64];
static char cert_path[96], key_path[96];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

/* A fixture whose route has local_tls, its context made from files by
 * tls_local_ctx_new() with the protocol's settings, as the proxy makes it. */
static SSL_CTX *
fx_init_local(struct fixture *f)
{
	EVP_PKEY *k = testcert_key();
	X509 *x = testcert_make(k, "localhost", "DNS:localhost");
	struct tls_ctx_opts o, lo;
	SSL_CTX *ctx;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_pgconn.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(cert_path, sizeof(cert_path), "%s/local.crt", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/local.key", tmpdir);
	testcert_write_cert(cert_path, x);
	testcert_write_key(key_path, k, 0600);
	X509_free(x);
	EVP_PKEY_free(k);
	fx_init(f, CONFIG_MODE_ORIGINATE);
	f->rc.pg_local_tls.cert = cert_path;
	f->rc.pg_local_tls.key = key_path;
	f->rc.pg_local_tls.min_version = TLS1_3_VERSION;
	proto_tls_opts(&f->rc, &o, &lo);
	ck_assert_ptr_nonnull(ctx = tls_local_ctx_new(&f->rc, &lo));
	pgconn_free(f->pg);
	ck_assert_ptr_nonnull(f->pg = pgconn_new(&f->rc, NULL, ctx));
	fcntl(f->peer[1], F_SETFL, O_NONBLOCK);
	return (ctx);
}

static void
fx_free_local(struct fixture *f, SSL_CTX *ctx, SSL *cli)
{
	SSL_free(cli);
	fx_free(f);
	SSL_CTX_free(ctx);
	nftw(tmpdir, rm_entry, 4, FTW_DEPTH | FTW_PHYS);
}

/* A TLS client on the test's end, offering ALPN "postgresql" if ALPN. */
static SSL *
client(struct fixture *f, bool alpn)
{
	static SSL_CTX *cctx;
	SSL *ssl;

	if (cctx == NULL)
		ck_assert_ptr_nonnull(cctx = SSL_CTX_new(TLS_client_method()));
	ck_assert_ptr_nonnull(ssl = SSL_new(cctx));
	ck_assert_int_eq(SSL_set_fd(ssl, f->peer[1]), 1);
	SSL_set_connect_state(ssl);
	if (alpn)
		ck_assert_int_eq(
		    SSL_set_alpn_protos(
			ssl, (const unsigned char *)"\012postgresql", 11),
		    0);
	return (ssl);
}

/* Step the client's handshake and pgconn in turn; pgconn's last answer
 * (PGCONN_WAIT once it waits for the startup packet inside TLS). */
static enum pgconn_next
handshake(struct fixture *f, SSL *cli)
{
	enum pgconn_next next = PGCONN_WAIT;
	int done = 0;

	for (int i = 0; i < 20 && next == PGCONN_WAIT; i++) {
		done = SSL_do_handshake(cli) == 1;
		next = io(f);
	}
	if (next == PGCONN_WAIT)
		ck_assert_msg(done, "the client's handshake did not finish");
	return (next);
}

START_TEST(local_tls_after_s)
{
	struct fixture f;
	SSL_CTX *ctx = fx_init_local(&f);
	SSL *cli = client(&f, false);
	uint8_t buf[16];
	size_t n;
	bool tls, refused;

	write(f.peer[1], ssl_req, sizeof(ssl_req));
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	ck_assert_uint_eq(got(f.peer[1], buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'S');
	ck_assert_int_eq(handshake(&f, cli), PGCONN_WAIT);
	ck_assert_str_eq(SSL_get_version(cli), "TLSv1.3");
	ck_assert_int_eq(SSL_write_ex(cli, startup, sizeof(startup), &n), 1);
	ck_assert_int_eq(io(&f), PGCONN_CONNECT);
	ck_assert_uint_eq(pgconn_pending(f.pg), sizeof(startup));
	ck_assert(!pgconn_cancel_info(f.pg, &tls, &refused));
	fx_free_local(&f, ctx, cli);
}
END_TEST

START_TEST(local_tls_cancel_inside_and_plain)
{
	struct fixture f;
	SSL_CTX *ctx = fx_init_local(&f);
	SSL *cli = client(&f, false);
	bool tls = false, refused = true;
	size_t n;

	/* libpq 17: SSLRequest, 'S', TLS, then the cancel inside. */
	write(f.peer[1], ssl_req, sizeof(ssl_req));
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	ck_assert_uint_eq(got(f.peer[1], (uint8_t[4]){0}, 4), 1);
	ck_assert_int_eq(handshake(&f, cli), PGCONN_WAIT);
	ck_assert_int_eq(SSL_write_ex(cli, cancel, sizeof(cancel), &n), 1);
	ck_assert_int_eq(io(&f), PGCONN_CONNECT);
	ck_assert(pgconn_cancel_info(f.pg, &tls, &refused));
	ck_assert(tls && !refused);
	fx_free_local(&f, ctx, cli);

	/* libpq 15: a bare plaintext cancel, local_tls or not. */
	ctx = fx_init_local(&f);
	write(f.peer[1], cancel, sizeof(cancel));
	ck_assert_int_eq(io(&f), PGCONN_CONNECT);
	ck_assert_uint_eq(pgconn_pending(f.pg), sizeof(cancel));
	ck_assert(pgconn_cancel_info(f.pg, &tls, &refused));
	ck_assert(!tls && !refused);
	fx_free_local(&f, ctx, NULL);
}
END_TEST

START_TEST(local_tls_pipelined_cve_2021_23214)
{
	struct fixture f;
	SSL_CTX *ctx = fx_init_local(&f);
	const char *detail;
	bool up;

	write(f.peer[1], ssl_req, sizeof(ssl_req));
	write(f.peer[1], startup, sizeof(startup));
	ck_assert_int_eq(io(&f), PGCONN_CLOSE);
	ck_assert_int_eq(pgconn_result(f.pg, &detail, &up), REASON_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(detail, "CVE-2021-23214"));
	ck_assert_uint_eq(got(f.peer[1], (uint8_t[4]){0}, 4), 0); /* no S */
	fx_free_local(&f, ctx, NULL);
}
END_TEST

START_TEST(local_tls_garbage_after_s)
{
	static const uint8_t junk[] = "\xde\xad\xbe\xef garbage, not TLS";
	struct fixture f;
	SSL_CTX *ctx = fx_init_local(&f);
	const char *detail;
	bool up;

	write(f.peer[1], ssl_req, sizeof(ssl_req));
	ck_assert_int_eq(io(&f), PGCONN_WAIT);
	ck_assert_uint_eq(got(f.peer[1], (uint8_t[4]){0}, 4), 1);
	write(f.peer[1], junk, sizeof(junk));
	ck_assert_int_eq(io(&f), PGCONN_CLOSE);
	ck_assert_int_eq(pgconn_result(f.pg, &detail, &up), REASON_TLS_ERROR);
	ck_assert_msg(strncmp(detail, "local TLS: ", 11) == 0, "%s", detail);
	fx_free_local(&f, ctx, NULL);
}
END_TEST

START_TEST(local_tls_direct_alpn)
{
	struct fixture f;
	SSL_CTX *ctx = fx_init_local(&f);
	SSL *cli = client(&f, true);
	const unsigned char *proto = NULL;
	unsigned int plen = 0;
	size_t n;

	ck_assert_int_eq(handshake(&f, cli), PGCONN_WAIT);
	SSL_get0_alpn_selected(cli, &proto, &plen);
	ck_assert_uint_eq(plen, 10);
	ck_assert_mem_eq(proto, "postgresql", 10);
	/* Inside direct TLS an SSLRequest is a repeated one. */
	ck_assert_int_eq(SSL_write_ex(cli, startup, sizeof(startup), &n), 1);
	ck_assert_int_eq(io(&f), PGCONN_CONNECT);
	ck_assert_uint_eq(pgconn_pending(f.pg), sizeof(startup));
	fx_free_local(&f, ctx, cli);
}
END_TEST

START_TEST(local_tls_direct_without_alpn)
{
	struct fixture f;
	SSL_CTX *ctx = fx_init_local(&f);
	SSL *cli = client(&f, false);
	const char *detail;
	bool up;

	ck_assert_int_eq(handshake(&f, cli), PGCONN_CLOSE);
	ck_assert_int_eq(pgconn_result(f.pg, &detail, &up), REASON_PROTOCOL);
	ck_assert_str_eq(detail, "local TLS: direct without ALPN postgresql");
	fx_free_local(&f, ctx, cli);
}
END_TEST

START_TEST(no_local_tls_ssl_request_gets_n)
{
	struct fixture f;
	uint8_t buf[4];

	fx_init(&f, CONFIG_MODE_ORIGINATE);
	write(f.peer[1], ssl_req, sizeof(ssl_req));
	write(f.peer[1], startup, sizeof(startup));
	ck_assert_int_eq(io(&f), PGCONN_CONNECT);
	ck_assert_uint_eq(got(f.peer[1], buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'N');
	fx_free(&f);
}
END_TEST

Suite *
pgconn_tls_suite(void)
{
	Suite *s = suite_create("pgconn_tls");
	TCase *tc = tcase_create("pgconn_tls");

	tcase_add_test(tc, local_tls_after_s);
	tcase_add_test(tc, local_tls_cancel_inside_and_plain);
	tcase_add_test(tc, local_tls_pipelined_cve_2021_23214);
	tcase_add_test(tc, local_tls_garbage_after_s);
	tcase_add_test(tc, local_tls_direct_alpn);
	tcase_add_test(tc, local_tls_direct_without_alpn);
	tcase_add_test(tc, no_local_tls_ssl_request_gets_n);
	suite_add_tcase(s, tc);
	return (s);
}
