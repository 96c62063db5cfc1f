/*
 * bt_rtt: benchtool rtt and hol: sequential round trips on one
 * connection, alone and beside a bulk connection (see benchtool.c).
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

/* ---- sequential round trips ---- */

int
full_io(int fd, char *buf, size_t len, int rd)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = rd ? read(fd, buf + off, len - off)
			       : write(fd, buf + off, len - off);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* A blocking, TCP_NODELAY connection to 127.0.0.1:port, or -1. */
int
connect_blocking(int port)
{
	struct sockaddr_in sin;
	struct timeval tv = {.tv_sec = 10};
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	nodelay(fd);
	loopback(&sin, port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * COUNT sequential SIZE-byte round trips on fd after 200 unmeasured ones;
 * lat (COUNT values) ends sorted. Returns the elapsed seconds of the
 * measured ones, or -1.
 */
static double
rtt_loop(int fd, long count, size_t size, double *lat, double *total)
{
	char buf[MSG_MAX];
	double t0, start = now_s();
	long i;

	*total = 0;
	memset(buf, 'x', size);
	for (i = -200; i < count; i++) {
		t0 = now_s();
		if (full_io(fd, buf, size, 0) == -1 ||
		    full_io(fd, buf, size, 1) == -1) {
			fprintf(stderr, "rtt: round trip %ld failed\n", i);
			return -1;
		}
		if (i == -1)
			start = now_s();
		if (i >= 0) {
			lat[i] = (now_s() - t0) * 1e6;
			*total += lat[i];
		}
	}
	t0 = now_s() - start;
	qsort(lat, (size_t)count, sizeof(*lat), cmp_double);
	return t0;
}

int
cmd_rtt(int port, long count, size_t size)
{
	double *lat, total, t;
	long i;
	int fd;

	lat = calloc((size_t)count, sizeof(*lat));
	if (lat == NULL)
		return 1;
	if ((fd = connect_blocking(port)) == -1) {
		perror("rtt: connect");
		return 1;
	}
	if ((t = rtt_loop(fd, count, size, lat, &total)) < 0)
		return 1;
	close(fd);
	for (i = 0; i < count && lat[count - 1 - i] > 5000; i++)
		;
	printf("p50_us=%.1f p99_us=%.1f mean_us=%.1f rps=%.0f p999_us=%.1f "
	       "max_us=%.1f over5ms=%ld\n",
	    quantile(lat, (size_t)count, 0.50),
	    quantile(lat, (size_t)count, 0.99), total / count, count / t,
	    quantile(lat, (size_t)count, 0.999), lat[count - 1], i);
	free(lat);
	return 0;
}

/*
 * The bulk side's pace: a token bucket on the monotonic clock filled at
 * rate bytes/s, at most HOL_BUCKET deep (room for one late wake-up), from
 * which each write of at most HOL_BLOCK bytes takes what it wrote. rate 0:
 * unpaced, every write as large as the socket takes.
 */
#define HOL_BLOCK 65536
#define HOL_BUCKET (2.0 * HOL_BLOCK)

struct hol_pace {
	double rate;   /* bytes per second; 0: unpaced */
	double tokens; /* bytes that may be written now */
	double last;   /* now_s() when tokens was last filled */
};

/*
 * Fill the bucket; the bytes the next write may carry (0: none yet), and
 * in *wait the time until a whole block is there.
 */
static size_t
hol_pace_fill(struct hol_pace *p, struct timespec *wait)
{
	double t = now_s(), need;

	wait->tv_sec = 0;
	wait->tv_nsec = 200000000; /* 200 ms: look at stop_flag */
	if (p->rate <= 0)
		return (MSG_MAX);
	p->tokens += (t - p->last) * p->rate;
	p->last = t;
	if (p->tokens > HOL_BUCKET)
		p->tokens = HOL_BUCKET;
	if (p->tokens >= HOL_BLOCK)
		return (HOL_BLOCK);
	need = (HOL_BLOCK - p->tokens) / p->rate;
	wait->tv_sec = (time_t)need;
	wait->tv_nsec = (long)((need - (double)wait->tv_sec) * 1e9) + 1;
	return (0);
}

/*
 * The bulk side of "hol": write blocks (64 KiB; paced at mbs MB/s unless
 * 0) and read (and drop) what comes back until SIGTERM; then the bytes
 * read back, as text, on out. Reading as much as is written keeps the
 * echo server from stalling.
 */
static int
hol_bulk(int fd, int out, double mbs)
{
	static char buf[MSG_MAX];
	struct hol_pace pace = {.rate = mbs * 1e6, .last = now_s()};
	struct pollfd pfd = {.fd = fd};
	unsigned long long got = 0;
	struct timespec wait;
	size_t room;
	char line[32];
	int n;

	memset(buf, 'b', sizeof(buf));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (!stop_flag) {
		room = hol_pace_fill(&pace, &wait);
		pfd.events = (short)(POLLIN | (room > 0 ? POLLOUT : 0));
		if (ppoll(&pfd, 1, &wait, NULL) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pfd.revents & (POLLERR | POLLHUP))
			return 1;
		if (pfd.revents & POLLIN) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r == 0 ||
			    (r < 0 && errno != EAGAIN && errno != EINTR))
				return 1;
			if (r > 0)
				got += (unsigned long long)r;
		}
		if (room > 0 && (pfd.revents & POLLOUT)) {
			ssize_t w = write(fd, buf, room);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				return 1;
			if (w > 0)
				pace.tokens -= (double)w;
		}
	}
	n = snprintf(line, sizeof(line), "%llu\n", got);
	return write(out, line, (size_t)n) == n ? 0 : 1;
}

