/*
 * upstream: see upstream.h. The resolved list is shared by every worker
 * thread and only read after upstream_new(), except for the lazy
 * re-resolution of a name that did not resolve at start, which is guarded
 * by a mutex.
 */
#include "upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

struct upstream {
	const struct config_addr *target;
	pthread_mutex_t lock;   /* guards ai */
	struct addrinfo *ai;    /* resolved addresses, or NULL */
	struct sockaddr_un sun; /* unix targets */
};

/* Resolve the target (blocking); 0 or -1, logged. Caller holds u->lock. */
static int
upstream_resolve(struct upstream *u)
{
	struct addrinfo hints, *ai = NULL;
	int err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	err = getaddrinfo(u->target->host, u->target->port, &hints, &ai);
	if (err != 0) {
		log_warn("cannot resolve %s: %s", u->target->text,
		    gai_strerror(err));
		return (-1);
	}
	freeaddrinfo(u->ai);
	u->ai = ai;
	return (0);
}

struct upstream *
upstream_new(const struct config_addr *target)
{
	struct upstream *u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return (NULL);
	u->target = target;
	pthread_mutex_init(&u->lock, NULL);
	if (target->kind == CONFIG_ADDR_UNIX) {
		u->sun.sun_family = AF_UNIX;
		strncpy(
		    u->sun.sun_path, target->path, sizeof(u->sun.sun_path) - 1);
	} else {
		(void)upstream_resolve(u);
	}
	return (u);
}

void
upstream_free(struct upstream *u)
{
	if (u == NULL)
		return;
	freeaddrinfo(u->ai);
	pthread_mutex_destroy(&u->lock);
	free(u);
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

	if (u->target->kind == CONFIG_ADDR_UNIX) {
		if (idx > 0) {
			errno = ENOENT;
			return (-1);
		}
		return (upstream_start(
		    AF_UNIX, (struct sockaddr *)&u->sun, sizeof(u->sun)));
	}
	pthread_mutex_lock(&u->lock);
	if (u->ai == NULL && idx == 0)
		(void)upstream_resolve(u);
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
	return (u->target->kind == CONFIG_ADDR_UNIX ? NULL : u->target->host);
}
