/*
 * tlspeer: a stand-in for a database that starts TLS on the first byte and
 * requires a client certificate (mongod with net.tls.mode: requireTLS and
 * a CAFile). Binds 127.0.0.1:0, writes the port to PORTFILE (atomically)
 * and serves one connection at a time: after the handshake it writes
 * "subject=<client certificate subject, RFC 2253>\n" (the name MongoDB
 * gives an X.509 user), then echoes every byte until EOF.
 *
 * usage: tlspeer -p PORTFILE -c PEM -a CAFILE [-g GOFILE]
 *	PEM holds the certificate chain and the key (cotai-ca issue
 *	--combined); CAFILE the trust bundle for client certificates.
 *	-g: a server that stops in the middle of the handshake: while
 *	GOFILE does not exist, an accepted connection's ClientHello is left
 *	unanswered (after printing "held"); the handshake goes on when it
 *	appears (at most 60 s later).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tools.h"

static SSL_CTX *
make_ctx(const char *pem, const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, pem) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, pem, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		SSL_CTX_free(ctx);
		return (NULL);
	}
	SSL_CTX_set_verify(
	    ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* Like a database server: no close_notify is needed from it. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	return (ctx);
}

/* Print "held" and wait until GOFILE exists (at most 60 s). */
static void
hold(const char *gofile)
{
	struct stat st;
	struct timespec ts = {0, 10 * 1000 * 1000};

	if (gofile == NULL || stat(gofile, &st) == 0)
		return;
	printf("held\n");
	fflush(stdout);
	for (int i = 0; i < 6000 && stat(gofile, &st) != 0; i++)
		nanosleep(&ts, NULL);
}

/* Handshake, say who the client is, echo until EOF. */
static void
serve(SSL_CTX *ctx, int fd, const char *gofile)
{
	SSL *ssl = SSL_new(ctx);
	X509 *peer = NULL;
	BIO *mem = NULL;
	char buf[16384], *name;
	long len;
	int n;

	hold(gofile);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		goto out;
	}
	if ((peer = SSL_get1_peer_certificate(ssl)) == NULL ||
	    (mem = BIO_new(BIO_s_mem())) == NULL ||
	    X509_NAME_print_ex(
		mem, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) < 0)
		goto out;
	len = BIO_get_mem_data(mem, &name);
	snprintf(buf, sizeof(buf), "subject=%.*s\n", (int)len, name);
	if (SSL_write(ssl, buf, (int)strlen(buf)) <= 0)
		goto out;
	while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
		if (SSL_write(ssl, buf, n) != n)
			goto out;
	}
	SSL_shutdown(ssl);
out:
	ERR_clear_error();
	BIO_free(mem);
	X509_free(peer);
	SSL_free(ssl);
	close(fd);
}

int
main(int argc, char **argv)
{
	const char *portfile = NULL, *pem = NULL, *ca = NULL, *gofile = NULL;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	SSL_CTX *ctx;
	int ch, lfd, fd, one = 1;

	while ((ch = getopt(argc, argv, "p:c:a:g:")) != -1) {
		switch (ch) {
		case 'p':
			portfile = optarg;
			break;
		case 'c':
			pem = optarg;
			break;
		case 'a':
			ca = optarg;
			break;
		case 'g':
			gofile = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (portfile == NULL || pem == NULL || ca == NULL)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	if ((ctx = make_ctx(pem, ca)) == NULL)
		return (1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 64) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) != 0 ||
	    tools_write_port(portfile, ntohs(sin.sin_port)) != 0) {
		perror("tlspeer");
		return (1);
	}
	while ((fd = accept(lfd, NULL, NULL)) >= 0)
		serve(ctx, fd, gofile);
	perror("accept");
	return (1);
usage:
	fprintf(stderr,
	    "usage: tlspeer -p PORTFILE -c PEM -a CAFILE [-g GOFILE]\n");
	return (2);
}
