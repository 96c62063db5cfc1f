/*
 * ready: what /readyz answers (admin.h). The proxy is ready when every
 * certificate it presents (each route's, local_tls ones, the admin
 * endpoint's) is loaded and valid for longer than the current config's
 * admin.ready_min_validity, and no route's CRL is past its nextUpdate
 * (leaf checks would then refuse every peer).
 */
#ifndef COTAI_READY_H
#define COTAI_READY_H

#include <stddef.h>

#include "worker.h"

/* Why POOL (borrowed) is not ready, written in BUF, or NULL when it is. */
const char *
ready_why_not(const struct worker_pool *pool, char *buf, size_t len);

#endif
