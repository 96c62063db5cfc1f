/*
 * Unit tests for proxy/transport/tls.c and tls_ctx.c: contexts built from
 * certificate files as the proxy builds them (a CA and leaves made in
 * memory for the test, written to a temporary directory), and real
 * handshakes between a terminate and an originate context over a
 * socketpair, both ends being legs. A good pair handshakes and each side
 * knows the other's identity (again after a resumption); a client from
 * another CA, a client or server whose identity the route does not
 * name, an expired client and a client without a certificate are
 * refused with the matching reason. The settings handed to the builder
 * (ALPN, the EOF rule) reach the context.
 */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "data/testcert.h"
#include "leg.h"
#include "tls.h"

Suite *tls_suite(void);

#define TD "spiffe://td.test/"

static char dir[64];

/* DIR/NAME.crt and .key: a leaf for SPIFFE ID TD NAME (SPIFFE: another
 * ID when not NULL), signed by ISSUER with IKEY, valid for DAYS. */
static void
write_leaf(const char *name, const char *spiffe, X509 *issuer, EVP_PKEY *ikey,
    int days)
{
	static long serial = 100;
	EVP_PKEY *k = testcert_key();
	char san[128], path[128];
	X509 *x;

	snprintf(
	    san, sizeof(san), "URI:%s%s", TD, spiffe != NULL ? spiffe : name);
	x = testcert_build(k, serial++, name, NULL, san, days);
	ck_assert_int_eq(
	    X509_set_issuer_name(x, X509_get_subject_name(issuer)), 1);
	testcert_sign(x, ikey);
	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	testcert_write_cert(path, x);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	testcert_write_key(path, k, 0600);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* A self-signed CA named CN, its certificate in DIR/FILE; *KEY its key. */
static X509 *
make_ca(const char *cn, const char *file, EVP_PKEY **key)
{
	char path[128];
	X509 *x;

	*key = testcert_key();
	x = testcert_build(*key, 1, cn, NULL, NULL, 2);
	testcert_ext(x, NID_basic_constraints, "critical,CA:TRUE");
	testcert_ext(x, NID_key_usage, "critical,keyCertSign,cRLSign");
	testcert_sign(x, *key);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	testcert_write_cert(path, x);
	return (x);
}

/*
 * The test PKI: ca.crt issues server, client, other (TD other), expired
 * (TD client, already expired); another CA issues rogue (TD client), and
 * one with the same name as ca.crt issues impostor (TD client).
 */
static void
pki_setup(void)
{
	EVP_PKEY *ck, *ek, *ik;
	X509 *ca, *evil, *twin;

	snprintf(dir, sizeof(dir), "/tmp/check_tls.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ca = make_ca("test CA", "ca.crt", &ck);
	evil = make_ca("evil CA", "evil-ca.crt", &ek);
	twin = make_ca("test CA", "twin-ca.crt", &ik); /* ca.crt's name */
	write_leaf("server", NULL, ca, ck, 2);
	write_leaf("client", NULL, ca, ck, 2);
	write_leaf("other", NULL, ca, ck, 2);
	write_leaf("expired", "client", ca, ck, -1);
	write_leaf("rogue", "client", evil, ek, 2);
	write_leaf("impostor", "client", twin, ik, 2);
	X509_free(ca);
	X509_free(evil);
	X509_free(twin);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(ek);
	EVP_PKEY_free(ik);
	ck_assert_int_eq(tls_init(), 0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static void
pki_teardown(void)
{
	nftw(dir, rm_entry, 4, FTW_DEPTH | FTW_PHYS);
}

/* Route RC of MODE whose own identity is WHO, naming peer PATTERN. */
struct test_route {
	struct config_route rc;
	char *pattern[1];
	char ca[128], cert[128], key[128];
};

static void
route_init(struct test_route *r, enum config_mode mode, const char *who,
    const char *pattern)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->ca, sizeof(r->ca), "%s/ca.crt", dir);
	snprintf(r->cert, sizeof(r->cert), "%s/%s.crt", dir, who);
	snprintf(r->key, sizeof(r->key), "%s/%s.key", dir, who);
	r->pattern[0] = (char *)pattern;
	r->rc.name = "t";
	r->rc.mode = mode;
	r->rc.protocol = CONFIG_PROTO_TCP;
	r->rc.mux = CONFIG_MUX_OFF;
	r->rc.identity.ca = r->ca;
	r->rc.identity.cert = r->cert;
	r->rc.identity.key = r->key;
	r->rc.tls_resumption = true;
	r->rc.tls_session_cache = 16;
	if (mode == CONFIG_MODE_TERMINATE) {
		r->rc.allow = r->pattern;
		r->rc.nallow = 1;
	} else {
		r->rc.expect = r->pattern;
		r->rc.nexpect = 1;
	}
}

/* One connection: [0] the terminate side (TLS server), [1] originate. */
struct hs {
	struct leg l[2];
	struct tls_peer p[2];
	enum leg_res res[2];
};

/*
 * Connect SCTX (route SRV) and CCTX (route CLI, session store CACHE)
 * over a socketpair and step both handshakes until neither waits. A side
 * that fails has its reason taken at once (the thread's error queue is
 * shared by both sides).
 */
static void
hs_run(struct hs *h, SSL_CTX *sctx, const struct test_route *srv, SSL_CTX *cctx,
    const struct test_route *cli, struct tls_cache *cache)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(fcntl(sv[i], F_SETFL, O_NONBLOCK), 0);
		leg_init(&h->l[i]);
		h->l[i].fd = sv[i];
		h->res[i] = LEG_AGAIN;
	}
	tls_peer_init(&h->p[0], &srv->rc, NULL);
	tls_peer_init(&h->p[1], &cli->rc, cache);
	ck_assert_ptr_nonnull(
	    h->l[0].ssl = tls_ssl_new(sctx, sv[0], &h->p[0], NULL));
	ck_assert_ptr_nonnull(
	    h->l[1].ssl = tls_ssl_new(cctx, sv[1], &h->p[1], "server.test"));
	for (int n = 0; n < 50; n++) {
		for (int i = 0; i < 2; i++) {
			if (h->res[i] != LEG_AGAIN)
				continue;
			h->res[i] = leg_handshake(&h->l[i]);
			if (h->res[i] == LEG_ERR)
				tls_handshake_failed(&h->p[i]);
		}
		if (h->res[0] != LEG_AGAIN && h->res[1] != LEG_AGAIN)
			break;
	}
}

