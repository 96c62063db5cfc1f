/*
 * Unit tests for proxy/relay/resolver.c, the thread that looks the current
 * routes' target names up again, with real upstreams (upstream.c) and real
 * lookups (getaddrinfo):
 *  - localhost, answered by /etc/hosts, connects;
 *  - stopping: prompt with lookups scheduled, idempotent, and every
 *    reference the registry held (upstreams, their stats) given back;
 *  - in a forked child with a mount namespace of its own, /etc/hosts and
 *    /etc/nsswitch.conf replaced by files of the test's ("hosts: files",
 *    so no query leaves the machine): a name that does not resolve (no
 *    periodic lookup with resolve_interval 0, a prompt one at most a
 *    second after the last after upstream_failed(), then it resolves once
 *    the name is there), and a name whose address changes (the next
 *    connection goes to the new address; a lookup that fails keeps it;
 *    an unregistered upstream is no longer looked up).
 * The namespace needs CAP_SYS_ADMIN: without it, the two namespace tests
 * are not added to the suite, and the runner says so (NOT RUN), rather
 * than count them as passed.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "duration.h"
#include "log.h"
#include "resolver.h"
#include "route.h"
#include "upstream.h"

#include "data/upstream_fixture.h"

Suite *resolver_suite(void);

#define NAME "cotai-unit-target"
#define WAIT_MS 5000 /* for what the resolver thread does (loaded CI) */

static uint64_t
failures(struct route_stats *st)
{
	return (atomic_load(&st->resolve_failures));
}

/* A listening TCP socket on IP, port *PORT (0: any, set to the one got);
 * -1 on failure. */
static int
listen_on(const char *ip, unsigned short *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(*port);
	if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		if (fd >= 0)
			close(fd);
		return (-1);
	}
	*port = ntohs(sa.sin_port);
	return (fd);
}

/*
 * Connect to U's address IDX as a worker would and write where the
 * connection went (numeric IPv4 or IPv6) into BUF: "" when there is no
 * such address or it did not connect within 2 s.
 */
static void
peer(struct upstream *u, size_t idx, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct pollfd p;
	int fd = upstream_connect(u, idx);

	buf[0] = '\0';
	if (fd < 0)
		return;
	p = (struct pollfd){fd, POLLOUT, 0};
	if (poll(&p, 1, 2000) == 1 && upstream_connect_result(fd) == 0 &&
	    getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET,
			    &((struct sockaddr_in *)&ss)->sin_addr, buf,
			    (socklen_t)len);
		else
			inet_ntop(AF_INET6,
			    &((struct sockaddr_in6 *)&ss)->sin6_addr, buf,
			    (socklen_t)len);
	}
	close(fd);
}

/* localhost resolves, and one of its addresses reaches our listener. */
START_TEST(localhost)
{
	struct route_stats *st = stats_new();
	struct resolver *rs = resolver_new();
	unsigned short port = 0;
	int l = listen_on("127.0.0.1", &port);
	char addr[64], got[64] = "";
	struct upstream *u;

	ck_assert_int_ge(l, 0);
	ck_assert_ptr_nonnull(rs);
	snprintf(addr, sizeof(addr), "localhost:%u", port);
	ck_assert_ptr_nonnull(u = mk(addr, 50, st, rs));
	ck_assert(upstream_dynamic(u));
	resolver_add(rs, u);
	ck_assert_int_eq(resolver_start(rs), 0);
	/* Several periodic lookups (every 50 ms) come and go meanwhile. */
	for (size_t i = 0; i < 4 && strcmp(got, "127.0.0.1") != 0; i++)
		peer(u, i, got, sizeof(got));
	ck_assert_str_eq(got, "127.0.0.1");
	usleep(300 * 1000);
	peer(u, 0, got, sizeof(got));
	ck_assert_str_ne(got, "");
	ck_assert_uint_eq(failures(st), 0);
	resolver_remove(rs, u);
	resolver_free(rs);
	upstream_unref(u);
	ck_assert_uint_eq(atomic_load(&st->refs), 1);
	route_stats_unref(st);
	close(l);
}
END_TEST

/*
 * Stopping with lookups due every millisecond returns at once, twice is
 * harmless, and free gives back the registry's references: the stats end
 * with only ours.
 */
START_TEST(stop_clean)
{
	struct route_stats *st = stats_new();
	struct resolver *rs = resolver_new();
	struct upstream *u[4];
	uint64_t t0;

	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(resolver_start(rs), 0);
	for (size_t i = 0; i < 4; i++) {
		ck_assert_ptr_nonnull(u[i] = mk("localhost:1", 1, st, rs));
		resolver_add(rs, u[i]);
		upstream_failed(u[i]);
	}
	ck_assert_uint_eq(atomic_load(&st->refs), 5);
	usleep(50 * 1000);
	/* Ours go first: the registry's keep the upstreams alive. */
	for (size_t i = 0; i < 4; i++)
		upstream_unref(u[i]);
	ck_assert_uint_eq(atomic_load(&st->refs), 5);
	t0 = duration_now_ms();
	resolver_stop(rs);
	resolver_stop(rs);
	ck_assert_uint_lt(duration_now_ms() - t0, 1000);
	/* Stopped: waking it is harmless. */
	resolver_wake(rs);
	resolver_free(rs);
	resolver_free(NULL);
	ck_assert_uint_eq(atomic_load(&st->refs), 1);
	route_stats_unref(st);
}
END_TEST

