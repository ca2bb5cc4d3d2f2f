/* engine.c — the link's decisions (see engine.h). */
#include <stdlib.h>
#include <string.h>

#include "link/engine.h"

/* What a draw is for: each purpose has its own sequence. */
enum { DRAW_LOSS = 1, DRAW_JITTER, DRAW_REORDER, DRAW_DUP };

/* splitmix64's mixer: a counter in, 64 well-spread bits out. */
static uint64_t mix64(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* The draw for the index-th frame towards to, for one purpose. */
static uint64_t draw(const struct link *l, int to, uint64_t index, int purpose)
{
	return mix64(l->cfg.seed ^ mix64((uint64_t)to << 56 ^ (uint64_t)purpose << 48 ^ index));
}

static int chance(const struct link *l, int to, uint64_t index, int purpose, uint32_t ppm)
{
	return ppm > 0 && draw(l, to, index, purpose) % 1000000u < ppm;
}

void link_params_default(struct link_params *p)
{
	memset(p, 0, sizeof(*p));
	p->queue = LINK_QUEUE_DEFAULT;
}

void link_config_default(struct link_config *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < LINK_PORTS_MAX; i++)
		link_params_default(&c->dir[i]);
	c->seed = LINK_SEED_DEFAULT;
}

/* ---- frame lists ------------------------------------------------------------------ */

static int fifo_push(struct link_fifo *q, struct link_frame *f)
{
	if (q->head > 0 && q->head >= q->n / 2) {
		memmove(q->v, q->v + q->head, (size_t)(q->n - q->head) * sizeof(*q->v));
		q->n -= q->head;
		q->head = 0;
	}
	if (q->n >= q->cap) {
		int cap = q->cap ? q->cap * 2 : 64;
		struct link_frame **v = realloc(q->v, (size_t)cap * sizeof(*v));

		if (v == NULL)
			return -1;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n++] = f;
	return 0;
}

static int fifo_len(const struct link_fifo *q)
{
	return q->n - q->head;
}

static struct link_frame *fifo_at(const struct link_fifo *q, int i)
{
	return q->v[q->head + i];
}

static struct link_frame *fifo_pop(struct link_fifo *q)
{
	return q->head < q->n ? q->v[q->head++] : NULL;
}

/* Remove entry i (keeping the order). */
static void fifo_remove(struct link_fifo *q, int i)
{
	memmove(q->v + q->head + i, q->v + q->head + i + 1,
		(size_t)(q->n - q->head - i - 1) * sizeof(*q->v));
	q->n--;
}

