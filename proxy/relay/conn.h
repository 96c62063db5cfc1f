/*
 * conn: one proxied connection, from accept() to its audit line. See the
 * state diagram at the top of conn.c.
 */
#ifndef COTAI_CONN_H
#define COTAI_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn_table.h"
#include "reason.h"
#include "route.h"

struct conn;

/*
 * Take FD, just accepted on route R (a reference to R is taken) by the
 * worker of table T, and run the connection on T's event base. FD is
 * always consumed: on any failure it is closed and the audit line written.
 */
void conn_accept(struct conn_table *t, struct route *r, int fd,
    const struct sockaddr *sa, socklen_t salen);

/* Monotonic milliseconds (coarse clock). */
uint64_t conn_now(void);

struct mux_stream;
struct tls_peer;

/*
 * Terminate: the tunnel of table T on route R (borrowed) accepted stream
 * S, whose peer is TPEER (shared: the conn takes its own reference) at
 * CLIENT. Run it as a connection: ok, to the target of the route its
 * CONNECT names, else closed at once with reason protocol (VALID false)
 * or identity_not_allowed (the route's allow does not admit the peer).
 */
void
conn_mux_accept(struct conn_table *t, struct route *r, struct mux_stream *s,
    struct tls_peer *tpeer, const char *client, bool valid);

/*
 * Poll SSL for a new session ticket for P's cache (tls_peer_poll) and,
 * when one came, let connections wait for tickets again on that route
 * (conn_resume.c). For connections and originate tunnels alike.
 */
void conn_ticket_poll(SSL *ssl, struct tls_peer *p);

/*
 * conn_table.c hands these to the state machine (conn.c), which takes
 * each to the step its state calls for: the sweep of relay deadlines
 * (every CONN_SWEEP_MS; a relaying connection has no timer of its own:
 * 128 bytes less each), the pumps that stopped early for fairness, a
 * reload (conn_table_reload), a drain.
 */
#define CONN_SWEEP_MS 500

/* Close C now with reason WHY (drain): writes the audit line and frees
 * C. Call from C's worker thread only. */
void conn_drop(struct conn *c, enum reason why);

#endif
