/* story.c — lay out a session for export (see export.h): the lanes, a row
 * per segment and per call in time order, and each TCP socket's state at
 * every row. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "text.h"

int story_seg_labels(const struct model *m, const struct mseg *g, const char **out, int max)
{
	int n = 0;

	(void)m;
	/* The analysis' labels go first, once the model carries them. */
	if (g->inferred && n < max)
		out[n++] = "inferred";
	return n;
}

void story_who(const struct model *m, int32_t pid, char *buf, size_t size)
{
	for (int i = 0; i < m->nprocs; i++)
		if (m->procs[i].pid == pid) {
			snprintf(buf, size, "%s[%d]", m->procs[i].name, (int)pid);
			return;
		}
	snprintf(buf, size, "[%d]", (int)pid);
}

void story_call_text(const struct model *m, const struct mlog *e, char *buf, size_t size)
{
	char part[64];

	(void)m;
	snprintf(buf, size, "%s(", e->call);
	text_append(buf, size, e->text);
	text_append(buf, size, ")");
	if (!e->done) {
		text_append(buf, size, " ...");
		return;
	}
	if (e->err != 0) {
		const char *name = sl_event_errno_name(e->err);

		snprintf(part, sizeof(part), " = %lld %s", (long long)e->ret, name ? name : "?");
	} else {
		snprintf(part, sizeof(part), " = %lld", (long long)e->ret);
	}
	text_append(buf, size, part);
}

