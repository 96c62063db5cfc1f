/*
 * ca_util: see ca_util.h.
 */
#include "ca_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

static const char *ca_util_verb;
static int64_t ca_util_fixed_now = -1;

void
ca_util_set_verb(const char *verb)
{
	ca_util_verb = verb;
}

static void
ca_util_verr(const char *extra, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (ca_util_verb != NULL)
		fprintf(stderr, "cotai-ca: %s: %s%s%s\n", ca_util_verb, msg,
		    extra != NULL ? ": " : "", extra != NULL ? extra : "");
	else
		fprintf(stderr, "cotai-ca: %s%s%s\n", msg,
		    extra != NULL ? ": " : "", extra != NULL ? extra : "");
}

void
ca_util_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ca_util_verr(NULL, fmt, ap);
	va_end(ap);
}

void
ca_util_err_ssl(const char *fmt, ...)
{
	char reason[256] = "unknown OpenSSL error";
	unsigned long e;
	va_list ap;

	if ((e = ERR_peek_last_error()) != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	va_start(ap, fmt);
	ca_util_verr(reason, fmt, ap);
	va_end(ap);
}

int
ca_util_clock_init(void)
{
	const char *s = getenv("COTAI_CA_NOW");
	char *end = NULL;
	long long v;

	if (s == NULL || *s == '\0')
		return (0);
	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 253402300799LL)
		return (-1);
	ca_util_fixed_now = v;
	return (0);
}

int64_t
ca_util_now(void)
{
	if (ca_util_fixed_now >= 0)
		return (ca_util_fixed_now);
	return ((int64_t)time(NULL));
}

char *
ca_util_fmt_time(int64_t t, char *buf)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, CA_UTIL_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, CA_UTIL_TIME_LEN, "@%lld", (long long)t);
	return (buf);
}

int
ca_util_asn1_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return (-1);
	*out = (int64_t)timegm(&tm);
	return (0);
}
