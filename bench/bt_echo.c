/*
 * bt_echo: benchtool echo, the backend: an epoll echo server on
 * 127.0.0.1:0 (see benchtool.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "benchtool.h"

/* ---- echo server ---- */

struct echo_conn {
	int fd;
	char *pend; /* bytes read but not yet written back */
	size_t plen, poff;
};

static void
echo_drop(int ep, struct echo_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->pend);
	free(c);
}

/* Write back what is pending; 0 when all is written, 1 if blocked, -1. */
static int
echo_flush(struct echo_conn *c)
{
	while (c->poff < c->plen) {
		ssize_t n = write(c->fd, c->pend + c->poff, c->plen - c->poff);
		if (n == -1)
			return (errno == EAGAIN || errno == EINTR) ? 1 : -1;
		c->poff += (size_t)n;
	}
	c->plen = c->poff = 0;
	return 0;
}

/* Read and echo until the socket would block; -1 to drop the connection. */
static int
echo_io(int ep, struct echo_conn *c, char *buf)
{
	struct epoll_event ev = {.data.ptr = c};
	int r;

	if ((r = echo_flush(c)) != 0)
		return r < 0 ? -1 : 0;
	for (;;) {
		ssize_t n = read(c->fd, buf, MSG_MAX), w;
		if (n == 0)
			return -1;
		if (n < 0)
			break;
		w = write(c->fd, buf, (size_t)n);
		if (w == n)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w < 0)
			w = 0;
		c->pend = realloc(c->pend, (size_t)(n - w));
		if (c->pend == NULL)
			return -1;
		memcpy(c->pend, buf + w, (size_t)(n - w));
		c->plen = (size_t)(n - w);
		c->poff = 0;
		break;
	}
	if (errno != EAGAIN && errno != EINTR && c->plen == 0)
		return -1;
	ev.events = c->plen ? EPOLLOUT : EPOLLIN;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return 0;
}

int
cmd_echo(const char *portfile)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct epoll_event ev, evs[256];
	char line[32], *buf;
	int lfd, ep, one = 1, i, n;

	raise_nofile();
	buf = malloc(MSG_MAX);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ep = epoll_create1(0);
	if (buf == NULL || lfd == -1 || ep == -1)
		return 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	loopback(&sin, 0);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) == -1) {
		perror("echo: listen");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	snprintf(line, sizeof(line), "%d\n", ntohs(sin.sin_port));
	if (write_file_atomic(portfile, line) == -1) {
		perror(portfile);
		return 1;
	}
	while (!stop_flag) {
		n = epoll_wait(ep, evs, 256, 500);
		for (i = 0; i < n; i++) {
			struct echo_conn *c = evs[i].data.ptr;
			if (c == NULL) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL,
					    SOCK_NONBLOCK)) != -1) {
					c = calloc(1, sizeof(*c));
					if (c == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					nodelay(fd);
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (echo_io(ep, c, buf) == -1)
				echo_drop(ep, c);
		}
	}
	return 0;
}
