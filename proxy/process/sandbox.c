/*
 * sandbox: see sandbox.h. glibc 2.36 has no Landlock wrappers, so the
 * three system calls go through syscall(2); Debian 12's linux/landlock.h
 * stops at ABI 2, so the later rights and the longer attribute structs
 * are spelled out here with the kernel's values. A ruleset handles every
 * right the running ABI knows (the "best effort" of the Landlock docs:
 * rights of later ABIs are masked off, never asked for).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "log.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
#define SB_RULE_NET_PORT 2 /* enum landlock_rule_type, ABI 4 */

/* struct landlock_ruleset_attr as of ABI 6 (older ABIs take a prefix). */
struct sb_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* struct landlock_net_port_attr (ABI 4). */
struct sb_net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
};

#define SB_FS_ABI1 ((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1)
#define SB_NET_ALL                                                             \
	(LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP)
#define SB_SCOPE_ALL                                                           \
	(LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL)
/* The rights a rule on a file (not a directory) may carry. */
#define SB_FILE_RIGHTS                                                         \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |          \
	    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |       \
	    LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* What each kind of path may do. */
#define SB_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define SB_SOCK (LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REMOVE_FILE)
#define SB_PORTS                                                               \
	(LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_WRITE_FILE |         \
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

#define SB_DNS_PORT 53 /* the resolver falls back to TCP */

/*
 * Read-only system paths: resolver and NSS files and OpenSSL's config
 * (/etc), NSS modules loaded on a later lookup (/usr, /lib*), what
 * ASan/LSan read at exit (/proc/self), what `workers: auto` reads on each
 * reload (/sys/devices/system/cpu), /dev/urandom, and our own executable
 * (the file only: sanitizers symbolize their reports from it). Missing
 * ones (a scratch image has no /lib32) are skipped.
 */
static const char *const sb_system[] = {"/etc", "/usr", "/lib", "/lib64",
    "/lib32", "/libx32", "/proc/self", "/sys/devices/system/cpu",
    "/dev/urandom", "/proc/self/exe"};

/* Files whose real directory (e.g. systemd's resolv.conf) must be read. */
static const char *const sb_system_links[] = {"/etc/resolv.conf", "/etc/hosts"};

/* The record (see sandbox.h); abi stays 0 until applied. */
static struct {
	int abi;
	bool bind, connect;         /* TCP bind / connect restricted */
	uint8_t bind_ok[65536 / 8]; /* allowed ports, one bit each */
	uint8_t connect_ok[65536 / 8];
	char **read; /* real paths readable beneath */
	size_t nread;
	char **sock; /* real paths where unix sockets may be made */
	size_t nsock;
} sb;

/* A list the rules are recorded in, for the reload checks. */
struct sb_list {
	char ***v;
	size_t *n;
};

void
sandbox_abi_rights(int abi, struct sandbox_rights *out)
{
	memset(out, 0, sizeof(*out));
	if (abi < 1)
		return;
	out->fs = SB_FS_ABI1;
	if (abi >= 2)
		out->fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		out->fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 4)
		out->net = SB_NET_ALL;
	if (abi >= 5)
		out->fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (abi >= 6)
		out->scoped = SB_SCOPE_ALL;
}

uint64_t
sandbox_rule_rights(
    uint64_t want, bool is_dir, const struct sandbox_rights *handled)
{
	uint64_t r = want & handled->fs;

	return (is_dir ? r : r & SB_FILE_RIGHTS);
}

bool
sandbox_beneath(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return (path[0] == '/');
	return (
	    strncmp(dir, path, n) == 0 && (path[n] == '\0' || path[n] == '/'));
}

int
sandbox_abi(void)
{
	return (sb.abi);
}

/* PATH's directory into DIR ("." for a bare name). */
static void
sb_dirname(const char *path, char *dir, size_t len)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, len, "%s", dirname(tmp));
}

