/*
 * Unit tests for proxy/process/reload.c and the pool's one swap entry
 * (worker_pool_swap): a real pool (TLS contexts from certificates made
 * here, bound sockets, started worker threads) reloaded from a real file,
 * as SIGHUP would:
 *  - a good reload swaps everything in at once: new routes, their
 *    sockets and names, the ports file, the config; a route that stays
 *    keeps its sockets and continues its counters;
 *  - a file that fails --check, key material that does not verify, and a
 *    listen address that cannot be bound each leave the pool exactly as it
 *    was (same routes, same config) and say why, the file's error with
 *    its file:line;
 *  - a reload that removes a route: it is gone from the pool and the
 *    ports file, and the workers close its listeners;
 *  - cotai_reloads_total by result counts each of these.
 * Logs and audit records go to standard error, which each test sends to
 * a file it reads back.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "duration.h"
#include "reload.h"
#include "route.h"
#include "tls.h"
#include "worker.h"

#include "data/testcert.h"

Suite *reload_suite(void);

static char dir[64];
static char path[128];  /* the config file */
static char ports[128]; /* the ports file */
static char logp[128];  /* standard error, redirected */
static int saved_err = -1;

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(p));
}

static void
at(char *buf, size_t len, const char *name)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/%s", dir, name), (int)len);
}

/* Certificates: cert.pem/key.pem (self-signed, so its own CA bundle
 * ca.pem verifies it) and other.pem, a CA that does not. */
static void
setup(void)
{
	EVP_PKEY *k = testcert_key(), *ok = testcert_key();
	X509 *x = testcert_make(k, "backend", "URI:spiffe://cotai.internal/b");
	X509 *o = testcert_make(ok, "other", "URI:spiffe://cotai.internal/o");
	char p[128];
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/check_reload.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	at(p, sizeof(p), "cert.pem");
	testcert_write_cert(p, x);
	at(p, sizeof(p), "ca.pem");
	testcert_write_cert(p, x);
	at(p, sizeof(p), "key.pem");
	testcert_write_key(p, k, 0600);
	at(p, sizeof(p), "other.pem");
	testcert_write_cert(p, o);
	X509_free(x);
	X509_free(o);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ok);
	at(path, sizeof(path), "t.yaml");
	at(ports, sizeof(ports), "ports");
	at(logp, sizeof(logp), "stderr");
	ck_assert_int_eq(tls_init(), 0);
	fflush(stderr);
	ck_assert_int_ge(saved_err = dup(STDERR_FILENO), 0);
	fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

static void
teardown(void)
{
	if (saved_err >= 0) {
		dup2(saved_err, STDERR_FILENO);
		close(saved_err);
		saved_err = -1;
	}
	nftw(dir, rm_entry, 4, FTW_DEPTH | FTW_PHYS);
}

/* The text of file P (up to 64 KiB, in a buffer of its own). */
static char *
slurp(const char *p)
{
	static char buf[2][65536];
	static int which;
	char *b = buf[which++ % 2];
	FILE *fp = fopen(p, "r");
	size_t n;

	ck_assert_ptr_nonnull(fp);
	n = fread(b, 1, sizeof(buf[0]) - 1, fp);
	b[n] = '\0';
	fclose(fp);
	return (b);
}

/* What was written to standard error since the test began. */
static char *
stderr_text(void)
{
	return (slurp(logp));
}

/* The identity for every route, then routes: ROUTES (YAML lines). */
#define HEAD                                                                   \
	"identity: {ca: @D@/@CA@.pem, cert: @D@/cert.pem, key: @D@/key.pem}\n" \
	"workers: 2\n"                                                         \
	"admin: {enabled: false}\n"                                            \
	"routes:\n"
/* An originate route NAME listening on LISTEN. */
#define ROUTE(name, listen)                                                    \
	"  - name: " name "\n    mode: originate\n    listen: " listen         \
	"\n    target: 127.0.0.1:1\n    expect: peer\n"

/* Write the config file: YAML with @D@ the temp dir and @CA@ CA. */
static void
write_config(const char *yaml, const char *ca)
{
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	for (; *yaml != '\0'; yaml++) {
		if (strncmp(yaml, "@D@", 3) == 0) {
			fputs(dir, fp);
			yaml += 2;
		} else if (strncmp(yaml, "@CA@", 4) == 0) {
			fputs(ca, fp);
			yaml += 3;
		} else
			fputc(*yaml, fp);
	}
	ck_assert_int_eq(fclose(fp), 0);
}

/* A running proxy's process layer: the pool, its threads, reloads. */
struct rig {
	struct event_base *base;
	struct worker_pool *p;
	struct reload *rl;
};

