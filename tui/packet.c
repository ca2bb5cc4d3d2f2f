/* packet.c — Ethernet/IPv4/IPv6/TCP headers to a segment (see packet.h).
 * Every length is checked against what was captured before it is used. */
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void tcp_options(const uint8_t *opt, size_t n, struct mseg *g)
{
	size_t i = 0;

	while (i < n) {
		uint8_t kind = opt[i], len;

		if (kind == 0)
			break;             /* end of options */
		if (kind == 1) {
			i++;               /* no-op */
			continue;
		}
		if (i + 1 >= n)
			break;
		len = opt[i + 1];
		if (len < 2 || i + len > n)
			break;
		if (kind == 2 && len == 4) {
			g->has_mss = 1;
			g->mss = be16(opt + i + 2);
		} else if (kind == 3 && len == 3) {
			g->has_ws = 1;
			g->ws = opt[i + 2];
		} else if (kind == 4 && len == 2) {
			g->sack_ok = 1;
		} else if (kind == 8 && len == 10) {
			g->has_ts = 1;
		}
		i += len;
	}
}

static int parse_tcp(const uint8_t *p, size_t n, size_t payload_total, struct mseg *g)
{
	size_t hlen;

	if (n < 20)
		return -1;
	hlen = (size_t)(p[12] >> 4) * 4;
	if (hlen < 20 || hlen > payload_total)
		return -1;
	g->src.port = be16(p);
	g->dst.port = be16(p + 2);
	g->seq = be32(p + 4);
	g->ack = be32(p + 8);
	g->flags = p[13];
	g->win = be16(p + 14);
	g->len = (uint32_t)(payload_total - hlen);
	if (hlen <= n)
		tcp_options(p + 20, hlen - 20, g);
	return 0;
}

static int parse_ipv4(const uint8_t *p, size_t n, struct mseg *g)
{
	size_t ihl, total;

	if (n < 20 || (p[0] >> 4) != 4)
		return -1;
	ihl = (size_t)(p[0] & 15) * 4;
	total = be16(p + 2);
	if (ihl < 20 || total < ihl || ihl > n || p[9] != 6)
		return -1;
	/* A fragment other than the first has no TCP header. */
	if ((be16(p + 6) & 0x1fff) != 0)
		return -1;
	ep_set(&g->src, AF_INET, p + 12, 0);
	ep_set(&g->dst, AF_INET, p + 16, 0);
	return parse_tcp(p + ihl, n - ihl, total - ihl, g);
}

static int parse_ipv6(const uint8_t *p, size_t n, struct mseg *g)
{
	size_t plen;

	if (n < 40 || (p[0] >> 4) != 6 || p[6] != 6)
		return -1;   /* extension headers are not followed */
	plen = be16(p + 4);
	ep_set(&g->src, AF_INET6, p + 8, 0);
	ep_set(&g->dst, AF_INET6, p + 24, 0);
	return parse_tcp(p + 40, n - 40, plen, g);
}

static int parse_ip(const uint8_t *p, size_t n, struct mseg *g)
{
	if (n < 1)
		return -1;
	if ((p[0] >> 4) == 4)
		return parse_ipv4(p, n, g);
	if ((p[0] >> 4) == 6)
		return parse_ipv6(p, n, g);
	return -1;
}

int packet_parse(int link, const uint8_t *frame, size_t caplen, struct mseg *g)
{
	uint16_t type;
	int rc;

	memset(g, 0, sizeof(*g));
	switch (link) {
	case LINK_EN10MB:
		if (caplen < 14)
			return -1;
		type = be16(frame + 12);
		if (type != 0x0800 && type != 0x86dd)
			return -1;
		rc = parse_ip(frame + 14, caplen - 14, g);
		break;
	case LINK_LINUX_SLL:
		if (caplen < 16)
			return -1;
		rc = parse_ip(frame + 16, caplen - 16, g);
		break;
	case LINK_NULL:
		if (caplen < 4)
			return -1;
		rc = parse_ip(frame + 4, caplen - 4, g);
		break;
	case LINK_RAW:
	case LINK_RAW2:
		rc = parse_ip(frame, caplen, g);
		break;
	default:
		return -1;
	}
	return rc < 0 ? -1 : 0;
}
