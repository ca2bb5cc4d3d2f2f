/* endpoint.h — one end of a TCP connection: an IP address and a port.
 *
 * Connections are keyed by the full 4-tuple (both ends are usually
 * 127.0.0.1, so the ports are what tell them apart). IPv4-mapped IPv6
 * addresses (::ffff:127.0.0.1, what a dual-stack server sees) are stored
 * as plain IPv4, so both ends of one connection compare equal.
 */
#ifndef TUI_ENDPOINT_H
#define TUI_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#define EP_TEXT_LEN 64

struct ep {
	int family;        /* 0 (none), AF_INET or AF_INET6 */
	uint16_t port;
	uint8_t addr[16];  /* 4 bytes used for AF_INET */
};

/* Parse "127.0.0.1:40000" or "[::1]:7" (a "%scope" is ignored). Returns 0,
 * or -1 for anything else (a Unix path, garbage). */
int ep_parse(const char *text, struct ep *ep);

/* Fill ep from raw bytes (4 or 16 of them) and a port in host order;
 * mapped addresses become IPv4. */
void ep_set(struct ep *ep, int family, const void *addr, uint16_t port);

/* "127.0.0.1:40000", "[::1]:7", or "*" when ep has no family. */
char *ep_format(const struct ep *ep, char *buf, size_t size);

int ep_equal(const struct ep *a, const struct ep *b);
int ep_is_set(const struct ep *ep);
/* The address is 0.0.0.0 or :: (a listener bound to every address). */
int ep_is_wildcard(const struct ep *ep);
/* Would a listener bound to listen accept a connection sent to dst? */
int ep_listener_accepts(const struct ep *listen, const struct ep *dst);
/* A total order, for putting the two ends of a tuple in a fixed order. */
int ep_compare(const struct ep *a, const struct ep *b);

#endif
