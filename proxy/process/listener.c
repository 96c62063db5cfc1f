/*
 * listener: see listener.h. Accepting uses libevent's evconnlistener,
 * which accepts in a loop with accept4(SOCK_NONBLOCK|SOCK_CLOEXEC).
 */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/listener.h>

#include "conn.h"
#include "log.h"
#include "worker.h"

#define LISTENER_BACKLOG 1024

struct listener {
	struct worker *w;
	struct route *r;
	struct evconnlistener *lev;
	struct event *ev_resume; /* re-enable accepting after EMFILE */
};

static int
listener_bind_unix(const struct config_addr *a)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(a->path) >= sizeof(sun.sun_path)) {
		log_error("%s: path too long", a->text);
		return (-1);
	}
	strcpy(sun.sun_path, a->path);
	if (lstat(a->path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(a->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, LISTENER_BACKLOG) != 0) {
		log_errno("listen on %s", a->text);
		if (fd >= 0)
			close(fd);
		return (-1);
	}
	return (fd);
}

int
listener_bind(const struct config_addr *a, const char *port)
{
	struct addrinfo hints, *ai = NULL;
	int fd = -1, one = 1, err;

	if (a->kind == CONFIG_ADDR_UNIX)
		return (listener_bind_unix(a));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	err = getaddrinfo(a->host, port != NULL ? port : a->port, &hints, &ai);
	if (err != 0) {
		log_error("listen on %s: %s", a->text, gai_strerror(err));
		return (-1);
	}
	fd = socket(
	    ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, LISTENER_BACKLOG) != 0) {
		log_errno("listen on %s", a->text);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return (fd);
}

int
listener_port(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned port;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		log_errno("getsockname");
		return (-1);
	}
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return (-1);
	snprintf(buf, len, "%u", port);
	return (0);
}

int
listener_name(int fd, const struct config_addr *a, char *buf, size_t len)
{
	char port[16];
	bool v6 = strchr(a->host != NULL ? a->host : "", ':') != NULL;

	if (a->kind == CONFIG_ADDR_UNIX) {
		snprintf(buf, len, "unix:%s", a->path);
		return (0);
	}
	if (listener_port(fd, port, sizeof(port)) != 0)
		return (-1);
	snprintf(buf, len, v6 ? "[%s]:%s" : "%s:%s", a->host, port);
	return (0);
}

static void
listener_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;

	conn_accept(l->w, l->r, fd, sa, (socklen_t)salen);
}

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	evconnlistener_enable(l->lev);
}

/*
 * accept() failed with something libevent does not retry (EMFILE, ENFILE,
 * ENOBUFS...): stop accepting for 100 ms instead of spinning on a socket
 * that stays readable.
 */
static void
listener_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = {0, 100 * 1000};

	log_errno("accept on route %s; pausing 100 ms", l->r->cfg->name);
	evconnlistener_disable(lev);
	evtimer_add(l->ev_resume, &tv);
}

struct listener *
listener_new(struct worker *w, struct event_base *base, struct route *r, int fd)
{
	struct listener *l;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_errno("calloc");
		close(fd);
		return (NULL);
	}
	l->w = w;
	l->r = r;
	if ((l->ev_resume = evtimer_new(base, listener_resume_cb, l)) == NULL) {
		log_error("evtimer_new failed");
		close(fd);
		free(l);
		return (NULL);
	}
	l->lev = evconnlistener_new(base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->lev == NULL) {
		log_error("route %s: evconnlistener_new failed", r->cfg->name);
		close(fd);
		event_free(l->ev_resume);
		free(l);
		return (NULL);
	}
	evconnlistener_set_error_cb(l->lev, listener_error_cb);
	return (l);
}

void
listener_set_route(struct listener *l, struct route *r)
{
	l->r = r;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	evconnlistener_free(l->lev);
	event_free(l->ev_resume);
	free(l);
}