int
cmd_hol(int port, long count, double mbs)
{
	double *idle, *bulk, total, t0, t1;
	char line[32] = "";
	int fd, bfd, p[2], st;
	pid_t pid;
	ssize_t n;

	idle = calloc((size_t)count, sizeof(*idle));
	bulk = calloc((size_t)count, sizeof(*bulk));
	if (idle == NULL || bulk == NULL || pipe(p) == -1)
		return 1;
	if ((fd = connect_blocking(port)) == -1) {
		perror("hol: connect");
		return 1;
	}
	if (rtt_loop(fd, count, 64, idle, &total) < 0)
		return 1;
	if ((bfd = connect_blocking(port)) == -1) {
		perror("hol: connect (bulk)");
		return 1;
	}
	if ((pid = fork()) == -1)
		return 1;
	if (pid == 0) {
		close(p[0]);
		close(fd);
		_exit(hol_bulk(bfd, p[1], mbs));
	}
	close(p[1]);
	close(bfd);
	usleep(300000); /* the bulk stream fills the windows first */
	t0 = now_s();
	if (rtt_loop(fd, count, 64, bulk, &total) < 0) {
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
		return 1;
	}
	t1 = now_s();
	kill(pid, SIGTERM);
	n = read(p[0], line, sizeof(line) - 1);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0 || n <= 0) {
		fprintf(stderr, "hol: the bulk connection failed\n");
		return 1;
	}
	close(fd);
	/* The bytes counted include the 0.3 s before the measured trips. */
	printf("p50_idle_us=%.1f p99_idle_us=%.1f p50_bulk_us=%.1f "
	       "p99_bulk_us=%.1f bulk_mbs=%.0f\n",
	    quantile(idle, (size_t)count, 0.50),
	    quantile(idle, (size_t)count, 0.99),
	    quantile(bulk, (size_t)count, 0.50),
	    quantile(bulk, (size_t)count, 0.99),
	    strtod(line, NULL) / 1e6 / (t1 - t0 + 0.3));
	free(idle);
	free(bulk);
	return 0;
}
