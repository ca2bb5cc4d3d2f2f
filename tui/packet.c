/* packet.c — a captured frame to a segment (see packet.h). */
#include <string.h>
#include <sys/socket.h>

#include "packet.h"
#include "pkt.h"

int packet_segment(unsigned link, const uint8_t *frame, size_t caplen, struct mseg *g)
{
	struct sl_pkt p;
	int family;

	memset(g, 0, sizeof(*g));
	if (sl_pkt_decode_link(link, frame, caplen, &p) < 0 ||
	    !(p.layers & SL_PKT_HAVE_TCP) || p.ip.length_unknown)
		return -1;
	family = p.ip.version == 4 ? AF_INET : AF_INET6;
	ep_set(&g->src, family, p.ip.src, p.tcp.sport);
	ep_set(&g->dst, family, p.ip.dst, p.tcp.dport);
	g->flags = p.tcp.flags;
	g->seq = p.tcp.seq;
	g->ack = p.tcp.ack;
	g->win = p.tcp.window;
	g->len = (uint32_t)p.payload_len;
	g->has_mss = p.tcp.has_mss;
	g->mss = p.tcp.mss;
	g->has_ws = p.tcp.has_wscale;
	g->ws = p.tcp.wscale;
	g->sack_ok = p.tcp.sack_permitted;
	g->has_ts = p.tcp.has_timestamps;
	return 0;
}
