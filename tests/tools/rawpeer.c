/*
 * rawpeer: send bytes to a TCP port and print what comes back, for
 * protocol tests. Connects to 127.0.0.1:PORT, writes the bytes given as
 * hex (spaces ignored), shuts down writing (so a server waiting for the
 * rest of a packet sees EOF at once), then copies everything received to
 * standard output, NUL bytes as '|', until the peer closes, resets, or
 * SECS seconds pass. Exits 0 in all those cases, 1 when it cannot connect.
 *
 * usage: rawpeer [-k] [-w] [-t SECS] PORT HEX...
 *	-k	keep writing open (do not shut down after the bytes)
 *	-w	send each HEX argument on its own, the next one only after
 *		something came back (e.g. the 'S' to an SSLRequest)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Append the hex digits of S to BUF; -1 on a bad digit or overflow. */
static int
unhex(const char *s, unsigned char *buf, size_t cap, size_t *len)
{
	int hi = -1, v;

	for (; *s != '\0'; s++) {
		if (*s == ' ')
			continue;
		if ((v = hexval((unsigned char)*s)) < 0)
			return (-1);
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (*len == cap)
			return (-1);
		buf[(*len)++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	return (hi < 0 ? 0 : -1);
}

/* Print N received bytes, NUL as '|'. */
static void
show(const unsigned char *p, ssize_t n)
{
	for (ssize_t i = 0; i < n; i++)
		putchar(p[i] == 0 ? '|' : p[i]);
}

/* Send BUF[0..LEN) whole (as far as the peer takes it). */
static void
send_all(int fd, const unsigned char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (
	    off < len && (n = send(fd, buf + off, len - off, MSG_NOSIGNAL)) > 0)
		off += (size_t)n;
}

/* Wait up to SECS for bytes and print them; -1 when the peer closed. */
static int
await_reply(int fd, int secs)
{
	unsigned char b[4096];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&pfd, 1, secs * 1000) <= 0 ||
	    (n = read(fd, b, sizeof(b))) <= 0)
		return (-1);
	show(b, n);
	return (0);
}

int
main(int argc, char **argv)
{
	static unsigned char buf[65536];
	size_t ends[64];
	struct sockaddr_in sin;
	struct pollfd pfd;
	size_t len = 0, nchunks = 0;
	int ch, fd, keep = 0, wait = 0, secs = 5;
	time_t end;
	ssize_t n;

	while ((ch = getopt(argc, argv, "kwt:")) != -1) {
		if (ch == 'k')
			keep = 1;
		else if (ch == 'w')
			wait = 1;
		else if (ch == 't')
			secs = atoi(optarg);
		else
			goto usage;
	}
	if (optind >= argc)
		goto usage;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[optind++]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (; optind < argc; optind++) {
		if (unhex(argv[optind], buf, sizeof(buf), &len) != 0 ||
		    nchunks == sizeof(ends) / sizeof(ends[0]))
			goto usage;
		ends[nchunks++] = len;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("rawpeer: connect");
		return (1);
	}
	if (!wait) {
		send_all(fd, buf, len);
	} else {
		for (size_t i = 0; i < nchunks; i++) {
			size_t from = i == 0 ? 0 : ends[i - 1];

			send_all(fd, buf + from, ends[i] - from);
			if (i + 1 < nchunks && await_reply(fd, secs) != 0)
				break;
		}
	}
	if (!keep)
		shutdown(fd, SHUT_WR);
	end = time(NULL) + secs;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (time(NULL) < end && poll(&pfd, 1, 200) >= 0) {
		if (pfd.revents == 0)
			continue;
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		show(buf, n);
	}
	close(fd);
	return (0);
usage:
	fprintf(stderr, "usage: rawpeer [-k] [-w] [-t SECS] PORT HEX...\n");
	return (2);
}
