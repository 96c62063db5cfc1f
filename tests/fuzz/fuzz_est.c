/*
 * fuzz_est: what cotai-ca serve parses from a peer: the CSR body of
 * simpleenroll/simplereenroll (ca/ca_csr.c), the Authorization header
 * (ca_token_from_auth) and, as a bonus, the tokens file (ca/ca_token.c).
 *
 * The first byte picks the parser; the rest is the input, as a heap copy of
 * exactly those bytes (NUL-terminated only where the server's string is):
 *	0: CSR body: decode, then check against a fixed identity. A CSR that
 *	   passes has a key type the index accepts and a key id; its DER
 *	   re-encoded as base64 decodes to the same request.
 *	1: Authorization header: a token taken out is 64 hex digits, found
 *	   in the header, and unknown to a table holding one minted token
 *	   (unless it is that token, which the fuzzer cannot guess).
 *	2: tokens file: what parses formats and parses again to as many
 *	   entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fuzz.h"
#include "ca_csr.h"
#include "ca_key.h"
#include "ca_token.h"

static const char *const dns[] = {"api.internal"};
static const char *const ips[] = {"10.0.0.7"};
static const struct ca_csr_identity ident = {
    "api", "spiffe://cotai.test/api", {dns, 1, ips, 1}};

static void
fuzz_csr(const char *buf, size_t len)
{
	char kt[16], *b64;
	const char *why = NULL;
	unsigned char id[CA_CSR_KEY_ID], *der = NULL;
	X509_REQ *r = ca_csr_decode(buf, len, &why), *r2;
	int dlen;

	if (r == NULL) {
		CHECK(why != NULL);
		return;
	}
	if (ca_csr_check(r, &ident, kt, &why) == 0) {
		CHECK(ca_key_type_known(kt) == 0);
		CHECK(ca_csr_key_id(X509_REQ_get0_pubkey(r), id) == 0);
	} else
		CHECK(why != NULL);
	dlen = i2d_X509_REQ(r, &der);
	if (dlen > 0 && dlen < CA_CSR_MAX_BODY / 2) {
		b64 = malloc((size_t)dlen * 2 + 4);
		CHECK(b64 != NULL);
		EVP_EncodeBlock((unsigned char *)b64, der, dlen);
		r2 = ca_csr_decode(b64, strlen(b64), &why);
		CHECK(r2 != NULL);
		X509_REQ_free(r2);
		free(b64);
	}
	OPENSSL_free(der);
	X509_REQ_free(r);
}

static void
fuzz_auth(const char *hdr)
{
	static struct ca_tokens *t;
	static char minted[CA_TOKEN_HEX + 1];
	char tok[CA_TOKEN_HEX + 1], name[CA_NAME_MAX + 1];

	if (t == NULL) {
		t = ca_tokens_new();
		CHECK(t != NULL && ca_tokens_mint(t, "web", 100, minted) == 0);
	}
	if (ca_token_from_auth(hdr, tok) != 0)
		return;
	CHECK(strlen(tok) == CA_TOKEN_HEX);
	CHECK(strstr(hdr, tok) != NULL);
	if (strcmp(tok, minted) != 0)
		CHECK(ca_tokens_find(t, tok, 1, name) == CA_TOKEN_UNKNOWN);
}

static void
fuzz_tokens(const char *buf, size_t len)
{
	struct ca_tokens *t = ca_tokens_parse(buf, len), *t2;
	BIO *b;
	char *data = NULL;
	long n;

	if (t == NULL)
		return;
	CHECK((b = BIO_new(BIO_s_mem())) != NULL);
	CHECK(ca_tokens_format(t, -1, b) == 0);
	n = BIO_get_mem_data(b, &data);
	t2 = ca_tokens_parse(data, (size_t)n);
	CHECK(t2 != NULL && ca_tokens_len(t2) == ca_tokens_len(t));
	ca_tokens_free(t2);
	ca_tokens_free(t);
	BIO_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size < 1)
		return (0);
	if ((buf = malloc(size)) == NULL)
		return (0);
	memcpy(buf, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		fuzz_csr(buf, size - 1);
		break;
	case 1:
		buf[size - 1] = '\0';
		if (strlen(buf) == size - 1)
			fuzz_auth(buf);
		break;
	default:
		fuzz_tokens(buf, size - 1);
		break;
	}
	free(buf);
	return (0);
}
