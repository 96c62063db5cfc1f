/*
 * ca_readback: read back what "cotai-ca issue" and "renew" wrote into an
 * output directory before they report success, so that a file replaced
 * after its write (another workload's file of the same name, a fixed file
 * of the directory) is never reported as issued.
 */
#ifndef COTAI_CA_READBACK_H
#define COTAI_CA_READBACK_H

#include "ca_index.h"

/*
 * Check DIR/NAME.crt and DIR/NAME.key (and DIR/NAME.pem when COMBINED) for
 * the certificate E (borrowed) names: the first certificate of each file
 * carries E->serial and matches the key. Returns 0, or -1 after printing
 * which file no longer holds what was written.
 */
int ca_readback_check(
    const char *dir, const struct ca_index_entry *e, int combined);

#endif
