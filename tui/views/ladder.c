/* ladder.c — the segments as a ladder diagram: a column per endpoint
 * (address and port, named after the process that owns it), an arrow per
 * segment with its flags and length and what a TCP analysis makes of it
 * (retransmission, duplicate ACK #n, zero window, ...: analysis.h), its
 * relative sequence and acknowledgement numbers and its window in bytes
 * to the right, SACK blocks as relative ranges, the handshake's options
 * (MSS, window scale, SACK) on the segments that carry them, and the
 * time since the session began. What the link between hosts did with a
 * segment shows in how far its arrow goes (an X where it was dropped)
 * and a word before its numbers. Inferred segments are drawn dotted and
 * say so.
 */
#include <stdio.h>
#include <string.h>

#include "dump.h"
#include "text.h"
#include "views/views.h"

#define ENDS_MAX 12
#define TIME_W 8

struct ends {
	struct ep ep[ENDS_MAX];
	int x[ENDS_MAX];
	int n;
};

static int end_index(const struct ends *e, const struct ep *ep)
{
	for (int i = 0; i < e->n; i++)
		if (ep_equal(&e->ep[i], ep))
			return i;
	return -1;
}

/* The endpoints, the busiest one (the server) second: its clients to its
 * left and right. */
static void collect_ends(const struct model *m, struct ends *e)
{
	int peers[ENDS_MAX] = { 0 }, hub = -1;
	struct ep tmp;

	e->n = 0;
	for (int i = 0; i < m->nconns; i++) {
		const struct mconn *c = &m->conns[i];
		const struct ep *pair[2] = { &c->a, &c->b };

		for (int k = 0; k < 2; k++) {
			int j = end_index(e, pair[k]);

			if (j < 0 && e->n < ENDS_MAX) {
				j = e->n++;
				e->ep[j] = *pair[k];
			}
			if (j >= 0)
				peers[j]++;
		}
	}
	for (int i = 0; i < e->n; i++)
		if (peers[i] > 1 && (hub < 0 || peers[i] > peers[hub]))
			hub = i;
	if (hub > 1) {
		/* Move the hub into the second column. */
		tmp = e->ep[hub];
		memmove(&e->ep[2], &e->ep[1], (size_t)(hub - 1) * sizeof(e->ep[0]));
		e->ep[1] = tmp;
	} else if (hub == 0 && e->n > 1) {
		tmp = e->ep[0];
		e->ep[0] = e->ep[1];
		e->ep[1] = tmp;
	}
}

/* "client:44202": the process that owned this address, else the address. */
static void end_label(const struct model *m, const struct ep *ep, char *buf, size_t size)
{
	char addr[EP_TEXT_LEN];

	for (int i = 0; i < m->nsocks; i++) {
		const struct msock *s = &m->socks[i];
		const struct mproc *p;

		if (s->merged || !ep_equal(&s->local, ep))
			continue;
		p = model_sock_owner(m, s);
		if (p != NULL) {
			snprintf(buf, size, "%s:%u", p->name, (unsigned)ep->port);
			return;
		}
	}
	text_copy(buf, size, ep_format(ep, addr, sizeof(addr)));
}

/* Labels that say something went wrong, and those about the window. */
#define AN_TROUBLE (AN_RETRANS | AN_PREV_LOST | AN_DUP_ACK | AN_OUT_OF_ORDER)
#define AN_WINDOW (AN_ZERO_WINDOW | AN_WIN_FULL | AN_ZW_PROBE)

static attr_t seg_look(const struct ui *u, const struct mseg *g)
{
	if ((g->flags & TF_RST) || seg_fate_dropped(g->fate) || (g->an & AN_TROUBLE))
		return ui_look(u, LK_BAD);
	if (g->an & AN_WINDOW)
		return ui_look(u, LK_CLOSING);
	if (g->flags & TF_SYN)
		return ui_look(u, LK_OPENING);
	if (g->flags & TF_FIN)
		return ui_look(u, LK_CLOSING);
	if (g->len > 0)
		return ui_look(u, LK_DATA);
	return A_NORMAL;
}

/* What goes on the arrow, in at most w columns: flags, length, the
 * analysis' labels, SACK blocks, the handshake's options. When they do
 * not all fit (an arrow cut short by the link is shorter still), in this
 * order: the labels' short forms, the SACK blocks moved to the numbers
 * on the right (*sack_here is then 0), then, for the labels' sake, the
 * options left off, the length left off, and the least important labels,
 * whole. A segment with no label is cut where the arrow ends. */
