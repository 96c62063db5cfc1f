/*
 * pgwire: PostgreSQL startup-phase packets, for routes with
 * `protocol: postgres`. Pure and allocation-free: the parser looks at the
 * bytes received so far on the client's plaintext leg and says whether a
 * complete packet is there and what it is; the builders write into a
 * caller's buffer. Nothing here reads a socket or keeps state.
 *
 * A startup-phase packet is "int32 length (including itself)" followed by
 * "int32 code", both big-endian:
 *	SSLRequest	00 00 00 08 04 d2 16 2f
 *	GSSENCRequest	00 00 00 08 04 d2 16 30
 *	CancelRequest	length, 04 d2 16 2e, int32 pid, key of 4..256 bytes
 *	StartupMessage	length, protocol (major << 16 | minor), then
 *			key\0value\0 pairs ending with one more \0
 */
#ifndef COTAI_PGWIRE_H
#define COTAI_PGWIRE_H

#include <stddef.h>
#include <stdint.h>

/* Largest startup-phase packet accepted, length word included. */
#define PGWIRE_MAX_PACKET 10000
/* PostgreSQL's NAMEDATALEN: longer user/database names are refused. */
#define PGWIRE_NAMEDATALEN 64
/* CancelRequest secret key: 4 bytes up to protocol 3.1, 4..256 from 3.2. */
#define PGWIRE_CANCEL_KEY_MIN 4
#define PGWIRE_CANCEL_KEY_MAX 256
/* Length of SSLRequest and GSSENCRequest. */
#define PGWIRE_SSL_REQUEST_LEN 8

enum pgwire_kind {
	PGWIRE_NEED_MORE,      /* no complete packet yet; read more */
	PGWIRE_SSL_REQUEST,    /* answer 'N' (or 'S' and start TLS) */
	PGWIRE_GSSENC_REQUEST, /* answer 'N' */
	PGWIRE_CANCEL,         /* relay verbatim over a fresh upstream leg */
	PGWIRE_STARTUP,        /* StartupMessage; *st is filled in */
	PGWIRE_ERROR           /* malformed: *why says how; refuse and close */
};

/*
 * What pgwire_parse() found. All pointers point into the caller's buffer
 * and live as long as it does. Each string is NUL-terminated in that buffer
 * (p[len] == '\0'), so it can be used as a C string too.
 */
struct pgwire_startup {
	/* PGWIRE_STARTUP */
	uint16_t major, minor; /* protocol version: major is always 3 */
	const char *user;      /* never NULL or empty */
	size_t user_len;
	const char *database; /* the user when not given or empty */
	size_t database_len;
	const char *application_name; /* NULL when not given */
	size_t application_name_len;
	const char *replication; /* raw "replication" value; NULL if absent */
	size_t replication_len;
	/* PGWIRE_CANCEL */
	uint32_t cancel_pid;
	const uint8_t *cancel_key;
	size_t cancel_key_len; /* PGWIRE_CANCEL_KEY_MIN..MAX */
};

/*
 * Look at BUF[0..LEN), the bytes received so far on a connection that is
 * in its startup phase, and classify the packet at its start.
 *
 * PGWIRE_NEED_MORE: no complete packet yet, and nothing seen so far is
 * wrong. A length word that is too short or too long, or a code that is
 * unknown or does not fit the length, gives PGWIRE_ERROR as soon as the
 * bytes that show it are there (so an oversized packet is refused before it
 * arrives; a first byte other than 0 is already too long).
 *
 * Otherwise *consumed is the packet's length (bytes after it, if any, are
 * the next packet's and are not looked at), and for PGWIRE_STARTUP and
 * PGWIRE_CANCEL *st is filled in. A StartupMessage must have protocol major
 * 3 (any minor: the server answers a minor it does not speak with
 * NegotiateProtocolVersion, so refusing one here would break that), a
 * non-empty `user`, user and database names shorter than
 * PGWIRE_NAMEDATALEN (the server would truncate them, so a role check on
 * the full name could be fooled), no repeated user/database keys, and its
 * final NUL as its last byte.
 *
 * PGWIRE_ERROR: *why is a static string saying what is wrong, fit for a
 * log line and for an ErrorResponse with SQLSTATE 08P01; *consumed is 0.
 *
 * On the other kinds *st and *why are left alone. Any of CONSUMED, ST and
 * WHY may be NULL. If the caller answers SSLRequest with 'S', the packet
 * must have been the only bytes received (*consumed == LEN), otherwise
 * pipelined plaintext would be taken as coming over TLS (CVE-2021-23214).
 */
enum pgwire_kind pgwire_parse(const uint8_t *buf, size_t len, size_t *consumed,
    struct pgwire_startup *st, const char **why);

/*
 * The length of the CancelRequest whose 8-byte header is at BUF (LEN >= 8
 * bytes there), when its length word is within the limits above; 0 when
 * BUF does not start with a CancelRequest header (or LEN < 8). Lets a
 * reader take exactly one CancelRequest from a socket and nothing after.
 */
size_t pgwire_cancel_len(const uint8_t *buf, size_t len);

/* Name of a kind for logs: "ssl_request", "startup", ... */
const char *pgwire_kind_name(enum pgwire_kind kind);

/*
 * Write an ErrorResponse with severity FATAL, the five-character SQLSTATE
 * (digits and capital letters, e.g. "28000" to refuse a login, "08P01" for
 * a protocol violation) and the message MSG into OUT[0..OUTLEN). Returns the
 * number of bytes written, or 0 (writing nothing) if OUTLEN is too small or
 * SQLSTATE is not five such characters. Fields: S and V "FATAL", C, M.
 */
size_t pgwire_error_response(
    uint8_t *out, size_t outlen, const char *sqlstate, const char *msg);

/*
 * Write the 8-byte SSLRequest into OUT[0..OUTLEN), for the upstream leg to
 * a PostgreSQL server that speaks TLS itself. Returns 8, or 0 if OUTLEN is
 * smaller than PGWIRE_SSL_REQUEST_LEN.
 */
size_t pgwire_ssl_request(uint8_t *out, size_t outlen);

enum pgwire_ssl_reply {
	PGWIRE_SSL_NEED_MORE,  /* nothing received yet */
	PGWIRE_SSL_ACCEPT,     /* exactly 'S': start the TLS handshake */
	PGWIRE_SSL_REFUSE,     /* 'N': the server does not do TLS; close */
	PGWIRE_SSL_SERVER_ERR, /* 'E': an unauthenticated error; close */
	PGWIRE_SSL_BAD         /* anything else, or bytes after S/N; close */
};

/*
 * Judge the server's reply to our SSLRequest, given the bytes BUF[0..LEN)
 * received on the upstream leg since the request was sent. The reply is
 * one byte; bytes already there after an 'S' would be taken as coming over
 * TLS although they did not (CVE-2021-23222), so they give PGWIRE_SSL_BAD
 * and the caller must close. The caller must not send the ClientHello
 * before PGWIRE_SSL_ACCEPT, and must read nothing more from the plaintext
 * leg after it. The text after an 'E' is not authenticated and is not
 * looked at. *why (if WHY is not NULL) gets a static string for the log on
 * every result but PGWIRE_SSL_NEED_MORE and PGWIRE_SSL_ACCEPT.
 */
enum pgwire_ssl_reply
pgwire_ssl_reply(const uint8_t *buf, size_t len, const char **why);

#endif
