/*
 * pgwire: see pgwire.h. The parser first judges the 8-byte header (length
 * and code) as soon as its bytes are there, so garbage and oversized
 * packets are refused without waiting for their bodies; only then does it
 * wait for the whole packet and look inside it. It follows PostgreSQL's own
 * ProcessStartupPacket() but is stricter where a lax reading could let a
 * role check and the server disagree on the user name.
 */
#include "pgwire.h"

#include <stdbool.h>
#include <string.h>

#define PGWIRE_CODE_CANCEL 0x04d2162eU /* 1234.5678 */
#define PGWIRE_CODE_SSL 0x04d2162fU    /* 1234.5679 */
#define PGWIRE_CODE_GSSENC 0x04d21630U /* 1234.5680 */
#define PGWIRE_MAJOR 3
#define PGWIRE_MAJOR_SPECIAL 1234 /* the request codes above */

/* Length of a CancelRequest without its key: length, code, pid. */
#define PGWIRE_CANCEL_HEAD 12

static uint32_t
pgwire_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

static enum pgwire_kind
pgwire_fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return (PGWIRE_ERROR);
}

/*
 * Judge the header from the bytes there are: the length word (even partly
 * received: the smallest value its known bytes allow must not be too
 * large), then the code against the length. Returns PGWIRE_NEED_MORE when
 * nothing is wrong yet, PGWIRE_ERROR with *why set otherwise, or for an
 * SSL/GSSENC request the kind (its packet is its header).
 */
static enum pgwire_kind
pgwire_header(const uint8_t *buf, size_t len, const char **why)
{
	uint32_t plen = 0, code;

	for (size_t i = 0; i < 4; i++)
		plen = plen << 8 | (i < len ? buf[i] : 0);
	if (plen > PGWIRE_MAX_PACKET)
		return (pgwire_fail(why, "startup packet too long"));
	if (len < 4)
		return (PGWIRE_NEED_MORE);
	if (plen < 8)
		return (pgwire_fail(why, "startup packet too short"));
	if (len < 8)
		return (PGWIRE_NEED_MORE);
	code = pgwire_be32(buf + 4);
	switch (code) {
	case PGWIRE_CODE_SSL:
	case PGWIRE_CODE_GSSENC:
		if (plen != PGWIRE_SSL_REQUEST_LEN)
			return (pgwire_fail(why, "bad SSL/GSSENC length"));
		return (code == PGWIRE_CODE_SSL ? PGWIRE_SSL_REQUEST
						: PGWIRE_GSSENC_REQUEST);
	case PGWIRE_CODE_CANCEL:
		if (plen < PGWIRE_CANCEL_HEAD + PGWIRE_CANCEL_KEY_MIN ||
		    plen > PGWIRE_CANCEL_HEAD + PGWIRE_CANCEL_KEY_MAX)
			return (pgwire_fail(why, "bad cancel request length"));
		return (PGWIRE_NEED_MORE);
	}
	if (code >> 16 == PGWIRE_MAJOR_SPECIAL)
		return (pgwire_fail(why, "unknown request code"));
	if (code >> 16 != PGWIRE_MAJOR)
		return (pgwire_fail(why, "unsupported protocol version"));
	return (PGWIRE_NEED_MORE);
}

/*
 * Read the NUL-terminated string at P[0..END); returns its length, or -1
 * when there is no NUL before END.
 */
static long
pgwire_str(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));

	return (nul == NULL ? -1 : (long)(nul - p));
}

/* Is the NUL-terminated string K the key NAME? */
static bool
pgwire_key_is(const uint8_t *k, size_t klen, const char *name)
{
	return (klen == strlen(name) && memcmp(k, name, klen) == 0);
}

/*
 * Parse the key\0value\0...\0 list of the complete StartupMessage
 * BUF[0..PLEN) into *st, which the caller has zeroed. Returns 0, or -1
 * with *why set.
 */