static void arrow_label(const struct mseg *g, int w, char *buf, size_t size, int *sack_here)
{
	static const struct {
		int brief, sack, opts, len;
	} tries[] = {
		{ 0, 1, 1, 1 }, { 1, 1, 1, 1 }, { 0, 0, 1, 1 }, { 1, 0, 1, 1 },
		{ 1, 0, 0, 1 }, { 1, 0, 0, 0 },
	};
	int n = (int)(sizeof(tries) / sizeof(tries[0]));
	char flags[48], len[24] = "", labels[160], sack[96] = "", opts[48] = "", part[48];

	model_flags_text(g->flags, flags, sizeof(flags));
	if (g->len > 0)
		snprintf(len, sizeof(len), " len=%u", (unsigned)g->len);
	if (g->has_mss) {
		snprintf(part, sizeof(part), " mss=%u", (unsigned)g->mss);
		text_append(opts, sizeof(opts), part);
	}
	if (g->has_ws) {
		snprintf(part, sizeof(part), " ws=%u", (unsigned)g->ws);
		text_append(opts, sizeof(opts), part);
	}
	if (g->sack_ok)
		text_append(opts, sizeof(opts), " sack");
	if (g->nsack > 0) {
		text_copy(sack, sizeof(sack), " SACK ");
		analysis_sack_text(g, part, sizeof(part));
		text_append(sack, sizeof(sack), part);
	}
	if (analysis_labels(g, 0, labels, sizeof(labels))[0] == '\0')
		n = 4;   /* the tries with every part */
	for (int k = 0; k < n; k++) {
		char *comma;

		analysis_labels(g, tries[k].brief, labels, sizeof(labels));
		for (;;) {
			text_copy(buf, size, flags);
			if (tries[k].len)
				text_append(buf, size, len);
			if (labels[0] != '\0') {
				text_append(buf, size, " ");
				text_append(buf, size, labels);
			}
			if (tries[k].sack)
				text_append(buf, size, sack);
			if (tries[k].opts)
				text_append(buf, size, opts);
			if ((int)strlen(buf) <= w || k < n - 1)
				break;
			comma = strrchr(labels, ',');
			if (comma == NULL)
				break;
			*comma = '\0';
		}
		if ((int)strlen(buf) <= w || k == n - 1) {
			*sack_here = tries[k].sack || g->nsack == 0;
			return;
		}
	}
}

static void details(const struct mseg *g, int sack_here, char *buf, size_t size)
{
	char part[96], win[24];

	/* What the link did with it, first: the column is narrow. */
	buf[0] = '\0';
	if (seg_fate_tag(g->fate)[0] != '\0') {
		text_copy(buf, size, seg_fate_tag(g->fate));
		text_append(buf, size, " ");
	}
	snprintf(part, sizeof(part), "seq=%u", (unsigned)g->rseq);
	text_append(buf, size, part);
	if (g->flags & TF_ACK) {
		snprintf(part, sizeof(part), " ack=%u", (unsigned)g->rack);
		text_append(buf, size, part);
	}
	if (g->inferred) {
		text_append(buf, size, " inferred");
	} else {
		snprintf(part, sizeof(part), " win=%s", analysis_win_text(g, win, sizeof(win)));
		text_append(buf, size, part);
	}
	if (!sack_here) {
		text_append(buf, size, " SACK ");
		text_append(buf, size, analysis_sack_text(g, part, sizeof(part)));
	}
}

/* How far along its arrow a segment got: a segment the link dropped ends
 * in an X three quarters of the way, one held (|) or in flight (>) has
 * got half way; len when it arrived. */
static int reach_of(const struct mseg *g, int len)
{
	if (seg_fate_dropped(g->fate))
		return len * 3 / 4;
	if (g->fate == FATE_HELD || g->fate == FATE_INFLIGHT)
		return len / 2;
	return len;
}

static void cut_short(const struct mseg *g, char *line, int len, int rightwards)
{
	int reach = reach_of(g, len);
	char head = seg_fate_dropped(g->fate) ? 'X' : g->fate == FATE_HELD ? '|' :
		    rightwards ? '>' : '<';

	if (reach >= len || reach < 1)
		return;
	if (rightwards) {
		memset(line + reach, ' ', (size_t)(len - reach));
		line[reach - 1] = head;
	} else {
		memset(line, ' ', (size_t)(len - reach));
		line[len - reach] = head;
	}
}

/* Returns whether the SACK blocks went on the arrow. */
static int draw_arrow(const struct ui *u, int y, int xa, int xb, const struct mseg *g)
{
	int lo = xa < xb ? xa : xb, hi = xa < xb ? xb : xa, len = hi - lo - 1;
	char label[256], line[256];
	attr_t a = seg_look(u, g);
	int ll, reach, from, span, sack_here = 1;

	if (len < 3)
		return 0;
	if (len >= (int)sizeof(line))
		len = (int)sizeof(line) - 1;
	memset(line, g->inferred ? '.' : '-', (size_t)len);
	line[len] = '\0';
	if (xa < xb)
		line[len - 1] = '>';
	else
		line[0] = '<';
	if (g->link_id != 0 && g->link_id == ui_link_selected(u))
		a = ui_look(u, LK_SELECTED);
	/* The label sits on the part of the arrow the segment travelled. */
	reach = reach_of(g, len);
	span = reach < len ? reach - 1 : len;
	from = reach < len && xa > xb ? len - reach + 1 : 0;
	arrow_label(g, span - 4, label, sizeof(label), &sack_here);
	ll = (int)strlen(label);
	if (ll > span - 4)
		ll = span - 4;
	if (ll > 0)
		memcpy(line + from + (span - ll) / 2, label, (size_t)ll);
	/* A blank either side of the label, where it fits. */
	if (ll > 0 && (span - ll) / 2 - 1 >= 1)
		line[from + (span - ll) / 2 - 1] = ' ';
	if (ll > 0 && (span - ll) / 2 + ll < span - 1)
		line[from + (span - ll) / 2 + ll] = ' ';
	cut_short(g, line, len, xa < xb);
	draw_text(y, lo + 1, len, a, line);
	return sack_here;
}

