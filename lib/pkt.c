/* pkt.c — decoders for captured packet headers, and the Internet checksum.
 *
 * One rule runs through the file: before any byte at offset k is read, the
 * code has checked k < caplen. Length fields inside a packet are claims
 * made by whoever sent it; they are compared with what was captured first.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "pkt.h"

/* ---- reading big-endian fields ------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int truncated(void)
{
	errno = EPROTO;
	return -1;
}

static int malformed(void)
{
	errno = EBADMSG;
	return -1;
}

/* ---- Ethernet -------------------------------------------------------------- */

int sl_pkt_decode_eth(const void *buf, size_t caplen, struct sl_pkt_eth *eth)
{
	const uint8_t *b = buf;
	size_t off = 12;

	memset(eth, 0, sizeof(*eth));
	if (caplen < SL_PKT_ETH_HLEN)
		return truncated();
	memcpy(eth->dst, b, 6);
	memcpy(eth->src, b + 6, 6);
	eth->type = get16(b + off);
	/* A VLAN tag sits between the MACs and the real EtherType: 2 bytes of
	 * tag type (already read as "type") and 2 of tag control. */
	while ((eth->type == SL_PKT_ETH_VLAN || eth->type == SL_PKT_ETH_QINQ) &&
	       eth->vlans < 2) {
		off += 4;
		if (caplen < off + 2)
			return truncated();
		eth->type = get16(b + off);
		eth->vlans++;
	}
	eth->hdrlen = off + 2;
	return 0;
}

/* ---- IPv4 ------------------------------------------------------------------- */

static int decode_ipv4(const uint8_t *b, size_t caplen, struct sl_pkt_ip *ip)
{
	size_t ihl;
	uint16_t frag;

	if (caplen < 20)
		return truncated();
	ihl = (size_t)(b[0] & 0x0f) * 4;
	if (ihl < 20)
		return malformed();
	if (caplen < ihl)
		return truncated(); /* the options were cut off */
	ip->tos = b[1];
	ip->totlen = get16(b + 2);
	ip->id = get16(b + 4);
	frag = get16(b + 6);
	ip->dont_fragment = (frag & 0x4000) != 0;
	ip->more_fragments = (frag & 0x2000) != 0;
	ip->frag_offset = (uint32_t)(frag & 0x1fff) * 8;
	ip->later_fragment = ip->frag_offset != 0;
	ip->ttl = b[8];
	ip->proto = b[9];
	memcpy(ip->src, b + 12, 4);
	memcpy(ip->dst, b + 16, 4);
	ip->hdrlen = ihl;
	ip->ipv4_checksum_ok = sl_pkt_checksum(b, ihl) == 0;
	if (ip->totlen == 0) {
		/* Large segmentation-offload packets may carry 0 here. */
		ip->length_unknown = 1;
		ip->totlen = caplen;
	}
	if (ip->totlen < ihl)
		return malformed();
	return 0;
}

/* ---- IPv6 ------------------------------------------------------------------- */

static int is_ipv6_extension(uint8_t nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
		return 1;
	default:
		return 0;
	}
}

/* Walk the chain of extension headers that starts at offset 40. Each one
 * begins with "next header" and (except the fragment header, always 8
 * bytes) its own length, so the walk moves at least 8 bytes per step. */
static int skip_ipv6_extensions(const uint8_t *b, size_t caplen,
				struct sl_pkt_ip *ip)
{
	size_t off = 40;
	uint8_t nh = ip->proto;

	while (is_ipv6_extension(nh)) {
		size_t len;

		if (caplen < off + 2)
			return truncated();
		if (nh == IPPROTO_FRAGMENT)
			len = 8;
		else if (nh == IPPROTO_AH)
			len = ((size_t)b[off + 1] + 2) * 4; /* in 4-byte units, minus 2 */
		else
			len = ((size_t)b[off + 1] + 1) * 8; /* in 8-byte units, minus 1 */
		if (off + len > ip->totlen)
			return malformed();
		if (caplen < off + len)
			return truncated();
		if (nh == IPPROTO_FRAGMENT) {
			uint16_t fo = get16(b + off + 2);

			ip->frag_offset = fo & 0xfff8u; /* already in bytes */
			ip->more_fragments = fo & 1;
			ip->id = get32(b + off + 4);
			ip->later_fragment = ip->frag_offset != 0;
		}
		nh = b[off];
		off += len;
		if (ip->later_fragment)
			break; /* the rest is the middle of someone's payload */
	}
	ip->proto = nh;
	ip->hdrlen = off;
	return 0;
}

