/*
 * ca_readback: see ca_readback.h.
 */
#include "ca_readback.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "ca_cert.h"
#include "ca_ctx.h"
#include "ca_key.h"
#include "ca_util.h"

/* Does the first certificate of CERT_PATH carry SERIAL and match KEY? */
static int
ca_readback_pair(const char *cert_path, EVP_PKEY *key, const char *serial)
{
	char hex[CA_CERT_SERIAL_HEX + 1];
	X509 *x = NULL;
	int rc = -1;

	if ((x = ca_ctx_load_cert(cert_path)) == NULL)
		goto out;
	if (ca_cert_serial_hex(x, hex, sizeof(hex)) != 0 ||
	    strcmp(hex, serial) != 0) {
		ca_util_err("%s was replaced after it was written (serial is "
			    "not %s)",
		    cert_path, serial);
		goto out;
	}
	if (X509_check_private_key(x, key) != 1) {
		ca_util_err("%s no longer matches its key", cert_path);
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	return (rc);
}

/* PATH (PATHLEN bytes) = DIR/NAME.EXT; 0 or -1. */
static int
ca_readback_path(
    char *path, size_t len, const char *dir, const char *name, const char *ext)
{
	int n = snprintf(path, len, "%s/%s.%s", dir, name, ext);

	if (n < 0 || (size_t)n >= len) {
		ca_util_err("path too long: %s/%s.%s", dir, name, ext);
		return (-1);
	}
	return (0);
}

int
ca_readback_check(const char *dir, const struct ca_index_entry *e, int combined)
{
	char path[PATH_MAX];
	EVP_PKEY *key = NULL, *ckey = NULL;
	int rc = -1;

	if (ca_readback_path(path, sizeof(path), dir, e->name, "key") != 0 ||
	    (key = ca_key_load(path, NULL)) == NULL)
		goto out;
	if (ca_readback_path(path, sizeof(path), dir, e->name, "crt") != 0 ||
	    ca_readback_pair(path, key, e->serial) != 0)
		goto out;
	if (combined) {
		if (ca_readback_path(path, sizeof(path), dir, e->name, "pem") !=
			0 ||
		    (ckey = ca_key_load(path, NULL)) == NULL ||
		    ca_readback_pair(path, ckey, e->serial) != 0)
			goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(key);
	EVP_PKEY_free(ckey);
	return (rc);
}
