/* test_pkt.c — lib/pkt.c: header decoders and the Internet checksum.
 *
 * The packets are real, captured on lo (pkt_samples.h says how).
 * Variants (IPv4 options, IPv6 extension headers, a VLAN tag, fragments,
 * broken lengths) are made from them at run time, in the test that uses
 * them.
 *
 * What the tests prove:
 *  - each field of a SYN, SYN-ACK, data segment, FIN, UDP datagram, ICMP
 *    echo reply and IPv6 SYN decodes to the value the bytes hold, options
 *    included;
 *  - cut at every length from 0 to its size, a packet never makes a decoder
 *    read past the cut (each cut is copied to a buffer of exactly that
 *    size, so a SANITIZE=address build catches any overread), a cut inside
 *    a header is reported as truncated (EPROTO) at the right layer, and a
 *    cut inside the data decodes with the captured part counted;
 *  - lengths that cannot be right are malformed (EBADMSG), not obeyed;
 *    bad TCP options are flagged, the ones before them still decoded;
 *  - headers that grow are walked: IPv4 options, IPv6 extension headers,
 *    VLAN tags; later fragments and other protocols stop without error;
 *    a length field of 0 (offload) falls back to the captured length;
 *  - the other link types a capture gives (Linux cooked capture in both
 *    forms, BSD loopback, raw IP) reach the same IP and TCP headers, are
 *    truncated at their own layer, and an unknown link type is EINVAL;
 *  - the checksum gives the RFC 1071 answers, verifies real headers and
 *    segments to 0, and catches one changed byte or a wrong address.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"
#include "pkt_samples.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t loopback4[4] = { 127, 0, 0, 1 };
static const uint8_t loopback6[16] = { [15] = 1 };

/* Decode a copy of the first n bytes as link type link, in a buffer of
 * exactly n bytes: under AddressSanitizer a read past the cut is then an
 * error, not luck. Returns the decoder's result; *err is errno after a
 * failure. */
static int decode_link_cut(unsigned link, const uint8_t *pkt, size_t n,
			   struct sl_pkt *p, int *err)
{
	uint8_t *copy = malloc(n > 0 ? n : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, pkt, n);
	errno = 0;
	rc = sl_pkt_decode_link(link, copy, n, p);
	*err = errno;
	free(copy);
	return rc;
}

/* The same for an Ethernet frame (which sl_pkt_decode_link hands to
 * sl_pkt_decode_frame). */
static int decode_cut(const uint8_t *pkt, size_t n, struct sl_pkt *p, int *err)
{
	return decode_link_cut(SL_PKT_LINK_ETHERNET, pkt, n, p, err);
}

static void decode_ok(const uint8_t *pkt, size_t n, struct sl_pkt *p)
{
	int err;

	assert_int_equal(decode_cut(pkt, n, p, &err), 0);
	assert_int_equal(p->failed, 0);
}

/* Expect decoding to fail with errno err, blaming layer. */
static void decode_fails(const uint8_t *pkt, size_t n, int err, unsigned layer)
{
	struct sl_pkt p;
	int got;

	assert_int_equal(decode_cut(pkt, n, &p, &got), -1);
	assert_int_equal(got, err);
	assert_int_equal(p.failed, layer);
	assert_int_equal(p.layers & layer, 0);
}

/* ---- the checksum ------------------------------------------------------ */

