/*
 * spool: the audit collector's overflow file (proxy/audit/audit_syslog.c).
 *While the collector is away the records that do not fit in memory are appended
 * here, and read back in order once it answers; a record leaves the file
 * only when the collector has taken it (spool_ack), so a restart of the
 * proxy sends again what was not delivered.
 *
 * Layout (all integers little-endian):
 *
 *	header  "CTSPOOL1" | u64 head
 *	record  u32 len (1..SPOOL_REC_MAX) | u32 FNV-1a of the payload | payload
 *
 * head is the offset of the first record not yet delivered (a record
 * boundary, at least SPOOL_HDR). Records run to the end of the file; a
 * record cut short or with a wrong checksum (a crash in the middle of an
 * append) ends the valid part and is cut off when the file is opened.
 * When every record is delivered the file shrinks back to its header.
 *
 * The file is bounded by max_bytes (header included): an append that would
 * pass it is refused and the caller counts a drop.
 */
#ifndef COTAI_SPOOL_H
#define COTAI_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_HDR 16
#define SPOOL_REC_HDR 8
#define SPOOL_REC_MAX 65536

struct spool;

/* What spool_scan() found in a file image. */
struct spool_scan {
	uint64_t head;   /* first undelivered record (SPOOL_HDR if unsure) */
	uint64_t end;    /* end of the last valid record */
	size_t records;  /* valid records from head to end */
	bool bad_head;   /* head was not a record boundary: reset */
	bool cut;        /* bytes after end were invalid */
	bool bad_header; /* no valid header at all (not a spool file) */
};

/*
 * Check the file image BUF of LEN bytes (LEN 0: a new, empty spool) and
 * fill *OUT. 0, or -1 when BUF is not a spool file (bad_header set).
 * Pure: no I/O, never reads past LEN.
 */
int spool_scan(const uint8_t *buf, size_t len, struct spool_scan *out);

/*
 * Open (or create, mode 0600) the spool at PATH (borrowed), at most
 * MAX_BYTES long. An invalid tail is cut and logged; a file that is not a
 * spool is refused. NULL on failure (logged).
 */
struct spool *spool_open(const char *path, uint64_t max_bytes);

/* Close; NULL is a no-op. */
void spool_free(struct spool *sp);

/*
 * Append one record of LEN (1..SPOOL_REC_MAX) bytes. 0; 1 when the spool
 * is full (nothing written); -1 on an I/O error (logged).
 */
int spool_append(struct spool *sp, const char *rec, size_t len);

/*
 * Read the record at the read cursor into BUF (SPOOL_REC_MAX bytes): its
 * length in *LEN and the offset just past it in *NEXT; advance the cursor.
 * 1 got one, 0 none left, -1 I/O error or a damaged record (logged).
 */
int spool_next(struct spool *sp, char *buf, size_t *len, uint64_t *next);

/* Move the read cursor back to the head (send again what was not acked). */
void spool_rewind(struct spool *sp);

/*
 * The N records before offset OFF (an offset spool_next() returned) are
 * delivered: the head moves to OFF and is written to the header; when
 * nothing is left the file is cut back to its header. 0 or -1 (logged).
 */
int spool_ack(struct spool *sp, uint64_t off, size_t n);

/* Records not yet delivered (head to end). */
size_t spool_pending(const struct spool *sp);

/* Records not yet read (cursor to end). */
bool spool_unread(const struct spool *sp);

/* Size of the file now, in bytes. */
uint64_t spool_bytes(const struct spool *sp);

#endif
