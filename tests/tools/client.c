/*
 * client: the application end of integration tests. Opens -c connections
 * to 127.0.0.1:PORT at once, each in its own thread, and checks what comes
 * back. Data is a reproducible pseudo-random stream per connection.
 *
 *	echo	send -n bytes, shut down writing, read everything back:
 *		must be the same bytes (an echo peer)
 *	sink	send -n bytes, shut down writing, read "<bytes> <sha256>":
 *		must match what was sent (a sink peer; tests half-close)
 *	source	read to EOF: must be exactly -n bytes of stream 0 (a source
 *		peer); with -s MS:FOR_MS read 16 KiB every MS milliseconds
 *		for the first FOR_MS milliseconds (a slow reader)
 *	refused	send a little, expect the connection to end with nothing
 *		received within 15 s
 *
 * Prints one summary line; exits 0 when every connection passed. With -u
 * PATH it connects to the unix socket PATH instead.
 * usage: client -p PORT | -u PATH [-m MODE] [-n BYTES] [-c CONNS]
 *        [-s MS:FOR_MS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tools.h"

#define BUFSZ (256 * 1024)

static unsigned port;
static const char *upath; /* -u: a unix socket instead */
static const char *mode = "echo";
static unsigned long long nbytes = 1024 * 1024;
static long slow_ms, slow_for_ms;
static atomic_int failures;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

struct job {
	int id;
	int fd;
	unsigned char sent_md[32];
	pthread_t writer;
	pthread_t runner;
};

static void
failf(struct job *j, const char *what)
{
	fprintf(stderr, "client: conn %d: %s\n", j->id, what);
	atomic_fetch_add(&failures, 1);
}

/* Send nbytes of stream id+1, then shut down writing. */
static void *
writer(void *arg)
{
	struct job *j = arg;
	unsigned char *buf = malloc(BUFSZ);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned long long off = 0;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while (buf != NULL && off < nbytes) {
		size_t n =
		    nbytes - off < BUFSZ ? (size_t)(nbytes - off) : BUFSZ;
		size_t done = 0;

		tools_fill((uint64_t)j->id + 1, off, buf, n);
		EVP_DigestUpdate(md, buf, n);
		while (done < n) {
			ssize_t w =
			    send(j->fd, buf + done, n - done, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				failf(j, "send failed");
				goto out;
			}
			done += (size_t)w;
		}
		off += n;
	}
	shutdown(j->fd, SHUT_WR);
out:
	EVP_DigestFinal_ex(md, j->sent_md, NULL);
	EVP_MD_CTX_free(md);
	free(buf);
	return (NULL);
}

static void
hex(const unsigned char *md, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* Read to EOF into a digest (echo) or a line buffer (sink). */
static void
run_sender(struct job *j)
{
	unsigned char *buf = malloc(BUFSZ), md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned long long total = 0;
	char line[256] = "", want[160], h[65];
	ssize_t n;

	if (pthread_create(&j->writer, NULL, writer, j) != 0) {
		failf(j, "pthread_create");
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(j->fd, buf, BUFSZ)) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		if (total + (size_t)n < sizeof(line))
			memcpy(line + total, buf, (size_t)n);
		total += (unsigned long long)n;
	}
	if (n < 0)
		failf(j, "read error");
	EVP_DigestFinal_ex(ctx, md, NULL);
	pthread_join(j->writer, NULL);
	if (strcmp(mode, "echo") == 0) {
		if (total != nbytes || memcmp(md, j->sent_md, 32) != 0)
			failf(j, "echo mismatch");
	} else {
		hex(j->sent_md, h);
		snprintf(want, sizeof(want), "%llu %s\n", nbytes, h);
		if (strcmp(line, want) != 0)
			failf(j, "sink answer mismatch");
	}
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
}

