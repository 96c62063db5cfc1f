/*
 * fuzz_ca_name: cotai-ca's name checks (ca/ca_name.c) and duration parsing
 * (lib/duration.c) on arbitrary strings.
 *
 * The input is split at its first NUL into A and B. A goes through every
 * name check, compared with a checker written from ca_name.h, and through
 * duration_parse_ms() (parse(format(x)) == x; a parse under a limit is a
 * parse without one plus the limit). "spiffe://A/B" is built with
 * ca_name_spiffe_id() and split again; whatever cotai-ca accepts as a
 * SPIFFE ID must also be valid in the one grammar (lib/spiffe.h).
 * Output buffers are heap blocks of data-derived size, so that ASan catches
 * a write past them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "spiffe.h"
#include "ca_name.h"
#include "duration.h"

static bool
alnum(char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
}

/*
 * Reference label check from ca_name.h: labels separated by '.', each 1-63
 * characters of [a-z0-9-] (and EXTRA) starting and ending with [a-z0-9],
 * MAX characters in all.
 */
static bool
ref_labels(const char *s, size_t max, char extra)
{
	size_t len = strlen(s);
	const char *p = s;

	if (len == 0 || len > max)
		return (false);
	for (;;) {
		size_t n = strcspn(p, ".");

		if (n == 0 || n > 63 || !alnum(p[0]) || !alnum(p[n - 1]))
			return (false);
		for (size_t i = 0; i < n; i++) {
			if (!alnum(p[i]) && p[i] != '-' &&
			    (extra == '\0' || p[i] != extra))
				return (false);
		}
		if (p[n] == '\0')
			return (true);
		p += n + 1;
	}
}

/* Name checks on S against the reference. */
static void
check_names(const char *s)
{
	bool w = ref_labels(s, CA_NAME_MAX, '\0');
	bool td = ref_labels(s, CA_NAME_TD_MAX, '_');

	CHECK((ca_name_workload(s) == 0) == w);
	CHECK((ca_name_dns(s) == 0) == w);
	CHECK((ca_name_trust_domain(s) == 0) == td);
	CHECK(ca_name_ip(s) == 0 || ca_name_ip(s) == -1);
}

/* Split ID (a heap copy of the input) as the CA would. */
static void
check_parse(const char *id)
{
	struct spiffe_id p;
	char td[CA_NAME_TD_MAX + 1];

	if (spiffe_parse(id, SPIFFE_NEED_PATH, &p, NULL) == 0) {
		CHECK(p.tdlen > 0 && p.tdlen <= CA_NAME_TD_MAX);
		memcpy(td, p.td, p.tdlen);
		td[p.tdlen] = '\0';
		CHECK(strncmp(id, "spiffe://", 9) == 0);
		CHECK(p.td == id + 9 && id[9 + p.tdlen] == '/');
		CHECK(p.path == id + 9 + p.tdlen + 1 && p.path[0] != '\0');
		CHECK(spiffe_valid(id));
		/* The CA's trust domains are a subset of the grammar's. */
		if (ca_name_trust_domain(td) == 0)
			CHECK(spiffe_td_check(td, p.tdlen, NULL) == 0);
	}
}

/* Build "spiffe://TD/NAME" into a LEN-byte heap block and split it again. */
static void
check_spiffe_id(const char *td, const char *name, size_t len)
{
	char *buf = malloc(len > 0 ? len : 1);
	struct spiffe_id p;
	size_t want = 9 + strlen(td) + 1 + strlen(name);
	int rc;

	CHECK(buf != NULL);
	rc = ca_name_spiffe_id(td, name, buf, len);
	if (ca_name_trust_domain(td) != 0 || ca_name_workload(name) != 0 ||
	    want >= len)
		CHECK(rc == -1);
	else {
		CHECK(rc == 0 && strlen(buf) == want);
		CHECK(spiffe_valid(buf));
		CHECK(spiffe_parse(buf, SPIFFE_NEED_PATH, &p, NULL) == 0);
		CHECK(p.tdlen == strlen(td) && strncmp(p.td, td, p.tdlen) == 0);
		CHECK(strcmp(p.path, name) == 0);
	}
	free(buf);
}

/* A duration string: parse, format, parse again. */
static void
check_duration(const char *s, uint64_t max)
{
	uint64_t ms = 0, ms2 = 0, lim = 0;
	char buf[64];
	int rc = duration_parse_ms(s, UINT64_MAX, &ms);

	if (rc == 0) {
		CHECK(duration_parse_ms(duration_format(ms, buf, sizeof(buf)),
			  UINT64_MAX, &ms2) == 0);
		CHECK(ms2 == ms);
	}
	if (duration_parse_ms(s, max, &lim) == 0)
		CHECK(rc == 0 && lim == ms && ms <= max);
	else
		CHECK(rc == -1 || ms > max);
}

/* Format X into a LEN-byte heap block; round trip when it fits. */
static void
check_format(uint64_t x, size_t len)
{
	char full[64], *buf = malloc(len > 0 ? len : 1);
	uint64_t back = 0;

	CHECK(buf != NULL);
	duration_format(x, full, sizeof(full));
	CHECK(strlen(full) > 0 && strlen(full) < sizeof(full));
	CHECK(duration_parse_ms(full, UINT64_MAX, &back) == 0 && back == x);
	CHECK(duration_format(x, buf, len) == buf);
	if (len > 0) {
		CHECK(strlen(buf) < len);
		CHECK(strncmp(buf, full, strlen(buf)) == 0);
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = malloc(size + 2);
	const char *b;
	uint64_t x = 0;
	size_t la;

	CHECK(a != NULL);
	memcpy(a, data, size);
	a[size] = a[size + 1] = '\0';
	la = strlen(a);
	b = la < size ? a + la + 1 : a + size;
	for (size_t i = 0; i < 8 && i < size; i++)
		x = x << 8 | data[i];

	check_names(a);
	check_names(b);
	check_parse(a);
	check_spiffe_id(a, b, size > 0 ? (size_t)data[0] * 2 : 0);
	check_spiffe_id(a, b, CA_NAME_SPIFFE_MAX);
	check_duration(a, x);
	check_duration(a, 7ULL * 86400000);
	check_format(x, size > 0 ? data[size - 1] % 40 : 0);
	check_format(x >> (size % 64), 64);
	free(a);
	return (0);
}