static bool
sb_listed(char *const *v, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (sandbox_beneath(v[i], path))
			return (true);
	return (false);
}

/* Remember PATH in L (once); 0 or -1. */
static int
sb_record(const struct sb_list *l, const char *path)
{
	char **v;

	for (size_t i = 0; i < *l->n; i++)
		if (strcmp((*l->v)[i], path) == 0)
			return (0);
	if ((v = realloc(*l->v, (*l->n + 1) * sizeof(*v))) == NULL)
		return (-1);
	*l->v = v;
	if ((v[*l->n] = strdup(path)) == NULL)
		return (-1);
	(*l->n)++;
	return (0);
}

/*
 * Allow WANT beneath PATH (masked for the ABI and for a file), and
 * record its real path in L (NULL: not recorded). A missing path is
 * skipped. 0 or -1 (logged).
 */
static int
sb_allow_path(int rfd, const char *path, uint64_t want,
    const struct sandbox_rights *h, const struct sb_list *l)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	char real[PATH_MAX];
	int fd, rc = -1;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0) {
		log_debug("sandbox: skipping %s: %s", path, strerror(errno));
		return (0);
	}
	if (fstat(fd, &st) != 0) {
		log_errno("sandbox: %s", path);
		goto out;
	}
	pb.allowed_access = sandbox_rule_rights(want, S_ISDIR(st.st_mode), h);
	pb.parent_fd = fd;
	if (pb.allowed_access != 0 &&
	    syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb,
		0) != 0) {
		log_errno("sandbox: landlock_add_rule %s", path);
		goto out;
	}
	log_debug("sandbox: %s: access 0x%llx", path,
	    (unsigned long long)pb.allowed_access);
	if (l != NULL && S_ISDIR(st.st_mode) && realpath(path, real) != NULL &&
	    sb_record(l, real) != 0) {
		log_error("sandbox: out of memory");
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return (rc);
}

/* WANT in the directory of PATH and in that of the file it resolves to. */
static int
sb_allow_dir_of(int rfd, const char *path, uint64_t want,
    const struct sandbox_rights *h, const struct sb_list *l)
{
	char dir[PATH_MAX], real[PATH_MAX];

	if (path == NULL)
		return (0);
	sb_dirname(path, dir, sizeof(dir));
	if (sb_allow_path(rfd, dir, want, h, l) != 0)
		return (-1);
	if (realpath(path, real) == NULL || strcmp(real, path) == 0)
		return (0);
	sb_dirname(real, dir, sizeof(dir));
	return (sb_allow_path(rfd, dir, want, h, l));
}

/* The rules of route R's files and unix listener. */
static int
sb_route_paths(
    int rfd, const struct config_route *r, const struct sandbox_rights *h)
{
	const struct sb_list rd = {&sb.read, &sb.nread};
	const struct sb_list sk = {&sb.sock, &sb.nsock};
	const char *files[] = {r->identity.ca, r->identity.cert,
	    r->identity.key, r->identity.crl, r->pg_local_tls.cert,
	    r->pg_local_tls.key};

	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++)
		if (sb_allow_dir_of(rfd, files[k], SB_READ, h, &rd) != 0)
			return (-1);
	if (r->listen.kind == CONFIG_ADDR_UNIX)
		return (sb_allow_dir_of(rfd, r->listen.path, SB_SOCK, h, &sk));
	return (0);
}

