/* analysis.c — each segment labelled as a TCP analysis tool would, from
 * what the wire saw (see analysis.h); and the TCP_INFO samples. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "text.h"

/* A retransmission this soon after a duplicate ACK answers it (on top of
 * twice the round trip to the sender): the sender resends as soon as the
 * duplicate ACKs say a segment is missing, while Linux's retransmission
 * timer cannot fire sooner than 200 ms after the last ACK. */
#define FAST_SLACK_NS (100 * NS_PER_MS)

static int seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static int seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

/* Sequence space a segment takes: its bytes, and one each for SYN, FIN. */
static uint32_t span_of(const struct mseg *g)
{
	return g->len + ((g->flags & TF_SYN) ? 1 : 0) + ((g->flags & TF_FIN) ? 1 : 0);
}

/* The SYNs: window scaling (RFC 7323, 2.2) applies once both ends asked
 * for it; each end's windows then count in units of 2^its own shift.
 * On the way, the round trip from the wire to each end and back. */
static void handshake(struct an_dir *out, struct an_dir *in, const struct mseg *g)
{
	if (!(g->flags & TF_SYN)) {
		/* The first ACK of the end that sent the SYN: the SYN,ACK
		 * went to it and this came back. */
		if ((g->flags & TF_ACK) && out->syn_seen && in->syn_seen && in->scale_known &&
		    out->rtt_near == 0 && g->t > in->t_syn)
			out->rtt_near = g->t - in->t_syn;
		return;
	}
	out->syn_seen = 1;
	out->syn_seq = g->seq;
	out->ws_seen = g->has_ws;
	out->ws = g->ws > 14 ? 14 : g->ws;   /* larger shifts count as 14 */
	out->t_syn = g->t;
	if ((g->flags & TF_ACK) && in->syn_seen) {
		int on = out->ws_seen && in->ws_seen;

		out->scale_known = in->scale_known = 1;
		out->shift = on ? out->ws : 0;
		in->shift = on ? in->ws : 0;
		if (g->t > in->t_syn)
			out->rtt_near = g->t - in->t_syn;
	}
}

/* The window g advertises, in bytes. A SYN's window is never scaled. */
static void window_bytes(const struct an_dir *out, struct mseg *g)
{
	g->rwin = g->win;
	if (g->flags & TF_SYN) {
		g->an |= AN_WIN_KNOWN;
	} else if (out->scale_known) {
		g->rwin = (uint32_t)g->win << out->shift;
		g->an |= AN_WIN_KNOWN;
	}
}

/* SACK blocks count in the other direction's sequence space. */
static void relative_sack(const struct mdir *data_dir, struct mseg *g)
{
	uint32_t base = data_dir->has_isn ? data_dir->isn : 0;

	for (int i = 0; i < g->nsack && i < SACK_MAX; i++) {
		g->rsack[i][0] = g->sack[i][0] - base;
		g->rsack[i][1] = g->sack[i][1] - base;
	}
}

/* Bytes [lo, hi) that the wire sees now: do they fill (part of) a range
 * the sender's numbers jumped over? The part seen is taken out. */
static int fill_hole(struct an_dir *out, uint32_t lo, uint32_t hi)
{
	uint32_t keep[2 * AN_HOLES][2];
	int n = 0, hit = 0;

	for (int i = 0; i < out->nholes; i++) {
		uint32_t a = out->hole[i][0], b = out->hole[i][1];

		if (!(seq_lt(lo, b) && seq_lt(a, hi))) {
			keep[n][0] = a;
			keep[n++][1] = b;
			continue;
		}
		hit = 1;
		if (seq_lt(a, lo)) {
			keep[n][0] = a;
			keep[n++][1] = lo;
		}
		if (seq_lt(hi, b)) {
			keep[n][0] = hi;
			keep[n++][1] = b;
		}
	}
	/* The newest holes are kept when there are too many. */
	if (n > AN_HOLES) {
		memmove(keep, keep + (n - AN_HOLES), AN_HOLES * sizeof(keep[0]));
		n = AN_HOLES;
	}
	memcpy(out->hole, keep, (size_t)n * sizeof(keep[0]));
	out->nholes = n;
	return hit;
}

static void add_hole(struct an_dir *out, uint32_t lo, uint32_t hi)
{
	if (out->nholes == AN_HOLES) {
		memmove(out->hole, out->hole + 1, (AN_HOLES - 1) * sizeof(out->hole[0]));
		out->nholes--;
	}
	out->hole[out->nholes][0] = lo;
	out->hole[out->nholes][1] = hi;
	out->nholes++;
}

/* A segment one byte behind what the sender has sent, with at most that
 * byte: how keep-alives (RFC 9293, 3.8.4) and Linux's zero-window probes
 * look. It asks the peer for an ACK and sends nothing new. */
static int probe_shaped(const struct an_dir *out, const struct mseg *g)
{
	return out->sent && !(g->flags & (TF_SYN | TF_FIN | TF_RST)) && g->len <= 1 &&
	       g->seq == out->snd_max - 1;
}