static void test_checksum_known_answers(void **state)
{
	/* RFC 1071's worked example: the words add up to 0xddf2. */
	static const uint8_t rfc1071[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	/* Two words whose sum carries out of 16 bits: 0x10000 folds to 1. */
	static const uint8_t carry[] = { 0x00, 0x01, 0xff, 0xff };
	static const uint8_t odd[] = { 0x12, 0x34, 0x56 };
	static const uint8_t ones[] = { 0xff, 0xff, 0xff, 0xff };

	(void)state;
	assert_int_equal(sl_pkt_checksum(rfc1071, sizeof(rfc1071)), 0x220d);
	assert_int_equal(sl_pkt_checksum(carry, sizeof(carry)), 0xfffe);
	/* An odd last byte counts as the high half of a word: 0x1234 + 0x5600. */
	assert_int_equal(sl_pkt_checksum(odd, sizeof(odd)), (uint16_t)~0x6834);
	assert_int_equal(sl_pkt_checksum(ones, sizeof(ones)), 0x0000);
	assert_int_equal(sl_pkt_checksum(odd, 0), 0xffff);
}

static void test_checksum_ipv4_header(void **state)
{
	uint8_t hdr[20];

	(void)state;
	/* A correct header, checksum field included, sums to 0. */
	assert_int_equal(sl_pkt_checksum(pkt_syn + 14, 20), 0);
	/* With the field zeroed, the sum is the value the sender stored. */
	memcpy(hdr, pkt_syn + 14, 20);
	hdr[10] = hdr[11] = 0;
	assert_int_equal(sl_pkt_checksum(hdr, 20), 0xb3e6);
	/* One changed bit is caught. */
	memcpy(hdr, pkt_syn + 14, 20);
	hdr[8] ^= 0x01; /* the TTL */
	assert_int_not_equal(sl_pkt_checksum(hdr, 20), 0);
}

/* The upper-layer checksum of a decoded packet, over its whole segment. */
static uint16_t l4_sum(const uint8_t *pkt, size_t n, const struct sl_pkt *p)
{
	(void)n;
	return sl_pkt_checksum_l4(&p->ip, pkt + p->l4_off,
				  p->payload_off - p->l4_off + p->payload_len);
}

static void test_checksum_segments(void **state)
{
	static const struct { const uint8_t *pkt; size_t len; } all[] = {
		{ pkt_syn, sizeof(pkt_syn) }, { pkt_synack, sizeof(pkt_synack) },
		{ pkt_data, sizeof(pkt_data) }, { pkt_fin, sizeof(pkt_fin) },
		{ pkt_udp, sizeof(pkt_udp) }, { pkt_echo_reply, sizeof(pkt_echo_reply) },
		{ pkt_syn6, sizeof(pkt_syn6) },
	};

	(void)state;
	for (size_t i = 0; i < LEN(all); i++) {
		struct sl_pkt p;
		uint8_t copy[128];

		decode_ok(all[i].pkt, all[i].len, &p);
		assert_int_equal(l4_sum(all[i].pkt, all[i].len, &p), 0);
		/* A changed byte of data (or of the header, when there is no
		 * data) no longer verifies. */
		memcpy(copy, all[i].pkt, all[i].len);
		copy[all[i].len - 1] ^= 0x40;
		assert_int_not_equal(l4_sum(copy, all[i].len, &p), 0);
		/* TCP, UDP and ICMPv6 sum a pseudo-header: the same bytes sent
		 * to another address fail; ICMP over IPv4 does not use one. */
		p.ip.dst[3] ^= 1;
		if (p.ip.version == 4 && p.ip.proto == 1)
			assert_int_equal(l4_sum(all[i].pkt, all[i].len, &p), 0);
		else
			assert_int_not_equal(l4_sum(all[i].pkt, all[i].len, &p), 0);
	}
}

/* ---- the captured packets, field by field ------------------------------ */

static void assert_ipv4_loopback(const struct sl_pkt *p, uint8_t proto, size_t totlen)
{
	assert_int_equal(p->eth.type, SL_PKT_ETH_IPV4);
	assert_int_equal(p->eth.hdrlen, 14);
	assert_int_equal(p->ip_off, 14);
	assert_int_equal(p->ip.version, 4);
	assert_memory_equal(p->ip.src, loopback4, 4);
	assert_memory_equal(p->ip.dst, loopback4, 4);
	assert_int_equal(p->ip.proto, proto);
	assert_int_equal(p->ip.ttl, 64);
	assert_int_equal(p->ip.hdrlen, 20);
	assert_int_equal(p->ip.totlen, totlen);
	assert_int_equal(p->ip.caplen, totlen);
	assert_true(p->ip.ipv4_checksum_ok);
	assert_int_equal(p->l4_off, 34);
}

static void test_syn(void **state)
{
	struct sl_pkt p;

	(void)state;
	decode_ok(pkt_syn, sizeof(pkt_syn), &p);
	assert_int_equal(p.layers, SL_PKT_HAVE_ETH | SL_PKT_HAVE_IP | SL_PKT_HAVE_TCP);
	assert_ipv4_loopback(&p, 6, 60);
	assert_true(p.ip.dont_fragment);
	assert_int_equal(p.ip.id, 0x88d3);
	assert_int_equal(p.tcp.sport, 53200);
	assert_int_equal(p.tcp.dport, 38847);
	assert_int_equal(p.tcp.seq, 0x30581deaU);
	assert_int_equal(p.tcp.ack, 0);
	assert_int_equal(p.tcp.flags, SL_PKT_TCP_SYN);
	assert_int_equal(p.tcp.window, 65495);
	assert_int_equal(p.tcp.hdrlen, 40);
	/* The options a Linux SYN carries: MSS, SACK permitted, timestamps,
	 * window scale. */
	assert_true(p.tcp.has_mss);
	assert_int_equal(p.tcp.mss, 65495);
	assert_true(p.tcp.sack_permitted);
	assert_true(p.tcp.has_timestamps);
	assert_int_equal(p.tcp.ts_val, 0xfd96b463U);
	assert_int_equal(p.tcp.ts_ecr, 0);
	assert_true(p.tcp.has_wscale);
	assert_int_equal(p.tcp.wscale, 10);
	assert_int_equal(p.tcp.sack_blocks, 0);
	assert_false(p.tcp.bad_options);
	assert_int_equal(p.payload_off, 74);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.payload_caplen, 0);
}

