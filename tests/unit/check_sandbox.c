/*
 * Unit tests for proxy/process/sandbox.c: the rights each Landlock ABI handles
 * and how a rule's rights are masked (pure), and, in a forked child, that the
 * sandbox really bites on this kernel: files outside the rules, writes,
 * execution, unix sockets, TCP connect and bind ports, signals, and the
 * reload checks that explain the refusals. The child is forked here, not
 * left to CK_FORK, so the runner itself is never sandboxed.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "config.h"
#include "log.h"
#include "sandbox.h"

Suite *sandbox_suite(void);

START_TEST(abi_rights)
{
	static const struct {
		int abi;
		uint64_t fs, net, scoped;
	} want[] = {
	    {-1, 0, 0, 0}, {0, 0, 0, 0},
	    {1, 0x1fff, 0, 0},  /* EXECUTE .. MAKE_SYM */
	    {2, 0x3fff, 0, 0},  /* + REFER */
	    {3, 0x7fff, 0, 0},  /* + TRUNCATE */
	    {4, 0x7fff, 3, 0},  /* + BIND_TCP, CONNECT_TCP */
	    {5, 0xffff, 3, 0},  /* + IOCTL_DEV */
	    {6, 0xffff, 3, 3},  /* + abstract unix sockets, signals */
	    {7, 0xffff, 3, 3},  /* logging flags only */
	    {42, 0xffff, 3, 3}, /* a later ABI: what we know */
	};
	struct sandbox_rights r;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		sandbox_abi_rights(want[i].abi, &r);
		ck_assert_msg(r.fs == want[i].fs && r.net == want[i].net &&
			r.scoped == want[i].scoped,
		    "ABI %d: fs 0x%llx net 0x%llx scoped 0x%llx", want[i].abi,
		    (unsigned long long)r.fs, (unsigned long long)r.net,
		    (unsigned long long)r.scoped);
	}
	ck_assert_uint_eq(LANDLOCK_ACCESS_FS_REFER, 1ULL << 13);
}
END_TEST

START_TEST(rule_rights)
{
	const uint64_t rd =
	    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	const uint64_t trunc = 1ULL << 14, ioctl = 1ULL << 15;
	struct sandbox_rights a1, a3, a7;

	sandbox_abi_rights(1, &a1);
	sandbox_abi_rights(3, &a3);
	sandbox_abi_rights(7, &a7);
	/* A directory keeps what the ABI handles. */
	ck_assert_uint_eq(sandbox_rule_rights(rd, true, &a7), rd);
	/* A file takes no directory rights (landlock_add_rule: EINVAL). */
	ck_assert_uint_eq(
	    sandbox_rule_rights(rd, false, &a7), LANDLOCK_ACCESS_FS_READ_FILE);
	ck_assert_uint_eq(sandbox_rule_rights(LANDLOCK_ACCESS_FS_MAKE_SOCK |
				  LANDLOCK_ACCESS_FS_REMOVE_FILE,
			      false, &a7),
	    0);
	/* Rights of later ABIs are masked off, not asked for. */
	ck_assert_uint_eq(sandbox_rule_rights(
			      LANDLOCK_ACCESS_FS_WRITE_FILE | trunc, true, &a1),
	    LANDLOCK_ACCESS_FS_WRITE_FILE);
	ck_assert_uint_eq(
	    sandbox_rule_rights(trunc | ioctl, false, &a3), trunc);
	ck_assert_uint_eq(
	    sandbox_rule_rights(trunc | ioctl, false, &a7), trunc | ioctl);
	ck_assert_uint_eq(
	    sandbox_rule_rights(rd, true, &(struct sandbox_rights){0, 0, 0}),
	    0);
}
END_TEST

START_TEST(beneath)
{
	ck_assert(sandbox_beneath("/a/b", "/a/b"));
	ck_assert(sandbox_beneath("/a/b", "/a/b/c.pem"));
	ck_assert(sandbox_beneath("/a/b", "/a/b/c/d"));
	ck_assert(!sandbox_beneath("/a/b", "/a/bc/d"));
	ck_assert(!sandbox_beneath("/a/b", "/a"));
	ck_assert(!sandbox_beneath("/a/b/c", "/a/b"));
	ck_assert(sandbox_beneath("/", "/etc/hosts"));
}
END_TEST

/* --- the kernel test --- */

static char dir[64];

/* DIR/NAME into BUF. */
static char *
at(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return (buf);
}

static void
touch(const char *name)
{
	char p[128];
	FILE *fp = fopen(at(p, sizeof(p), name), "w");

	ck_assert_ptr_nonnull(fp);
	fputs("x\n", fp);
	ck_assert_int_eq(fclose(fp), 0);
}

