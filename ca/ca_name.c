/*
 * ca_name: see ca_name.h.
 */
#include "ca_name.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

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
	n = snprintf(buf, len, "spiffe://%s/%s", td, name);
	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (0);
}

/* One SPIFFE path segment of LEN bytes at S. */
static int
ca_name_spiffe_segment(const char *s, size_t len)
{
	if (len == 0 || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return (-1);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!ca_name_is_alnum(c) && !(c >= 'A' && c <= 'Z') &&
		    c != '.' && c != '-' && c != '_')
			return (-1);
	}
	return (0);
}

int
ca_name_spiffe_parse(const char *id, char *td, size_t tdlen, const char **path)
{
	static const char scheme[] = "spiffe://";
	const char *p, *slash;
	size_t n;

	if (id == NULL || strncmp(id, scheme, sizeof(scheme) - 1) != 0)
		return (-1);
	p = id + sizeof(scheme) - 1;
	if ((slash = strchr(p, '/')) == NULL)
		return (-1);
	n = (size_t)(slash - p);
	if (n == 0 || n >= tdlen)
		return (-1);
	memcpy(td, p, n);
	td[n] = '\0';
	if (ca_name_trust_domain(td) != 0)
		return (-1);
	p = slash + 1;
	*path = p;
	do {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (ca_name_spiffe_segment(p, n) != 0)
			return (-1);
		p += n + 1;
	} while (slash != NULL);
	return (0);
}
