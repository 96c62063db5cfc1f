/*
 * probe: see probe.h. One non-blocking socket driven by poll(2) against a
 * single deadline: connect, write the request, read until the status line is
 * complete.
 */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "duration.h"

/* Wait for EVENTS on FD until DEADLINE; 0 ready, -1 timeout or error. */
static int
probe_wait(int fd, short events, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	long long left;
	int n;

	for (;;) {
		if ((left = deadline - (long long)duration_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return (0);
		if (n < 0 && errno != EINTR)
			return (-1);
	}
}

/* Start a non-blocking connect to A; returns the socket or -1. */
static int
probe_connect(const struct config_addr *a, char *why, size_t whylen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = -1, rc;

	if (a->kind == CONFIG_ADDR_UNIX) {
		if (strlen(a->path) >= sizeof(sun.sun_path)) {
			snprintf(why, whylen, "socket path too long");
			return (-1);
		}
		memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
		    errno != EINPROGRESS)
			goto fail;
		return (fd);
	}
	if ((rc = getaddrinfo(a->host, a->port, &hints, &res)) != 0) {
		snprintf(
		    why, whylen, "resolve %s: %s", a->host, gai_strerror(rc));
		return (-1);
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	freeaddrinfo(res);
	return (fd);
fail:
	snprintf(why, whylen, "connect: %s", strerror(errno));
	if (res != NULL)
		freeaddrinfo(res);
	if (fd >= 0)
		close(fd);
	return (-1);
}

/* Send REQ and read the status code of the answer. */
static int
probe_exchange(
    int fd, const char *req, long long deadline, char *why, size_t whylen)
{
	char buf[256];
	size_t off = 0, len = strlen(req);
	ssize_t n;
	int code;

	while (off < len) {
		if (probe_wait(fd, POLLOUT, deadline) < 0)
			goto err;
		if ((n = write(fd, req + off, len - off)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			goto err;
		}
		off += (size_t)n;
	}
	off = 0;
	while (off < sizeof(buf) - 1 && memchr(buf, '\n', off) == NULL) {
		if (probe_wait(fd, POLLIN, deadline) < 0)
			goto err;
		n = read(fd, buf + off, sizeof(buf) - 1 - off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	if (sscanf(buf, "HTTP/1.%*[01] %3d", &code) != 1) {
		snprintf(why, whylen, "not an HTTP answer");
		return (-1);
	}
	if (code != 200)
		snprintf(why, whylen, "HTTP %d", code);
	return (code);
err:
	snprintf(why, whylen, "%s", strerror(errno));
	return (-1);
}

int
probe_http(const char *addr, const char *path, int timeout_ms, char *why,
    size_t whylen)
{
	struct config_addr a;
	long long deadline = (long long)duration_now_ms() + timeout_ms;
	char req[512];
	int fd, err = 0, code = -1;
	socklen_t elen = sizeof(err);

	snprintf(why, whylen, "ok");
	if (config_addr_parse(addr, &a) < 0) {
		snprintf(why, whylen, "bad address \"%s\"", addr);
		return (-1);
	}
	if ((fd = probe_connect(&a, why, whylen)) < 0)
		goto out;
	if (probe_wait(fd, POLLOUT, deadline) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
		snprintf(why, whylen, "connect %s: %s", addr,
		    strerror(err != 0 ? err : errno));
		goto out;
	}
	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.0\r\nUser-Agent: cotai-proxy-health\r\n\r\n", path);
	code = probe_exchange(fd, req, deadline, why, whylen);
out:
	if (fd >= 0)
		close(fd);
	config_addr_clear(&a);
	return (code);
}
