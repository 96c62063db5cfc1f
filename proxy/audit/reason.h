/*
 * reason: why a connection ended, as one enum shared by the audit line, the
 * per-route counters and the TLS verification code. The names are the
 * strings written as reason= in the audit line; keep them stable, tests and
 * dashboards match on them.
 */
#ifndef COTAI_REASON_H
#define COTAI_REASON_H

enum reason {
	REASON_NONE,                  /* still open, or no failure recorded */
	REASON_EOF,                   /* both directions finished cleanly */
	REASON_IDLE_TIMEOUT,          /* no bytes either way for idle_ms */
	REASON_CONNECT_TIMEOUT,       /* upstream connect took too long */
	REASON_HANDSHAKE_TIMEOUT,     /* TLS handshake took too long */
	REASON_HALFCLOSE_TIMEOUT,     /* one direction done, other idle */
	REASON_TLS_ERROR,             /* any other TLS failure */
	REASON_NO_CLIENT_CERT,        /* terminate: peer sent no certificate */
	REASON_TLS_VERSION,           /* protocol version not allowed */
	REASON_UNKNOWN_CA,            /* chain does not lead to our CA */
	REASON_CERT_EXPIRED,          /* peer certificate expired */
	REASON_CERT_NOT_YET_VALID,    /* peer certificate not yet valid */
	REASON_CERT_REVOKED,          /* peer certificate on the CRL */
	REASON_BAD_CERT,              /* any other verification failure */
	REASON_IDENTITY_NOT_ALLOWED,  /* terminate: peer not in allow */
	REASON_IDENTITY_NOT_EXPECTED, /* originate: server not in expect */
	REASON_UPSTREAM_REFUSED,      /* upstream answered with RST */
	REASON_UPSTREAM_UNREACHABLE,  /* no route, unresolvable, ... */
	REASON_RESET,                 /* read/write error on an open leg */
	REASON_LIMIT,                 /* max_connections reached */
	REASON_DRAIN,                 /* shutdown deadline passed */
	REASON_INTERNAL,              /* out of memory and the like */
	REASON_PROTOCOL,              /* postgres: malformed startup packet */
	REASON_ROLE_NOT_ALLOWED,      /* postgres: user/database not in roles */
	REASON_UPSTREAM_NO_TLS,       /* postgres: server did not answer 'S' */
	REASON_REVOKED_AFTER_RELOAD,  /* peer on the CRL loaded by a reload */
	REASON_EXPIRED_AFTER_RELOAD,  /* peer certificate expired, seen then */
	REASON_NOT_ALLOWED_AFTER_RELOAD, /* peer fails the reloaded route */
	REASON_HANDSHAKE_SHED, /* oldest pending handshake, over cap */
	REASON__N
};

/* The stable lower-case name of R ("eof", "idle_timeout", ...). */
const char *reason_name(enum reason r);

#endif
