/*
 * leg: one side of a proxied connection behind one small set of
 * non-blocking operations, a table per kind of transport (as redis's
 * connection.h has one per connection type):
 *
 *   tcp     a plain socket (TCP or unix), read(2) and send(2)
 *   tls     TLS over that socket: the kind of a socket leg with an SSL
 *   stream  no socket: an HTTP/2 stream of a tunnel, whose table (and
 *           state, l->ms) the layer above provides (mux_stream.c)
 *
 * A socket leg is tcp or tls by l->ssl alone (the SSL comes from tls.c
 * and the leg owns it); a leg with l->ops set is of that kind instead.
 *
 * Every operation returns LEG_OK, LEG_AGAIN (nothing done; the operation
 * is blocked until the event stored in rd_block or wr_block fires: TLS may
 * need EV_WRITE to read and EV_READ to write), LEG_EOF (read only: the
 * peer finished sending, TCP FIN or TLS close_notify) or LEG_ERR.
 *
 * A leg owns its fd and its SSL; leg_clear() frees them. Its one event
 * lives in storage the caller provides (a connection holds its legs' and
 * timer's events in its own allocation), watching EV_READ, EV_WRITE, both
 * or nothing as leg_watch() says.
 */
#ifndef COTAI_LEG_H
#define COTAI_LEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

enum leg_res { LEG_OK, LEG_AGAIN, LEG_EOF, LEG_ERR };

/*
 * Event priorities of a worker's base (event_base_priority_init with
 * LEG_PRIOS; an event starts at LEG_PRIO_NORMAL, the middle one). A leg
 * of a connection that moves bulk data runs at LEG_PRIO_BULK: the loop
 * runs every ready NORMAL event before any BULK one and polls again after
 * each BULK callback, so a small message on another connection (or
 * stream) waits for at most one bulk step, not for a whole round of them.
 */
#define LEG_PRIOS 3
#define LEG_PRIO_NORMAL 1
#define LEG_PRIO_BULK 2

struct leg;
struct mux_stream;

/*
 * The operations of one kind of leg (see leg_read() and the others below
 * for what each does; pending and idle may be NULL: never any, nothing to
 * give back). clear releases what the kind holds (its socket, SSL or
 * stream) once the leg's event is off the loop; ABORT: see leg_clear().
 */
struct leg_ops {
	enum leg_res (*read)(struct leg *l, void *buf, size_t len, size_t *n);
	enum leg_res (*peek)(struct leg *l, void *buf, size_t len, size_t *n);
	enum leg_res (*write)(
	    struct leg *l, const void *buf, size_t len, size_t *n);
	enum leg_res (*shutdown)(struct leg *l);
	void (*watch)(struct leg *l, short want);
	bool (*pending)(const struct leg *l);
	void (*idle)(struct leg *l);
	void (*clear)(struct leg *l, bool abort);
	/* Optional (a stream's: its buffers are in memory): the pump uses
	 * them in place instead of copying through its own buffer; see
	 * leg_rview() and leg_wspace(). */
	enum leg_res (*rview)(struct leg *l, const void **p, size_t *n);
	void (*rtake)(struct leg *l, size_t n);
	enum leg_res (*wspace)(struct leg *l, void **p, size_t *n);
	void (*wput)(struct leg *l, size_t n);
};

struct leg {
	int fd;           /* -1 when not open */
	SSL *ssl;         /* NULL for a plaintext leg */
	struct event *ev; /* borrowed storage, EV_PERSIST on fd; NULL if none */
	short armed;      /* what ev watches now (EV_READ|EV_WRITE) */
	short rd_block;   /* 0 = may read now, else the event awaited */
	short wr_block;   /* 0 = may write now, else the event awaited */
	bool eof;         /* the peer finished sending */
	bool shut;        /* we finished sending (FIN / close_notify) */
	int err;          /* errno of the last LEG_ERR, 0 for a TLS error */
	unsigned long tls_err; /* OpenSSL's code for a TLS LEG_ERR, or 0 */
	uint64_t bytes_in;     /* application bytes read */
	uint64_t bytes_out;    /* application bytes written */
	/* Another kind than a socket's (NULL: tcp, or tls with ssl): a
	 * stream leg's table and its stream, owned by that layer (mux.h);
	 * no fd, no SSL. */
	const struct leg_ops *ops;
	struct mux_stream *ms;
	bool bulk; /* ev runs at LEG_PRIO_BULK (leg_set_bulk) */
};

