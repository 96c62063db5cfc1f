/*
 * fuzz_httpreq: the admin endpoint's request-head parser
 * (proxy/control/httpreq.c) on arbitrary bytes.
 *
 * The input is what a client sent. It is parsed whole and on prefixes (one
 * at a point taken from the data, and every prefix of a complete head), each
 * from a heap copy of exactly the bytes "received" so that ASan catches a
 * read past them. The checks: an answer given on a prefix (OK, BAD, 405,
 * 431) does not change when more bytes arrive; NEED_MORE on every prefix of
 * a complete head; on OK the head ends in the first empty line, the path is
 * the request target up to '?', starts with '/', is NUL-terminated and at
 * most HTTPREQ_PATH_MAX bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "httpreq.h"

#define ALL_PREFIXES_MAX 600

struct result {
	enum httpreq_result rc;
	struct httpreq req;
};

/* Is BUF[0..LEN) printable text (with tab, CR, LF), as a head must be? */
static bool
is_text(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] >= 0x7f ||
		    (buf[i] < 0x20 && buf[i] != '\t' && buf[i] != '\r' &&
			buf[i] != '\n'))
			return (false);
	}
	return (true);
}

/* What httpreq.h promises about an OK on BUF[0..LEN). */
static void
check_ok(const uint8_t *buf, size_t len, const struct httpreq *req)
{
	size_t h = req->head_len, plen = strnlen(req->path, sizeof(req->path));
	size_t m = req->head ? 5 : 4;

	CHECK(h >= 4 && h <= len && h <= HTTPREQ_MAX);
	CHECK(buf[h - 1] == '\n');
	CHECK(buf[h - 2] == '\n' || (buf[h - 2] == '\r' && buf[h - 3] == '\n'));
	/* No empty line before the end of the head. */
	for (size_t i = 0; i + 2 < h; i++) {
		if (buf[i] != '\n')
			continue;
		CHECK(buf[i + 1] != '\n');
		CHECK(i + 3 >= h || buf[i + 1] != '\r' || buf[i + 2] != '\n');
	}
	CHECK(is_text(buf, h));
	CHECK(memcmp(buf, req->head ? "HEAD " : "GET ", m) == 0);
	CHECK(plen < sizeof(req->path) && plen <= HTTPREQ_PATH_MAX);
	CHECK(plen >= 1 && req->path[0] == '/');
	CHECK(memcmp(buf + m, req->path, plen) == 0);
	CHECK(buf[m + plen] == '?' || buf[m + plen] == ' ');
	CHECK(strchr(req->path, '?') == NULL && strchr(req->path, ' ') == NULL);
	CHECK(strchr(req->path, '\n') == NULL);
}

static void
parse(const uint8_t *data, size_t len, struct result *r)
{
	uint8_t *b = malloc(len > 0 ? len : 1);

	CHECK(b != NULL);
	memcpy(b, data, len);
	memset(r, 0xa5, sizeof(*r));
	r->rc = httpreq_parse((const char *)b, len, &r->req);
	switch (r->rc) {
	case HTTPREQ_OK:
		check_ok(b, len, &r->req);
		break;
	case HTTPREQ_NEED_MORE:
		CHECK(len < HTTPREQ_MAX);
		CHECK(is_text(b, len));
		break;
	case HTTPREQ_TOO_LARGE:
		CHECK(len >= HTTPREQ_MAX);
		break;
	case HTTPREQ_BAD:
	case HTTPREQ_METHOD:
		break;
	default:
		CHECK(!"unknown result");
	}
	free(b);
}

/*
 * An answer on the prefix DATA[0..K) holds for the whole input: bytes
 * after a complete head never change the verdict.
 */
static void
check_prefix(
    const uint8_t *data, size_t size, size_t k, const struct result *whole)
{
	struct result r;

	parse(data, k, &r);
	if (whole->rc == HTTPREQ_NEED_MORE)
		CHECK(r.rc == HTTPREQ_NEED_MORE);
	if (r.rc == HTTPREQ_NEED_MORE)
		return;
	CHECK(whole->rc == r.rc);
	if (r.rc == HTTPREQ_OK) {
		CHECK(r.req.head == whole->req.head);
		CHECK(r.req.head_len == whole->req.head_len);
		CHECK(strcmp(r.req.path, whole->req.path) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole;
	size_t k;

	parse(data, size, &whole);
	k = size > 0 ? (size_t)data[size - 1] * 131 % (size + 1) : 0;
	check_prefix(data, size, k, &whole);
	if (whole.rc == HTTPREQ_OK) {
		size_t h = whole.req.head_len;

		if (h <= ALL_PREFIXES_MAX) {
			for (k = 0; k < h; k++) {
				struct result r;

				parse(data, k, &r);
				CHECK(r.rc == HTTPREQ_NEED_MORE);
			}
		}
		check_prefix(data, size, h, &whole);
	}
	return (0);
}
