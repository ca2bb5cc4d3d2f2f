/* test_packet.c — tui/packet.c: the visualizer's intake of captured frames.
 *
 * The wire source hands every frame it captures to packet_segment(), which
 * decodes it with lib/pkt.c and keeps what the model draws. The frames
 * are the real captures of pkt_samples.h, and variants made from them.
 *
 * What the tests prove:
 *  - each field the model keeps (addresses, ports, flags, sequence and
 *    acknowledgment numbers, window, payload length, the handshake's
 *    options) comes from the bytes of a SYN, a SYN-ACK and a data segment;
 *  - a VLAN-tagged Ethernet frame and an IPv6 packet with extension
 *    headers (hop-by-hop, destination options) give the same segment as
 *    the plain frame, and the model fed with them draws the connection:
 *    the socket the SYN shows, in SYN_SENT, then ESTABLISHED;
 *  - the link types a capture gives besides Ethernet (Linux cooked
 *    capture, raw IP) reach the same segment;
 *  - what is not a whole TCP header (UDP, a later fragment, a cut header,
 *    a length field of 0, an unknown link type) is refused, and a segment
 *    whose data was cut off by the snap length keeps its real length.
 */
// SOURCES: tui/packet.c tui/model.c tui/sockets.c tui/tcpfsm.c tui/infer.c tui/compact.c tui/endpoint.c
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "model.h"
#include "packet.h"
#include "pkt.h"
#include "pkt_samples.h"

#define T0 (1000 * NS_PER_S)

static struct ep ep_of(const char *text)
{
	struct ep e;

	assert_int_equal(ep_parse(text, &e), 0);
	return e;
}

static void assert_same_segment(const struct mseg *a, const struct mseg *b)
{
	assert_true(ep_equal(&a->src, &b->src));
	assert_true(ep_equal(&a->dst, &b->dst));
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->ack, b->ack);
	assert_int_equal(a->win, b->win);
	assert_int_equal(a->len, b->len);
	assert_int_equal(a->has_mss, b->has_mss);
	assert_int_equal(a->mss, b->mss);
	assert_int_equal(a->has_ws, b->has_ws);
	assert_int_equal(a->ws, b->ws);
	assert_int_equal(a->sack_ok, b->sack_ok);
	assert_int_equal(a->has_ts, b->has_ts);
}

static void test_fields(void **state)
{
	struct ep cli = ep_of("127.0.0.1:53200"), srv = ep_of("127.0.0.1:38847");
	struct mseg g;

	(void)state;
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_syn, sizeof(pkt_syn), &g), 0);
	assert_true(ep_equal(&g.src, &cli));
	assert_true(ep_equal(&g.dst, &srv));
	assert_int_equal(g.flags, TF_SYN);
	assert_int_equal(g.seq, 0x30581deaU);
	assert_int_equal(g.ack, 0);
	assert_int_equal(g.win, 65495);
	assert_int_equal(g.len, 0);
	assert_true(g.has_mss);
	assert_int_equal(g.mss, 65495);
	assert_true(g.has_ws);
	assert_int_equal(g.ws, 10);
	assert_true(g.sack_ok);
	assert_true(g.has_ts);
	assert_false(g.inferred);
	assert_int_equal(g.t, 0);

	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_synack, sizeof(pkt_synack), &g), 0);
	assert_true(ep_equal(&g.src, &srv));
	assert_int_equal(g.flags, TF_SYN | TF_ACK);
	assert_int_equal(g.seq, 0x61ff0446U);
	assert_int_equal(g.ack, 0x30581debU);

	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_data, sizeof(pkt_data), &g), 0);
	assert_int_equal(g.flags, TF_PSH | TF_ACK);
	assert_int_equal(g.len, 6);
	assert_int_equal(g.win, 64);
	assert_false(g.has_mss);
	assert_true(g.has_ts);
}

/* Apply g at T0 + ms. */
static void apply(struct model *m, struct mseg *g, unsigned ms)
{
	g->t = T0 + (mtime_t)ms * NS_PER_MS;
	assert_int_equal(model_apply_segment(m, g), 0);
}

static void test_vlan_tagged_frame(void **state)
{
	static const uint8_t tag[] = { 0x81, 0x00, 0x00, 0x2a }; /* VLAN 42 */
	struct ep cli = ep_of("127.0.0.1:53200"), srv = ep_of("127.0.0.1:38847");
	struct mseg plain, g;
	struct model m;
	struct msock *s;
	uint8_t b[128], b2[128];
	size_t n;

	(void)state;
	model_init(&m);
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_syn, sizeof(pkt_syn), &plain), 0);
	n = pkt_insert(b, pkt_syn, sizeof(pkt_syn), 12, tag, sizeof(tag));
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, b, n, &g), 0);
	assert_same_segment(&g, &plain);
	apply(&m, &g, 1);
	s = model_sock_by_tuple(&m, &cli, &srv);
	assert_non_null(s);
	assert_int_equal(s->state, ST_SYN_SENT);

	/* Two tags (802.1ad outside, 802.1Q inside) on the SYN-ACK. */
	n = pkt_insert(b2, pkt_synack, sizeof(pkt_synack), 12, tag, sizeof(tag));
	n = pkt_insert(b, b2, n, 12, (const uint8_t[]){ 0x88, 0xa8, 0x00, 0x07 }, 4);
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, b, n, &g), 0);
	assert_int_equal(g.flags, TF_SYN | TF_ACK);
	apply(&m, &g, 2);
	s = model_sock_by_tuple(&m, &cli, &srv);
	assert_int_equal(s->state, ST_ESTABLISHED);
	assert_int_equal(m.nsegs, 2);
	assert_int_equal(m.segs[1].rseq, 0);
	assert_int_equal(m.segs[1].rack, 1);
	model_free(&m);
}

