/*
 * ca_store: the state directory and the file primitives every verb uses.
 *
 * The directory holds (all 0600 inside a 0700 directory):
 *	ca.crt            root certificate (the trust bundle)
 *	ca.key            root key, PKCS#8 encrypted with AES-256
 *	ca.pass           generated root passphrase (only when init made one)
 *	ca-crl.pem        the root's CRL (signed by init)
 *	intermediate.crt  issuing CA certificate
 *	intermediate.key  issuing CA key, PKCS#8, unencrypted
 *	trust-domain      the SPIFFE trust domain, one line
 *	index             everything issued (see ca_index.h)
 *	crlnumber         the last CRL number, decimal
 *	crl.pem           the intermediate's CRL followed by the root's
 *	certs/SERIAL.pem  every issued certificate
 *	lock              flock(2)ed by every verb that writes
 *	issued/NAME/      the default output directory of issue
 *
 * Every write goes through ca_store_write_atomic(): a temporary file in the
 * same directory, fsync, rename, fsync of the directory.
 */
#ifndef COTAI_CA_STORE_H
#define COTAI_CA_STORE_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/bio.h>

struct ca_store;

/* Flags for ca_store_open(). */
#define CA_STORE_CREATE 0x1 /* create DIR (0700) if it does not exist */
#define CA_STORE_LOCK 0x2   /* take the exclusive lock */

/*
 * Open the state directory DIR: refuse a symlink, a directory owned by
 * someone else or one that group or others can access, optionally create
 * it and take the lock (blocking). Returns NULL after printing the error.
 * The caller frees the result with ca_store_free(), which drops the lock.
 */
struct ca_store *ca_store_open(const char *dir, int flags);

/* Release the lock and free S; NULL is a no-op. */
void ca_store_free(struct ca_store *s);

/*
 * Take S's exclusive lock (blocking) unless S holds it already; 0, or -1
 * after printing the error. A long-running process (cotai-ca serve) takes
 * it around each write, as the verbs do for their whole run.
 */
int ca_store_lock(struct ca_store *s);

/* Drop S's lock if held. */
void ca_store_unlock(struct ca_store *s);

/* The directory as given. */
const char *ca_store_dir(const struct ca_store *s);

/*
 * Write DIR/FILE into BUF (LEN bytes); returns 0, or -1 (with an error
 * printed) when it does not fit.
 */
int ca_store_path(
    const struct ca_store *s, const char *file, char *buf, size_t len);

/*
 * Refuse PATH (printing why) unless it is a regular file or directory, not
 * a symlink, owned by us and without any group or other permission bits.
 * A missing file is an error too.
 */
int ca_store_check_private(const char *path);

/*
 * Read all of PATH (at most 16 MiB) into a new memory BIO; returns NULL
 * after printing the error. NOFOLLOW refuses a symlink.
 */
BIO *ca_store_read_bio(const char *path, int nofollow);

/*
 * Atomically replace PATH with LEN bytes of BUF and mode MODE: write a
 * temporary file in PATH's directory, fsync it, rename it over PATH and
 * fsync the directory. Returns 0, or -1 after printing the error (the
 * temporary file is removed).
 */
int ca_store_write_atomic(
    const char *path, const void *buf, size_t len, mode_t mode);

/* ca_store_write_atomic() of the contents of the memory BIO B. */
int ca_store_write_bio(const char *path, BIO *b, mode_t mode);

/*
 * Create PATH and any missing parents with mode 0700 (like mkdir -p);
 * returns 0 or -1 after printing the error.
 */
int ca_store_mkdirs(const char *path);

/* True when PATH exists (lstat). */
int ca_store_exists(const char *path);

#endif
