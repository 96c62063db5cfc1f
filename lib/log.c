/*
 * log: see log.h. Records are formatted into a fixed stack buffer; a value
 * that does not fit is cut and the record gets truncated=true. Text values
 * are quoted when they hold spaces, quotes, '=' or control characters; JSON
 * values are escaped per RFC 8259.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

static const char *log_prog = "cotai";
/* Atomic: a reload changes them while worker threads log. */
static _Atomic int log_min = LOG_L_INFO;
static _Atomic int log_format = LOG_F_TEXT;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

void
log_setup(const char *prog, enum log_level min, enum log_format fmt)
{
	if (prog != NULL)
		log_prog = prog;
	log_set(min, fmt);
}

void
log_set(enum log_level min, enum log_format fmt)
{
	atomic_store_explicit(&log_min, (int)min, memory_order_relaxed);
	atomic_store_explicit(&log_format, (int)fmt, memory_order_relaxed);
}

enum log_level
log_level_get(void)
{
	return ((enum log_level)atomic_load_explicit(
	    &log_min, memory_order_relaxed));
}

enum log_format
log_format_get(void)
{
	return ((enum log_format)atomic_load_explicit(
	    &log_format, memory_order_relaxed));
}

const char *
log_level_name(enum log_level level)
{
	return (log_names[level]);
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return (0);
		}
	}
	return (-1);
}

bool
log_enabled(enum log_level level)
{
	return (
	    (int)level >= atomic_load_explicit(&log_min, memory_order_relaxed));
}

/* Append raw bytes, keeping room for the line end. */
static void
log_raw(struct log_rec *r, const char *s, size_t n)
{
	size_t room = sizeof(r->buf) - 3 - r->len;

	if (n > room) {
		n = room;
		r->truncated = true;
	}
	memcpy(r->buf + r->len, s, n);
	r->len += n;
}

static void
log_rawc(struct log_rec *r, char c)
{
	log_raw(r, &c, 1);
}

static bool
log_needs_quotes(const char *v)
{
	if (*v == '\0')
		return (true);
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return (true);
	}
	return (false);
}

/* Append V escaped for the current format (quoted when needed). */
static void
log_value(struct log_rec *r, const char *v, bool quote)
{
	char esc[8];

	if (quote)
		log_rawc(r, '"');
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\') {
			log_rawc(r, '\\');
			log_rawc(r, (char)c);
		} else if (c == '\n') {
			log_raw(r, "\\n", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			log_raw(r, esc, strlen(esc));
		} else {
			log_rawc(r, (char)c);
		}
	}
	if (quote)
		log_rawc(r, '"');
}

static void
log_key(struct log_rec *r, const char *key)
{
	if (r->json) {
		log_raw(r, ",\"", 2);
		log_raw(r, key, strlen(key));
		log_raw(r, "\":", 2);
	} else {
		log_rawc(r, ' ');
		log_raw(r, key, strlen(key));
		log_rawc(r, '=');
	}
}

void
log_str(struct log_rec *r, const char *key, const char *val)
{
	if (val == NULL)
		val = "";
	log_key(r, key);
	log_value(r, val, r->json || log_needs_quotes(val));
}

/* A bare (unquoted) token: numbers and booleans. */
static void
log_token(struct log_rec *r, const char *key, const char *tok)
{
	log_key(r, key);
	log_raw(r, tok, strlen(tok));
}

void
log_u64(struct log_rec *r, const char *key, uint64_t val)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, val);
	log_token(r, key, b);
}

void
log_i64(struct log_rec *r, const char *key, int64_t val)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRId64, val);
	log_token(r, key, b);
}

void
log_bool(struct log_rec *r, const char *key, bool val)
{
	log_token(r, key, val ? "true" : "false");
}

void
log_fmt(struct log_rec *r, const char *key, const char *fmt, ...)
{
	char b[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	log_str(r, key, b);
}

void
log_ssl_errors(struct log_rec *r, const char *key)
{
	char all[1024], one[256];
	size_t len = 0;
	unsigned long e;

	all[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof(one));
		int n = snprintf(all + len, sizeof(all) - len, "%s%s",
		    len > 0 ? "; " : "", one);
		if (n < 0 || (size_t)n >= sizeof(all) - len)
			len = sizeof(all) - 1;
		else
			len += (size_t)n;
	}
	if (len > 0)
		log_str(r, key, all);
}

/* The timestamp, prog, level and event of a new record. */
static void
log_start(struct log_rec *r, bool json, const char *level, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char t[64];

	r->json = json;
	r->truncated = false;
	r->len = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(ts.tv_nsec / 1000000));
	if (r->json) {
		log_raw(r, "{\"ts\":\"", 7);
		log_raw(r, t, strlen(t));
		log_rawc(r, '"');
	} else {
		log_raw(r, "ts=", 3);
		log_raw(r, t, strlen(t));
	}
	log_str(r, "prog", log_prog);
	log_str(r, "level", level);
	log_str(r, "event", event);
}

bool
log_begin(struct log_rec *r, enum log_level level, const char *event)
{
	if (!log_enabled(level))
		return (false);
	r->level = level;
	log_start(r, log_format_get() == LOG_F_JSON, log_names[level], event);
	return (true);
}

void
log_begin_as(struct log_rec *r, bool json, const char *level, const char *event)
{
	r->level = LOG_L_ERROR;
	log_start(r, json, level, event);
}

void
log_finish(struct log_rec *r)
{
	if (r->truncated) {
		/* Make room for the marker by dropping the tail if needed. */
		if (r->len > sizeof(r->buf) - 40)
			r->len = sizeof(r->buf) - 40;
		r->truncated = false;
		log_bool(r, "truncated", true);
	}
	if (r->json)
		r->buf[r->len++] = '}';
	r->buf[r->len++] = '\n';
}

void
log_end(struct log_rec *r)
{
	ssize_t n;
	size_t off = 0;

	log_finish(r);
	while (off < r->len) {
		n = write(STDERR_FILENO, r->buf + off, r->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
}

void
log_message(enum log_level level, const char *func, int errnum, bool ssl,
    const char *fmt, ...)
{
	struct log_rec r;
	char msg[1024];
	va_list ap;

	if (!log_begin(&r, level, "message")) {
		if (ssl)
			ERR_clear_error();
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_str(&r, "func", func);
	log_str(&r, "msg", msg);
	if (errnum != 0)
		log_str(&r, "err", strerror(errnum));
	if (ssl)
		log_ssl_errors(&r, "ssl");
	log_end(&r);
}
