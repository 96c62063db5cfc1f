/*
 * audit_syslog: the audit stream's collector sink. Records are RFC 5424
 * messages (MSG = the JSON record) sent with RFC 5425 octet counting over
 * TLS 1.3, with the sidecar's own certificate, to a collector verified
 * against the CA bundle and the expected DNS name.
 *
 * The data path never waits: audit_syslog_push() (any thread) only queues
 * the record and wakes the main thread, which owns the connection. Records
 * wait in memory (at most `queue`, those sent and not yet known delivered
 * included) and beyond that, or while older records are in the spool, go
 * to the spool file (spool.h); they are sent in the order they were made.
 * A full spool drops the record: counted, logged, exported.
 *
 * Delivery is at least once. A record counts as delivered when the
 * collector's TCP has acknowledged every byte sent (SIOCOUTQ 0) and one
 * more second has passed; when the connection breaks, every record not
 * delivered by that rule is sent again after reconnecting, so a record the
 * collector took in its last second may arrive twice (same "id").
 */
#ifndef COTAI_AUDIT_SYSLOG_H
#define COTAI_AUDIT_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"

struct audit_syslog;

/* Figures for /metrics. */
struct audit_syslog_stats {
	uint64_t delivered;
	uint64_t dropped;
	uint64_t memory; /* records in memory (queued and in flight) */
	uint64_t spool;  /* records in the spool */
	bool up;         /* connected to the collector */
};

/*
 * The sink for A (borrowed): the spool (opened here, before the sandbox)
 * and A's identity file names (the TLS context is built from them at each
 * connection). NULL on failure (logged).
 */
struct audit_syslog *audit_syslog_new(const struct config_audit *a);

/* Connect from BASE and keep connected. 0 or -1 (logged). */
int audit_syslog_start(struct audit_syslog *s, struct event_base *base);

/*
 * Queue the JSON record REC of LEN bytes (copied; no newline) with event
 * name EVENT as MSGID. Any thread; never blocks on the network.
 */
void audit_syslog_push(
    struct audit_syslog *s, const char *event, const char *rec, size_t len);

void audit_syslog_stats(struct audit_syslog *s, struct audit_syslog_stats *o);

/*
 * After a reload (main thread): verify the connected collector's
 * certificate again, against the identity's files as they are now (a new
 * CRL, a new bundle); a collector that fails (revoked, expired) is
 * disconnected, its unacknowledged records wait to be sent again, and the
 * next handshake is refused the same way until it passes.
 */
void audit_syslog_recheck(struct audit_syslog *s);

/* Stop; records not yet delivered are written to the spool. NULL ok. */
void audit_syslog_free(struct audit_syslog *s);

#endif
