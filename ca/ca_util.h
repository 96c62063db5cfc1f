/*
 * ca_util: the small things every cotai-ca module shares: the one-line
 * error format ("cotai-ca: VERB: what went wrong"), the clock (with the
 * test-only COTAI_CA_NOW override) and time conversions.
 */
#ifndef COTAI_CA_UTIL_H
#define COTAI_CA_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/asn1.h>

/* Buffer size for ca_util_fmt_time(): "2026-11-28T06:20:17Z". */
#define CA_UTIL_TIME_LEN 32

/* Set the verb named in error lines (a static string; NULL for none). */
void ca_util_set_verb(const char *verb);

/* Print "cotai-ca: VERB: MSG" on standard error. */
void ca_util_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Like ca_util_err() with ": REASON" appended from OpenSSL's error queue
 * (its most recent entry); the queue is cleared.
 */
void
ca_util_err_ssl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Read the test-only clock override COTAI_CA_NOW (unix seconds) once;
 * returns 0, or -1 when it is set but malformed.
 */
int ca_util_clock_init(void);

/* Now, in unix seconds: COTAI_CA_NOW when set, else the real clock. */
int64_t ca_util_now(void);

/* Format T as ISO 8601 UTC into BUF (CA_UTIL_TIME_LEN); returns BUF. */
char *ca_util_fmt_time(int64_t t, char *buf);

/* Convert an ASN1_TIME to unix seconds; returns 0 or -1. */
int ca_util_asn1_time(const ASN1_TIME *t, int64_t *out);

#endif
