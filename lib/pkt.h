/* pkt.h — decode the headers of a captured packet, layer by layer:
 * the link header (Ethernet, or what a capture gives instead of it), IPv4
 * and IPv6, then TCP, UDP or ICMP/ICMPv6; and the Internet checksum that
 * IP, ICMP, TCP and UDP all use.
 *
 * Captured bytes come from the wire, so they are not trusted: every decoder
 * takes the number of bytes captured and never reads past it, and checks
 * each length field against what was captured before using it. A packet
 * cut short (by a snap length, or by a sender that lies) is reported, never
 * read beyond.
 *
 * Every decoder returns 0, or -1 with errno set:
 *   EPROTO   truncated: the capture ends inside the header
 *   EBADMSG  malformed: a version, length or offset that cannot be right
 * Multi-byte fields come out in host byte order; addresses stay as bytes
 * (network order), ready for inet_ntop(). Pure functions: no I/O, no
 * allocation, no hidden state.
 */
#ifndef SOCKLAB_PKT_H
#define SOCKLAB_PKT_H

#include <stddef.h>
#include <stdint.h>

#define SL_PKT_ETH_HLEN 14u     /* dst MAC, src MAC, EtherType */
#define SL_PKT_ETH_IPV4 0x0800u /* EtherTypes */
#define SL_PKT_ETH_IPV6 0x86ddu
#define SL_PKT_ETH_VLAN 0x8100u /* 802.1Q tag */
#define SL_PKT_ETH_QINQ 0x88a8u /* 802.1ad outer tag */

/* Link-layer header types, numbered as libpcap's pcap_datalink() reports
 * them (DLT_*; in a pcap file, LINKTYPE_*). */
#define SL_PKT_LINK_NULL 0u        /* BSD loopback: a 4-byte address family */
#define SL_PKT_LINK_ETHERNET 1u    /* Ethernet: Linux's lo, veth */
#define SL_PKT_LINK_RAW_DLT 12u    /* raw IP, no link header (Linux's DLT_RAW) */
#define SL_PKT_LINK_RAW 101u       /* raw IP, as a pcap file numbers it */
#define SL_PKT_LINK_LINUX_SLL 113u /* Linux "cooked" capture (device "any") */
#define SL_PKT_LINK_LINUX_SLL2 276u /* its newer, 20-byte form */
#define SL_PKT_SLL_HLEN 16u
#define SL_PKT_SLL2_HLEN 20u

/* ICMP message types this project uses (RFC 792, RFC 4443). */
#define SL_PKT_ICMP_ECHO_REPLY 0u
#define SL_PKT_ICMP_ECHO 8u
#define SL_PKT_ICMP6_ECHO 128u
#define SL_PKT_ICMP6_ECHO_REPLY 129u

/* TCP flag bits, as in byte 13 of the header. */
#define SL_PKT_TCP_FIN 0x01u
#define SL_PKT_TCP_SYN 0x02u
#define SL_PKT_TCP_RST 0x04u
#define SL_PKT_TCP_PSH 0x08u
#define SL_PKT_TCP_ACK 0x10u
#define SL_PKT_TCP_URG 0x20u
#define SL_PKT_TCP_ECE 0x40u
#define SL_PKT_TCP_CWR 0x80u

struct sl_pkt_eth {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t type;   /* EtherType after any VLAN tags */
	unsigned vlans;  /* 802.1Q / 802.1ad tags skipped (at most 2) */
	size_t hdrlen;   /* 14, plus 4 per tag */
};

struct sl_pkt_ip {
	int version;        /* 4 or 6 */
	uint8_t src[16];    /* IPv4 uses the first 4 bytes */
	uint8_t dst[16];
	uint8_t proto;      /* upper-layer protocol, after IPv6 extension headers */
	uint8_t ttl;        /* TTL (IPv4) or hop limit (IPv6) */
	uint8_t tos;        /* type of service / traffic class */
	uint32_t id;        /* IPv4 identification; IPv6: from a fragment header */
	int dont_fragment;  /* IPv4 DF bit */
	int more_fragments; /* MF bit (IPv4) or M flag (IPv6 fragment header) */
	uint32_t frag_offset; /* in bytes */
	int later_fragment; /* frag_offset != 0: no upper-layer header here */
	int ipv4_checksum_ok; /* IPv4 header checksum verifies (IPv6 has none) */
	int length_unknown; /* IPv4 total length 0 or IPv6 payload length 0
	                       (segmentation offload, jumbogram): totlen is
	                       then what was captured */
	size_t hdrlen;      /* bytes before the upper-layer header: IHL * 4, or
	                       40 plus the extension headers */
	size_t totlen;      /* the whole datagram as the header claims it */
	size_t caplen;      /* how much of it was captured: <= totlen */
};

struct sl_pkt_tcp {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;      /* SL_PKT_TCP_* bits */
	uint16_t window;    /* as sent: not yet multiplied by the window scale */
	uint16_t checksum;
	uint16_t urgent;
	size_t hdrlen;      /* data offset * 4: 20..60 */
	/* Options (RFC 9293, 7323, 2018); has_* says which were present. */
	int has_mss;
	uint16_t mss;
	int has_wscale;
	uint8_t wscale;
	int sack_permitted;
	unsigned sack_blocks; /* SACK blocks in a SACK option */
	int has_timestamps;
	uint32_t ts_val, ts_ecr;
	int bad_options;    /* an option ran past the header or had a wrong
	                       length; the options before it were decoded */
};