static void
hs_clear(struct hs *h)
{
	for (int i = 0; i < 2; i++) {
		leg_clear(&h->l[i], false);
		tls_peer_clear(&h->p[i]);
	}
}

/* Read on L until it is not LEG_AGAIN (the peer has written or failed). */
static enum leg_res
read_some(struct leg *l, char *buf, size_t len, size_t *n)
{
	enum leg_res res = LEG_AGAIN;

	for (int i = 0; i < 20 && res == LEG_AGAIN; i++)
		res = leg_read(l, buf, len, n);
	return (res);
}

/*
 * A terminate route as SRV_WHO that allows TD client and an originate
 * route as CLI_WHO that expects TD server, their contexts built with SO
 * and CO (NULL: nothing added), and a connection between them.
 */
struct fx {
	struct test_route srv, cli;
	SSL_CTX *sctx, *cctx;
	struct hs h;
};

static void
fx_init(struct fx *f, const char *srv_who, const char *cli_who,
    const struct tls_ctx_opts *so, const struct tls_ctx_opts *co)
{
	memset(f, 0, sizeof(*f));
	pki_setup();
	route_init(&f->srv, CONFIG_MODE_TERMINATE, srv_who, TD "client");
	route_init(&f->cli, CONFIG_MODE_ORIGINATE, cli_who, TD "server");
	ck_assert_ptr_nonnull(f->sctx = tls_ctx_new_opts(&f->srv.rc, so));
	ck_assert_ptr_nonnull(f->cctx = tls_ctx_new_opts(&f->cli.rc, co));
}

/* Handshake on a new connection (CACHE: the client's session store). */
static void
fx_run(struct fx *f, struct tls_cache *cache)
{
	hs_run(&f->h, f->sctx, &f->srv, f->cctx, &f->cli, cache);
}

