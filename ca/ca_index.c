/*
 * ca_index: see ca_index.h.
 */
#include "ca_index.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca_key.h"
#include "ca_util.h"

#define CA_INDEX_HEADER "# cotai-ca index v1\n"
#define CA_INDEX_LINE_MAX (PATH_MAX + 512)

struct ca_index {
	struct ca_index_entry *v;
	size_t n;
	size_t cap;
};

static const struct {
	const char *name;
	int code;
} ca_index_reasons[] = {
    {"unspecified", 0},
    {"keyCompromise", 1},
    {"caCompromise", 2},
    {"affiliationChanged", 3},
    {"superseded", 4},
    {"cessationOfOperation", 5},
    {"privilegeWithdrawn", 9},
};
#define CA_INDEX_NREASONS                                                      \
	(sizeof(ca_index_reasons) / sizeof(ca_index_reasons[0]))

int
ca_index_reason_parse(const char *s, int *code)
{
	for (size_t i = 0; i < CA_INDEX_NREASONS; i++) {
		if (strcasecmp(s, ca_index_reasons[i].name) == 0) {
			*code = ca_index_reasons[i].code;
			return (0);
		}
	}
	return (-1);
}

const char *
ca_index_reason_name(int code)
{
	for (size_t i = 0; i < CA_INDEX_NREASONS; i++)
		if (ca_index_reasons[i].code == code)
			return (ca_index_reasons[i].name);
	return ("-");
}

struct ca_index *
ca_index_new(void)
{
	return (calloc(1, sizeof(struct ca_index)));
}

void
ca_index_free(struct ca_index *idx)
{
	if (idx == NULL)
		return;
	free(idx->v);
	free(idx);
}

size_t
ca_index_len(const struct ca_index *idx)
{
	return (idx->n);
}

struct ca_index_entry *
ca_index_at(struct ca_index *idx, size_t i)
{
	return (i < idx->n ? &idx->v[i] : NULL);
}

/* Is E well-formed? Returns NULL, or what is wrong with it. */
static const char *
ca_index_check(const struct ca_index_entry *e)
{
	size_t n = strlen(e->serial);

	if (e->status != CA_INDEX_VALID && e->status != CA_INDEX_SUPERSEDED &&
	    e->status != CA_INDEX_REVOKED)
		return ("bad status");
	if (n == 0 || n > 40 || strspn(e->serial, "0123456789ABCDEF") != n)
		return ("bad serial");
	if (e->not_before < 0 || e->not_after <= e->not_before)
		return ("bad validity");
	if (e->status == CA_INDEX_REVOKED
		? (e->revoked_at < 0 || e->reason < 0)
		: (e->revoked_at != -1 || e->reason != -1))
		return ("bad revocation fields");
	if (e->reason >= 0 && strcmp(ca_index_reason_name(e->reason), "-") == 0)
		return ("bad revocation reason");
	if (ca_key_type_known(e->key_type) != 0)
		return ("bad key type");
	if (ca_name_workload(e->name) != 0)
		return ("bad name");
	if (e->out_dir[0] != '/' || strchr(e->out_dir, '\n') != NULL)
		return ("bad output directory");
	return (NULL);
}

int
ca_index_add(struct ca_index *idx, const struct ca_index_entry *e)
{
	const char *why;

	if ((why = ca_index_check(e)) != NULL) {
		ca_util_err("index entry for %s: %s", e->name, why);
		return (-1);
	}
	if (idx->n == idx->cap) {
		size_t cap = idx->cap == 0 ? 16 : idx->cap * 2;
		struct ca_index_entry *v =
		    reallocarray(idx->v, cap, sizeof(*v));

		if (v == NULL) {
			ca_util_err("out of memory");
			return (-1);
		}
		idx->v = v;
		idx->cap = cap;
	}
	idx->v[idx->n++] = *e;
	return (0);
}

/* Parse a non-negative decimal, or "-" as -1 when DASH_OK. */
static int
ca_index_num(const char *s, int dash_ok, int64_t *out)
{
	char *end = NULL;
	long long v;

	if (dash_ok && strcmp(s, "-") == 0) {
		*out = -1;
		return (0);
	}
	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-1);
	*out = v;
	return (0);
}

/* Copy field S into DST of LEN bytes; -1 when it does not fit. */
static int
ca_index_copy(char *dst, size_t len, const char *s)
{
	if (strlen(s) >= len)
		return (-1);
	memcpy(dst, s, strlen(s) + 1);
	return (0);
}

