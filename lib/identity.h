/*
 * identity: the names a peer certificate carries, taken apart once so that
 * policy decisions and audit lines read plain strings.
 *
 * Every cotai certificate names one workload with exactly one URI SAN
 * spiffe://<trust-domain>/<name> (proxy/DESIGN.md, Identity); the CN is kept
 * for logs and for databases that map it to a user, never for policy.
 */
#ifndef COTAI_IDENTITY_H
#define COTAI_IDENTITY_H

#include <stdbool.h>
#include <time.h>

#include <openssl/x509.h>

struct identity {
	char *spiffe; /* the spiffe:// URI SAN (then the only URI SAN), else
		       * NULL */
	char *name;   /* workload name: the SPIFFE path without the leading '/'
			 (e.g. "backend", "jobs/nightly"), else NULL */
	char *trust_domain; /* host part of the SPIFFE ID */
	char *cn;           /* subject CN or NULL */
	char serial[80];    /* hex serial, upper-case, no separators */
	time_t not_after;
};

/*
 * Fill *OUT from CERT (borrowed; not freed). On success the caller frees
 * the members with identity_clear(); on failure *OUT is left zeroed (an
 * extra identity_clear() is harmless).
 * Returns 0, or -1 when the certificate is malformed: a spiffe URI SAN
 * beside any other URI SAN (a SPIFFE ID must be the only one), a spiffe
 * URI SAN that is not a valid SPIFFE ID (spiffe.h), a URI SAN or CN
 * that is not valid text (embedded NUL, not UTF-8), several CNs, or an
 * unreadable serial or notAfter. A certificate without any spiffe URI SAN
 * is not malformed: it gets spiffe = name = trust_domain = NULL (and
 * matches no policy pattern).
 */
int identity_from_x509(X509 *cert, struct identity *out);

/*
 * CERT's serial number in hex (upper-case, no separators) into BUF of LEN
 * bytes: 0; -1 when OpenSSL cannot read or convert it (its error queue
 * says why); -2 when it does not fit. Used by cotai-ca too.
 */
int identity_serial_hex(const X509 *cert, char *buf, size_t len);

/* Free the members and zero *ID; safe on a zeroed struct and on NULL. */
void identity_clear(struct identity *id);

#endif
