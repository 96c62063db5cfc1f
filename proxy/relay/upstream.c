/*
 * upstream: see upstream.h.
 *
 * Who touches what: the list (ai) under lock, by workers (read) and by the
 * thread that looks the name up (swap). failing and desc belong to the
 * builder until the upstream is registered with the resolver, then to the
 * resolver thread alone; only one lookup of an upstream runs at a time.
 * urgent is an atomic flag any worker may raise. The rest is immutable.
 */
#include "upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "resolver.h"
#include "route.h"

/* Address sets are described (and compared) as sorted text. */
#define UPSTREAM_DESC 1024
#define UPSTREAM_MAXADDRS 64

struct upstream {
	atomic_uint refs;
	enum config_addr_kind kind;
	char *text;  /* the target as written */
	char *host;  /* INET */
	char *port;  /* INET */
	char *route; /* for logs */
	uint32_t interval_ms;
	bool dynamic;              /* a host name: looked up again */
	struct route_stats *stats; /* a reference */
	struct resolver *rs;       /* borrowed, outlives every upstream */
	atomic_bool urgent;        /* every address failed: look up soon */
	pthread_mutex_t lock;      /* guards ai */
	struct addrinfo *ai;       /* resolved addresses, or NULL */
	struct sockaddr_un sun;    /* unix targets */
	bool failing;              /* the last lookup failed */
	char desc[UPSTREAM_DESC];  /* the installed set, "" when none */
};

static int
upstream_cmp(const void *a, const void *b)
{
	return (strcmp(a, b));
}

/*
 * The address set of AI as sorted, unique, comma-separated numeric text
 * into BUF ("" for none): the order getaddrinfo() returns, which DNS may
 * rotate, is not a change.
 */
static void
upstream_describe(const struct addrinfo *ai, char *buf, size_t len)
{
	char a[UPSTREAM_MAXADDRS][64];
	size_t n = 0, off = 0;
	int w;

	for (; ai != NULL && n < UPSTREAM_MAXADDRS; ai = ai->ai_next)
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, a[n], sizeof(a[n]),
			NULL, 0, NI_NUMERICHOST) == 0)
			n++;
	qsort(a, n, sizeof(a[0]), upstream_cmp);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(a[i], a[i - 1]) == 0)
			continue;
		w = snprintf(
		    buf + off, len - off, "%s%s", off > 0 ? ", " : "", a[i]);
		if (w < 0 || (size_t)w >= len - off)
			break; /* cut: a change past it goes unlogged */
		off += (size_t)w;
	}
}

/* getaddrinfo() for the target; 0 or an EAI_* code. */
static int
upstream_lookup(const struct upstream *u, int flags, struct addrinfo **out)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG | flags;
	*out = NULL;
	return (getaddrinfo(u->host, u->port, &hints, out));
}

/*
 * Make AI (owned from now on) the list workers connect to, and say so
 * when the address set changed (LOUD: at info; the first lookup at start
 * only at debug) or when it resolves again after failures.
 */
static void
upstream_install(struct upstream *u, struct addrinfo *ai, bool loud)
{
	struct addrinfo *old;
	char now[UPSTREAM_DESC];

	upstream_describe(ai, now, sizeof(now));
	pthread_mutex_lock(&u->lock);
	old = u->ai;
	u->ai = ai;
	pthread_mutex_unlock(&u->lock);
	freeaddrinfo(old);
	if (strcmp(now, u->desc) != 0 && loud)
		log_info("route %s: target %s now resolves to %s (was %s)",
		    u->route, u->text, now,
		    u->desc[0] != '\0' ? u->desc : "nothing");
	else if (strcmp(now, u->desc) != 0)
		log_debug("route %s: target %s resolves to %s", u->route,
		    u->text, now);
	else if (u->failing)
		log_info("route %s: target %s resolves again to %s", u->route,
		    u->text, now);
	snprintf(u->desc, sizeof(u->desc), "%s", now);
	u->failing = false;
}

/* A lookup failed with ERR: count it, warn once per run of failures. */
static void
upstream_lookup_failed(struct upstream *u, int err)
{
	const char *why = gai_strerror(err);

	if (err == EAI_SYSTEM)
		why = strerror(errno);
	atomic_fetch_add_explicit(
	    &u->stats->resolve_failures, 1, memory_order_relaxed);
	if (u->failing)
		return;
	u->failing = true;
	log_warn("route %s: cannot resolve %s: %s (keeping %s)", u->route,
	    u->text, why, u->desc[0] != '\0' ? u->desc : "no address");
}

/* An IPv4 or IPv6 address literal (not a name). */
static bool
upstream_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return (inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1);
}