/* Parse one line (without its newline) into E; NULL or what is wrong. */
static const char *
ca_index_parse_line(char *line, struct ca_index_entry *e)
{
	char *f[9], *p = line;
	int64_t reason;

	for (int i = 0; i < 8; i++) {
		char *sp = strchr(p, ' ');

		if (sp == NULL || sp == p)
			return ("too few fields");
		*sp = '\0';
		f[i] = p;
		p = sp + 1;
	}
	f[8] = p;
	memset(e, 0, sizeof(*e));
	if (strlen(f[0]) != 1)
		return ("bad status");
	e->status = f[0][0];
	if (ca_index_copy(e->serial, sizeof(e->serial), f[1]) != 0)
		return ("bad serial");
	if (ca_index_num(f[2], 0, &e->not_before) != 0 ||
	    ca_index_num(f[3], 0, &e->not_after) != 0 ||
	    ca_index_num(f[4], 1, &e->revoked_at) != 0)
		return ("bad time");
	if (strcmp(f[5], "-") == 0)
		reason = -1;
	else if (ca_index_reason_parse(f[5], &e->reason) != 0)
		return ("bad revocation reason");
	else
		reason = e->reason;
	e->reason = (int)reason;
	if (ca_index_copy(e->key_type, sizeof(e->key_type), f[6]) != 0 ||
	    ca_index_copy(e->name, sizeof(e->name), f[7]) != 0 ||
	    ca_index_copy(e->out_dir, sizeof(e->out_dir), f[8]) != 0)
		return ("field too long");
	return (ca_index_check(e));
}

struct ca_index *
ca_index_parse(const char *buf, size_t len)
{
	struct ca_index *idx = NULL;
	struct ca_index_entry e;
	char line[CA_INDEX_LINE_MAX];
	size_t pos = 0, lineno = 0;
	const char *why;

	if ((idx = ca_index_new()) == NULL) {
		ca_util_err("out of memory");
		return (NULL);
	}
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;

		lineno++;
		if (nl == NULL) {
			why = "no newline at the end";
			goto bad;
		}
		if (n >= sizeof(line) || memchr(buf + pos, '\0', n) != NULL) {
			why = "line too long or binary";
			goto bad;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (line[0] == '#')
			continue;
		if ((why = ca_index_parse_line(line, &e)) != NULL)
			goto bad;
		if (ca_index_add(idx, &e) != 0)
			goto err;
	}
	return (idx);
bad:
	ca_util_err("index line %zu: %s", lineno, why);
err:
	ca_index_free(idx);
	return (NULL);
}

int
ca_index_format(const struct ca_index *idx, BIO *b)
{
	char rev[24];

	if (BIO_puts(b, CA_INDEX_HEADER) <= 0)
		return (-1);
	for (size_t i = 0; i < idx->n; i++) {
		const struct ca_index_entry *e = &idx->v[i];

		if (e->revoked_at >= 0)
			snprintf(
			    rev, sizeof(rev), "%lld", (long long)e->revoked_at);
		else
			snprintf(rev, sizeof(rev), "-");
		if (BIO_printf(b, "%c %s %lld %lld %s %s %s %s %s\n", e->status,
			e->serial, (long long)e->not_before,
			(long long)e->not_after, rev,
			ca_index_reason_name(e->reason), e->key_type, e->name,
			e->out_dir) <= 0)
			return (-1);
	}
	return (0);
}

/* Compare serials ignoring case and leading zeros. */
static int
ca_index_serial_eq(const char *a, const char *b)
{
	while (*a == '0' && a[1] != '\0')
		a++;
	while (*b == '0' && b[1] != '\0')
		b++;
	return (strcasecmp(a, b) == 0);
}

struct ca_index_entry *
ca_index_find_serial(struct ca_index *idx, const char *hex)
{
	for (size_t i = 0; i < idx->n; i++)
		if (ca_index_serial_eq(idx->v[i].serial, hex))
			return (&idx->v[i]);
	return (NULL);
}

struct ca_index_entry *
ca_index_current(struct ca_index *idx, const char *name)
{
	for (size_t i = idx->n; i > 0; i--) {
		struct ca_index_entry *e = &idx->v[i - 1];

		if (e->status == CA_INDEX_VALID && strcmp(e->name, name) == 0)
			return (e);
	}
	return (NULL);
}
