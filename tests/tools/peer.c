/*
 * peer: the upstream end of integration tests. Binds 127.0.0.1:0 (or -a
 * ADDR, another IPv4 address; -l PORT, to come back on the same port
 * after a restart), writes
 * the port it got to PORTFILE (atomically), and serves every connection in
 * its own thread in one of three modes:
 *
 *	echo	write back every byte; at EOF shut down writing and close
 *	sink	read to EOF, then answer "<bytes> <sha256 hex>\n" and close
 *	source	write -n BYTES of test data (see client.c), then close
 *	stall	accept nothing: the accept queue (backlog 0) is filled by
 *		one connection of its own, so the kernel drops further SYNs
 *		and a client's connect times out
 *
 * usage: peer -m echo|sink|source|stall -p PORTFILE [-n BYTES] [-a ADDR] [-l
 *PORT]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tools.h"

#define BUFSZ (256 * 1024)

static const char *mode = "echo";
static unsigned long long source_bytes;

static int
write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return (-1);
		p += w;
		n -= (size_t)w;
	}
	return (0);
}

static void
serve_echo(int fd, unsigned char *buf)
{
	ssize_t n;

	while ((n = read(fd, buf, BUFSZ)) > 0)
		if (write_all(fd, buf, (size_t)n) != 0)
			return;
	shutdown(fd, SHUT_WR);
}

static void
serve_sink(int fd, unsigned char *buf)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char dg[32];
	char line[128];
	unsigned long long total = 0;
	ssize_t n;
	int len;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = read(fd, buf, BUFSZ)) > 0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		total += (unsigned long long)n;
	}
	EVP_DigestFinal_ex(md, dg, NULL);
	EVP_MD_CTX_free(md);
	len = snprintf(line, sizeof(line), "%llu ", total);
	for (int i = 0; i < 32; i++)
		len += snprintf(
		    line + len, sizeof(line) - (size_t)len, "%02x", dg[i]);
	line[len++] = '\n';
	(void)write_all(fd, (unsigned char *)line, (size_t)len);
}

static void
serve_source(int fd, unsigned char *buf)
{
	unsigned long long left = source_bytes, off = 0;

	while (left > 0) {
		size_t n = left < BUFSZ ? (size_t)left : BUFSZ;

		tools_fill(0, off, buf, n);
		off += n;
		if (write_all(fd, buf, n) != 0)
			return;
		left -= n;
	}
}

static void *
serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char *buf = malloc(BUFSZ);

	if (buf != NULL) {
		if (strcmp(mode, "echo") == 0)
			serve_echo(fd, buf);
		else if (strcmp(mode, "sink") == 0)
			serve_sink(fd, buf);
		else
			serve_source(fd, buf);
	}
	free(buf);
	close(fd);
	return (NULL);
}

/* Fill the (backlog 0) accept queue of the listener at SIN; kept open. */
static int
stall_fill(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return (-1);
	return (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)));
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	const char *portfile = NULL, *addr = "127.0.0.1";
	int ch, lfd, one = 1;
	unsigned listen_port = 0;

	while ((ch = getopt(argc, argv, "m:p:n:a:l:")) != -1) {
		switch (ch) {
		case 'm':
			mode = optarg;
			break;
		case 'p':
			portfile = optarg;
			break;
		case 'n':
			source_bytes = strtoull(optarg, NULL, 0);
			break;
		case 'a':
			addr = optarg;
			break;
		case 'l':
			listen_port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
			    "usage: peer -m echo|sink|source|stall "
			    "-p PORTFILE [-n BYTES] [-a ADDR] [-l PORT]\n");
			return (2);
		}
	}
	if (portfile == NULL)
		return (2);
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "peer: bad address %s\n", addr);
		return (2);
	}
	sin.sin_port = htons((uint16_t)listen_port);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, strcmp(mode, "stall") == 0 ? 0 : 1024) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) != 0 ||
	    (strcmp(mode, "stall") == 0 && stall_fill(&sin) != 0) ||
	    tools_write_port(portfile, ntohs(sin.sin_port)) != 0) {
		perror("peer");
		return (1);
	}
	while (strcmp(mode, "stall") == 0)
		pause();
	for (;;) {
		pthread_t t;
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("accept");
			return (1);
		}
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) !=
		    0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
