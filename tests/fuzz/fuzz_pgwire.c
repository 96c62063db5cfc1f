/*
 * fuzz_pgwire: proxy/proto/pgwire.c on arbitrary client and server bytes.
 *
 * The input is what a client sent in its startup phase. It is parsed whole,
 * then as it would arrive in two reads split at a point taken from the
 * data, then packet after packet as a connection would consume it. Every
 * parse sees a heap copy of exactly the bytes "received", so ASan catches
 * a read past them. The checks are the promises of pgwire.h: consumed <=
 * len, NEED_MORE on every prefix of a complete packet, the same answer
 * whatever the split, strings NUL-terminated inside the packet, user and
 * database short enough, pgwire_cancel_len() agreeing with the parser on
 * every prefix. The same bytes also feed pgwire_ssl_reply() and,
 * cut into an SQLSTATE, a message and a buffer size, pgwire_error_response().
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pgwire.h"

/* Report a broken promise and abort, so that libFuzzer keeps the input. */
/* Prefixes longer than this are sampled rather than all tried. */
#define ALL_PREFIXES_MAX 600

struct result {
	enum pgwire_kind kind;
	size_t consumed;
	struct pgwire_startup st;
	const char *why;
};

static uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

/* Is S[0..LEN) followed by a NUL, all inside BUF[0..END)? */
static void
check_str(const uint8_t *buf, size_t end, const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;

	CHECK(p >= buf + 8 && p + len < buf + end);
	CHECK(p[len] == '\0');
	CHECK(memchr(p, '\0', len) == NULL);
}

/* Is the value S the value of the key NAME (the key ends just before it)? */
static void
check_key(const uint8_t *buf, const char *s, const char *name)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(name) + 1;

	CHECK(p - n >= buf + 8);
	CHECK(memcmp(p - n, name, n) == 0);
	CHECK(p - n == buf + 8 || p[-(long)n - 1] == '\0');
}

/* What pgwire.h promises about one result on BUF[0..LEN). */
static void
check_result(const uint8_t *buf, size_t len, const struct result *r)
{
	const struct pgwire_startup *st = &r->st;

	CHECK(r->consumed <= len);
	CHECK(pgwire_kind_name(r->kind) != NULL);
	switch (r->kind) {
	case PGWIRE_NEED_MORE:
		CHECK(r->consumed == 0);
		CHECK(len < PGWIRE_MAX_PACKET);
		return;
	case PGWIRE_ERROR:
		CHECK(r->consumed == 0);
		CHECK(r->why != NULL && r->why[0] != '\0');
		return;
	case PGWIRE_SSL_REQUEST:
	case PGWIRE_GSSENC_REQUEST:
		CHECK(r->consumed == PGWIRE_SSL_REQUEST_LEN);
		CHECK(be32(buf) == PGWIRE_SSL_REQUEST_LEN);
		CHECK(be32(buf + 4) ==
		    (r->kind == PGWIRE_SSL_REQUEST ? 0x04d2162fU
						   : 0x04d21630U));
		return;
	case PGWIRE_CANCEL:
		CHECK(r->consumed == be32(buf));
		CHECK(st->cancel_key == buf + 12);
		CHECK(st->cancel_key_len >= PGWIRE_CANCEL_KEY_MIN);
		CHECK(st->cancel_key_len <= PGWIRE_CANCEL_KEY_MAX);
		CHECK(12 + st->cancel_key_len == r->consumed);
		CHECK(st->cancel_pid == be32(buf + 8));
		return;
	case PGWIRE_STARTUP:
		CHECK(r->consumed == be32(buf));
		CHECK(r->consumed <= PGWIRE_MAX_PACKET);
		CHECK(buf[r->consumed - 1] == '\0');
		CHECK(st->major == 3 && be32(buf + 4) >> 16 == 3);
		CHECK(st->minor == (be32(buf + 4) & 0xffff));
		CHECK(st->user != NULL && st->user_len > 0);
		CHECK(st->user_len < PGWIRE_NAMEDATALEN);
		check_str(buf, r->consumed, st->user, st->user_len);
		check_key(buf, st->user, "user");
		CHECK(st->database != NULL && st->database_len > 0);
		CHECK(st->database_len < PGWIRE_NAMEDATALEN);
		check_str(buf, r->consumed, st->database, st->database_len);
		if (st->database != st->user)
			check_key(buf, st->database, "database");
		if (st->application_name != NULL) {
			check_str(buf, r->consumed, st->application_name,
			    st->application_name_len);
			check_key(
			    buf, st->application_name, "application_name");
		}
		if (st->replication != NULL) {
			check_str(buf, r->consumed, st->replication,
			    st->replication_len);
			check_key(buf, st->replication, "replication");
		}
		return;
	}
	CHECK(!"unknown kind");
}

