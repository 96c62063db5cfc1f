/*
 * leg: one side of a proxied connection, a socket that is either plain TCP
 * (or a unix socket) or TLS over it, behind one small set of non-blocking
 * operations (the "table of operations per transport" of redis's
 * connection.h, as plain branches on leg->ssl).
 *
 * Every operation returns LEG_OK, LEG_AGAIN (nothing done; the operation
 * is blocked until the event stored in rd_block or wr_block fires: TLS may
 * need EV_WRITE to read and EV_READ to write), LEG_EOF (read only: the
 * peer finished sending, TCP FIN or TLS close_notify) or LEG_ERR.
 *
 * A leg owns its fd, its SSL and its two events; leg_clear() frees them.
 */
#ifndef COTAI_LEG_H
#define COTAI_LEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

enum leg_res { LEG_OK, LEG_AGAIN, LEG_EOF, LEG_ERR };

struct leg {
	int fd;              /* -1 when not open */
	SSL *ssl;            /* NULL for a plaintext leg */
	struct event *ev_rd; /* EV_READ|EV_PERSIST on fd */
	struct event *ev_wr; /* EV_WRITE|EV_PERSIST on fd */
	short armed;         /* which of the two are added */
	short rd_block;      /* 0 = may read now, else the event awaited */
	short wr_block;      /* 0 = may write now, else the event awaited */
	bool eof;            /* the peer finished sending */
	bool shut;           /* we finished sending (FIN / close_notify) */
	int err;             /* errno of the last LEG_ERR, 0 for TLS errors */
	char detail[120];    /* text of the last LEG_ERR */
	uint64_t bytes_in;   /* application bytes read */
	uint64_t bytes_out;  /* application bytes written */
};

/* A closed leg (fd -1, no events). */
void leg_init(struct leg *l);

/*
 * Take FD (non-blocking) and create the leg's events on BASE calling CB
 * with ARG. Returns 0, or -1 (FD is then still the leg's; leg_clear()
 * closes it).
 */
int leg_open(struct leg *l, struct event_base *base, int fd,
    event_callback_fn cb, void *arg);

/* Free the events and the SSL, close the fd; idempotent. When ABORT, a TCP
 * leg is reset (SO_LINGER 0) instead of closed with a FIN. */
void leg_clear(struct leg *l, bool abort);

/* Read up to LEN bytes into BUF; *N is what was read on LEG_OK. */
enum leg_res leg_read(struct leg *l, void *buf, size_t len, size_t *n);

/*
 * Nothing is expected on L for now: give a TLS leg's record buffers back
 * (SSL_MODE_RELEASE_BUFFERS does not after a read that found nothing, so
 * every idle TLS leg would keep 16-64 KiB). No-op with bytes inside.
 */
void leg_idle(struct leg *l);

/* TLS only: OpenSSL holds bytes read from the socket but not yet returned
 * (decrypted data or the start of a record), which no event will announce. */
bool leg_pending(const struct leg *l);

/* Write up to LEN bytes from BUF; *N is what was written on LEG_OK. After
 * LEG_AGAIN the next call must pass the same bytes (at least as many). */
enum leg_res leg_write(struct leg *l, const void *buf, size_t len, size_t *n);

/* Finish sending: shutdown(SHUT_WR) or a TLS close_notify; sets l->shut. */
enum leg_res leg_shutdown(struct leg *l);

/* One step of the TLS handshake. */
enum leg_res leg_handshake(struct leg *l);

/* Called from the event callback: unblock what waited for WHAT. */
void leg_ready(struct leg *l, short what);

/* Add/remove the leg's events so that exactly WANT (EV_READ|EV_WRITE) is
 * watched. */
void leg_watch(struct leg *l, short want);

#endif
