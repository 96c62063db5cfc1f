/*
 * slowloris: hold N connections to 127.0.0.1:PORT that each trickle one
 * byte of a never-ending HTTP request head every SECS seconds, as a
 * hostile neighbour on a shared loopback would. A connection the server
 * closes is opened again after RECONNECT_MS, so the pressure never lets up.
 * Once all N have connected the first time, READY_FILE is written (when
 * given). Runs until killed, or for DURATION seconds with -d; then prints
 * "connects=C closed=K" on standard output.
 *
 * usage: slowloris [-n N] [-i SECS] [-r RECONNECT_MS] [-d DURATION]
 *		    [-f READY_FILE] PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOW_MAX 1000

struct slot {
	int fd;        /* -1 while closed */
	size_t sent;   /* bytes of the head sent on this connection */
	long long due; /* ms: next byte, or the reconnect */
};

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	stop = 1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Byte I of an endless head: a request line, then one header never ended. */
static char
head_byte(size_t i)
{
	static const char start[] = "GET /healthz HTTP/1.1\r\nX-Slow: ";

	if (i < sizeof(start) - 1)
		return (start[i]);
	return ('a');
}

static int
slot_connect(unsigned short port)
{
	struct sockaddr_in sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return (-1);
	}
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
	return (fd);
}

/* Send the slot's next byte; false when the connection is gone. */
static bool
slot_send(struct slot *s)
{
	char b = head_byte(s->sent);

	/* Stay below the server's head limit: restart the header value. */
	if (s->sent > 3000)
		s->sent = 40;
	if (send(s->fd, &b, 1, MSG_NOSIGNAL) != 1)
		return (false);
	s->sent++;
	return (true);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: slowloris [-n N] [-i SECS] [-r RECONNECT_MS] "
	    "[-d DURATION] [-f READY_FILE] PORT\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct slot slots[SLOW_MAX];
	static struct pollfd pfd[SLOW_MAX];
	int n = 100, interval_ms = 3000, reconnect_ms = 1000, opt;
	long long end = 0, t;
	const char *ready = NULL;
	unsigned long connects = 0, closed = 0;
	bool announced = false;
	unsigned short port;

	while ((opt = getopt(argc, argv, "n:i:r:d:f:")) != -1) {
		switch (opt) {
		case 'n':
			n = atoi(optarg);
			break;
		case 'i':
			interval_ms = (int)(atof(optarg) * 1000);
			break;
		case 'r':
			reconnect_ms = atoi(optarg);
			break;
		case 'd':
			end = now_ms() + (long long)(atof(optarg) * 1000);
			break;
		case 'f':
			ready = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || n < 1 || n > SLOW_MAX || interval_ms < 1)
		usage();
	port = (unsigned short)atoi(argv[optind]);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	for (int i = 0; i < n; i++)
		slots[i] = (struct slot){-1, 0, 0};
	while (!stop && (end == 0 || now_ms() < end)) {
		int up = 0;

		t = now_ms();
		for (int i = 0; i < n; i++) {
			struct slot *s = &slots[i];

			if (s->fd < 0 && t >= s->due) {
				if ((s->fd = slot_connect(port)) < 0) {
					s->due = t + reconnect_ms;
				} else {
					connects++;
					s->sent = 0;
					s->due = t;
				}
			}
			if (s->fd >= 0 && t >= s->due) {
				if (slot_send(s)) {
					s->due = t + interval_ms;
				} else {
					close(s->fd);
					s->fd = -1;
					closed++;
					s->due = t + reconnect_ms;
				}
			}
			pfd[i].fd = s->fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			up += s->fd >= 0;
		}
		if (!announced && ready != NULL && up == n) {
			FILE *fp = fopen(ready, "w");

			if (fp != NULL) {
				fprintf(fp, "%d\n", up);
				fclose(fp);
			}
			announced = true;
		}
		if (poll(pfd, (nfds_t)n, 50) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			char buf[512];

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			/* Anything from the server (an answer, EOF, reset)
			 * ends this connection: open another later. */
			while (recv(pfd[i].fd, buf, sizeof(buf), 0) > 0)
				;
			close(slots[i].fd);
			slots[i].fd = -1;
			closed++;
			slots[i].due = now_ms() + reconnect_ms;
		}
	}
	printf("connects=%lu closed=%lu\n", connects, closed);
	return (0);
}