/* The sender's side: what g sends, against everything it sent before. */
static void sender_view(struct an_dir *out, const struct an_dir *in, struct mseg *g)
{
	uint32_t span = span_of(g), end = g->seq + span;
	int peer_window_zero = in->win_seen && in->last_win == 0;

	if (g->flags & TF_RST)
		return;
	if (!out->sent) {
		out->sent = 1;
		out->snd_max = g->seq;
	}
	if (probe_shaped(out, g)) {
		g->an |= peer_window_zero ? AN_ZW_PROBE : AN_KEEPALIVE;
		return;
	}
	if (span == 0)
		return;
	if (seq_lt(g->seq, out->snd_max)) {
		if (fill_hole(out, g->seq, end)) {
			g->an |= AN_OUT_OF_ORDER;
		} else {
			g->an |= AN_RETRANS;
			if (in->acked && seq_le(end, in->last_ack))
				g->an |= AN_SPURIOUS;
			else if (in->dupacks > 0 && g->seq == in->last_ack &&
				 g->t - in->t_dupack <= 2 * out->rtt_near + FAST_SLACK_NS)
				g->an |= AN_FAST_RETRANS;
		}
	} else if (seq_lt(out->snd_max, g->seq)) {
		add_hole(out, out->snd_max, g->seq);
	}
	if (seq_lt(out->snd_max, end))
		out->snd_max = end;
	/* Its bytes reach the end of the window the peer offered. */
	if (g->len > 0 && in->acked && in->win_bytes && in->last_win > 0 &&
	    g->seq + g->len == in->last_ack + in->last_win)
		g->an |= AN_WIN_FULL;
}

/* The receiver's side: g reached the other end. Bytes from before the
 * highest it has, not sent before, come out of order (a segment held on
 * the wire and let go late; the others were found by sender_view). */
static void receiver_view(struct an_dir *out, struct mseg *g)
{
	uint32_t span = span_of(g), end = g->seq + span;

	if ((g->flags & TF_RST) || span == 0 || (g->an & (AN_KEEPALIVE | AN_ZW_PROBE)))
		return;
	if (!out->delivered) {
		out->delivered = 1;
		out->rcv_max = g->seq;
	}
	if (seq_lt(out->rcv_max, g->seq))
		g->an |= AN_PREV_LOST;
	else if (seq_lt(g->seq, out->rcv_max) && !(g->an & AN_RETRANS))
		g->an |= AN_OUT_OF_ORDER;
	if (seq_lt(out->rcv_max, end))
		out->rcv_max = end;
}

/* g as an ACK from its sender. With no data, no SYN or FIN, and the
 * acknowledgement number of the last ACK: a new window is a window
 * update; the same window, while the peer has data outstanding, a
 * duplicate ACK (RFC 5681, section 2). And zero windows. */
static void ack_view(struct an_dir *out, const struct an_dir *in, struct mseg *g)
{
	int pure = g->len == 0 && !(g->flags & (TF_SYN | TF_FIN)) &&
		   !(g->an & (AN_KEEPALIVE | AN_ZW_PROBE));

	if (g->flags & TF_RST)
		return;
	if (g->win == 0)
		g->an |= AN_ZERO_WINDOW;
	if (!(g->flags & TF_ACK)) {
		out->last_win = g->rwin;   /* a SYN's window */
		out->win_seen = 1;
		out->win_bytes = 1;
		return;
	}
	if (!out->acked) {
		out->acked = 1;
		out->last_ack = g->ack;
	} else if (g->ack == out->last_ack) {
		if (pure && out->win_seen && g->rwin != out->last_win) {
			g->an |= AN_WIN_UPDATE;
		} else if (pure && in->sent && seq_lt(g->ack, in->snd_max)) {
			out->dupacks++;
			out->t_dupack = g->t;
			g->dupack = out->dupacks;
			g->an |= AN_DUP_ACK;
		}
	} else if (seq_lt(out->last_ack, g->ack)) {
		out->last_ack = g->ack;
		out->dupacks = 0;
	} else {
		return;   /* an older ACK, overtaken on the way: it changes nothing */
	}
	out->last_win = g->rwin;
	out->win_seen = 1;
	out->win_bytes = (g->an & AN_WIN_KNOWN) != 0;
}

/* A duplicate SACK (RFC 2883): the first block lies below the
 * acknowledgement number, or inside the second block. The receiver got
 * those bytes twice, so the latest retransmission of them was not
 * needed. */
static void dsack(struct model *m, struct mseg *g)
{
	uint32_t l = g->sack[0][0], r = g->sack[0][1];
	int at = (int)(g - m->segs);

	if (g->nsack == 0 || !(g->flags & TF_ACK))
		return;
	if (!seq_le(r, g->ack) &&
	    !(g->nsack > 1 && seq_le(g->sack[1][0], l) && seq_le(r, g->sack[1][1])))
		return;
	g->an |= AN_DSACK;
	for (int i = at - 1; i >= 0 && i >= at - 4096; i--) {
		struct mseg *w = &m->segs[i];

		if (w->conn != g->conn || w->inferred || !(w->an & AN_RETRANS) ||
		    !ep_equal(&w->src, &g->dst))
			continue;
		if (seq_lt(w->seq, r) && seq_lt(l, w->seq + span_of(w))) {
			w->an |= AN_SPURIOUS;
			break;
		}
	}
}

