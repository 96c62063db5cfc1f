/*
 * fuzz_identity: identity_from_x509() (lib/identity.c) on certificates
 * decoded from arbitrary DER with d2i_X509(), then policy_match() on the
 * result.
 *
 * Checks (identity.h): on failure *out is all zero; on success a SPIFFE ID,
 * when there is one, is valid and splits into trust domain and name, the
 * CN holds no NUL, the serial is upper-case hex (or "-" and hex for the
 * negative serials DER allows) and NUL-terminated in its array. An
 * identity without a SPIFFE ID matches no pattern.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "fuzz.h"
#include "spiffe.h"
#include "identity.h"
#include "policy.h"

static void
check_zero(const struct identity *id)
{
	static const struct identity zero;

	CHECK(memcmp(id, &zero, sizeof(zero)) == 0);
}

static void
check_identity(const struct identity *id)
{
	size_t n = strnlen(id->serial, sizeof(id->serial)), i = 0;
	char *const pats[] = {"**", "spiffe://**", "*", "backend"};
	char *const any[] = {"*"};

	CHECK(n > 0 && n < sizeof(id->serial));
	if (id->serial[0] == '-')
		i = 1;
	for (; i < n; i++)
		CHECK(strchr("0123456789ABCDEF", id->serial[i]) != NULL);
	if (id->spiffe == NULL) {
		CHECK(id->name == NULL && id->trust_domain == NULL);
		CHECK(policy_match(pats, 4, id, any, 1) == -1);
		return;
	}
	CHECK(spiffe_valid(id->spiffe));
	CHECK(id->trust_domain != NULL && id->trust_domain[0] != '\0');
	n = strlen(id->trust_domain);
	CHECK(strncmp(id->spiffe + 9, id->trust_domain, n) == 0);
	if (id->name != NULL) {
		CHECK(id->spiffe[9 + n] == '/');
		CHECK(strcmp(id->spiffe + 9 + n + 1, id->name) == 0);
		CHECK(policy_match(pats, 4, id, any, 1) == 0);
		CHECK(policy_match(pats, 4, id, &id->trust_domain, 1) == 0);
		/* No home trust domain: only the spiffe:// pattern. */
		CHECK(policy_match(pats, 4, id, NULL, 0) == 1);
	} else {
		CHECK(id->spiffe[9 + n] == '\0');
		CHECK(policy_match(pats, 4, id, any, 1) == 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)size);
	struct identity id;

	memset(&id, 0xa5, sizeof(id));
	CHECK(identity_from_x509(NULL, &id) == -1);
	check_zero(&id);
	if (x != NULL) {
		memset(&id, 0xa5, sizeof(id));
		if (identity_from_x509(x, &id) == 0)
			check_identity(&id);
		else
			check_zero(&id);
		identity_clear(&id);
		identity_clear(&id);
		check_zero(&id);
		X509_free(x);
	}
	identity_clear(NULL);
	ERR_clear_error();
	return (0);
}
