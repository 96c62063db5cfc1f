/*
 * ca_name: see ca_name.h.
 */
#include "ca_name.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "spiffe.h"

static int
ca_name_is_alnum(char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
}

/* Labels of [a-z0-9-] (plus EXTRA), 1-63 long, alnum at both ends. */
static int
ca_name_labels(const char *s, size_t max, const char *extra)
{
	size_t len, label = 0;

	if (s == NULL || (len = strlen(s)) == 0 || len > max)
		return (-1);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || !ca_name_is_alnum(s[i - 1]))
				return (-1);
			label = 0;
			continue;
		}
		if (!ca_name_is_alnum(c) && c != '-' &&
		    (extra == NULL || strchr(extra, c) == NULL))
			return (-1);
		if (label == 0 && !ca_name_is_alnum(c))
			return (-1);
		if (++label > 63)
			return (-1);
	}
	if (label == 0 || !ca_name_is_alnum(s[len - 1]))
		return (-1);
	return (0);
}

int
ca_name_workload(const char *name)
{
	return (ca_name_labels(name, CA_NAME_MAX, NULL));
}

int
ca_name_dns(const char *name)
{
	return (ca_name_labels(name, CA_NAME_MAX, NULL));
}

int
ca_name_trust_domain(const char *td)
{
	/* The SPIFFE grammar, then DNS-style labels on top. */
	if (td == NULL || spiffe_td_check(td, strlen(td), NULL) != 0)
		return (-1);
	return (ca_name_labels(td, CA_NAME_TD_MAX, "_"));
}

const char *
ca_name_reserved(const char *name)
{
	if (name == NULL)
		return (NULL);
	if (strcmp(name, "ca") == 0)
		return ("ca.crt");
	if (strcmp(name, "crl") == 0)
		return ("crl.pem");
	return (NULL);
}

int
ca_name_ip(const char *ip)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (ip == NULL)
		return (-1);
	if (inet_pton(AF_INET, ip, buf) == 1 ||
	    inet_pton(AF_INET6, ip, buf) == 1)
		return (0);
	return (-1);
}

int
ca_name_spiffe_id(const char *td, const char *name, char *buf, size_t len)
{
	int n;

	if (ca_name_trust_domain(td) != 0 || ca_name_workload(name) != 0)
		return (-1);
	n = snprintf(buf, len, SPIFFE_PREFIX "%s/%s", td, name);
	if (n < 0 || (size_t)n >= len)
		return (-1);
	/* A name the CA accepts is always a valid SPIFFE ID. */
	return (spiffe_parse(buf, SPIFFE_NEED_PATH, NULL, NULL));
}
