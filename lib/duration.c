/*
 * duration: see duration.h.
 */
#include "duration.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct duration_unit {
	const char *name;
	uint64_t ms;
};

/* Largest first: parsing requires units in this order, each at most once. */
static const struct duration_unit duration_units[] = {
    {"d", 86400000ULL},
    {"h", 3600000ULL},
    {"m", 60000ULL},
    {"s", 1000ULL},
    {"ms", 1ULL},
};
#define DURATION_NUNITS (sizeof(duration_units) / sizeof(duration_units[0]))

/* Which unit starts at P ("ms" before "m"); sets *len, returns index or -1. */
static int
duration_unit_at(const char *p, size_t *len)
{
	if (p[0] == 'm' && p[1] == 's') {
		*len = 2;
		return (4);
	}
	for (int i = 0; i < 4; i++) {
		if (*p == duration_units[i].name[0]) {
			*len = 1;
			return (i);
		}
	}
	return (-1);
}

int
duration_parse_ms(const char *s, uint64_t max_ms, uint64_t *ms)
{
	uint64_t total = 0;
	int last = -1;

	if (s == NULL || *s == '\0')
		return (-1);
	while (*s != '\0') {
		uint64_t n = 0;
		size_t ulen;
		int u;

		if (*s < '0' || *s > '9')
			return (-1);
		for (; *s >= '0' && *s <= '9'; s++) {
			if (n > (UINT64_MAX - 9) / 10)
				return (-1);
			n = n * 10 + (uint64_t)(*s - '0');
		}
		if ((u = duration_unit_at(s, &ulen)) < 0 || u <= last)
			return (-1);
		last = u;
		s += ulen;
		if (n > (UINT64_MAX - total) / duration_units[u].ms)
			return (-1);
		total += n * duration_units[u].ms;
	}
	if (total > max_ms)
		return (-1);
	*ms = total;
	return (0);
}

char *
duration_format(uint64_t ms, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return (buf);
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return (buf);
	}
	for (size_t i = 0; i < DURATION_NUNITS; i++) {
		uint64_t n = ms / duration_units[i].ms;
		int w;

		if (n == 0)
			continue;
		ms -= n * duration_units[i].ms;
		w = snprintf(buf + off, len - off, "%llu%s",
		    (unsigned long long)n, duration_units[i].name);
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
	}
	return (buf);
}

uint64_t
duration_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}