/* "ladder: 175 segments, 1 dropped, 1 retransmitted". */
static void ladder_title(const struct ui *u, char *buf, size_t size)
{
	const struct model *m = &u->s->model;
	int dropped = 0, retrans = 0;
	char part[48];

	for (int i = 0; i < m->nsegs; i++) {
		dropped += seg_fate_dropped(m->segs[i].fate);
		retrans += (m->segs[i].an & AN_RETRANS) != 0;
	}
	snprintf(buf, size, "ladder: %d segment%s", m->nsegs, m->nsegs == 1 ? "" : "s");
	if (dropped > 0) {
		snprintf(part, sizeof(part), ", %d dropped", dropped);
		text_append(buf, size, part);
	}
	if (retrans > 0) {
		snprintf(part, sizeof(part), ", %d retransmitted", retrans);
		text_append(buf, size, part);
	}
	if (m->infer)
		text_append(buf, size, " (inferred from calls)");
	if (u->ladder_back > 0)
		text_append(buf, size, "  [scrolled back: End]");
}

void view_ladder(struct ui *u, struct rect r)
{
	const struct model *m = &u->s->model;
	struct ends e;
	int rows = r.h - 2, last, first, detail_x, span, detail_w = 28;
	char title[160], label[64];

	collect_ends(m, &e);
	ladder_title(u, title, sizeof(title));
	draw_title(u, r, title, u->screen == SCR_LADDER);
	if (rows < 1)
		return;
	if (e.n == 0) {
		draw_text(r.y + 2, r.x + 2, r.w - 2, ui_look(u, LK_DIM),
			  u->s->stepping && u->s->opt.mode != SM_REPLAY ?
			  "no segments yet: step a client into connect() to see the handshake" :
			  "no segments yet");
		return;
	}
	/* Lanes: as wide as leaves room for the numbers on the right. */
	span = r.w - TIME_W - 2 - detail_w;
	if (e.n > 1 && span / (e.n - 1) > 46)
		span = 46 * (e.n - 1);
	for (int i = 0; i < e.n; i++)
		e.x[i] = r.x + TIME_W + 1 + (e.n > 1 ? span * i / (e.n - 1) : 0);
	detail_x = e.x[e.n - 1] + 2;
	/* The header: each endpoint's name over its lane. */
	draw_fmt(r.y + 1, r.x, TIME_W, ui_look(u, LK_BOLD), "%*s", TIME_W - 1, "time");
	for (int i = 0; i < e.n; i++) {
		int lw, x;

		end_label(m, &e.ep[i], label, sizeof(label));
		lw = (int)strlen(label);
		x = e.x[i] - lw / 2;
		if (x < r.x + TIME_W)
			x = r.x + TIME_W;
		if (x + lw > r.x + r.w)
			x = r.x + r.w - lw;
		draw_text(r.y + 1, x, lw, ui_look(u, LK_BOLD), label);
	}
	if (u->ladder_back > m->nsegs - rows)
		u->ladder_back = m->nsegs - rows > 0 ? m->nsegs - rows : 0;
	last = m->nsegs - u->ladder_back;
	first = last - rows > 0 ? last - rows : 0;
	for (int i = first, y = r.y + 2; i < last; i++, y++) {
		const struct mseg *g = &m->segs[i];
		int a = end_index(&e, &g->src), b = end_index(&e, &g->dst);
		char when[32], text[192];
		int sack_here;
		double t = (double)(g->t > m->t0 ? g->t - m->t0 : 0) / (double)NS_PER_S;

		snprintf(when, sizeof(when), "%7.3f", t);
		draw_text(y, r.x, TIME_W, ui_look(u, LK_DIM), when);
		for (int k = 0; k < e.n; k++)
			draw_text(y, e.x[k], 1, ui_look(u, LK_FRAME), "|");
		if (a < 0 || b < 0)
			continue;
		sack_here = draw_arrow(u, y, e.x[a], e.x[b], g);
		details(g, sack_here, text, sizeof(text));
		draw_text(y, detail_x, r.x + r.w - detail_x, g->inferred ? ui_look(u, LK_DIM) : A_NORMAL, text);
	}
}
