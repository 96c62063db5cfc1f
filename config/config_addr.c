/*
 * config_addr: listen/target addresses ("host:port", "[v6]:port",
 * "unix:/path") and the names of the route enums. See config.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define ADDR_HOST_MAX 253

/* A host name or IPv4 literal: [A-Za-z0-9._-], 1..253 characters. */
static bool
addr_host_ok(const char *h, size_t len)
{
	if (len == 0 || len > ADDR_HOST_MAX)
		return (false);
	for (size_t i = 0; i < len; i++) {
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' &&
		    h[i] != '-' && h[i] != '_')
			return (false);
	}
	return (true);
}

/* A decimal port 0..65535, normalised into BUF. */
static int
addr_port(const char *p, char *buf, size_t len)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; p[n] >= '0' && p[n] <= '9'; n++) {
		v = v * 10 + (unsigned long)(p[n] - '0');
		if (n >= 5 || v > 65535)
			return (-1);
	}
	if (n == 0 || p[n] != '\0')
		return (-1);
	snprintf(buf, len, "%lu", v);
	return (0);
}

static int
addr_unix(const char *s, struct config_addr *a)
{
	const char *path = s + strlen("unix:");
	struct sockaddr_un sun;

	if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path))
		return (-1);
	a->kind = CONFIG_ADDR_UNIX;
	if ((a->text = strdup(s)) == NULL || (a->path = strdup(path)) == NULL)
		return (-1);
	return (0);
}

int
config_addr_parse(const char *s, struct config_addr *out)
{
	struct config_addr a = {CONFIG_ADDR_INET, NULL, NULL, NULL, NULL};
	struct in6_addr in6;
	const char *colon, *host = s;
	char port[8], h6[INET6_ADDRSTRLEN + 1];
	size_t hlen;

	if (strncmp(s, "unix:", 5) == 0) {
		if (addr_unix(s, &a) == -1)
			goto fail;
		*out = a;
		return (0);
	}
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':' ||
		    (size_t)(end - s - 1) >= sizeof(h6))
			goto fail;
		hlen = (size_t)(end - s - 1);
		memcpy(h6, s + 1, hlen);
		h6[hlen] = '\0';
		if (inet_pton(AF_INET6, h6, &in6) != 1)
			goto fail;
		host = h6;
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			goto fail;
		hlen = (size_t)(colon - s);
		if (!addr_host_ok(s, hlen))
			goto fail;
	}
	if (addr_port(colon + 1, port, sizeof(port)) == -1)
		goto fail;
	if ((a.text = strdup(s)) == NULL ||
	    (a.host = strndup(host, hlen)) == NULL ||
	    (a.port = strdup(port)) == NULL)
		goto fail;
	*out = a;
	return (0);
fail:
	config_addr_clear(&a);
	return (-1);
}

void
config_addr_clear(struct config_addr *a)
{
	if (a == NULL)
		return;
	free(a->text);
	free(a->host);
	free(a->port);
	free(a->path);
	a->text = a->host = a->port = a->path = NULL;
}

bool
config_addr_is_local(const struct config_addr *a)
{
	struct in_addr in4;
	struct in6_addr in6;

	if (a->kind == CONFIG_ADDR_UNIX)
		return (true);
	if (a->host == NULL)
		return (false);
	if (strcasecmp(a->host, "localhost") == 0)
		return (true);
	if (inet_pton(AF_INET, a->host, &in4) == 1)
		return ((ntohl(in4.s_addr) >> 24) == 127);
	if (inet_pton(AF_INET6, a->host, &in6) == 1)
		return (IN6_IS_ADDR_LOOPBACK(&in6) ||
		    (IN6_IS_ADDR_V4MAPPED(&in6) && in6.s6_addr[12] == 127));
	return (false);
}

const char *
config_mode_name(enum config_mode m)
{
	return (m == CONFIG_MODE_ORIGINATE ? "originate" : "terminate");
}

const char *
config_proto_name(enum config_proto p)
{
	switch (p) {
	case CONFIG_PROTO_POSTGRES:
		return ("postgres");
	case CONFIG_PROTO_REDIS:
		return ("redis");
	case CONFIG_PROTO_MONGO:
		return ("mongo");
	default:
		return ("tcp");
	}
}

const char *
config_sandbox_name(enum config_sandbox s)
{
	switch (s) {
	case CONFIG_SANDBOX_LANDLOCK:
		return ("landlock");
	case CONFIG_SANDBOX_OFF:
		return ("off");
	default:
		return ("auto");
	}
}
