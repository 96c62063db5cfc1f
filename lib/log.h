/*
 * log: structured, line-oriented logging shared by cotai-proxy and cotai-ca.
 *
 * Every line is one event with key/value fields, written with a single
 * write(2) to standard error, so lines from several threads never interleave.
 * The text format is "ts=... level=info event=close route=pg bytes=12", the
 * JSON format one object per line with the same keys.
 *
 * A record is built on the stack and never allocates:
 *
 *	struct log_rec r;
 *	if (log_begin(&r, LOG_L_INFO, "close")) {
 *		log_str(&r, "route", name);
 *		log_u64(&r, "bytes_in", n);
 *		log_end(&r);
 *	}
 *
 * For free-form messages use log_error()/log_warn()/log_info()/log_debug(),
 * which add func= (the calling function) and msg=; log_errno() adds err= from
 * errno and log_ssl() drains OpenSSL's error queue into ssl=.
 */
#ifndef COTAI_LOG_H
#define COTAI_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_L_DEBUG, LOG_L_INFO, LOG_L_WARN, LOG_L_ERROR };
enum log_format { LOG_F_TEXT, LOG_F_JSON };

#define LOG_REC_MAX 4096

struct log_rec {
	enum log_level level;
	bool json;
	bool truncated;
	size_t len;
	char buf[LOG_REC_MAX];
};

/* Set the program name, minimum level and format (before any thread starts). */
void log_setup(const char *prog, enum log_level min, enum log_format fmt);

/* Change the minimum level and format; safe while other threads log. */
void log_set(enum log_level min, enum log_format fmt);
enum log_level log_level_get(void);
enum log_format log_format_get(void);
const char *log_level_name(enum log_level level);

/* Parse "debug"/"info"/"warn"/"error" into *out; returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);

/* True when a record of this level would be written. */
bool log_enabled(enum log_level level);

/*
 * Start a record for EVENT; returns false (and the record must not be used)
 * when LEVEL is filtered out.
 */
bool log_begin(struct log_rec *r, enum log_level level, const char *event);
void log_str(struct log_rec *r, const char *key, const char *val);
void log_u64(struct log_rec *r, const char *key, uint64_t val);
void log_i64(struct log_rec *r, const char *key, int64_t val);
void log_bool(struct log_rec *r, const char *key, bool val);
void log_fmt(struct log_rec *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append every error on OpenSSL's queue (clearing it) as key. */
void log_ssl_errors(struct log_rec *r, const char *key);
/* Terminate the line and write it. */
void log_end(struct log_rec *r);

/*
 * Start a record that no level filters (the audit stream, proxy/audit/audit.h):
 * LEVEL is the name written as level=, JSON the format of this record.
 */
void log_begin_as(
    struct log_rec *r, bool json, const char *level, const char *event);
/*
 * Terminate the line in r->buf (r->len then counts the newline) without
 * writing it; log_end() is log_finish() and one write to standard error.
 */
void log_finish(struct log_rec *r);

/* Free-form message helpers; use the macros below. */
void log_message(enum log_level level, const char *func, int errnum, bool ssl,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_debug(...) log_message(LOG_L_DEBUG, __func__, 0, false, __VA_ARGS__)
#define log_info(...) log_message(LOG_L_INFO, __func__, 0, false, __VA_ARGS__)
#define log_warn(...) log_message(LOG_L_WARN, __func__, 0, false, __VA_ARGS__)
#define log_error(...) log_message(LOG_L_ERROR, __func__, 0, false, __VA_ARGS__)
/* An error with err=strerror(errno) appended. */
#define log_errno(...)                                                         \
	log_message(LOG_L_ERROR, __func__, errno, false, __VA_ARGS__)
/* An error with OpenSSL's error queue drained into ssl=. */
#define log_ssl(...) log_message(LOG_L_ERROR, __func__, 0, true, __VA_ARGS__)

#endif
