/*
 * listener: listening sockets. Binding is separate from accepting so that
 * the main thread can bind every socket (as root if need be) before the
 * workers exist; each worker then wraps its sockets in listeners on its
 * own event base and hands every accepted socket to conn_accept().
 */
#ifndef COTAI_LISTENER_H
#define COTAI_LISTENER_H

#include <stddef.h>

#include <event2/event.h>

#include "config.h"
#include "route.h"

struct listener;
struct worker;

/*
 * Bind and listen on A. For TCP, PORT (when not NULL) replaces A's port
 * (workers bind the port the first one got when A's port is 0) and
 * SO_REUSEPORT is set. A unix socket path left over by a previous run is
 * removed first. Returns a non-blocking socket the caller owns, or -1
 * (logged).
 */
int listener_bind(const struct config_addr *a, const char *port);

/* What FD (bound for A) is bound to, as "HOST:PORT" or "unix:/path". */
int listener_name(int fd, const struct config_addr *a, char *buf, size_t len);

/* The port FD is bound to, as a decimal string in BUF. */
int listener_port(int fd, char *buf, size_t len);

/*
 * Accept on FD (consumed, also on failure) on BASE, worker W's, for route
 * R (all borrowed, must outlive the listener). Returns NULL on failure,
 * logged.
 */
struct listener *listener_new(
    struct worker *w, struct event_base *base, struct route *r, int fd);

/* From now on, hand accepted sockets to route R (borrowed, as above). */
void listener_set_route(struct listener *l, struct route *r);

/* Stop accepting and close the socket; NULL-safe. */
void listener_free(struct listener *l);

#endif
