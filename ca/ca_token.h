/*
 * ca_token: one-time enrollment tokens for cotai-ca serve's simpleenroll.
 *
 * "cotai-ca token NAME --ttl DUR" mints a token: 32 random bytes printed as
 * 64 lower-case hex digits. Only its SHA-256 is kept, in DIR/tokens (0600),
 * written under the state directory's lock like the index:
 *
 *	# cotai-ca tokens v1
 *	SHA256HEX EXPIRES NAME
 *
 * EXPIRES is unix seconds. A token is bound to NAME and works once: the
 * server removes its line when it issues a certificate with it. Expired
 * lines are dropped whenever the file is written. The parse/format/lookup
 * functions are pure; ca_token_load/ca_token_save do the file I/O.
 */
#ifndef COTAI_CA_TOKEN_H
#define COTAI_CA_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>

#include "ca_name.h"
#include "ca_store.h"

/* Hex digits in a token and in its hash. */
#define CA_TOKEN_HEX 64
/* Most unexpired tokens kept (a bound on the file). */
#define CA_TOKEN_MAX 100000

enum ca_token_result {
	CA_TOKEN_OK,
	CA_TOKEN_MALFORMED, /* not 64 hex digits */
	CA_TOKEN_UNKNOWN,   /* never minted, or already used */
	CA_TOKEN_EXPIRED,
};

struct ca_token_entry {
	char hash[CA_TOKEN_HEX + 1];
	int64_t expires;
	char name[CA_NAME_MAX + 1];
};

struct ca_tokens;

/* An empty table; NULL when out of memory. */
struct ca_tokens *ca_tokens_new(void);

/* Free T; NULL is a no-op. */
void ca_tokens_free(struct ca_tokens *t);

/*
 * Parse LEN bytes of BUF; NULL after printing "tokens line N: ..." for the
 * first corrupt line.
 */
struct ca_tokens *ca_tokens_parse(const char *buf, size_t len);

/* Append T in the format above to B, without lines expired at NOW; 0/-1. */
int ca_tokens_format(const struct ca_tokens *t, int64_t now, BIO *b);

size_t ca_tokens_len(const struct ca_tokens *t);

/*
 * Mint a token for NAME (already validated) valid until EXPIRES: write it
 * into OUT (CA_TOKEN_HEX + 1 bytes) and add its hash to T. 0 or -1.
 */
int ca_tokens_mint(
    struct ca_tokens *t, const char *name, int64_t expires, char *out);

/*
 * Look TOKEN up at NOW. On CA_TOKEN_OK and CA_TOKEN_EXPIRED, NAME
 * (CA_NAME_MAX + 1 bytes) gets the name it is bound to; a valid token stays
 * in T until ca_tokens_remove(), an expired one is removed from T.
 */
enum ca_token_result
ca_tokens_find(struct ca_tokens *t, const char *token, int64_t now, char *name);

/* Remove TOKEN from T (after a successful enrollment); 0, or -1 if absent. */
int ca_tokens_remove(struct ca_tokens *t, const char *token);

/* The SHA-256 of TOKEN in lower-case hex into OUT (CA_TOKEN_HEX + 1). */
int ca_token_hash(const char *token, char *out);

/*
 * Take the token out of an HTTP Authorization header value HDR: "Bearer"
 * (any case), spaces, 64 hex digits, optional trailing blanks. Writes it
 * into OUT (CA_TOKEN_HEX + 1); 0, or -1 when HDR is not that.
 */
int ca_token_from_auth(const char *hdr, char *out);

/* Load DIR/tokens (missing: empty); NULL after printing the error. */
struct ca_tokens *ca_tokens_load(struct ca_store *s);

/* Write T to DIR/tokens atomically (0600); 0 or -1. Hold the lock. */
int ca_tokens_save(struct ca_store *s, const struct ca_tokens *t, int64_t now);

#endif