/* Every filesystem rule (sandbox.h lists them). */
static int
sb_paths(int rfd, const struct cotai_config *cfg, const char *ports,
    const struct sandbox_rights *h)
{
	const struct sb_list rd = {&sb.read, &sb.nread};

	if (sb_allow_dir_of(rfd, cfg->path, SB_READ, h, &rd) != 0)
		return (-1);
	for (size_t i = 0; i < cfg->nroutes; i++)
		if (sb_route_paths(rfd, &cfg->routes[i], h) != 0)
			return (-1);
	/* identity.renew: the state directory is rewritten (atomic renames
	 * inside it), the CA server's trust anchor is read at each request. */
	if (cfg->identity.renew.url != NULL &&
	    (sb_allow_path(rfd, cfg->identity.renew.state_dir,
		 SB_READ | SB_PORTS, h, &rd) != 0 ||
		sb_allow_dir_of(rfd, cfg->identity.renew.ca, SB_READ, h, &rd) !=
		    0))
		return (-1);
	/* admin.tls: its files are read again on reload (no listen path). */
	if (cfg->admin_tls && sb_route_paths(rfd, &cfg->admin_route, h) != 0)
		return (-1);
	for (size_t i = 0; i < sizeof(sb_system) / sizeof(sb_system[0]); i++)
		if (sb_allow_path(rfd, sb_system[i], SB_READ, h, &rd) != 0)
			return (-1);
	for (size_t i = 0;
	     i < sizeof(sb_system_links) / sizeof(sb_system_links[0]); i++)
		if (sb_allow_dir_of(rfd, sb_system_links[i], SB_READ, h, &rd) !=
		    0)
			return (-1);
	return (sb_allow_dir_of(rfd, ports, SB_PORTS, h, NULL));
}

static bool
sb_port_ok(const uint8_t *set, const char *port)
{
	unsigned long p = strtoul(port, NULL, 10);

	return (p < 65536 && (set[p / 8] & (1u << (p % 8))) != 0);
}

/* Allow ACCESS to PORT and mark it in SET. 0 or -1 (logged). */
static int
sb_allow_port(int rfd, uint64_t access, const char *port, uint8_t *set)
{
	struct sb_net_port_attr np = {access, strtoul(port, NULL, 10)};

	if (np.port > 65535 || sb_port_ok(set, port))
		return (0);
	if (syscall(SYS_landlock_add_rule, rfd, SB_RULE_NET_PORT, &np, 0) !=
	    0) {
		log_errno("sandbox: landlock_add_rule port %s", port);
		return (-1);
	}
	set[np.port / 8] |= (uint8_t)(1u << (np.port % 8));
	return (0);
}

/* TCP rules for what H->net handles: targets (and DNS), listeners. */
static int
sb_ports(
    int rfd, const struct cotai_config *cfg, const struct sandbox_rights *h)
{
	bool conn = (h->net & LANDLOCK_ACCESS_NET_CONNECT_TCP) != 0;
	bool bind = (h->net & LANDLOCK_ACCESS_NET_BIND_TCP) != 0;
	char dns[8];

	snprintf(dns, sizeof(dns), "%d", SB_DNS_PORT);
	if (conn &&
	    sb_allow_port(
		rfd, LANDLOCK_ACCESS_NET_CONNECT_TCP, dns, sb.connect_ok) != 0)
		return (-1);
	/* The audit collector (its spool and file were opened before). */
	if (conn && cfg->audit.target.text != NULL &&
	    sb_allow_port(rfd, LANDLOCK_ACCESS_NET_CONNECT_TCP,
		cfg->audit.target.port, sb.connect_ok) != 0)
		return (-1);
	/* identity.renew: the CA server. */
	if (conn && cfg->identity.renew.url != NULL &&
	    sb_allow_port(rfd, LANDLOCK_ACCESS_NET_CONNECT_TCP,
		cfg->identity.renew.port, sb.connect_ok) != 0)
		return (-1);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		const struct config_route *r = &cfg->routes[i];

		if (conn && r->target.kind == CONFIG_ADDR_INET &&
		    sb_allow_port(rfd, LANDLOCK_ACCESS_NET_CONNECT_TCP,
			r->target.port, sb.connect_ok) != 0)
			return (-1);
		if (bind && r->listen.kind == CONFIG_ADDR_INET &&
		    sb_allow_port(rfd, LANDLOCK_ACCESS_NET_BIND_TCP,
			r->listen.port, sb.bind_ok) != 0)
			return (-1);
	}
	return (0);
}