struct sl_pkt_udp {
	uint16_t sport, dport;
	uint16_t length;    /* header and data, as the header claims */
	uint16_t checksum;
};

/* ICMP and ICMPv6 share the first 8 bytes' layout: type, code, checksum,
 * then 4 bytes whose meaning depends on the type (identifier and sequence
 * number for echo requests and replies). */
struct sl_pkt_icmp {
	uint8_t type, code;
	uint16_t checksum;
	uint16_t id, seq;   /* meaningful for echo request and reply */
};

/* Layers of a decoded packet, as bits of sl_pkt.layers and sl_pkt.failed. */
enum {
	SL_PKT_HAVE_ETH = 1 << 0,
	SL_PKT_HAVE_IP = 1 << 1,
	SL_PKT_HAVE_TCP = 1 << 2,
	SL_PKT_HAVE_UDP = 1 << 3,
	SL_PKT_HAVE_ICMP = 1 << 4, /* ICMP over IPv4, or ICMPv6 over IPv6 */
	SL_PKT_HAVE_LINK = 1 << 5, /* a link header other than Ethernet:
	                              cooked capture, BSD loopback */
};

/* A whole packet, decoded as far as this module knows its layers. */
struct sl_pkt {
	unsigned layers;    /* SL_PKT_HAVE_* for each header decoded */
	unsigned failed;    /* on error: the layer that was truncated or
	                       malformed (one SL_PKT_HAVE_* bit), else 0 */
	struct sl_pkt_eth eth;
	struct sl_pkt_ip ip;
	struct sl_pkt_tcp tcp;
	struct sl_pkt_udp udp;
	struct sl_pkt_icmp icmp;
	size_t ip_off;      /* where the IP header starts in the buffer */
	size_t l4_off;      /* where the TCP/UDP/ICMP header starts */
	size_t payload_off; /* where the data after it starts */
	size_t payload_len; /* data length as the headers claim it */
	size_t payload_caplen; /* how much of the data was captured */
};

/* One Ethernet header (and up to two VLAN tags). */
int sl_pkt_decode_eth(const void *buf, size_t caplen, struct sl_pkt_eth *eth);

/* One IPv4 or IPv6 header (by the version nibble), with IPv4 options and
 * the common IPv6 extension headers (hop-by-hop, routing, fragment,
 * destination options, AH) skipped: hdrlen then reaches the upper-layer
 * header and proto names it. EBADMSG for a version other than 4 or 6, an
 * IHL below 5, or a total length shorter than the header. */
int sl_pkt_decode_ip(const void *buf, size_t caplen, struct sl_pkt_ip *ip);

/* A TCP header with its options. EBADMSG for a data offset below 5. A bad
 * option is not an error: bad_options is set. */
int sl_pkt_decode_tcp(const void *buf, size_t caplen, struct sl_pkt_tcp *tcp);

/* A UDP header. EBADMSG for a length field below 8. */
int sl_pkt_decode_udp(const void *buf, size_t caplen, struct sl_pkt_udp *udp);

/* The first 8 bytes of an ICMP or ICMPv6 message. */
int sl_pkt_decode_icmp(const void *buf, size_t caplen, struct sl_pkt_icmp *icmp);

/* Every layer of an Ethernet frame: Ethernet, then IP for EtherType IPv4
 * or IPv6, then TCP, UDP or ICMP. Stopping is not an error: a frame that
 * is not IP returns 0 with layers == SL_PKT_HAVE_ETH, and an IP packet of
 * another protocol (or a later fragment) 0 without an upper layer. On -1,
 * layers holds what decoded before the problem and failed names where it
 * was. An upper-layer header longer than the IP datagram claims to carry is
 * EBADMSG. */
int sl_pkt_decode_frame(const void *frame, size_t caplen, struct sl_pkt *p);

/* The same, starting at an IP header (what a raw IP socket receives). */
int sl_pkt_decode_packet(const void *pkt, size_t caplen, struct sl_pkt *p);

/* Every layer of a packet captured on a link of type link (SL_PKT_LINK_*,
 * what pcap_datalink() says): an Ethernet frame as sl_pkt_decode_frame,
 * raw IP as sl_pkt_decode_packet; a cooked capture's header (its EtherType
 * says whether IP follows) and a BSD loopback header (the IP version says
 * which: the family number differs between systems) are skipped, with
 * SL_PKT_HAVE_LINK in layers, and ip_off says where IP starts. -1 with
 * errno EINVAL (failed 0) for a link type not listed here. */
int sl_pkt_decode_link(unsigned link, const void *buf, size_t caplen,
                       struct sl_pkt *p);

/* The Internet checksum (RFC 1071) of len bytes: the ones' complement of
 * the ones' complement sum of the bytes taken as big-endian 16-bit words,
 * an odd last byte padded with a zero. Returned in host byte order: store
 * it with htons(). Over bytes that include a correct checksum field the
 * result is 0 — that is how a receiver checks one. */
uint16_t sl_pkt_checksum(const void *buf, size_t len);

/* The TCP, UDP or ICMPv6 checksum of the len bytes at l4 (header and data)
 * as carried in the IP datagram ip: the same sum, but over a pseudo-header
 * of addresses, protocol and length first, so a segment delivered to the
 * wrong address fails the check. 0 over a segment with a correct checksum.
 * (Captured on lo, TCP and UDP checksums are usually left unfinished: the
 * kernel skips work no wire will check.) */
uint16_t sl_pkt_checksum_l4(const struct sl_pkt_ip *ip, const void *l4,
                            size_t len);

#endif
