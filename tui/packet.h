/* packet.h — read one captured frame into a TCP segment (pure). */
#ifndef TUI_PACKET_H
#define TUI_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Link types, as libpcap numbers them (DLT_*). */
enum {
	LINK_NULL = 0,       /* BSD loopback: 4-byte family */
	LINK_EN10MB = 1,     /* Ethernet (Linux lo) */
	LINK_RAW = 12,       /* raw IP (DLT_RAW on Linux) */
	LINK_RAW2 = 101,     /* LINKTYPE_RAW */
	LINK_LINUX_SLL = 113 /* "any" device */
};

/* Parse frame (caplen bytes captured) of the given link type into g
 * (addresses, flags, numbers, window, payload length, options); t is left
 * to the caller. Returns 0, or -1 when it is not a complete enough TCP
 * segment over IPv4 or IPv6. */
int packet_parse(int link, const uint8_t *frame, size_t caplen, struct mseg *g);

#endif
