/* packet.h — one captured frame as the model's TCP segment (pure).
 *
 * The headers are decoded by lib/pkt.c (sl_pkt_decode_link: Ethernet with
 * VLAN tags, cooked capture, raw IP; IPv4 options, IPv6 extension
 * headers); this file only keeps what the model draws.
 */
#ifndef TUI_PACKET_H
#define TUI_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* The frame (caplen bytes captured) of link type link (pcap_datalink(),
 * SL_PKT_LINK_*) as a segment in g: addresses, ports, flags, numbers,
 * window, payload length (as the IP header claims it, even when the
 * capture was cut short) and the handshake's options; g->t is left to
 * the caller. Returns 0, or -1 when it is not a TCP segment whose
 * headers were captured whole, or its length is not known (a length
 * field of 0, from segmentation offload). */
int packet_segment(unsigned link, const uint8_t *frame, size_t caplen, struct mseg *g);

#endif