/* A route listening on port 0, whose later ports cannot be known. */
static const char *
sb_port_zero(const struct cotai_config *cfg)
{
	for (size_t i = 0; i < cfg->nroutes; i++) {
		const struct config_addr *a = &cfg->routes[i].listen;

		if (a->kind == CONFIG_ADDR_INET && strcmp(a->port, "0") == 0)
			return (cfg->routes[i].name);
	}
	return (NULL);
}

/* Why landlock_create_ruleset() failed with ERR, in words. */
static const char *
sb_why(int err)
{
	const char *pre = getenv("LD_PRELOAD");

	if (err == ENOSYS && pre != NULL && strstr(pre, "/vgpreload_") != NULL)
		return ("valgrind does not implement the Landlock system "
			"calls (ENOSYS)");
	switch (err) {
	case ENOSYS: /* also what some container seccomp profiles answer */
		return ("the kernel, or a seccomp filter, does not offer the "
			"Landlock system calls (ENOSYS)");
	case EOPNOTSUPP:
		return ("Landlock is disabled at boot (EOPNOTSUPP; see the "
			"kernel's lsm= parameter)");
	case EPERM:
		return ("a seccomp filter refuses the Landlock system calls "
			"(EPERM)");
	default:
		return (strerror(err));
	}
}

/* Threads of this process (/proc/self/status), -1 when unknown. */
static long
sb_threads(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long n = -1;

	if (fp == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(fp);
	return (n);
}

/* "53,5432" from SET into BUF (cut to fit); "none" when empty. */
static const char *
sb_ports_text(const uint8_t *set, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned p = 0; p < 65536 && off + 8 < len; p++)
		if (set[p / 8] & (1u << (p % 8)))
			off += (size_t)snprintf(
			    buf + off, len - off, "%s%u", off ? "," : "", p);
	return (off == 0 ? "none" : buf);
}

/* The one info line saying what was applied. */
static void
sb_log(int abi, const char *zero, const char *ports)
{
	char conn[160], bind[160], how[256];

	if (abi < 4)
		snprintf(how, sizeof(how), "tcp not restricted (ABI < 4)");
	else if (zero != NULL)
		snprintf(how, sizeof(how),
		    "tcp connect only to ports %s, tcp bind not restricted "
		    "(route %s listens on port 0)",
		    sb_ports_text(sb.connect_ok, conn, sizeof(conn)), zero);
	else
		snprintf(how, sizeof(how),
		    "tcp connect only to ports %s, tcp bind only to ports %s",
		    sb_ports_text(sb.connect_ok, conn, sizeof(conn)),
		    sb_ports_text(sb.bind_ok, bind, sizeof(bind)));
	log_info("sandbox: landlock ABI %d applied: reading beneath %zu "
		 "directories, unix sockets in %zu, %s; %s%s; nothing "
		 "executes, nothing else is written",
	    abi, sb.nread, sb.nsock,
	    ports != NULL ? "the ports file in its directory" : "no ports file",
	    how, abi >= 6 ? "; signals and abstract unix sockets scoped" : "");
}

/* Build the ruleset for ABI and restrict this thread. 0 or -1 (logged). */
static int
sb_restrict(int abi, const struct cotai_config *cfg, const char *ports,
    const struct sandbox_rights *h)
{
	struct sb_ruleset_attr attr = {h->fs, h->net, h->scoped};
	size_t len = abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
	int rfd, rc = -1;

	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, len, 0);
	if (rfd < 0) {
		log_errno("sandbox: landlock_create_ruleset");
		return (-1);
	}
	if (sb_paths(rfd, cfg, ports, h) != 0 || sb_ports(rfd, cfg, h) != 0)
		goto out;
	if (syscall(SYS_landlock_restrict_self, rfd, 0) != 0) {
		log_errno("sandbox: landlock_restrict_self");
		goto out;
	}
	rc = 0;