static void test_synack(void **state)
{
	struct sl_pkt syn, p;

	(void)state;
	decode_ok(pkt_syn, sizeof(pkt_syn), &syn);
	decode_ok(pkt_synack, sizeof(pkt_synack), &p);
	assert_ipv4_loopback(&p, 6, 60);
	assert_int_equal(p.tcp.sport, syn.tcp.dport);
	assert_int_equal(p.tcp.dport, syn.tcp.sport);
	assert_int_equal(p.tcp.flags, SL_PKT_TCP_SYN | SL_PKT_TCP_ACK);
	assert_int_equal(p.tcp.seq, 0x61ff0446U);
	/* The SYN-ACK acknowledges the SYN: its sequence number plus one. */
	assert_int_equal(p.tcp.ack, syn.tcp.seq + 1);
	assert_int_equal(p.tcp.window, 65483);
	assert_int_equal(p.tcp.mss, 65495);
	/* ...and echoes the client's timestamp. */
	assert_int_equal(p.tcp.ts_val, 0x0c808ad7U);
	assert_int_equal(p.tcp.ts_ecr, syn.tcp.ts_val);
	assert_int_equal(p.payload_len, 0);
}

static void test_data_segment(void **state)
{
	struct sl_pkt p;

	(void)state;
	decode_ok(pkt_data, sizeof(pkt_data), &p);
	assert_ipv4_loopback(&p, 6, 58);
	assert_int_equal(p.tcp.flags, SL_PKT_TCP_PSH | SL_PKT_TCP_ACK);
	assert_int_equal(p.tcp.seq, 0x30581debU);
	assert_int_equal(p.tcp.ack, 0x61ff0447U);
	/* After the handshake: 12 bytes of options (NOP NOP timestamps), the
	 * window counted in units of 2^wscale, no MSS. */
	assert_int_equal(p.tcp.hdrlen, 32);
	assert_int_equal(p.tcp.window, 64);
	assert_false(p.tcp.has_mss);
	assert_false(p.tcp.has_wscale);
	assert_true(p.tcp.has_timestamps);
	assert_int_equal(p.payload_off, 66);
	assert_int_equal(p.payload_len, 6);
	assert_int_equal(p.payload_caplen, 6);
	assert_memory_equal(pkt_data + p.payload_off, "hello\n", 6);
}

static void test_fin(void **state)
{
	struct sl_pkt p;

	(void)state;
	decode_ok(pkt_fin, sizeof(pkt_fin), &p);
	assert_ipv4_loopback(&p, 6, 52);
	assert_int_equal(p.tcp.flags, SL_PKT_TCP_FIN | SL_PKT_TCP_ACK);
	/* The FIN takes the sequence number after the 6 data bytes. */
	assert_int_equal(p.tcp.seq, 0x30581debU + 6);
	assert_int_equal(p.payload_len, 0);
}

static void test_udp(void **state)
{
	struct sl_pkt p;

	(void)state;
	decode_ok(pkt_udp, sizeof(pkt_udp), &p);
	assert_int_equal(p.layers, SL_PKT_HAVE_ETH | SL_PKT_HAVE_IP | SL_PKT_HAVE_UDP);
	assert_ipv4_loopback(&p, 17, 33);
	assert_int_equal(p.udp.sport, 0x8fda);
	assert_int_equal(p.udp.dport, 0xb0f8);
	assert_int_equal(p.udp.length, 13);
	assert_int_equal(p.udp.checksum, 0xa32d);
	assert_int_equal(p.payload_off, 42);
	assert_int_equal(p.payload_len, 5);
	assert_memory_equal(pkt_udp + p.payload_off, "ping?", 5);
}

static void test_echo_reply(void **state)
{
	struct sl_pkt p, q;

	(void)state;
	decode_ok(pkt_echo_reply, sizeof(pkt_echo_reply), &p);
	assert_int_equal(p.layers, SL_PKT_HAVE_ETH | SL_PKT_HAVE_IP | SL_PKT_HAVE_ICMP);
	assert_ipv4_loopback(&p, 1, 44);
	assert_false(p.ip.dont_fragment);
	assert_int_equal(p.icmp.type, SL_PKT_ICMP_ECHO_REPLY);
	assert_int_equal(p.icmp.code, 0);
	assert_int_equal(p.icmp.checksum, 0xb58a);
	assert_int_equal(p.icmp.id, 0x1234);
	assert_int_equal(p.icmp.seq, 1);
	assert_int_equal(p.payload_len, 16);
	/* A raw IPv4 socket receives the same bytes without the Ethernet
	 * header: decoding from the IP header counts offsets from there. */
	assert_int_equal(sl_pkt_decode_packet(pkt_echo_reply + 14,
					      sizeof(pkt_echo_reply) - 14, &q), 0);
	assert_int_equal(q.layers, SL_PKT_HAVE_IP | SL_PKT_HAVE_ICMP);
	assert_int_equal(q.ip_off, 0);
	assert_int_equal(q.l4_off, 20);
	assert_int_equal(q.icmp.id, 0x1234);
	/* The bare ICMP decoder reads the same 8 bytes. */
	assert_int_equal(sl_pkt_decode_icmp(pkt_echo_reply + 34, 8, &q.icmp), 0);
	assert_int_equal(q.icmp.seq, 1);
}

