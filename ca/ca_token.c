/*
 * ca_token: see ca_token.h.
 */
#include "ca_token.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ca_util.h"

struct ca_tokens {
	struct ca_token_entry *v;
	size_t n, cap;
};

struct ca_tokens *
ca_tokens_new(void)
{
	return (calloc(1, sizeof(struct ca_tokens)));
}

void
ca_tokens_free(struct ca_tokens *t)
{
	if (t == NULL)
		return;
	OPENSSL_cleanse(t->v, t->cap * sizeof(*t->v));
	free(t->v);
	free(t);
}

size_t
ca_tokens_len(const struct ca_tokens *t)
{
	return (t->n);
}

static int
ca_token_is_hex(const char *s)
{
	return (strlen(s) == CA_TOKEN_HEX &&
	    strspn(s, "0123456789abcdef") == CA_TOKEN_HEX);
}

static int
ca_tokens_append(struct ca_tokens *t, const struct ca_token_entry *e)
{
	struct ca_token_entry *v;

	if (t->n == CA_TOKEN_MAX) {
		ca_util_err("too many tokens (%d)", CA_TOKEN_MAX);
		return (-1);
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;

		if ((v = realloc(t->v, cap * sizeof(*v))) == NULL) {
			ca_util_err("out of memory");
			return (-1);
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *e;
	return (0);
}

/* Parse one non-comment line (NUL-terminated, no line end). */
static const char *
ca_tokens_line(char *line, struct ca_token_entry *e)
{
	char *hash, *exp, *name, *end = NULL;
	long long v;

	hash = line;
	if ((exp = strchr(hash, ' ')) == NULL)
		return ("missing fields");
	*exp++ = '\0';
	if ((name = strchr(exp, ' ')) == NULL)
		return ("missing fields");
	*name++ = '\0';
	if (!ca_token_is_hex(hash))
		return ("bad hash");
	errno = 0;
	v = strtoll(exp, &end, 10);
	if (errno != 0 || end == exp || *end != '\0' || v < 0)
		return ("bad expiry");
	if (ca_name_workload(name) != 0)
		return ("bad name");
	memcpy(e->hash, hash, CA_TOKEN_HEX + 1);
	e->expires = v;
	snprintf(e->name, sizeof(e->name), "%s", name);
	return (NULL);
}

struct ca_tokens *
ca_tokens_parse(const char *buf, size_t len)
{
	struct ca_tokens *t = ca_tokens_new();
	struct ca_token_entry e;
	char line[CA_TOKEN_HEX + 32 + CA_NAME_MAX];
	size_t off = 0, lineno = 0;

	if (t == NULL) {
		ca_util_err("out of memory");
		return (NULL);
	}
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off), *why;
		size_t n = (nl != NULL ? (size_t)(nl - buf) : len) - off;

		lineno++;
		if (n >= sizeof(line) || memchr(buf + off, '\0', n) != NULL) {
			why = "line too long or binary";
			goto bad;
		}
		memcpy(line, buf + off, n);
		line[n] = '\0';
		off += n + 1;
		if (n == 0 || line[0] == '#')
			continue;
		memset(&e, 0, sizeof(e));
		if ((why = ca_tokens_line(line, &e)) != NULL)
			goto bad;
		if (ca_tokens_append(t, &e) != 0)
			goto err;
		continue;
	bad:
		ca_util_err("tokens line %zu: %s", lineno, why);
		goto err;
	}
	return (t);
err:
	ca_tokens_free(t);
	return (NULL);
}

int
ca_tokens_format(const struct ca_tokens *t, int64_t now, BIO *b)
{
	if (BIO_puts(b, "# cotai-ca tokens v1\n") <= 0)
		return (-1);
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].expires <= now)
			continue;
		if (BIO_printf(b, "%s %lld %s\n", t->v[i].hash,
			(long long)t->v[i].expires, t->v[i].name) <= 0)
			return (-1);
	}
	return (0);
}

int
ca_token_hash(const char *token, char *out)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (!EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != sizeof(md))
		return (-1);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return (0);
}

