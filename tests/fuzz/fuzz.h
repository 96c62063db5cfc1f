/*
 * fuzz.h: what every libFuzzer harness in tests/fuzz shares: the entry
 * point's prototype and CHECK, which aborts (a crash libFuzzer records)
 * when a property of the code under test does not hold.
 */
#ifndef COTAI_FUZZ_H
#define COTAI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			    __LINE__, #cond);                                  \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
