/*
 * pgconn_priv: what the files of the pgconn module share (pgconn.c, the
 * originating side, the shared steps and the interface; pgconn_term.c, the
 * terminating side before TLS and the plaintext cancel). Nothing outside
 * proxy/proto/pgconn*.c includes it.
 */
#ifndef COTAI_PGCONN_PRIV_H
#define COTAI_PGCONN_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgconn.h"
#include "pgwire.h"

/* Room for the largest startup packet and whatever follows it. */
#define PGCONN_IN (PGWIRE_MAX_PACKET + 2048)
#define PGCONN_OUT 512
#define PG_TLS_RECORD 0x16 /* first byte of a TLS handshake record */

enum pgconn_phase {
	PG_P_DETECT,
	PG_P_STARTUP,
	PG_P_LOCALTLS,
	PG_P_UPREQ,
	PG_P_UPCANCEL,
	PG_P_CLOSING,
	PG_P_READY
};

struct pgconn {
	struct proto_conn base; /* first: proto.c converts back */
	const struct config_route *rc;
	SSL_CTX *local_ctx; /* originate: local_tls's context, or NULL */
	enum pgconn_phase phase;
	bool ssl_seen, gss_seen;   /* requests answered so far */
	bool go_tls;               /* DETECT: 'S' queued, TLS after the flush */
	bool go_local;             /* STARTUP: 'S' queued, local TLS after it */
	bool direct;               /* local TLS began with a ClientHello */
	bool cancel;               /* the packet is a CancelRequest */
	bool plain_cancel;         /* terminate: ... and it came in plaintext */
	bool refused;              /* ... and it was not relayed */
	const char *local_version; /* the local leg's TLS version, once up */
	uint8_t *in;               /* client bytes not yet relayed */
	size_t inlen;
	uint8_t out[PGCONN_OUT]; /* to the client */
	size_t outoff, outlen;
	size_t upoff; /* SSLRequest or plaintext cancel bytes written up */
	enum reason why;
	bool by_upstream;
	char detail[160];
	struct identity self; /* originate with roles: our own identity */
	char user[PGWIRE_NAMEDATALEN], database[PGWIRE_NAMEDATALEN];
};

/* Record why the connection ends (DETAIL is copied); PGCONN_CLOSE. */
enum pgconn_next pgconn_fail(
    struct pgconn *pg, enum reason why, bool upstream, const char *detail);

/* A leg error or EOF (RES) on L while negotiating; UP: L is the upstream. */
enum pgconn_next pgconn_leg_fail(
    struct pgconn *pg, const struct leg *l, enum leg_res res, bool up);

/* Write out[] to CL: 1 all written, 0 blocked (watched), -1 error. */
int pgconn_flush(struct pgconn *pg, struct leg *cl);

/*
 * Each round of a phase that reads CL starts here: the replies queued
 * for CL go first. False when they are out; true when the phase must
 * return *NEXT (blocked: PGCONN_WAIT, or the failure).
 */
bool pgconn_flushing(struct pgconn *pg, struct leg *cl, enum pgconn_next *next);

/*
 * After leg operation RES on L (UP: L is the upstream leg): false on
 * LEG_OK, to go on; true with *NEXT otherwise: PGCONN_WAIT with L watched
 * for what it awaits on LEG_AGAIN, or the failure (pgconn_leg_fail).
 */
bool pgconn_stop(struct pgconn *pg, struct leg *l, enum leg_res res, bool up,
    enum pgconn_next *next);

/* The negotiation is done with L for now: stop watching it, wait in
 * PG_P_READY for what NEXT starts; returns NEXT. */
enum pgconn_next
pgconn_ready(struct pgconn *pg, struct leg *l, enum pgconn_next next);

/* Does L hold a byte not read yet (nothing may follow a request)? */
bool pgconn_more(struct leg *l);

/* Queue the one-byte answer C ('N' or 'S'). */
void pgconn_answer(struct pgconn *pg, char c);

/*
 * Queue 'S' to an SSLRequest, which is only allowed when nothing follows
 * it, neither in pg->in nor in CL's socket (CVE-2021-23214): PGCONN_WAIT,
 * or PGCONN_CLOSE with the reason.
 */
enum pgconn_next pgconn_answer_s(struct pgconn *pg, struct leg *cl);

/* Refuse with an ErrorResponse (SQLSTATE, "cotai: DETAIL"), then close for
 * WHY; PGCONN_WAIT while the reply is being written. */
enum pgconn_next pgconn_refuse(struct pgconn *pg, struct leg *cl,
    const char *sqlstate, enum reason why, const char *detail);

/* Terminate, PG_P_DETECT: look at the first bytes (pgconn_term.c). */
enum pgconn_next pgconn_detect(struct pgconn *pg, struct leg *cl);

/* Terminate, PG_P_UPCANCEL: send the plaintext cancel (pgconn_term.c). */
enum pgconn_next pgconn_upcancel(struct pgconn *pg, struct leg *up);

#endif