static int
pgwire_params(const uint8_t *buf, size_t plen, struct pgwire_startup *st,
    const char **why)
{
	const uint8_t *p = buf + 8, *end = buf + plen;
	bool have_db = false;

	while (p < end && *p != '\0') {
		long klen = pgwire_str(p, end), vlen;
		const uint8_t *k = p, *v;

		if (klen < 0 || (vlen = pgwire_str(k + klen + 1, end)) < 0) {
			*why = "unterminated startup parameter";
			return (-1);
		}
		v = k + klen + 1;
		p = v + vlen + 1;
		if (pgwire_key_is(k, (size_t)klen, "user")) {
			if (st->user != NULL) {
				*why = "repeated user in startup packet";
				return (-1);
			}
			st->user = (const char *)v;
			st->user_len = (size_t)vlen;
		} else if (pgwire_key_is(k, (size_t)klen, "database")) {
			if (have_db) {
				*why = "repeated database in startup packet";
				return (-1);
			}
			have_db = true;
			st->database = (const char *)v;
			st->database_len = (size_t)vlen;
		} else if (pgwire_key_is(k, (size_t)klen, "application_name")) {
			st->application_name = (const char *)v;
			st->application_name_len = (size_t)vlen;
		} else if (pgwire_key_is(k, (size_t)klen, "replication")) {
			st->replication = (const char *)v;
			st->replication_len = (size_t)vlen;
		}
	}
	if (p == end) {
		*why = "missing terminator in startup packet";
		return (-1);
	}
	if (p + 1 != end) {
		*why = "data after terminator in startup packet";
		return (-1);
	}
	if (st->user == NULL || st->user_len == 0) {
		*why = "no user name in startup packet";
		return (-1);
	}
	if (st->database == NULL || st->database_len == 0) {
		st->database = st->user;
		st->database_len = st->user_len;
	}
	if (st->user_len >= PGWIRE_NAMEDATALEN ||
	    st->database_len >= PGWIRE_NAMEDATALEN) {
		*why = "user or database name too long";
		return (-1);
	}
	return (0);
}

enum pgwire_kind
pgwire_parse(const uint8_t *buf, size_t len, size_t *consumed,
    struct pgwire_startup *st, const char **why)
{
	struct pgwire_startup tmp;
	const char *reason = NULL;
	enum pgwire_kind kind;
	uint32_t plen, code;

	if (consumed != NULL)
		*consumed = 0;
	kind = pgwire_header(buf, len, &reason);
	if (kind == PGWIRE_ERROR)
		return (pgwire_fail(why, reason));
	if (kind != PGWIRE_NEED_MORE) {
		if (consumed != NULL)
			*consumed = PGWIRE_SSL_REQUEST_LEN;
		return (kind);
	}
	if (len < 8)
		return (PGWIRE_NEED_MORE);
	if (len < (plen = pgwire_be32(buf)))
		return (PGWIRE_NEED_MORE);

	memset(&tmp, 0, sizeof(tmp));
	code = pgwire_be32(buf + 4);
	if (code == PGWIRE_CODE_CANCEL) {
		tmp.cancel_pid = pgwire_be32(buf + 8);
		tmp.cancel_key = buf + PGWIRE_CANCEL_HEAD;
		tmp.cancel_key_len = plen - PGWIRE_CANCEL_HEAD;
		kind = PGWIRE_CANCEL;
	} else {
		if (pgwire_params(buf, plen, &tmp, &reason) == -1)
			return (pgwire_fail(why, reason));
		tmp.major = (uint16_t)(code >> 16);
		tmp.minor = (uint16_t)(code & 0xffff);
		kind = PGWIRE_STARTUP;
	}
	if (st != NULL)
		*st = tmp;
	if (consumed != NULL)
		*consumed = plen;
	return (kind);
}