static void
fx_free(struct fx *f)
{
	hs_clear(&f->h);
	SSL_CTX_free(f->sctx);
	SSL_CTX_free(f->cctx);
	pki_teardown();
}

START_TEST(handshake_good)
{
	struct fx f;
	struct hs *h = &f.h;
	char buf[16];
	size_t n;

	fx_init(&f, "server", "client", NULL, NULL);
	fx_run(&f, NULL);
	ck_assert_int_eq(h->res[0], LEG_OK);
	ck_assert_int_eq(h->res[1], LEG_OK);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(tls_after_handshake(h->l[i].ssl, &h->p[i]), 0);
		ck_assert_int_eq(h->p[i].reason, REASON_NONE);
	}
	ck_assert_str_eq(tls_peer_identity(&h->p[0])->spiffe, TD "client");
	ck_assert_str_eq(tls_peer_identity(&h->p[0])->name, "client");
	ck_assert_str_eq(tls_peer_identity(&h->p[1])->spiffe, TD "server");
	ck_assert_str_eq(SSL_get_version(h->l[0].ssl), "TLSv1.3");
	ck_assert(!tls_alpn_is(h->l[0].ssl, "h2")); /* nothing asked */
	ck_assert_int_eq(leg_write(&h->l[1], "ping", 4, &n), LEG_OK);
	ck_assert_int_eq(read_some(&h->l[0], buf, sizeof(buf), &n), LEG_OK);
	ck_assert_mem_eq(buf, "ping", 4);
	fx_free(&f);
}
END_TEST

/*
 * The client keeps the server's ticket (tls_peer_poll) and the next
 * connection resumes from it; its identities are checked again from the
 * session (no certificate is verified on a resumption).
 */
START_TEST(handshake_resumed)
{
	struct tls_cache cache = {0};
	struct fx f;
	struct hs *h = &f.h;
	char buf[16];
	size_t n;

	fx_init(&f, "server", "client", NULL, NULL);
	fx_run(&f, &cache);
	ck_assert(h->res[0] == LEG_OK && h->res[1] == LEG_OK);
	ck_assert_int_eq(tls_after_handshake(h->l[1].ssl, &h->p[1]), 0);
	ck_assert(!SSL_session_reused(h->l[1].ssl));
	/* The ticket comes after the handshake, with the first read. */
	ck_assert_int_eq(leg_read(&h->l[1], buf, sizeof(buf), &n), LEG_AGAIN);
	tls_peer_poll(h->l[1].ssl, &h->p[1]);
	ck_assert_ptr_nonnull(cache.s);
	hs_clear(h);

	fx_run(&f, &cache);
	ck_assert(h->res[0] == LEG_OK && h->res[1] == LEG_OK);
	for (int i = 0; i < 2; i++) {
		ck_assert(SSL_session_reused(h->l[i].ssl));
		ck_assert_int_eq(tls_after_handshake(h->l[i].ssl, &h->p[i]), 0);
	}
	ck_assert(!h->p[1].refused);
	ck_assert_str_eq(tls_peer_identity(&h->p[0])->spiffe, TD "client");
	ck_assert_str_eq(tls_peer_identity(&h->p[1])->spiffe, TD "server");
	tls_cache_clear(&cache);
	fx_free(&f);
}
END_TEST

/*
 * The server refuses the client named by _i (from another CA, from a CA
 * that only has our CA's name, not in allow, expired) with the reason
 * expected; the client hears of it with its first read (TLS 1.3: its
 * handshake ended before the server's).
 */
static const struct {
	const char *who;
	enum reason why;
	const char *detail; /* a part of it */
} refused[] = {
    {"rogue", REASON_UNKNOWN_CA, "unable to get local issuer"},
    {"impostor", REASON_UNKNOWN_CA, "signature failure"},
    {"other", REASON_IDENTITY_NOT_ALLOWED, TD "other"},
    {"expired", REASON_CERT_EXPIRED, "expired"},
};