static void
run_source(struct job *j)
{
	unsigned char *buf = malloc(BUFSZ), *exp = malloc(BUFSZ);
	unsigned long long total = 0;
	uint64_t start = now_ms();
	ssize_t n;

	for (;;) {
		bool slow =
		    slow_ms > 0 && now_ms() - start < (uint64_t)slow_for_ms;

		n = read(j->fd, buf, slow ? 16384 : BUFSZ);
		if (n <= 0)
			break;
		tools_fill(0, total, exp, (size_t)n);
		if (memcmp(buf, exp, (size_t)n) != 0) {
			failf(j, "source data mismatch");
			break;
		}
		total += (unsigned long long)n;
		if (slow)
			usleep((useconds_t)slow_ms * 1000);
	}
	if (total != nbytes)
		failf(j, "source byte count mismatch");
	free(buf);
	free(exp);
}

static void
run_refused(struct job *j)
{
	struct timeval tv = {15, 0};
	char buf[4096];
	ssize_t n;

	memset(buf, 'x', sizeof(buf));
	setsockopt(j->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)send(j->fd, buf, sizeof(buf), MSG_NOSIGNAL);
	n = read(j->fd, buf, sizeof(buf));
	if (n > 0)
		failf(j, "received data on a refused connection");
	else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		failf(j, "connection not closed within 15 s");
}

/* Connect J->fd to 127.0.0.1:port or to the unix socket upath. */
static int
dial(struct job *j)
{
	struct sockaddr_in sin;
	struct sockaddr_un sun;

	if (upath != NULL) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", upath);
		j->fd = socket(AF_UNIX, SOCK_STREAM, 0);
		return (connect(j->fd, (struct sockaddr *)&sun, sizeof(sun)));
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	j->fd = socket(AF_INET, SOCK_STREAM, 0);
	return (connect(j->fd, (struct sockaddr *)&sin, sizeof(sin)));
}

static void *
run(void *arg)
{
	struct job *j = arg;

	if (dial(j) != 0) {
		if (strcmp(mode, "refused") != 0)
			failf(j, "connect failed");
	} else if (strcmp(mode, "source") == 0) {
		run_source(j);
	} else if (strcmp(mode, "refused") == 0) {
		run_refused(j);
	} else {
		run_sender(j);
	}
	close(j->fd);
	return (NULL);
}

int
main(int argc, char **argv)
{
	struct job *jobs;
	int ch, conns = 1;
	uint64_t t0;
	double secs, mb;

	while ((ch = getopt(argc, argv, "p:u:m:n:c:s:")) != -1) {
		switch (ch) {
		case 'p':
			port = (unsigned)atoi(optarg);
			break;
		case 'u':
			upath = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'n':
			nbytes = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			conns = atoi(optarg);
			break;
		case 's':
			if (sscanf(optarg, "%ld:%ld", &slow_ms, &slow_for_ms) !=
			    2)
				return (2);
			break;
		default:
			fprintf(stderr,
			    "usage: client -p PORT | -u PATH [-m MODE] "
			    "[-n BYTES] [-c CONNS] [-s MS:FOR]\n");
			return (2);
		}
	}
	if ((port == 0 && upath == NULL) || conns < 1 ||
	    (jobs = calloc((size_t)conns, sizeof(*jobs))) == NULL)
		return (2);
	signal(SIGPIPE, SIG_IGN);
	t0 = now_ms();
	for (int i = 0; i < conns; i++) {
		jobs[i].id = i;
		if (pthread_create(&jobs[i].runner, NULL, run, &jobs[i]) != 0) {
			failf(&jobs[i], "pthread_create");
			conns = i;
			break;
		}
	}
	for (int i = 0; i < conns; i++)
		pthread_join(jobs[i].runner, NULL);
	secs = (double)(now_ms() - t0) / 1000.0;
	mb = (double)nbytes * conns / 1e6;
	printf("client: mode=%s conns=%d bytes=%llu failures=%d secs=%.2f "
	       "MB/s=%.1f\n",
	    mode, conns, nbytes, atomic_load(&failures), secs,
	    secs > 0 ? mb / secs : 0.0);
	free(jobs);
	return (atomic_load(&failures) == 0 ? 0 : 1);
}