void story_arrow_text(const struct mseg *g, char *buf, size_t size)
{
	char part[48];

	model_flags_text(g->flags, buf, size);
	if (g->len > 0) {
		snprintf(part, sizeof(part), " len=%" PRIu32, g->len);
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
	if (g->has_ts)
		text_append(buf, size, " ts");
}

void story_numbers_text(const struct mseg *g, char *buf, size_t size)
{
	char part[32];

	snprintf(buf, size, "seq=%" PRIu32, g->rseq);
	if (g->flags & TF_ACK) {
		snprintf(part, sizeof(part), " ack=%" PRIu32, g->rack);
		text_append(buf, size, part);
	}
	if (!g->inferred) {
		snprintf(part, sizeof(part), " win=%u", (unsigned)g->win);
		text_append(buf, size, part);
	}
}

const struct msock *story_sock(const struct model *m, int id)
{
	if (id < 0 || id >= m->nsocks || m->socks[id].merged)
		return NULL;
	return &m->socks[id];
}

static int in_window(const struct story *st, mtime_t t)
{
	return t >= st->from && t <= st->to;
}

static int lane_of(const struct story *st, const struct ep *ep)
{
	for (int i = 0; i < st->nlanes; i++)
		if (ep_equal(&st->lanes[i].ep, ep))
			return i;
	return -1;
}

/* The lane a socket is drawn beside: its own address, or for a listener
 * the first lane it would accept connections for. */
static int sock_lane(const struct story *st, const struct msock *s)
{
	int lane;

	if (!ep_is_set(&s->local))
		return -1;
	lane = lane_of(st, &s->local);
	if (lane >= 0 || !s->listening)
		return lane;
	for (int i = 0; i < st->nlanes; i++)
		if (ep_listener_accepts(&s->local, &st->lanes[i].ep))
			return i;
	return -1;
}

static void add_lane(struct story *st, const struct ep *ep, int *peers)
{
	int i = lane_of(st, ep);

	if (i < 0 && st->nlanes < LANES_MAX) {
		i = st->nlanes++;
		st->lanes[i].ep = *ep;
	}
	if (i >= 0)
		peers[i]++;
}

/* The ends of the segments in the window, in the order they first
 * appear, the busiest (the server) second: its clients either side. */
static void collect_lanes(struct story *st)
{
	const struct model *m = st->m;
	int peers[LANES_MAX] = { 0 }, hub = -1;
	struct xlane tmp;

	for (int i = 0; i < m->nsegs; i++) {
		const struct mseg *g = &m->segs[i];

		if (!in_window(st, g->t))
			continue;
		add_lane(st, &g->src, peers);
		add_lane(st, &g->dst, peers);
	}
	/* peers counts segments; a hub has more than one peer lane. */
	for (int i = 0; i < st->nlanes; i++) {
		int distinct = 0;

		for (int k = 0; k < m->nconns; k++) {
			const struct mconn *c = &m->conns[k];

			distinct += ep_equal(&c->a, &st->lanes[i].ep) || ep_equal(&c->b, &st->lanes[i].ep);
		}
		if (distinct > 1 && (hub < 0 || peers[i] > peers[hub]))
			hub = i;
	}
	if (hub > 1) {
		tmp = st->lanes[hub];
		memmove(&st->lanes[2], &st->lanes[1], (size_t)(hub - 1) * sizeof(st->lanes[0]));
		st->lanes[1] = tmp;
	} else if (hub == 0 && st->nlanes > 1) {
		tmp = st->lanes[0];
		st->lanes[0] = st->lanes[1];
		st->lanes[1] = tmp;
	}
	for (int i = 0; i < st->nlanes; i++) {
		struct xlane *l = &st->lanes[i];

		ep_format(&l->ep, l->addr, sizeof(l->addr));
		text_copy(l->name, sizeof(l->name), l->addr);
		for (int k = 0; k < m->nsocks; k++) {
			const struct msock *s = &m->socks[k];
			const struct mproc *p;

			if (s->merged || !ep_equal(&s->local, &l->ep))
				continue;
			p = model_sock_owner(m, s);
			if (p != NULL) {
				snprintf(l->name, sizeof(l->name), "%s:%u", p->name, (unsigned)l->ep.port);
				break;
			}
		}
	}
}

static int row_order(const void *a, const void *b)
{
	const struct xrow *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind == ROW_CALL ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int collect_rows(struct story *st, const struct export_opts *o)
{
	const struct model *m = st->m;
	int cap = m->nsegs + (o->calls ? m->nlog : 0), n = 0;

	st->rows = calloc((size_t)(cap > 0 ? cap : 1), sizeof(*st->rows));
	if (st->rows == NULL)
		return -1;
	for (int i = 0; i < m->nsegs; i++) {
		const struct mseg *g = &m->segs[i];
		struct xrow *r = &st->rows[n];

		if (!in_window(st, g->t))
			continue;
		r->kind = ROW_SEG;
		r->t = g->t;
		r->index = i;
		r->from = lane_of(st, &g->src);
		r->to = lane_of(st, &g->dst);
		r->lane = -1;
		if (r->from < 0 || r->to < 0) {
			st->skipped_segs++;
			continue;
		}
		n++;
	}
	for (int i = 0; o->calls && i < m->nlog; i++) {
		const struct mlog *e = &m->log[i];
		const struct msock *s = story_sock(m, e->sock);
		struct xrow *r = &st->rows[n];

		if (e->kind != LOG_CALL || !in_window(st, e->t))
			continue;
		r->kind = ROW_CALL;
		r->t = e->t;
		r->index = i;
		r->from = r->to = -1;
		r->lane = s != NULL ? sock_lane(st, s) : -1;
		n++;
	}
	qsort(st->rows, (size_t)n, sizeof(*st->rows), row_order);
	st->nrows = n;
	for (int i = 0; i < n; i++) {
		if (st->rows[i].kind == ROW_SEG)
			st->rows[i].seg_no = ++st->nsegs;
		else
			st->ncalls++;
	}
	return 0;
}

/* s's state at time t: after its last change at or before t. */
static int state_at(const struct msock *s, mtime_t t)
{
	int state = ST_NONE;

	for (int k = 0; k < s->nhist; k++) {
		if (s->hist[k].t > t)
			break;
		state = s->hist[k].to;
	}
	return state;
}

static int drawn_state(int state)
{
	return state != ST_NONE && state != ST_CLOSE;
}

/* Every TCP socket beside a lane that is in a state worth drawing at some
 * row of the window. */
static int collect_socks(struct story *st)
{
	const struct model *m = st->m;

	st->socks = calloc((size_t)(m->nsocks > 0 ? m->nsocks : 1), sizeof(*st->socks));
	if (st->socks == NULL)
		return -1;
	for (int i = 0; i < m->nsocks; i++) {
		const struct msock *s = &m->socks[i];
		struct xsock *x = &st->socks[st->nsocks];
		int lane, shown = 0;

		if (s->merged || !s->tcp || (lane = sock_lane(st, s)) < 0)
			continue;
		x->state = calloc((size_t)(st->nrows > 0 ? st->nrows : 1), 1);
		if (x->state == NULL)
			return -1;
		for (int r = 0; r < st->nrows; r++) {
			x->state[r] = (uint8_t)state_at(s, st->rows[r].t);
			shown |= drawn_state(x->state[r]);
		}
		if (!shown) {
			free(x->state);
			x->state = NULL;
			continue;
		}
		x->sock = i;
		x->lane = lane;
		x->slot = st->lanes[lane].nslots++;
		st->nsocks++;
	}
	return 0;
}

int story_build(struct story *st, const struct model *m, const struct export_opts *o,
                const char *title, const char *source, int inferred)
{
	memset(st, 0, sizeof(*st));
	st->m = m;
	text_copy(st->title, sizeof(st->title), title);
	text_copy(st->source, sizeof(st->source), source);
	st->inferred = inferred;
	st->calls = o->calls;
	st->from = m->t0 + (o->has_from ? o->from : 0);
	st->to = o->has_to ? m->t0 + o->to : UINT64_MAX;
	collect_lanes(st);
	if (collect_rows(st, o) < 0 || collect_socks(st) < 0) {
		story_free(st);
		return -1;
	}
	return 0;
}

void story_free(struct story *st)
{
	for (int i = 0; i < st->nsocks; i++)
		free(st->socks[i].state);
	free(st->socks);
	free(st->rows);
	st->socks = NULL;
	st->rows = NULL;
	st->nsocks = st->nrows = 0;
}
