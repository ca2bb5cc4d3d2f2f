/* analysis.h — what a TCP analysis tool would say about each segment,
 * worked out from what the wire saw, as the segments arrive (pure: no
 * I/O, no clock). model_apply_segment calls analysis_segment for every
 * captured segment; the labels go into the segment (struct mseg: an,
 * dupack, rwin, rsack), the running state into each direction of its
 * connection (struct mdir: an).
 *
 * Two points of view, per direction of a connection:
 *  - the sender's: everything it put on the wire, dropped or not. A
 *    segment that sends bytes it sent before is a retransmission; bytes
 *    the other end had already acknowledged make it spurious; one that
 *    answers duplicate ACKs is fast. Its ACKs: duplicate ACK #n, zero
 *    window, window update; its window: window full, zero-window probe,
 *    keep-alive.
 *  - the receiver's: only the segments that reached it (seg_fate_delivered:
 *    not dropped, held or still in flight on the link; a capture on lo
 *    sees only those), in the order they reached it. A
 *    segment beyond what it has is "previous segment lost"; bytes from
 *    before the highest it has, never sent before, are out-of-order.
 * Sequence numbers compare modulo 2^32 (RFC 9293, 3.4).
 *
 * Also here: the TCP_INFO samples (model_tcp_sample), one series per
 * socket over time, for the "TCP over time" view.
 */
#ifndef TUI_ANALYSIS_H
#define TUI_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

struct model;
struct mconn;
struct mseg;
struct msample;

/* The labels, bits of mseg.an. */
enum {
	AN_RETRANS = 1u << 0,      /* bytes (or SYN, FIN) sent before */
	AN_FAST_RETRANS = 1u << 1, /* ... asked for by duplicate ACKs */
	AN_SPURIOUS = 1u << 2,     /* ... the receiver had them already */
	AN_DUP_ACK = 1u << 3,      /* duplicate ACK #dupack (RFC 5681, 2) */
	AN_OUT_OF_ORDER = 1u << 4, /* arrived after bytes beyond it */
	AN_PREV_LOST = 1u << 5,    /* the receiver misses bytes before it */
	AN_ZERO_WINDOW = 1u << 6,  /* advertises a window of 0 */
	AN_ZW_PROBE = 1u << 7,     /* probes the peer's zero window */
	AN_WIN_UPDATE = 1u << 8,   /* only opens the window wider */
	AN_WIN_FULL = 1u << 9,     /* fills the peer's window to its end */
	AN_KEEPALIVE = 1u << 10,   /* a keep-alive probe */
	AN_DSACK = 1u << 11,       /* a SACK block reports bytes received twice */
	AN_WIN_KNOWN = 1u << 16    /* rwin is in bytes (the scale is known) */
};

#define AN_HOLES 4

/* Per direction: the state of its sender and of its receiver. Numbers
 * are as on the wire (absolute). */
struct an_dir {
	/* the sender's side */
	int sent;                /* a segment was seen */
	uint32_t snd_max;        /* end of the highest byte sent (SYN, FIN count) */
	uint32_t hole[AN_HOLES][2]; /* ranges jumped over and not seen yet */
	int nholes;
	/* the receiver's side: what reached the other end */
	int delivered;
	uint32_t rcv_max;        /* end of the highest byte delivered */
	/* this end's ACKs and window */
	int acked;               /* an ACK was seen */
	uint32_t last_ack;       /* the highest acknowledgement number */
	int win_seen;
	uint32_t last_win;       /* its last window */
	int win_bytes;           /* ... in bytes (else unscaled: not known) */
	uint32_t dupacks;        /* duplicate ACKs since the last new one */
	uint64_t t_dupack;       /* when the last one was sent */
	/* the handshake */
	int syn_seen, ws_seen;
	uint32_t syn_seq;        /* its SYN's sequence number */
	uint8_t ws;              /* the window scale its SYN asked for */
	int scale_known;         /* both SYNs seen: shift applies */
	uint8_t shift;
	uint64_t t_syn;          /* when its (last) SYN passed */
	uint64_t rtt_near;       /* round trip from the wire to this end and
	                            back, seen in the handshake (ns, 0 unknown) */
};

/* The segment just filed at g (model.segs) under c, sent in direction
 * d (0: c->a to c->b). Sets g's labels and may label an earlier segment
 * spurious (a D-SACK). Inferred segments get no labels. */
void analysis_segment(struct model *m, struct mconn *c, int d, struct mseg *g);

/* g, filed under c in direction d and held or in flight on the link
 * until now, has reached its receiver (model_segment_fate): the
 * receiver's side takes it in now, and may find it out of order. */
void analysis_delivered(struct mconn *c, int d, struct mseg *g);

/* The labels of g as words, in order of importance, ", " between them:
 * "fast retransmission, previous segment lost". brief: the short forms
 * ("fast retrans", "prev lost") for a narrow screen. What the link did
 * with it is its fate (model.h), not a label. Returns buf ("" when
 * none). */
char *analysis_labels(const struct mseg *g, int brief, char *buf, size_t size);

/* g's SACK blocks, relative: "43441-44889 46337-47785" ("" when none). */
char *analysis_sack_text(const struct mseg *g, char *buf, size_t size);

/* The window of g in words: "65536" bytes when the scale is known,
 * "64*?" when it is not (the handshake was not seen). */
char *analysis_win_text(const struct mseg *g, char *buf, size_t size);

/* ---- TCP_INFO over time ---- */

/* Keep one sample. Returns 0, or -1 (errno ENOMEM). */
int model_tcp_sample(struct model *m, const struct msample *s);

#endif