/* --- in a mount namespace of the child's own --- */

static char dir[64];
static int report = -1; /* the child's pipe to the test */

/* In the child: say what went wrong (the test fails with it). */
static void
bad(const char *fmt, ...)
{
	char b[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(b) - 2)
		n = (int)sizeof(b) - 2;
	b[n++] = '\n';
	(void)write(report, b, (size_t)n);
}

/* Write TEXT over DIR/NAME in place (the bind mount follows the inode). */
static int
put(const char *name, const char *text)
{
	char p[128];
	FILE *fp;
	int ok;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fp = fopen(p, "w")) == NULL)
		return (-1);
	ok = fputs(text, fp) >= 0;
	return (fclose(fp) == 0 && ok ? 0 : -1);
}

/* /etc/hosts (HOSTS) and /etc/nsswitch.conf ("hosts: files") of our own,
 * for this process only. 0 or -1 with errno. */
static int
ns_enter(const char *hosts)
{
	char h[128], n[128];

	snprintf(h, sizeof(h), "%s/hosts", dir);
	snprintf(n, sizeof(n), "%s/nsswitch.conf", dir);
	if (put("hosts", hosts) != 0 ||
	    put("nsswitch.conf", "hosts: files\n") != 0 ||
	    unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount(h, "/etc/hosts", NULL, MS_BIND, NULL) != 0 ||
	    mount(n, "/etc/nsswitch.conf", NULL, MS_BIND, NULL) != 0)
		return (-1);
	return (0);
}

/* Wait up to WAIT_MS for ST's failures to reach N. */
static bool
wait_failures(struct route_stats *st, uint64_t n)
{
	uint64_t end = duration_now_ms() + WAIT_MS;

	while (failures(st) < n && duration_now_ms() < end)
		usleep(10 * 1000);
	return (failures(st) >= n);
}

/* Wait up to WAIT_MS for U's first address to be WANT. */
static bool
wait_peer(struct upstream *u, const char *want, char *got, size_t len)
{
	uint64_t end = duration_now_ms() + WAIT_MS;

	do {
		peer(u, 0, got, len);
		if (strcmp(got, want) == 0)
			return (true);
		usleep(20 * 1000);
	} while (duration_now_ms() < end);
	return (false);
}

#define EXPECT(cond, ...)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			bad(__VA_ARGS__);                                      \
			return;                                                \
		}                                                              \
	} while (0)

/*
 * A name that does not resolve: counted once when made, never looked up
 * periodically with resolve_interval 0, looked up again a second after
 * the last lookup began once a connection failed on every address, and
 * resolved as soon as the name exists.
 */
static void
child_nx(struct route_stats *st, struct resolver *rs, unsigned short port)
{
	struct upstream *u;
	char addr[64], got[64];
	uint64_t t0;

	snprintf(addr, sizeof(addr), NAME ":%u", port);
	u = mk(addr, 0, st, rs);
	EXPECT(failures(st) == 1, "failures %ju after the first lookup",
	    (uintmax_t)failures(st));
	errno = 0;
	EXPECT(upstream_connect(u, 0) == -1 && errno == ENOENT,
	    "an address for a name that does not resolve");
	t0 = duration_now_ms();
	resolver_add(rs, u);
	EXPECT(resolver_start(rs) == 0, "resolver_start");
	usleep(300 * 1000);
	EXPECT(failures(st) == 1, "looked up again without asking: %ju",
	    (uintmax_t)failures(st));
	upstream_failed(u);
	EXPECT(wait_failures(st, 2), "no lookup after upstream_failed()");
	EXPECT(duration_now_ms() - t0 >= 900,
	    "prompt lookup %ju ms after the last one, not a second",
	    (uintmax_t)(duration_now_ms() - t0));
	EXPECT(put("hosts", "127.0.0.2 " NAME "\n") == 0, "write hosts");
	upstream_failed(u);
	EXPECT(wait_peer(u, "127.0.0.2", got, sizeof(got)),
	    "still no address once the name resolves (got \"%s\")", got);
	resolver_remove(rs, u);
	upstream_unref(u);
}

/*
 * The name's address changes: the next connection goes to the new one; a
 * lookup that fails keeps the last good list; once unregistered the
 * upstream is no longer looked up.
 */
