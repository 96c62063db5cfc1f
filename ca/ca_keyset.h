/*
 * ca_keyset: a set of public key ids (SHA-256 of the SubjectPublicKeyInfo,
 * ca_csr_key_id) for cotai-ca serve's "key not reused" check. An open
 * addressing hash table that grows; ids are already uniform, so their
 * first bytes are the hash.
 */
#ifndef COTAI_CA_KEYSET_H
#define COTAI_CA_KEYSET_H

#include <stddef.h>

#include "ca_csr.h"

struct ca_keyset;

/* An empty set; NULL when out of memory. */
struct ca_keyset *ca_keyset_new(void);

/* Free S; NULL is a no-op. */
void ca_keyset_free(struct ca_keyset *s);

/* Add ID (a no-op when present); 0, or -1 when out of memory. */
int ca_keyset_add(struct ca_keyset *s, const unsigned char id[CA_CSR_KEY_ID]);

/* True when ID is in S. */
int
ca_keyset_has(const struct ca_keyset *s, const unsigned char id[CA_CSR_KEY_ID]);

size_t ca_keyset_len(const struct ca_keyset *s);

#endif