int
ca_tokens_mint(
    struct ca_tokens *t, const char *name, int64_t expires, char *out)
{
	struct ca_token_entry e;
	unsigned char raw[CA_TOKEN_HEX / 2];

	memset(&e, 0, sizeof(e));
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		ca_util_err_ssl("random token");
		return (-1);
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (ca_token_hash(out, e.hash) != 0)
		return (-1);
	e.expires = expires;
	snprintf(e.name, sizeof(e.name), "%s", name);
	return (ca_tokens_append(t, &e));
}

/* The index of TOKEN's entry in T, or -1 (compared in constant time). */
static long
ca_tokens_index(const struct ca_tokens *t, const char *token)
{
	char hash[CA_TOKEN_HEX + 1];
	long found = -1;

	if (!ca_token_is_hex(token) || ca_token_hash(token, hash) != 0)
		return (-1);
	for (size_t i = 0; i < t->n; i++)
		if (CRYPTO_memcmp(t->v[i].hash, hash, CA_TOKEN_HEX) == 0)
			found = (long)i;
	return (found);
}

static void
ca_tokens_drop(struct ca_tokens *t, size_t i)
{
	t->v[i] = t->v[--t->n];
	OPENSSL_cleanse(&t->v[t->n], sizeof(t->v[t->n]));
}

enum ca_token_result
ca_tokens_find(struct ca_tokens *t, const char *token, int64_t now, char *name)
{
	long i;

	if (!ca_token_is_hex(token))
		return (CA_TOKEN_MALFORMED);
	if ((i = ca_tokens_index(t, token)) < 0)
		return (CA_TOKEN_UNKNOWN);
	memcpy(name, t->v[i].name, strlen(t->v[i].name) + 1);
	if (t->v[i].expires <= now) {
		ca_tokens_drop(t, (size_t)i);
		return (CA_TOKEN_EXPIRED);
	}
	return (CA_TOKEN_OK);
}

int
ca_tokens_remove(struct ca_tokens *t, const char *token)
{
	long i = ca_tokens_index(t, token);

	if (i < 0)
		return (-1);
	ca_tokens_drop(t, (size_t)i);
	return (0);
}

int
ca_token_from_auth(const char *hdr, char *out)
{
	size_t n;

	if (strncasecmp(hdr, "Bearer ", 7) != 0)
		return (-1);
	hdr += 7;
	hdr += strspn(hdr, " ");
	n = strspn(hdr, "0123456789abcdef");
	if (n != CA_TOKEN_HEX || hdr[n + strspn(hdr + n, " \t")] != '\0')
		return (-1);
	memcpy(out, hdr, n);
	out[n] = '\0';
	return (0);
}

struct ca_tokens *
ca_tokens_load(struct ca_store *s)
{
	struct ca_tokens *t;
	char path[PATH_MAX], *data = NULL;
	BIO *b;
	long len;

	if (ca_store_path(s, "tokens", path, sizeof(path)) != 0)
		return (NULL);
	if (!ca_store_exists(path)) {
		if ((t = ca_tokens_new()) == NULL)
			ca_util_err("out of memory");
		return (t);
	}
	if (ca_store_check_private(path) != 0 ||
	    (b = ca_store_read_bio(path, 1)) == NULL)
		return (NULL);
	len = BIO_get_mem_data(b, &data);
	t = ca_tokens_parse(data, len > 0 ? (size_t)len : 0);
	BIO_free(b);
	return (t);
}

int
ca_tokens_save(struct ca_store *s, const struct ca_tokens *t, int64_t now)
{
	char path[PATH_MAX];
	BIO *b = NULL;
	int rc = -1;

	if (ca_store_path(s, "tokens", path, sizeof(path)) != 0)
		return (-1);
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    ca_tokens_format(t, now, b) != 0) {
		ca_util_err_ssl("format tokens");
		goto out;
	}
	rc = ca_store_write_bio(path, b, 0600);
out:
	BIO_free(b);
	return (rc);
}
