/* ladder.c — the segments as a ladder diagram: a column per endpoint
 * (address and port, named after the process that owns it), an arrow per
 * segment with its flags and length, its relative sequence and
 * acknowledgement numbers and window to the right, the handshake's
 * options (MSS, window scale, SACK) on the segments that carry them, and
 * the time since the session began. Inferred segments are drawn dotted
 * and say so.
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

static attr_t seg_look(const struct ui *u, const struct mseg *g)
{
	if ((g->flags & TF_RST) || seg_fate_dropped(g->fate))
		return ui_look(u, LK_BAD);
	if (g->flags & TF_SYN)
		return ui_look(u, LK_OPENING);
	if (g->flags & TF_FIN)
		return ui_look(u, LK_CLOSING);
	if (g->len > 0)
		return ui_look(u, LK_DATA);
	return A_NORMAL;
}

/* What goes on the arrow: flags, length, the handshake's options. */
static void arrow_label(const struct mseg *g, char *buf, size_t size)
{
	char part[48];

	model_flags_text(g->flags, buf, size);
	if (g->len > 0) {
		snprintf(part, sizeof(part), " len=%u", (unsigned)g->len);
		text_append(buf, size, part);
	}
	if (g->has_mss) {
		snprintf(part, sizeof(part), " mss=%u", (unsigned)g->mss);
		text_append(buf, size, part);
	}
	if (g->has_ws) {
		snprintf(part, sizeof(part), " ws=%u", (unsigned)g->ws);
		text_append(buf, size, part);
	}
	if (g->sack_ok)
		text_append(buf, size, " sack");
}

static void details(const struct mseg *g, char *buf, size_t size)
{
	char part[32];

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
		snprintf(part, sizeof(part), " win=%u", (unsigned)g->win);
		text_append(buf, size, part);
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

static void draw_arrow(const struct ui *u, int y, int xa, int xb, const struct mseg *g)
{
	int lo = xa < xb ? xa : xb, hi = xa < xb ? xb : xa, len = hi - lo - 1;
	char label[96], line[256];
	attr_t a = seg_look(u, g);
	int ll, reach, from, span;

	if (len < 3)
		return;
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
	arrow_label(g, label, sizeof(label));
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
}

void view_ladder(struct ui *u, struct rect r)
{
	const struct model *m = &u->s->model;
	struct ends e;
	int rows = r.h - 2, last, first, detail_x, span, detail_w = 28;
	char title[96], label[64];

	collect_ends(m, &e);
	snprintf(title, sizeof(title), "ladder: %d segment%s%s%s", m->nsegs, m->nsegs == 1 ? "" : "s",
		 m->infer ? " (inferred from calls)" : "",
		 u->ladder_back > 0 ? "  [scrolled back: End]" : "");
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
		char when[32], text[96];
		double t = (double)(g->t > m->t0 ? g->t - m->t0 : 0) / (double)NS_PER_S;

		snprintf(when, sizeof(when), "%7.3f", t);
		draw_text(y, r.x, TIME_W, ui_look(u, LK_DIM), when);
		for (int k = 0; k < e.n; k++)
			draw_text(y, e.x[k], 1, ui_look(u, LK_FRAME), "|");
		if (a < 0 || b < 0)
			continue;
		draw_arrow(u, y, e.x[a], e.x[b], g);
		details(g, text, sizeof(text));
		draw_text(y, detail_x, r.x + r.w - detail_x, g->inferred ? ui_look(u, LK_DIM) : A_NORMAL, text);
	}
}
