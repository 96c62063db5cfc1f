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
 *   benchtool hol PORT COUNT [BULK_MBS]
 *	Head-of-line blocking: one connection does COUNT sequential 64-byte
 *	round trips (after 200 unmeasured ones) alone, then COUNT more while a
 *	second connection to the same port moves bulk data (64 KiB writes,
 *	everything read back and dropped) from a child process:
 *	p50_idle_us= p99_idle_us= p50_bulk_us= p99_bulk_us= bulk_mbs=
 *	(the bulk connection's bytes read back per second while measured).
 *	BULK_MBS > 0 paces the bulk writes to that many MB/s (10^6 bytes; a
 *	token bucket on the monotonic clock, 64 KiB blocks, at most two
 *	blocks of burst); 0 or none: unpaced, as fast as the chain takes.
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

#include "benchtool.h"

volatile sig_atomic_t stop_flag;

void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n sorted values, nearest rank. */
double
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

void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void
loopback(struct sockaddr_in *sin, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

void
nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A non-blocking socket connecting to 127.0.0.1:port, or -1. */
int
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

int
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

static void
usage(void)
{
	fprintf(stderr,
	    "usage: benchtool echo PORTFILE | rtt PORT COUNT [SIZE]"
	    " | hol PORT COUNT [BULK_MBS]\n"
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
	if (strcmp(argv[1], "hol") == 0 && (argc == 4 || argc == 5) &&
	    atol(argv[3]) > 0) {
		char *end = NULL;
		double mbs = argc == 5 ? strtod(argv[4], &end) : 0;
		if (end != NULL && (end == argv[4] || *end != '\0'))
			usage();
		if (!(mbs >= 0))
			usage();
		return cmd_hol(atoi(argv[2]), atol(argv[3]), mbs);
	}
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