START_TEST(server_refuses_client)
{
	struct fx f;
	struct hs *h = &f.h;
	char buf[16];
	size_t n;

	fx_init(&f, "server", refused[_i].who, NULL, NULL);
	fx_run(&f, NULL);
	ck_assert_int_eq(h->res[0], LEG_ERR);
	ck_assert_int_eq(h->p[0].reason, refused[_i].why);
	ck_assert_ptr_nonnull(h->p[0].detail);
	ck_assert_msg(strstr(h->p[0].detail, refused[_i].detail) != NULL,
	    "detail \"%s\"", h->p[0].detail);
	ck_assert_uint_eq(ERR_peek_error(), 0); /* taken, not left behind */
	if (h->res[1] == LEG_OK)
		ck_assert_int_eq(
		    read_some(&h->l[1], buf, sizeof(buf), &n), LEG_ERR);
	fx_free(&f);
}
END_TEST

/* The client refuses a server whose identity its route does not expect. */
START_TEST(client_refuses_server)
{
	struct fx f;
	struct hs *h = &f.h;

	fx_init(&f, "other", "client", NULL, NULL);
	fx_run(&f, NULL);
	ck_assert_int_eq(h->res[1], LEG_ERR);
	ck_assert_int_eq(h->p[1].reason, REASON_IDENTITY_NOT_EXPECTED);
	ck_assert_str_eq(h->p[1].detail, TD "other");
	/* The server got the client's alert instead of its Finished. */
	ck_assert_int_eq(h->res[0], LEG_ERR);
	ck_assert_int_eq(h->p[0].reason, REASON_TLS_ERROR);
	fx_free(&f);
}
END_TEST

/* A client without a certificate: no_client_cert on the server. */
START_TEST(server_refuses_no_cert)
{
	struct test_route srv;
	SSL_CTX *sctx, *cctx;
	struct leg l[2];
	struct tls_peer p;
	enum leg_res res[2] = {LEG_AGAIN, LEG_AGAIN};
	int sv[2];

	pki_setup();
	route_init(&srv, CONFIG_MODE_TERMINATE, "server", TD "client");
	ck_assert_ptr_nonnull(sctx = tls_ctx_new(&srv.rc));
	ck_assert_ptr_nonnull(cctx = SSL_CTX_new(TLS_client_method()));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(fcntl(sv[i], F_SETFL, O_NONBLOCK), 0);
		leg_init(&l[i]);
		l[i].fd = sv[i];
	}
	tls_peer_init(&p, &srv.rc, NULL);
	ck_assert_ptr_nonnull(l[0].ssl = tls_ssl_new(sctx, sv[0], &p, NULL));
	ck_assert_ptr_nonnull(l[1].ssl = SSL_new(cctx));
	ck_assert_int_eq(SSL_set_fd(l[1].ssl, sv[1]), 1);
	SSL_set_connect_state(l[1].ssl);
	for (int n = 0; n < 50 && res[0] == LEG_AGAIN; n++) {
		if (res[1] == LEG_AGAIN)
			res[1] = leg_handshake(&l[1]);
		ERR_clear_error(); /* the client's, if any */
		res[0] = leg_handshake(&l[0]);
	}
	ck_assert_int_eq(res[0], LEG_ERR);
	tls_handshake_failed(&p);
	ck_assert_int_eq(p.reason, REASON_NO_CLIENT_CERT);
	for (int i = 0; i < 2; i++)
		leg_clear(&l[i], false);
	tls_peer_clear(&p);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	pki_teardown();
}
END_TEST

