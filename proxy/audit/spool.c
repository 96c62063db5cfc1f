/*
 * spool: see spool.h. All I/O is pread/pwrite on one descriptor opened at
 * start-up (before the sandbox), so the file may live anywhere the
 * sandbox later forbids.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char spool_magic[8] = {'C', 'T', 'S', 'P', 'O', 'O', 'L', '1'};

struct spool {
	int fd;
	char *path;
	uint64_t max;
	uint64_t head;   /* first undelivered record */
	uint64_t cursor; /* next record to read */
	uint64_t end;    /* end of the file (of the last record) */
	size_t pending;  /* records from head to end */
};

static uint32_t
spool_sum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return (h);
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32);
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

int
spool_scan(const uint8_t *buf, size_t len, struct spool_scan *out)
{
	uint64_t want, off = SPOOL_HDR;
	size_t before_head = 0, total = 0;
	bool head_seen = false;

	memset(out, 0, sizeof(*out));
	out->head = out->end = SPOOL_HDR;
	if (len == 0)
		return (0);
	if (len < SPOOL_HDR || memcmp(buf, spool_magic, 8) != 0) {
		out->bad_header = true;
		return (-1);
	}
	want = get64(buf + 8);
	for (;;) {
		uint32_t n;

		if (off == want)
			head_seen = true;
		if (!head_seen)
			before_head++;
		if (len - off < SPOOL_REC_HDR)
			break;
		n = get32(buf + off);
		if (n == 0 || n > SPOOL_REC_MAX ||
		    len - off - SPOOL_REC_HDR < n ||
		    spool_sum(buf + off + SPOOL_REC_HDR, n) !=
			get32(buf + off + 4))
			break;
		off += SPOOL_REC_HDR + n;
		total++;
	}
	out->end = off;
	out->cut = off < len;
	if (!head_seen) {
		out->bad_head = true;
		out->records = total;
	} else {
		out->head = want;
		out->records = total - before_head;
	}
	return (0);
}

/* pread/pwrite all of N bytes at OFF; 0 or -1 (errno set, EIO if short). */
static int
spool_io(int fd, void *p, size_t n, uint64_t off, bool wr)
{
	while (n > 0) {
		ssize_t k = wr ? pwrite(fd, p, n, (off_t)off)
			       : pread(fd, p, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return (-1);
		}
		p = (char *)p + k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return (0);
}

/* Write the header with the current head. */
static int
spool_write_header(struct spool *sp)
{
	uint8_t h[SPOOL_HDR];

	memcpy(h, spool_magic, 8);
	put64(h + 8, sp->head);
	if (spool_io(sp->fd, h, sizeof(h), 0, true) != 0) {
		log_errno("audit spool %s: header", sp->path);
		return (-1);
	}
	return (0);
}

/* Read the whole file and scan it into SP. 0 or -1 (logged). */
static int
spool_load(struct spool *sp)
{
	struct spool_scan sc;
	struct stat st;
	uint8_t *img = NULL;
	int rc = -1;

	if (fstat(sp->fd, &st) != 0) {
		log_errno("audit spool %s", sp->path);
		return (-1);
	}
	if ((uint64_t)st.st_size > sp->max + SPOOL_REC_MAX + SPOOL_REC_HDR) {
		log_error("audit spool %s: %lld bytes, more than its limit",
		    sp->path, (long long)st.st_size);
		return (-1);
	}
	if (st.st_size > 0 &&
	    ((img = malloc((size_t)st.st_size)) == NULL ||
		spool_io(sp->fd, img, (size_t)st.st_size, 0, false) != 0)) {
		log_errno("audit spool %s: read", sp->path);
		goto out;
	}
	if (spool_scan(img, (size_t)st.st_size, &sc) != 0) {
		log_error("audit spool %s: not a spool file (refusing to "
			  "overwrite it)",
		    sp->path);
		goto out;
	}
	if (sc.cut)
		log_warn("audit spool %s: damaged tail at offset %llu cut "
			 "(%lld bytes)",
		    sp->path, (unsigned long long)sc.end,
		    (long long)st.st_size - (long long)sc.end);
	if (sc.bad_head)
		log_warn("audit spool %s: head not on a record: sending "
			 "every record again",
		    sp->path);
	sp->head = sp->cursor = sc.head;
	sp->end = sc.end;
	sp->pending = sc.records;
	if (sc.cut && ftruncate(sp->fd, (off_t)sc.end) != 0) {
		log_errno("audit spool %s: truncate", sp->path);
		goto out;
	}
	rc = st.st_size == 0 || sc.bad_head ? spool_write_header(sp) : 0;
	if (rc == 0 && sp->pending > 0)
		log_warn("audit spool %s: %zu records to deliver", sp->path,
		    sp->pending);
out:
	free(img);
	return (rc);
}

struct spool *
spool_open(const char *path, uint64_t max_bytes)
{
	struct spool *sp;

	if ((sp = calloc(1, sizeof(*sp))) == NULL ||
	    (sp->path = strdup(path)) == NULL) {
		log_errno("calloc");
		free(sp);
		return (NULL);
	}
	sp->max = max_bytes;
	sp->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sp->fd < 0) {
		log_errno("audit spool %s", path);
		spool_free(sp);
		return (NULL);
	}
	if (spool_load(sp) != 0) {
		spool_free(sp);
		return (NULL);
	}
	return (sp);
}