size_t
pgwire_cancel_len(const uint8_t *buf, size_t len)
{
	uint32_t plen;

	if (len < 8 || pgwire_be32(buf + 4) != PGWIRE_CODE_CANCEL)
		return (0);
	plen = pgwire_be32(buf);
	if (plen < PGWIRE_CANCEL_HEAD + PGWIRE_CANCEL_KEY_MIN ||
	    plen > PGWIRE_CANCEL_HEAD + PGWIRE_CANCEL_KEY_MAX)
		return (0);
	return (plen);
}

const char *
pgwire_kind_name(enum pgwire_kind kind)
{
	switch (kind) {
	case PGWIRE_NEED_MORE:
		return ("need_more");
	case PGWIRE_SSL_REQUEST:
		return ("ssl_request");
	case PGWIRE_GSSENC_REQUEST:
		return ("gssenc_request");
	case PGWIRE_CANCEL:
		return ("cancel");
	case PGWIRE_STARTUP:
		return ("startup");
	case PGWIRE_ERROR:
		return ("error");
	}
	return ("unknown");
}

/* Append the field TYPE with the C string S at OUT + *off. */
static void
pgwire_field(uint8_t *out, size_t *off, char type, const char *s)
{
	size_t n = strlen(s) + 1;

	out[(*off)++] = (uint8_t)type;
	memcpy(out + *off, s, n);
	*off += n;
}

size_t
pgwire_error_response(
    uint8_t *out, size_t outlen, const char *sqlstate, const char *msg)
{
	static const char sev[] = "FATAL";
	size_t need, off = 0;

	if (sqlstate == NULL || strlen(sqlstate) != 5 || msg == NULL)
		return (0);
	for (size_t i = 0; i < 5; i++) {
		if (!((sqlstate[i] >= '0' && sqlstate[i] <= '9') ||
			(sqlstate[i] >= 'A' && sqlstate[i] <= 'Z')))
			return (0);
	}
	/* 'E', length, S sev\0, V sev\0, C code\0, M msg\0, final \0. */
	need = strlen(msg);
	if (need > PGWIRE_MAX_PACKET)
		return (0);
	need += 1 + 4 + 2 * (1 + sizeof(sev)) + (1 + 6) + 2 + 1;
	if (outlen < need)
		return (0);
	out[off++] = 'E';
	out[off++] = (uint8_t)((need - 1) >> 24);
	out[off++] = (uint8_t)((need - 1) >> 16);
	out[off++] = (uint8_t)((need - 1) >> 8);
	out[off++] = (uint8_t)(need - 1);
	pgwire_field(out, &off, 'S', sev);
	pgwire_field(out, &off, 'V', sev);
	pgwire_field(out, &off, 'C', sqlstate);
	pgwire_field(out, &off, 'M', msg);
	out[off++] = '\0';
	return (off);
}

size_t
pgwire_ssl_request(uint8_t *out, size_t outlen)
{
	static const uint8_t req[PGWIRE_SSL_REQUEST_LEN] = {
	    0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};

	if (outlen < sizeof(req))
		return (0);
	memcpy(out, req, sizeof(req));
	return (sizeof(req));
}

enum pgwire_ssl_reply
pgwire_ssl_reply(const uint8_t *buf, size_t len, const char **why)
{
	const char *reason;
	enum pgwire_ssl_reply r;

	if (len == 0)
		return (PGWIRE_SSL_NEED_MORE);
	switch (buf[0]) {
	case 'S':
		if (len == 1)
			return (PGWIRE_SSL_ACCEPT);
		r = PGWIRE_SSL_BAD;
		reason = "server sent bytes after S before TLS "
			 "(CVE-2021-23222)";
		break;
	case 'N':
		r = len == 1 ? PGWIRE_SSL_REFUSE : PGWIRE_SSL_BAD;
		reason = len == 1 ? "server refused TLS"
				  : "server sent bytes after N";
		break;
	case 'E':
		r = PGWIRE_SSL_SERVER_ERR;
		reason = "server sent an error instead of TLS";
		break;
	default:
		r = PGWIRE_SSL_BAD;
		reason = "server sent a bad reply to SSLRequest";
		break;
	}
	if (why != NULL)
		*why = reason;
	return (r);
}
