/*
 * ca_serve_conf: the configuration of cotai-ca serve, from a YAML file
 * (one flat mapping) and/or command-line flags. It is built in three steps:
 * every field unset, then the file, then the flags (a flag wins over the
 * file), then defaults for what is still unset. A bad file is refused with
 * "FILE:LINE:COL: KEY: what is wrong"; a bad flag with "--KEY: ...".
 *
 *	key              default      meaning
 *	listen           127.0.0.1:8443  address:port to bind (port 0: any)
 *	tls_cert         (required)   the server's certificate chain, PEM
 *	tls_key          (required)   its key, PEM
 *	ttl              24h          lifetime of the certificates issued
 *	max_body         16384        largest request body, bytes
 *	max_connections  256          concurrent connections (more wait)
 *	rate             10           issuance attempts per identity a minute
 *	timeout          10s          idle read/write timeout of a connection
 *	crl_max_age      60s          Cache-Control max-age of GET /crl
 *	rollover_delay   10m          after "cotai-ca rollover", keep issuing
 *	                              under the previous intermediate this long
 *	                              (the new CRL reaches every sidecar first)
 *	audit            (stdout)     file the JSON audit lines are appended to
 *	port_file        (none)       file to write "ADDR:PORT" bound into
 */
#ifndef COTAI_CA_SERVE_CONF_H
#define COTAI_CA_SERVE_CONF_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct ca_serve_conf {
	char listen[256];
	char tls_cert[PATH_MAX];
	char tls_key[PATH_MAX];
	char audit[PATH_MAX];
	char port_file[PATH_MAX];
	int64_t ttl;     /* seconds */
	int64_t timeout; /* seconds */
	int64_t crl_max_age;
	int64_t rollover_delay; /* seconds */
	uint64_t max_body;
	uint64_t max_connections;
	uint64_t rate;
};

/* Every field unset. */
void ca_serve_conf_init(struct ca_serve_conf *c);

/*
 * Set KEY to the text VALUE after checking it; 0, or -1 with the reason in
 * ERR (ERRLEN bytes). Used for both the file and the flags.
 */
int ca_serve_conf_set(struct ca_serve_conf *c, const char *key,
    const char *value, char *err, size_t errlen);

/*
 * Read the YAML file PATH into C. With ONLY_UNSET, keys already set (by
 * the flags, which are parsed first) keep their value. 0, or -1 with
 * "PATH:LINE:COL: KEY: reason" in ERR.
 */
int ca_serve_conf_load(struct ca_serve_conf *c, const char *path,
    int only_unset, char *err, size_t errlen);

/*
 * Fill defaults and check what is required; 0, or -1 with the reason in
 * ERR.
 */
int ca_serve_conf_finish(struct ca_serve_conf *c, char *err, size_t errlen);

/* Print the effective configuration (for --check) on standard output. */
void ca_serve_conf_print(const struct ca_serve_conf *c);

#endif