void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->path);
	free(sp);
}

int
spool_append(struct spool *sp, const char *rec, size_t len)
{
	uint8_t h[SPOOL_REC_HDR];

	if (len == 0 || len > SPOOL_REC_MAX)
		return (-1);
	if (sp->end + SPOOL_REC_HDR + len > sp->max)
		return (1);
	put32(h, (uint32_t)len);
	put32(h + 4, spool_sum((const uint8_t *)rec, len));
	if (spool_io(sp->fd, h, sizeof(h), sp->end, true) != 0 ||
	    spool_io(sp->fd, (void *)(uintptr_t)rec, len,
		sp->end + SPOOL_REC_HDR, true) != 0) {
		log_errno("audit spool %s: append", sp->path);
		/* A partial record is cut when the file is next opened. */
		return (-1);
	}
	sp->end += SPOOL_REC_HDR + len;
	sp->pending++;
	return (0);
}

int
spool_next(struct spool *sp, char *buf, size_t *len, uint64_t *next)
{
	uint8_t h[SPOOL_REC_HDR];
	uint32_t n;

	if (sp->cursor >= sp->end)
		return (0);
	if (spool_io(sp->fd, h, sizeof(h), sp->cursor, false) != 0) {
		log_errno("audit spool %s: read", sp->path);
		return (-1);
	}
	n = get32(h);
	if (n == 0 || n > SPOOL_REC_MAX || sp->end - sp->cursor < n ||
	    spool_io(sp->fd, buf, n, sp->cursor + SPOOL_REC_HDR, false) != 0 ||
	    spool_sum((uint8_t *)buf, n) != get32(h + 4)) {
		log_error("audit spool %s: damaged record at %llu", sp->path,
		    (unsigned long long)sp->cursor);
		return (-1);
	}
	*len = n;
	sp->cursor += SPOOL_REC_HDR + n;
	*next = sp->cursor;
	return (1);
}

void
spool_rewind(struct spool *sp)
{
	sp->cursor = sp->head;
}

int
spool_ack(struct spool *sp, uint64_t off, size_t n)
{
	if (off < sp->head || off > sp->end || n > sp->pending)
		return (-1);
	sp->head = off;
	sp->pending -= n;
	if (sp->head == sp->end) {
		/* Everything delivered: back to an empty file. */
		sp->head = sp->cursor = sp->end = SPOOL_HDR;
		sp->pending = 0;
		if (ftruncate(sp->fd, SPOOL_HDR) != 0) {
			log_errno("audit spool %s: truncate", sp->path);
			return (-1);
		}
	}
	return (spool_write_header(sp));
}

size_t
spool_pending(const struct spool *sp)
{
	return (sp->pending);
}

bool
spool_unread(const struct spool *sp)
{
	return (sp->cursor < sp->end);
}

uint64_t
spool_bytes(const struct spool *sp)
{
	return (sp->end);
}
