/*
 * audit: see audit.h. Each record gets "v" (the schema version) and "id"
 * (this process's random boot tag and a sequence number), so a collector
 * can tell a record sent twice (audit_syslog.h) from two records.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/x509.h>

#include "audit_syslog.h"

static struct {
	bool to_stderr;
	int fd; /* the file sink, -1 = none */
	struct audit_syslog *sl;
	char boot[17];
	atomic_uint_fast64_t seq;
	atomic_uint_fast64_t n_stderr;
	atomic_uint_fast64_t n_file;
	atomic_uint_fast64_t file_errors;
} au = {.to_stderr = true, .fd = -1};

/* The boot tag: 8 random bytes in hex, made once. */
static void
audit_boot_tag(void)
{
	unsigned char b[8];

	if (au.boot[0] != '\0')
		return;
	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(au.boot + 2 * i, 3, "%02x", b[i]);
}

int
audit_setup(const struct config_audit *a)
{
	audit_boot_tag();
	au.to_stderr = a->to_stderr;
	if (a->file != NULL) {
		au.fd = open(a->file,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		if (au.fd < 0) {
			log_errno("audit.file %s", a->file);
			return (-1);
		}
	}
	if (a->target.text != NULL && (au.sl = audit_syslog_new(a)) == NULL)
		return (-1);
	return (0);
}

int
audit_start(struct event_base *base)
{
	if (au.sl == NULL)
		return (0);
	return (audit_syslog_start(au.sl, base));
}

void
audit_recheck(void)
{
	if (au.sl != NULL)
		audit_syslog_recheck(au.sl);
}

void
audit_shutdown(void)
{
	audit_syslog_free(au.sl);
	au.sl = NULL;
	if (au.fd >= 0)
		close(au.fd);
	au.fd = -1;
}

void
audit_begin(struct audit_rec *a, const char *event)
{
	bool json_log = log_format_get() == LOG_F_JSON;
	char id[40];

	audit_boot_tag();
	a->event = event;
	a->want_text = au.to_stderr && !json_log;
	a->want_json =
	    (au.to_stderr && json_log) || au.fd >= 0 || au.sl != NULL;
	snprintf(id, sizeof(id), "%s-%" PRIuFAST64, au.boot,
	    atomic_fetch_add_explicit(&au.seq, 1, memory_order_relaxed) + 1);
	if (a->want_json) {
		log_begin_as(&a->json, true, "audit", event);
		log_u64(&a->json, "v", AUDIT_SCHEMA_VERSION);
		log_str(&a->json, "id", id);
	}
	if (a->want_text) {
		log_begin_as(&a->text, false, "audit", event);
		log_u64(&a->text, "v", AUDIT_SCHEMA_VERSION);
		log_str(&a->text, "id", id);
	}
}

void
audit_str(struct audit_rec *a, const char *key, const char *val)
{
	if (a->want_json)
		log_str(&a->json, key, val);
	if (a->want_text)
		log_str(&a->text, key, val);
}

void
audit_u64(struct audit_rec *a, const char *key, uint64_t val)
{
	if (a->want_json)
		log_u64(&a->json, key, val);
	if (a->want_text)
		log_u64(&a->text, key, val);
}

void
audit_bool(struct audit_rec *a, const char *key, bool val)
{
	if (a->want_json)
		log_bool(&a->json, key, val);
	if (a->want_text)
		log_bool(&a->text, key, val);
}

/* One write(2) of the whole line; 0 or -1. */
static int
audit_write(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return (-1);
		p += k;
		n -= (size_t)k;
	}
	return (0);
}

void
audit_end(struct audit_rec *a)
{
	if (a->want_json)
		log_finish(&a->json);
	if (a->want_text)
		log_finish(&a->text);
	if (au.to_stderr) {
		const struct log_rec *r = a->want_text ? &a->text : &a->json;
		if (audit_write(STDERR_FILENO, r->buf, r->len) == 0)
			atomic_fetch_add_explicit(
			    &au.n_stderr, 1, memory_order_relaxed);
	}
	if (au.fd >= 0) {
		if (audit_write(au.fd, a->json.buf, a->json.len) == 0)
			atomic_fetch_add_explicit(
			    &au.n_file, 1, memory_order_relaxed);
		else if (atomic_fetch_add_explicit(
			     &au.file_errors, 1, memory_order_relaxed) == 0)
			log_errno("audit.file: write");
	}
	if (au.sl != NULL) {
		audit_syslog_push(
		    au.sl, a->event, a->json.buf, a->json.len - 1);
	}
}

void
audit_ctx_serial(const SSL_CTX *ctx, char *buf, size_t len)
{
	X509 *x = ctx != NULL ? SSL_CTX_get0_certificate(ctx) : NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;

	snprintf(buf, len, "-");
	if (x == NULL ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
		NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		BN_free(bn);
		return;
	}
	snprintf(buf, len, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
}

void
audit_metrics(struct evbuffer *out)
{
	struct audit_syslog_stats st;

	memset(&st, 0, sizeof(st));
	if (au.sl != NULL)
		audit_syslog_stats(au.sl, &st);
	evbuffer_add_printf(out,
	    "# HELP cotai_audit_records_total Audit records written (stderr, "
	    "file) or delivered (syslog), by sink.\n"
	    "# TYPE cotai_audit_records_total counter\n"
	    "cotai_audit_records_total{sink=\"stderr\"} %llu\n"
	    "cotai_audit_records_total{sink=\"file\"} %llu\n"
	    "cotai_audit_records_total{sink=\"syslog\"} %llu\n",
	    (unsigned long long)atomic_load(&au.n_stderr),
	    (unsigned long long)atomic_load(&au.n_file),
	    (unsigned long long)st.delivered);
	evbuffer_add_printf(out,
	    "# HELP cotai_audit_records_dropped_total Audit records lost: "
	    "the collector's spool was full, or a sink failed to write.\n"
	    "# TYPE cotai_audit_records_dropped_total counter\n"
	    "cotai_audit_records_dropped_total %llu\n",
	    (unsigned long long)(st.dropped + atomic_load(&au.file_errors)));
	evbuffer_add_printf(out,
	    "# HELP cotai_audit_queue_depth Audit records waiting for the "
	    "collector, in memory and in the spool file.\n"
	    "# TYPE cotai_audit_queue_depth gauge\n"
	    "cotai_audit_queue_depth{where=\"memory\"} %llu\n"
	    "cotai_audit_queue_depth{where=\"spool\"} %llu\n"
	    "# HELP cotai_audit_collector_up 1 while connected to the audit "
	    "collector.\n"
	    "# TYPE cotai_audit_collector_up gauge\n"
	    "cotai_audit_collector_up %d\n",
	    (unsigned long long)st.memory, (unsigned long long)st.spool,
	    st.up ? 1 : 0);
}