/* A listening TCP socket on 127.0.0.1, any port; its port in *PORT. */
static int
tcp_listener(unsigned *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return (fd);
}

/* The child reports each failed check as one line on this pipe. */
static int report = -1;

static void
bad(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(report, line, (size_t)n) < 0)
		_exit(3);
}

/* RC must be 0 (WANT 0) or -1 with errno WANT. */
static void
expect(const char *what, int rc, int want)
{
	int e = errno;

	if (want == 0 && rc != 0)
		bad("%s: %s, expected success", what, strerror(e));
	else if (want != 0 && (rc == 0 || e != want))
		bad("%s: %s, expected %s", what,
		    rc == 0 ? "success" : strerror(e), strerror(want));
}

static int
open_rc(const char *name, int flags)
{
	char p[128];
	int fd = open(at(p, sizeof(p), name), flags | O_CLOEXEC, 0600);

	if (fd < 0)
		return (-1);
	close(fd);
	return (0);
}

static int
tcp(int (*op)(int, const struct sockaddr *, socklen_t), unsigned port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc, e;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	rc = op(fd, (struct sockaddr *)&sin, sizeof(sin));
	e = errno;
	close(fd);
	errno = e;
	return (rc);
}

static int
unix_bind(const char *name)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), rc, e;

	at(sun.sun_path, sizeof(sun.sun_path), name);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	close(fd);
	errno = e;
	return (rc);
}

/* The filesystem half, once sandboxed. */
static void
child_fs(void)
{
	char p[128];
	char *const argv[] = {"true", NULL};

	expect("read a certificate", open_rc("certs/cert.pem", O_RDONLY), 0);
	expect("read the config", open_rc("conf/c.yaml", O_RDONLY), 0);
	expect("read outside", open_rc("other/f", O_RDONLY), EACCES);
	expect(
	    "write a certificate", open_rc("certs/cert.pem", O_WRONLY), EACCES);
	expect("create in certs", open_rc("certs/new", O_CREAT | O_WRONLY),
	    EACCES);
	expect("create a ports file",
	    open_rc("ports/p.tmp", O_CREAT | O_WRONLY | O_TRUNC), 0);
	expect("rename the ports file",
	    rename(at(p, sizeof(p), "ports/p.tmp"), "ports/p") == 0 ? 0 : -1,
	    0);
	expect("unix socket beside the listener", unix_bind("sock/n.sock"), 0);
	expect("unix socket elsewhere", unix_bind("other/n.sock"), EACCES);
	expect(
	    "read /etc/hosts", open("/etc/hosts", O_RDONLY) >= 0 ? 0 : -1, 0);
	expect(
	    "create outside", open_rc("other/new", O_CREAT | O_WRONLY), EACCES);
	execv("/bin/true", argv);
	expect("execute /bin/true", -1, EACCES);
}

/* The reload checks and the file note, for route R of the child's cfg. */
static void
child_checks(struct config_route *r, unsigned other, bool net)
{
	char p[128], port[16];
	struct config_addr saved = r->target;

	expect("the running target", sandbox_check_target(r), 0);
	snprintf(port, sizeof(port), "%u", other);
	r->target.port = port;
	if (sandbox_check_target(r) != (net ? -1 : 0))
		bad("another target port: %s", net ? "allowed" : "refused");
	r->target = saved;
	if (sandbox_file_note(at(p, sizeof(p), "other/f"), EACCES) == NULL)
		bad("no note for a file outside");
	if (sandbox_file_note(at(p, sizeof(p), "certs/cert.pem"), EACCES) !=
	    NULL)
		bad("a note for a file inside");
	if (sandbox_file_note(at(p, sizeof(p), "other/f"), ENOENT) != NULL)
		bad("a note for ENOENT");
}

/* The sandboxed child: apply, then try everything. */
static void
child(struct cotai_config *cfg, unsigned allowed, unsigned other)
{
	int abi;

	log_setup("check_sandbox", LOG_L_WARN, LOG_F_TEXT);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    sandbox_apply(cfg, "ports/p") != 0) {
		bad("sandbox_apply failed");
		return;
	}
	abi = sandbox_abi();
	if (abi < 1)
		bad("no ABI after sandbox_apply");
	child_fs();
	child_checks(&cfg->routes[1], other, abi >= 4);
	if (abi >= 4) {
		expect("connect to the target", tcp(connect, allowed), 0);
		expect("connect elsewhere", tcp(connect, other), EACCES);
		/* Allowed by Landlock, so the stack's own refusal. */
		expect("bind the listen port", tcp(bind, allowed), EADDRINUSE);
		expect("bind another port", tcp(bind, other), EACCES);
		expect("bind port 0", tcp(bind, 0), EACCES);
		if (sandbox_check_listen(&cfg->routes[0]) != 0 ||
		    sandbox_check_listen(&cfg->routes[1]) != 0)
			bad("the running listeners refused");
	}
	if (abi >= 6)
		expect("signal the parent", kill(getppid(), 0), EPERM);
}