/* What the caller hands the builder reaches the handshake. */
START_TEST(ctx_opts_alpn_and_eof)
{
	struct tls_ctx_opts so = {.alpn = "postgresql"};
	struct tls_ctx_opts co = {.alpn = "postgresql", .eof_ok = true};
	struct fx f;
	struct hs *h = &f.h;

	fx_init(&f, "server", "client", &so, &co);
	ck_assert(
	    (SSL_CTX_get_options(f.cctx) & SSL_OP_IGNORE_UNEXPECTED_EOF) != 0);
	ck_assert(
	    (SSL_CTX_get_options(f.sctx) & SSL_OP_IGNORE_UNEXPECTED_EOF) == 0);
	fx_run(&f, NULL);
	ck_assert(h->res[0] == LEG_OK && h->res[1] == LEG_OK);
	ck_assert(tls_alpn_is(h->l[0].ssl, "postgresql"));
	ck_assert(tls_alpn_is(h->l[1].ssl, "postgresql"));
	ck_assert(!tls_alpn_is(h->l[1].ssl, "h2"));
	hs_clear(h);

	/* A client that offers another protocol gets none selected. */
	SSL_CTX_free(f.cctx);
	co.alpn = "h2";
	ck_assert_ptr_nonnull(f.cctx = tls_ctx_new_opts(&f.cli.rc, &co));
	fx_run(&f, NULL);
	ck_assert(h->res[0] == LEG_OK && h->res[1] == LEG_OK);
	ck_assert(!tls_alpn_is(h->l[0].ssl, "postgresql"));
	ck_assert(!tls_alpn_is(h->l[1].ssl, "h2"));
	fx_free(&f);
}
END_TEST

/*
 * A server with two protocols (a postgres terminate route with mux)
 * selects its first one a client offers: "h2" for a cotai sidecar,
 * "postgresql" for libpq's direct TLS, none for another.
 */
START_TEST(ctx_opts_alpn_also)
{
	struct tls_ctx_opts so = {.alpn = "h2", .alpn_also = "postgresql"};
	struct tls_ctx_opts co = {.alpn = "postgresql"};
	const char *offer[] = {"postgresql", "h2", "http/1.1"};
	struct fx f;
	struct hs *h = &f.h;

	fx_init(&f, "server", "client", &so, &co);
	for (size_t i = 0; i < 3; i++) {
		if (i > 0) {
			SSL_CTX_free(f.cctx);
			co.alpn = offer[i];
			ck_assert_ptr_nonnull(
			    f.cctx = tls_ctx_new_opts(&f.cli.rc, &co));
		}
		fx_run(&f, NULL);
		ck_assert(h->res[0] == LEG_OK && h->res[1] == LEG_OK);
		for (int k = 0; k < 2; k++) {
			ck_assert(
			    tls_alpn_is(h->l[k].ssl, "postgresql") == (i == 0));
			ck_assert(tls_alpn_is(h->l[k].ssl, "h2") == (i == 1));
		}
		hs_clear(h);
	}
	fx_free(&f);
}
END_TEST

/* Files that do not make a context: NULL (logged), nothing leaks. */
START_TEST(ctx_bad_files)
{
	struct test_route r;
	char wrong[128];

	pki_setup();
	route_init(&r, CONFIG_MODE_TERMINATE, "server", TD "client");
	snprintf(wrong, sizeof(wrong), "%s/client.key", dir);
	r.rc.identity.key = wrong; /* not the certificate's key */
	ck_assert_ptr_null(tls_ctx_new(&r.rc));
	route_init(&r, CONFIG_MODE_TERMINATE, "missing", TD "client");
	ck_assert_ptr_null(tls_ctx_new(&r.rc));
	route_init(&r, CONFIG_MODE_TERMINATE, "server", TD "client");
	r.rc.identity.ca = "/nonexistent/ca.crt";
	ck_assert_ptr_null(tls_ctx_new(&r.rc));
	ck_assert_uint_eq(ERR_peek_error(), 0);
	/* local_tls: none asked for, none made. */
	route_init(&r, CONFIG_MODE_ORIGINATE, "client", TD "server");
	ck_assert_ptr_null(tls_local_ctx_new(&r.rc, NULL));
	pki_teardown();
}
END_TEST

Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, handshake_good);
	tcase_add_test(tc, handshake_resumed);
	tcase_add_loop_test(tc, server_refuses_client, 0,
	    (int)(sizeof(refused) / sizeof(refused[0])));
	tcase_add_test(tc, client_refuses_server);
	tcase_add_test(tc, server_refuses_no_cert);
	tcase_add_test(tc, ctx_opts_alpn_and_eof);
	tcase_add_test(tc, ctx_opts_alpn_also);
	tcase_add_test(tc, ctx_bad_files);
	suite_add_tcase(s, tc);
	return (s);
}