/* Parse a heap copy of exactly DATA[0..LEN); COPY receives the copy. */
static void
parse(const uint8_t *data, size_t len, uint8_t **copy, struct result *r)
{
	uint8_t *b = malloc(len > 0 ? len : 1);
	size_t n;

	CHECK(b != NULL);
	memcpy(b, data, len);
	memset(r, 0xa5, sizeof(*r));
	r->why = NULL;
	r->consumed = 12345;
	r->kind = pgwire_parse(b, len, &r->consumed, &r->st, &r->why);
	check_result(b, len, r);
	/* pgwire_cancel_len() agrees with the parser on the header. */
	n = pgwire_cancel_len(b, len);
	if (n == 0)
		CHECK(r->kind != PGWIRE_CANCEL);
	else
		CHECK(r->kind == PGWIRE_CANCEL
			? n == r->consumed
			: r->kind == PGWIRE_NEED_MORE && len < n);
	/* NULL out-parameters are allowed and change nothing. */
	CHECK(pgwire_parse(b, len, NULL, NULL, NULL) == r->kind);
	*copy = b;
}

/* A complete packet on a prefix must be the same packet on the whole. */
static void
check_same(const struct result *a, const uint8_t *abuf, const struct result *b,
    const uint8_t *bbuf)
{
	CHECK(a->kind == b->kind);
	CHECK(a->consumed == b->consumed);
	if (a->kind == PGWIRE_STARTUP) {
		CHECK(a->st.user - (const char *)abuf ==
		    b->st.user - (const char *)bbuf);
		CHECK(a->st.user_len == b->st.user_len);
		CHECK(a->st.database_len == b->st.database_len);
		CHECK(a->st.minor == b->st.minor);
	}
}

/*
 * Whole input against the prefix DATA[0..K): an error or a packet seen on
 * the prefix stays the same; a packet on the whole means NEED_MORE on
 * every prefix shorter than the packet.
 */
static void
check_split(const uint8_t *data, size_t size, size_t k,
    const struct result *whole, const uint8_t *wbuf)
{
	struct result r;
	uint8_t *b;

	parse(data, k, &b, &r);
	if (r.kind == PGWIRE_ERROR)
		CHECK(whole->kind == PGWIRE_ERROR);
	else if (r.kind != PGWIRE_NEED_MORE)
		check_same(&r, b, whole, wbuf);
	else if (whole->kind != PGWIRE_ERROR)
		CHECK(whole->kind == PGWIRE_NEED_MORE || k < whole->consumed);
	if (whole->kind != PGWIRE_ERROR && whole->kind != PGWIRE_NEED_MORE &&
	    k < whole->consumed)
		CHECK(r.kind == PGWIRE_NEED_MORE);
	free(b);
}

/* Consume packet after packet (SSLRequest, then StartupMessage, ...). */
static void
check_stream(const uint8_t *data, size_t size)
{
	for (int i = 0; i < 8 && size > 0; i++) {
		struct result r;
		uint8_t *b;

		parse(data, size, &b, &r);
		free(b);
		if (r.kind == PGWIRE_NEED_MORE || r.kind == PGWIRE_ERROR)
			return;
		data += r.consumed;
		size -= r.consumed;
	}
}

