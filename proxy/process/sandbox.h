/*
 * sandbox: Landlock for cotai-proxy once it has started (config key
 * `sandbox`: auto, landlock, off). Applied by the main thread after the
 * listeners are bound, the key material read and privileges dropped, and
 * before any other thread exists, so every thread is covered (Landlock
 * restricts the calling thread and what it creates afterwards).
 *
 * What stays allowed, from the configuration at start:
 *   - reading (files and directory listings) beneath the directory of the
 *     config file and of every ca/cert/key/crl file (and of their symlink
 *     targets), and beneath the system paths the process still needs
 *     (/etc, /usr, /lib*, /proc/self, /sys/devices/system/cpu,
 *     /dev/urandom; a missing one is skipped);
 *   - making and removing unix sockets in the directories of unix
 *     listeners, and writing the --ports-file in its directory;
 *   - with Landlock ABI 4 or later, TCP connect only to the targets'
 *     ports (and 53, the resolver's TCP fallback), and TCP bind only to
 *     the listen ports when none of them is 0 (with port 0 the ports a
 *     reload needs cannot be known, so bind is left open, and logged);
 *   - with ABI 6 or later, no signals to and no abstract unix sockets of
 *     processes outside the sandbox.
 * Nothing may be executed, written or removed anywhere else.
 *
 * The sandbox is a property of the process (a Landlock domain cannot be
 * lifted), so its record is a static of this module: written once by
 * sandbox_apply(), then read by the main thread's reloads, which use the
 * sandbox_check_*() and sandbox_file_note() functions to refuse, with a
 * clear reason, what the sandbox would break.
 */
#ifndef COTAI_SANDBOX_H
#define COTAI_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* Access rights a Landlock ruleset handles (bits of linux/landlock.h). */
struct sandbox_rights {
	uint64_t fs;
	uint64_t net;
	uint64_t scoped;
};

/* The rights Landlock ABI ABI knows (0 or less: none); pure. */
void sandbox_abi_rights(int abi, struct sandbox_rights *out);

/*
 * What a rule may grant: WANT, less what the ruleset does not handle
 * (HANDLED->fs), less what only directories take when the rule's object
 * is a file (!IS_DIR). Pure.
 */
uint64_t sandbox_rule_rights(
    uint64_t want, bool is_dir, const struct sandbox_rights *handled);

/* Is PATH DIR itself or beneath it (both absolute, normalized)? Pure. */
bool sandbox_beneath(const char *dir, const char *path);

/*
 * Apply CFG->sandbox for the configuration CFG (borrowed) and the ports
 * file PORTS (NULL: none). Must run on the only thread of the process
 * (it checks: with other threads nothing is applied). Logs what was
 * applied, or why nothing was. 0, or -1 when the process must not go on
 * (`landlock`, and Landlock is missing or could not be applied).
 */
int sandbox_apply(const struct cotai_config *cfg, const char *ports);

/* The Landlock ABI applied (0: none). */
int sandbox_abi(void);

/*
 * Reload checks for route R of a new configuration: may it listen (a new
 * listening socket) and may it connect to its target under the sandbox
 * set at start? 0, or -1 after logging why not.
 */
int sandbox_check_listen(const struct config_route *r);
int sandbox_check_target(const struct config_route *r);

/*
 * For config_load_opts.file_note: when PATH could not be opened with
 * EACCES and lies outside what the sandbox lets the process read, a note
 * saying so (static text); else NULL.
 */
const char *sandbox_file_note(const char *path, int err);

/* Forget the record (at exit; the restriction itself stays). */
void sandbox_clear(void);

#endif
