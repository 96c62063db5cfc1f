/*
 * conn_rig: the fixture of check_conn.c (included once, by it): a temp
 * dir with a CA and the server's and client's certificates made in
 * memory, a config with four routes loaded from YAML, the routes built by
 * route_new() (real OpenSSL contexts), a conn_table on an event base the
 * test drives, connections accepted over socketpairs, an upstream Unix
 * socket, a TLS client, and loops that run the proxy's side until
 * something happens (each gives up after 3 s). Everything aborts the test
 * on failure through ck_assert.
 */
#ifndef COTAI_TEST_CONN_RIG_H
#define COTAI_TEST_CONN_RIG_H

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "conn_priv.h"
#include "conn_table.h"
#include "route.h"
#include "testcert.h"
#include "tls.h"

enum { R_TERM, R_ORIG, R_LIM, R_HS, R_N };

static const char yaml[] =
    "workers: 1\n"
    "identity:\n"
    "  ca: @D@/ca.pem\n"
    "  cert: @D@/srv.crt\n"
    "  key: @D@/srv.key\n"
    "routes:\n"
    "  - name: term\n"
    "    mode: terminate\n"
    "    listen: unix:@D@/term.sock\n"
    "    target: unix:@D@/up.sock\n"
    "    allow: [\"spiffe://cotai.test/client\"]\n"
    "    timeouts: { handshake: 10s, connect: 1s, idle: 1h, "
    "half_close: 1m }\n"
    "    connect_retry: { attempts: 2, backoff: 20ms }\n"
    "  - name: orig\n"
    "    mode: originate\n"
    "    listen: unix:@D@/orig.sock\n"
    "    target: unix:@D@/up.sock\n"
    "    expect: [\"spiffe://cotai.test/server\"]\n"
    "    timeouts: { handshake: 5s, connect: 1s }\n"
    "    connect_retry: { attempts: 2, backoff: 20ms }\n"
    "    mux: off\n"
    "  - name: lim\n"
    "    mode: terminate\n"
    "    listen: unix:@D@/lim.sock\n"
    "    target: unix:@D@/up.sock\n"
    "    allow: [\"spiffe://cotai.test/client\"]\n"
    "    max_connections: 1\n"
    "  - name: hs\n"
    "    mode: terminate\n"
    "    listen: unix:@D@/hs.sock\n"
    "    target: unix:@D@/up.sock\n"
    "    allow: [\"spiffe://cotai.test/client\"]\n"
    "    timeouts: { handshake: 150ms }\n";

static char dir[64];

struct rig {
	struct event_base *base;
	struct route_config *rcfg;
	struct route *routes[R_N];
	struct conn_table *ct;
	atomic_uint active;
	int sv[2]; /* the last connection's socketpair; sv[1] is ours */
	int ul;    /* the upstream's socket (bound; listening or not) */
	char up_path[128];
};

static void
path_in(char *buf, size_t len, const char *name)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/%s", dir, name), (int)len);
}

/*
 * Write a key and a certificate named NAME (CN, DNS and
 * spiffe://cotai.test/NAME) issued by CA (CAK), good for TLS clients and
 * servers, to FILE.crt and FILE.key.
 */
