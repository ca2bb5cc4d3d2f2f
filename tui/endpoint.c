/* endpoint.c — parse, format and compare connection endpoints. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "endpoint.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void ep_set(struct ep *ep, int family, const void *addr, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->port = port;
	if (family == AF_INET6 && memcmp(addr, v4mapped_prefix, 12) == 0) {
		ep->family = AF_INET;
		memcpy(ep->addr, (const uint8_t *)addr + 12, 4);
	} else if (family == AF_INET6) {
		ep->family = AF_INET6;
		memcpy(ep->addr, addr, 16);
	} else {
		ep->family = AF_INET;
		memcpy(ep->addr, addr, 4);
	}
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int ep_parse(const char *text, struct ep *ep)
{
	char host[INET6_ADDRSTRLEN + 16];
	const char *colon, *portstr;
	uint8_t raw[16];
	uint16_t port;
	size_t n;

	if (text == NULL)
		return -1;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		n = (size_t)(close - text - 1);
		if (n >= sizeof(host))
			return -1;
		memcpy(host, text + 1, n);
		host[n] = '\0';
		host[strcspn(host, "%")] = '\0';
		portstr = close + 2;
		if (parse_port(portstr, &port) < 0 ||
		    inet_pton(AF_INET6, host, raw) != 1)
			return -1;
		ep_set(ep, AF_INET6, raw, port);
		return 0;
	}
	colon = strrchr(text, ':');
	if (colon == NULL)
		return -1;
	n = (size_t)(colon - text);
	if (n >= sizeof(host))
		return -1;
	memcpy(host, text, n);
	host[n] = '\0';
	if (parse_port(colon + 1, &port) < 0 || inet_pton(AF_INET, host, raw) != 1)
		return -1;
	ep_set(ep, AF_INET, raw, port);
	return 0;
}

char *ep_format(const struct ep *ep, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (size == 0)
		return buf;
	if (ep->family != AF_INET && ep->family != AF_INET6) {
		snprintf(buf, size, "*");
		return buf;
	}
	if (inet_ntop(ep->family, ep->addr, host, sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "?");
	if (ep->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", host, (unsigned)ep->port);
	else
		snprintf(buf, size, "%s:%u", host, (unsigned)ep->port);
	return buf;
}

int ep_is_set(const struct ep *ep)
{
	return ep->family == AF_INET || ep->family == AF_INET6;
}

static size_t addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

int ep_equal(const struct ep *a, const struct ep *b)
{
	if (!ep_is_set(a) || !ep_is_set(b))
		return !ep_is_set(a) && !ep_is_set(b);
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, addr_len(a->family)) == 0;
}

int ep_is_wildcard(const struct ep *ep)
{
	static const uint8_t zero[16];

	return ep_is_set(ep) && memcmp(ep->addr, zero, addr_len(ep->family)) == 0;
}

int ep_listener_accepts(const struct ep *listen, const struct ep *dst)
{
	if (!ep_is_set(listen) || !ep_is_set(dst) || listen->port != dst->port)
		return 0;
	if (ep_is_wildcard(listen))
		/* "::" takes IPv4 clients too (the lessons clear V6ONLY). */
		return listen->family == AF_INET6 || dst->family == AF_INET;
	return ep_equal(listen, dst);
}

int ep_compare(const struct ep *a, const struct ep *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, addr_len(a->family));
	if (c != 0)
		return c < 0 ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}