/* A closed leg (fd -1, no event): a socket leg until OPS are set. */
void leg_init(struct leg *l);

/*
 * Take FD (non-blocking) and set up the leg's event in EV (storage of
 * event_get_struct_event_size() bytes, borrowed until leg_clear()) on
 * BASE, calling CB with ARG; it watches nothing until leg_watch().
 */
void leg_open(struct leg *l, struct event *ev, struct event_base *base, int fd,
    event_callback_fn cb, void *arg);

/* Take the event off the loop, free the SSL, close the fd (a stream leg:
 * end its stream); idempotent. When ABORT, a TCP leg is reset (SO_LINGER
 * 0) instead of closed with a FIN. The leg is a closed socket leg after. */
void leg_clear(struct leg *l, bool abort);

/* The text of L's last LEG_ERR ("out of memory" for ENOMEM), in BUF. */
const char *leg_detail(const struct leg *l, char *buf, size_t len);

/* Read up to LEN bytes into BUF; *N is what was read on LEG_OK. */
enum leg_res leg_read(struct leg *l, void *buf, size_t len, size_t *n);

/*
 * Copy up to LEN bytes that a read would return into BUF without taking
 * them (MSG_PEEK, SSL_peek); *N on LEG_OK. LEG_AGAIN when nothing is there
 * yet (l->rd_block says what to wait for), LEG_EOF when the peer finished
 * sending and nothing is left. Not counted in bytes_in.
 */
enum leg_res leg_peek(struct leg *l, void *buf, size_t len, size_t *n);

/*
 * Nothing is expected on L for now: give a TLS leg's record buffers back
 * (SSL_MODE_RELEASE_BUFFERS does not after a read that found nothing, so
 * every idle TLS leg would keep 16-64 KiB). No-op with bytes inside.
 */
void leg_idle(struct leg *l);

/* TLS only: OpenSSL holds bytes read from the socket but not yet returned
 * (decrypted data or the start of a record), which no event will announce. */
bool leg_pending(const struct leg *l);

/*
 * Reading in place (legs whose kind has rview, leg_can_rview()): *P and *N
 * are the bytes a read would return now (LEG_OK, *N > 0), valid until the
 * next operation on L; leg_rtake() then takes the first N of them, as a
 * read would have (counted in bytes_in). Other results as leg_read().
 */
bool leg_can_rview(const struct leg *l);
enum leg_res leg_rview(struct leg *l, const void **p, size_t *n);
void leg_rtake(struct leg *l, size_t n);

/*
 * Writing in place (leg_can_wspace()): *P and *N are where the next write
 * would put its bytes (LEG_OK, *N > 0), LEG_AGAIN when there is no room
 * (l->wr_block says what to wait for), LEG_ERR as leg_write(); after
 * filling the first N bytes, leg_wput() queues them as a write of them
 * would have (counted in bytes_out); leg_wput(L, 0) after a leg_wspace()
 * that was not used (the source had nothing), so an idle leg holds no
 * buffer.
 */
bool leg_can_wspace(const struct leg *l);
enum leg_res leg_wspace(struct leg *l, void **p, size_t *n);
void leg_wput(struct leg *l, size_t n);

/* Write up to LEN bytes from BUF; *N is what was written on LEG_OK. After
 * LEG_AGAIN the next call must pass the same bytes (at least as many). */
enum leg_res leg_write(struct leg *l, const void *buf, size_t len, size_t *n);

/* Finish sending: shutdown(SHUT_WR) or a TLS close_notify; sets l->shut. */
enum leg_res leg_shutdown(struct leg *l);

/* One step of the TLS handshake. */
enum leg_res leg_handshake(struct leg *l);

/* Called from the event callback: unblock what waited for WHAT. */
void leg_ready(struct leg *l, short what);

/* Watch exactly WANT (EV_READ|EV_WRITE, or 0) on the leg's event. */
void leg_watch(struct leg *l, short want);

/*
 * Run the leg's event at LEG_PRIO_BULK (BULK) or LEG_PRIO_NORMAL. An event
 * that is active now keeps its priority until its callback has run (the
 * next leg_watch() or leg_set_bulk() applies it).
 */
void leg_set_bulk(struct leg *l, bool bulk);

/*
 * A new event base for legs: LEG_PRIOS priorities, and after each
 * callback at LEG_PRIO_BULK the loop polls again. NULL on failure.
 */
struct event_base *leg_base_new(void);

#endif
