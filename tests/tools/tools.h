/*
 * tools: what the test peers share, as static functions (each tool is one
 * .c file): the deterministic test data stream, so a client and a peer
 * agree on every byte without sending checksums, and the atomic port file
 * a test waits for.
 */
#ifndef COTAI_TEST_TOOLS_H
#define COTAI_TEST_TOOLS_H

#include <stdint.h>
#include <stdio.h>

static inline uint64_t
tools_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31));
}

/* Bytes OFF..OFF+N of test stream SEED into BUF. */
static inline void
tools_fill(uint64_t seed, uint64_t off, unsigned char *buf, size_t n)
{
	uint64_t blk = UINT64_MAX, v = 0;

	for (size_t i = 0; i < n; i++) {
		if (((off + i) >> 3) != blk) {
			blk = (off + i) >> 3;
			v = tools_mix((seed << 40) ^ blk);
		}
		buf[i] = (unsigned char)(v >> (8 * ((off + i) & 7)));
	}
}

/* Write PORT to PATH atomically (temp file + rename); 0 or -1. */
static inline int
tools_write_port(const char *path, unsigned port)
{
	char tmp[4096];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		return (-1);
	fprintf(fp, "%u\n", port);
	if (fclose(fp) != 0)
		return (-1);
	return (rename(tmp, path));
}

#endif
