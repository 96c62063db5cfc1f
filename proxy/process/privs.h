/*
 * privs: giving up root. cotai-proxy binds its sockets and reads its keys
 * first (these may need root), then switches to the configured user for
 * good and forbids gaining privileges again, before the sandbox and the
 * worker threads.
 */
#ifndef COTAI_PRIVS_H
#define COTAI_PRIVS_H

/*
 * Switch to USER for good (root only; NULL refuses to go on as root), then
 * forbid gaining privileges again (PR_SET_NO_NEW_PRIVS, whether or not we
 * started as root: a proxy never needs setuid binaries or file
 * capabilities). 0 or -1, logged.
 */
int privs_drop(const char *user);

#endif
