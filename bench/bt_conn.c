/*
 * bt_conn: benchtool connrate, hold and freeport: many connections, made
 * and closed or held open (see benchtool.c).
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

/* ---- connection rate and held connections ---- */

enum slot_state { SLOT_IDLE, SLOT_CONNECTING, SLOT_READING, SLOT_HELD };

struct slot {
	int fd;
	enum slot_state state;
	size_t got;
	double t0;
};

/* Start a connection in slot s; 0 or -1. */
static int
slot_start(int ep, struct slot *s, int port)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};

	s->fd = connect_nb(port);
	if (s->fd == -1)
		return -1;
	s->state = SLOT_CONNECTING;
	s->got = 0;
	s->t0 = now_s();
	epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
	return 0;
}

static void
slot_close(int ep, struct slot *s)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	s->state = SLOT_IDLE;
}

/*
 * Advance slot s after an event: 1 when its round trip completed, 0 while
 * in progress, -1 on failure. A completed slot is left READING with
 * got == size; the caller closes or holds it.
 */
static int
slot_step(int ep, struct slot *s, size_t size)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
	char buf[MSG_MAX], msg[MSG_MAX];
	ssize_t n;

	if (s->state == SLOT_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		memset(msg, 'y', size);
		if (err != 0 || write(s->fd, msg, size) != (ssize_t)size)
			return -1;
		s->state = SLOT_READING;
		epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
		return 0;
	}
	n = read(s->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	s->got += (size_t)n;
	return s->got >= size ? 1 : 0;
}

int
cmd_connrate(int port, double secs, int conc, size_t size)
{
	struct slot *slots;
	struct epoll_event evs[256];
	double t_start, t_on, t_off, *lat = NULL;
	size_t nlat = 0, cap = 0;
	long done = 0, errors = 0, total = 0;
	int i, n, inflight = 0;

	raise_nofile();
	slots = calloc((size_t)conc, sizeof(*slots));
	int ep = epoll_create1(0);
	if (slots == NULL || ep == -1)
		return 1;
	t_start = now_s();
	t_on = t_start + 0.5;
	t_off = t_on + secs;
	for (i = 0; i < conc; i++) {
		if (slot_start(ep, &slots[i], port) == 0)
			inflight++;
		else
			errors++;
	}
	while (inflight > 0 && !stop_flag) {
		double t = now_s();
		if (t > t_off + 10)
			break; /* stuck connections: give up on them */
		n = epoll_wait(ep, evs, 256, 200);
		for (i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;
			int r = slot_step(ep, s, size);
			if (r == 0)
				continue;
			t = now_s();
			if (r == 1)
				total++;
			if (r == 1 && s->t0 >= t_on && t <= t_off) {
				done++;
				if (nlat == cap) {
					cap = cap ? cap * 2 : 4096;
					lat = realloc(lat, cap * sizeof(*lat));
					if (lat == NULL)
						return 1;
				}
				lat[nlat++] = (t - s->t0) * 1e3;
			} else if (r == -1 && t <= t_off) {
				errors++;
			}
			slot_close(ep, s);
			inflight--;
			if (t < t_off) {
				if (slot_start(ep, s, port) == 0)
					inflight++;
				else
					errors++;
			}
		}
		/* Slow failures: count them and start over. */
		for (i = 0; i < conc && n == 0; i++) {
			if (slots[i].state != SLOT_IDLE &&
			    now_s() - slots[i].t0 > 10) {
				slot_close(ep, &slots[i]);
				inflight--;
				errors++;
			}
		}
	}
	if (nlat > 0)
		qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("cps=%.0f errors=%ld p50_ms=%.2f p99_ms=%.2f total=%ld\n",
	    done / secs, errors, quantile(lat, nlat, 0.5),
	    quantile(lat, nlat, 0.99), total);
	return done > 0 ? 0 : 1;
}

int
cmd_hold(int port, int total, const char *readyfile)
{
	struct slot *slots;
	struct epoll_event evs[256];
	char line[64];
	int started = 0, ok = 0, failed = 0, inflight = 0, i, n;
	int ep = epoll_create1(0);
	double deadline = now_s() + 120;

	raise_nofile();
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	slots = calloc((size_t)total, sizeof(*slots));
	if (slots == NULL || ep == -1)
		return 1;
	while (ok + failed < total && !stop_flag && now_s() < deadline) {
		while (inflight < 64 && started < total) {
			if (slot_start(ep, &slots[started++], port) == 0)
				inflight++;
			else
				failed++;
		}
		n = epoll_wait(ep, evs, 256, 200);
		for (i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;
			int r = slot_step(ep, s, 64);
			if (r == 0)
				continue;
			inflight--;
			if (r == 1) {
				ok++;
				s->state = SLOT_HELD;
				epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
			} else {
				failed++;
				slot_close(ep, s);
			}
		}
	}
	snprintf(line, sizeof(line), "ok=%d failed=%d\n", ok, failed);
	if (write_file_atomic(readyfile, line) == -1)
		return 1;
	while (!stop_flag)
		pause();
	for (i = 0; i < started; i++)
		if (slots[i].fd > 0)
			close(slots[i].fd);
	return ok == total ? 0 : 1;
}

int
cmd_freeport(void)
{
	struct sockaddr_in sin;
	unsigned seed = (unsigned)(now_s() * 1e6);
	int i, fd;

	for (i = 0; i < 200; i++) {
		int port = 20000 + (int)(rand_r(&seed) % 12000);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		loopback(&sin, port);
		if (fd != -1 &&
		    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(fd);
			printf("%d\n", port);
			return 0;
		}
		if (fd != -1)
			close(fd);
	}
	fprintf(stderr, "freeport: no free port found\n");
	return 1;
}
