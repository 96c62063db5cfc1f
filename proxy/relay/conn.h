/*
 * conn: one proxied connection, from accept() to its audit line. See the
 * state diagram at the top of conn.c.
 */
#ifndef COTAI_CONN_H
#define COTAI_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "reason.h"
#include "route.h"
#include "worker.h"

struct conn;

/*
 * Take FD, just accepted by worker W on route R (a reference to R is taken),
 * and run the connection on W's event base. FD is always consumed: on any
 * failure it is closed and the audit line written.
 */
void conn_accept(struct worker *w, struct route *r, int fd,
    const struct sockaddr *sa, socklen_t salen);

/* Monotonic milliseconds (coarse clock). */
uint64_t conn_now(void);

struct mux_stream;
struct tls_peer;

/*
 * Terminate: the tunnel of worker W on route R (borrowed) accepted stream
 * S, whose peer is TPEER (shared: the conn takes its own reference) at
 * CLIENT. Run it as a connection: ok, to the target of the route its
 * CONNECT names, else closed at once with reason protocol (VALID false)
 * or identity_not_allowed (the route's allow does not admit the peer).
 */
void conn_mux_accept(struct worker *w, struct route *r, struct mux_stream *s,
    struct tls_peer *tpeer, const char *client, bool valid);

/*
 * Every CONN_SWEEP_MS, in W's thread: close W's relaying connections past
 * their idle or half-close deadline (a relaying connection has no timer
 * of its own: 128 bytes less each).
 */
#define CONN_SWEEP_MS 500
void conn_sweep(struct worker *w);

/* W's ev_more fired: run the pumps that stopped early for fairness. */
void conn_more_run(struct worker *w);

/* Close C now with reason WHY (drain, reload): writes the audit line and
 * frees C. Call from C's worker thread only. */
void conn_drop(struct conn *c, enum reason why);

/*
 * After a reload, in W's thread, for each of W's connections: forget the
 * worker's session cache and, when RECHECK, close it (audit reason
 * *_after_reload) if its peer's certificate no longer passes the new route
 * of the same name among ROUTES[0..N) (revoked by a new CRL, expired, no
 * longer in allow/expect).
 */
void conn_reload_all(
    struct worker *w, struct route *const *routes, size_t n, bool recheck);

#endif
