/*
 * benchtool: the load generator and backend for bench/run.sh.
 *
 * One small program with subcommands, plain sockets and epoll, no TLS (the
 * proxies under test do all the TLS). Everything is on 127.0.0.1; every
 * loop is bounded by a count or a deadline. Results are printed as one line
 * of key=value pairs on standard output.
 *
 *   benchtool echo PORTFILE
 *	Echo server on 127.0.0.1:0; writes the bound port to PORTFILE (via a
 *	temporary file and rename) and echoes every byte back until SIGTERM.
 *   benchtool rtt PORT COUNT [SIZE]
 *	One connection, COUNT sequential SIZE-byte (default 64) round trips
 *	after 200 unmeasured ones: p50_us= p99_us= mean_us= rps= p999_us=
 *	max_us= over5ms= (round trips over 5 ms).
 *   benchtool hol PORT COUNT
 *	Head-of-line blocking: one connection does COUNT sequential 64-byte
 *	round trips (after 200 unmeasured ones) alone, then COUNT more while a
 *	second connection to the same port moves bulk data (64 KiB writes,
 *	everything read back and dropped) from a child process:
 *	p50_idle_us= p99_idle_us= p50_bulk_us= p99_bulk_us= bulk_mbs=
 *	(the bulk connection's bytes read back per second while measured).
 *   benchtool connrate PORT SECONDS CONC [SIZE]
 *	CONC connections in flight; each connects, writes SIZE bytes, reads
 *	them back and closes, then a new one starts. Completions during
 *	SECONDS (after 0.5 s of warm-up) give cps=, plus errors= p50_ms=
 *	p99_ms= of the whole connection, and total= (all completed
 *	connections, warm-up included, for CPU per connection).
 *   benchtool hold PORT N READYFILE
 *	Opens N connections (64 in flight at a time), checks each with one
 *	64-byte round trip, writes "ok=N failed=F" to READYFILE and holds them
 *	until SIGTERM or SIGINT.
 *   benchtool freeport
 *	Prints a port in [20000, 32000) that was free to bind just now
 *	(below Linux's default ephemeral range, so outgoing connections
 *	cannot take it meanwhile).
 *
 * Exit status is 0 on success, 1 on a failed measurement, 2 on bad usage.
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

#define MSG_MAX 65536

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n sorted values, nearest rank. */
static double
quantile(const double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q * n);
	if (i >= n)
		i = n - 1;
	return v[i];
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
loopback(struct sockaddr_in *sin, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void
nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A non-blocking socket connecting to 127.0.0.1:port, or -1. */
static int
connect_nb(int port)
{
	struct sockaddr_in sin;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	nodelay(fd);
	loopback(&sin, port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

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

static int
write_file_atomic(const char *path, const char *text)
{
	char tmp[4096];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	fputs(text, fp);
	if (fclose(fp) != 0)
		return -1;
	return rename(tmp, path);
}

static int
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

/* ---- sequential round trips ---- */

static int
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
static int
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

static int
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
 * The bulk side of "hol": write 64 KiB blocks and read (and drop) what
 * comes back until SIGTERM; then the bytes read back, as text, on out.
 * Reading as much as is written keeps the echo server from stalling.
 */
static int
hol_bulk(int fd, int out)
{
	static char buf[MSG_MAX];
	struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};
	unsigned long long got = 0;
	char line[32];
	int n;

	memset(buf, 'b', sizeof(buf));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (!stop_flag) {
		if (poll(&pfd, 1, 200) < 0) {
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
		if (pfd.revents & POLLOUT) {
			ssize_t w = write(fd, buf, sizeof(buf));
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				return 1;
		}
	}
	n = snprintf(line, sizeof(line), "%llu\n", got);
	return write(out, line, (size_t)n) == n ? 0 : 1;
}

static int
cmd_hol(int port, long count)
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
		_exit(hol_bulk(bfd, p[1]));
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

static int
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

static int
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

static int
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

static void
usage(void)
{
	fprintf(stderr,
	    "usage: benchtool echo PORTFILE | rtt PORT COUNT [SIZE]"
	    " | hol PORT COUNT\n"
	    "       | connrate PORT SECONDS CONC [SIZE]\n"
	    "       | hold PORT N READYFILE | freeport\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	size_t size = 64;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "echo") == 0 && argc == 3)
		return cmd_echo(argv[2]);
	if (strcmp(argv[1], "rtt") == 0 && (argc == 4 || argc == 5)) {
		if (argc == 5)
			size = strtoul(argv[4], NULL, 10);
		if (size < 1 || size > MSG_MAX || atol(argv[3]) < 1)
			usage();
		return cmd_rtt(atoi(argv[2]), atol(argv[3]), size);
	}
	if (strcmp(argv[1], "hol") == 0 && argc == 4 && atol(argv[3]) > 0)
		return cmd_hol(atoi(argv[2]), atol(argv[3]));
	if (strcmp(argv[1], "connrate") == 0 && (argc == 5 || argc == 6)) {
		if (argc == 6)
			size = strtoul(argv[5], NULL, 10);
		if (size < 1 || size > MSG_MAX || atoi(argv[4]) < 1)
			usage();
		return cmd_connrate(
		    atoi(argv[2]), atof(argv[3]), atoi(argv[4]), size);
	}
	if (strcmp(argv[1], "hold") == 0 && argc == 5 && atoi(argv[3]) > 0)
		return cmd_hold(atoi(argv[2]), atoi(argv[3]), argv[4]);
	if (strcmp(argv[1], "freeport") == 0)
		return cmd_freeport();
	usage();
	return 2;
}
