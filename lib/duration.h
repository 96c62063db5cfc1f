/*
 * duration: parse and format human durations shared by cotai-proxy's config
 * ("timeout: 30s") and cotai-ca ("--ttl 7d").
 */
#ifndef COTAI_DURATION_H
#define COTAI_DURATION_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a non-empty sequence of <digits><unit> with units ms, s, m, h, d
 * (e.g. "500ms", "30s", "1h30m", "7d") into milliseconds. Units must not
 * repeat or go up in size ("30s1h" is refused). Returns 0, or -1 when S is
 * malformed or the total exceeds MAX_MS.
 */
int duration_parse_ms(const char *s, uint64_t max_ms, uint64_t *ms);

/* Format MS as the shortest exact form ("90s" -> "1m30s"); returns BUF. */
char *duration_format(uint64_t ms, char *buf, size_t len);

/* Milliseconds on CLOCK_MONOTONIC: for deadlines and intervals. */
uint64_t duration_now_ms(void);

#endif
