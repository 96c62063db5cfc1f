/*
 * audit: the audit stream. Audit records are not log messages: no log
 * level filters them, and each goes to every configured sink (key `audit`,
 * config/README.md): standard error (in the log's format, so the container
 * log stays one format), a file (JSON lines, appended) and a syslog
 * collector over mutual TLS (audit_syslog.h). The JSON schema (version
 * field "v") is documented in config/README.md, "Audit records".
 *
 * Build a record like a log record (no allocation, any thread):
 *
 *	struct audit_rec a;
 *	audit_begin(&a, "close");
 *	audit_str(&a, "route", name);
 *	audit_end(&a);
 *
 * The stream is process-wide: audit_setup() once before the threads start
 * (it opens the file and the spool, so before the sandbox), audit_start()
 * on the main thread's event base, audit_shutdown() after the threads end.
 * Without audit_setup() records go to standard error only.
 */
#ifndef COTAI_AUDIT_H
#define COTAI_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"

/* The schema version written as "v"; bump only for incompatible changes. */
#define AUDIT_SCHEMA_VERSION 1

struct audit_rec {
	struct log_rec json; /* file and syslog sinks, and stderr in JSON */
	struct log_rec text; /* stderr when the log format is text */
	bool want_json;
	bool want_text;
	const char *event; /* borrowed from audit_begin()'s caller */
};

/* Open the sinks of A (borrowed). 0 or -1 (logged). */
int audit_setup(const struct config_audit *a);

/* Start the collector connection on BASE (the main thread's). 0 or -1. */
int audit_start(struct event_base *base);

/* Close the sinks; records not delivered yet go to the spool. */
void audit_shutdown(void);

/* After a reload: the collector sink checks its collector again
 * (audit_syslog_recheck). Main thread. */
void audit_recheck(void);

void audit_begin(struct audit_rec *a, const char *event);
void audit_str(struct audit_rec *a, const char *key, const char *val);
void audit_u64(struct audit_rec *a, const char *key, uint64_t val);
void audit_bool(struct audit_rec *a, const char *key, bool val);
/* Write the record to every sink. */
void audit_end(struct audit_rec *a);

/* The serial (hex) of the certificate CTX presents, or "-". */
void audit_ctx_serial(const SSL_CTX *ctx, char *buf, size_t len);

/* Append the cotai_audit_* metrics to OUT. */
void audit_metrics(struct evbuffer *out);

#endif