static int decode_ipv6(const uint8_t *b, size_t caplen, struct sl_pkt_ip *ip)
{
	uint16_t plen;

	if (caplen < 40)
		return truncated();
	ip->tos = (uint8_t)((b[0] & 0x0f) << 4 | b[1] >> 4);
	plen = get16(b + 4);
	ip->proto = b[6];
	ip->ttl = b[7];
	memcpy(ip->src, b + 8, 16);
	memcpy(ip->dst, b + 24, 16);
	if (plen == 0) {
		/* A jumbogram or an offload packet: the length is elsewhere. */
		ip->length_unknown = 1;
		ip->totlen = caplen;
	} else {
		ip->totlen = 40 + (size_t)plen;
	}
	ip->hdrlen = 40;
	return skip_ipv6_extensions(b, caplen, ip);
}

int sl_pkt_decode_ip(const void *buf, size_t caplen, struct sl_pkt_ip *ip)
{
	const uint8_t *b = buf;
	int rc;

	memset(ip, 0, sizeof(*ip));
	if (caplen < 1)
		return truncated();
	ip->version = b[0] >> 4;
	if (ip->version == 4)
		rc = decode_ipv4(b, caplen, ip);
	else if (ip->version == 6)
		rc = decode_ipv6(b, caplen, ip);
	else
		return malformed();
	if (rc < 0)
		return rc;
	/* Trailing bytes beyond totlen (Ethernet pads short frames to 60
	 * bytes) are not part of the datagram. */
	ip->caplen = caplen < ip->totlen ? caplen : ip->totlen;
	return 0;
}

/* ---- TCP -------------------------------------------------------------------- */

/* Record one option whose kind and length (len >= 2) are known to lie
 * inside the header; a known kind with the wrong length is bad. */
static void tcp_option(struct sl_pkt_tcp *tcp, const uint8_t *o, size_t len)
{
	switch (o[0]) {
	case 2: /* maximum segment size */
		if (len != 4)
			break;
		tcp->has_mss = 1;
		tcp->mss = get16(o + 2);
		return;
	case 3: /* window scale: a shift count */
		if (len != 3)
			break;
		tcp->has_wscale = 1;
		tcp->wscale = o[2];
		return;
	case 4: /* SACK permitted */
		if (len != 2)
			break;
		tcp->sack_permitted = 1;
		return;
	case 5: /* SACK: 8-byte blocks of left and right edge */
		if ((len - 2) % 8 != 0)
			break;
		tcp->sack_blocks = (unsigned)((len - 2) / 8);
		return;
	case 8: /* timestamps: the sender's clock, and the echo of ours */
		if (len != 10)
			break;
		tcp->has_timestamps = 1;
		tcp->ts_val = get32(o + 2);
		tcp->ts_ecr = get32(o + 6);
		return;
	default: /* an option we do not know: its length lets us skip it */
		return;
	}
	tcp->bad_options = 1;
}

/* Options fill bytes 20..hdrlen. Kinds 0 (end) and 1 (no-op) are one
 * byte; every other option is kind, length (counting both), data. */