out:
	close(rfd);
	return (rc);
}

int
sandbox_apply(const struct cotai_config *cfg, const char *ports)
{
	struct sandbox_rights h;
	const char *zero = sb_port_zero(cfg);
	bool must = cfg->sandbox == CONFIG_SANDBOX_LANDLOCK;
	long nth;
	int abi;

	if (cfg->sandbox == CONFIG_SANDBOX_OFF) {
		log_info("sandbox: off");
		return (0);
	}
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		if (must) {
			log_error("sandbox: landlock is required, but %s",
			    sb_why(errno));
			return (-1);
		}
		log_warn("sandbox: Landlock unavailable, %s; running without "
			 "it",
		    sb_why(errno));
		return (0);
	}
	sandbox_abi_rights(abi, &h);
	if (zero != NULL)
		h.net &= ~(uint64_t)LANDLOCK_ACCESS_NET_BIND_TCP;
	/* Landlock restricts this thread and those it starts later: a
	 * thread started before would escape it, so apply none then. */
	if ((nth = sb_threads()) > 1)
		log_error("sandbox: %ld threads already run; only this one "
			  "would be restricted",
		    nth);
	if (nth > 1 || sb_restrict(abi, cfg, ports, &h) != 0) {
		sandbox_clear();
		if (must)
			return (-1);
		log_warn("sandbox: Landlock not applied (see above); running "
			 "without it");
		return (0);
	}
	sb.abi = abi;
	sb.bind = (h.net & LANDLOCK_ACCESS_NET_BIND_TCP) != 0;
	sb.connect = (h.net & LANDLOCK_ACCESS_NET_CONNECT_TCP) != 0;
	sb_log(abi, zero, ports);
	return (0);
}

int
sandbox_check_listen(const struct config_route *r)
{
	char dir[PATH_MAX], real[PATH_MAX];

	if (sb.abi == 0)
		return (0);
	if (r->listen.kind == CONFIG_ADDR_INET) {
		if (!sb.bind || sb_port_ok(sb.bind_ok, r->listen.port))
			return (0);
		log_error("route %s: listen port %s is outside the sandbox "
			  "set at start; restart cotai-proxy to use it",
		    r->name, r->listen.port);
		return (-1);
	}
	/* A directory that does not exist fails in bind(), with its errno. */
	sb_dirname(r->listen.path, dir, sizeof(dir));
	if (realpath(dir, real) == NULL || sb_listed(sb.sock, sb.nsock, real))
		return (0);
	log_error("route %s: listen %s: %s is outside the sandbox set at "
		  "start; restart cotai-proxy to use it",
	    r->name, r->listen.text, real);
	return (-1);
}

int
sandbox_check_target(const struct config_route *r)
{
	if (sb.abi == 0 || !sb.connect || r->target.kind != CONFIG_ADDR_INET ||
	    sb_port_ok(sb.connect_ok, r->target.port))
		return (0);
	log_error("route %s: target port %s is outside the sandbox set at "
		  "start; restart cotai-proxy to use it",
	    r->name, r->target.port);
	return (-1);
}

const char *
sandbox_file_note(const char *path, int err)
{
	char real[PATH_MAX];

	if (sb.abi == 0 || err != EACCES || realpath(path, real) == NULL ||
	    sb_listed(sb.read, sb.nread, real))
		return (NULL);
	return ("outside the directories the sandbox set at start lets "
		"cotai-proxy read; restart cotai-proxy to use it");
}

void
sandbox_clear(void)
{
	for (size_t i = 0; i < sb.nread; i++)
		free(sb.read[i]);
	for (size_t i = 0; i < sb.nsock; i++)
		free(sb.sock[i]);
	free(sb.read);
	free(sb.sock);
	memset(&sb, 0, sizeof(sb));
}