static void test_ipv6_syn(void **state)
{
	struct sl_pkt p;

	(void)state;
	decode_ok(pkt_syn6, sizeof(pkt_syn6), &p);
	assert_int_equal(p.layers, SL_PKT_HAVE_ETH | SL_PKT_HAVE_IP | SL_PKT_HAVE_TCP);
	assert_int_equal(p.eth.type, SL_PKT_ETH_IPV6);
	assert_int_equal(p.ip.version, 6);
	assert_memory_equal(p.ip.src, loopback6, 16);
	assert_memory_equal(p.ip.dst, loopback6, 16);
	assert_int_equal(p.ip.proto, 6);
	assert_int_equal(p.ip.ttl, 64);
	assert_int_equal(p.ip.hdrlen, 40);
	assert_int_equal(p.ip.totlen, 80);
	assert_int_equal(p.l4_off, 54);
	assert_int_equal(p.tcp.sport, 39324);
	assert_int_equal(p.tcp.dport, 35861);
	assert_int_equal(p.tcp.flags, SL_PKT_TCP_SYN);
	/* The IPv6 header is 20 bytes longer, so the MSS is 20 smaller. */
	assert_int_equal(p.tcp.mss, 65476);
	assert_true(p.tcp.sack_permitted);
	assert_int_equal(p.payload_len, 0);
}

/* ---- truncation at every length ---------------------------------------- */

/* Cut pkt at every length 0..len. A cut before the data must fail as
 * truncated and blame the layer whose header it cuts; a cut in the data
 * decodes, with only the captured part counted as captured. */
static void cut_everywhere(const uint8_t *pkt, size_t len, unsigned l4)
{
	struct sl_pkt whole;

	decode_ok(pkt, len, &whole);
	for (size_t n = 0; n <= len; n++) {
		struct sl_pkt p;
		int err;
		int rc = decode_cut(pkt, n, &p, &err);
		unsigned layer = n < whole.ip_off ? SL_PKT_HAVE_ETH
			       : n < whole.l4_off ? SL_PKT_HAVE_IP : l4;

		if (n < whole.payload_off) {
			assert_int_equal(rc, -1);
			assert_int_equal(err, EPROTO);
			assert_int_equal(p.failed, layer);
			/* The layers before the cut did decode. */
			assert_int_equal(p.layers, whole.layers & (layer - 1));
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(p.layers, whole.layers);
			assert_int_equal(p.payload_len, whole.payload_len);
			assert_int_equal(p.payload_caplen, n - whole.payload_off);
			assert_int_equal(p.ip.caplen, n - whole.ip_off);
			assert_int_equal(p.ip.totlen, whole.ip.totlen);
		}
	}
}

static void test_truncated_everywhere(void **state)
{
	(void)state;
	cut_everywhere(pkt_syn, sizeof(pkt_syn), SL_PKT_HAVE_TCP);
	cut_everywhere(pkt_synack, sizeof(pkt_synack), SL_PKT_HAVE_TCP);
	cut_everywhere(pkt_data, sizeof(pkt_data), SL_PKT_HAVE_TCP);
	cut_everywhere(pkt_fin, sizeof(pkt_fin), SL_PKT_HAVE_TCP);
	cut_everywhere(pkt_udp, sizeof(pkt_udp), SL_PKT_HAVE_UDP);
	cut_everywhere(pkt_echo_reply, sizeof(pkt_echo_reply), SL_PKT_HAVE_ICMP);
	cut_everywhere(pkt_syn6, sizeof(pkt_syn6), SL_PKT_HAVE_TCP);
}