static void
write_leaf(
    const char *name, const char *file, X509 *ca, EVP_PKEY *cak, long serial)
{
	EVP_PKEY *k = testcert_key();
	char san[160], p[128], f[32];
	X509 *x;

	snprintf(
	    san, sizeof(san), "URI:spiffe://cotai.test/%s,DNS:%s", name, name);
	x = testcert_build(k, serial, name, NULL, san, 2);
	ck_assert_int_eq(X509_set_issuer_name(x, X509_get_subject_name(ca)), 1);
	testcert_ext(x, NID_ext_key_usage, "serverAuth,clientAuth");
	testcert_sign(x, cak);
	snprintf(f, sizeof(f), "%s.crt", file);
	path_in(p, sizeof(p), f);
	testcert_write_cert(p, x);
	snprintf(f, sizeof(f), "%s.key", file);
	path_in(p, sizeof(p), f);
	testcert_write_key(p, k, 0600);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* The CA, the server's and the client's certificates and keys in DIR. */
static void
write_pki(void)
{
	EVP_PKEY *cak = testcert_key();
	X509 *ca = testcert_build(cak, 1, "cotai unit CA", NULL, NULL, 2);
	char p[128];

	testcert_ext(ca, NID_basic_constraints, "critical,CA:TRUE");
	testcert_ext(ca, NID_key_usage, "critical,keyCertSign,cRLSign");
	testcert_sign(ca, cak);
	path_in(p, sizeof(p), "ca.pem");
	testcert_write_cert(p, ca);
	write_leaf("server", "srv", ca, cak, 2);
	write_leaf("client", "cli", ca, cak, 3);
	X509_free(ca);
	EVP_PKEY_free(cak);
}

static struct cotai_config *
load_config(void)
{
	struct cotai_config *cfg = NULL;
	char path[128], err[512];
	const char *s = yaml, *at;
	FILE *fp;

	path_in(path, sizeof(path), "t.yaml");
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	while ((at = strstr(s, "@D@")) != NULL) {
		fwrite(s, 1, (size_t)(at - s), fp);
		fputs(dir, fp);
		s = at + 3;
	}
	fputs(s, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_msg(
	    config_load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	return (cfg);
}

/* A Unix socket bound at the route's target; listening when LISTEN. */
static int
up_socket(struct rig *g, bool listen_now)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(g->up_path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, g->up_path, strlen(g->up_path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listen_now)
		ck_assert_int_eq(listen(fd, 8), 0);
	return (fd);
}

static void
rig_init(struct rig *g)
{
	struct cotai_config *cfg;

	memset(g, 0, sizeof(*g));
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(tls_init(), 0);
	snprintf(dir, sizeof(dir), "/tmp/sm-check-conn-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_pki();
	path_in(g->up_path, sizeof(g->up_path), "up.sock");
	cfg = load_config();
	ck_assert_ptr_nonnull(g->rcfg = route_config_new(cfg));
	ck_assert_int_eq((int)g->rcfg->cfg->nroutes, R_N);
	for (size_t i = 0; i < R_N; i++)
		ck_assert_ptr_nonnull(
		    g->routes[i] = route_new(g->rcfg, i, NULL, NULL));
	ck_assert_ptr_nonnull(g->base = event_base_new());
	atomic_init(&g->active, 0);
	g->ct = conn_table_new(&(struct conn_table_args){.base = g->base,
	    .routes = g->routes,
	    .nroutes = R_N,
	    .cfg = g->rcfg->cfg,
	    .nworkers = 1,
	    .active = &g->active});
	ck_assert_ptr_nonnull(g->ct);
	g->ul = -1;
	g->sv[0] = g->sv[1] = -1;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static void
rig_free(struct rig *g)
{
	conn_table_free(g->ct);
	ck_assert_uint_eq(atomic_load(&g->active), 0);
	for (size_t i = 0; i < R_N; i++)
		route_unref(g->routes[i]);
	route_config_unref(g->rcfg);
	event_base_free(g->base);
	if (g->ul >= 0)
		close(g->ul);
	if (g->sv[1] >= 0)
		close(g->sv[1]);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* A new connection on route I whose client end is g->sv[1]. */
static struct conn *
rig_accept(struct rig *g, int i)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (g->sv[1] >= 0)
		close(g->sv[1]);
	ck_assert_int_eq(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, g->sv), 0);
	conn_accept(
	    g->ct, g->routes[i], g->sv[0], (struct sockaddr *)&sa, sizeof(sa));
	return (TAILQ_LAST(&g->ct->conns, conn_list));
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* One round of the event loop, then a short nap. */
static void
spin(struct rig *g)
{
	(void)event_base_loop(g->base, EVLOOP_NONBLOCK);
	usleep(1000);
}

/* Run the loop until the table holds N connections (at most 3 s). */
static void
spin_until_nconns(struct rig *g, size_t n)
{
	uint64_t end = now_ms() + 3000;

	while (g->ct->nconns != n && now_ms() < end)
		spin(g);
	ck_assert_uint_eq(g->ct->nconns, n);
}

/* Accept the proxy's upstream connection (at most 3 s). */
static int
up_accept(struct rig *g)
{
	uint64_t end = now_ms() + 3000;
	int fd;

	while ((fd = accept4(g->ul, NULL, NULL, SOCK_NONBLOCK)) < 0 &&
	    now_ms() < end) {
		ck_assert_int_eq(errno, EAGAIN);
		spin(g);
	}
	ck_assert_int_ge(fd, 0);
	return (fd);
}

/* Read exactly LEN bytes from plain FD into BUF (at most 3 s). */
static void
up_read(struct rig *g, int fd, char *buf, size_t len)
{
	uint64_t end = now_ms() + 3000;
	size_t got = 0;
	ssize_t n;

	while (got < len && now_ms() < end) {
		if ((n = read(fd, buf + got, len - got)) > 0)
			got += (size_t)n;
		else
			spin(g);
	}
	ck_assert_uint_eq(got, len);
}

/* Wait for EOF on plain FD (at most 3 s). */
static void
up_eof(struct rig *g, int fd)
{
	uint64_t end = now_ms() + 3000;
	char c;
	ssize_t n = -1;

	while (now_ms() < end && (n = read(fd, &c, 1)) < 0 && errno == EAGAIN)
		spin(g);
	ck_assert_int_eq(n, 0);
}

/* A TLS client with the client's certificate on g->sv[1]. */
static SSL *
tls_client(struct rig *g, SSL_CTX **ctxp)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char p[128];
	SSL *ssl;

	ck_assert_ptr_nonnull(ctx);
	path_in(p, sizeof(p), "cli.crt");
	ck_assert_int_eq(
	    SSL_CTX_use_certificate_file(ctx, p, SSL_FILETYPE_PEM), 1);
	path_in(p, sizeof(p), "cli.key");
	ck_assert_int_eq(
	    SSL_CTX_use_PrivateKey_file(ctx, p, SSL_FILETYPE_PEM), 1);
	path_in(p, sizeof(p), "ca.pem");
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, p, NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ck_assert_ptr_nonnull(ssl = SSL_new(ctx));
	ck_assert_int_eq(SSL_set_fd(ssl, g->sv[1]), 1);
	ck_assert_int_eq(SSL_set1_host(ssl, "server"), 1);
	*ctxp = ctx;
	return (ssl);
}

/* Finish SSL's handshake while the proxy runs (at most 3 s). */
static void
tls_connect(struct rig *g, SSL *ssl)
{
	uint64_t end = now_ms() + 3000;
	int r;

	while ((r = SSL_connect(ssl)) != 1 && now_ms() < end) {
		int e = SSL_get_error(ssl, r);

		ck_assert_msg(
		    e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE,
		    "SSL_connect: %d", e);
		spin(g);
	}
	ck_assert_int_eq(r, 1);
}

/* Read exactly LEN bytes over SSL into BUF (at most 3 s). */
static void
tls_read(struct rig *g, SSL *ssl, char *buf, size_t len)
{
	uint64_t end = now_ms() + 3000;
	size_t got = 0, n;

	while (got < len && now_ms() < end) {
		if (SSL_read_ex(ssl, buf + got, len - got, &n) == 1)
			got += n;
		else
			spin(g);
	}
	ck_assert_uint_eq(got, len);
}

static uint64_t
closed(const struct rig *g, int i, enum reason why)
{
	return (atomic_load(&g->routes[i]->stats->closed[why]));
}

#endif
