/*
 * ca_keyset: see ca_keyset.h.
 */
#include "ca_keyset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ca_keyset_slot {
	unsigned char id[CA_CSR_KEY_ID];
	int used;
};

struct ca_keyset {
	struct ca_keyset_slot *slots;
	size_t cap; /* a power of two */
	size_t n;
};

struct ca_keyset *
ca_keyset_new(void)
{
	struct ca_keyset *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return (NULL);
	s->cap = 64;
	if ((s->slots = calloc(s->cap, sizeof(*s->slots))) == NULL) {
		free(s);
		return (NULL);
	}
	return (s);
}

void
ca_keyset_free(struct ca_keyset *s)
{
	if (s == NULL)
		return;
	free(s->slots);
	free(s);
}

size_t
ca_keyset_len(const struct ca_keyset *s)
{
	return (s->n);
}

/* The slot holding ID, or the empty slot where it would go. */
static struct ca_keyset_slot *
ca_keyset_slot(const struct ca_keyset *s, const unsigned char *id)
{
	uint64_t h;
	size_t i;

	memcpy(&h, id, sizeof(h));
	for (i = (size_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		struct ca_keyset_slot *sl = &s->slots[i];

		if (!sl->used || memcmp(sl->id, id, CA_CSR_KEY_ID) == 0)
			return (sl);
	}
}

static int
ca_keyset_grow(struct ca_keyset *s)
{
	struct ca_keyset_slot *old = s->slots;
	size_t oldcap = s->cap;

	if ((s->slots = calloc(oldcap * 2, sizeof(*s->slots))) == NULL) {
		s->slots = old;
		return (-1);
	}
	s->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used)
			*ca_keyset_slot(s, old[i].id) = old[i];
	free(old);
	return (0);
}

int
ca_keyset_add(struct ca_keyset *s, const unsigned char id[CA_CSR_KEY_ID])
{
	struct ca_keyset_slot *sl;

	/* Keep the load under a half so that probes stay short. */
	if ((s->n + 1) * 2 > s->cap && ca_keyset_grow(s) != 0)
		return (-1);
	sl = ca_keyset_slot(s, id);
	if (sl->used)
		return (0);
	memcpy(sl->id, id, CA_CSR_KEY_ID);
	sl->used = 1;
	s->n++;
	return (0);
}

int
ca_keyset_has(const struct ca_keyset *s, const unsigned char id[CA_CSR_KEY_ID])
{
	return (ca_keyset_slot(s, id)->used);
}