static void test_truncated_single_layers(void **state)
{
	struct sl_pkt_eth eth;
	struct sl_pkt_ip ip;
	struct sl_pkt_tcp tcp;
	struct sl_pkt_udp udp;
	struct sl_pkt_icmp icmp;

	(void)state;
	errno = 0;
	assert_int_equal(sl_pkt_decode_eth(pkt_syn, 13, &eth), -1);
	assert_int_equal(errno, EPROTO);
	errno = 0;
	assert_int_equal(sl_pkt_decode_ip(pkt_syn + 14, 0, &ip), -1);
	assert_int_equal(errno, EPROTO);
	errno = 0;
	assert_int_equal(sl_pkt_decode_ip(pkt_syn6 + 14, 39, &ip), -1);
	assert_int_equal(errno, EPROTO);
	/* The TCP header says 40 bytes; 39 were captured: the options are cut. */
	errno = 0;
	assert_int_equal(sl_pkt_decode_tcp(pkt_syn + 34, 39, &tcp), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(sl_pkt_decode_tcp(pkt_syn + 34, 40, &tcp), 0);
	errno = 0;
	assert_int_equal(sl_pkt_decode_udp(pkt_udp + 34, 7, &udp), -1);
	assert_int_equal(errno, EPROTO);
	errno = 0;
	assert_int_equal(sl_pkt_decode_icmp(pkt_echo_reply + 34, 7, &icmp), -1);
	assert_int_equal(errno, EPROTO);
}

/* ---- lengths that cannot be right --------------------------------------- */

static void test_malformed(void **state)
{
	uint8_t b[128];

	(void)state;
	/* IHL 4: an IPv4 header is at least 5 words. */
	memcpy(b, pkt_syn, sizeof(pkt_syn));
	b[14] = 0x44;
	decode_fails(b, sizeof(pkt_syn), EBADMSG, SL_PKT_HAVE_IP);
	/* Total length 19: shorter than the header itself. */
	memcpy(b, pkt_syn, sizeof(pkt_syn));
	b[16] = 0;
	b[17] = 19;
	decode_fails(b, sizeof(pkt_syn), EBADMSG, SL_PKT_HAVE_IP);
	/* IP version 5. */
	memcpy(b, pkt_syn, sizeof(pkt_syn));
	b[14] = 0x55;
	decode_fails(b, sizeof(pkt_syn), EBADMSG, SL_PKT_HAVE_IP);
	/* EtherType IPv4, but an IPv6 header follows. */
	memcpy(b, pkt_syn6, sizeof(pkt_syn6));
	b[12] = 0x08;
	b[13] = 0x00;
	decode_fails(b, sizeof(pkt_syn6), EBADMSG, SL_PKT_HAVE_IP);
	/* TCP data offset 4. */
	memcpy(b, pkt_syn, sizeof(pkt_syn));
	b[46] = 0x40;
	decode_fails(b, sizeof(pkt_syn), EBADMSG, SL_PKT_HAVE_TCP);
	/* The IP datagram claims 20 bytes of TCP; the TCP header claims 40. */
	memcpy(b, pkt_syn, sizeof(pkt_syn));
	b[17] = 40;
	decode_fails(b, sizeof(pkt_syn), EBADMSG, SL_PKT_HAVE_TCP);
	/* UDP length 7, and UDP length beyond the IP datagram. */
	memcpy(b, pkt_udp, sizeof(pkt_udp));
	b[39] = 7;
	decode_fails(b, sizeof(pkt_udp), EBADMSG, SL_PKT_HAVE_UDP);
	b[39] = 14;
	decode_fails(b, sizeof(pkt_udp), EBADMSG, SL_PKT_HAVE_UDP);
	/* An IPv6 payload length of 4 cannot hold a TCP header. */
	memcpy(b, pkt_syn6, sizeof(pkt_syn6));
	b[19] = 4;
	decode_fails(b, sizeof(pkt_syn6), EBADMSG, SL_PKT_HAVE_TCP);
}

/* ---- TCP options ------------------------------------------------------------ */

/* The SYN's 20 option bytes, replaced by opts (padded with EOL). */
static void syn_with_options(uint8_t *b, const uint8_t *opts, size_t n)
{
	memcpy(b, pkt_syn, sizeof(pkt_syn));
	memset(b + 54, 0, 20);
	memcpy(b + 54, opts, n);
}

static void test_tcp_options(void **state)
{
	uint8_t b[128];
	struct sl_pkt p;
	/* An unknown kind (30) is skipped by its length; then a SACK option
	 * with one block (2 + 8 bytes) and a window scale. */
	static const uint8_t unknown_then_sack[] = {
		30, 4, 0xaa, 0xbb, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 3, 3, 7,
	};
	/* MSS, then an option of length 0 (impossible: would loop forever). */
	static const uint8_t zero_len[] = { 2, 4, 0x05, 0xb4, 8, 0, 1, 1 };
	/* A timestamps option that runs past the end of the header. */
	static const uint8_t too_long[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8, 10 };
	/* MSS with length 3, then SACK permitted. */
	static const uint8_t wrong_len[] = { 2, 3, 0x05, 4, 2 };
	/* The length byte itself is past the header. */
	static const uint8_t no_len[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
					  1, 1, 1, 1, 1, 1, 1, 1, 1, 2 };
	/* An EOL ends the list: what follows is not read as options. */
	static const uint8_t eol[] = { 0, 2, 4, 0x05, 0xb4 };

	(void)state;
	syn_with_options(b, unknown_then_sack, sizeof(unknown_then_sack));
	decode_ok(b, sizeof(pkt_syn), &p);
	assert_false(p.tcp.bad_options);
	assert_int_equal(p.tcp.sack_blocks, 1);
	assert_true(p.tcp.has_wscale);
	assert_int_equal(p.tcp.wscale, 7);
	assert_false(p.tcp.has_mss);

	syn_with_options(b, zero_len, sizeof(zero_len));
	decode_ok(b, sizeof(pkt_syn), &p);
	assert_true(p.tcp.bad_options);
	assert_true(p.tcp.has_mss); /* decoded before the bad one */
	assert_int_equal(p.tcp.mss, 1460);
	assert_false(p.tcp.has_timestamps);

	syn_with_options(b, too_long, sizeof(too_long));
	decode_ok(b, sizeof(pkt_syn), &p);
	assert_true(p.tcp.bad_options);
	assert_false(p.tcp.has_timestamps);

	syn_with_options(b, wrong_len, sizeof(wrong_len));
	decode_ok(b, sizeof(pkt_syn), &p);
	assert_true(p.tcp.bad_options);
	assert_false(p.tcp.has_mss);
	assert_true(p.tcp.sack_permitted);

	syn_with_options(b, no_len, sizeof(no_len));
	decode_ok(b, sizeof(pkt_syn), &p);
	assert_true(p.tcp.bad_options);

	syn_with_options(b, eol, sizeof(eol));
	decode_ok(b, sizeof(pkt_syn), &p);
	assert_false(p.tcp.bad_options);
	assert_false(p.tcp.has_mss);
	assert_false(p.tcp.sack_permitted);
}

/* ---- headers that grow: IPv4 options, IPv6 extensions, VLAN tags -------- */

static void test_ipv4_options(void **state)
{
	/* Router alert (RFC 2113): type 148, length 4, value 0. */
	static const uint8_t ra[] = { 0x94, 0x04, 0x00, 0x00 };
	uint8_t b[128];
	struct sl_pkt p;
	size_t n = pkt_insert(b, pkt_echo_reply, sizeof(pkt_echo_reply), 34, ra, sizeof(ra));

	(void)state;
	b[14] = 0x46;             /* IHL 6 */
	b[17] += 4;               /* total length */
	decode_ok(b, n, &p);
	assert_int_equal(p.ip.hdrlen, 24);
	assert_int_equal(p.l4_off, 38);
	assert_int_equal(p.icmp.id, 0x1234);
	assert_int_equal(p.payload_len, 16);
	/* The header checksum was not updated for the change: noticed. */
	assert_false(p.ip.ipv4_checksum_ok);
	/* IHL 15 announces 60 bytes of header; 40 were captured. */
	b[14] = 0x4f;
	decode_fails(b, 14 + 40, EPROTO, SL_PKT_HAVE_IP);
}

static void test_ipv6_extension_headers(void **state)
{
	/* Hop-by-hop options, 8 bytes: next header TCP, length 0 (meaning
	 * 8 bytes), a PadN option filling the rest. */
	static const uint8_t hbh[] = { 6, 0, 1, 4, 0, 0, 0, 0 };
	/* A fragment header: next header TCP, offset 0, more fragments. */
	static const uint8_t frag_first[] = { 6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef };
	/* The same, offset 1480 bytes: a later fragment. */
	static const uint8_t frag_later[] = { 6, 0, 0x05, 0xc8, 0xde, 0xad, 0xbe, 0xef };
	uint8_t b[128];
	struct sl_pkt p;
	size_t n;

	(void)state;
	n = pkt_insert(b, pkt_syn6, sizeof(pkt_syn6), 54, hbh, sizeof(hbh));
	b[20] = 0;  /* next header: hop-by-hop */
	b[19] += 8; /* payload length */
	decode_ok(b, n, &p);
	assert_int_equal(p.ip.proto, 6);
	assert_int_equal(p.ip.hdrlen, 48);
	assert_int_equal(p.l4_off, 62);
	assert_int_equal(p.tcp.sport, 39324);
	assert_int_equal(p.tcp.mss, 65476);
	/* Every cut inside the extension header is truncation at IP. */
	for (size_t cut = 54; cut < 62; cut++)
		decode_fails(b, cut, EPROTO, SL_PKT_HAVE_IP);
	/* An extension header longer than the payload is malformed. */
	b[55] = 10;
	decode_fails(b, n, EBADMSG, SL_PKT_HAVE_IP);

	n = pkt_insert(b, pkt_syn6, sizeof(pkt_syn6), 54, frag_first, sizeof(frag_first));
	b[20] = 44;
	b[19] += 8;
	decode_ok(b, n, &p);
	assert_true(p.ip.more_fragments);
	assert_false(p.ip.later_fragment);
	assert_int_equal(p.ip.id, 0xdeadbeefU);
	assert_true(p.layers & SL_PKT_HAVE_TCP);

	n = pkt_insert(b, pkt_syn6, sizeof(pkt_syn6), 54, frag_later, sizeof(frag_later));
	b[20] = 44;
	b[19] += 8;
	decode_ok(b, n, &p);
	assert_true(p.ip.later_fragment);
	assert_int_equal(p.ip.frag_offset, 1480);
	/* The bytes after a later fragment's header are not a TCP header. */
	assert_int_equal(p.layers, SL_PKT_HAVE_ETH | SL_PKT_HAVE_IP);
}

static void test_ipv4_later_fragment(void **state)
{
	uint8_t b[128];
	struct sl_pkt p;

	(void)state;
	memcpy(b, pkt_udp, sizeof(pkt_udp));
	b[20] = 0x20; /* MF, offset 0: the first fragment still has UDP */
	decode_ok(b, sizeof(pkt_udp), &p);
	assert_true(p.ip.more_fragments);
	assert_true(p.layers & SL_PKT_HAVE_UDP);
	b[21] = 0xb9; /* offset 185 * 8 = 1480 */
	decode_ok(b, sizeof(pkt_udp), &p);
	assert_true(p.ip.later_fragment);
	assert_int_equal(p.ip.frag_offset, 1480);
	assert_int_equal(p.layers, SL_PKT_HAVE_ETH | SL_PKT_HAVE_IP);
}

static void test_vlan_tag(void **state)
{
	static const uint8_t tag[] = { 0x81, 0x00, 0x00, 0x2a }; /* VLAN 42 */
	uint8_t b[128];
	struct sl_pkt p;
	size_t n = pkt_insert(b, pkt_syn, sizeof(pkt_syn), 12, tag, sizeof(tag));

	(void)state;
	decode_ok(b, n, &p);
	assert_int_equal(p.eth.vlans, 1);
	assert_int_equal(p.eth.hdrlen, 18);
	assert_int_equal(p.eth.type, SL_PKT_ETH_IPV4);
	assert_int_equal(p.ip_off, 18);
	assert_int_equal(p.tcp.dport, 38847);
	/* Cut between the tag and the real EtherType. */
	decode_fails(b, 17, EPROTO, SL_PKT_HAVE_ETH);
}

static void test_not_ip_and_padding(void **state)
{
	uint8_t b[128];
	struct sl_pkt p;

	(void)state;
	/* ARP: the Ethernet layer decodes, and that is all there is. */
	memcpy(b, pkt_udp, sizeof(pkt_udp));
	b[12] = 0x08;
	b[13] = 0x06;
	decode_ok(b, sizeof(pkt_udp), &p);
	assert_int_equal(p.layers, SL_PKT_HAVE_ETH);
	assert_int_equal(p.eth.type, 0x0806);
	/* A protocol we do not decode (GRE, 47): IP only, no error. */
	memcpy(b, pkt_udp, sizeof(pkt_udp));
	b[23] = 47;
	decode_ok(b, sizeof(pkt_udp), &p);
	assert_int_equal(p.layers, SL_PKT_HAVE_ETH | SL_PKT_HAVE_IP);
	/* Ethernet pads short frames to 60 bytes: the padding is not data. */
	memset(b, 0, sizeof(b));
	memcpy(b, pkt_udp, sizeof(pkt_udp));
	decode_ok(b, 60, &p);
	assert_int_equal(p.ip.totlen, 33);
	assert_int_equal(p.ip.caplen, 33);
	assert_int_equal(p.payload_len, 5);
	assert_int_equal(p.payload_caplen, 5);
}

/* Segmentation offload can hand a capture a packet whose length field is
 * 0: the decoders then take the captured length as the packet's. */
static void test_length_unknown(void **state)
{
	uint8_t b[128];
	struct sl_pkt p;

	(void)state;
	memcpy(b, pkt_data, sizeof(pkt_data));
	b[16] = b[17] = 0; /* IPv4 total length */
	decode_ok(b, sizeof(pkt_data), &p);
	assert_true(p.ip.length_unknown);
	assert_int_equal(p.ip.totlen, sizeof(pkt_data) - 14);
	assert_int_equal(p.payload_len, 6);
	memcpy(b, pkt_syn6, sizeof(pkt_syn6));
	b[18] = b[19] = 0; /* IPv6 payload length */
	decode_ok(b, sizeof(pkt_syn6), &p);
	assert_true(p.ip.length_unknown);
	assert_int_equal(p.ip.totlen, 80);
	assert_int_equal(p.tcp.mss, 65476);
	/* The lengths that are known stay false. */
	decode_ok(pkt_syn6, sizeof(pkt_syn6), &p);
	assert_false(p.ip.length_unknown);
}

/* ---- other link types: cooked capture, BSD loopback, raw IP --------------- */

/* pkt (an Ethernet frame) with its 14-byte header replaced by hdr. */
static size_t relink(uint8_t *b, const uint8_t *pkt, size_t len,
		     const uint8_t *hdr, size_t n)
{
	if (n > 0)
		memcpy(b, hdr, n);
	memcpy(b + n, pkt + SL_PKT_ETH_HLEN, len - SL_PKT_ETH_HLEN);
	return len - SL_PKT_ETH_HLEN + n;
}

/* The SYN of pkt_syn, found after a link header of hdrlen bytes. */
static void assert_link_syn(unsigned link, const uint8_t *b, size_t n, size_t hdrlen,
			    unsigned link_layer)
{
	struct sl_pkt p;
	int err;

	assert_int_equal(decode_link_cut(link, b, n, &p, &err), 0);
	assert_int_equal(p.layers, link_layer | SL_PKT_HAVE_IP | SL_PKT_HAVE_TCP);
	assert_int_equal(p.ip_off, hdrlen);
	assert_int_equal(p.l4_off, hdrlen + 20);
	assert_memory_equal(p.ip.src, loopback4, 4);
	assert_int_equal(p.tcp.sport, 53200);
	assert_int_equal(p.tcp.dport, 38847);
	assert_int_equal(p.tcp.flags, SL_PKT_TCP_SYN);
	assert_int_equal(p.tcp.mss, 65495);
	/* Cut inside the link header: truncated there, nothing decoded. */
	for (size_t cut = 0; cut < hdrlen; cut++) {
		assert_int_equal(decode_link_cut(link, b, cut, &p, &err), -1);
		assert_int_equal(err, EPROTO);
		assert_int_equal(p.failed, link_layer ? link_layer : SL_PKT_HAVE_IP);
		assert_int_equal(p.layers, 0);
	}
	/* Cut inside IP or TCP: the same layers blamed as for Ethernet. */
	for (size_t cut = hdrlen; cut < n; cut++) {
		int rc = decode_link_cut(link, b, cut, &p, &err);

		assert_int_equal(rc, -1);
		assert_int_equal(err, EPROTO);
		assert_int_equal(p.failed, cut < hdrlen + 20 ? SL_PKT_HAVE_IP : SL_PKT_HAVE_TCP);
	}
}

static void test_link_types(void **state)
{
	/* Cooked capture: outgoing (4), ARPHRD_LOOPBACK (772), a 6-byte
	 * address (all zero on lo), 2 bytes of padding, EtherType IPv4. */
	static const uint8_t sll[16] = { 0, 4, 0x03, 0x04, 0, 6, [14] = 0x08, [15] = 0x00 };
	/* SLL2: EtherType IPv4, reserved, interface 1, ARPHRD_LOOPBACK,
	 * outgoing, address length 6, 8 address bytes. */
	static const uint8_t sll2[20] = { 0x08, 0x00, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 4, 6 };
	static const uint8_t null_inet[4] = { 2, 0, 0, 0 }; /* AF_INET, little-endian */
	uint8_t b[128];
	struct sl_pkt p;
	size_t n;
	int err;

	(void)state;
	/* Ethernet is sl_pkt_decode_frame. */
	assert_link_syn(SL_PKT_LINK_ETHERNET, pkt_syn, sizeof(pkt_syn), 14, SL_PKT_HAVE_ETH);
	n = relink(b, pkt_syn, sizeof(pkt_syn), sll, sizeof(sll));
	assert_link_syn(SL_PKT_LINK_LINUX_SLL, b, n, 16, SL_PKT_HAVE_LINK);
	n = relink(b, pkt_syn, sizeof(pkt_syn), sll2, sizeof(sll2));
	assert_link_syn(SL_PKT_LINK_LINUX_SLL2, b, n, 20, SL_PKT_HAVE_LINK);
	n = relink(b, pkt_syn, sizeof(pkt_syn), null_inet, sizeof(null_inet));
	assert_link_syn(SL_PKT_LINK_NULL, b, n, 4, SL_PKT_HAVE_LINK);
	/* Raw IP has no link header at all. */
	n = relink(b, pkt_syn, sizeof(pkt_syn), NULL, 0);
	assert_link_syn(SL_PKT_LINK_RAW, b, n, 0, 0);
	assert_link_syn(SL_PKT_LINK_RAW_DLT, b, n, 0, 0);

	/* IPv6 after a cooked header, and after BSD loopback's family 30. */
	n = relink(b, pkt_syn6, sizeof(pkt_syn6), sll, sizeof(sll));
	b[14] = 0x86;
	b[15] = 0xdd;
	assert_int_equal(decode_link_cut(SL_PKT_LINK_LINUX_SLL, b, n, &p, &err), 0);
	assert_int_equal(p.ip.version, 6);
	assert_int_equal(p.tcp.sport, 39324);
	assert_int_equal(p.tcp.mss, 65476);
	/* The EtherType says IPv6, the packet is IPv4: malformed. */
	n = relink(b, pkt_syn, sizeof(pkt_syn), sll, sizeof(sll));
	b[14] = 0x86;
	b[15] = 0xdd;
	assert_int_equal(decode_link_cut(SL_PKT_LINK_LINUX_SLL, b, n, &p, &err), -1);
	assert_int_equal(err, EBADMSG);
	assert_int_equal(p.failed, SL_PKT_HAVE_IP);
	/* ARP in a cooked capture: the link header, and that is all. */
	b[14] = 0x08;
	b[15] = 0x06;
	assert_int_equal(decode_link_cut(SL_PKT_LINK_LINUX_SLL, b, n, &p, &err), 0);
	assert_int_equal(p.layers, SL_PKT_HAVE_LINK);
	n = relink(b, pkt_syn6, sizeof(pkt_syn6), null_inet, sizeof(null_inet));
	b[0] = 30;
	assert_int_equal(decode_link_cut(SL_PKT_LINK_NULL, b, n, &p, &err), 0);
	assert_int_equal(p.layers, SL_PKT_HAVE_LINK | SL_PKT_HAVE_IP | SL_PKT_HAVE_TCP);
	assert_memory_equal(p.ip.dst, loopback6, 16);

	/* A link type this module does not know is the caller's mistake. */
	assert_int_equal(decode_link_cut(105 /* IEEE 802.11 */, pkt_syn, sizeof(pkt_syn),
					 &p, &err), -1);
	assert_int_equal(err, EINVAL);
	assert_int_equal(p.failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_known_answers),
		cmocka_unit_test(test_checksum_ipv4_header),
		cmocka_unit_test(test_checksum_segments),
		cmocka_unit_test(test_syn),
		cmocka_unit_test(test_synack),
		cmocka_unit_test(test_data_segment),
		cmocka_unit_test(test_fin),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_echo_reply),
		cmocka_unit_test(test_ipv6_syn),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_truncated_single_layers),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_tcp_options),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv6_extension_headers),
		cmocka_unit_test(test_ipv4_later_fragment),
		cmocka_unit_test(test_vlan_tag),
		cmocka_unit_test(test_not_ip_and_padding),
		cmocka_unit_test(test_length_unknown),
		cmocka_unit_test(test_link_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
