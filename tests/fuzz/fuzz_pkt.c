/* fuzz_pkt.c — throw arbitrary bytes at lib/pkt.c's decoders.
 *
 * Every decoder gets the input both as an Ethernet frame and as an IP
 * packet (what a raw IP socket receives), then as a capture of each link
 * type sl_pkt_decode_link knows, and each layer's decoder gets it on its
 * own. After a successful decode the target checks what the result
 * promises — every offset and length it reports lies inside the input —
 * and reads those ranges, so AddressSanitizer sees any that do not. A
 * failure must say EPROTO or EBADMSG and name exactly one layer.
 *
 * Two ways to build it:
 *   clang -fsanitize=fuzzer,address,undefined ...   libFuzzer's main
 *   cc ... tests/fuzz/standalone.c                  a plain main that runs
 *       the seed corpus, for `make test` where libFuzzer is missing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() so both libFuzzer and the standalone run report the input. */
#define REQUIRE(cond)                                                        \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_pkt: %s:%d: %s\n", __FILE__,   \
				__LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

static int one_bit(unsigned x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* Read every byte of a range, so ASan checks that it is inside the input. */
static void touch(const uint8_t *data, size_t off, size_t len, size_t size)
{
	REQUIRE(off <= size && len <= size - off);
	(void)sl_pkt_checksum(data + off, len);
}

static void check_failure(const struct sl_pkt *p)
{
	REQUIRE(errno == EPROTO || errno == EBADMSG);
	REQUIRE(one_bit(p->failed));
	REQUIRE((p->layers & p->failed) == 0);
}

/* What a successful decode promises, starting at base in data. */
static void check_success(const uint8_t *data, size_t size, const struct sl_pkt *p)
{
	unsigned l4 = p->layers & (SL_PKT_HAVE_TCP | SL_PKT_HAVE_UDP | SL_PKT_HAVE_ICMP);

	REQUIRE(p->failed == 0);
	if (p->layers & SL_PKT_HAVE_ETH)
		REQUIRE(p->eth.hdrlen >= SL_PKT_ETH_HLEN && p->eth.hdrlen <= size);
	REQUIRE(!((p->layers & SL_PKT_HAVE_ETH) && (p->layers & SL_PKT_HAVE_LINK)));
	REQUIRE(p->ip_off <= size);
	if (!(p->layers & SL_PKT_HAVE_IP)) {
		REQUIRE(l4 == 0);
		return;
	}
	REQUIRE(p->ip.version == 4 || p->ip.version == 6);
	REQUIRE(p->ip.hdrlen <= p->ip.caplen && p->ip.caplen <= p->ip.totlen);
	touch(data, p->ip_off, p->ip.caplen, size);
	/* The upper-layer checksum reads the captured part of the segment. */
	(void)sl_pkt_checksum_l4(&p->ip, data + p->l4_off,
				 p->ip.caplen - p->ip.hdrlen);
	if (l4 == 0)
		return;
	REQUIRE(one_bit(l4));
	REQUIRE(!p->ip.later_fragment);
	if (l4 == SL_PKT_HAVE_TCP)
		REQUIRE(p->tcp.hdrlen >= 20 && p->tcp.hdrlen <= 60 &&
			p->payload_off == p->l4_off + p->tcp.hdrlen);
	else
		REQUIRE(p->payload_off == p->l4_off + 8);
	REQUIRE(p->payload_caplen <= p->payload_len);
	touch(data, p->l4_off, p->payload_off - p->l4_off, size);
	touch(data, p->payload_off, p->payload_caplen, size);
}

static void decode_as_frame(const uint8_t *data, size_t size)
{
	struct sl_pkt p;

	if (sl_pkt_decode_frame(data, size, &p) == 0)
		check_success(data, size, &p);
	else
		check_failure(&p);
}

static void decode_as_packet(const uint8_t *data, size_t size)
{
	struct sl_pkt p;

	if (sl_pkt_decode_packet(data, size, &p) == 0) {
		REQUIRE(p.ip_off == 0 && !(p.layers & SL_PKT_HAVE_ETH));
		check_success(data, size, &p);
	} else {
		check_failure(&p);
	}
}

/* As a capture of each link type; one it does not know is EINVAL. */
static void decode_as_links(const uint8_t *data, size_t size)
{
	static const unsigned links[] = {
		SL_PKT_LINK_NULL, SL_PKT_LINK_ETHERNET, SL_PKT_LINK_RAW_DLT,
		SL_PKT_LINK_RAW, SL_PKT_LINK_LINUX_SLL, SL_PKT_LINK_LINUX_SLL2,
	};
	struct sl_pkt p;

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (sl_pkt_decode_link(links[i], data, size, &p) == 0)
			check_success(data, size, &p);
		else
			check_failure(&p);
	}
	errno = 0;
	REQUIRE(sl_pkt_decode_link(105, data, size, &p) == -1 && errno == EINVAL &&
		p.failed == 0);
}

/* Each single-layer decoder on its own: no crash, no read past size. */
static void decode_each_layer(const uint8_t *data, size_t size)
{
	struct sl_pkt_eth eth;
	struct sl_pkt_ip ip;
	struct sl_pkt_tcp tcp;
	struct sl_pkt_udp udp;
	struct sl_pkt_icmp icmp;

	if (sl_pkt_decode_eth(data, size, &eth) == 0)
		REQUIRE(eth.hdrlen <= size);
	if (sl_pkt_decode_ip(data, size, &ip) == 0)
		REQUIRE(ip.hdrlen <= ip.caplen && ip.caplen <= size);
	if (sl_pkt_decode_tcp(data, size, &tcp) == 0)
		REQUIRE(tcp.hdrlen >= 20 && tcp.hdrlen <= size);
	(void)sl_pkt_decode_udp(data, size, &udp);
	(void)sl_pkt_decode_icmp(data, size, &icmp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_as_frame(data, size);
	decode_as_packet(data, size);
	/* The seed corpus is Ethernet frames: their IP packet starts at 14. */
	if (size >= SL_PKT_ETH_HLEN)
		decode_as_packet(data + SL_PKT_ETH_HLEN, size - SL_PKT_ETH_HLEN);
	decode_as_links(data, size);
	decode_each_layer(data, size);
	return 0;
}
