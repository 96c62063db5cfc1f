/*
 * fuzz_config: the YAML configuration loader (config/) on arbitrary files.
 *
 * config_load() reads a file, so each input is written to one file per
 * process in a scratch directory, which also holds certificates made at
 * start-up: ca.pem, cert.pem with key.pem (a matching pair), other.key (a
 * key that does not match), open.key (mode 0644) and crl.pem. Every "$D" in
 * the input is replaced by that directory, so seeds can name them
 * ("cert: $D/cert.pem") and reach the checks after the file checks.
 *
 * Checks (config.h): on failure *out is NULL and the error, written into a
 * heap block of data-derived size, is NUL-terminated inside it and starts
 * with the file name; on success every route is complete (defaults filled,
 * mode-specific lists present, patterns valid, limits within the key
 * table's ranges) and config_print() and config_free() run.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fuzz.h"
#include "spiffe.h"
#include "config.h"
#include "policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
/* Set up once; the scratch directory is removed at exit. */
static char dir[256];
static char yaml_path[300];
static FILE *devnull;
/* COTAI_FUZZ_VERBOSE=1: print each load's outcome (to check seeds). */
static bool verbose;

static const char *const files[] = {"ca.pem", "cert.pem", "key.pem",
    "other.key", "open.key", "crl.pem", "in.yaml"};

static void
cleanup(void)
{
	char p[300];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* Write a certificate, key or CRL to DIR/NAME with MODE. */
static void
write_pem(const char *name, mode_t mode, X509 *x, EVP_PKEY *k, X509_CRL *crl)
{
	char p[300];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	CHECK((fp = fopen(p, "wb")) != NULL);
	if (x != NULL)
		CHECK(PEM_write_X509(fp, x) == 1);
	if (k != NULL)
		CHECK(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL) ==
		    1);
	if (crl != NULL)
		CHECK(PEM_write_X509_CRL(fp, crl) == 1);
	CHECK(fclose(fp) == 0);
	CHECK(chmod(p, mode) == 0);
}