static void
rig_start(struct rig *g, const char *yaml)
{
	struct cotai_config *cfg = NULL;
	struct route_config *rc;
	char err[1024];

	write_config(yaml, "ca");
	ck_assert_msg(
	    config_load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(rc = route_config_new(cfg));
	ck_assert_ptr_nonnull(g->p = worker_pool_new(rc));
	route_config_unref(rc); /* the pool has its own reference */
	ck_assert_ptr_nonnull(g->base = event_base_new());
	ck_assert_int_eq(worker_pool_start(g->p), 0);
	ck_assert_ptr_nonnull(g->rl = reload_new(g->base, g->p, ports));
}

static void
rig_stop(struct rig *g)
{
	worker_pool_drain(g->p);
	worker_pool_join(g->p);
	reload_free(g->rl);
	worker_pool_free(g->p);
	event_base_free(g->base);
}

/* The port of route I's listeners ("127.0.0.1:PORT"). */
static unsigned short
bound_port(const struct worker_pool *p, size_t i)
{
	const char *b = worker_pool_bound(p, i);
	const char *colon = strrchr(b, ':');

	ck_assert_ptr_nonnull(colon);
	return ((unsigned short)atoi(colon + 1));
}

/* Does 127.0.0.1:PORT accept connections? */
static bool
accepts(unsigned short port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return (ok);
}

static void
counts(const struct worker_pool *p, uint64_t ok, uint64_t config, uint64_t tls,
    uint64_t bind)
{
	struct pool_snapshot s;

	worker_pool_snapshot(p, &s);
	ck_assert_uint_eq(s.reloads[POOL_RELOAD_OK], ok);
	ck_assert_uint_eq(s.reloads[POOL_RELOAD_CONFIG], config);
	ck_assert_uint_eq(s.reloads[POOL_RELOAD_TLS], tls);
	ck_assert_uint_eq(s.reloads[POOL_RELOAD_BIND], bind);
}

/* What a failed reload must not have touched. */
struct state {
	const struct cotai_config *cfg;
	const struct route *r[4]; /* compared, never read: may be freed */
	const struct route_stats *stats[4];
	size_t n;
	char bound[4][64];
};

static void
state_get(const struct worker_pool *p, struct state *s)
{
	memset(s, 0, sizeof(*s));
	s->cfg = worker_pool_config(p);
	s->n = worker_pool_nroutes(p);
	ck_assert_uint_le(s->n, 4);
	for (size_t i = 0; i < s->n; i++) {
		s->r[i] = worker_pool_route(p, i);
		s->stats[i] = s->r[i]->stats;
		snprintf(s->bound[i], sizeof(s->bound[i]), "%s",
		    worker_pool_bound(p, i));
	}
}

static void
state_same(const struct worker_pool *p, const struct state *s)
{
	ck_assert_ptr_eq(worker_pool_config(p), s->cfg);
	ck_assert_uint_eq(worker_pool_nroutes(p), s->n);
	for (size_t i = 0; i < s->n; i++) {
		ck_assert_ptr_eq(worker_pool_route(p, i), s->r[i]);
		ck_assert_str_eq(worker_pool_bound(p, i), s->bound[i]);
	}
}

/* A good reload adds a route: everything is swapped in at once. */
START_TEST(good_swap)
{
	struct rig g;
	struct state before;
	char line[128];

	rig_start(&g, HEAD ROUTE("a", "127.0.0.1:0"));
	state_get(g.p, &before);
	write_config(
	    HEAD ROUTE("a", "127.0.0.1:0") ROUTE("b", "127.0.0.1:0"), "ca");
	ck_assert_int_eq(reload_run(g.rl, "test"), POOL_RELOAD_OK);
	ck_assert_uint_eq(worker_pool_nroutes(g.p), 2);
	ck_assert_ptr_ne(worker_pool_config(g.p), before.cfg);
	ck_assert_uint_eq(worker_pool_config(g.p)->nroutes, 2);
	ck_assert_str_eq(worker_pool_route(g.p, 1)->cfg->name, "b");
	ck_assert_ptr_eq(
	    worker_pool_route_named(g.p, "b"), worker_pool_route(g.p, 1));
	/* a: a new route object, the same sockets and counters. */
	ck_assert_ptr_ne(worker_pool_route(g.p, 0), before.r[0]);
	ck_assert_str_eq(worker_pool_bound(g.p, 0), before.bound[0]);
	ck_assert_ptr_eq(worker_pool_route(g.p, 0)->stats, before.stats[0]);
	ck_assert(accepts(bound_port(g.p, 1)));
	snprintf(line, sizeof(line), "a %s\nb %s\n", worker_pool_bound(g.p, 0),
	    worker_pool_bound(g.p, 1));
	ck_assert_str_eq(slurp(ports), line);
	counts(g.p, 1, 0, 0, 0);
	ck_assert_ptr_nonnull(strstr(stderr_text(), "reload done: 2 routes"));
	rig_stop(&g);
}
END_TEST

/* A file that fails --check changes nothing and says where it fails. */
START_TEST(bad_config)
{
	struct rig g;
	struct state before;
	char want[192];

	rig_start(&g, HEAD ROUTE("a", "127.0.0.1:0"));
	state_get(g.p, &before);
	/* line 10, column 5: a key no route has */
	write_config(HEAD ROUTE("a", "127.0.0.1:0") "    colour: red\n", "ca");
	ck_assert_int_eq(reload_run(g.rl, "test"), POOL_RELOAD_CONFIG);
	state_same(g.p, &before);
	ck_assert(accepts(bound_port(g.p, 0)));
	snprintf(
	    want, sizeof(want), "reload: %s:10:5: routes[0].colour: ", path);
	ck_assert_msg(strstr(stderr_text(), want) != NULL, "no \"%s\" in:\n%s",
	    want, stderr_text());
	ck_assert_ptr_nonnull(strstr(stderr_text(),
	    "reload failed (config_error): the running configuration stays"));
	counts(g.p, 0, 1, 0, 0);
	rig_stop(&g);
}
END_TEST

/* Key material that does not verify (another CA), then an address that
 * cannot be bound: both change nothing; each result is counted. */
START_TEST(bad_tls_bind)
{
	struct rig g;
	struct state before;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char addr[64], yaml[1024];
	int taken;

	rig_start(&g, HEAD ROUTE("a", "127.0.0.1:0"));
	state_get(g.p, &before);
	write_config(HEAD ROUTE("a", "127.0.0.1:0"), "other");
	ck_assert_int_eq(reload_run(g.rl, "test"), POOL_RELOAD_TLS);
	state_same(g.p, &before);
	ck_assert_ptr_nonnull(strstr(stderr_text(), "does not verify"));
	/* A port someone else holds (no SO_REUSEPORT: the bind fails). */
	ck_assert_int_ge(taken = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(taken, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(taken, 1), 0);
	ck_assert_int_eq(getsockname(taken, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	snprintf(yaml, sizeof(yaml),
	    HEAD ROUTE("a", "127.0.0.1:0") ROUTE("b", "%s"), addr);
	write_config(yaml, "ca");
	ck_assert_int_eq(reload_run(g.rl, "test"), POOL_RELOAD_BIND);
	state_same(g.p, &before);
	counts(g.p, 0, 0, 1, 1);
	/* And a good one after them goes through. */
	write_config(HEAD ROUTE("a", "127.0.0.1:0"), "ca");
	ck_assert_int_eq(reload_run(g.rl, "test"), POOL_RELOAD_OK);
	counts(g.p, 1, 0, 1, 1);
	close(taken);
	rig_stop(&g);
}
END_TEST

/* A reload that removes a route: gone from the pool and the ports file;
 * the workers close its listeners. */
START_TEST(remove_route)
{
	struct rig g;
	unsigned short pa, pb;
	uint64_t end;
	char line[128];

	rig_start(&g, HEAD ROUTE("a", "127.0.0.1:0") ROUTE("b", "127.0.0.1:0"));
	ck_assert_uint_eq(worker_pool_nroutes(g.p), 2);
	pa = bound_port(g.p, 0);
	pb = bound_port(g.p, 1);
	ck_assert(accepts(pb));
	write_config(HEAD ROUTE("a", "127.0.0.1:0"), "ca");
	ck_assert_int_eq(reload_run(g.rl, "test"), POOL_RELOAD_OK);
	ck_assert_uint_eq(worker_pool_nroutes(g.p), 1);
	ck_assert_ptr_null(worker_pool_route_named(g.p, "b"));
	ck_assert_uint_eq(bound_port(g.p, 0), pa);
	snprintf(line, sizeof(line), "a %s\n", worker_pool_bound(g.p, 0));
	ck_assert_str_eq(slurp(ports), line);
	/* The workers apply it between two events. */
	end = duration_now_ms() + 5000;
	while (accepts(pb) && duration_now_ms() < end)
		usleep(20 * 1000);
	ck_assert_msg(!accepts(pb), "route b still accepts on %u", pb);
	ck_assert(accepts(pa));
	counts(g.p, 1, 0, 0, 0);
	rig_stop(&g);
}
END_TEST

Suite *
reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_swap);
	tcase_add_test(tc, bad_config);
	tcase_add_test(tc, bad_tls_bind);
	tcase_add_test(tc, remove_route);
	suite_add_tcase(s, tc);
	return (s);
}