/* Copy what U keeps of O. 0 or -1 (out of memory). */
static int
upstream_copy(struct upstream *u, const struct upstream_opts *o)
{
	const struct config_addr *t = o->target;

	u->kind = t->kind;
	u->interval_ms = o->interval_ms;
	u->rs = o->rs;
	if ((u->text = strdup(t->text)) == NULL ||
	    (u->route = strdup(o->route)) == NULL)
		return (-1);
	if (t->kind == CONFIG_ADDR_UNIX) {
		u->sun.sun_family = AF_UNIX;
		strncpy(u->sun.sun_path, t->path, sizeof(u->sun.sun_path) - 1);
		return (0);
	}
	if ((u->host = strdup(t->host)) == NULL ||
	    (u->port = strdup(t->port)) == NULL)
		return (-1);
	return (0);
}

struct upstream *
upstream_new(const struct upstream_opts *o)
{
	struct upstream *u;
	struct addrinfo *ai;
	int err;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return (NULL);
	atomic_init(&u->refs, 1);
	atomic_init(&u->urgent, false);
	pthread_mutex_init(&u->lock, NULL);
	u->stats = route_stats_ref(o->stats);
	if (upstream_copy(u, o) != 0) {
		upstream_unref(u);
		return (NULL);
	}
	if (u->kind == CONFIG_ADDR_UNIX)
		return (u);
	/* A literal needs no lookup later (nor a name server now). */
	u->dynamic = !upstream_literal(u->host);
	err = upstream_lookup(u, u->dynamic ? 0 : AI_NUMERICHOST, &ai);
	if (err != 0)
		upstream_lookup_failed(u, err);
	else
		upstream_install(u, ai, false);
	return (u);
}

struct upstream *
upstream_ref(struct upstream *u)
{
	atomic_fetch_add_explicit(&u->refs, 1, memory_order_relaxed);
	return (u);
}

void
upstream_unref(struct upstream *u)
{
	if (u == NULL ||
	    atomic_fetch_sub_explicit(&u->refs, 1, memory_order_acq_rel) != 1)
		return;
	freeaddrinfo(u->ai);
	pthread_mutex_destroy(&u->lock);
	route_stats_unref(u->stats);
	free(u->text);
	free(u->host);
	free(u->port);
	free(u->route);
	free(u);
}

bool
upstream_same(const struct upstream *u, const struct config_addr *target,
    uint32_t interval_ms)
{
	return (u->kind == target->kind && strcmp(u->text, target->text) == 0 &&
	    u->interval_ms == interval_ms);
}

bool
upstream_dynamic(const struct upstream *u)
{
	return (u->dynamic);
}

uint32_t
upstream_interval(const struct upstream *u)
{
	return (u->interval_ms);
}

int
upstream_refresh(struct upstream *u)
{
	struct addrinfo *ai;
	int err;

	if (!u->dynamic)
		return (0);
	log_debug("route %s: looking up %s", u->route, u->text);
	if ((err = upstream_lookup(u, 0, &ai)) != 0) {
		upstream_lookup_failed(u, err);
		return (-1);
	}
	upstream_install(u, ai, true);
	return (0);
}

void
upstream_failed(struct upstream *u)
{
	if (!u->dynamic || u->rs == NULL)
		return;
	/* Only the first of a burst of failures needs to wake it. */
	if (!atomic_exchange_explicit(&u->urgent, true, memory_order_relaxed))
		resolver_wake(u->rs);
}

bool
upstream_urgent(const struct upstream *u)
{
	return (atomic_load_explicit(&u->urgent, memory_order_relaxed));
}

bool
upstream_take_urgent(struct upstream *u)
{
	return (
	    atomic_exchange_explicit(&u->urgent, false, memory_order_relaxed));
}

/* A non-blocking socket connecting to SA. */
static int
upstream_start(int family, const struct sockaddr *sa, socklen_t len)
{
	int fd, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return (-1);
	if (family != AF_UNIX)
		(void)setsockopt(
		    fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		errno = e;
		return (-1);
	}
	return (fd);
}

int
upstream_connect(struct upstream *u, size_t idx)
{
	struct addrinfo *ai;
	int fd;

	if (u->kind == CONFIG_ADDR_UNIX) {
		if (idx > 0) {
			errno = ENOENT;
			return (-1);
		}
		return (upstream_start(
		    AF_UNIX, (struct sockaddr *)&u->sun, sizeof(u->sun)));
	}
	pthread_mutex_lock(&u->lock);
	for (ai = u->ai; ai != NULL && idx > 0; ai = ai->ai_next)
		idx--;
	if (ai == NULL) {
		pthread_mutex_unlock(&u->lock);
		errno = ENOENT;
		return (-1);
	}
	fd = upstream_start(ai->ai_family, ai->ai_addr, ai->ai_addrlen);
	pthread_mutex_unlock(&u->lock);
	return (fd);
}

int
upstream_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return (errno);
	return (err);
}

const char *
upstream_host(const struct upstream *u)
{
	return (u->kind == CONFIG_ADDR_UNIX ? NULL : u->host);
}
