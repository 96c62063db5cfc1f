/*
 * httpreq: see httpreq.h. The head ends at the first empty line; the
 * request line is "METHOD SP TARGET SP HTTP/1.x". Header lines are only
 * checked for being printable text, since the admin endpoint uses none.
 */
#include "httpreq.h"

#include <string.h>

/* Find the end of the head (after the empty line); 0 when not there yet. */
static size_t
httpreq_head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return (i + 2);
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return (i + 3);
	}
	return (0);
}

/* Every byte of the head must be visible ASCII, space, tab, CR or LF. */
static bool
httpreq_text_ok(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c >= 0x7f ||
		    (c < 0x20 && c != '\t' && c != '\r' && c != '\n'))
			return (false);
	}
	return (true);
}

/* Parse "METHOD SP TARGET SP HTTP/1.x" in LINE[0..LEN). */
static enum httpreq_result
httpreq_line(const char *line, size_t len, struct httpreq *req)
{
	const char *sp1, *sp2, *end = line + len;
	size_t plen;

	if (len > 0 && line[len - 1] == '\r')
		end--;
	if ((sp1 = memchr(line, ' ', (size_t)(end - line))) == NULL)
		return (HTTPREQ_BAD);
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (sp2 == NULL || end - sp2 != 9 ||
	    (memcmp(sp2 + 1, "HTTP/1.0", 8) != 0 &&
		memcmp(sp2 + 1, "HTTP/1.1", 8) != 0))
		return (HTTPREQ_BAD);
	if (sp1 - line == 3 && memcmp(line, "GET", 3) == 0)
		req->head = false;
	else if (sp1 - line == 4 && memcmp(line, "HEAD", 4) == 0)
		req->head = true;
	else
		return (sp1 == line ? HTTPREQ_BAD : HTTPREQ_METHOD);
	if (sp1[1] != '/')
		return (HTTPREQ_BAD);
	plen = (size_t)(sp2 - sp1 - 1);
	{
		const char *q = memchr(sp1 + 1, '?', plen);
		if (q != NULL)
			plen = (size_t)(q - sp1 - 1);
	}
	if (plen > HTTPREQ_PATH_MAX || memchr(sp1 + 1, '\r', plen) != NULL ||
	    memchr(sp1 + 1, '\t', plen) != NULL)
		return (HTTPREQ_BAD);
	memcpy(req->path, sp1 + 1, plen);
	req->path[plen] = '\0';
	return (HTTPREQ_OK);
}

enum httpreq_result
httpreq_parse(const char *buf, size_t len, struct httpreq *req)
{
	const char *nl;
	size_t end, scan = len < HTTPREQ_MAX ? len : HTTPREQ_MAX;

	/* Only the head's bytes are judged: what follows it is not ours. */
	end = httpreq_head_end(buf, scan);
	if (!httpreq_text_ok(buf, end != 0 ? end : scan))
		return (HTTPREQ_BAD);
	if (end == 0)
		return (
		    len >= HTTPREQ_MAX ? HTTPREQ_TOO_LARGE : HTTPREQ_NEED_MORE);
	nl = memchr(buf, '\n', end);
	req->head_len = end;
	return (httpreq_line(buf, (size_t)(nl - buf), req));
}