/* Run child() in a fork; what it reports, "" when all went well. */
static void
run_child(struct cotai_config *cfg, unsigned allowed, unsigned other, char *out,
    size_t len)
{
	int fds[2], st;
	ssize_t n, got = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		close(fds[0]);
		report = fds[1];
		if (chdir(dir) != 0)
			bad("chdir");
		child(cfg, allowed, other);
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], out + got, len - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(
	    WIFEXITED(st) && WEXITSTATUS(st) == 0, "child died: %d", st);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

START_TEST(kernel)
{
	static const char *const dirs[] = {
	    "conf", "certs", "sock", "ports", "other"};
	char cpath[128], cert[128], sock[128], lport[16], tport[16];
	char out[4096];
	struct config_route routes[2];
	struct cotai_config cfg;
	unsigned allowed, other;
	int l1, l2, abi;

	snprintf(dir, sizeof(dir), "/tmp/cotai-check-sandbox-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ck_assert_int_eq(
		    mkdir(at(cpath, sizeof(cpath), dirs[i]), 0700), 0);
	touch("certs/cert.pem");
	touch("conf/c.yaml");
	touch("other/f");
	l1 = tcp_listener(&allowed);
	l2 = tcp_listener(&other);
	snprintf(lport, sizeof(lport), "%u", allowed);
	snprintf(tport, sizeof(tport), "%u", allowed);
	memset(routes, 0, sizeof(routes));
	memset(&cfg, 0, sizeof(cfg));
	/* Route 0 listens on a unix socket, route 1 on ALLOWED; both go
	 * to ALLOWED. Paths are absolute, as the config loader keeps them. */
	routes[0].name = "uds";
	routes[0].listen = (struct config_addr){CONFIG_ADDR_UNIX, "unix:sock",
	    NULL, NULL, at(sock, sizeof(sock), "sock/l.sock")};
	routes[1].name = "tcp";
	routes[1].listen = (struct config_addr){
	    CONFIG_ADDR_INET, "127.0.0.1", "127.0.0.1", lport, NULL};
	for (int i = 0; i < 2; i++) {
		routes[i].target = (struct config_addr){
		    CONFIG_ADDR_INET, "127.0.0.1", "127.0.0.1", tport, NULL};
		routes[i].identity.cert =
		    at(cert, sizeof(cert), "certs/cert.pem");
	}
	cfg.path = strdup(at(cpath, sizeof(cpath), "conf/c.yaml"));
	cfg.routes = routes;
	cfg.nroutes = 2;
	cfg.sandbox = CONFIG_SANDBOX_LANDLOCK;
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	run_child(&cfg, allowed, other, out, sizeof(out));
	if (abi < 1) {
		/* No Landlock here: `landlock` refuses, `auto` goes on. */
		ck_assert_str_eq(out, "sandbox_apply failed\n");
		cfg.sandbox = CONFIG_SANDBOX_AUTO;
		ck_assert_int_eq(sandbox_apply(&cfg, NULL), 0);
		ck_assert_int_eq(sandbox_abi(), 0);
	} else {
		ck_assert_msg(out[0] == '\0', "ABI %d:\n%s", abi, out);
	}
	free(cfg.path);
	close(l1);
	close(l2);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
END_TEST

static void *
idle(void *arg)
{
	for (;;)
		pause();
	return (arg);
}

/* A thread started before the sandbox would escape it: none is applied. */
START_TEST(threads_first)
{
	struct cotai_config cfg;
	pthread_t t;
	pid_t pid;
	int st;

	memset(&cfg, 0, sizeof(cfg));
	cfg.path = "/nonexistent/c.yaml";
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		log_setup("check_sandbox", LOG_L_ERROR, LOG_F_TEXT);
		if (pthread_create(&t, NULL, idle, NULL) != 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(2);
		cfg.sandbox = CONFIG_SANDBOX_LANDLOCK;
		if (sandbox_apply(&cfg, NULL) != -1)
			_exit(3);
		cfg.sandbox = CONFIG_SANDBOX_AUTO;
		if (sandbox_apply(&cfg, NULL) != 0 || sandbox_abi() != 0)
			_exit(4);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

Suite *
sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("sandbox");

	tcase_add_test(tc, abi_rights);
	tcase_add_test(tc, rule_rights);
	tcase_add_test(tc, beneath);
	tcase_add_test(tc, kernel);
	tcase_add_test(tc, threads_first);
	suite_add_tcase(s, tc);
	return (s);
}