static void test_ipv6_extension_headers(void **state)
{
	/* Hop-by-hop options (8 bytes: next header, length 0, PadN), then
	 * destination options (next header TCP, 8 bytes, PadN). */
	static const uint8_t ext[] = {
		60, 0, 1, 4, 0, 0, 0, 0,
		6, 0, 1, 4, 0, 0, 0, 0,
	};
	struct ep cli = ep_of("[::1]:39324"), srv = ep_of("[::1]:35861");
	struct mseg plain, g;
	struct model m;
	struct msock *s;
	uint8_t b[160];
	size_t n;

	(void)state;
	model_init(&m);
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_syn6, sizeof(pkt_syn6), &plain), 0);
	n = pkt_insert(b, pkt_syn6, sizeof(pkt_syn6), 54, ext, sizeof(ext));
	b[20] = 0;   /* next header: hop-by-hop */
	b[19] += 16; /* payload length */
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, b, n, &g), 0);
	assert_same_segment(&g, &plain);
	assert_int_equal(g.src.family, AF_INET6);
	assert_true(ep_equal(&g.src, &cli));
	assert_true(ep_equal(&g.dst, &srv));
	assert_int_equal(g.seq, 0x6a636674U);
	assert_int_equal(g.mss, 65476);
	assert_int_equal(g.len, 0);
	apply(&m, &g, 1);
	s = model_sock_by_tuple(&m, &cli, &srv);
	assert_non_null(s);
	assert_int_equal(s->state, ST_SYN_SENT);
	assert_int_equal(s->family, AF_INET6);
	assert_int_equal(m.nsegs, 1);
	assert_true(m.segs[0].has_mss);
	model_free(&m);
}

static void test_other_link_types(void **state)
{
	static const uint8_t sll[16] = { 0, 4, 0x03, 0x04, 0, 6, [14] = 0x08, [15] = 0x00 };
	struct mseg plain, g;
	uint8_t b[128];
	size_t n = sizeof(pkt_data) - SL_PKT_ETH_HLEN;

	(void)state;
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_data, sizeof(pkt_data), &plain), 0);
	/* Cooked capture (the "any" device): 16 bytes instead of 14. */
	memcpy(b, sll, sizeof(sll));
	memcpy(b + sizeof(sll), pkt_data + SL_PKT_ETH_HLEN, n);
	assert_int_equal(packet_segment(SL_PKT_LINK_LINUX_SLL, b, sizeof(sll) + n, &g), 0);
	assert_same_segment(&g, &plain);
	/* Raw IP: no link header at all. */
	assert_int_equal(packet_segment(SL_PKT_LINK_RAW, pkt_data + SL_PKT_ETH_HLEN, n, &g), 0);
	assert_same_segment(&g, &plain);
	/* The bytes of an Ethernet frame read as raw IP are not IP. */
	assert_int_equal(packet_segment(SL_PKT_LINK_RAW, pkt_data, sizeof(pkt_data), &g), -1);
	assert_int_equal(packet_segment(105, pkt_data, sizeof(pkt_data), &g), -1);
}

static void test_refused(void **state)
{
	struct mseg g;
	uint8_t b[128];

	(void)state;
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_udp, sizeof(pkt_udp), &g), -1);
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_echo_reply,
					sizeof(pkt_echo_reply), &g), -1);
	/* The TCP header cut inside its options. */
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_syn, 14 + 20 + 30, &g), -1);
	/* A later fragment carries no TCP header. */
	memcpy(b, pkt_data, sizeof(pkt_data));
	b[20] = 0x00;
	b[21] = 0xb9;
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, b, sizeof(pkt_data), &g), -1);
	/* A total length of 0 (offload): the data length is not known. */
	memcpy(b, pkt_data, sizeof(pkt_data));
	b[16] = b[17] = 0;
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, b, sizeof(pkt_data), &g), -1);
	/* The snap length cut the data off: the headers are whole, and the
	 * length is what the IP header says. */
	assert_int_equal(packet_segment(SL_PKT_LINK_ETHERNET, pkt_data, sizeof(pkt_data) - 6, &g), 0);
	assert_int_equal(g.len, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_vlan_tagged_frame),
		cmocka_unit_test(test_ipv6_extension_headers),
		cmocka_unit_test(test_other_link_types),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
