/*
 * ca_index: the list of everything cotai-ca issued, one certificate a line.
 *
 *	# cotai-ca index v1
 *	STATUS SERIAL NOT_BEFORE NOT_AFTER REVOKED_AT REASON KEY_TYPE NAME OUT
 *
 * STATUS is V (the name's current certificate), S (superseded by a
 * renewal, still valid until it expires) or R (revoked); SERIAL upper-case
 * hex; the times unix seconds; REVOKED_AT and REASON are "-" unless
 * revoked (REASON is a CRL reason name such as keyCompromise); KEY_TYPE as
 * for --key-type; NAME the workload; OUT, the rest of the line, the
 * absolute directory the files were written to. Fields are separated by
 * one space; lines starting with '#' are comments. Any other line is
 * corrupt and the whole index is refused. Pure: no I/O.
 */
#ifndef COTAI_CA_INDEX_H
#define COTAI_CA_INDEX_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>

#include "ca_cert.h"
#include "ca_name.h"

#define CA_INDEX_VALID 'V'
#define CA_INDEX_SUPERSEDED 'S'
#define CA_INDEX_REVOKED 'R'

struct ca_index_entry {
	char status;
	char serial[CA_CERT_SERIAL_HEX];
	int64_t not_before;
	int64_t not_after;
	int64_t revoked_at; /* -1 unless revoked */
	int reason;         /* CRL reason code, -1 unless revoked */
	char key_type[16];
	char name[CA_NAME_MAX + 1];
	char out_dir[PATH_MAX];
};

struct ca_index;

/* An empty index; NULL when out of memory. */
struct ca_index *ca_index_new(void);

/*
 * Parse LEN bytes of BUF; returns NULL after printing "index line N: ..."
 * for the first corrupt line.
 */
struct ca_index *ca_index_parse(const char *buf, size_t len);

/* Append IDX in the format above to B; 0 or -1. */
int ca_index_format(const struct ca_index *idx, BIO *b);

/* Free IDX; NULL is a no-op. */
void ca_index_free(struct ca_index *idx);

size_t ca_index_len(const struct ca_index *idx);

/* The I-th entry (I < ca_index_len); owned by IDX. */
struct ca_index_entry *ca_index_at(struct ca_index *idx, size_t i);

/* Append a copy of E after checking it as the parser would; 0 or -1. */
int ca_index_add(struct ca_index *idx, const struct ca_index_entry *e);

/* The entry with serial HEX (case-insensitive, leading zeros ignored). */
struct ca_index_entry *
ca_index_find_serial(struct ca_index *idx, const char *hex);

/* NAME's current (V) entry, or NULL. */
struct ca_index_entry *ca_index_current(struct ca_index *idx, const char *name);

/* Parse a CRL reason name ("keyCompromise"...) into its code; 0 or -1. */
int ca_index_reason_parse(const char *s, int *code);

/* The name of CRL reason CODE, or "-" for -1. */
const char *ca_index_reason_name(int code);

#endif