/* The server's answer to our SSLRequest. */
static void
check_ssl_reply(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	enum pgwire_ssl_reply r = pgwire_ssl_reply(data, size, &why);

	if (size == 0) {
		CHECK(r == PGWIRE_SSL_NEED_MORE);
		return;
	}
	if (data[0] == 'S')
		CHECK(r == (size == 1 ? PGWIRE_SSL_ACCEPT : PGWIRE_SSL_BAD));
	else if (data[0] == 'N')
		CHECK(r == (size == 1 ? PGWIRE_SSL_REFUSE : PGWIRE_SSL_BAD));
	else if (data[0] == 'E')
		CHECK(r == PGWIRE_SSL_SERVER_ERR);
	else
		CHECK(r == PGWIRE_SSL_BAD);
	if (r != PGWIRE_SSL_ACCEPT)
		CHECK(why != NULL && why[0] != '\0');
}

static bool
sqlstate_ok(const char *s)
{
	if (strlen(s) != 5)
		return (false);
	for (int i = 0; i < 5; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'A' && s[i] <= 'Z')))
			return (false);
	}
	return (true);
}

/*
 * ErrorResponse from data-derived parts: byte 0 picks the buffer size
 * (around the size needed), bytes 1..5 the SQLSTATE, the rest the message.
 * The buffer is a heap block of exactly that size.
 */
static void
check_error_response(const uint8_t *data, size_t size)
{
	char state[6] = {0}, *msg;
	uint8_t *out;
	size_t mlen, need, outlen, n, off;

	if (size < 6)
		return;
	memcpy(state, data + 1, 5);
	mlen = size - 6;
	if ((msg = malloc(mlen + 1)) == NULL)
		abort();
	memcpy(msg, data + 6, mlen);
	msg[mlen] = '\0';
	mlen = strlen(msg);
	need = 1 + 4 + 2 * (1 + 5 + 1) + (1 + 6) + (1 + mlen + 1) + 1;
	outlen = need - 8 + (size_t)(data[0] % 16);
	out = malloc(outlen);
	CHECK(out != NULL);
	n = pgwire_error_response(out, outlen, state, msg);
	if (!sqlstate_ok(state) || outlen < need || mlen > PGWIRE_MAX_PACKET) {
		CHECK(n == 0);
		goto out;
	}
	CHECK(n == need);
	CHECK(out[0] == 'E' && be32(out + 1) == n - 1);
	off = 5;
	CHECK(memcmp(out + off, "SFATAL\0VFATAL\0C", 15) == 0);
	off += 15;
	CHECK(memcmp(out + off, state, 6) == 0);
	off += 6;
	CHECK(out[off] == 'M' && memcmp(out + off + 1, msg, mlen + 1) == 0);
	off += 2 + mlen;
	CHECK(out[off] == '\0' && off + 1 == n);
out:
	free(out);
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole;
	uint8_t *wbuf, req[PGWIRE_SSL_REQUEST_LEN];
	size_t k;

	parse(data, size, &wbuf, &whole);
	/* Two reads, split where the data says. */
	k = size > 0 ? (size_t)data[size - 1] * 37 % (size + 1) : 0;
	check_split(data, size, k, &whole, wbuf);
	/* Every prefix of a complete packet, or a sample if it is long. */
	if (whole.kind != PGWIRE_NEED_MORE && whole.kind != PGWIRE_ERROR) {
		if (whole.consumed <= ALL_PREFIXES_MAX) {
			for (k = 0; k < whole.consumed; k++)
				check_split(data, size, k, &whole, wbuf);
		} else {
			check_split(data, size, 4, &whole, wbuf);
			check_split(data, size, 8, &whole, wbuf);
			check_split(
			    data, size, whole.consumed - 1, &whole, wbuf);
		}
		check_split(data, size, whole.consumed, &whole, wbuf);
	}
	free(wbuf);
	check_stream(data, size);
	check_ssl_reply(data, size);
	check_error_response(data, size);
	CHECK(pgwire_ssl_request(req, sizeof(req)) == sizeof(req));
	CHECK(pgwire_ssl_request(req, sizeof(req) - 1) == 0);
	return (0);
}