static void fifo_free(struct link_fifo *q)
{
	for (int i = q->head; i < q->n; i++)
		free(q->v[i]);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

/* ---- life ----------------------------------------------------------------------- */

void link_init(struct link *l, int nports, const struct link_config *cfg,
               const struct link_ops *ops)
{
	memset(l, 0, sizeof(*l));
	l->cfg = *cfg;
	l->ops = *ops;
	l->nports = nports < LINK_PORTS_MAX ? nports : LINK_PORTS_MAX;
	l->hold = cfg->hold;
}

void link_free(struct link *l)
{
	for (int i = 0; i < LINK_PORTS_MAX; i++) {
		/* Frames dropped by hand are still in the queues: free once. */
		fifo_free(&l->d[i].q);
	}
	fifo_free(&l->held);
	fifo_free(&l->reord);
	l->kept = 0;
}

void link_set_params(struct link *l, int to, const struct link_params *p)
{
	if (to >= 0 && to < LINK_PORTS_MAX)
		l->cfg.dir[to] = *p;
}

/* ---- deciding ------------------------------------------------------------------- */

int link_kind_matches(enum link_kind kind, const struct link_info *in)
{
	uint8_t f = in->flags;

	if (kind == LINK_ANY)
		return 1;
	if (!in->tcp)
		return 0;
	switch (kind) {
	case LINK_SYN: return (f & (TF_SYN | TF_ACK)) == TF_SYN;
	case LINK_SYNACK: return (f & (TF_SYN | TF_ACK)) == (TF_SYN | TF_ACK);
	case LINK_ACK: return (f & (TF_SYN | TF_FIN | TF_RST)) == 0 && (f & TF_ACK) && in->payload == 0;
	case LINK_DATA: return in->payload > 0;
	case LINK_FIN: return (f & TF_FIN) != 0;
	case LINK_RST: return (f & TF_RST) != 0;
	default: return 0;
	}
}

static void report(struct link *l, const struct link_frame *f, const unsigned char *data, int first)
{
	if (l->ops.fate != NULL)
		l->ops.fate(l->ops.ctx, f, data, first);
}

static void put_on_wire(struct link *l, const struct link_frame *f, const unsigned char *data)
{
	for (int k = 0; k < f->copies; k++)
		if (l->ops.send != NULL)
			l->ops.send(l->ops.ctx, f->to, data, f->len);
}

/* The fate of a frame that leaves the link at f->t_out. */
static int delivered_fate(const struct link_frame *f, int overtaken)
{
	if (f->copies > 1)
		return FATE_DUPLICATED;
	if (overtaken)
		return FATE_REORDERED;
	if (f->released)
		return FATE_RELEASED;
	return f->t_out > f->t_in ? FATE_DELAYED : FATE_PASSED;
}

static void count_delivered(struct link *l, const struct link_frame *f)
{
	struct link_counts *c = &l->d[f->to].c;

	c->delivered++;
	if (f->fate == FATE_DELAYED)
		c->delayed++;
	else if (f->fate == FATE_REORDERED)
		c->reordered++;
	else if (f->fate == FATE_DUPLICATED)
		c->duplicated++;
}

static struct link_frame *keep(struct link *l, const struct link_frame *f, const unsigned char *data)
{
	struct link_frame *k;

	if (l->kept >= LINK_FRAMES_MAX)
		return NULL;
	k = malloc(sizeof(*k) + f->len);
	if (k == NULL)
		return NULL;
	*k = *f;
	k->data = (unsigned char *)(k + 1);
	memcpy(k->data, data, f->len);
	l->kept++;
	return k;
}

static void let_go(struct link *l, struct link_frame *f)
{
	l->kept--;
	free(f);
}

static void drop(struct link *l, struct link_frame *f, const unsigned char *data, int fate, int first)
{
	struct link_counts *c = &l->d[f->to].c;

	f->fate = fate;
	switch (fate) {
	case FATE_DROP_LOSS: c->lost++; break;
	case FATE_DROP_QUEUE: c->queue_drops++; break;
	case FATE_DROP_RULE: c->rule_drops++; break;
	default: c->hand_drops++; break;
	}
	report(l, f, data, first);
}

uint32_t link_queue_len(const struct link *l, int to, mtime_t now)
{
	const struct link_fifo *q = &l->d[to].q;
	uint32_t n = 0;

	/* The queue is sorted by when the transmitter takes each frame. */
	for (int i = fifo_len(q) - 1; i >= 0; i--) {
		const struct link_frame *f = fifo_at(q, i);

		if (f->t_start <= now)
			break;
		if (f->fate != FATE_DROP_HAND)
			n++;
	}
	return n;
}

/* Give f its times on the transmitter and the line. Returns -1 when the
 * queue is full (queue_limit: apply the limit). */
static int schedule(struct link *l, struct link_frame *f, mtime_t now, int queue_limit)
{
	struct link_dir *d = &l->d[f->to];
	const struct link_params *p = &l->cfg.dir[f->to];
	mtime_t base, jitter = 0;

	if (p->rate > 0) {
		uint64_t bits = (uint64_t)f->len * 8;

		if (queue_limit && link_queue_len(l, f->to, now) >= p->queue)
			return -1;
		f->t_start = d->tx_free > now ? d->tx_free : now;
		d->tx_free = f->t_start + bits * NS_PER_S / p->rate;
		base = d->tx_free;
	} else {
		f->t_start = now;
		base = now;
	}
	if (p->jitter > 0) {
		uint64_t span = 2 * p->jitter + 1;

		jitter = draw(l, f->to, d->index, DRAW_JITTER) % span;
	}
	/* delay - jitter + [0, 2 jitter], never before base */
	f->t_out = base + p->delay + jitter;
	f->t_out = f->t_out > p->jitter ? f->t_out - p->jitter : 0;
	if (f->t_out < base)
		f->t_out = base;
	if (f->reorder) {
		f->t_out += LINK_REORDER_WAIT;
		return 0;
	}
	/* The line keeps order: jitter alone never reorders. */
	if (f->t_out < d->last_out)
		f->t_out = d->last_out;
	d->last_out = f->t_out;
	return 0;
}

static void overtaken_by(struct link *l, const struct link_frame *by, mtime_t t);

/* f (not kept yet) has its times: send it now or keep it in flight. */
static void dispatch(struct link *l, struct link_frame *f, const unsigned char *data, mtime_t now,
                     int first)
{
	struct link_dir *d = &l->d[f->to];
	struct link_frame *k;

	if (!f->reorder && f->t_out <= now && fifo_len(&d->q) == 0) {
		f->fate = delivered_fate(f, 0);
		put_on_wire(l, f, data);
		count_delivered(l, f);
		report(l, f, data, first);
		overtaken_by(l, f, now);
		return;
	}
	k = keep(l, f, data);
	if (k == NULL || fifo_push(f->reorder ? &l->reord : &d->q, k) < 0) {
		if (k != NULL)
			let_go(l, k);
		drop(l, f, data, FATE_DROP_QUEUE, first);
		return;
	}
	k->fate = FATE_INFLIGHT;
	report(l, k, k->data, first);
}

uint64_t link_offer(struct link *l, mtime_t now, int from, int to, const unsigned char *data,
                    size_t len, const struct link_info *info)
{
	struct link_frame f;
	struct link_dir *d;
	const struct link_params *p;
	uint64_t index;

	memset(&f, 0, sizeof(f));
	f.id = ++l->next_id;
	f.from = from;
	f.to = to >= 0 && to < LINK_PORTS_MAX ? to : 0;
	f.t_in = now;
	f.copies = 1;
	f.rule = -1;
	f.info = *info;
	f.len = (uint32_t)len;
	d = &l->d[f.to];
	d->c.frames++;
	d->c.bytes += len;
	if (!info->impair) {
		f.t_start = f.t_out = now;
		f.fate = FATE_PASSED;
		put_on_wire(l, &f, data);
		d->c.delivered++;
		report(l, &f, data, 1);
		return f.id;
	}
	p = &l->cfg.dir[f.to];
	index = d->index;
	/* 1. the rules: each counts its kind; the first in range acts */
	for (int i = 0; i < l->cfg.nrules; i++) {
		const struct link_rule *r = &l->cfg.rules[i];
		uint32_t n;

		if ((r->to >= 0 && r->to != f.to) || !link_kind_matches(r->kind, info))
			continue;
		n = ++d->rule_seen[i];
		if (f.rule >= 0 || n < r->first || n > r->last)
			continue;
		f.rule = i;
		switch (r->action) {
		case LINK_DROP:
			d->index++;
			drop(l, &f, data, FATE_DROP_RULE, 1);
			return f.id;
		case LINK_HOLD: break;
		case LINK_REORDER: f.reorder = 1; break;
		case LINK_DUP: f.copies = 2; break;
		}
	}
	/* 2. hold mode, or a hold rule */
	if (l->hold || (f.rule >= 0 && l->cfg.rules[f.rule].action == LINK_HOLD)) {
		struct link_frame *k = keep(l, &f, data);

		d->index++;
		if (k == NULL || fifo_push(&l->held, k) < 0) {
			if (k != NULL)
				let_go(l, k);
			drop(l, &f, data, FATE_DROP_QUEUE, 1);
			return f.id;
		}
		k->fate = FATE_HELD;
		d->c.held++;
		report(l, k, k->data, 1);
		return f.id;
	}
	/* 3. loss */
	if ((p->loss_every > 0 && (index + 1) % p->loss_every == 0) ||
	    chance(l, f.to, index, DRAW_LOSS, p->loss_ppm)) {
		d->index++;
		drop(l, &f, data, FATE_DROP_LOSS, 1);
		return f.id;
	}
	/* 6. picked to be reordered or duplicated */
	if (chance(l, f.to, index, DRAW_REORDER, p->reorder_ppm))
		f.reorder = 1;
	if (chance(l, f.to, index, DRAW_DUP, p->dup_ppm))
		f.copies = 2;
	/* 4. and 5. the transmitter and the line */
	if (schedule(l, &f, now, 1) < 0) {
		d->index++;
		drop(l, &f, data, FATE_DROP_QUEUE, 1);
		return f.id;
	}
	d->index++;
	dispatch(l, &f, data, now, 1);
	return f.id;
}

mtime_t link_next_due(const struct link *l)
{
	mtime_t when = 0;

	for (int i = 0; i < LINK_PORTS_MAX; i++) {
		const struct link_fifo *q = &l->d[i].q;

		if (fifo_len(q) > 0 && (when == 0 || fifo_at(q, 0)->t_out < when))
			when = fifo_at(q, 0)->t_out;
	}
	for (int i = 0; i < fifo_len(&l->reord); i++) {
		mtime_t t = fifo_at(&l->reord, i)->t_out;

		if (when == 0 || t < when)
			when = t;
	}
	return when;
}

/* Send f (kept), which leaves now at t. */
static void depart(struct link *l, struct link_frame *f, mtime_t t, int overtaken)
{
	f->t_out = t;
	f->fate = delivered_fate(f, overtaken);
	put_on_wire(l, f, f->data);
	count_delivered(l, f);
	report(l, f, f->data, 0);
}

/* A frame towards to left at t: every frame waiting to be overtaken by
 * it (an older one, same direction) goes right after it. */
static void overtaken_by(struct link *l, const struct link_frame *by, mtime_t t)
{
	for (int i = 0; i < fifo_len(&l->reord);) {
		struct link_frame *r = fifo_at(&l->reord, i);

		if (r->to == by->to && r->id < by->id) {
			fifo_remove(&l->reord, i);
			if (r->fate != FATE_DROP_HAND)
				depart(l, r, t, 1);
			let_go(l, r);
			continue;
		}
		i++;
	}
}

void link_run(struct link *l, mtime_t now)
{
	for (;;) {
		struct link_frame *best = NULL;
		int from_reord = 0, at = -1;

		for (int i = 0; i < LINK_PORTS_MAX; i++) {
			struct link_fifo *q = &l->d[i].q;

			if (fifo_len(q) > 0 && fifo_at(q, 0)->t_out <= now &&
			    (best == NULL || fifo_at(q, 0)->t_out < best->t_out)) {
				best = fifo_at(q, 0);
				from_reord = 0;
			}
		}
		for (int i = 0; i < fifo_len(&l->reord); i++) {
			struct link_frame *r = fifo_at(&l->reord, i);

			if (r->t_out <= now && (best == NULL || r->t_out < best->t_out)) {
				best = r;
				from_reord = 1;
				at = i;
			}
		}
		if (best == NULL)
			return;
		if (from_reord) {
			/* Nothing overtook it in time: it was only late. */
			fifo_remove(&l->reord, at);
			best->reorder = 0;
			if (best->fate != FATE_DROP_HAND)
				depart(l, best, best->t_out, 0);
			let_go(l, best);
			continue;
		}
		fifo_pop(&l->d[best->to].q);
		if (best->fate != FATE_DROP_HAND) {
			depart(l, best, best->t_out, 0);
			overtaken_by(l, best, best->t_out);
		}
		let_go(l, best);
	}
}

/* ---- by hand ---------------------------------------------------------------------- */

static void release_one(struct link *l, struct link_frame *k, mtime_t now)
{
	struct link_dir *d = &l->d[k->to];

	k->released = 1;
	(void)schedule(l, k, now, 0);
	if (!k->reorder && k->t_out <= now && fifo_len(&d->q) == 0) {
		depart(l, k, k->t_out, 0);
		overtaken_by(l, k, k->t_out);
		let_go(l, k);
		return;
	}
	k->fate = FATE_INFLIGHT;
	if (fifo_push(k->reorder ? &l->reord : &d->q, k) < 0) {
		drop(l, k, k->data, FATE_DROP_QUEUE, 0);
		let_go(l, k);
		return;
	}
	report(l, k, k->data, 0);
}

int link_release(struct link *l, int all, mtime_t now)
{
	int n = 0;

	while (fifo_len(&l->held) > 0) {
		release_one(l, fifo_pop(&l->held), now);
		n++;
		if (!all)
			break;
	}
	return n;
}

void link_set_hold(struct link *l, int on, mtime_t now)
{
	l->hold = on;
	if (!on)
		link_release(l, 1, now);
}

int link_drop(struct link *l, uint64_t id, mtime_t now)
{
	struct link_fifo *lists[2] = { &l->held, &l->reord };

	(void)now;
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < fifo_len(lists[k]); i++) {
			struct link_frame *f = fifo_at(lists[k], i);

			if (f->id != id || f->fate == FATE_DROP_HAND)
				continue;
			fifo_remove(lists[k], i);
			drop(l, f, f->data, FATE_DROP_HAND, 0);
			let_go(l, f);
			return 0;
		}
	/* In flight: marked now, let go when its time comes. */
	for (int p = 0; p < LINK_PORTS_MAX; p++)
		for (int i = 0; i < fifo_len(&l->d[p].q); i++) {
			struct link_frame *f = fifo_at(&l->d[p].q, i);

			if (f->id != id || f->fate == FATE_DROP_HAND)
				continue;
			drop(l, f, f->data, FATE_DROP_HAND, 0);
			return 0;
		}
	return -1;
}

int link_on_wire(const struct link *l, const struct link_frame **out, int max)
{
	int n = 0;

	for (int i = 0; i < fifo_len(&l->held) && n < max; i++)
		out[n++] = fifo_at(&l->held, i);
	for (int p = 0; p < LINK_PORTS_MAX; p++)
		for (int i = 0; i < fifo_len(&l->d[p].q) && n < max; i++)
			if (fifo_at(&l->d[p].q, i)->fate != FATE_DROP_HAND)
				out[n++] = fifo_at(&l->d[p].q, i);
	for (int i = 0; i < fifo_len(&l->reord) && n < max; i++)
		out[n++] = fifo_at(&l->reord, i);
	return n;
}