static void tcp_options(struct sl_pkt_tcp *tcp, const uint8_t *b)
{
	size_t i = 20;

	while (i < tcp->hdrlen) {
		size_t len;

		if (b[i] == 0)
			return;
		if (b[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= tcp->hdrlen) {
			tcp->bad_options = 1; /* no room for the length byte */
			return;
		}
		len = b[i + 1];
		if (len < 2 || i + len > tcp->hdrlen) {
			tcp->bad_options = 1;
			return;
		}
		tcp_option(tcp, b + i, len);
		i += len;
	}
}

int sl_pkt_decode_tcp(const void *buf, size_t caplen, struct sl_pkt_tcp *tcp)
{
	const uint8_t *b = buf;

	memset(tcp, 0, sizeof(*tcp));
	if (caplen < 20)
		return truncated();
	tcp->sport = get16(b);
	tcp->dport = get16(b + 2);
	tcp->seq = get32(b + 4);
	tcp->ack = get32(b + 8);
	tcp->hdrlen = (size_t)(b[12] >> 4) * 4;
	tcp->flags = b[13];
	tcp->window = get16(b + 14);
	tcp->checksum = get16(b + 16);
	tcp->urgent = get16(b + 18);
	if (tcp->hdrlen < 20)
		return malformed();
	if (caplen < tcp->hdrlen)
		return truncated();
	tcp_options(tcp, b);
	return 0;
}

/* ---- UDP and ICMP ---------------------------------------------------------- */

int sl_pkt_decode_udp(const void *buf, size_t caplen, struct sl_pkt_udp *udp)
{
	const uint8_t *b = buf;

	memset(udp, 0, sizeof(*udp));
	if (caplen < 8)
		return truncated();
	udp->sport = get16(b);
	udp->dport = get16(b + 2);
	udp->length = get16(b + 4);
	udp->checksum = get16(b + 6);
	if (udp->length < 8)
		return malformed();
	return 0;
}

int sl_pkt_decode_icmp(const void *buf, size_t caplen, struct sl_pkt_icmp *icmp)
{
	const uint8_t *b = buf;

	memset(icmp, 0, sizeof(*icmp));
	if (caplen < 8)
		return truncated();
	icmp->type = b[0];
	icmp->code = b[1];
	icmp->checksum = get16(b + 2);
	icmp->id = get16(b + 4);
	icmp->seq = get16(b + 6);
	return 0;
}

/* ---- whole packets ------------------------------------------------------- */

static int fail(struct sl_pkt *p, unsigned layer)
{
	p->failed = layer;
	return -1; /* errno was set by the decoder that failed */
}

/* An upper-layer decoder failed. If it ran out of bytes although the
 * whole datagram was captured, the datagram itself ends inside the header:
 * that is malformed, not truncated. */
static int fail_upper(struct sl_pkt *p, unsigned layer, size_t seglen,
		      size_t caplen)
{
	if (errno == EPROTO && caplen == seglen && !p->ip.length_unknown)
		errno = EBADMSG;
	return fail(p, layer);
}

/* The upper layer of the IP datagram at pkt: which decoder, and how long
 * its header is, depend on the protocol. seglen is what the IP header
 * says the segment is; caplen how much of it was captured. */
static int decode_upper(const uint8_t *l4, size_t seglen, size_t caplen,
			struct sl_pkt *p)
{
	size_t hdrlen;
	int icmp = p->ip.version == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;

	if (p->ip.proto == IPPROTO_TCP) {
		if (sl_pkt_decode_tcp(l4, caplen, &p->tcp) < 0)
			return fail_upper(p, SL_PKT_HAVE_TCP, seglen, caplen);
		hdrlen = p->tcp.hdrlen;
		p->layers |= SL_PKT_HAVE_TCP;
	} else if (p->ip.proto == IPPROTO_UDP) {
		if (sl_pkt_decode_udp(l4, caplen, &p->udp) < 0)
			return fail_upper(p, SL_PKT_HAVE_UDP, seglen, caplen);
		hdrlen = 8;
		/* The UDP length may not claim more than IP carries. */
		if (p->udp.length > seglen && !p->ip.length_unknown) {
			errno = EBADMSG;
			return fail(p, SL_PKT_HAVE_UDP);
		}
		if (!p->ip.length_unknown)
			seglen = p->udp.length;
		p->layers |= SL_PKT_HAVE_UDP;
	} else if (p->ip.proto == icmp) {
		if (sl_pkt_decode_icmp(l4, caplen, &p->icmp) < 0)
			return fail_upper(p, SL_PKT_HAVE_ICMP, seglen, caplen);
		hdrlen = 8;
		p->layers |= SL_PKT_HAVE_ICMP;
	} else {
		return 0; /* a protocol we do not decode: not an error */
	}
	if (hdrlen > seglen) {
		/* The header runs past the end of the datagram. */
		p->layers &= ~(unsigned)(SL_PKT_HAVE_TCP | SL_PKT_HAVE_UDP | SL_PKT_HAVE_ICMP);
		errno = EBADMSG;
		return fail(p, p->ip.proto == IPPROTO_TCP ? SL_PKT_HAVE_TCP
			    : p->ip.proto == IPPROTO_UDP ? SL_PKT_HAVE_UDP : SL_PKT_HAVE_ICMP);
	}
	p->payload_off = p->l4_off + hdrlen;
	p->payload_len = seglen - hdrlen;
	p->payload_caplen = caplen > seglen ? p->payload_len : caplen - hdrlen;
	return 0;
}

/* The IP header at b, then its upper layer. Offsets in p count from the
 * start of the buffer the caller was given, so p->ip_off is added. */
static int decode_ip_layers(const uint8_t *b, size_t caplen, struct sl_pkt *p)
{
	size_t l4cap, seglen;

	if (sl_pkt_decode_ip(b, caplen, &p->ip) < 0)
		return fail(p, SL_PKT_HAVE_IP);
	p->layers |= SL_PKT_HAVE_IP;
	p->l4_off = p->ip_off + p->ip.hdrlen;
	p->payload_off = p->l4_off;
	if (p->ip.later_fragment)
		return 0; /* the upper-layer header is in the first fragment */
	/* decode_ip made sure hdrlen <= caplen and hdrlen <= totlen. */
	l4cap = p->ip.caplen - p->ip.hdrlen;
	seglen = p->ip.totlen - p->ip.hdrlen;
	return decode_upper(b + p->ip.hdrlen, seglen, l4cap, p);
}

int sl_pkt_decode_packet(const void *pkt, size_t caplen, struct sl_pkt *p)
{
	memset(p, 0, sizeof(*p));
	return decode_ip_layers(pkt, caplen, p);
}

/* The IP packet at p->ip_off, which the link header says is of EtherType
 * type: anything but IPv4 and IPv6 stops there without error. */
static int decode_ethertype(const uint8_t *b, size_t caplen, uint16_t type,
			    struct sl_pkt *p)
{
	int want;

	p->l4_off = p->payload_off = p->ip_off;
	if (type == SL_PKT_ETH_IPV4)
		want = 4;
	else if (type == SL_PKT_ETH_IPV6)
		want = 6;
	else
		return 0; /* ARP, or anything else that is not IP */
	/* The EtherType and the IP version nibble must agree. */
	if (caplen > p->ip_off && b[p->ip_off] >> 4 != want) {
		errno = EBADMSG;
		return fail(p, SL_PKT_HAVE_IP);
	}
	return decode_ip_layers(b + p->ip_off, caplen - p->ip_off, p);
}

int sl_pkt_decode_frame(const void *frame, size_t caplen, struct sl_pkt *p)
{
	const uint8_t *b = frame;

	memset(p, 0, sizeof(*p));
	if (sl_pkt_decode_eth(b, caplen, &p->eth) < 0)
		return fail(p, SL_PKT_HAVE_ETH);
	p->layers = SL_PKT_HAVE_ETH;
	p->ip_off = p->eth.hdrlen;
	return decode_ethertype(b, caplen, p->eth.type, p);
}

/* A link header of hdrlen bytes other than Ethernet's, skipped. */
static int skip_link(size_t caplen, size_t hdrlen, struct sl_pkt *p)
{
	if (caplen < hdrlen) {
		errno = EPROTO;
		return fail(p, SL_PKT_HAVE_LINK);
	}
	p->layers = SL_PKT_HAVE_LINK;
	p->ip_off = p->l4_off = p->payload_off = hdrlen;
	return 0;
}

int sl_pkt_decode_link(unsigned link, const void *buf, size_t caplen,
		       struct sl_pkt *p)
{
	const uint8_t *b = buf;

	switch (link) {
	case SL_PKT_LINK_ETHERNET:
		return sl_pkt_decode_frame(buf, caplen, p);
	case SL_PKT_LINK_RAW:
	case SL_PKT_LINK_RAW_DLT:
		return sl_pkt_decode_packet(buf, caplen, p);
	}
	memset(p, 0, sizeof(*p));
	switch (link) {
	case SL_PKT_LINK_NULL:
		/* The family is in the capturing host's byte order, and IPv6's
		 * number differs between systems: the IP header says more. */
		if (skip_link(caplen, 4, p) < 0)
			return -1;
		return decode_ip_layers(b + 4, caplen - 4, p);
	case SL_PKT_LINK_LINUX_SLL:
		/* Packet type, ARPHRD type, address length, 8 address bytes,
		 * then the EtherType of what follows. */
		if (skip_link(caplen, SL_PKT_SLL_HLEN, p) < 0)
			return -1;
		return decode_ethertype(b, caplen, get16(b + 14), p);
	case SL_PKT_LINK_LINUX_SLL2:
		/* The EtherType first, then interface, types and address. */
		if (skip_link(caplen, SL_PKT_SLL2_HLEN, p) < 0)
			return -1;
		return decode_ethertype(b, caplen, get16(b), p);
	default:
		errno = EINVAL;
		return -1;
	}
}

/* ---- checksums ----------------------------------------------------------- */

/* Add len bytes as big-endian 16-bit words to a running sum. A 64-bit sum
 * cannot overflow for any buffer that fits in memory. */
static uint64_t sum_words(uint64_t sum, const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(b + i);
	if (i < len)
		sum += (uint64_t)b[i] << 8; /* the odd byte, padded with zero */
	return sum;
}

/* Fold the carries back in (end-around carry) and complement. */
static uint16_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t sl_pkt_checksum(const void *buf, size_t len)
{
	return fold(sum_words(0, buf, len));
}

uint16_t sl_pkt_checksum_l4(const struct sl_pkt_ip *ip, const void *l4,
                            size_t len)
{
	size_t alen = ip->version == 4 ? 4 : 16;
	uint64_t sum = 0;

	/* ICMP over IPv4 is the one upper layer without a pseudo-header. */
	if (ip->version == 4 && ip->proto == IPPROTO_ICMP)
		return sl_pkt_checksum(l4, len);
	sum = sum_words(sum, ip->src, alen);
	sum = sum_words(sum, ip->dst, alen);
	/* IPv4: zero byte, protocol, 16-bit length. IPv6: 32-bit length,
	 * three zero bytes, next header. As 16-bit words both add up to
	 * protocol + length (a length above 65535 adds its high half too). */
	sum += ip->proto;
	sum += (uint64_t)(len >> 16) + (len & 0xffff);
	return fold(sum_words(sum, l4, len));
}
