/*
 * The fixture of the config suites (check_config*.c): a temp dir with
 * certificates, keys (good, mismatched, open to others, group-readable) and
 * a CRL made in memory, the secrets the example configs expect, and load(),
 * which writes YAML with "@D@" replaced by that dir and loads it; ID, R_O
 * and R_T, the YAML pieces most cases are made of. Included once by each
 * suite's file (its static functions are that file's own).
 */
#ifndef COTAI_TEST_CONFIG_FIXTURE_H
#define COTAI_TEST_CONFIG_FIXTURE_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "testcert.h"

static char dir[64];
static char err[512];
static char yaml_path[128];

static void
dir_file(char *buf, size_t len, const char *name)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/%s", dir, name), (int)len);
}

static const char *const examples[] = {"backend", "postgres", "redis", "mongo"};

/* What config/NAME.yaml expects under /run/secrets/cotai-NAME/. */
static void
example_secrets(const char *name, X509 *ca, EVP_PKEY *cak)
{
	char sub[96], p[160], san[96];
	EVP_PKEY *k = testcert_key();
	X509 *x;

	snprintf(san, sizeof(san), "URI:spiffe://cotai.internal/%s", name);
	x = testcert_make(k, name, san);
	snprintf(sub, sizeof(sub), "%s/cotai-%s", dir, name);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(p, sizeof(p), "%s/ca.crt", sub);
	testcert_write_cert(p, ca);
	snprintf(p, sizeof(p), "%s/crl.pem", sub);
	testcert_write_crl(p, ca, cak);
	snprintf(p, sizeof(p), "%s/%s.crt", sub, name);
	testcert_write_cert(p, x);
	snprintf(p, sizeof(p), "%s/%s.key", sub, name);
	testcert_write_key(p, k, 0600);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
setup(void)
{
	EVP_PKEY *cak, *k, *k2, *other;
	X509 *ca, *x, *x2;
	char p[128];
	FILE *fp;

	snprintf(dir, sizeof(dir), "/tmp/cotai-check-config-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	cak = testcert_key();
	k = testcert_key();
	k2 = testcert_key();
	other = testcert_key();
	ca = testcert_make(cak, "cotai test CA", NULL);
	x = testcert_make(k, "backend", "URI:spiffe://cotai.internal/backend");
	x2 = testcert_make(k2, "jobs", "URI:spiffe://cotai.internal/jobs");
	dir_file(p, sizeof(p), "ca.pem");
	testcert_write_cert(p, ca);
	dir_file(p, sizeof(p), "cert.pem");
	testcert_write_cert(p, x);
	dir_file(p, sizeof(p), "key.pem");
	testcert_write_key(p, k, 0600);
	dir_file(p, sizeof(p), "open.key");
	testcert_write_key(p, k, 0644);
	dir_file(p, sizeof(p), "group.key");
	testcert_write_key(p, k, 0640);
	dir_file(p, sizeof(p), "other.key");
	testcert_write_key(p, other, 0600);
	dir_file(p, sizeof(p), "cert2.pem");
	testcert_write_cert(p, x2);
	dir_file(p, sizeof(p), "key2.pem");
	testcert_write_key(p, k2, 0400);
	dir_file(p, sizeof(p), "crl.pem");
	testcert_write_crl(p, ca, cak);
	dir_file(p, sizeof(p), "garbage.pem");
	ck_assert_ptr_nonnull(fp = fopen(p, "w"));
	fputs("-----BEGIN CERTIFICATE-----\nnot base64\n", fp);
	fclose(fp);
	dir_file(yaml_path, sizeof(yaml_path), "t.yaml");
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
		example_secrets(examples[i], ca, cak);
	X509_free(ca);
	X509_free(x);
	X509_free(x2);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(other);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static void
teardown(void)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write YAML (with "@D@" replaced by the temp dir) and load it. */
static int
load(const char *yaml, struct cotai_config **cfg)
{
	FILE *fp = fopen(yaml_path, "w");
	const char *at;

	ck_assert_ptr_nonnull(fp);
	while ((at = strstr(yaml, "@D@")) != NULL) {
		fwrite(yaml, 1, (size_t)(at - yaml), fp);
		fputs(dir, fp);
		yaml = at + 3;
	}
	fputs(yaml, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return (config_load(yaml_path, cfg, err, sizeof(err)));
}

#define ID "identity: {ca: @D@/ca.pem, cert: @D@/cert.pem, key: @D@/key.pem}\n"
/* An originate route at lines 3-7 (its mapping starts at 3:5). */
#define R_O                                                                    \
	"  - name: a\n    mode: originate\n    listen: 127.0.0.1:1000\n"       \
	"    target: peer:2000\n    expect: peer\n"
/* A terminate route, five lines. */
#define R_T                                                                    \
	"  - name: b\n    mode: terminate\n    listen: 0.0.0.0:2000\n"         \
	"    target: 127.0.0.1:3000\n    allow: [backend]\n"

/* GOT must be the file NAME in the temp dir. */
__attribute__((unused)) static void
assert_file(const char *got, const char *name)
{
	char p[128];

	dir_file(p, sizeof(p), name);
	ck_assert_str_eq(got, p);
}

/* Where err points after "PATH:". */
static const char *
err_rest(void)
{
	size_t n = strlen(yaml_path);

	ck_assert_msg(strncmp(err, yaml_path, n) == 0 && err[n] == ':',
	    "error does not start with the file: %s", err);
	return (err + n + 1);
}

/* YAML (case I) must be refused, *cfg left NULL, with an error that after
 * "PATH:" starts with WANT ("LINE:COL: KEY: ..."). */
__attribute__((unused)) static void
refused(size_t i, const char *yaml, const char *want)
{
	struct cotai_config *cfg = (void *)1;

	ck_assert_int_eq(load(yaml, &cfg), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strncmp(err_rest(), want, strlen(want)) == 0,
	    "case %zu: got \"%s\", want \"%s\"", i, err_rest(), want);
}

#endif
