/*
 * httpreq: the admin endpoint's HTTP/1.x request-head parser. Pure and
 * allocation-free: it looks at the bytes received so far and says whether a
 * complete, acceptable request head is there. Only what a health probe or a
 * Prometheus scraper sends is accepted: GET or HEAD, an origin-form path,
 * HTTP/1.0 or HTTP/1.1, header lines that are skipped, and a head no larger
 * than HTTPREQ_MAX bytes.
 */
#ifndef COTAI_HTTPREQ_H
#define COTAI_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>

#define HTTPREQ_MAX 4096
#define HTTPREQ_PATH_MAX 256

enum httpreq_result {
	HTTPREQ_NEED_MORE, /* no complete head yet; read more */
	HTTPREQ_OK,        /* *req is filled in */
	HTTPREQ_BAD,       /* malformed: answer 400 and close */
	HTTPREQ_METHOD,    /* a method other than GET/HEAD: answer 405 */
	HTTPREQ_TOO_LARGE  /* no head within HTTPREQ_MAX bytes: answer 431 */
};

struct httpreq {
	bool head;                       /* HEAD rather than GET */
	char path[HTTPREQ_PATH_MAX + 1]; /* without the query string */
	size_t head_len; /* bytes of the head, CRLFCRLF included */
};

/*
 * Parse the request head at the start of BUF[0..LEN). Lines may end in
 * CRLF or bare LF. On HTTPREQ_OK fills *req; otherwise *req is unspecified.
 */
enum httpreq_result
httpreq_parse(const char *buf, size_t len, struct httpreq *req);

#endif
