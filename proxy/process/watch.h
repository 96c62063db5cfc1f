/*
 * watch: notice changes to the configuration file and the key material
 * (certificate, key, CA bundle, CRL) with inotify, and call back once a
 * burst of changes is over (debounce.h).
 *
 * The directories are watched, not the files: atomic renames (temp file +
 * rename, as cotai-ca writes) and symlink swaps replace the inode, which a
 * watch on the file itself would lose. An event counts when its name is
 * one of the watched files' names, or starts with ".." (Kubernetes swaps a
 * "..data" symlink). A watched path that is a symlink is also followed to
 * its target's directory.
 */
#ifndef COTAI_WATCH_H
#define COTAI_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"

struct reload;
struct watch;

/*
 * A watch on BASE that calls FIRE(RL) after a burst is QUIET_MS quiet (RL
 * is borrowed and must outlive the watch). NULL after logging why.
 */
struct watch *watch_new(struct event_base *base, uint32_t quiet_ms,
    void (*fire)(struct reload *), struct reload *rl);

/* Watch the files CFG names (replacing the previous set). 0 or -1. */
int watch_set(struct watch *w, const struct cotai_config *cfg);

/*
 * A reload is about to read the files: forget the changes seen so far
 * (read and drop the queued events, end the burst), so files the process
 * wrote itself right before a reload (a renewal, a fetched CRL) or a
 * SIGHUP after an edit do not cause a second one. Changes after this call
 * count as ever. NULL-safe.
 */
void watch_settle(struct watch *w);

/* Does an event named NAME concern one of NAMES[0..N)? (pure) */
bool watch_name_matches(char *const *names, size_t n, const char *name);

/* Stop watching; NULL-safe. */
void watch_free(struct watch *w);

#endif