static void
child_change(struct route_stats *st, struct resolver *rs, unsigned short port)
{
	struct upstream *u;
	char addr[64], got[64];
	uint64_t n;

	EXPECT(put("hosts", "127.0.0.2 " NAME "\n") == 0, "write hosts");
	snprintf(addr, sizeof(addr), NAME ":%u", port);
	u = mk(addr, 100, st, rs);
	peer(u, 0, got, sizeof(got));
	EXPECT(strcmp(got, "127.0.0.2") == 0, "first address %s", got);
	resolver_add(rs, u);
	EXPECT(resolver_start(rs) == 0, "resolver_start");
	EXPECT(put("hosts", "127.0.0.3 " NAME "\n") == 0, "write hosts");
	EXPECT(wait_peer(u, "127.0.0.3", got, sizeof(got)),
	    "the new address was not followed (got \"%s\")", got);
	EXPECT(failures(st) == 0, "failures %ju", (uintmax_t)failures(st));
	EXPECT(put("hosts", "127.0.0.1 localhost\n") == 0, "write hosts");
	EXPECT(wait_failures(st, 1), "the name went, no failed lookup");
	peer(u, 0, got, sizeof(got));
	EXPECT(strcmp(got, "127.0.0.3") == 0,
	    "a failed lookup lost the last good address (got \"%s\")", got);
	resolver_remove(rs, u);
	usleep(200 * 1000); /* a lookup under way may still end */
	n = failures(st);
	usleep(500 * 1000); /* five intervals */
	EXPECT(failures(st) == n, "looked up after removal: %ju -> %ju",
	    (uintmax_t)n, (uintmax_t)failures(st));
	upstream_unref(u);
}

/*
 * Run SCENARIO in a child of its own mount namespace, with listeners on
 * 127.0.0.2 and 127.0.0.3 at one port; everything it reports fails the
 * test, and so does its exit status (a leak under ASan included).
 */
static void
run_child(
    void (*scenario)(struct route_stats *, struct resolver *, unsigned short))
{
	char out[2048];
	ssize_t n, got = 0;
	int fds[2], st, l2 = -1, l3 = -1;
	unsigned short port = 0;
	pid_t pid;

	/* One port free on both addresses (the second may be taken). */
	for (int i = 0; i < 20; i++) {
		port = 0;
		ck_assert_int_ge(l2 = listen_on("127.0.0.2", &port), 0);
		if ((l3 = listen_on("127.0.0.3", &port)) >= 0)
			break;
		close(l2);
	}
	ck_assert_int_ge(l3, 0);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		struct route_stats *rst = stats_new();
		struct resolver *rs = resolver_new();

		close(fds[0]);
		report = fds[1];
		if (ns_enter("127.0.0.1 localhost\n") != 0) {
			bad("mount namespace: %s", strerror(errno));
			_exit(1);
		}
		scenario(rst, rs, port);
		resolver_free(rs);
		if (atomic_load(&rst->refs) != 1)
			bad("%u stats references left",
			    (unsigned)atomic_load(&rst->refs));
		route_stats_unref(rst);
		close(l2);
		close(l3);
		close(report);
		exit(0); /* LeakSanitizer runs at exit */
	}
	close(fds[1]);
	while ((n = read(fds[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(fds[0]);
	close(l2);
	close(l3);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(out[0] == '\0', "%s", out);
	ck_assert_msg(
	    WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static void
ns_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_resolver.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
ns_teardown(void)
{
	nftw(dir, rm_entry, 4, FTW_DEPTH | FTW_PHYS);
}

START_TEST(nx_name)
{
	run_child(child_nx);
}
END_TEST

START_TEST(address_change)
{
	run_child(child_change);
}
END_TEST

/* Can this process make the mount namespace the tests need? */
static bool
ns_available(char *why, size_t len)
{
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	snprintf(dir, sizeof(dir), "/tmp/check_resolver.XXXXXX");
	if (mkdtemp(dir) == NULL || pipe(fds) != 0) {
		snprintf(why, len, "mkdtemp/pipe: %s", strerror(errno));
		return (false);
	}
	if ((pid = fork()) == 0) {
		close(fds[0]);
		if (ns_enter("127.0.0.1 localhost\n") != 0)
			dprintf(fds[1], "%s", strerror(errno));
		_exit(0);
	}
	close(fds[1]);
	n = pid > 0 ? read(fds[0], why, len - 1) : -1;
	close(fds[0]);
	if (pid > 0)
		(void)waitpid(pid, &st, 0);
	nftw(dir, rm_entry, 4, FTW_DEPTH | FTW_PHYS);
	if (pid < 0)
		snprintf(why, len, "fork: %s", strerror(errno));
	else
		why[n > 0 ? n : 0] = '\0';
	return (pid > 0 && n == 0);
}

Suite *
resolver_suite(void)
{
	Suite *s = suite_create("resolver");
	TCase *tc = tcase_create("resolver");
	TCase *ns = tcase_create("resolver_hosts");
	char why[256];

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, localhost);
	tcase_add_test(tc, stop_clean);
	suite_add_tcase(s, tc);
	if (!ns_available(why, sizeof(why))) {
		fprintf(stderr,
		    "resolver: NOT RUN: nx_name, address_change (no mount "
		    "namespace: %s)\n",
		    why);
		return (s);
	}
	tcase_set_timeout(ns, 60);
	tcase_add_checked_fixture(ns, ns_setup, ns_teardown);
	tcase_add_test(ns, nx_name);
	tcase_add_test(ns, address_change);
	suite_add_tcase(s, ns);
	return (s);
}