/* A SYN with a new sequence number after segments of this 4-tuple: a new
 * connection reuses it (after TIME_WAIT); what was known of the old one
 * is let go (both directions for a SYN, the answering side's for a
 * SYN,ACK). */
static void new_incarnation(struct an_dir *out, struct an_dir *in, const struct mseg *g)
{
	if (!(g->flags & TF_SYN) || !out->sent || (out->syn_seen && g->seq == out->syn_seq))
		return;
	memset(out, 0, sizeof(*out));
	if (!(g->flags & TF_ACK))
		memset(in, 0, sizeof(*in));
}

void analysis_segment(struct model *m, struct mconn *c, int d, struct mseg *g)
{
	struct an_dir *out = &c->dir[d].an, *in = &c->dir[1 - d].an;

	g->an = 0;
	g->dupack = 0;
	g->rwin = g->win;
	if (g->inferred)
		return;
	new_incarnation(out, in, g);
	handshake(out, in, g);
	window_bytes(out, g);
	relative_sack(&c->dir[1 - d], g);
	sender_view(out, in, g);
	if (seg_fate_delivered(g->fate))
		receiver_view(out, g);
	ack_view(out, in, g);
	dsack(m, g);
}

void analysis_delivered(struct mconn *c, int d, struct mseg *g)
{
	if (!g->inferred)
		receiver_view(&c->dir[d].an, g);
}

/* ---- in words ---------------------------------------------------------------- */

static void add_word(char *buf, size_t size, const char *word)
{
	if (buf[0] != '\0')
		text_append(buf, size, ", ");
	text_append(buf, size, word);
}

char *analysis_labels(const struct mseg *g, int brief, char *buf, size_t size)
{
	static const struct {
		uint32_t bit;
		const char *full, *brief;
	} words[] = {
		{ AN_OUT_OF_ORDER, "out-of-order", "out-of-order" },
		{ AN_PREV_LOST, "previous segment lost", "prev lost" },
		{ AN_DUP_ACK, NULL, NULL },
		{ AN_ZW_PROBE, "zero-window probe", "ZW probe" },
		{ AN_KEEPALIVE, "keep-alive", "keep-alive" },
		{ AN_ZERO_WINDOW, "zero window", "zero win" },
		{ AN_WIN_FULL, "window full", "win full" },
		{ AN_WIN_UPDATE, "window update", "win update" },
		{ AN_DSACK, "D-SACK", "D-SACK" },
	};
	char word[32];

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (g->an & AN_SPURIOUS)
		add_word(buf, size, brief ? "spurious retrans" : "spurious retransmission");
	else if (g->an & AN_FAST_RETRANS)
		add_word(buf, size, brief ? "fast retrans" : "fast retransmission");
	else if (g->an & AN_RETRANS)
		add_word(buf, size, brief ? "retrans" : "retransmission");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!(g->an & words[i].bit))
			continue;
		if (words[i].bit == AN_DUP_ACK) {
			snprintf(word, sizeof(word), "%s #%u", brief ? "dup ACK" : "duplicate ACK",
				 (unsigned)g->dupack);
			add_word(buf, size, word);
		} else {
			add_word(buf, size, brief ? words[i].brief : words[i].full);
		}
	}
	return buf;
}

char *analysis_sack_text(const struct mseg *g, char *buf, size_t size)
{
	char part[32];

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (int i = 0; i < g->nsack && i < SACK_MAX; i++) {
		snprintf(part, sizeof(part), "%s%u-%u", i ? " " : "", (unsigned)g->rsack[i][0],
			 (unsigned)g->rsack[i][1]);
		text_append(buf, size, part);
	}
	return buf;
}

char *analysis_win_text(const struct mseg *g, char *buf, size_t size)
{
	if (g->an & AN_WIN_KNOWN)
		snprintf(buf, size, "%u", (unsigned)g->rwin);
	else
		snprintf(buf, size, "%u*?", (unsigned)g->win);
	return buf;
}

/* ---- TCP_INFO over time ------------------------------------------------------- */

int model_tcp_sample(struct model *m, const struct msample *s)
{
	if (m->nsamples >= SAMPLE_MAX) {
		/* Let the oldest half go, as for segments. */
		int drop = SAMPLE_MAX / 2;

		memmove(m->samples, m->samples + drop,
			(size_t)(m->nsamples - drop) * sizeof(*m->samples));
		m->nsamples -= drop;
	}
	if (m->nsamples >= m->capsamples) {
		int n = m->capsamples ? m->capsamples * 2 : 256;
		struct msample *p = realloc(m->samples, (size_t)n * sizeof(*p));

		if (p == NULL) {
			errno = ENOMEM;
			return -1;
		}
		m->samples = p;
		m->capsamples = n;
	}
	m->samples[m->nsamples++] = *s;
	model_touch(m, s->t);
	return 0;
}