/* A certificate for KEY named CN, signed by SIGNER (itself if NULL). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
    EVP_PKEY *signer)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	CHECK(x != NULL && name != NULL);
	CHECK(X509_set_version(x, X509_VERSION_3) == 1);
	CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), san ? 2 : 1) == 1);
	CHECK(X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL);
	CHECK(X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) != NULL);
	CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		  (const unsigned char *)cn, -1, -1, 0) == 1);
	CHECK(X509_set_subject_name(x, name) == 1);
	CHECK(X509_set_issuer_name(x,
		  issuer != NULL ? X509_get_subject_name(issuer) : name) == 1);
	CHECK(X509_set_pubkey(x, key) == 1);
	if (san != NULL) {
		X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
		ext =
		    X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
		CHECK(ext != NULL && X509_add_ext(x, ext, -1) == 1);
		X509_EXTENSION_free(ext);
	}
	CHECK(X509_sign(x, signer != NULL ? signer : key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return (x);
}

static X509_CRL *
make_crl(X509 *ca, EVP_PKEY *cak)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();

	CHECK(crl != NULL && t != NULL);
	CHECK(X509_CRL_set_version(crl, 1) == 1);
	CHECK(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) == 1);
	CHECK(X509_gmtime_adj(t, 0) != NULL);
	CHECK(X509_CRL_set1_lastUpdate(crl, t) == 1);
	CHECK(X509_gmtime_adj(t, 86400L * 30) != NULL);
	CHECK(X509_CRL_set1_nextUpdate(crl, t) == 1);
	CHECK(X509_CRL_sign(crl, cak, EVP_sha256()) > 0);
	ASN1_TIME_free(t);
	return (crl);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	EVP_PKEY *cak, *k, *other;
	X509 *ca, *x;
	X509_CRL *crl;

	snprintf(dir, sizeof(dir), "%s/cotai-fuzz-config.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	atexit(cleanup);
	snprintf(yaml_path, sizeof(yaml_path), "%s/in.yaml", dir);
	CHECK((devnull = fopen("/dev/null", "w")) != NULL);
	verbose = getenv("COTAI_FUZZ_VERBOSE") != NULL;
	CHECK((cak = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);
	CHECK((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);
	CHECK((other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);
	ca = make_cert(cak, "cotai fuzz CA", NULL, NULL, NULL);
	x = make_cert(
	    k, "backend", "URI:spiffe://cotai.internal/backend", ca, cak);
	crl = make_crl(ca, cak);
	write_pem("ca.pem", 0644, ca, NULL, NULL);
	write_pem("cert.pem", 0644, x, NULL, NULL);
	write_pem("key.pem", 0600, NULL, k, NULL);
	write_pem("other.key", 0600, NULL, other, NULL);
	write_pem("open.key", 0644, NULL, k, NULL);
	write_pem("crl.pem", 0644, NULL, NULL, crl);
	X509_CRL_free(crl);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cak);
	return (0);
}

/* Write DATA to yaml_path with every "$D" replaced by the directory. */
static void
write_input(const uint8_t *data, size_t size)
{
	FILE *fp = fopen(yaml_path, "wb");
	size_t i = 0;

	CHECK(fp != NULL);
	while (i < size) {
		const uint8_t *d = memchr(data + i, '$', size - i);
		size_t n = d != NULL ? (size_t)(d - data) - i : size - i;

		CHECK(fwrite(data + i, 1, n, fp) == n);
		i += n;
		if (d == NULL)
			break;
		if (i + 1 < size && data[i + 1] == 'D') {
			CHECK(fputs(dir, fp) >= 0);
			i += 2;
		} else {
			CHECK(fputc('$', fp) != EOF);
			i++;
		}
	}
	CHECK(fclose(fp) == 0);
}

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return (false);
	return (strspn(s,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_.-") == n);
}

static void
check_patterns(char *const *list, size_t n)
{
	CHECK(list != NULL);
	for (size_t i = 0; i < n; i++)
		CHECK(list[i] != NULL &&
		    spiffe_pattern_check(list[i], NULL) == 0);
}

static void
check_addr(const struct config_addr *a)
{
	CHECK(a->text != NULL);
	if (a->kind == CONFIG_ADDR_UNIX)
		CHECK(a->path != NULL && a->path[0] == '/');
	else
		CHECK(a->kind == CONFIG_ADDR_INET && a->host != NULL &&
		    a->port != NULL);
}

/* A route of a loaded config is complete and within its limits. */
static void
check_route(const struct cotai_config *cfg, size_t i)
{
	const struct config_route *r = &cfg->routes[i];
	const uint32_t week = 7U * 86400000U;

	CHECK(r->name != NULL && name_ok(r->name));
	for (size_t j = 0; j < i; j++)
		CHECK(strcmp(r->name, cfg->routes[j].name) != 0);
	if (r->mode == CONFIG_MODE_ORIGINATE) {
		CHECK(r->nexpect > 0 && r->nallow == 0);
		check_patterns(r->expect, r->nexpect);
		/* A plaintext listener beyond loopback only when asked. */
		CHECK(
		    r->plaintext_bind_any || config_addr_is_local(&r->listen));
	} else {
		CHECK(r->mode == CONFIG_MODE_TERMINATE);
		CHECK(r->nallow > 0 && r->nexpect == 0);
		check_patterns(r->allow, r->nallow);
		CHECK(r->protocol == CONFIG_PROTO_TCP ||
		    r->protocol == CONFIG_PROTO_POSTGRES);
	}
	CHECK(r->protocol >= CONFIG_PROTO_TCP &&
	    r->protocol <= CONFIG_PROTO_MONGO);
	/* Trust domains: valid, or "*" alone; a route keeps its own. */
	for (size_t j = 0; j < r->ntrust_domains; j++) {
		const char *td = r->trust_domains[j];

		CHECK(td != NULL);
		CHECK(strcmp(td, "*") == 0
			? r->ntrust_domains == 1
			: spiffe_td_check(td, strlen(td), NULL) == 0);
	}
	CHECK(r->trust_domains_set ? r->ntrust_domains > 0 : 1);
	if (r->identity.trust_domain != NULL && !r->trust_domains_set)
		CHECK(r->ntrust_domains == 1 &&
		    strcmp(r->trust_domains[0], r->identity.trust_domain) == 0);
	check_addr(&r->listen);
	check_addr(&r->target);
	CHECK(r->identity.ca != NULL && r->identity.cert != NULL &&
	    r->identity.key != NULL);
	CHECK(r->timeouts.connect_ms > 0 && r->timeouts.connect_ms <= week);
	CHECK(r->timeouts.handshake_ms > 0 && r->timeouts.handshake_ms <= week);
	CHECK(r->timeouts.halfclose_ms > 0 && r->timeouts.halfclose_ms <= week);
	CHECK(r->timeouts.idle_ms <= week);
	CHECK(r->max_connections >= 1 && r->max_connections <= 1000000);
	CHECK(r->tls_min_version == TLS1_2_VERSION ||
	    r->tls_min_version == TLS1_3_VERSION);
	CHECK(r->buffer_bytes >= 4096 && r->buffer_bytes <= 64U << 20);
	CHECK(config_mode_name(r->mode) != NULL);
	CHECK(config_proto_name(r->protocol) != NULL);
}

static void
check_config(const struct cotai_config *cfg)
{
	CHECK(cfg->path != NULL && strcmp(cfg->path, yaml_path) == 0);
	CHECK(cfg->nroutes > 0 && cfg->routes != NULL);
	CHECK(cfg->workers >= 1 && cfg->workers <= 64);
	CHECK(cfg->max_connections >= 1 && cfg->max_connections <= 10000000);
	CHECK(cfg->drain_timeout_ms <= 7U * 86400000U);
	CHECK(cfg->drain_delay_ms <= 600000U);
	CHECK(cfg->log_level >= 0 && cfg->log_level <= 3);
	CHECK(cfg->log_format == 0 || cfg->log_format == 1);
	CHECK(cfg->user == NULL || name_ok(cfg->user));
	check_addr(&cfg->admin_listen);
	for (size_t i = 0; i < cfg->nroutes; i++)
		check_route(cfg, i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cotai_config sentinel;
	struct cotai_config *cfg = &sentinel;
	size_t errlen =
	    verbose ? 4096 : 1 + (size > 0 ? data[size - 1] % 160 : 0);
	size_t plen = strlen(yaml_path);
	char *err = malloc(errlen);
	int rc;

	CHECK(err != NULL);
	memset(err, 'x', errlen);
	write_input(data, size);
	rc = config_load(yaml_path, &cfg, err, errlen);
	CHECK(memchr(err, '\0', errlen) != NULL);
	if (verbose)
		fprintf(stderr, "fuzz_config: %s\n", rc == 0 ? "loaded" : err);
	if (rc == 0) {
		CHECK(cfg != NULL);
		check_config(cfg);
		config_print(cfg, devnull);
		config_free(cfg);
	} else {
		CHECK(rc == -1 && cfg == NULL);
		/* "FILE:LINE:COL: ...", cut to fit. */
		CHECK(strncmp(err, yaml_path,
			  plen < errlen - 1 ? plen : errlen - 1) == 0);
		if (errlen > plen + 1)
			CHECK(err[plen] == ':');
	}
	free(err);
	config_free(NULL);
	ERR_clear_error();
	return (0);
}
