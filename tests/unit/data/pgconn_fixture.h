/*
 * The fixture of the pgconn suites (check_pgconn*.c): the PostgreSQL
 * packets they send, and a pgconn between two socketpair()s, one for each
 * leg (the client's and the upstream's), with io() to step it and got() to
 * read what it sent to the test's end. Included once by each suite's file.
 */
#ifndef COTAI_TEST_PGCONN_FIXTURE_H
#define COTAI_TEST_PGCONN_FIXTURE_H

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "pgconn.h"

__attribute__((unused)) static const uint8_t ssl_req[] = {
    0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
__attribute__((unused)) static const uint8_t gss_req[] = {
    0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30};
__attribute__((unused)) static const uint8_t startup[] = {0, 0, 0, 22, 0, 3, 0,
    0, 'u', 's', 'e', 'r', 0, 'a', 'p', 'p', 0, 'x', 0, 'y', 0, 0};
__attribute__((unused)) static const uint8_t cancel[] = {
    0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 1, 2, 3, 4};

struct fixture {
	int peer[2]; /* [0] our side (the leg), [1] the test's end */
	int upp[2];
	struct leg cl, up;
	struct config_route rc;
	struct pgconn *pg;
};

__attribute__((unused)) static void
fx_init(struct fixture *f, enum config_mode mode)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, f->peer), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, f->upp), 0);
	fcntl(f->peer[0], F_SETFL, O_NONBLOCK);
	fcntl(f->upp[0], F_SETFL, O_NONBLOCK);
	leg_init(&f->cl);
	leg_init(&f->up);
	f->cl.fd = f->peer[0];
	f->up.fd = f->upp[0];
	f->rc.name = "t";
	f->rc.mode = mode;
	f->rc.protocol = CONFIG_PROTO_POSTGRES;
	ck_assert_ptr_nonnull(f->pg = pgconn_new(&f->rc, NULL, NULL));
}

__attribute__((unused)) static void
fx_free(struct fixture *f)
{
	pgconn_free(f->pg);
	SSL_free(f->cl.ssl); /* local_tls: pgconn put it on the leg */
	close(f->peer[0]);
	close(f->peer[1]);
	close(f->upp[0]);
	close(f->upp[1]);
}

/* Read what the proxy sent to the test's end FD (non-blocking). */
__attribute__((unused)) static size_t
got(int fd, uint8_t *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

	return (n > 0 ? (size_t)n : 0);
}

__attribute__((unused)) static enum pgconn_next
io(struct fixture *f)
{
	return (pgconn_io(f->pg, &f->cl, &f->up, NULL));
}

#endif
